"""Fast unit tests of the e2e harness pieces that need no cluster: versions, PKI,
image assembly, and the local backend's rendered configs."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
try:
    import leviathan_e2e  # noqa: F401
except ImportError:  # editable install made before e2e/leviathan_e2e existed
    sys.path.insert(0, str(ROOT / "e2e"))

from leviathan_e2e import images, versions  # noqa: E402
from leviathan_e2e.backends import hostpath_provisioner as hp  # noqa: E402
from leviathan_e2e.backends import local  # noqa: E402
from leviathan_e2e.backends.pki import PKI, cert_text, render_kubeconfig  # noqa: E402


# ----------------------------------------------------------------------------- versions

def test_versions_env_pins_and_matches_build_script():
    v = versions.read_versions()
    assert v["K8S_VERSION"].startswith("1.34.")
    assert v["ETCD_VERSION"].startswith("3.5.")
    assert v["COREDNS_VERSION"]
    out = subprocess.run([str(ROOT / "scripts" / "build-k8s"), "--print-dir"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == versions.bin_dir(v)
    out = subprocess.run([str(ROOT / "scripts" / "build-kube-router"), "--print-path"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == versions.kube_router_binary(v) and out.endswith(f"kube-router-v{v['KUBE_ROUTER_VERSION']}")


def test_versions_env_is_shell_sourceable():
    out = subprocess.run(["bash", "-c", f"set -eu; source {versions.VERSIONS_ENV}; echo $K8S_VERSION"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == versions.read_versions()["K8S_VERSION"]


# ----------------------------------------------------------------------------- PKI

def test_pki_issues_verifiable_certs_with_sans(tmp_path):
    pki = PKI(tmp_path / "pki")
    pki.make_ca()
    pair = pki.make_cert("apiserver", "kube-apiserver", server=True, client=False,
                         dns=["kubernetes.default.svc"], ips=["198.18.0.1", "198.19.0.1"])
    subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca.cert), str(pair.cert)],
                   check=True, capture_output=True)
    text = cert_text(pair.cert)
    assert "DNS:kubernetes.default.svc" in text
    assert "IP Address:198.18.0.1" in text and "IP Address:198.19.0.1" in text
    assert "TLS Web Server Authentication" in text
    assert "TLS Web Client Authentication" not in text
    client = pki.make_cert("admin", "kubernetes-admin", ["system:masters"])
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(client.cert)],
                          capture_output=True, text=True, check=True).stdout
    assert "O = system:masters" in subj and "CN = kubernetes-admin" in subj
    assert oct(client.key.stat().st_mode & 0o777) == "0o600"
    sa = pki.make_sa_keypair()
    assert b"PUBLIC KEY" in sa.cert.read_bytes()


def test_kubeconfig_is_self_contained(tmp_path):
    pki = PKI(tmp_path)
    pair = pki.make_cert("admin", "kubernetes-admin", ["system:masters"])
    cfg = json.loads(render_kubeconfig("https://198.18.0.1:6443", pki.ca.cert, pair.cert,
                                       pair.key, "admin"))
    assert cfg["clusters"][0]["cluster"]["server"] == "https://198.18.0.1:6443"
    assert cfg["users"][0]["user"]["client-key-data"]
    assert cfg["current-context"] == cfg["contexts"][0]["name"]


# ----------------------------------------------------------------------------- images

def _members(tar_path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar_path) as t:
        return {m.name: m for m in t.getmembers()}


def test_assemble_image_docker_archive_layout(tmp_path):
    host = tmp_path / "tool"
    host.write_bytes(b"#!/bin/sh\necho hi\n")
    host.chmod(0o755)
    out = images.assemble_image(
        "example.test/tool:1", {"/usr/bin/tool": host, "/etc/msg": b"hello",
                                "/etc/secret": (b"s", 0o600)},
        entrypoint=["/usr/bin/tool"], env={"A": "1"}, out_tar=tmp_path / "img.tar",
        symlinks={"/bin/t": "/usr/bin/tool"}, dirs={"/tmp": 0o1777}, user="1000")
    with tarfile.open(out.path) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        [entry] = manifest
        assert entry["RepoTags"] == ["example.test/tool:1"]
        config_raw = t.extractfile(entry["Config"]).read()
        layer_raw = t.extractfile(entry["Layers"][0]).read()
    config = json.loads(config_raw)
    assert out.image_id == "sha256:" + hashlib.sha256(config_raw).hexdigest()
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_raw).hexdigest()]
    assert config["config"]["Entrypoint"] == ["/usr/bin/tool"]
    assert "A=1" in config["config"]["Env"] and any(e.startswith("PATH=") for e in config["config"]["Env"])
    assert config["config"]["User"] == "1000"
    with tarfile.open(fileobj=io.BytesIO(layer_raw)) as layer:
        m = {x.name: x for x in layer.getmembers()}
        assert m["usr/bin/tool"].mode == 0o755 and m["usr"].isdir() and m["usr/bin"].isdir()
        assert m["etc/secret"].mode == 0o600
        assert m["bin/t"].issym() and m["bin/t"].linkname == "/usr/bin/tool"
        assert m["tmp"].mode == 0o1777
        assert layer.extractfile("etc/msg").read() == b"hello"
        assert all(x.uid == 0 and x.gid == 0 for x in m.values())


def test_assemble_image_is_reproducible(tmp_path):
    a = images.assemble_image("x/y:1", {"/f": b"1"}, out_tar=tmp_path / "a.tar")
    b = images.assemble_image("x/y:1", {"/f": b"1"}, out_tar=tmp_path / "b.tar")
    assert a.image_id == b.image_id
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


@pytest.mark.parametrize("ref", ["x/y", "x/y:latest", "registry:5000/x", "x@sha256:abc"])
def test_assemble_image_rejects_pulling_refs(tmp_path, ref):
    with pytest.raises(ValueError):
        images.assemble_image(ref, {"/f": b"1"}, out_tar=tmp_path / "a.tar")


def test_assemble_image_rejects_escaping_paths(tmp_path):
    with pytest.raises(ValueError):
        images.assemble_image("x/y:1", {"/../etc/passwd": b"1"}, out_tar=tmp_path / "a.tar")


@pytest.mark.skipif(not images.CATATONIT.exists(), reason="catatonit not installed")
def test_pause_image_is_catatonit_pause_mode(tmp_path):
    out = images.pause_image(tmp_path / "pause.tar")
    assert out.ref == images.PAUSE_IMAGE
    with tarfile.open(out.path) as t:
        entry = json.load(t.extractfile("manifest.json"))[0]
        cfg = json.load(t.extractfile(entry["Config"]))
    assert cfg["config"]["Entrypoint"] == ["/catatonit", "-P"]


@pytest.mark.skipif(not images.BUSYBOX_STATIC.exists(), reason="busybox-static not installed")
def test_busybox_image_has_applets(tmp_path):
    out = images.busybox_image("x/bb:1", tmp_path / "bb.tar", files={"/www/health": b"ok\n"})
    with tarfile.open(out.path) as t:
        entry = json.load(t.extractfile("manifest.json"))[0]
        layer = tarfile.open(fileobj=t.extractfile(entry["Layers"][0]))
        names = set(layer.getnames())
    assert {"bin/busybox", "bin/sh", "www/health", "tmp"} <= names
    assert any(n.endswith("/httpd") for n in names)


# ----------------------------------------------------------------------------- local backend

@pytest.fixture
def cfg(tmp_path) -> local.LocalConfig:
    return local.LocalConfig(name="unit", run_dir=tmp_path / "run", bin_dir=tmp_path / "bin")


def test_local_config_addresses(cfg):
    assert cfg.node_ip == "198.18.0.1"
    assert cfg.kubernetes_service_ip == "198.19.0.1"
    assert cfg.cgroup_root == "/leviathan-e2e-unit"
    with pytest.raises(ValueError):
        local.LocalConfig(bridge="a-very-long-bridge-name")


def test_containerd_config_is_private_and_has_nvidia_handler(cfg):
    text = local.render_containerd_config(cfg)
    doc = tomllib.loads(text)
    assert doc["version"] == 2
    run = str(cfg.run_dir)
    assert doc["root"].startswith(run) and doc["state"].startswith(run)
    assert doc["grpc"]["address"].startswith(run)
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == images.PAUSE_IMAGE
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni" and cri["cni"]["conf_dir"].startswith(run)
    runtimes = cri["containerd"]["runtimes"]
    for name in ("runc", "nvidia"):
        assert runtimes[name]["runtime_type"] == "io.containerd.runc.v2"
        assert runtimes[name]["options"]["SystemdCgroup"] is False
        assert runtimes[name]["options"]["Root"].startswith(run)
    assert "/etc/" not in text and "/var/lib/containerd" not in text


def test_kubelet_config_never_uses_host_resolver(cfg, tmp_path):
    c = local.render_kubelet_config(cfg, tmp_path / "pki", dns=True)
    assert c["resolvConf"].startswith(str(cfg.run_dir))
    assert c["clusterDNS"] == ["198.18.0.1"]
    assert c["cgroupDriver"] == "cgroupfs" and c["failCgroupV1"] is False
    assert c["authentication"]["anonymous"]["enabled"] is False
    assert c["authorization"]["mode"] == "Webhook"
    assert c["readOnlyPort"] == 0
    assert local.render_kubelet_config(cfg, tmp_path, dns=False)["clusterDNS"] == []


def test_cni_conflist_no_masquerade(cfg):
    c = local.render_cni_conflist(cfg)
    bridge = c["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] is False
    assert bridge["bridge"] == cfg.bridge
    assert bridge["ipam"]["ranges"] == [[{"subnet": "198.18.0.0/24", "gateway": "198.18.0.1"}]]
    assert bridge["ipam"]["dataDir"].startswith(str(cfg.run_dir))


def test_corefile_has_no_forwarding(cfg):
    text = local.render_corefile(cfg, Path("/run/x/coredns.kubeconfig"))
    assert "forward" not in text and "resolv.conf" not in text
    assert "bind 198.18.0.1" in text and "kubernetes cluster.local" in text


def test_kube_proxy_config_leaves_host_conntrack_alone(cfg, tmp_path):
    c = local.render_kube_proxy_config(cfg, tmp_path / "kc")
    assert c["mode"] == "iptables" and c["clusterCIDR"] == cfg.pod_cidr
    assert c["conntrack"]["maxPerCore"] == 0
    assert c["iptables"]["localhostNodePorts"] is False


def test_kube_router_runs_only_its_policy_controller_with_flags_it_has(cfg, tmp_path):
    """Every flag is one the pinned binary's own --help lists (built, or reused, by the script)."""
    args = local.render_kube_router_args(cfg, tmp_path / "kc")
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(args)
    assert f"--service-cluster-ip-range={cfg.service_cidr}" in args and f"--hostname-override={cfg.node_name}" in args
    build = subprocess.run([str(ROOT / "scripts" / "build-kube-router")], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    helped = subprocess.run([str(versions.kube_router_binary()), "--help"], capture_output=True, text=True)
    usage = helped.stdout + helped.stderr  # pflag prints the usage on stderr
    listed = {word.rstrip(",") for line in usage.splitlines() for word in line.split() if word.startswith("--")}
    assert {arg.split("=", 1)[0] for arg in args} <= listed, sorted(listed)


def test_preflight_names_a_missing_kube_router(tmp_path):
    cfg = local.LocalConfig(name="unit", run_dir=tmp_path / "run", bin_dir=tmp_path / "bin",
                            kubelet_root=tmp_path / "kubelet", kube_router=tmp_path / "no-kube-router")
    assert any("scripts/build-kube-router" in p for p in local.LocalBackend(cfg).preflight())
    off = local.LocalConfig(name="unit", run_dir=tmp_path / "run", bin_dir=tmp_path / "bin",
                            kubelet_root=tmp_path / "kubelet", kube_router=tmp_path / "no-kube-router",
                            network_policy=False)
    assert not any("kube-router" in p for p in local.LocalBackend(off).preflight())


def test_guard_rules_drop_everything_but_test_net(cfg):
    rules = [" ".join([b, *a]) for b, a in local.guard_rules(cfg)]
    assert f"iptables -t raw -A {local.CHAIN_RAW} -d 198.18.0.0/15 -j RETURN" in rules
    assert f"iptables -t raw -A {local.CHAIN_RAW} -j DROP" in rules
    assert f"iptables -t raw -I PREROUTING 1 -i {cfg.bridge} -j {local.CHAIN_RAW}" in rules
    assert f"ip6tables -t raw -A {local.CHAIN_RAW} -j DROP" in rules


def test_every_network_side_of_the_cluster_is_inside_its_own_namespace(cfg, tmp_path):
    """The netns is bound under the run dir (unmounting the run dir frees it), and components are
    started through nsenter into it: nothing of the cluster's network lands on the host."""
    assert local.LocalConfig(name="unit").netns_file == Path("/tmp/leviathan-e2e-unit/netns/cluster")
    backend = local.LocalBackend(cfg)
    assert backend.netns_command(["iptables-save"]) == [
        "nsenter", f"--net={cfg.run_dir}/netns/cluster", "--", "iptables-save"]
    assert backend.supervisor.command(["kubelet"], netns=cfg.netns_file)[:2] == [
        "nsenter", f"--net={cfg.netns_file}"]
    # the host side reaches the apiserver on a loopback port; components use the node IP
    backend._state.relay_port = 41234
    assert backend.server == "https://127.0.0.1:41234"
    assert cfg.internal_server == "https://198.18.0.1:6443"


def test_probe_address_is_outside_the_guard(cfg):
    import ipaddress

    assert ipaddress.ip_address(local.PROBE_IP) not in ipaddress.ip_network(cfg.guard_cidr)


def test_cluster_env_never_carries_a_proxy(monkeypatch):
    from leviathan_e2e.supervisor import cluster_env

    for var in ("HTTP_PROXY", "https_proxy", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://proxy.invalid:3128")
    monkeypatch.setenv("KEEP_ME", "1")
    env = cluster_env({"EXTRA": "x"})
    assert not any("proxy" in k.lower() for k in env) and env["KEEP_ME"] == "1" and env["EXTRA"] == "x"
    # containerd gets a deliberate (closed-port) proxy: extra wins
    assert cluster_env({"HTTP_PROXY": "http://127.0.0.1:9"})["HTTP_PROXY"] == "http://127.0.0.1:9"


def test_kubectl_runs_without_the_callers_proxy(monkeypatch, tmp_path):
    from leviathan_e2e.backends.base import Kubectl

    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\nenv\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    out = Kubectl(tmp_path / "kc", binary=str(fake))("version").stdout
    assert "proxy.invalid" not in out and "KUBECONFIG" not in out.split("=")[0]


def test_kubectl_output_that_is_not_utf8_does_not_crash_the_caller(tmp_path):
    """`kubectl logs` of an engine can carry raw token bytes; the diagnostics must still be read."""
    from leviathan_e2e.backends.base import Kubectl

    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\nprintf 'piece \\377\\376 done'\n")
    fake.chmod(0o755)
    assert Kubectl(tmp_path / "kc", binary=str(fake))("logs", "pod").stdout == "piece \ufffd\ufffd done"


def test_supervisor_records_before_waiting_and_a_fresh_one_stops_it(tmp_path, monkeypatch):
    """A run killed right after starting a process leaves a record another process can act on."""
    from leviathan_e2e.supervisor import Supervisor, alive

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    first = Supervisor(tmp_path / "processes.json", tmp_path / "logs")
    first.spawn("sleeper", ["sh", "-c", "env; exec sleep 60"])
    pid, start = json.loads((tmp_path / "processes.json").read_text())["sleeper"]
    assert alive(pid, start)
    second = Supervisor(tmp_path / "processes.json", tmp_path / "logs")  # e.g. `... local down`
    second.stop_all()
    first._reap("sleeper")
    assert not alive(pid, start)
    assert json.loads((tmp_path / "processes.json").read_text()) == {}
    assert "proxy.invalid" not in (tmp_path / "logs" / "sleeper.log").read_text()


def test_sweep_finds_unrecorded_processes_that_name_the_run_dir(tmp_path):
    from leviathan_e2e.backends.local.host import processes_of_run

    run_dir = tmp_path / "leviathan-e2e-sweep"
    proc = subprocess.Popen(["sh", "-c", "sleep 60", f"{run_dir}/marker"])
    try:
        # Until the child has exec'd sh, /proc/<pid>/cmdline is still pytest's: wait for the exec.
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        for _ in range(200):
            if str(run_dir).encode() in cmdline.read_bytes():
                break
            time.sleep(0.01)
        found = processes_of_run(None, [f"{run_dir}/"])
        assert proc.pid in found
        # a sibling run's dir is not ours
        assert proc.pid not in processes_of_run(None, [f"{tmp_path / 'leviathan-e2e-swee'}/"])
    finally:
        proc.kill()
        proc.wait()


def test_hostpath_pv_prebinds_claim(tmp_path):
    pvc = {"metadata": {"name": "data", "namespace": "ns1", "uid": "1234-5678"},
           "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "2Gi"}},
                    "storageClassName": hp.STORAGE_CLASS},
           "status": {"phase": "Pending"}}
    assert hp._wants_us(pvc, hp.STORAGE_CLASS, hp.PROVISIONER)
    pv = hp.pv_for_claim(pvc, tmp_path / "d", hp.STORAGE_CLASS, hp.PROVISIONER)
    assert pv["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "namespace": "ns1", "name": "data", "uid": "1234-5678"}
    assert pv["spec"]["capacity"] == {"storage": "2Gi"}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    other = json.loads(json.dumps(pvc))
    other["spec"]["storageClassName"] = ""
    assert not hp._wants_us(other, hp.STORAGE_CLASS, hp.PROVISIONER)
    sc = hp.storage_class_manifest()
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
