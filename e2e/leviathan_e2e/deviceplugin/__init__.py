"""Fake NVIDIA GPUs for the e2e cluster: a kubelet device plugin (v1beta1, grpcio)
plus GPU-feature-discovery-style node labels.

One design for both backends:

* ``local``: the e2e fixture starts it as a host process::

      python -m leviathan_e2e.deviceplugin --count 4 --product NVIDIA-RTX-PRO-6000 \\
          --plugin-dir /var/lib/kubelet/device-plugins --node-name NODE --kubeconfig KUBECONFIG

* ``kind``: the same module runs as a DaemonSet (:func:`manifests.daemonset_manifest`,
  image ``images/fake-gpu-plugin/Dockerfile``), labelling its node with the
  in-cluster service account.
"""

from .host import HostPlugin
from .labels import ApiClient, gpu_labels
from .plugin import FakeGpuPlugin, PluginConfig, fake_gpu_uuids

__all__ = ["ApiClient", "FakeGpuPlugin", "HostPlugin", "PluginConfig", "fake_gpu_uuids", "gpu_labels"]
