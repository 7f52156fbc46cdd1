"""Python stubs for api.proto, generated on first use (not committed).

Why generate instead of committing *_pb2.py: generated code is tied to the
protobuf runtime it was made for; generating with the pinned grpcio-tools of the
current environment keeps them matched. The stubs go to a cache directory keyed
by the proto's hash and the protobuf/grpcio runtime versions:
``$LEVIATHAN_CACHE/deviceplugin-stubs/<key>/`` (default ``~/.cache/leviathan``).
The fake-gpu-plugin image runs this at build time, so it never compiles at runtime.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

PROTO = Path(__file__).with_name("api.proto")
#: Module name of the generated code; unique so it cannot shadow anything on sys.path.
MODULE = "leviathan_deviceplugin_v1beta1"


def cache_root() -> Path:
    # Spelled out, not leviathan.tools.CACHE: this package also runs alone, inside the fake GPU
    # plugin's image (images/fake-gpu-plugin), where leviathan is not installed.
    return Path(os.environ.get("LEVIATHAN_CACHE") or Path.home() / ".cache" / "leviathan") / "deviceplugin-stubs"


def _generate(dest: Path) -> None:
    from grpc_tools import protoc  # only needed when the cache is cold

    import grpc_tools

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        proto_copy = Path(tmp) / f"{MODULE}.proto"
        proto_copy.write_bytes(PROTO.read_bytes())
        include = Path(grpc_tools.__file__).parent / "_proto"
        code = protoc.main([
            "grpc_tools.protoc", f"-I{tmp}", f"-I{include}",
            f"--python_out={tmp}", f"--grpc_python_out={tmp}", str(proto_copy),
        ])
        if code != 0:
            raise RuntimeError(f"protoc failed ({code}) for {PROTO}")
        proto_copy.unlink()
        try:
            os.rename(tmp, dest)  # atomic: concurrent generators race harmlessly
        except OSError:
            if not dest.exists():
                raise


def stub_dir() -> Path:
    """Directory holding the generated modules, generating them if needed.

    The key covers what generated code must match at runtime: the proto, and the
    installed protobuf and grpcio versions (both check their generated code's version).
    """
    runtime = f"protobuf=={version('protobuf')};grpcio=={version('grpcio')}"
    key = hashlib.sha256(PROTO.read_bytes() + runtime.encode()).hexdigest()[:16]
    dest = cache_root() / key
    if not (dest / f"{MODULE}_pb2_grpc.py").exists():
        _generate(dest)
    return dest


def load() -> tuple[ModuleType, ModuleType]:
    """(pb2, pb2_grpc) modules for the v1beta1 device plugin API."""
    directory = str(stub_dir())
    if directory not in sys.path:
        # The generated *_pb2_grpc imports its *_pb2 as a top-level module.
        sys.path.insert(0, directory)
    return importlib.import_module(f"{MODULE}_pb2"), importlib.import_module(f"{MODULE}_pb2_grpc")
