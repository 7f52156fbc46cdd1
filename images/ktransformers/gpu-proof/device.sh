#!/usr/bin/env bash
# Runs on the GPU machine, from the repo root, with .gpu-carry/ and .whl/ (prepare.sh) beside it.
#
#   images/ktransformers/gpu-proof/device.sh [STAGE...]
#
# Resumable: state lives in $W (default /tmp/ktproof), so a second call on the same (warm) machine
# skips what is done (wheels, tiny model, the extension build) and goes on with the stages. The
# build takes ~12 minutes on 16 cores (the two Marlin .cu files); with .gpu-carry/prebuilt/ (the
# extensions a previous run left in $OUT) it is skipped.
# Every step checks the time left (BUDGET_S seconds from the start, default 560) and is skipped when
# it would not fit. Results: $W/logs (copied into $OUT as logs.tar.gz), summary lines on stdout.
#
# Stages (server started exactly with the chart's args, see run_stage):
#   full    all patches in images/ktransformers/patches, transformers 4.57.1   -> must answer (HTTP 200)
#   vanilla no patch                                                            -> expected to fail
#   p1      0001 only                                                           -> expected to fail
#   p12     0001 + 0002                                                         -> expected to fail
#   p123    0001 + 0002 + 0003                                                  -> expected to fail
#   p1234   0001 .. 0004 (what the H200 run of this session had)                -> chat fails (0005, 0006)
#   tf451   all patches, transformers 4.51.3 (server/requirements.txt's pin)    -> expected to fail
set -u
START=$(date +%s)
BUDGET_S=${BUDGET_S:-560}
DEADLINE=$((START + BUDGET_S))
R=$(pwd)
HERE=$R/images/ktransformers/gpu-proof
PATCHES=$R/images/ktransformers/patches
W=${W:-/tmp/ktproof}
LOG=$W/logs
mkdir -p "$W" "$LOG" "$W/build"
STAGES=${*:-full vanilla p1 p12 p123 p1234 tf451}
PORT=30000

