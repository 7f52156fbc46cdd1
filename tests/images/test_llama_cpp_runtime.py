"""llama-server as images/llama-cpp ships it (issue 9), without Docker: the pinned CPU build from
`scripts/build-llama-server` (the Dockerfile's CMake flags, checked here, bar GGML_CPU_ALL_VARIANTS).

The image fix under test: CMake's default RPATH is the absolute build directory, which the runtime
stage does not have, so `llama-server` exited 127 there. With RUNPATH `$ORIGIN` the binary finds its
libraries beside itself, from any working directory and under any UID (OpenShift: arbitrary UID,
GID 0). The first run builds the binary (cold: minutes; `make engines` does it before `make test`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.images.dockerfile import IMAGES, REPO, Dockerfile
from tests.images.image_scripts import load_image_script

DOCKERFILE = IMAGES / "llama-cpp" / "Dockerfile"
BUILD = REPO / "scripts" / "build-llama-server"
RPATH_FLAGS = {"-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON", "-DCMAKE_INSTALL_RPATH=$ORIGIN"}
#: What the cached build leaves out of the image's flags, and why: every x86/arm CPU backend costs
#: ~12 min on 2 cores; the tests need the GGML_NATIVE=OFF baseline backend only.
NOT_IN_TEST_BUILD = {"-DGGML_CPU_ALL_VARIANTS=ON"}
OPENSHIFT_UID = 1000770000  # in the range restricted-v2 assigns; GID 0 as the SCC does


def dockerfile_cmake_flags(stage: str) -> set[str]:
    """The -D flags of the stage's `cmake -S` configure call, ARG references resolved."""
    df = Dockerfile.read(DOCKERFILE)
    defaults = {name: default for name, default, ins in df.args() if default is not None}
    (run,) = [i for i in df.of("RUN") if i.stage == stage and "cmake -S" in i.value]
    configure = run.value.split("&&")[0]
    resolved = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], configure)
    # bash drops the backslash of "\$ORIGIN" inside double quotes; shlex keeps it
    return {w.replace("\\$", "$") for w in shlex.split(resolved) if w.startswith("-D")}


