"""images/kt-sglang installs every wheel that carries a part of sgl_kernel's CUDA binaries, and its
build-time check (check-sgl-kernel.py) fails when a part is missing.

The check runs here against a package laid out like the real one (sgl_kernel/_payload_manifest.py
naming payload modules, each with a payload.part); the real wheels were checked the same way
(images/kt-sglang/README.md).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

from leviathan import versions
from tests.images.dockerfile import IMAGES

CONTEXT = IMAGES / "kt-sglang"


def test_the_image_installs_the_ktransformers_wheel_at_the_pinned_version():
    text = (CONTEXT / "Dockerfile").read_text()
    assert '"ktransformers==${KTRANSFORMERS_VERSION}"' in text
    assert "RUN python3 /tmp/check-sgl-kernel.py" in text
    for flavour in ("kt-sglang-avx512", "kt-sglang-amx"):
        args = versions.image(flavour).args
        assert args["KTRANSFORMERS_VERSION"] == args["KT_KERNEL_VERSION"] == args["SGLANG_KT_VERSION"]


def fake_site(root, parts: dict[str, bytes], listed: list[str], sm90: bool = True):
    package = root / "sgl_kernel"
    (package / "sm90").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('importing sgl_kernel needs a GPU')\n")
    digest = hashlib.sha256(b"".join(parts.get(name, b"") for name in listed)).hexdigest()
    (package / "_payload_manifest.py").write_text(
        f"VERSION = '0.3.21.post2'\nARCHIVE_SHA256 = {digest!r}\nPAYLOAD_MODULES = {tuple(listed)!r}\n")
    if sm90:
        (package / "sm90" / "common_ops.abi3.so").write_bytes(b"\x7fELF")
    for name, data in parts.items():
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("")
        (root / name / "payload.part").write_bytes(data)
    return root


def check(site) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CONTEXT / "check-sgl-kernel.py")], capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})


def test_the_check_passes_with_every_part(tmp_path):
    site = fake_site(tmp_path, {"core_payload": b"a" * 100, "ktransformers_payload": b"b" * 50},
                     ["core_payload", "ktransformers_payload"])
    result = check(site)
    assert result.returncode == 0, result.stderr
    assert "2 payload parts, sha256 ok, sm90 ops present" in result.stdout


def test_the_check_fails_without_the_ktransformers_part(tmp_path):
    site = fake_site(tmp_path, {"core_payload": b"a" * 100}, ["core_payload", "ktransformers_payload"])
    result = check(site)
    assert result.returncode != 0 and "['ktransformers_payload']" in result.stderr


def test_the_check_fails_on_a_wrong_checksum_or_missing_hopper_ops(tmp_path):
    site = fake_site(tmp_path / "a", {"core_payload": b"a"}, ["core_payload"])
    (site / "core_payload" / "payload.part").write_bytes(b"tampered")
    assert "do not add up" in check(site).stderr
    assert "sm90/common_ops.abi3.so" in check(fake_site(tmp_path / "b", {"p": b"x"}, ["p"], sm90=False)).stderr
