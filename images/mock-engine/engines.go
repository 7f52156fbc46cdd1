// The four engines: their option tables (the real flag names, see
// /work/shared/reference/engines.md §1.3, §2.2, §3.1, §4.1) and how each one's
// parsed options turn into what the mock needs to serve.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// engineConfig is what the HTTP side needs from a parsed command line.
type engineConfig struct {
	host        string
	port        int
	servedModel string
	// requiredPaths are the model/weights locations the real engine would open;
	// with MOCK_REQUIRE_PATHS=1 a missing one fails the start.
	requiredPaths []string
	apiKey        string
	metrics       bool
	skipWarmup    bool
}

type engineKind string

const (
	ktransformers engineKind = "ktransformers"
	vllm          engineKind = "vllm"
	sglang        engineKind = "sglang"
	llamaServer   engineKind = "llama-server"
)

// engine couples a kind with its option table and its startup shape.
type engine struct {
	kind   engineKind
	parser *parser
	// listenWhileLoading: llama.cpp starts HTTP before loading and answers 503;
	// the Python engines load first and only then open the port (connection refused).
	listenWhileLoading bool
	// hasWarmup: SGLang and llama.cpp have a phase after load where health is still 503.
	hasWarmup bool
	configure func(parsed) (engineConfig, error)
	// missingPathError renders the real engine's complaint about a path that does not exist.
	missingPathError func(path string) string
}

func portOf(p parsed, dest string, fallback int) int {
	n, err := strconv.Atoi(p.get(dest, strconv.Itoa(fallback)))
	if err != nil {
		return fallback
	}
	return n
}

func looksLikeLocalPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".")
}

func hfRepoError(path string) string {
	return fmt.Sprintf("huggingface_hub.errors.HFValidationError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': '%s'. Use `repo_type` argument if needed.", path)
}

// ---- KTransformers legacy server (ktransformers/server/args.py at v0.4.1) ----
// tests/images/test_mock_engine_flags.py checks this table and the vLLM one against the flag
// manifests generated from the real parsers: the mock may know fewer flags, never more.

func ktransformersEngine() *engine {
	s, i, f := strValue, intValue, floatValue
	flags := []flagSpec{
		opt("host", takesValue, s, "--host"),
		opt("port", takesValue, i, "--port"),
		opt("api_key", takesValue, s, "--api_key"),
		opt("ssl_keyfile", takesValue, s, "--ssl_keyfile"),
		opt("ssl_certfile", takesValue, s, "--ssl_certfile"),
		opt("web", takesValue, s, "--web"), // type=bool: takes a value ("--web True")
		opt("model_name", takesValue, s, "--model_name"),
		opt("model_dir", takesValue, s, "--model_dir"),
		opt("model_path", takesValue, s, "--model_path"),
		opt("device", takesValue, s, "--device"),
		opt("gguf_path", takesValue, s, "--gguf_path"),
		opt("optimize_config_path", takesValue, s, "--optimize_config_path"),
		opt("cpu_infer", takesValue, i, "--cpu_infer"),
		opt("backend_type", takesValue, s, "--backend_type"),
		opt("chunk_size", takesValue, i, "--chunk_size"),
		opt("cache_lens", takesValue, i, "--cache_lens"),
		opt("max_new_tokens", takesValue, i, "--max_new_tokens"),
		opt("max_batch_size", takesValue, i, "--max_batch_size"),
		opt("page_size", takesValue, i, "--page_size"),
		opt("memory_gpu_only", takesValue, s, "--memory_gpu_only"),
		opt("utilization_percentage", takesValue, f, "--utilization_percentage"),
		opt("cpu_memory_size_GB", takesValue, i, "--cpu_memory_size_GB"),
		opt("kvc2_config_dir", takesValue, s, "--kvc2_config_dir"),
		opt("sched_strategy", takesValue, s, "--sched_strategy"),
		opt("tp", takesValue, i, "--tp"),
		opt("force_think", boolOptional, s, "--force_think"),
		opt("use_cuda_graph", boolOptional, s, "--use_cuda_graph"),
		// exllamav2 leftovers: parsed, never read by the ktransformers backends.
		opt("gpu_split", takesValue, s, "--gpu_split"),
		opt("length", takesValue, i, "--length"),
		opt("temperature", takesValue, f, "--temperature"),
		opt("top_k", takesValue, i, "--top_k"),
		opt("top_p", takesValue, f, "--top_p"),
		opt("repetition_penalty", takesValue, f, "--repetition_penalty"),
		opt("log_dir", takesValue, s, "--log_dir"),
		opt("log_file", takesValue, s, "--log_file"),
		opt("log_level", takesValue, s, "--log_level"),
		opt("backup_count", takesValue, i, "--backup_count"),
		opt("web_cross_domain", takesValue, s, "--web_cross_domain"),
		opt("file_upload_dir", takesValue, s, "--file_upload_dir"),
		opt("assistant_store_dir", takesValue, s, "--assistant_store_dir"),
		opt("prompt_file", takesValue, s, "--prompt_file"),
	}
	return &engine{
		kind:   ktransformers,
		parser: &parser{prog: "kvcache.ai", dialect: argparseDialect, flags: flags},
		configure: func(p parsed) (engineConfig, error) {
			model := p.get("model_path", p.get("model_dir", ""))
			// The shipped config.yaml default; the real server fails on it unless --gguf_path is given.
			gguf := p.get("gguf_path", "/mnt/data/models/Smallthinker-21B")
			required := []string{gguf}
			if model != "" {
				required = append([]string{model}, required...)
			}
			return engineConfig{
				host:          p.get("host", "0.0.0.0"),
				port:          portOf(p, "port", 10002),
				servedModel:   p.get("model_name", "DeepSeek-Coder-V2-Instruct"),
				requiredPaths: required,
				apiKey:        p.get("api_key", ""),
			}, nil
		},
		missingPathError: func(path string) string {
			return fmt.Sprintf("FileNotFoundError: [Errno 2] No such file or directory: '%s'", path)
		},
	}
}

