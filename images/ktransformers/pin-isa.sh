#!/usr/bin/env bash
# Pin the CPU instruction set of a KTransformers v0.4.1 build to the image flavour, whatever CPU
# the build runs on. Usage (in the source tree, during the image build):
#
#   pin-isa.sh avx512|amx BIN_DIR
#
# Two things at the pinned tag take the ISA from the build host:
# - csrc/balance_serve/{,sched/,kvc2/}CMakeLists.txt hard-code `-march=native`: replaced with the
#   flavour's -march (x86-64-v4 = AVX512F/BW/CD/DQ/VL: Zen 4/5 and Intel since Skylake-SP;
#   sapphirerapids adds AMX and AVX512-BF16/VNNI).
# - csrc/ktransformers_ext/CMakeLists.txt greps `lscpu` for "avx512" and "amx" to define
#   __HAS_AVX512F__ / __HAS_AMX__: BIN_DIR/lscpu (put first on PATH for the build) prints the
#   flavour's flags instead.
# The build fails here if the tree no longer looks like that, rather than silently going native.
set -o errexit -o nounset -o pipefail
flavour=${1:?flavour avx512|amx}
bin_dir=${2:?directory for the lscpu shim}

case "$flavour" in
  avx512) march=x86-64-v4; flags="fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi2 avx512f avx512dq avx512cd avx512bw avx512vl" ;;
  amx)    march=sapphirerapids; flags="fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8" ;;
  *) echo "pin-isa: unknown flavour '$flavour' (avx512|amx)" >&2; exit 2 ;;
esac

built=(csrc/balance_serve/CMakeLists.txt csrc/balance_serve/sched/CMakeLists.txt csrc/balance_serve/kvc2/CMakeLists.txt)
for file in "${built[@]}"; do
  if ! grep -q -- '-march=native' "$file"; then
    echo "pin-isa: $file has no -march=native any more: check the pinned tree before building" >&2
    exit 1
  fi
  sed -i "s/-march=native/-march=${march}/g" "$file"
done
if ! grep -q 'COMMAND lscpu' csrc/ktransformers_ext/CMakeLists.txt; then
  echo "pin-isa: csrc/ktransformers_ext/CMakeLists.txt no longer reads lscpu: check how it picks the ISA" >&2
  exit 1
fi

mkdir -p "$bin_dir"
cat > "$bin_dir/lscpu" <<SHIM
#!/bin/sh
# Build-time stand-in for lscpu (images/ktransformers/pin-isa.sh): the ${flavour} image flavour.
echo "Architecture:        x86_64"
echo "Flags:               ${flags}"
SHIM
chmod 0755 "$bin_dir/lscpu"
echo "pin-isa: ${flavour}: -march=${march} in ${#built[@]} balance_serve CMake files; lscpu shim in ${bin_dir}"
