package main

import (
	"errors"
	"strings"
	"testing"
)

func parseWith(t *testing.T, eng *engine, args ...string) (parsed, *usageError) {
	t.Helper()
	p, err := eng.parser.parse(args)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) {
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
	return p, ue
}

func TestKTransformersSeedFlagsAreRejectedLikeArgparse(t *testing.T) {
	_, err := parseWith(t, ktransformersEngine(), "--model_path", "/m", "--port", "30000", "--cpu_offload_max_threads", "96")
	if err == nil || err.exitCode != 2 {
		t.Fatalf("want exit 2, got %v", err)
	}
	if !strings.Contains(err.message, "kvcache.ai: error: unrecognized arguments: --cpu_offload_max_threads 96") {
		t.Fatalf("message %q", err.message)
	}
}

func TestKTransformersRealFlagsParse(t *testing.T) {
	p, err := parseWith(t, ktransformersEngine(), "--host", "0.0.0.0", "--port=30000", "--model_path", "/cfg",
		"--gguf_path", "/gguf/Q4", "--model_name", "deepseek-v3", "--cpu_infer", "94", "--backend_type", "balance_serve",
		"--cache_lens", "32768", "--max_new_tokens", "1024", "--chunk_size", "256", "--max_batch_size", "4",
		"--no-force_think", "--use_cuda_graph", "--gpu_split", "90000,30000", "--web", "True", "--log_level", "info")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := ktransformersEngine().configure(p)
	if cfg.port != 30000 || cfg.servedModel != "deepseek-v3" || p.values["force_think"] != "false" || p.values["use_cuda_graph"] != "true" {
		t.Fatalf("cfg %+v values %v", cfg, p.values)
	}
	if strings.Join(cfg.requiredPaths, ",") != "/cfg,/gguf/Q4" {
		t.Fatalf("required paths %v", cfg.requiredPaths)
	}
}

func TestKTransformersModelDirAliasAndDefaults(t *testing.T) {
	p, _ := parseWith(t, ktransformersEngine(), "--model_dir", "/cfg")
	cfg, _ := ktransformersEngine().configure(p)
	if cfg.port != 10002 || cfg.host != "0.0.0.0" || cfg.requiredPaths[0] != "/cfg" {
		t.Fatalf("cfg %+v", cfg)
	}
	// Without --gguf_path the shipped config.yaml default is used (and would not exist).
	if cfg.requiredPaths[1] != "/mnt/data/models/Smallthinker-21B" {
		t.Fatalf("gguf default %v", cfg.requiredPaths)
	}
}

func TestArgparseTypeErrors(t *testing.T) {
	_, err := parseWith(t, ktransformersEngine(), "--port", "http")
	if err == nil || !strings.Contains(err.message, "argument --port: invalid int value: 'http'") {
		t.Fatalf("got %v", err)
	}
	_, err = parseWith(t, ktransformersEngine(), "--port")
	if err == nil || !strings.Contains(err.message, "expected one argument") {
		t.Fatalf("got %v", err)
	}
}

func TestVllmServeFlags(t *testing.T) {
	eng := vllmEngine()
	p, err := parseWith(t, eng, "/models/w4a16", "--served-model-name", "kimi", "--host", "0.0.0.0", "--port", "8000",
		"-tp", "8", "--gpu-memory-utilization=0.95", "--max-model-len", "32k", "--enforce-eager", "--trust_remote_code",
		"--quantization", "compressed-tensors", "--download-dir", "/cache", "--dtype", "auto", "--max-num-seqs", "4",
		"--kv-cache-dtype", "fp8")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := eng.configure(p)
	if cfg.servedModel != "kimi" || cfg.port != 8000 || cfg.requiredPaths[0] != "/models/w4a16" || p.values["trust_remote_code"] != "true" {
		t.Fatalf("cfg %+v values %v", cfg, p.values)
	}
	if _, err := parseWith(t, eng, "m", "--dtype", "int3"); err == nil || !strings.Contains(err.message, "invalid choice: 'int3'") {
		t.Fatalf("bad dtype accepted: %v", err)
	}
	if _, err := parseWith(t, eng, "m", "--cpu-offload-max-threads", "3"); err == nil || err.exitCode != 2 {
		t.Fatalf("unknown flag accepted: %v", err)
	}
	if _, err := parseWith(t, eng, "m", "n"); err == nil || !strings.Contains(err.message, "unrecognized arguments: n") {
		t.Fatalf("second positional accepted: %v", err)
	}
}