// ---- vLLM `vllm serve` ----

func vllmEngine() *engine {
	s, i, f := strValue, intValue, floatValue
	flags := []flagSpec{
		opt("model", takesValue, s, "--model"),
		opt("served_model_name", oneOrMore, s, "--served-model-name"),
		opt("host", takesValue, s, "--host"),
		opt("port", takesValue, i, "--port"),
		opt("api_key", oneOrMore, s, "--api-key"),
		opt("uvicorn_log_level", takesValue, s, "--uvicorn-log-level").withChoices("critical", "debug", "error", "info", "trace", "warning"),
		opt("allowed_origins", takesValue, s, "--allowed-origins"),
		opt("ssl_keyfile", takesValue, s, "--ssl-keyfile"),
		opt("ssl_certfile", takesValue, s, "--ssl-certfile"),
		opt("root_path", takesValue, s, "--root-path"),
		opt("chat_template", takesValue, s, "--chat-template"),
		opt("response_role", takesValue, s, "--response-role"),
		opt("enable_auto_tool_choice", boolOptional, s, "--enable-auto-tool-choice"),
		opt("tool_call_parser", takesValue, s, "--tool-call-parser"),
		opt("reasoning_parser", takesValue, s, "--reasoning-parser"),
		opt("enable_log_requests", boolOptional, s, "--enable-log-requests"),
		opt("disable_log_stats", storeTrue, s, "--disable-log-stats"),
		opt("disable_uvicorn_access_log", storeTrue, s, "--disable-uvicorn-access-log"),
		opt("tokenizer", takesValue, s, "--tokenizer"),
		opt("tokenizer_mode", takesValue, s, "--tokenizer-mode"),
		opt("revision", takesValue, s, "--revision"),
		opt("trust_remote_code", boolOptional, s, "--trust-remote-code"),
		opt("download_dir", takesValue, s, "--download-dir"),
		opt("load_format", takesValue, s, "--load-format"),
		opt("dtype", takesValue, s, "--dtype").withChoices("auto", "bfloat16", "float", "float16", "float32", "half"),
		opt("kv_cache_dtype", takesValue, s, "--kv-cache-dtype").withChoices("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla"),
		opt("max_model_len", takesValue, s, "--max-model-len").withValidate(humanInt),
		opt("tensor_parallel_size", takesValue, i, "--tensor-parallel-size", "-tp"),
		opt("pipeline_parallel_size", takesValue, i, "--pipeline-parallel-size", "-pp"),
		opt("data_parallel_size", takesValue, i, "--data-parallel-size", "-dp"),
		opt("enable_expert_parallel", boolOptional, s, "--enable-expert-parallel"),
		opt("distributed_executor_backend", takesValue, s, "--distributed-executor-backend").withChoices("external_launcher", "mp", "ray", "uni"),
		opt("gpu_memory_utilization", takesValue, f, "--gpu-memory-utilization"),
		opt("max_num_seqs", takesValue, i, "--max-num-seqs"),
		opt("max_num_batched_tokens", takesValue, s, "--max-num-batched-tokens").withValidate(humanInt),
		opt("enforce_eager", boolOptional, s, "--enforce-eager"),
		opt("quantization", takesValue, s, "--quantization", "-q"),
		opt("cpu_offload_gb", takesValue, f, "--cpu-offload-gb"),
		opt("swap_space", takesValue, f, "--swap-space"),
		opt("seed", takesValue, i, "--seed"),
		opt("block_size", takesValue, i, "--block-size"),
		opt("enable_prefix_caching", boolOptional, s, "--enable-prefix-caching"),
		opt("enable_chunked_prefill", boolOptional, s, "--enable-chunked-prefill"),
		opt("generation_config", takesValue, s, "--generation-config"),
		opt("override_generation_config", takesValue, s, "--override-generation-config"),
		opt("hf_overrides", takesValue, s, "--hf-overrides"),
		opt("limit_mm_per_prompt", takesValue, s, "--limit-mm-per-prompt"),
		opt("max_logprobs", takesValue, i, "--max-logprobs"),
		opt("disable_custom_all_reduce", boolOptional, s, "--disable-custom-all-reduce"),
		opt("speculative_config", takesValue, s, "--speculative-config"),
		opt("compilation_config", takesValue, s, "--compilation-config", "-O"),
		opt("async_scheduling", boolOptional, s, "--async-scheduling"),
		opt("api_server_count", takesValue, i, "--api-server-count"),
		opt("enable_sleep_mode", boolOptional, s, "--enable-sleep-mode"),
		opt("max_parallel_loading_workers", takesValue, i, "--max-parallel-loading-workers"),
		opt("config", takesValue, s, "--config"),
	}
	return &engine{
		kind:   vllm,
		parser: &parser{prog: "vllm serve", dialect: argparseDialect, flags: flags, maxPositionals: 1, dashUnderscores: true},
		configure: func(p parsed) (engineConfig, error) {
			model := p.get("model", "Qwen/Qwen3-0.6B")
			if len(p.positionals) == 1 {
				model = p.positionals[0]
			}
			served := model
			if names := p.get("served_model_name", ""); names != "" {
				served = strings.Fields(names)[0]
			}
			var required []string
			if looksLikeLocalPath(model) {
				required = append(required, model)
			}
			apiKey := p.get("api_key", os.Getenv("VLLM_API_KEY"))
			return engineConfig{
				host:          p.get("host", ""),
				port:          portOf(p, "port", 8000),
				servedModel:   served,
				requiredPaths: required,
				metrics:       true,
			}.withFirstKey(apiKey), nil
		},
		missingPathError: hfRepoError,
	}
}

