#!/usr/bin/env bash
# Workstation side: fills the ignored .gpu-carry-llama/ that the device call carries (64 MiB limit):
#   llama-src.tar.gz  vendor/llama.cpp of the pinned llama-cpp-python sdist (sha256 checked), without
#                     docs, models, tests, examples and the GPU backends other than CUDA (8 MiB)
#   site/             PyYAML for gguf-py, if the device's python lacks it
set -euo pipefail
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
C=$ROOT/.gpu-carry-llama; mkdir -p "$C"
SDIST=${SDIST:-$HOME/.cache/leviathan/sdists/llama_cpp_python-0.3.36.tar.gz}
want=$(python3 -c "import yaml;print(yaml.safe_load(open('$ROOT/images/versions.yaml'))['x-llama-cpp-args']['LLAMA_CPP_PYTHON_SDIST_SHA256'])")
[ -s "$SDIST" ] || { mkdir -p "$(dirname "$SDIST")"; python3 -m pip download -q --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$(dirname "$SDIST")"; }
echo "$want  $SDIST" | sha256sum -c -
T=$(mktemp -d); tar -xzf "$SDIST" -C "$T"
tar -C "$T"/llama_cpp_python-0.3.36/vendor -czf "$C/llama-src.tar.gz" \
  --exclude=llama.cpp/docs --exclude=llama.cpp/models --exclude=llama.cpp/media --exclude=llama.cpp/benches \
  --exclude=llama.cpp/tests --exclude=llama.cpp/examples \
  $(for b in cann hexagon hip metal musa opencl openvino sycl vulkan webgpu zdnn zendnn virtgpu et; do echo --exclude=llama.cpp/ggml/src/ggml-$b; done) \
  llama.cpp
rm -rf "$T" "$C/site" && python3 -m pip install -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_17_x86_64 --target "$C/site" PyYAML==6.0.3
du -sh "$C"
