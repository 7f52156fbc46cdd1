"""Chart `vllm`: DeepSeek-R1-Distill-Llama-70B W4A16 (compressed-tensors, Marlin kernels) on vLLM.

    helm install trojan-horse charts/vllm -f charts/vllm/profiles/trojan-horse.yaml
"""

from __future__ import annotations

from constructs import Construct

from .. import versions
from ..engines import flag_manifest, vllm
from ..config.shape import ValuesShape
from ..helm.chart import ChartInfo, HelmChart, chart_shape
from ..helm.holes import Expr, If, Kind, Tpl
from ..k8s import storage
from ..k8s.probes import HealthPaths
from ..k8s.secrets import secret_env
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment

NAME = "vllm"
VERSION = "0.1.0"


class VllmChart(HelmChart):
    def __init__(self, scope: Construct, values: ValuesShape | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=versions.image("vllm").app_version,
            description="A 70B W4A16 model on vLLM with an HF cache volume and size-derived startup budget",
            keywords=("llm", "vllm", "deepseek", "w4a16", "openai"),
            # `helm install vllm charts/vllm` must not create a Service named "vllm" (see README_NOTES).
            service_suffix="-api",
        )
        super().__init__(scope, info, values or chart_shape(NAME))
        v = self.v
        gpus = v.gpus
        pinned = gpus.visible_devices.truthy()
        storage.add_model_storage(self)
        engine_args = vllm.args(v)
        # The positional model is vLLM's --model: a second one in extraArgs would replace it.
        flag_manifest.add_extra_args_check(self, NAME, engine_args, also={"model": "model.id"})
        add_engine_deployment(self, EngineContainer(
            command=vllm.command(),
            args=engine_args,
            env=[
                {"name": "HF_HOME", "value": Tpl(f'printf "%s/huggingface" {v.storage.mount_path.go}')},
                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                If(pinned, [{"name": "NVIDIA_VISIBLE_DEVICES",
                             "value": Tpl(f'join "," {gpus.visible_devices.go}')}]),
                secret_env(self, v.model.hf_token_secret, "HF_TOKEN"),
            ],
            port=v.engine.port,
            health=HealthPaths(startup="/health", readiness="/health", liveness="/health"),
            # vLLM downloads into the HF cache on this volume.
            model_read_only=False,
            # A Service named "vllm" in the namespace would inject VLLM_PORT=tcp://..., which vLLM
            # reads as its own port setting and crashes on.
            enable_service_links=False,
            gpu_request_when=gpus.count.gt(0) & ~pinned,
            home_dir="/home/vllm",
        ))
        add_service(self)
        add_test_hook(self, v.model.served_name)
        self._rules()

    def _rules(self) -> None:
        v = self.v
        gpus, engine = v.gpus, v.engine
        pinned = gpus.visible_devices.truthy()
        pinned_count = Expr(f"len {gpus.visible_devices.go}", Kind.INT)
        self.rule(
            "gpus.visibleDevices", pinned & gpus.count.gt(0),
            f'printf "gpus.visibleDevices pins %d GPU(s) by UUID outside the device plugin, but gpus.count=%d '
            f'also requests GPUs from it. Use one: --set gpus.count=0 to pin, or drop gpus.visibleDevices." '
            f'(len {gpus.visible_devices.go}) ({gpus.count.go} | int64)')
        self.rule(
            "engine.tensorParallelSize", ~pinned & engine.tensor_parallel_size.gt(gpus.count),
            f'printf "engine.tensorParallelSize=%d needs that many GPUs, but gpus.count=%d. Raise gpus.count '
            f'or lower tensorParallelSize." ({engine.tensor_parallel_size.go} | int64) ({gpus.count.go} | int64)')
        self.rule(
            "engine.tensorParallelSize.pinned", pinned & engine.tensor_parallel_size.gt(pinned_count),
            f'printf "engine.tensorParallelSize=%d but gpus.visibleDevices pins only %d GPU(s)." '
            f'({engine.tensor_parallel_size.go} | int64) (len {gpus.visible_devices.go})')
        self.rule(
            "gpus.none", ~pinned & ~gpus.count.gt(0),
            '"gpus: vLLM needs a GPU. Set gpus.count (device plugin) or gpus.visibleDevices (UUID pinning)."')


README_NOTES = """\
## How this chart fixes the seed deployment

* **Pinned image.** The seed ran `vllm/vllm-openai:latest`; the chart pins the build in
  `images/versions.yaml` and rejects `latest` in `image.tag`.
* **Only real flags, quantization auto-detected.** `--quantization compressed-tensors` is read from
  the checkpoint anyway; the chart passes `--quantization` only when `engine.quantization` is set.
* **A startup budget sized to the weights.** The startup probe's budget derives from
  `model.sizeGiB / storage.readMiBps`, so a first start that downloads or reads 400 GB is not
  killed early. vLLM 0.14.1 itself waits for the model load without a deadline
  (`wait_for_engine_startup`); `VLLM_ENGINE_READY_TIMEOUT_S` only bounds the engine's first message
  after that handshake, so the chart leaves it at its default.
* **No `VLLM_PORT` surprise.** Kubernetes injects `<SERVICE>_PORT=tcp://...` for every Service in
  the namespace; a Service called `vllm` produces `VLLM_PORT`, which vLLM parses as its port and
  crashes, and other pods in the namespace would get it too. The engine pod sets
  `enableServiceLinks: false`, its Service is `<release>-vllm-api` (never `vllm`, even for a
  release named `vllm`), and its port is named `http`.
* **GPU pinning by UUID** (`gpus.visibleDevices`) reproduces the seed's split of an RTX PRO 6000
  (LLM) and an RTX 5090 (image generation) on one node. It bypasses the device plugin, so the
  scheduler does not know those GPUs are taken: prefer `gpus.count` when you can.
"""
