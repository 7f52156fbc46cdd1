"""The offline kind node image's pure parts: pins -> names, the kind config it needs, kind's storage
manifest with our images, the CNI config; and the offline backend's wiring (without Docker)."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest
import yaml

from leviathan_e2e.backends import get_backend
from leviathan_e2e.backends.kind import KindBackend, render_kind_config
from leviathan_e2e.backends.kind_offline import NODE_IMAGE_ENV, OfflineKindBackend
from leviathan_e2e.kind_node import (POD_SUBNET, cache_key, cni_conflist, image_refs, kubeadm_image_patch,
                                     node_image_ref, pins, storage_manifest)
from leviathan_e2e.versions import read_versions


def test_every_pin_is_in_versions_env_and_in_the_cache_key():
    p = pins()
    assert p == {k: read_versions()[k] for k in p}
    key = cache_key(p)
    for value in p.values():
        assert value in key
    assert p["KIND_VERSION"] in node_image_ref(p) and p["K8S_VERSION"] in node_image_ref(p)


def test_control_plane_images_carry_kubeadms_names_at_our_pins():
    p = {"K8S_VERSION": "1.34.12", "ETCD_VERSION": "3.5.35", "COREDNS_VERSION": "1.14.7",
         "KIND_VERSION": "v0.33.0", "LOCAL_PATH_PROVISIONER_VERSION": "v0.0.30"}
    refs = image_refs(p)
    assert refs["kube-apiserver"] == "registry.k8s.io/kube-apiserver:v1.34.12"
    assert refs["kube-proxy"] == "registry.k8s.io/kube-proxy:v1.34.12"
    assert refs["etcd"] == "registry.k8s.io/etcd:3.5.35-0"
    assert refs["coredns"] == "registry.k8s.io/coredns/coredns:v1.14.7"
    assert refs["pause"] == "registry.k8s.io/pause:3.10.1"
    # kubeadm is told the etcd / CoreDNS tags the image holds (it would otherwise name its defaults)
    patch = yaml.safe_load(kubeadm_image_patch(p))
    assert patch == {"kind": "ClusterConfiguration", "etcd": {"local": {"imageTag": "3.5.35-0"}},
                     "dns": {"imageTag": "v1.14.7"}}
    assert refs["etcd"].endswith(":" + patch["etcd"]["local"]["imageTag"])
    assert refs["coredns"].endswith(":" + patch["dns"]["imageTag"])


def test_kind_config_pins_the_api_port_and_adds_the_kubeadm_patch():
    config = render_kind_config("c", "img:1", api_port=40123, kubeadm_patches=["kind: ClusterConfiguration\n"])
    assert config["networking"] == {"apiServerAddress": "127.0.0.1", "apiServerPort": 40123}
    assert config["kubeadmConfigPatches"] == ["kind: ClusterConfiguration\n"]
    assert "networking" not in render_kind_config("c", "img:1")


def test_storage_manifest_is_kinds_own_with_our_images(tmp_path):
    src = tmp_path / "pkg" / "build" / "nodeimage"
    src.mkdir(parents=True)
    (src / "const_storage.go").write_text(textwrap.dedent('''\
        package nodeimage
        const storageProvisionerImage = "docker.io/kindest/local-path-provisioner:v1"
        const defaultStorageManifest = `
        spec:
          image: ` + storageProvisionerImage + `
          args: [--helper-image, ` + storageHelperImage + `]
        `
        '''))
    refs = {"local-path-provisioner": "leviathan/lpp:v0.0.30", "local-path-helper": "leviathan/helper:bb"}
    manifest = storage_manifest(tmp_path, refs)
    assert "image: leviathan/lpp:v0.0.30" in manifest
    assert "--helper-image, leviathan/helper:bb" in manifest
    assert "`" not in manifest and "kindest" not in manifest


def test_cni_config_covers_the_pod_subnet_with_debians_plugins():
    conf = cni_conflist()
    bridge, portmap = conf["plugins"]
    assert bridge["type"] == "bridge" and portmap["type"] == "portmap"
    (subnet,), = bridge["ipam"]["ranges"]
    assert ipaddress.ip_network(subnet["subnet"]) == ipaddress.ip_network(POD_SUBNET)


def test_get_backend_kind_is_offline_here_unless_a_node_image_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(NODE_IMAGE_ENV, raising=False)
    offline = get_backend("kind", workdir=tmp_path)
    assert isinstance(offline, OfflineKindBackend) and offline.engine is not None
    assert offline.kubeadm_patches == (kubeadm_image_patch(),)
    monkeypatch.setenv(NODE_IMAGE_ENV, "example/node:v1")
    named = get_backend("kind", workdir=tmp_path)
    assert type(named) is KindBackend and named.node_image == "example/node:v1" and named.engine is None


@pytest.mark.parametrize("choice", ["upstream"])
def test_upstream_choice_keeps_kinds_pinned_image(monkeypatch, tmp_path, choice):
    from leviathan_e2e.backends.kind import KIND_NODE_IMAGE

    monkeypatch.setenv(NODE_IMAGE_ENV, choice)
    assert get_backend("kind", workdir=tmp_path).node_image == KIND_NODE_IMAGE


def test_storage_manifest_refuses_an_image_constant_it_does_not_know(tmp_path):
    src = tmp_path / "pkg" / "build" / "nodeimage"
    src.mkdir(parents=True)
    (src / "const_storage.go").write_text("const defaultStorageManifest = `\nimage: ` + someNewImage + `\n`\n")
    with pytest.raises(RuntimeError, match="changed shape"):
        storage_manifest(tmp_path, {"local-path-provisioner": "a:1", "local-path-helper": "b:1"})


def test_offline_cluster_drops_control_plane_cpu_requests(tmp_path, monkeypatch):
    from leviathan_e2e.backends.kind import NODE_PATCH_DIR
    from leviathan_e2e.backends.kind_offline import no_cpu_request_patches

    files = no_cpu_request_patches()
    assert set(files) == {f"{t}+strategic.yaml" for t in ("kube-apiserver", "kube-controller-manager",
                                                          "kube-scheduler", "etcd", "corednsdeployment")}
    api = yaml.safe_load(files["kube-apiserver+strategic.yaml"])
    assert api["spec"]["containers"] == [{"name": "kube-apiserver", "resources": {"requests": {"cpu": None}}}]
    dns = yaml.safe_load(files["corednsdeployment+strategic.yaml"])
    assert dns["spec"]["template"]["spec"]["containers"][0]["name"] == "coredns"
    config = render_kind_config("c", "img:1", patch_dir=tmp_path)
    node = config["nodes"][0]
    assert node["extraMounts"] == [{"hostPath": str(tmp_path), "containerPath": NODE_PATCH_DIR, "readOnly": True}]
    assert yaml.safe_load(node["kubeadmConfigPatches"][0]) == {"kind": "InitConfiguration",
                                                               "patches": {"directory": NODE_PATCH_DIR}}


def test_offline_plugin_daemonset_requests_no_cpu(tmp_path, monkeypatch):
    monkeypatch.delenv(NODE_IMAGE_ENV, raising=False)
    docs = list(yaml.safe_load_all(get_backend("kind", workdir=tmp_path).plugin_manifest()))
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    assert "cpu" not in container["resources"]["requests"] and container["resources"]["requests"]["memory"]
