"""images/docker-bake.hcl is exactly what images/versions.yaml renders to, and agrees with it."""

from __future__ import annotations

import json
import re

import yaml

from leviathan import versions
from tests.images.dockerfile import IMAGES
from tests.images.image_scripts import load_image_script

BAKE = IMAGES / "docker-bake.hcl"


def _renderer():
    return load_image_script("render_bake.py")


def _targets(text: str) -> dict[str, str]:
    return dict(re.findall(r'^target "([^"]+)" \{\n(.*?)^\}', text, re.MULTILINE | re.DOTALL))


def test_committed_bake_file_is_what_versions_yaml_renders():
    assert BAKE.read_text() == _renderer().render(), "run `python images/render_bake.py` and commit"


def test_every_target_carries_the_pins_of_its_entry():
    # Read the HCL text itself (not the renderer) so a renderer bug cannot hide a disagreement.
    targets = _targets(BAKE.read_text())
    built = versions.built_images()
    assert set(targets) == set(built)
    for name, body in targets.items():
        pin = built[name]
        args = dict(re.findall(r'^    (\w+)\s+= "([^"]*)"$', body, re.MULTILINE))
        assert args == dict(pin.args), name
        assert f'tags       = ["${{REGISTRY}}/{pin.repository}:{pin.tag}"]' in body
        assert f"context    = \"images/{pin.context}\"" in body
        platforms = json.loads(re.search(r"platforms  = (\[.*\])", body).group(1))
        assert tuple(platforms) == pin.platforms
        if pin.target:
            assert f'target     = "{pin.target}"' in body


def test_renderer_follows_a_changed_pin(tmp_path):
    # GIVEN versions.yaml with vLLM bumped
    raw = (IMAGES / "versions.yaml").read_text().replace('VLLM_VERSION: "0.14.1"', 'VLLM_VERSION: "9.9.9"')
    changed = tmp_path / "versions.yaml"
    changed.write_text(raw)
    # WHEN the bake file is rendered from it
    text = _renderer().render(changed)
    # THEN the target carries the new pin and differs from the committed file
    assert re.search(r'VLLM_VERSION\s+= "9\.9\.9"', _targets(text)["vllm"])
    assert text != BAKE.read_text()


def test_amd64_only_images_say_why():
    raw = yaml.safe_load((IMAGES / "versions.yaml").read_text())["images"]
    amd64_only = {name for name, pin in versions.built_images().items() if pin.platforms == ("linux/amd64",)}
    assert amd64_only == {"ktransformers", "ktransformers-amx", "kt-sglang-avx512", "kt-sglang-amx"}
    for name in amd64_only:
        assert len(raw[name].get("platforms_note", "")) > 40, f"{name}: say why arm64 is not built"
    for name, pin in versions.built_images().items():
        if name not in amd64_only:
            assert set(pin.platforms) == {"linux/amd64", "linux/arm64"}, name


def test_make_images_group_has_every_engine_and_not_the_mock():
    text = BAKE.read_text()
    default = json.loads(re.search(r'group "default" \{\n  targets = (\[.*\])', text).group(1))
    assert "mock-engine" not in default
    assert {"ktransformers", "ktransformers-amx", "kt-sglang-avx512", "kt-sglang-amx", "vllm", "llama-cpp-cuda",
            "llama-cpp-cpu", "model-downloader"} == set(default)
