"""Cross-field rules of the `kt-sglang` chart: every contradiction fails `helm template` with a
sentence naming the values and the fix.

The ISA rules keep the three things `cpu.isa` selects (method, image flavour, node affinity) from
being contradicted by a value set on its own: an AMX method on an AVX512 host dies on an illegal
instruction (or kt-kernel's AMX import check) after the whole load, and an avx512 image never uses
the AMX kernels.
"""

from __future__ import annotations

from ..helm.helpers import memory_limit_rule
from ..helm.holes import Cond

AMX_METHODS = ("AMXINT4", "AMXINT8")


def _in(go: str, values: tuple[str, ...]) -> Cond:
    return Cond(f"has {go} (list {' '.join(f'{value!r}'.replace(chr(39), chr(34)) for value in values)})")


def add_rules(chart) -> None:
    v = chart.v
    name = chart.info.name
    cpu, engine, model, memory, gpus = v.cpu, v.engine, v.model, v.resources.memory, v.gpus
    method = f'(include "{name}.ktMethod" .)'
    amx_method = _in(method, AMX_METHODS)
    on_amx = cpu.isa.eq("amx")
    chart.rule(
        "cpu.method.isa", amx_method & ~on_amx,
        f'printf "cpu.method=%s needs Intel AMX, but cpu.isa=%s: the pod would be placed on a node without '
        f'AMX and die on its first AMX instruction. Use cpu.method=RAWINT4 (native INT4 checkpoints) on '
        f'AVX512, or cpu.isa=amx on a Sapphire Rapids or newer node." {method} {cpu.isa.go}')
    chart.rule(
        "cpu.method.amxImage", ~amx_method & on_amx,
        f'printf "cpu.method=%s is an AVX512 method, but cpu.isa=amx selects the AMX image, which keeps only '
        f'the AMX kernels. Use cpu.method=AMXINT4 or AMXINT8 (with model.cpuWeights), or cpu.isa=avx512." '
        f'{method}')
    tag = v.image.tag
    chart.rule(
        "image.tag.isa",
        tag.truthy() & ((on_amx & ~Cond(f'regexMatch "-amx$" {tag.go}'))
                        | (~on_amx & Cond(f'regexMatch "-amx$" {tag.go}'))),
        f'printf "image.tag=%s does not match cpu.isa=%s: the tag\'s flavour suffix must be -%s (or leave '
        f'image.tag empty for the pinned build of the ISA)." {tag.go} {cpu.isa.go} {cpu.isa.go}')
    chart.rule(
        "model.cpuWeights", amx_method & v.download.enabled.truthy() & ~model.cpu_weights.repo.truthy(),
        f'printf "cpu.method=%s reads expert weights converted for AMX from model.cpuWeights.dir, but '
        f'model.cpuWeights.repo is empty, so the download Job would never fetch them. Set '
        f'model.cpuWeights.repo, or download.enabled=false with the converted weights already in %s/%s." '
        f'{method} {v.storage.mount_path.go} {model.cpu_weights.dir.go}')
    chart.rules.append(memory_limit_rule(
        memory.limit_gi_b, model.size_gi_b, model.host_overhead_gi_b, "weights",
        " that kt-kernel keeps in host RAM: the pod would be OOM-killed while loading the experts (the seed "
        "died at layer 35/60 under 480Gi).", ""))
    limit = v.resources.cpu.limit
    chart.rule(
        "cpu.ktCpuinfer", limit.gt(0) & cpu.kt_cpuinfer.gt(limit),
        f'printf "cpu.ktCpuinfer=%d expert threads exceed resources.cpu.limit=%d cores: the threads would '
        f'be throttled by the CPU quota. Lower ktCpuinfer to the physical cores you give the pod." '
        f'({cpu.kt_cpuinfer.go} | int64) ({limit.go} | int64)')
    chart.rule(
        "cpu.numaNodes", cpu.numa_nodes.gt(cpu.kt_cpuinfer),
        f'printf "cpu.numaNodes=%d thread pools but cpu.ktCpuinfer=%d threads: every pool needs at least '
        f'one thread." ({cpu.numa_nodes.go} | int64) ({cpu.kt_cpuinfer.go} | int64)')
    tp = engine.tensor_parallel_size
    chart.rule(
        "engine.tensorParallelSize", tp.gt(gpus.count),
        f'printf "engine.tensorParallelSize=%d needs that many GPUs, but gpus.count=%d." '
        f'({tp.go} | int64) ({gpus.count.go} | int64)')
    chart.rule(
        "gpus.count", ~gpus.count.gt(0),
        '"gpus.count: SGLang runs attention and the GPU experts on GPUs; request at least one."')
    chart.rule(
        "resources.shmGiB", tp.gt(1) & v.resources.shm_gi_b.lt(tp),
        f'printf "resources.shmGiB=%d is too small for tensorParallelSize=%d: NCCL and SGLang\'s all-reduce '
        f'exchange buffers through /dev/shm between the ranks. Give at least 1 GiB per rank." '
        f'({v.resources.shm_gi_b.go} | int64) ({tp.go} | int64)')
    chart.rule(
        "download.nodeSelector", v.download.node_selector.truthy() & v.storage.host_path.path.truthy(),
        '"download.nodeSelector places the Job on other nodes, but storage.hostPath.path is one node\'s '
        'disk: the engine would never see the files. Use a network PVC, or drop download.nodeSelector."')