// withFirstKey keeps the first of several API keys (vLLM accepts a list).
func (c engineConfig) withFirstKey(keys string) engineConfig {
	c.apiKey = ""
	if fields := strings.Fields(keys); len(fields) > 0 {
		c.apiKey = fields[0]
	}
	return c
}

// humanInt accepts vLLM's human-readable integers: 32768, 32k, 1M.
func humanInt(v string) error {
	trimmed := strings.TrimRight(strings.ToLower(v), "kmg")
	if _, err := strconv.ParseFloat(trimmed, 64); err != nil || trimmed == "" {
		return fmt.Errorf("invalid human_readable_int value: '%s'", v)
	}
	return nil
}

// ---- SGLang (kvcache-ai fork, sglang-kt) `python -m sglang.launch_server` ----

func sglangEngine() *engine {
	s, i, f := strValue, intValue, floatValue
	flags := []flagSpec{
		opt("model_path", takesValue, s, "--model-path", "--model"),
		opt("tokenizer_path", takesValue, s, "--tokenizer-path"),
		opt("host", takesValue, s, "--host"),
		opt("port", takesValue, i, "--port"),
		opt("served_model_name", takesValue, s, "--served-model-name"),
		opt("api_key", takesValue, s, "--api-key"),
		opt("trust_remote_code", storeTrue, s, "--trust-remote-code"),
		opt("tp_size", takesValue, i, "--tensor-parallel-size", "--tp-size"),
		opt("dp_size", takesValue, i, "--data-parallel-size", "--dp-size"),
		opt("ep_size", takesValue, i, "--expert-parallel-size", "--ep-size", "--ep"),
		opt("mem_fraction_static", takesValue, f, "--mem-fraction-static"),
		opt("chunked_prefill_size", takesValue, i, "--chunked-prefill-size"),
		opt("max_total_tokens", takesValue, i, "--max-total-tokens"),
		opt("max_running_requests", takesValue, i, "--max-running-requests"),
		opt("max_prefill_tokens", takesValue, i, "--max-prefill-tokens"),
		opt("context_length", takesValue, i, "--context-length"),
		opt("attention_backend", takesValue, s, "--attention-backend"),
		opt("enable_mixed_chunk", storeTrue, s, "--enable-mixed-chunk"),
		opt("enable_p2p_check", storeTrue, s, "--enable-p2p-check"),
		opt("disable_shared_experts_fusion", storeTrue, s, "--disable-shared-experts-fusion"),
		opt("enable_metrics", storeTrue, s, "--enable-metrics"),
		opt("watchdog_timeout", takesValue, f, "--watchdog-timeout"),
		opt("log_level", takesValue, s, "--log-level"),
		opt("log_requests", storeTrue, s, "--log-requests"),
		opt("dtype", takesValue, s, "--dtype"),
		opt("kv_cache_dtype", takesValue, s, "--kv-cache-dtype"),
		opt("quantization", takesValue, s, "--quantization"),
		opt("skip_server_warmup", storeTrue, s, "--skip-server-warmup"),
		opt("disable_cuda_graph", storeTrue, s, "--disable-cuda-graph"),
		opt("cuda_graph_max_bs", takesValue, i, "--cuda-graph-max-bs"),
		opt("disable_radix_cache", storeTrue, s, "--disable-radix-cache"),
		opt("enable_dp_attention", storeTrue, s, "--enable-dp-attention"),
		opt("reasoning_parser", takesValue, s, "--reasoning-parser"),
		opt("tool_call_parser", takesValue, s, "--tool-call-parser"),
		opt("chat_template", takesValue, s, "--chat-template"),
		opt("random_seed", takesValue, i, "--random-seed"),
		opt("download_dir", takesValue, s, "--download-dir"),
		opt("load_format", takesValue, s, "--load-format"),
		opt("page_size", takesValue, i, "--page-size"),
		opt("enable_cache_report", storeTrue, s, "--enable-cache-report"),
		// kt-kernel (sglang-kt fork, engines.md §2.2). The old --kt-amx-* names are deliberately absent.
		opt("kt_weight_path", takesValue, s, "--kt-weight-path"),
		opt("kt_method", takesValue, s, "--kt-method").withChoices("AMXINT4", "AMXINT8", "RAWINT4", "FP8", "FP8_PERCHANNEL", "BF16", "LLAMAFILE"),
		opt("kt_cpuinfer", takesValue, i, "--kt-cpuinfer"),
		opt("kt_threadpool_count", takesValue, i, "--kt-threadpool-count"),
		opt("kt_numa_nodes", oneOrMore, i, "--kt-numa-nodes"),
		opt("kt_num_gpu_experts", takesValue, i, "--kt-num-gpu-experts"),
		opt("kt_gpu_experts_ratio", takesValue, f, "--kt-gpu-experts-ratio"),
		opt("kt_max_deferred_experts_per_token", takesValue, i, "--kt-max-deferred-experts-per-token"),
		opt("kt_gpu_prefill_token_threshold", takesValue, i, "--kt-gpu-prefill-token-threshold"),
		opt("kt_enable_dynamic_expert_update", storeTrue, s, "--kt-enable-dynamic-expert-update"),
		opt("kt_expert_placement_strategy", takesValue, s, "--kt-expert-placement-strategy").withChoices("uniform", "frequency", "front-loading", "random"),
		opt("record_kt_gpu_expert_distribution", storeTrue, s, "--record-kt-gpu-expert-distribution"),
		opt("kt_lora_path", takesValue, s, "--kt-lora-path"),
		opt("kt_expert_lora_path", takesValue, s, "--kt-expert-lora-path"),
	}
	return &engine{
		kind:      sglang,
		parser:    &parser{prog: "launch_server.py", dialect: argparseDialect, flags: flags},
		hasWarmup: true,
		configure: func(p parsed) (engineConfig, error) {
			model, ok := p.values["model_path"]
			if !ok {
				return engineConfig{}, &usageError{exitCode: 2, message: "usage: launch_server.py [-h] --model-path MODEL_PATH [options]\nlaunch_server.py: error: the following arguments are required: --model-path/--model"}
			}
			var required []string
			for _, path := range []string{model, p.get("kt_weight_path", "")} {
				if looksLikeLocalPath(path) {
					required = append(required, path)
				}
			}
			return engineConfig{
				host:          p.get("host", "127.0.0.1"),
				port:          portOf(p, "port", 30000),
				servedModel:   p.get("served_model_name", model),
				requiredPaths: required,
				apiKey:        p.get("api_key", ""),
				metrics:       p.get("enable_metrics", "false") == "true",
				skipWarmup:    p.get("skip_server_warmup", "false") == "true",
			}, nil
		},
		missingPathError: hfRepoError,
	}
}

