#!/usr/bin/env python3
"""Build ONE extension of KTransformers' own setup.py in place, so the three can build in parallel.

  cd <ktransformers source root> && python3 build_one.py cpuinfer_ext|KTransformersOps|vLLMMarlin

setup.py is run unchanged (same sources, flags, CMake arguments and environment switches:
CPU_INSTRUCT, USE_BALANCE_SERVE, USE_NUMA, KTRANSFORMERS_FORCE_BUILD, TORCH_CUDA_ARCH_LIST,
CMAKE_ARGS, ...); this wrapper only keeps the one extension named on the command line and gives it
its own build_temp. (torch's BuildExtension writes build.ninja into build_temp, so two extensions
must not share one; setuptools' `build_ext -j` would.) The result is the same in-place module
`python setup.py build_ext --inplace` leaves in the source root.
"""
import os
import runpy
import sys
import types

name = sys.argv[1]

try:  # setup.py imports wheel.bdist_wheel; wheel >= 0.4x keeps it only as a shim, later ones may not
    import wheel.bdist_wheel  # noqa: F401
except ImportError:
    from setuptools.command.bdist_wheel import bdist_wheel as _bw
    mod = types.ModuleType("wheel.bdist_wheel")
    mod.bdist_wheel = _bw
    sys.modules["wheel.bdist_wheel"] = mod

import setuptools

_real_setup = setuptools.setup


def _one(**kw):
    exts = [e for e in kw.get("ext_modules", []) if e is not None and e.name == name]
    if len(exts) != 1:
        raise SystemExit(f"no extension {name!r} in setup.py (have {[e.name for e in kw['ext_modules'] if e]})")
    kw["ext_modules"] = exts
    print(f"[build_one] {name}: version {kw.get('version')}", flush=True)
    return _real_setup(**kw)


setuptools.setup = _one
sys.argv = ["setup.py", "build_ext", "--inplace", "--build-temp", os.path.join("build", f"temp-{name}")]
runpy.run_path("setup.py", run_name="__main__")
