"""Build-time check that the sgl_kernel CUDA binaries of the pinned wheels are all installed.

`import sgl_kernel` needs a GPU (it loads the ops of the GPU it finds), so the build cannot import
it. Instead this reads the package's own manifest (sgl_kernel/_payload_manifest.py) without running
the package: every payload part it names must be installed and the concatenation must have the
recorded sha256 (what sgl_kernel/payload_runtime.py checks at run time), and the Hopper ops that
load_utils.py picks for compute capability 9.0 (sgl_kernel/sm90/common_ops.abi3.so) must exist.
Both come partly from the `ktransformers` wheel, which sglang-kt does not require.
"""

import hashlib
import importlib.util
import runpy
import sys
from pathlib import Path

package = Path(next(iter(importlib.util.find_spec("sgl_kernel").submodule_search_locations)))
manifest = runpy.run_path(str(package / "_payload_manifest.py"))
digest, missing = hashlib.sha256(), []
for module in manifest["PAYLOAD_MODULES"]:
    spec = importlib.util.find_spec(module)
    if spec is None:
        missing.append(module)
        continue
    digest.update((Path(next(iter(spec.submodule_search_locations))) / "payload.part").read_bytes())
if missing:
    sys.exit(f"sgl_kernel CUDA payload parts not installed: {missing}")
if digest.hexdigest() != manifest["ARCHIVE_SHA256"]:
    sys.exit("sgl_kernel CUDA payload: the parts do not add up to the recorded sha256")
if not (package / "sm90" / "common_ops.abi3.so").is_file():
    sys.exit("sgl_kernel/sm90/common_ops.abi3.so (the Hopper ops) is missing")
print(f"sgl_kernel {manifest['VERSION']}: {len(manifest['PAYLOAD_MODULES'])} payload parts, sha256 ok, sm90 ops present")