def script_flags() -> set[str]:
    out = subprocess.run([str(BUILD), "--flags"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_build_script_uses_the_dockerfiles_cpu_flags():
    image, script = dockerfile_cmake_flags("build-cpu"), script_flags()
    assert image - script == NOT_IN_TEST_BUILD
    assert script - image == set()


def test_both_image_flavours_set_an_origin_runpath():
    for stage in ("build-cpu", "build-cuda"):
        assert RPATH_FLAGS <= dockerfile_cmake_flags(stage), stage


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    """The cached build (built here on first use, with progress on stderr)."""
    out = subprocess.run([str(BUILD)], stdout=subprocess.PIPE, text=True, timeout=3600)
    assert out.returncode == 0, "scripts/build-llama-server failed"
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def app_dir(bin_dir) -> Path:
    """A copy of the build as the runtime stage has it (/app): no build tree anywhere, world-readable."""
    root = Path(tempfile.mkdtemp(prefix="llama-app-"))
    root.chmod(0o755)
    shutil.copytree(bin_dir, root / "app", symlinks=True)
    yield root / "app"
    shutil.rmtree(root)


def run_from_root(binary: Path, *args: str, uid: int | None = None) -> subprocess.CompletedProcess:
    def drop():
        os.setgroups([])
        os.setgid(0)
        os.setuid(uid)
    env = {"PATH": "/usr/bin:/bin"}  # no LD_LIBRARY_PATH: only RUNPATH can find the libraries
    return subprocess.run([str(binary), *args], cwd="/", env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=drop if uid is not None else None)


def test_every_elf_has_the_origin_runpath_only(app_dir):
    elves = [p for p in app_dir.iterdir() if not p.is_symlink()]
    names = {p.name.split(".so")[0] for p in elves}
    assert names >= {"llama-server", "libllama", "libggml", "libggml-base", "libggml-cpu", "libmtmd"}, names
    for path in elves:
        dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
        paths = re.findall(r"\((?:RUNPATH|RPATH)\).*\[(.*)\]", dynamic)
        assert paths == ["$ORIGIN"], f"{path.name}: {paths}"


def test_version_from_another_directory_names_the_pinned_build(app_dir):
    result = run_from_root(app_dir / "llama-server", "--version")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert "build 11312" in text and "0c1e5709" in text, text


def test_without_its_libraries_beside_it_the_binary_exits_127(app_dir, tmp_path):
    # The control: the libraries are found beside the binary, nowhere else (the image's old failure).
    lone = tmp_path / "llama-server"
    shutil.copy2(app_dir / "llama-server", lone)
    result = run_from_root(lone, "--version")
    assert result.returncode == 127 and "error while loading shared libraries" in result.stderr, result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (OSError, urllib.error.URLError):  # refused while starting, or slow on a loaded machine
        return 0, {}


@contextlib.contextmanager
def llama_server(app_dir, model: Path, *args: str, env: dict | None = None):
    """The built llama-server on `model`, started from / as an arbitrary UID with GID 0 (OpenShift's
    restricted-v2), until /health answers 200. Yields (base URL, process); the log is on the process's
    `.log` once the block ends."""
    port = free_port()
    server = subprocess.Popen(
        [str(app_dir / "llama-server"), "--model", str(model), "-c", "512", "-np", "1", "-t", "1",
         "--host", "127.0.0.1", "--port", str(port), *args],
        cwd="/", env={"PATH": "/usr/bin:/bin", **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace",  # verbose logs print token pieces, random bytes here
        preexec_fn=lambda: (os.setgroups([]), os.setgid(0), os.setuid(OPENSHIFT_UID)))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while get(f"{base}/health")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, server.communicate()[0][-3000:]
            time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        server.log = server.communicate(timeout=30)[0]


@pytest.fixture(scope="module")
def tiny_model(app_dir) -> Path:
    sys.path.insert(0, str(IMAGES / "llama-cpp"))
    from tiny_moe_gguf import write_model
    files = write_model(app_dir.parent / "models" / "tiny-moe.gguf", 2)
    (app_dir.parent / "models").chmod(0o755)
    return files[0]


def test_serves_a_split_moe_from_root_as_an_arbitrary_uid(app_dir, tiny_model):
    # verbose: the loader names each overridden tensor
    with llama_server(app_dir, tiny_model, "-ot", r"\.ffn_(up|down|gate)_exps\.=CPU", "--alias", "tiny",
                      "--jinja", "--verbose") as (base, server):
        status, models = get(f"{base}/v1/models")
        assert status == 200 and models["data"][0]["id"] == "tiny"
        status, chat = get(f"{base}/v1/chat/completions",
                           {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8})
        assert status == 200 and chat["usage"]["completion_tokens"] > 0, chat
    log = server.log
    # Both shards were loaded, and -ot put the expert tensors where it said.
    assert "additional 1 GGUFs metadata loaded" in log, log[-3000:]
    overridden = set(re.findall(r"tensor (blk\.\d+\.ffn_\w+_exps\.weight) .*buffer type overridden to CPU", log))
    assert overridden == {f"blk.{i}.ffn_{p}_exps.weight" for i in range(2) for p in ("gate", "up", "down")}, log[-3000:]


def test_the_e2e_image_carries_every_library_the_build_links(app_dir):
    """images/llama-cpp/build_e2e.py puts RUNTIME_PACKAGES' shared objects beside /app: they must
    cover what the loader resolves outside /app (else the e2e pod would exit 127, as the image did)."""
    build = load_image_script("llama-cpp/build_e2e.py")
    in_image = {Path(path).name for path in build.runtime_libraries()[0]}
    elves = [str(p) for p in app_dir.iterdir() if not p.is_symlink()]
    out = subprocess.run(["ldd", *elves], capture_output=True, text=True, check=True).stdout
    resolved = {Path(m.group(1)).name for m in re.finditer(r"=> (/\S+)", out) if not m.group(1).startswith(str(app_dir))}
    resolved |= {Path(m.group(1)).name for m in re.finditer(r"^\s+(/\S+ld-linux\S+)", out, re.MULTILINE)}
    assert resolved and resolved <= in_image, resolved - in_image


def help_flags(help_text: str) -> set[str]:
    """Every spelling `llama-server --help` prints: option lines start at column 0 with the flags,
    `-t,    --threads N` (common_arg::to_string); help text is indented, section rules are `-----`."""
    flags: set[str] = set()
    for line in help_text.splitlines():
        match = re.match(r"^((?:-{1,2}[A-Za-z0-9][\w.-]*,\s+)*-{1,2}[A-Za-z0-9][\w.-]*)(?=\s|$)", line)
        if match:
            flags |= set(re.split(r",\s+", match.group(1)))
    return flags


def test_help_lists_exactly_the_charts_flag_manifest(app_dir):
    # The chart checks engine.extraArgs against this manifest, read from common/arg.cpp's source;
    # the built parser must agree with it spelling for spelling.
    result = run_from_root(app_dir / "llama-server", "--help")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((REPO / "constructs" / "leviathan" / "engines" / "manifests" / "llamacpp.json").read_text())
    printed = help_flags(result.stdout)
    assert len(printed) > 300
    assert printed == set(manifest["options"]), (sorted(printed - set(manifest["options"])),
                                                 sorted(set(manifest["options"]) - printed))


def test_the_api_key_from_the_secrets_env_var_guards_the_api_but_not_health(app_dir, tiny_model):
    """The chart passes the key only as LLAMA_API_KEY (from the Secret), never on the command line, and
    probes /health without it: the real server must read that variable, refuse the API without the
    key, and keep /health public."""
    key = {"Authorization": "Bearer e2e-secret-key"}
    with llama_server(app_dir, tiny_model, "--alias", "tiny", env={"LLAMA_API_KEY": "e2e-secret-key"}) as (base, _):
        assert get(f"{base}/health")[0] == 200  # the startup probe passed without a key
        assert get(f"{base}/v1/models")[0] == 401
        assert get(f"{base}/v1/models", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, models = get(f"{base}/v1/models", headers=key)
        assert status == 200 and models["data"][0]["id"] == "tiny"
        status, chat = get(f"{base}/v1/chat/completions",
                           {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}, headers=key)
        assert status == 200, chat
