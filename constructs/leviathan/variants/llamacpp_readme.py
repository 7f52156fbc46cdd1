"""The `llamacpp` chart README's own sections: seed fixes, the memory rule, the quant guide
(generated from the quant table), OpenShift, troubleshooting."""

from __future__ import annotations

from . import llamacpp_quants as quants
from .llamacpp_quants import HOST_OVERHEAD_GIB


NOTES = f"""\
## How this chart fixes the seed deployment

The seed (`openshift-kimi-k2-llamacpp`) was eight hand-written manifests and a `deploy.sh`.

* **Nothing is built at pod start.** The seed's init container compiled llama.cpp with CUDA on every
  start (10-15 min, 4-8 GiB, a `devel` CUDA image and network access). The chart runs the pinned
  image `leviathan/llama-cpp:b11312-cu128` (images/llama-cpp: llama.cpp 0c1e57098, the tree the
  checksummed llama-cpp-python 0.3.36 sdist vendors).
* **Only real flags.** Every flag is checked against llama-server's own option table at that
  commit (`files/engine-flags.json`, read from `common/arg.cpp`). `--mlock` and `--no-mmap` no
  longer exist there (`engine.loadMode` is `--load-mode`); `-fa` needs a value.
* **`-t -1` is not "auto".** llama.cpp turns any thread count <= 0 into every logical CPU of the
  node, ignoring the pod's CPU limit. `--threads` is `resources.cpu.request`.
* **Context per request.** The server's default `--parallel` is "auto" (4 slots sharing
  `--ctx-size`), which made the seed's 16384 context 4096 tokens per request; the chart passes
  `--parallel` (`engine.parallel`, default 1) and refuses fewer than 256 tokens per slot.
* **The model is the first shard.** llama-server takes `-m <dir>/<quant>/<stem>-<quant>-00001-of-000NN.gguf`
  and finds the other shards beside it; the chart derives that name from the quant table.
* **Reachable and observable.** `--host 0.0.0.0` (default 127.0.0.1), an explicit `--port` (the
  default moves from 8080 to 9931 in newer builds), `--alias`, `--metrics`.
* **Probes that fit the engine.** llama-server answers `/health` at once: 503 `Loading model`
  while it loads, 200 when ready. The startup probe's budget is derived from the quant's size and
  `storage.readMiBps` (2 x size / throughput, clamped); the seed's 5-minute startup probe killed
  every cold start of a 247 GB model.
* **Sizes follow the quant.** PVC size, startup budget and the memory check come from the quant
  table below; the seed's fixed 400Gi PVC was too small for UD-Q2_K_XL/UD-Q4_K_XL (its own notes say
  450/650).
* **The API needs a key behind the Route.** `engine.apiKeySecret` names a Secret whose key
  llama-server reads from `LLAMA_API_KEY` (never on its command line); `/health` stays public for
  the probes and `helm test` sends the key. The `openshift` profile sets it; the seed's Route
  answered anyone who found the host.
* **The token stays in a Secret.** `download.hfTokenSecret.name` names a Secret; the chart never
  holds the token, and `scripts/deploy-openshift` reads it from stdin.

## Memory rule

`resources.memory.limitGiB >= weights (quant table, or model.sizeGiB) + model.hostOverheadGiB`,
checked at `helm template` time; the request defaults to the limit (Guaranteed QoS).

Why the whole file, even though the GPU holds the attention layers: with `-ot ".ffn_.*_exps.=CPU"`
the routed experts (nearly all of a MoE's bytes) live in host memory, and every byte of the GGUF
passes through the pod's memory cgroup while it loads:

* `loadMode: none` (default, what llama.cpp advises with CPU tensor overrides) reads the experts
  into anonymous memory (with the CUDA build: pinned `CUDA_Host` buffers). A limit below them is an
  OOM kill in the middle of the load, after minutes of reading.
* `loadMode: mmap` maps the file: the experts are **page cache charged to the pod's cgroup**. The
  kernel does not OOM-kill for clean page cache, it reclaims it; below the file size the experts
  are evicted and re-read from disk on every token, so throughput collapses while the pod looks
  healthy. Page cache of the GPU layers read at load also stays charged until reclaimed.

So the rule counts the whole GGUF in both modes; `hostOverheadGiB` (16 by default) covers compute
buffers, the host side of the CUDA context and the HTTP server. The KV cache lives on the GPU with
`--n-gpu-layers all`. The mlock modes are not offered: they need CAP_IPC_LOCK (the container drops
all capabilities, and restricted-v2 allows none).

## Quantization guide

Generated from `constructs/leviathan/variants/llamacpp_quants.py`:

{quants.markdown(HOST_OVERHEAD_GIB)}

RAM and VRAM for an offload choice (RAM limit from the memory rule):

| placement | values | host RAM (limit) | VRAM |
|---|---|---|---|
| all routed experts on the CPU (default) | `engine.overrideTensor: ".ffn_.*_exps.=CPU"`, `gpuLayers: all` | weights + overhead | attention + shared experts + KV: about 8 GB at 16K context for UD-TQ1_0 (unsloth) |
| experts of the first N layers on the CPU | `overrideTensor: ""`, `nCpuMoe: N` | weights + overhead (the rule stays conservative: the file is read through the cgroup) | grows with the experts of the remaining layers |
| CPU only | `gpus.count: 0`, CPU image, `gpuLayers: "0"` | weights + overhead | none |

## OpenShift

`platform: openshift` (default: detected from `route.openshift.io/v1`) adds:

* a **Route** with edge TLS, HTTP redirected, `haproxy.router.openshift.io/timeout: 5m`, optional
  `openshift.route.host`;
* **NetworkPolicies**: default deny for the release's pods; the API port only from the router
  (`policy-group.network.openshift.io/ingress`), monitoring (`network.openshift.io/policy-group:
  monitoring`) and the `helm test` pod; egress only to cluster DNS (`openshift-dns`, 53 and 5353);
  the download Job alone also gets HTTPS (443);
* **restricted-v2 SCC compatibility**: no `runAsUser`, `runAsGroup` or `fsGroup` anywhere (the SCC
  assigns them from the namespace's range), `runAsNonRoot`, all capabilities dropped, RuntimeDefault
  seccomp, no privilege escalation; writable paths are emptyDirs; the image runs under any UID with
  GID 0.

`rendered/llamacpp/openshift.yaml` is the `oc apply` bundle (objects in apply order);
`scripts/deploy-openshift` applies it with checks and progress.

## Troubleshooting

| symptom | cause | fix |
|---|---|---|
| `error: invalid argument: --mlock` | removed at this llama.cpp build | `engine.loadMode` |
| `/health` 503 for a long time | the weights are still loading (`Loading model`) | wait: the startup budget is in the pod annotation `leviathan.dev/startup-budget-seconds`; raise `storage.readMiBps` only if the volume is really faster |
| pod `OOMKilled` during load | memory limit below the weights | the memory rule refuses this; do not lower `model.sizeGiB` below the real size |
| tokens/s collapses after a while, no restart | `loadMode: mmap` with page cache reclaimed under the limit | raise the limit, or `loadMode: none` |
| `llama-server: error while loading shared libraries` (exit 127) | a binary copied out of its build directory without its libraries | use the pinned image (libraries beside the binary in /app) |
| `model must be loaded with the first split` | `-m` points at a shard other than 00001 | let the chart derive the name; set `model.shards` right |
| download Job `Pending` / `no space left` | PVC below the quant's minimum | `storage.pvc.sizeGiB: 0` (the quant's minimum) or larger |
| Route answers 504 after 30 s | router timeout | `openshift.route.timeout` |
| pods cannot resolve or download | NetworkPolicies | the download Job is the only pod with egress beyond DNS, by design |
| `unable to validate against any security context constraint` | a fixed UID in extra values | leave `runAsUser` out on OpenShift |
"""
