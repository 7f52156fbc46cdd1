"""Values of the `vllm` chart (a 70B W4A16 model on vLLM).

values.yaml, values.schema.json and the README's values table come from these models
(helm/values_files.py); the construct, variants/vllm.py, reads only their fields.
"""

from __future__ import annotations

from pydantic import Field

from .base import ValuesModel, section
from .bounds import GIB_MAX, INT32_MAX, NOT_AN_OPTION
from .common import (EngineValues, Gpus, Image, PvcStorage, Resources, SecretRef, Service, Storage,
                     UUID_PATTERN, extra_args_field, extra_args_unchecked_field, pinned_image)


class Model(ValuesModel):
    id: str = Field("neuralmagic/DeepSeek-R1-Distill-Llama-70B-quantized.w4a16", min_length=1, pattern=NOT_AN_OPTION)
    """Hugging Face model id (downloaded into the HF cache volume on first start) or a local path under
    `storage.mountPath`. The model source: required."""
    revision: str = Field("main", min_length=1, pattern=NOT_AN_OPTION)
    """Branch, tag or commit of the model (`--revision`). Pin a commit for reproducible weights."""
    served_name: str = Field("deepseek-r1-distill-llama-70b", min_length=1, pattern=NOT_AN_OPTION)
    """Model id the API serves (`--served-model-name`)."""
    size_gi_b: int = Field(37, ge=1, le=GIB_MAX, alias="sizeGiB")
    """Size of the weights in GiB (70B W4A16: 37 GiB). Drives the startup budget."""
    hf_token_secret: SecretRef = section(SecretRef)
    """Secret with the Hugging Face token for gated/private models. Only ever read from the Secret."""


class Engine(ValuesModel):
    port: int = Field(8000, ge=1, le=65535)
    """Port vLLM listens on (`--port`)."""
    tensor_parallel_size: int = Field(1, ge=1, le=16)
    """GPUs the model is sharded over (`--tensor-parallel-size`); at most the GPUs the pod gets."""
    gpu_memory_utilization: float = Field(0.92, gt=0, le=1)
    """Fraction of each GPU's memory vLLM may use for weights + KV cache (`--gpu-memory-utilization`)."""
    max_model_len: int = Field(32768, ge=0, le=INT32_MAX)
    """Context length (`--max-model-len`). 0: the model's own maximum."""
    enforce_eager: bool = False
    """Disable CUDA graphs (`--enforce-eager`): faster start, less VRAM, slower decode. The seed needed
    it on Blackwell where graph capture hung."""
    quantization: str = Field("", pattern=r"^([^-].*)?$")
    """`--quantization` method. Empty: auto-detected from the checkpoint (right for W4A16
    compressed-tensors); a wrong value makes vLLM refuse to start."""
    trust_remote_code: bool = False
    """Allow the model repository's own Python code (`--trust-remote-code`)."""
    extra_args: list[str] = extra_args_field("vLLM")
    extra_args_unchecked: list[str] = extra_args_unchecked_field()


class VllmGpus(Gpus):
    visible_devices: list[str] = Field([], json_schema_extra={"items": {"pattern": UUID_PATTERN}})
    """Pin GPUs by UUID (`NVIDIA_VISIBLE_DEVICES`, as the seed's "Trojan Horse" split did). The chart
    then requests no `nvidia.com/gpu`, so the scheduler does not account for them: use it only on a
    node whose GPUs you assign by hand, with `gpus.count: 0`."""


class VllmValues(EngineValues):
    model: Model = section(Model)
    """Which model to serve."""
    engine: Engine = section(Engine)
    """vLLM server flags."""
    image: Image = section(lambda: pinned_image("vllm"))
    """Engine image (pinned vLLM)."""
    gpus: VllmGpus = section(VllmGpus)
    """GPUs of the engine pod."""
    storage: Storage = section(lambda: Storage(mount_path="/cache", read_mi_bps=200,
                                               pvc=PvcStorage(create=True, size_gi_b=100)))
    """The Hugging Face cache (`HF_HOME`): a PVC kept on uninstall, so restarts reuse downloaded weights.
    `readMiBps` is low by default because the first start downloads over the network."""
    resources: Resources = section(Resources)
    """CPU, RAM and /dev/shm of the engine pod."""
    service: Service = section(lambda: Service(port=8000))
    """How the OpenAI-compatible API is exposed."""
