"""scripts/deploy-openshift against a fake `oc` on PATH.

The real `oc` cannot be built here (the Go module proxy serves no github.com/openshift/oc
versions), so a fake stands in: it answers from a JSON state file, records every call (argv and
stdin) and plays a download and a model load over successive polls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy-openshift"
BUNDLE = ROOT / "rendered" / "llamacpp" / "openshift.yaml"
TOKEN = "hf_SECRETtokenVALUE0123456789"
SECRETS = ("huggingface-token", "kimi-k2-api-key")

FAKE_OC = textwrap.dedent('''\
    #!PYTHON
    import json, sys
    from pathlib import Path
    state_file = Path(sys.argv[0]).with_name("state.json")
    state = json.loads(state_file.read_text())
    args = sys.argv[1:]
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    with open(Path(sys.argv[0]).with_name("calls.log"), "a") as log:
        log.write(json.dumps({"argv": args, "stdin_bytes": len(stdin)}) + "\\n")
    def out(value):
        print(json.dumps(value) if not isinstance(value, str) else value)
        state_file.write_text(json.dumps(state))
        sys.exit(0)
    verb = args[0]
    if args[:2] == ["auth", "whoami"]:
        out("kube-admin")
    if verb == "whoami":
        if not state["logged_in"]:
            print("error: You must be logged in to the server (Unauthorized)", file=sys.stderr); sys.exit(1)
        out("developer")
    if verb == "get" and args[1] == "namespace":
        sys.exit(0 if state["namespace"] else 1)
    if verb == "get" and args[1] == "secret":
        sys.exit(0 if args[2] in state["secrets"] else 1)
    if verb == "create" and args[1] == "secret":
        state["secrets"].append(args[3]); state["stdin_len"][args[3]] = len(stdin); out("secret/created")
    if verb == "get" and args[1] == "resourcequota":
        out({"items": state["quotas"]})
    if verb == "get" and args[1] == "nodes":
        out({"items": state["nodes"]})
    if verb == "apply":
        state["applied"] = True; out("applied")
    if verb == "get" and args[1] == "job":
        state["job_polls"] += 1
        out({"status": {"succeeded": 1} if state["job_polls"] > 2 else {"active": 1}})
    if verb == "logs":
        out("2026 hf-download: progress: 1.0 GiB / 4.0 GiB (%.1f%%), 1 GiB/s, ETA 3s" % (25.0 * state["job_polls"]))
    if verb == "get" and args[1] == "deployment":
        state["deploy_polls"] += 1
        out({"status": {"readyReplicas": 1} if state["deploy_polls"] > 2 else {}})
    if verb == "get" and args[1] == "route":
        out("kimi.apps.example.com")
    print("fake oc: unexpected " + " ".join(args), file=sys.stderr); sys.exit(2)
    ''').replace("PYTHON", sys.executable)


def node(name: str, cpu: str, memory: str, gpus: str) -> dict:
    return {"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpus}}}


def state(**changes) -> dict:
    return {"logged_in": True, "namespace": True, "secrets": list(SECRETS), "stdin_len": {}, "quotas": [], "applied": False,
            "nodes": [node("small", "8", "64Gi", "0"), node("big", "64", "512Gi", "2")],
            "job_polls": 0, "deploy_polls": 0, **changes}


def run(tmp_path: Path, initial: dict, *args: str, stdin: str = ""):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "oc").write_text(FAKE_OC)
    (bin_dir / "oc").chmod(0o755)
    (bin_dir / "state.json").write_text(json.dumps(initial))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, str(SCRIPT), "-n", "llm", "--interval", "0", *args], input=stdin,
                            capture_output=True, text=True, env=env, timeout=120)
    calls = [json.loads(line) for line in (bin_dir / "calls.log").read_text().splitlines()] \
        if (bin_dir / "calls.log").exists() else []
    return result, json.loads((bin_dir / "state.json").read_text()), calls


def test_a_full_deploy_shows_progress_and_prints_the_route(tmp_path):
    result, final, calls = run(tmp_path, state())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert final["applied"]
    for line in ("download: 25.0%", "download: 50.0%", "download: complete",
                 "engine: loading the model", "engine: ready", "https://kimi.apps.example.com/v1",
                 "curl https://kimi.apps.example.com/v1/chat/completions", '"model": "kimi-k2-thinking"',
                 "export LLAMA_API_KEY=$(oc get secret kimi-k2-api-key -n llm -o jsonpath='{.data.LLAMA_API_KEY}' | base64 -d)",
                 '-H "Authorization: Bearer $LLAMA_API_KEY"'):
        assert line in out, out
    order = [" ".join(c["argv"][:2]) for c in calls]
    assert order.index("apply -n") > order.index("get nodes") > order.index("get resourcequota")
    assert out.index("NetworkPolicy/") < out.index("Deployment/") < out.index("Route/")


def test_kubectl_can_stand_in_for_oc(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "kubectl").symlink_to(tmp_path / "bin" / "oc")
    result, final, calls = run(tmp_path, state(), "--client", str(tmp_path / "bin" / "kubectl"))
    assert result.returncode == 0, result.stderr
    assert "logged in as kube-admin" in result.stdout and final["applied"]


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    result, final, calls = run(tmp_path, state(secrets=[]), "--dry-run", "--token-stdin", stdin=TOKEN)
    assert result.returncode == 0, result.stderr
    assert "would create Secret huggingface-token" in result.stdout and "dry run: nothing applied" in result.stdout
    assert "would create Secret kimi-k2-api-key with a random API key" in result.stdout
    assert "Deployment/openshift-llamacpp" in result.stdout
    assert not final["applied"] and not final["secrets"]
    assert not [c for c in calls if c["argv"][0] in ("apply", "create")]


def test_the_token_goes_from_stdin_to_the_secret_and_nowhere_else(tmp_path):
    result, final, calls = run(tmp_path, state(secrets=[]), "--token-stdin", stdin=TOKEN + "\n")
    assert result.returncode == 0, result.stderr
    assert final["stdin_len"] == {"huggingface-token": len(TOKEN), "kimi-k2-api-key": 43}  # token_urlsafe(32)
    creates = {c["argv"][3]: c["argv"] for c in calls if c["argv"][:2] == ["create", "secret"]}
    assert "--from-file=HF_TOKEN=/dev/stdin" in creates["huggingface-token"]
    assert "--from-file=LLAMA_API_KEY=/dev/stdin" in creates["kimi-k2-api-key"]
    assert TOKEN not in json.dumps(calls) and TOKEN not in result.stdout + result.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and TOKEN in p.read_text(errors="ignore")]


@pytest.mark.parametrize(("changes", "message"), [
    ({"logged_in": False}, "oc is not logged in: run `oc login"),
    ({"namespace": False}, "namespace llm does not exist: create it with `oc new-project llm`"),
    ({"secrets": ["kimi-k2-api-key"]}, "Secret huggingface-token is missing in llm"),
    ({"quotas": [{"metadata": {"name": "gpu-quota"}, "spec": {"hard": {"requests.memory": "200Gi"}},
                  "status": {"hard": {"requests.memory": "200Gi"}, "used": {"requests.memory": "0"}}}]},
     "ResourceQuota gpu-quota: requests.memory would reach"),
    ({"quotas": [{"metadata": {"name": "pvcs"}, "spec": {"hard": {"persistentvolumeclaims": "3"}},
                  "status": {"hard": {"persistentvolumeclaims": "3"}, "used": {"persistentvolumeclaims": "3"}}}]},
     "ResourceQuota pvcs: persistentvolumeclaims would reach 4 of 3"),
    ({"nodes": [node("small", "8", "64Gi", "0")]}, "no node has allocatable cpu=16"),
])
def test_prerequisites_and_capacity_fail_before_anything_is_applied(tmp_path, changes, message):
    result, final, calls = run(tmp_path, state(**changes))
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert not final["applied"] and not [c for c in calls if c["argv"][0] in ("apply", "create")]


def test_a_refused_deploy_creates_no_secret(tmp_path):
    """Missing Secrets are created only after the capacity checks: a refusal leaves nothing behind."""
    result, final, calls = run(tmp_path, state(secrets=[], nodes=[node("small", "8", "64Gi", "0")]), "--token-stdin",
                               stdin=TOKEN)
    assert result.returncode == 1 and "no node has allocatable cpu=16" in result.stderr, result.stderr
    assert not final["secrets"] and not [c for c in calls if c["argv"][0] in ("apply", "create")]
