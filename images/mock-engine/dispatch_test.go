package main

import (
	"bytes"
	"strings"
	"testing"
)

func run(env map[string]string, argv ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := dispatch(argv, func(k string) string { return env[k] }, &out, &errOut)
	return code, errOut.String()
}

func TestDispatchByInvocationName(t *testing.T) {
	cases := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"/usr/bin/python3", "-m", "vllm.entrypoints.openai.api_server"}, 1, "No module named vllm.entrypoints.openai.api_server"},
		{[]string{"/usr/bin/vllm", "chat"}, 2, "only `vllm serve`"},
		{[]string{"/bin/llama-cli"}, 127, "unknown engine"},
		{[]string{"mock-engine", "ktransformers", "--cpu_offload_max_threads", "96"}, 2, "unrecognized arguments"},
		{[]string{"python3", "-u", "-m", "sglang.launch_server", "--kt-amx-weight-path", "/w"}, 2, "unrecognized arguments: --kt-amx-weight-path /w"},
		{[]string{"python3", "ktransformers/server/main.py", "--bogus"}, 2, "unrecognized arguments: --bogus"},
		{[]string{"numactl", "--interleave=all"}, 1, "usage: numactl"},
	}
	for _, c := range cases {
		code, msg := run(nil, c.argv...)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%v: exit %d %q, want %d containing %q", c.argv, code, msg, c.code, c.msg)
		}
	}
}

func TestStartupFailuresBeforeListening(t *testing.T) {
	code, msg := run(map[string]string{"VLLM_PORT": "tcp://10.96.0.12:8000"}, "vllm", "serve", "m", "--port", "0")
	if code != 1 || !strings.Contains(msg, "VLLM_PORT 'tcp://10.96.0.12:8000' appears to be a URI") {
		t.Fatalf("VLLM_PORT: %d %q", code, msg)
	}
	code, msg = run(map[string]string{"MOCK_REQUIRE_PATHS": "1"}, "ktransformers", "--model_path", "/nonexistent/cfg", "--port", "0")
	if code != 1 || !strings.Contains(msg, "No such file or directory: '/nonexistent/cfg'") {
		t.Fatalf("require paths: %d %q", code, msg)
	}
	code, msg = run(map[string]string{"MOCK_REQUIRE_PATHS": "1"}, "llama-server", "-m", "/nonexistent.gguf", "--port", "0")
	if code != 1 || !strings.Contains(msg, "failed to open GGUF file '/nonexistent.gguf'") {
		t.Fatalf("require paths llama: %d %q", code, msg)
	}
	code, msg = run(map[string]string{"MOCK_LOAD_SECONDS": "0.05", "VLLM_ENGINE_READY_TIMEOUT_S": "x"}, "vllm", "serve", "m")
	if code != 1 || !strings.Contains(msg, "invalid literal for int()") {
		t.Fatalf("bad timeout: %d %q", code, msg)
	}
}
