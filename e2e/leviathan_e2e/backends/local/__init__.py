"""``local`` backend: a real single-node cluster on this host, inside its own network namespace.
See backend.py and e2e/README.md."""

from .backend import LocalBackend
from .config import CHAIN_FWD, CHAIN_RAW, PROBE_IP, LocalConfig
from .render import (guard_rules, render_cni_conflist, render_containerd_config, render_corefile,
                     render_kube_proxy_config, render_kube_router_args, render_kubelet_config)

__all__ = ["LocalBackend", "LocalConfig", "CHAIN_RAW", "CHAIN_FWD", "PROBE_IP", "guard_rules",
           "render_cni_conflist", "render_containerd_config", "render_corefile",
           "render_kube_proxy_config", "render_kube_router_args", "render_kubelet_config"]
