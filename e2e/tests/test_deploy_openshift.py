"""scripts/deploy-openshift against the real apiserver, with kubectl standing in for `oc`.

The real `oc` cannot be built here: proxy.golang.org answers 403 "This module version is not
available." for github.com/openshift/oc (its version list, `@master`, any version), so there is no
source to build from (e2e/README.md). `--client kubectl` runs the script's steps with kubectl; every
subcommand it uses is one `oc` embeds from kubectl with the same semantics (get, create secret
generic --from-file, apply, logs), except the login check: `oc whoami` (OpenShift's user API) becomes
`kubectl auth whoami` (a SelfSubjectReview), which answers the same question.

The bundle is the llamacpp chart rendered for OpenShift as `rendered/llamacpp/openshift.yaml` is
(`helm template --skip-tests`), with the e2e's mock engine and sizes, an API key Secret the script
must create, and a Route host (no OpenShift router here assigns one). Its NetworkPolicies are enforced
(kube-router, local backend): the kubelet's probes, from the node, still reach the engine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from leviathan.tools import helm_binary
from leviathan_e2e.openshift import install_route_crd
from leviathan_e2e.release import REPO, Release
from leviathan_e2e.supervisor import cluster_env

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "scripts" / "deploy-openshift"
API_KEY_SECRET = "lev-api-key"


def render_bundle(tmp_path, namespace: str) -> tuple:
    host = f"lev-llamacpp-{namespace}.apps.e2e.test"
    out = subprocess.run([helm_binary(), "template", "lev", str(REPO / "charts" / "llamacpp"), "--skip-tests",
                          "-f", str(REPO / "e2e" / "values" / "llamacpp.yaml"), "--set", "platform=openshift",
                          "--set", f"openshift.route.host={host}", "--set", f"engine.apiKeySecret.name={API_KEY_SECRET}"],
                         capture_output=True, text=True, check=True, env=cluster_env()).stdout
    bundle = tmp_path / "openshift.yaml"
    bundle.write_text(out)
    return bundle, host, [doc for doc in yaml.safe_load_all(out) if doc]


def deploy(kubectl, namespace: str, bundle, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(SCRIPT), "-n", namespace, "--bundle", str(bundle),
                             "--client", kubectl.binary, "--interval", "1", "--timeout", "240", *extra],
                            capture_output=True, text=True, timeout=300,
                            env=cluster_env({"KUBECONFIG": str(kubectl.kubeconfig)}), stdin=subprocess.DEVNULL)
    print(f"\n[e2e] deploy-openshift {' '.join(extra)} -> exit {result.returncode}\n{result.stdout}{result.stderr}",
          flush=True)
    return result


def created(kubectl, namespace: str) -> list[str]:
    return kubectl("get", "deployment,service,pvc,networkpolicy,route,secret", "-n", namespace, "-o", "name").stdout.split()


def quota(kubectl, namespace: str, gpus: int) -> None:
    kubectl.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "ResourceQuota",
                                  "metadata": {"name": "llm-quota", "namespace": namespace},
                                  "spec": {"hard": {"requests.nvidia.com/gpu": str(gpus), "requests.storage": "10Gi"}}}))


def test_deploy_openshift_plans_refuses_and_deploys_with_kubectl(cluster, kubectl, namespace, mock_engine_image,
                                                                 fake_gpus, tmp_path):
    install_route_crd(kubectl)
    bundle, host, objects = render_bundle(tmp_path, namespace)

    # --dry-run: read-only checks against the real cluster, then the plan in apply order; nothing created.
    plan = deploy(kubectl, namespace, bundle, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert ">> logged in as kubernetes-admin" in plan.stdout
    assert f">> would create Secret {API_KEY_SECRET} with a random API key" in plan.stdout
    listed = [line.strip() for line in plan.stdout.splitlines() if line.startswith("     ")]
    assert listed == [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    assert ">> dry run: nothing applied" in plan.stdout
    assert created(kubectl, namespace) == []

    # A quota without room for the engine's GPU: refused before anything is applied, naming the quota.
    quota(kubectl, namespace, gpus=0)
    refused = deploy(kubectl, namespace, bundle)
    assert refused.returncode == 1
    assert "ResourceQuota llm-quota: requests.nvidia.com/gpu would reach 1 of 0" in refused.stderr
    assert created(kubectl, namespace) == []

    # Room in the quota: applied, progress shown until ready, then the Route URL and a curl.
    quota(kubectl, namespace, gpus=1)
    done = deploy(kubectl, namespace, bundle)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.index(">> applied") < lines.index(
        ">> engine: loading the model (/health answers 503 until the weights are in)") < lines.index(
        ">> engine: ready (/health 200)")
    assert f"API: https://{host}/v1" in done.stdout
    assert f"curl https://{host}/v1/chat/completions" in done.stdout
    assert 'Authorization: Bearer $LLAMA_API_KEY' in done.stdout
    assert f"export LLAMA_API_KEY=$(kubectl get secret {API_KEY_SECRET} -n {namespace}" in done.stdout  # the client used
    key = kubectl("get", "secret", API_KEY_SECRET, "-n", namespace, "-o", "jsonpath={.data.LLAMA_API_KEY}").stdout
    assert len(key) > 40 and key not in done.stdout + done.stderr  # created from stdin, printed nowhere
    release = Release(name="lev", chart="llamacpp", namespace=namespace, kubectl=kubectl)
    pod = release.engine_pod()
    assert release.ready(pod) and release.restarts(pod) == 0
    assert release.get("routes.route.openshift.io", "lev-llamacpp")["spec"]["host"] == host
