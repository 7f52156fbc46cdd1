"""The kind backend's node image, built here offline from the pins in ``e2e/versions.env``.

``kind build node-image`` cannot run offline: for every image that is not in a Kubernetes release
tarball (etcd, CoreDNS, pause, kindnetd, the local-path provisioner) it runs ``ctr content fetch``,
which resolves the name at its registry even when the content is present. So this module does what
kind's ``buildImage`` does (sigs.k8s.io/kind pkg/build/nodeimage/buildcontext.go), with local inputs:

1. **Base image**: ``mmdebstrap`` of Debian bookworm with the packages of kind's base Dockerfile
   (systemd, containerd, runc, CNI plugins, iptables, mount tools, ...), customized by
   ``images/kind-node/base-customize.sh`` with kind's ``images/base/files`` from the pinned kind
   module, imported with kind's ENV/STOPSIGNAL/ENTRYPOINT.
2. **Images**: kube-apiserver, -controller-manager, -scheduler, etcd, CoreDNS (the binaries of
   ``scripts/build-k8s``), pause (Debian's catatonit), the local-path provisioner and its helper
   (busybox) as one-layer archives (:mod:`leviathan_e2e.images`); kube-proxy on the base image,
   which has the iptables it execs. Each carries the name kubeadm / the manifests use.
3. **Node**: a container of the base image gets kubeadm/kubelet/kubectl in ``/usr/bin``,
   ``/kind/version``, ``/kind/manifests/default-{cni,storage}.yaml``, a bridge CNI config; its
   containerd imports the archives (pinned, as kind does); ``docker commit`` makes the node image.

Differences from a kind-built node image are listed in e2e/README-kind.md. The result is saved as a
``docker save`` archive under ``~/.cache/leviathan/kind/<key>/`` (key: every pin), so a fresh Docker
data root gets it back with one ``docker load``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leviathan import tools

from .docker_engine import DockerEngine
from .images import assemble_image, busybox_image, pause_image
from .versions import bin_dir, read_versions

REPO = Path(__file__).resolve().parents[2]
CACHE = tools.CACHE / "kind"
#: Bump when the recipe below changes what ends up in the image (part of the cache key).
RECIPE = 2
#: Debian packages of kind's base Dockerfile (`clean-install` line), minus nfs/iscsi/fuse-overlayfs
#: (network storage and rootless, unused here), plus Debian's containerd, runc and CNI plugins that
#: kind builds from source.
BASE_PACKAGES = (
    "systemd", "dbus", "conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount",
    "kmod", "libseccomp2", "e2fsprogs", "bash", "ca-certificates", "curl", "jq", "procps", "socat",
    "containerd", "runc", "containernetworking-plugins",
)
POD_SUBNET = "10.244.0.0/16"  # kind's default podSubnet (IPv4)


def pins() -> dict[str, str]:
    v = read_versions()
    return {k: v[k] for k in ("K8S_VERSION", "ETCD_VERSION", "COREDNS_VERSION", "KIND_VERSION",
                              "LOCAL_PATH_PROVISIONER_VERSION")}


def cache_key(p: dict[str, str] | None = None) -> str:
    p = p or pins()
    return (f"k8s{p['K8S_VERSION']}-etcd{p['ETCD_VERSION']}-coredns{p['COREDNS_VERSION']}-kind{p['KIND_VERSION']}"
            f"-lpp{p['LOCAL_PATH_PROVISIONER_VERSION']}-r{RECIPE}")


def node_image_ref(p: dict[str, str] | None = None) -> str:
    p = p or pins()
    return f"leviathan/kind-node:v{p['K8S_VERSION']}-kind{p['KIND_VERSION']}-r{RECIPE}"


def image_refs(p: dict[str, str] | None = None) -> dict[str, str]:
    """Name of every image preloaded in the node: kubeadm's for the control plane (etcd and CoreDNS
    at our pins, which :func:`kubeadm_image_patch` tells kubeadm), ours for the storage driver."""
    p = p or pins()
    k8s = f"v{p['K8S_VERSION']}"
    return {
        "kube-apiserver": f"registry.k8s.io/kube-apiserver:{k8s}",
        "kube-controller-manager": f"registry.k8s.io/kube-controller-manager:{k8s}",
        "kube-scheduler": f"registry.k8s.io/kube-scheduler:{k8s}",
        "kube-proxy": f"registry.k8s.io/kube-proxy:{k8s}",
        "etcd": f"registry.k8s.io/etcd:{p['ETCD_VERSION']}-0",
        "coredns": f"registry.k8s.io/coredns/coredns:v{p['COREDNS_VERSION']}",
        "pause": "registry.k8s.io/pause:3.10.1",
        "local-path-provisioner": f"leviathan/local-path-provisioner:{p['LOCAL_PATH_PROVISIONER_VERSION']}",
        "local-path-helper": "leviathan/local-path-helper:busybox",
    }


def kubeadm_image_patch(p: dict[str, str] | None = None) -> str:
    """kind ``kubeadmConfigPatches`` entry: etcd and CoreDNS at the tags this image preloads."""
    p = p or pins()
    return ("kind: ClusterConfiguration\n"
            f"etcd:\n  local:\n    imageTag: {p['ETCD_VERSION']}-0\n"
            f"dns:\n  imageTag: v{p['COREDNS_VERSION']}\n")


def cni_conflist() -> dict:
    """The node's CNI config (kind's kindnetd would write one like it): Debian's bridge plugin,
    host-local IPAM over the pod subnet, portmap. Single node: no routes to other nodes needed."""
    return {
        "cniVersion": "1.0.0",
        "name": "leviathan-kind",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


DEFAULT_CNI_MANIFEST = """\
# kind applies this after kubeadm init. kindnetd is not built here (its Go module is not on
# proxy.golang.org); the node image carries a static bridge CNI config instead
# (/etc/cni/net.d/10-leviathan-kind.conflist), so there is nothing to run. This records that.
apiVersion: v1
kind: ConfigMap
metadata:
  name: leviathan-kind-cni
  namespace: kube-system
