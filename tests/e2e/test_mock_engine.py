"""The mock engines, run for real on loopback: each reproduces its engine's
startup/health shape (engines.md §6), rejects flags the real engine rejects,
and has a hang switch.

The Go binary is built once per module into a temp dir (Go build cache under
~/.cache/leviathan/go-build) and invoked through busybox-style symlinks, exactly
as in the image. Load times are a fraction of a second to keep this fast.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_PY = REPO / "images" / "mock-engine" / "build.py"


def _load_build_module():
    spec = importlib.util.spec_from_file_location("mock_engine_build", BUILD_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mock-engine-bin")
    binary = _load_build_module().build_binary(out)
    for name in ("ktransformers", "vllm", "llama-server", "python3", "numactl"):
        (out / name).symlink_to(binary.name)
    return out


class Engines:
    """Starts mock engine processes and stops each one by its PID afterwards."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, *argv: str, **env: str) -> subprocess.Popen:
        full_env = {"PATH": f"{self.bin_dir}:/usr/bin:/bin", "MOCK_LOAD_SECONDS": "0.6", "MOCK_WARMUP_SECONDS": "0.6"}
        full_env.update(env)
        proc = subprocess.Popen([str(self.bin_dir / argv[0]), *argv[1:]], env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def run(self, *argv: str, timeout: float = 10, **env: str) -> subprocess.CompletedProcess:
        proc = self.start(*argv, **env)
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, 15)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, 9)
                    proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()


