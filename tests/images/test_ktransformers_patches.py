"""images/ktransformers/patches: the fixes the pinned KTransformers needs, applied at image build.

`git apply` in the Dockerfile refuses a patch whose context or blob no longer matches, so a
changed tree fails the build. Here, without the source (no package registry carries v0.4.1): every
patch is a real git patch against files with recorded blob ids, says why it exists, and names the
commit it was made and checked against, which must be the pinned one. Moving KTRANSFORMERS_COMMIT
therefore fails `make test` until each patch is re-checked (images/ktransformers/gpu-proof/).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leviathan import versions

HERE = Path(__file__).resolve().parents[2] / "images" / "ktransformers"
PATCHES = sorted((HERE / "patches").glob("*.patch"))


def test_there_are_patches_and_the_image_applies_all_of_them():
    assert PATCHES, "the CUDA fix for setup_model_parallel (0001) is missing"
    dockerfile = (HERE / "Dockerfile").read_text()
    assert "COPY patches/ /tmp/patches/" in dockerfile
    assert 'for patch in /tmp/patches/*.patch; do git apply --verbose "${patch}"; done' in dockerfile


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_patch_is_made_against_the_pinned_commit(patch):
    text = patch.read_text()
    commit = versions.image("ktransformers").args["KTRANSFORMERS_COMMIT"]
    tag = versions.image("ktransformers").args["KTRANSFORMERS_TAG"]
    applies = re.search(r"Applies to kvcache-ai/ktransformers (\S+) \(([0-9a-f]{8,40})\)", text)
    assert applies, f"{patch.name}: say which commit it applies to"
    assert applies.group(1) == tag and commit.startswith(applies.group(2)), \
        f"{patch.name} was made for {applies.groups()}, the pin is {tag} {commit}: re-check it"
    assert "Why" in text.split("---", 1)[0], f"{patch.name}: say why it exists"
    diffs = re.findall(r"^diff --git a/(\S+) b/\1$", text, re.M)
    blobs = re.findall(r"^index ([0-9a-f]{7,40})\.\.([0-9a-f]{7,40})", text, re.M)
    assert diffs and len(blobs) == len(diffs), f"{patch.name}: not a git patch with blob ids"


def test_the_first_patch_fixes_the_nameerror_on_cuda():
    first = PATCHES[0].read_text()
    assert "ktransformers/server/backend/interfaces/ktransformers.py" in first
    assert re.search(r"^-\s+self\.local_rank, self\.world_size = setup_model_parallel", first, re.M)