data:
  cni: bridge (static, /etc/cni/net.d/10-leviathan-kind.conflist)
  podSubnet: "{{ .PodSubnet }}"
"""


def storage_manifest(kind_dir: Path, refs: dict[str, str]) -> str:
    """kind's own default-storage manifest (pkg/build/nodeimage/const_storage.go of the pinned
    module), with our provisioner and helper images."""
    src = (kind_dir / "pkg" / "build" / "nodeimage" / "const_storage.go").read_text()
    body = src.split("const defaultStorageManifest = `", 1)[1]
    body = body.replace("` + storageProvisionerImage + `", refs["local-path-provisioner"])
    body = body.replace("` + storageHelperImage + `", refs["local-path-helper"])
    manifest, _, rest = body.partition("`")
    if not rest.startswith("\n"):  # the raw string goes on: a constant we did not replace
        raise RuntimeError(f"kind's storage manifest changed shape near: {rest[:80]!r}")
    return manifest


# ---------------------------------------------------------------------------------------- steps
def log(msg: str) -> None:
    print(f"[build-kind-node] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def go_env(p: dict[str, str]) -> dict[str, str]:
    k8s_cache = Path(os.environ.get("LEVIATHAN_K8S_CACHE", CACHE.parent / "k8s"))
    env = dict(os.environ, GOTOOLCHAIN="local", CGO_ENABLED="0", GOFLAGS="-trimpath -buildvcs=false",
               GOMODCACHE=str(k8s_cache / "gomod"), GOCACHE=str(k8s_cache / "gocache"))
    env.setdefault("GOPROXY", "https://proxy.golang.org")
    return env


def go_install(module: str, version: str, out_dir: Path, binary: str, p: dict[str, str]) -> Path:
    """``go install module@version`` into *out_dir* (cached: skipped when the binary is there)."""
    target = out_dir / binary
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"go install {module}@{version}")
    subprocess.run(["nice", "-n", "10", "go", "install", f"{module}@{version}"], check=True,
                   env=dict(go_env(p), GOBIN=str(out_dir)), cwd=tempfile.gettempdir())
    return target


def kind_binary(p: dict[str, str] | None = None) -> Path:
    p = p or pins()
    return go_install("sigs.k8s.io/kind", p["KIND_VERSION"], CACHE / f"bin-{p['KIND_VERSION']}", "kind", p)


def module_dir(module: str, version: str, p: dict[str, str]) -> Path:
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], check=True,
                         capture_output=True, text=True, env=go_env(p), cwd=tempfile.gettempdir()).stdout
    return Path(json.loads(out)["Dir"])


def build_base(out: Path, kind_dir: Path) -> None:
    log(f"mmdebstrap bookworm ({len(BASE_PACKAGES)} packages) -> {out}")
    tmp = out.with_name("partial-" + out.name)  # mmdebstrap picks the format by the extension
    subprocess.run(
        ["nice", "-n", "10", "mmdebstrap", "--variant=essential", "--include=" + ",".join(BASE_PACKAGES),
         "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
         "--dpkgopt=path-exclude=/usr/share/locale/*",
         f"--customize-hook={REPO / 'images' / 'kind-node' / 'base-customize.sh'} \"$1\" "
         f"{kind_dir / 'images' / 'base' / 'files'}",
         "bookworm", str(tmp)], check=True)
    tmp.replace(out)


def build_images(work: Path, p: dict[str, str], base_ref: str, engine: DockerEngine) -> list[Path]:
    """Every preloaded image as a docker-archive in *work*; returns their paths."""
    refs, bins = image_refs(p), bin_dir()
    lpp = go_install("github.com/rancher/local-path-provisioner", p["LOCAL_PATH_PROVISIONER_VERSION"],
                     CACHE / f"lpp-{p['LOCAL_PATH_PROVISIONER_VERSION']}", "local-path-provisioner", p)
    out = []
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        out.append(assemble_image(refs[name], {f"/usr/local/bin/{name}": bins / name},
                                  out_tar=work / f"{name}.tar").path)
    out.append(assemble_image(refs["coredns"], {"/coredns": bins / "coredns"}, entrypoint=["/coredns"],
                              out_tar=work / "coredns.tar").path)
    out.append(pause_image(work / "pause.tar", ref=refs["pause"]).path)
    out.append(assemble_image(refs["local-path-provisioner"], {"/usr/local/bin/local-path-provisioner": lpp},
                              out_tar=work / "local-path-provisioner.tar").path)
    out.append(busybox_image(refs["local-path-helper"], work / "local-path-helper.tar").path)
    # kube-proxy execs iptables-restore & co.: the base image has Debian's (the node's own).
    ctx = work / "kube-proxy-ctx"
    ctx.mkdir(exist_ok=True)
    shutil.copy2(bins / "kube-proxy", ctx / "kube-proxy")
    (ctx / "Dockerfile").write_text(f"FROM {base_ref}\nCOPY kube-proxy /usr/local/bin/kube-proxy\n"
                                    'ENTRYPOINT ["/usr/local/bin/kube-proxy"]\n')
    engine.docker("build", "-q", "-t", refs["kube-proxy"], str(ctx), timeout=600)
    engine.docker("save", "-o", str(work / "kube-proxy.tar"), refs["kube-proxy"], timeout=600)
    out.append(work / "kube-proxy.tar")
    return out


def build_node(engine: DockerEngine, p: dict[str, str], base_ref: str, archives: list[Path],
               kind_dir: Path, work: Path) -> str:
    k8s_bins = bin_dir()
    ref = node_image_ref(p)
    cid = engine.docker("run", "-d", "--entrypoint=sleep", "--security-opt", "seccomp=unconfined",
                        base_ref, "infinity").stdout.strip()
    try:
        def sh(script: str, input: bytes | None = None) -> None:
            engine.docker("exec", "-i", cid, "bash", "-euc", script, input=input, timeout=600)

        for binary in ("kubeadm", "kubelet", "kubectl"):
            engine.docker("cp", str(k8s_bins / binary), f"{cid}:/usr/bin/{binary}")
        sh("chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl; chown root:root /usr/bin/kube*")
        files = {"/kind/version": f"v{p['K8S_VERSION']}",
                 "/kind/manifests/default-cni.yaml": DEFAULT_CNI_MANIFEST,
                 "/kind/manifests/default-storage.yaml": storage_manifest(kind_dir, image_refs(p)),
                 "/etc/cni/net.d/10-leviathan-kind.conflist": json.dumps(cni_conflist(), indent=2) + "\n"}
        for path, text in files.items():
            sh(f"mkdir -p $(dirname {path}); cat > {path}", input=text.encode())
        sh("nohup containerd > /dev/null 2>&1 & for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && "
           "ctr version > /dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")
        for archive in archives:
            log(f"import {archive.name}")
            sh("ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms "
               "--no-unpack --digests -", input=archive.read_bytes())
        listed = engine.docker("exec", cid, "ctr", "--namespace=k8s.io", "images", "list", "-q").stdout.split()
        missing = [r for r in image_refs(p).values() if r not in listed and f"docker.io/{r}" not in listed]
        if missing:
            raise RuntimeError(f"not in the node's containerd after import: {missing}")
        sh("pkill containerd; for i in $(seq 50); do pgrep -x containerd > /dev/null || exit 0; sleep 0.2; done")
        engine.docker("commit", "--change", 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
                      cid, ref, timeout=900)
    finally:
        engine.docker("rm", "-f", "-v", cid, check=False)
    return ref


def ensure_node_image(engine: DockerEngine) -> str:
    """The node image in *engine*: loaded from the cache, or built (and cached) first."""
    p = pins()
    ref = node_image_ref(p)
    if engine.docker("image", "inspect", ref, check=False).returncode == 0:
        return ref
    d = CACHE / cache_key(p)
    node_tar = d / "node.tar"
    if not node_tar.is_file():
        build_all(engine, p, d)
    log(f"docker load {node_tar}")
    engine.docker("load", "-i", str(node_tar), timeout=900)
    return ref


def build_all(engine: DockerEngine, p: dict[str, str], d: Path) -> None:
    t0 = time.monotonic()
    d.mkdir(parents=True, exist_ok=True)
    kind_binary(p)
    subprocess.run([str(REPO / "scripts" / "build-k8s")], check=True, env=dict(os.environ, BUILD_COMPONENTS="etcd k8s coredns kubeadm"))
    kind_dir = module_dir("sigs.k8s.io/kind", p["KIND_VERSION"], p)
    base_tar = d / "base.tar"
    if not base_tar.is_file():
        build_base(base_tar, kind_dir)
    base_ref = f"leviathan/kind-base:{cache_key(p)}"
    if engine.docker("image", "inspect", base_ref, check=False).returncode != 0:
        log("docker import base.tar")
        engine.docker("import", str(base_tar), f"{base_ref}-rootfs", timeout=900)
        # kind's base image metadata (`docker import --change` of Docker 20.10 refuses STOPSIGNAL):
        # systemd checks `container`, and exits on SIGRTMIN+3 where SIGTERM would re-execute it.
        ctx = d / "base-ctx"
        ctx.mkdir(exist_ok=True)
        (ctx / "Dockerfile").write_text(f"FROM {base_ref}-rootfs\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\n"
                                        'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]\n')
        engine.docker("build", "-q", "-t", base_ref, str(ctx), timeout=600)
    work = d / "images"
    work.mkdir(exist_ok=True)
    archives = build_images(work, p, base_ref, engine)
    ref = build_node(engine, p, base_ref, archives, kind_dir, work)
    log(f"docker save {ref}")
    tmp = d / "node.tar.tmp"
    engine.docker("save", "-o", str(tmp), ref, timeout=900)
    tmp.replace(d / "node.tar")
    shutil.rmtree(work)
    log(f"built {ref} in {time.monotonic() - t0:.0f}s -> {d / 'node.tar'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="build (or load from the cache) the kind node image")
    ap.add_argument("--print-ref", action="store_true", help="print the node image reference and exit")
    ap.add_argument("--print-kind", action="store_true", help="build kind if needed, print its path, exit")
    args = ap.parse_args(argv)
    if args.print_ref:
        print(node_image_ref())
        return 0
    if args.print_kind:
        print(kind_binary())
        return 0
    kind_binary()
    if (CACHE / cache_key() / "node.tar").is_file():
        print(node_image_ref())  # cached: the e2e run's own engine loads it
        return 0
    engine = DockerEngine()
    started = not engine.running()
    engine.start()
    try:
        print(ensure_node_image(engine))
    finally:
        if started:
            engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