left() { echo $((DEADLINE - $(date +%s))); }
apply_patch() {  # [--check] PATCH, in the current directory (a KTransformers tree)
  if command -v git > /dev/null; then git apply "$@"
  elif [ "$1" = --check ]; then patch -p1 --dry-run -s < "$2"
  else patch -p1 -s < "$1"; fi
}
say() { echo "[$(date +%T) +$(($(date +%s) - START))s] $*" | tee -a "$LOG/summary.txt"; }
save_out() {
  [ -n "${OUT:-}" ] || return 0
  tar -C "$W" -czf "$OUT/logs.tar.gz" logs 2>/dev/null
  cp "$LOG/summary.txt" "$OUT/summary.txt" 2>/dev/null
  [ -f "$LOG/server-full.log" ] && grep -a -v "^Injecting\|^loading" "$LOG/server-full.log" | tail -c 2000000 > "$OUT/server-full.log"
  for f in "$W"/src/*.so; do [ -f "$f" ] || continue; b=$(basename "$f" | cut -d. -f1)
    [ -f "$W/so-$b.tar.xz" ] || tar -C "$W/src" -cJf "$W/so-$b.tar.xz" "$(basename "$f")"; cp "$W/so-$b.tar.xz" "$OUT/"; done
  true
}
trap save_out EXIT

# ------------------------------------------------------------------ environment
if [ ! -f "$W/env.done" ]; then
  {
    echo "== date"; date -u
    echo "== nvidia-smi"; nvidia-smi
    echo "== python"; command -v python3; python3 -VV
    python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'gpu', torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))"
    echo "== nvcc"; command -v nvcc; nvcc --version | tail -2
    echo "== cmake"; cmake --version | head -1; echo "== gcc"; gcc --version | head -1
    echo "== ninja"; ninja --version
    echo "== cpu"; nproc; lscpu | grep -E "Model name|Socket|NUMA node\(s\)"; free -g | head -2
    echo "== cpu flags (avx512/amx)"; grep -m1 -o -E "avx512[a-z_0-9]*|amx[a-z_0-9]*|avx2" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
    echo "== Python.h"; python3 -c "import sysconfig,os; p=sysconfig.get_paths()['include']; print(p, os.path.exists(p+'/Python.h'))"
    echo "== numactl"; command -v numactl || echo "numactl: not installed"
    echo "== pip (device)"; python3 -m pip list 2>/dev/null | grep -i -E "^(torch|triton|transformers|tokenizers|huggingface.hub|accelerate|numpy|wheel|setuptools|pybind11|ninja|cmake|fastapi|uvicorn|pydantic) "
  } > "$LOG/env.txt" 2>&1
  touch "$W/env.done"
fi
say "env: $(grep -m1 'torch ' "$LOG/env.txt")"

# CPU ISA as in the image (avx512 flavour = CPU_INSTRUCT AVX512), if this CPU has it
if grep -q avx512bw /proc/cpuinfo && grep -q avx512vl /proc/cpuinfo; then CPUI=AVX512; else CPUI=AVX2; fi
PYINC=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['include'])")
if [ ! -f "$PYINC/Python.h" ]; then
  export CPATH="$R/.gpu-carry/pyinc/include/python3.12:$R/.gpu-carry/pyinc/include${CPATH:+:$CPATH}"
  export CMAKE_ARGS_PY="-DPYTHON_INCLUDE_DIR=$R/.gpu-carry/pyinc/include/python3.12"
  say "no Python.h in $PYINC: using carried Ubuntu libpython3.12-dev headers"
fi

# ------------------------------------------------------------------ wheels
if [ ! -f "$W/site.done" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$W/site" "$R"/.whl/*.whl \
    > "$LOG/pip.txt" 2>&1 && \
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$W/tf451" "$R"/.whl/tf451/*.whl \
    >> "$LOG/pip.txt" 2>&1 && touch "$W/site.done" || { say "pip install FAILED"; tail -20 "$LOG/pip.txt"; }
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

# ------------------------------------------------------------------ tiny model
if [ ! -f "$W/model.done" ]; then
  PYTHONPATH=$W/site python3 "$HERE/make_tiny_model.py" --out "$W/models" --kt-src "$R/.gpu-carry/kt-src" \
    > "$LOG/make_tiny_model.txt" 2>&1 && touch "$W/model.done"
  say "tiny model: $(tail -1 "$LOG/make_tiny_model.txt")"
fi

# ------------------------------------------------------------------ build (background, survives the call)
EXTS="cpuinfer_ext KTransformersOps vLLMMarlin"
# Prebuilt extensions (.gpu-carry/prebuilt/so-*.tar.xz, from an earlier run of this script on the same
# image) skip the ~12-minute build; without them everything is compiled here.
if [ ! -f "$W/build/done" ] && ls "$R"/.gpu-carry/prebuilt/so-*.tar.xz > /dev/null 2>&1; then
  mkdir -p "$W/so" && for f in "$R"/.gpu-carry/prebuilt/so-*.tar.xz; do tar -xJf "$f" -C "$W/so"; done
  rm -rf "$W/src" && cp -a "$R/.gpu-carry/kt-src" "$W/src"
  (cd "$W/src" && for p in "$PATCHES"/*.patch; do apply_patch --check "$p" && echo "apply --check OK: $(basename "$p")"; done) \
    > "$LOG/patch-check.txt" 2>&1
  say "$(tr '\n' ';' < "$LOG/patch-check.txt")"
  (cd "$W/so" && sha256sum *.so) | tee -a "$LOG/summary.txt"
  say "using prebuilt extensions from .gpu-carry/prebuilt (no build)"
  touch "$W/build/src.done" "$W/build/done"
  for e in $EXTS; do echo 0 > "$W/build/$e.rc"; done
fi
if [ ! -f "$W/build/src.done" ]; then
  rm -rf "$W/src" && cp -a "$R/.gpu-carry/kt-src" "$W/src"
  (cd "$W/src" && for p in "$PATCHES"/*.patch; do apply_patch --check "$p" && echo "apply --check OK: $(basename "$p")"; done) \
    > "$LOG/patch-check.txt" 2>&1
  say "$(tr '\n' ';' < "$LOG/patch-check.txt")"
  touch "$W/build/src.done"
fi
if [ ! -f "$W/build/isa.done" ]; then
  # as the image does (Dockerfile: pin-isa.sh "${KT_CPU_FLAVOUR}"): the avx512 flavour's ISA, not the
  # build host's (csrc/ktransformers_ext/CMakeLists.txt greps lscpu for "amx")
  (cd "$W/src" && bash "$R/images/ktransformers/pin-isa.sh" avx512 "$W/isa-bin") >> "$LOG/summary.txt" 2>&1 && touch "$W/build/isa.done"
fi
[ -f "$W/build/started" ] || date +%s > "$W/build/started"
for e in $EXTS; do
  [ -f "$W/build/$e.rc" ] || [ -f "$W/build/$e.launched" ] && continue
  touch "$W/build/$e.launched"; date +%s > "$W/build/$e.t0"
  # in its own session, so that it outlives this call if the call ends first (the next call waits)
  ( cd "$W/src" && exec env -u USE_NUMA -u USE_BALANCE_SERVE PATH="$W/isa-bin:$PATH" \
      CPU_INSTRUCT=$CPUI KTRANSFORMERS_FORCE_BUILD=TRUE TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 \
      CMAKE_BUILD_PARALLEL_LEVEL=16 CMAKE_POLICY_VERSION_MINIMUM=3.5 \
      CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90 ${CMAKE_ARGS_PY:-}" E=$e B=$W/build L=$LOG/build-$e.log \
      setsid bash -c 'python3 "$0" "$E" > "$L" 2>&1; echo $? > "$B/$E.rc.tmp"; date +%s > "$B/$E.end"; mv "$B/$E.rc.tmp" "$B/$E.rc"' \
      "$HERE/build_one.py" ) &
  say "build $e started: CPU_INSTRUCT=$CPUI (lscpu shim: avx512 flavour) TORCH_CUDA_ARCH_LIST=9.0, USE_NUMA/USE_BALANCE_SERVE unset"
done
while :; do
  n=0; for e in $EXTS; do [ -f "$W/build/$e.rc" ] && n=$((n + 1)); done
  [ $n -eq 3 ] && break
  if [ "$(left)" -lt 20 ]; then
    say "build still running ($n/3 done); call again to continue"
    for e in $EXTS; do echo "--- $e"; tail -c 600 "$LOG/build-$e.log"; echo; done
    exit 3
  fi
  sleep 5
done
if [ ! -f "$W/build/done" ]; then
  t0=$(cat "$W/build/started")
  for e in $EXTS; do say "build $e: rc=$(cat "$W/build/$e.rc") after $(( $(cat "$W/build/$e.end") - $(cat "$W/build/$e.t0" 2>/dev/null || echo $t0) ))s"; done
  for e in $EXTS; do [ "$(cat "$W/build/$e.rc")" = 0 ] || { say "BUILD FAILED: $e"; tail -40 "$LOG/build-$e.log"; exit 4; }; done
  mkdir -p "$W/so" && cp "$W/src"/*.so "$W/so/" && ls -la "$W/so" | tee -a "$LOG/summary.txt"
  touch "$W/build/done"
fi

# ------------------------------------------------------------------ the server, as the chart starts it
mkdir -p "$W/bin"
cat > "$W/bin/ktransformers" <<'EOF'
#!/usr/bin/env python3
# the `ktransformers` console script of the wheel (pyproject: ktransformers.server.main:main)
import sys
from ktransformers.server.main import main
sys.exit(main())
EOF
chmod +x "$W/bin/ktransformers"
NUMA=""; command -v numactl > /dev/null && NUMA="numactl --interleave=all"
# chart args (render-leviathan-args.json), scaled to this machine: paths to the tiny model, --cpu_infer
# = cores - 2 (the chart: 96 cores, 94), the one-GPU rules; everything else verbatim.
CPU_INFER=$(( $(nproc) - 2 ))
ARGS=(--host 0.0.0.0 --port $PORT --model_path "$W/models/config" --gguf_path "$W/models/gguf"
      --model_name deepseek-v3 --cpu_infer $CPU_INFER --backend_type ktransformers --cache_lens 32768
      --max_new_tokens 2048 --chunk_size 256 --max_batch_size 4
      --optimize_config_path "$R/.gpu-carry/rules/rules-1gpu.yaml")
echo "${NUMA:+$NUMA }ktransformers ${ARGS[*]}" > "$LOG/args.txt"

run_stage() {  # name, transformers site, patches...
  local name=$1 tf=$2; shift 2
  local need=${NEED:-150}
  if [ "$(left)" -lt "$need" ]; then say "stage $name: skipped, $(left)s left"; return; fi
  local S=$W/stage-$name
  rm -rf "$S" && mkdir -p "$S" && cp -a "$W/src/ktransformers" "$S/"
  for p in "$@"; do (cd "$S" && apply_patch "$PATCHES/$p") || { say "stage $name: patch $p does not apply"; return; }; done
  export HOME=$S/home; mkdir -p "$HOME"
  local PP=$S:$W/so:$HERE/shims:$tf:$W/site
  say "stage $name: patches [${*:-none}], transformers from $(basename "$tf")"
  # the session leader's pid is written by the process that then becomes the server (exec), so
  # `kill -- -PID` below reaches the whole server session whatever job control the caller uses
  (cd "$S" && PYTHONPATH=$PP setsid bash -c 'echo $$ > pid; exec "$@"' ktransformers-stage $NUMA "$W/bin/ktransformers" "${ARGS[@]}" \
     > "$LOG/server-$name.log" 2>&1 &)
  local t0; t0=$(date +%s); local up=0 pid=""
  while [ $(( $(date +%s) - t0 )) -lt 150 ] && [ "$(left)" -gt 30 ]; do
    [ -z "$pid" ] && [ -s "$S/pid" ] && pid=$(cat "$S/pid")
    if curl -sf -o "$LOG/models-$name.json" "http://127.0.0.1:$PORT/v1/models"; then up=1; break; fi
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break
    sleep 1
  done
  local t1; t1=$(date +%s)
  if [ $up = 1 ]; then
    say "stage $name: GET /v1/models answered $((t1 - t0))s after the start: $(cat "$LOG/models-$name.json")"
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader > "$LOG/smi-$name-loaded.txt"
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader >> "$LOG/smi-$name-loaded.txt"
    say "stage $name: nvidia-smi after load: $(tr '\n' ';' < "$LOG/smi-$name-loaded.txt")"
    local n=0 body
    # a client-style request (max_tokens 32), then one without max_tokens (runs to --max_new_tokens)
    for body in '{"model":"deepseek-v3","messages":[{"role":"user","content":"Hello, who are you?"}],"max_tokens":32,"stream":false}' \
                '{"model":"deepseek-v3","messages":[{"role":"user","content":"Tell me a long story."}],"stream":false}'; do
      n=$((n + 1))
      [ "$(left)" -gt 40 ] || { say "stage $name: chat $n skipped, $(left)s left"; break; }
      local ts; ts=$(date +%s.%N)
      curl -s -m $(( $(left) > 200 ? 180 : $(left) - 20 )) -o "$LOG/chat-$name-$n.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$PORT/v1/chat/completions" > "$LOG/chat-$name-$n.code"
      local te; te=$(date +%s.%N)
      say "stage $name: chat $n $body -> HTTP $(cat "$LOG/chat-$name-$n.code") in $(python3 -c "print(round($te-$ts,2))")s: $(head -c 700 "$LOG/chat-$name-$n.json")"
    done
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader > "$LOG/smi-$name-after-chat.txt"
    say "stage $name: nvidia-smi after the requests: $(cat "$LOG/smi-$name-after-chat.txt")"
  else
    say "stage $name: server did not answer /v1/models (alive: $([ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo yes || echo no), $((t1 - t0))s)"
  fi
  grep -a -n -E "Error|error:|Traceback|raise |Exception" "$LOG/server-$name.log" | grep -v -E "DEBUG|debug" | head -8 | sed "s/^/  [$name] /" | tee -a "$LOG/summary.txt"
  if [ -n "$pid" ]; then kill -- -"$pid" 2>/dev/null; sleep 3; kill -9 -- -"$pid" 2>/dev/null; fi
  while curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/models" && [ "$(left)" -gt 5 ]; do sleep 1; done
  cp -r "$HOME/.ktransformers/logs" "$LOG/ktlogs-$name" 2>/dev/null
  true
}

for st in $STAGES; do
  case $st in
    full)    NEED=${FULL_NEED:-240} run_stage full    "$W/site" $(cd "$PATCHES" && ls *.patch) ;;
    vanilla) NEED=90  run_stage vanilla "$W/site" ;;
    p1)      NEED=120 run_stage p1      "$W/site" $(cd "$PATCHES" && ls 0001-*.patch) ;;
    p12)     NEED=150 run_stage p12     "$W/site" $(cd "$PATCHES" && ls 0001-*.patch 0002-*.patch) ;;
    p123)    NEED=150 run_stage p123    "$W/site" $(cd "$PATCHES" && ls 0001-*.patch 0002-*.patch 0003-*.patch) ;;
    p1234)   NEED=150 run_stage p1234   "$W/site" $(cd "$PATCHES" && ls 0001-*.patch 0002-*.patch 0003-*.patch 0004-*.patch) ;;
    tf451)   NEED=120 run_stage tf451   "$W/tf451" $(cd "$PATCHES" && ls *.patch) ;;
  esac
done
say "done, $(left)s of the budget left"