// ---- llama.cpp llama-server (common/arg.cpp @0c1e57098 + the Addendum) ----

func llamaEngine() *engine {
	s, i, f := strValue, intValue, floatValue
	gpuLayers := func(v string) error {
		if v == "auto" || v == "all" {
			return nil
		}
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("invalid value: '%s'", v)
		}
		return nil
	}
	flashAttn := func(v string) error {
		switch v {
		case "on", "off", "auto", "1", "0", "enabled", "disabled":
			return nil
		}
		return fmt.Errorf("unknown value for --flash-attn: '%s'", v)
	}
	flags := []flagSpec{
		opt("model", takesValue, s, "-m", "--model"),
		opt("host", takesValue, s, "--host"),
		opt("port", takesValue, i, "--port"),
		opt("ctx_size", takesValue, i, "-c", "--ctx-size"),
		opt("n_gpu_layers", takesValue, s, "-ngl", "--gpu-layers", "--n-gpu-layers").withValidate(gpuLayers),
		opt("override_tensor", takesValue, s, "-ot", "--override-tensor"),
		opt("threads", takesValue, i, "-t", "--threads"),
		opt("threads_batch", takesValue, i, "-tb", "--threads-batch"),
		opt("temp", takesValue, f, "--temp"),
		opt("min_p", takesValue, f, "--min-p"),
		opt("top_p", takesValue, f, "--top-p"),
		opt("top_k", takesValue, i, "--top-k"),
		opt("seed", takesValue, i, "-s", "--seed"),
		opt("jinja", storeTrue, s, "--jinja"),
		opt("jinja", negates, s, "--no-jinja"),
		opt("flash_attn", takesValue, s, "-fa", "--flash-attn").withValidate(flashAttn),
		opt("parallel", takesValue, i, "-np", "--parallel"),
		opt("metrics", storeTrue, s, "--metrics"),
		opt("slots", storeTrue, s, "--slots"),
		opt("slots", negates, s, "--no-slots"),
		opt("props", storeTrue, s, "--props"),
		opt("alias", takesValue, s, "-a", "--alias"),
		opt("api_key", takesValue, s, "--api-key"),
		opt("cpu_moe", storeTrue, s, "-cmoe", "--cpu-moe"),
		opt("n_cpu_moe", takesValue, i, "-ncmoe", "--n-cpu-moe"),
		opt("load_mode", takesValue, s, "-lm", "--load-mode").withChoices("auto", "none", "mmap", "mlock", "mmap+mlock", "dio"),
		opt("batch_size", takesValue, i, "-b", "--batch-size"),
		opt("ubatch_size", takesValue, i, "-ub", "--ubatch-size"),
		opt("no_warmup", storeTrue, s, "--no-warmup"),
		opt("cache_type_k", takesValue, s, "-ctk", "--cache-type-k"),
		opt("cache_type_v", takesValue, s, "-ctv", "--cache-type-v"),
		opt("chat_template", takesValue, s, "--chat-template"),
		opt("reasoning_format", takesValue, s, "--reasoning-format"),
		opt("n_predict", takesValue, i, "-n", "--n-predict"),
		opt("timeout", takesValue, i, "-to", "--timeout"),
		opt("split_mode", takesValue, s, "-sm", "--split-mode").withChoices("none", "layer", "row"),
		opt("tensor_split", takesValue, s, "-ts", "--tensor-split"),
		opt("main_gpu", takesValue, i, "-mg", "--main-gpu"),
		opt("numa", takesValue, s, "--numa").withChoices("distribute", "isolate", "numactl"),
		opt("kv_unified", storeTrue, s, "-kvu", "--kv-unified"),
		opt("cont_batching", storeTrue, s, "-cb", "--cont-batching"),
		opt("cont_batching", negates, s, "-nocb", "--no-cont-batching"),
		opt("fit", takesValue, s, "--fit").withChoices("on", "off"),
		opt("offline", storeTrue, s, "--offline"),
		opt("verbose", storeTrue, s, "-v", "--verbose"),
		opt("log_disable", storeTrue, s, "--log-disable"),
		opt("mmproj", takesValue, s, "-mm", "--mmproj"),
	}
	return &engine{
		kind:               llamaServer,
		parser:             &parser{prog: "llama-server", dialect: llamaDialect, flags: flags},
		listenWhileLoading: true,
		hasWarmup:          true,
		configure: func(p parsed) (engineConfig, error) {
			model := p.get("model", "")
			var required []string
			if model != "" {
				required = append(required, model)
			}
			return engineConfig{
				host:          p.get("host", "127.0.0.1"),
				port:          portOf(p, "port", 8080),
				servedModel:   p.get("alias", model),
				requiredPaths: required,
				apiKey:        p.get("api_key", ""),
				metrics:       p.get("metrics", "false") == "true",
				skipWarmup:    p.get("no_warmup", "false") == "true",
			}, nil
		},
		missingPathError: func(path string) string {
			return fmt.Sprintf("gguf_init_from_file: failed to open GGUF file '%s'\nllama_model_load: error loading model: llama_model_loader: failed to load model from %s\nsrv    load_model: failed to load model, '%s'\nmain: exiting due to model loading error", path, path, path)
		},
	}
}

// llamaEnvArgs turns the LLAMA_ARG_* variables llama.cpp reads into options;
// explicit CLI flags come after them and win.
func llamaEnvArgs(getenv func(string) string) []string {
	pairs := [][2]string{
		{"LLAMA_ARG_MODEL", "--model"}, {"LLAMA_ARG_HOST", "--host"}, {"LLAMA_ARG_PORT", "--port"},
		{"LLAMA_ARG_CTX_SIZE", "--ctx-size"}, {"LLAMA_ARG_N_GPU_LAYERS", "--n-gpu-layers"},
		{"LLAMA_ARG_ALIAS", "--alias"}, {"LLAMA_ARG_THREADS", "--threads"}, {"LLAMA_ARG_N_PARALLEL", "--parallel"},
	}
	var out []string
	for _, kv := range pairs {
		if v := getenv(kv[0]); v != "" {
			out = append(out, kv[1], v)
		}
	}
	return out
}