@pytest.fixture
def engines(bin_dir):
    e = Engines(bin_dir)
    yield e
    e.stop_all()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, method: str = "GET", body: dict | None = None, timeout: float = 1.0):
    """(status or 'refused'/'timeout', body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except ConnectionRefusedError:
        return "refused", ""
    except (socket.timeout, TimeoutError):
        return "timeout", ""
    finally:
        conn.close()


def observe(port: int, path: str, until=200, deadline: float = 8.0) -> list:
    """Poll *path* and return the distinct states seen, in order, until *until* is seen."""
    seen: list = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        state, _ = request(port, path)
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {until}; states seen: {seen}")


CHAT = {"messages": [{"role": "user", "content": "ping"}]}


def assert_openai_api(port: int, model: str) -> None:
    status, body = request(port, "/v1/models")
    assert status == 200 and json.loads(body)["data"][0]["id"] == model
    status, body = request(port, "/v1/chat/completions", "POST", CHAT)
    reply = json.loads(body)
    assert status == 200 and reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"].endswith("You said: ping")
    status, body = request(port, "/v1/chat/completions", "POST", {**CHAT, "stream": True})
    events = [line[len("data: "):] for line in body.splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text.endswith("You said: ping")


def test_vllm_refuses_connections_until_ready_then_health_200(engines):
    port = free_port()
    engines.start("vllm", "serve", "/models/w4a16", "--served-model-name", "kimi", "--host", "127.0.0.1",
                  "--port", str(port), "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.95",
                  "--max-model-len", "32768", "--enforce-eager", "--trust-remote-code")
    assert observe(port, "/health") == ["refused", 200]
    assert request(port, "/ping")[0] == 200
    assert_openai_api(port, "kimi")
    status, body = request(port, "/v1/chat/completions", "POST", {**CHAT, "model": "other"})
    assert status == 404 and "does not exist" in body


def test_sglang_refused_then_503_warmup_then_200_through_numactl(engines):
    port = free_port()
    engines.start("numactl", "--interleave=all", "python3", "-m", "sglang.launch_server", "--host", "127.0.0.1",
                  "--port", str(port), "--model", "/models/kimi", "--kt-weight-path", "/models/kimi",
                  "--kt-method", "RAWINT4", "--kt-cpuinfer", "2", "--served-model-name", "kimi", "--trust-remote-code")
    assert observe(port, "/health_generate") == ["refused", 503, 200]
    assert request(port, "/health")[0] == 200
    assert_openai_api(port, "kimi")


def test_llama_server_listens_at_once_with_503_loading_model(engines):
    port = free_port()
    engines.start("llama-server", "-m", "/g/Kimi-00001-of-00006.gguf", "--host", "127.0.0.1", "--port", str(port),
                  "-c", "16384", "-ngl", "99", "-ot", ".ffn_.*_exps.=CPU", "-t", "2", "--jinja", "-fa", "on",
                  "-np", "1", "--metrics", "--alias", "kimi")
    time.sleep(0.15)  # the listener is up long before the 0.6 s load ends
    status, body = request(port, "/v1/models")
    assert status == 503 and json.loads(body)["error"]["message"] == "Loading model"
    assert observe(port, "/health") == [503, 200]
    assert json.loads(request(port, "/health")[1]) == {"status": "ok"}
    assert_openai_api(port, "kimi")


def test_ktransformers_port_closed_during_load_and_no_health(engines):
    port = free_port()
    engines.start("numactl", "--interleave=all", "ktransformers", "--host", "127.0.0.1", "--port", str(port),
                  "--model_path", "/models/cfg", "--gguf_path", "/models/gguf/Q4_K_M", "--model_name", "deepseek-v3",
                  "--cpu_infer", "2", "--backend_type", "balance_serve", "--cache_lens", "32768",
                  "--max_new_tokens", "1024", "--chunk_size", "256", "--max_batch_size", "4")
    assert observe(port, "/v1/models") == ["refused", 200]
    assert json.loads(request(port, "/v1/models")[1]) == {
        "data": [{"id": "deepseek-v3", "name": "deepseek-v3"}], "object": "list"}
    assert request(port, "/health")[0] == 404
    assert_openai_api(port, "deepseek-v3")


@pytest.mark.parametrize("argv, code, message", [
    (["ktransformers", "--model_path", "/m", "--cpu_offload_max_threads", "96"], 2,
     "error: unrecognized arguments: --cpu_offload_max_threads 96"),
    (["llama-server", "-m", "/g.gguf", "--mlock"], 1, "error: invalid argument: --mlock"),
    (["llama-server", "-m", "/g.gguf", "--no-mmap"], 1, "error: invalid argument: --no-mmap"),
    (["vllm", "serve", "/m", "--no-such-flag"], 2, "unrecognized arguments: --no-such-flag"),
    (["python3", "-m", "sglang.launch_server", "--model", "/m", "--kt-amx-method", "AMXINT4"], 2,
     "unrecognized arguments: --kt-amx-method AMXINT4"),
])
def test_unknown_flags_exit_like_the_real_engine(engines, argv, code, message):
    result = engines.run(*argv)
    assert result.returncode == code
    assert message in result.stderr


def test_vllm_port_injected_by_a_service_named_vllm_is_fatal(engines):
    port = free_port()
    result = engines.run("vllm", "serve", "/m", "--port", str(port), VLLM_PORT="tcp://10.0.0.1:8000")
    assert result.returncode != 0
    assert "VLLM_PORT 'tcp://10.0.0.1:8000' appears to be a URI" in result.stderr
    assert "Kubernetes service discovery issue" in result.stderr


def test_vllm_load_is_not_bounded_by_engine_ready_timeout(engines):
    # vLLM 0.14.1 awaits the model load without a deadline (wait_for_engine_startup);
    # VLLM_ENGINE_READY_TIMEOUT_S bounds only the first message after the handshake.
    port = free_port()
    proc = engines.start("vllm", "serve", "/m", "--host", "127.0.0.1", "--port", str(port),
                         MOCK_LOAD_SECONDS="3", VLLM_ENGINE_READY_TIMEOUT_S="1")
    assert observe(port, "/health", deadline=30)[-1] == 200
    assert proc.poll() is None


def test_hang_switch_accepts_connections_but_never_answers(engines):
    port = free_port()
    proc = engines.start("vllm", "serve", "m", "--host", "127.0.0.1", "--port", str(port))
    observe(port, "/health")
    assert request(port, "/mock/hang", "POST")[0] == 200
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # the TCP handshake still succeeds ...
    assert request(port, "/health", timeout=0.5)[0] == "timeout"  # ... but nothing answers
    assert proc.poll() is None


def test_hang_after_seconds_env(engines):
    port = free_port()
    engines.start("llama-server", "-m", "/g.gguf", "--host", "127.0.0.1", "--port", str(port),
                  MOCK_LOAD_SECONDS="0.2", MOCK_WARMUP_SECONDS="0", MOCK_HANG_AFTER_SECONDS="0.8")
    observe(port, "/health")
    time.sleep(1.0)
    assert request(port, "/health", timeout=0.5)[0] == "timeout"


def test_require_paths_fails_on_missing_model_and_starts_on_present_one(engines, tmp_path):
    result = engines.run("ktransformers", "--model_path", str(tmp_path), "--gguf_path", str(tmp_path / "missing"),
                         "--port", str(free_port()), MOCK_REQUIRE_PATHS="1")
    assert result.returncode == 1
    assert f"No such file or directory: '{tmp_path / 'missing'}'" in result.stderr
    (tmp_path / "gguf").mkdir()
    port = free_port()
    engines.start("ktransformers", "--host", "127.0.0.1", "--port", str(port), "--model_path", str(tmp_path),
                  "--gguf_path", str(tmp_path / "gguf"), MOCK_REQUIRE_PATHS="1", MOCK_LOAD_SECONDS="0.1")
    assert observe(port, "/v1/models")[-1] == 200
