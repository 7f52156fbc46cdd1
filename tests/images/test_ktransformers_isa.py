"""images/ktransformers/pin-isa.sh: the image's CPU ISA comes from its flavour, never the build host.

The files it edits are recreated here with the exact lines they hold at v0.4.1 (csrc/balance_serve
hard-codes `-march=native` in three CMakeLists; csrc/ktransformers_ext greps `lscpu` output for
"avx512" and "amx").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "images" / "ktransformers" / "pin-isa.sh"
BALANCE_SERVE = ["csrc/balance_serve/CMakeLists.txt", "csrc/balance_serve/sched/CMakeLists.txt",
                 "csrc/balance_serve/kvc2/CMakeLists.txt"]


def tree(root: Path) -> Path:
    for path in BALANCE_SERVE:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text('set(CMAKE_CXX_FLAGS "-Og -march=native -Wall -Wextra -g -fPIC")\n')
    ext = root / "csrc/ktransformers_ext/CMakeLists.txt"
    ext.parent.mkdir(parents=True)
    ext.write_text('execute_process(\n    COMMAND lscpu\n    OUTPUT_VARIABLE LSCPU_OUTPUT\n)\n')
    return root


def pin(root: Path, flavour: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), flavour, str(root / "bin")], cwd=root, capture_output=True, text=True)


@pytest.mark.parametrize(("flavour", "march", "has_amx"), [("avx512", "x86-64-v4", False),
                                                           ("amx", "sapphirerapids", True)])
def test_flavour_fixes_march_and_what_cmake_reads_from_lscpu(tmp_path, flavour, march, has_amx):
    root = tree(tmp_path)
    result = pin(root, flavour)
    assert result.returncode == 0, result.stderr
    for path in BALANCE_SERVE:
        text = (root / path).read_text()
        assert "-march=native" not in text and f"-march={march}" in text
    lscpu = subprocess.run([str(root / "bin" / "lscpu")], capture_output=True, text=True, check=True).stdout
    # CMake's test is string(FIND ... "avx512") / string(FIND ... "amx") on the whole output.
    assert "avx512" in lscpu
    assert ("amx" in lscpu) is has_amx


def test_a_tree_that_changed_fails_the_build(tmp_path):
    root = tree(tmp_path)
    (root / BALANCE_SERVE[1]).write_text('set(CMAKE_CXX_FLAGS "-O2")\n')
    result = pin(root, "avx512")
    assert result.returncode == 1
    assert "has no -march=native any more" in result.stderr


def test_unknown_flavour_is_refused(tmp_path):
    assert pin(tree(tmp_path), "native").returncode == 2
