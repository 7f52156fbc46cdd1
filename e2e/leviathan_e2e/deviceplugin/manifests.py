"""Kubernetes objects that run the fake GPU plugin in-cluster (kind backend).

The DaemonSet runs ``python -m leviathan_e2e.deviceplugin`` on every node,
with the kubelet's device-plugin directory mounted from the host, and a service
account allowed to patch Nodes (for the GPU-feature-discovery-style labels).
"""

from __future__ import annotations

import yaml

NAMESPACE = "kube-system"
NAME = "leviathan-fake-gpu-plugin"


def daemonset_objects(image: str, count: int, product: str, memory_mib: int | None = None,
                      plugin_dir: str = "/var/lib/kubelet/device-plugins") -> list[dict]:
    """ServiceAccount, ClusterRole(+Binding) and DaemonSet, as dicts."""
    labels = {"app.kubernetes.io/name": NAME}
    args = ["--count", str(count), "--product", product, "--plugin-dir", plugin_dir]
    if memory_mib is not None:
        args += ["--memory-mib", str(memory_mib)]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": NAME},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": NAME},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": NAME,
                        # Like the real NVIDIA plugin: must run before GPU pods can be admitted.
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [{
                            "name": "plugin",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",  # loaded with `kind load`, never pulled
                            "args": args,
                            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                            # Root: the kubelet's device-plugins hostPath is root-owned; no other privilege.
                            "securityContext": {
                                "runAsUser": 0, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                            },
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                          "limits": {"memory": "128Mi"}},
                            "volumeMounts": [{"name": "device-plugins", "mountPath": plugin_dir}],
                        }],
                        "volumes": [{"name": "device-plugins", "hostPath": {"path": plugin_dir, "type": "Directory"}}],
                    },
                },
            },
        },
    ]


def daemonset_manifest(image: str, count: int, product: str, memory_mib: int | None = None) -> str:
    """The same objects as one multi-document YAML for ``kubectl apply -f -``."""
    return yaml.safe_dump_all(daemonset_objects(image, count, product, memory_mib), sort_keys=False)
