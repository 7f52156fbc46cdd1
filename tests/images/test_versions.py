"""leviathan.versions: the loader the charts use, and what the tags and arch lists promise."""

from __future__ import annotations

import re

import pytest

from leviathan import versions


def test_image_returns_the_three_chart_keys():
    pin = versions.image("vllm")
    assert (pin.repository, pin.tag, pin.app_version) == ("leviathan/vllm", "0.14.1-cu128", "0.14.1")
    assert pin.ref == "leviathan/vllm:0.14.1-cu128"


def test_unknown_image_names_the_known_ones():
    with pytest.raises(KeyError, match="known: .*vllm"):
        versions.image("vlm")


def test_flavours_group_one_dockerfile():
    kt = versions.flavours("kt-sglang")
    assert set(kt) == {"avx512", "amx"}
    assert kt["amx"].args["KT_CPU_FLAVOUR"] == "amx" and kt["avx512"].args["KT_CPU_FLAVOUR"] == "avx512"
    assert set(versions.flavours("llama-cpp")) == {"cuda", "cpu"}
    with pytest.raises(KeyError):
        versions.flavours("vllm")


@pytest.mark.parametrize("name", sorted(versions.built_images()))
def test_tag_contains_the_engine_version_and_flavour(name):
    pin = versions.image(name)
    assert pin.app_version in pin.tag, f"{name}: tag {pin.tag} does not name version {pin.app_version}"
    if pin.flavour:
        assert pin.tag.endswith(pin.flavour) or f"-{pin.flavour}" in pin.tag or (
            pin.flavour == "cuda" and "-cu1" in pin.tag), f"{name}: tag {pin.tag} hides flavour {pin.flavour}"


def test_kt_tags_say_the_cpu_isa():
    for context in ("kt-sglang", "ktransformers"):
        flavours = versions.flavours(context)
        assert set(flavours) == {"avx512", "amx"}
        for flavour, pin in flavours.items():
            assert pin.tag.endswith(f"-{flavour}")
            assert pin.args["KT_CPU_FLAVOUR"] == flavour


def test_tags_are_unique_per_repository():
    refs = [pin.ref for pin in versions.images().values()]
    assert len(refs) == len(set(refs))


def test_engine_versions_match_the_engine_pins():
    assert versions.image("vllm").args["VLLM_VERSION"] == versions.image("vllm").app_version
    assert versions.image("ktransformers").args["KTRANSFORMERS_TAG"] == "v" + versions.image("ktransformers").app_version
    for pin in versions.flavours("kt-sglang").values():
        assert pin.args["SGLANG_KT_VERSION"] == pin.args["KT_KERNEL_VERSION"] == pin.app_version
    for pin in versions.flavours("llama-cpp").values():
        assert pin.app_version == "b" + pin.args["LLAMA_CPP_BUILD"]
    assert versions.image("model-downloader").args["HUGGINGFACE_HUB_VERSION"] == versions.image("model-downloader").app_version


def _cuda(pin) -> tuple[int, int]:
    major, minor, *_ = pin.args["CUDA_VERSION"].split(".")
    return int(major), int(minor)


@pytest.mark.parametrize("name", ["ktransformers", "kt-sglang-avx512", "kt-sglang-amx", "vllm", "llama-cpp-cuda"])
def test_cuda_is_at_least_12_8_for_sm_120(name):
    pin = versions.image(name)
    assert _cuda(pin) >= (12, 8), f"{name}: sm_120 (RTX 5090 / RTX PRO 6000) needs CUDA >= 12.8"
    assert pin.args["CUDA_VERSION"] in pin.args["CUDA_DEVEL_IMAGE"]


def test_compiled_images_cover_hopper_and_both_blackwells():
    torch_archs = versions.image("ktransformers").args["TORCH_CUDA_ARCH_LIST"].split(";")
    assert {"9.0a", "10.0", "12.0"} <= set(torch_archs)
    cmake_archs = {re.sub(r"-(real|virtual)$", "", a)
                   for a in versions.image("llama-cpp-cuda").args["CMAKE_CUDA_ARCHITECTURES"].split(";")}
    assert {"90a", "100", "120a"} <= cmake_archs


def test_public_surface_is_listed():
    public = {n for n in dir(versions) if not n.startswith("_") and n not in
              {"annotations", "dataclass", "field", "cache", "Path", "MappingProxyType", "Mapping", "yaml"}}
    assert public == set(versions.__all__)
