"""The KTransformers image's Python layer resolves against PyPI exactly as pinned.

The image installs requirements-server.txt under constraints.txt (every package of the closure
pinned). Here pip resolves the same inputs for the image's interpreter and platform (CPython 3.12,
manylinux x86_64, wheels only, `--dry-run --report`), so a yanked wheel, a new dependency or an
impossible pin fails `make test` instead of the image build. Needs PyPI, like `make setup`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "images" / "ktransformers" / "constraints.txt"


def pins() -> dict[str, str]:
    lines = [line for line in CONSTRAINTS.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("==") for line in lines)


def test_constraints_pin_what_the_v041_server_needs():
    pinned = pins()
    # The tag's cache code calls Cache.__init__(layer_class_to_replicate=...): transformers >= 4.56,
    # although its server/requirements.txt says 4.51.3; 5.x has no modeling_attn_mask_utils.
    assert pinned["transformers"] == "4.57.1"
    assert pinned["torch"] == "2.8.0"
    # imported by ktransformers/server but declared by neither requirements.txt nor pyproject.toml
    for package in ("openai", "pyzmq", "sqlalchemy", "uvicorn", "fastapi"):
        assert package in pinned, package


def test_python_layer_resolves_exactly_as_pinned():
    result = subprocess.run([str(ROOT / "scripts" / "ktransformers-constraints"), "--check"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resolve exactly as pinned" in result.stdout