func TestVllmServedModelNameDefaultsToModel(t *testing.T) {
	eng := vllmEngine()
	p, _ := parseWith(t, eng, "org/model", "--served-model-name", "a", "b")
	cfg, _ := eng.configure(p)
	if cfg.servedModel != "a" || len(cfg.requiredPaths) != 0 {
		t.Fatalf("cfg %+v", cfg)
	}
	p, _ = parseWith(t, eng, "--model", "/x")
	cfg, _ = eng.configure(p)
	if cfg.servedModel != "/x" || cfg.host != "" {
		t.Fatalf("cfg %+v", cfg)
	}
}

func TestSglangKtFlags(t *testing.T) {
	eng := sglangEngine()
	p, err := parseWith(t, eng, "--host", "0.0.0.0", "--port", "30000", "--model", "/models/kimi",
		"--kt-weight-path", "/models/kimi", "--kt-method", "RAWINT4", "--kt-cpuinfer", "96", "--kt-threadpool-count", "2",
		"--kt-num-gpu-experts", "8", "--kt-gpu-prefill-token-threshold", "400", "--kt-numa-nodes", "0", "1",
		"--trust-remote-code", "--served-model-name", "Kimi-K2-Thinking", "--tensor-parallel-size", "2",
		"--mem-fraction-static", "0.94", "--enable-metrics", "--disable-shared-experts-fusion")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := eng.configure(p)
	if cfg.servedModel != "Kimi-K2-Thinking" || !cfg.metrics || cfg.port != 30000 || p.values["kt_numa_nodes"] != "0 1" {
		t.Fatalf("cfg %+v values %v", cfg, p.values)
	}
	if _, err := parseWith(t, eng, "--model", "/m", "--kt-amx-weight-path", "/w"); err == nil {
		t.Fatal("old --kt-amx-weight-path name accepted")
	}
	if _, err := parseWith(t, eng, "--model", "/m", "--kt-method", "AVX2"); err == nil {
		t.Fatal("bad --kt-method accepted")
	}
	if _, err := eng.configure(parsed{values: map[string]string{}}); err == nil {
		t.Fatal("missing --model-path accepted")
	}
}

func TestLlamaServerFlags(t *testing.T) {
	eng := llamaEngine()
	p, err := parseWith(t, eng, "-m", "/g/K-00001-of-00006.gguf", "--host", "0.0.0.0", "--port", "8080", "-c", "16384",
		"-ngl", "99", "-ot", ".ffn_.*_exps.=CPU", "-t", "-1", "--temp", "1.0", "--min-p", "0.01", "--jinja", "-fa", "on",
		"-np", "1", "--metrics", "--alias", "kimi", "-cmoe", "-ncmoe", "3", "-lm", "none")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := eng.configure(p)
	if cfg.servedModel != "kimi" || !cfg.metrics || p.values["threads"] != "-1" || p.values["n_gpu_layers"] != "99" {
		t.Fatalf("cfg %+v values %v", cfg, p.values)
	}
	for _, bad := range [][]string{{"--mlock"}, {"--no-mmap"}, {"--flash-attn"}, {"-fa", "--jinja"}, {"-ngl", "lots"}, {"-lm", "fast"}, {"--port=8080"}} {
		_, err := parseWith(t, eng, append([]string{"-m", "/g"}, bad...)...)
		if err == nil || err.exitCode != 1 {
			t.Fatalf("%v accepted (%v)", bad, err)
		}
	}
	_, err = parseWith(t, eng, "--mlock")
	if err.message != "error: invalid argument: --mlock" {
		t.Fatalf("message %q", err.message)
	}
}

func TestLlamaEnvArgsAreOverriddenByFlags(t *testing.T) {
	env := map[string]string{"LLAMA_ARG_HOST": "0.0.0.0", "LLAMA_ARG_PORT": "9000"}
	args := append(llamaEnvArgs(func(k string) string { return env[k] }), "--port", "8081")
	p, err := parseWith(t, llamaEngine(), args...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := llamaEngine().configure(p)
	if cfg.host != "0.0.0.0" || cfg.port != 8081 {
		t.Fatalf("cfg %+v", cfg)
	}
}

func TestNumactlCommand(t *testing.T) {
	cmd, err := numactlCommand([]string{"--interleave=all", "ktransformers", "--port", "1"})
	if err != nil || strings.Join(cmd, " ") != "ktransformers --port 1" {
		t.Fatalf("cmd %v err %v", cmd, err)
	}
	cmd, err = numactlCommand([]string{"-N", "0", "-m", "0-1", "--", "vllm", "serve"})
	if err != nil || strings.Join(cmd, " ") != "vllm serve" {
		t.Fatalf("cmd %v err %v", cmd, err)
	}
	for _, bad := range [][]string{{"--interleave=all"}, {"--interleave=xyz", "x"}, {"--bogus", "x"}, {"-i"}} {
		if _, err := numactlCommand(bad); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}
