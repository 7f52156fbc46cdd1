#!/usr/bin/env bash
# Make the venv self-contained: copy every shared library that an extension module in the venv
# resolves from the source tree (balance_serve's sched_ext links prometheus-cpp built under /src)
# into VENV/lib/ktransformers-native, and add that directory to the RPATH of those modules.
#
#   vendor-build-libs.sh VENV SRC_DIR      (build stage, after `pip install .`)
#   vendor-build-libs.sh --check VENV      (runtime stage: fail if any module misses a library)
set -o errexit -o nounset -o pipefail

modules() { find "$1" -type f \( -name '*.so' -o -name '*.so.*' \) -path '*-packages/*' \
              ! -path '*/torch/*' ! -path '*/nvidia/*' ! -path '*/triton/*' | sort; }

# Libraries that are found at run time without the build tree: torch's own (loaded by `import torch`
# before any extension), and the CUDA driver, which the NVIDIA runtime mounts into the container.
provided='^(libc10|libtorch|libcuda\.so|libcudart|libnvidia|libcublas|libcusparse|libcurand)'

if [[ "$1" == "--check" ]]; then
  missing=0
  while read -r module; do
    absent=$(ldd "$module" | awk '/not found/ {print $1}' | grep -Ev "$provided" || true)
    if [[ -n "$absent" ]]; then
      echo "vendor-build-libs: $module misses: $absent" >&2; missing=1
    fi
  done < <(modules "$2")
  exit "$missing"
fi

venv=$1 src=$2 native="$1/lib/ktransformers-native"
mkdir -p "$native"
while read -r module; do
  libs=$(ldd "$module" | awk -v src="$src/" 'index($3, src) == 1 {print $3}')
  [[ -z "$libs" ]] && continue
  for lib in $libs; do cp --dereference -v "$lib" "$native/"; done
  patchelf --add-rpath "$native" "$module"
  echo "vendor-build-libs: $module -> $native"
done < <(modules "$venv")
