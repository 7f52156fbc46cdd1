#!/usr/bin/env bash
# Runs on the GPU machine from the repo root, with .gpu-carry-llama/ (prepare.sh) beside it:
#   images/llama-cpp/gpu-proof/device.sh
# 1. builds llama-server from the pinned sources with the Dockerfile's build-cuda CMake flags
#    (CMAKE_CUDA_ARCHITECTURES=90a-real only: the H200; the image builds seven architectures),
#    in the background (setsid), so a second call continues where the first stopped;
# 2. meanwhile writes a random-weight Qwen3-MoE GGUF of a few GB (../tiny_moe_gguf.py);
# 3. runs llama-server with the chart's arguments (-ngl all, -ot experts to CPU) and, for comparison,
#    with every tensor on the GPU: /health until 200, /v1/models, a chat completion, and records
#    VRAM (nvidia-smi), RSS, load time and the server's own tokens/s (`timings` in the response).
set -u
START=$(date +%s); BUDGET_S=${BUDGET_S:-560}; DEADLINE=$((START + BUDGET_S))
R=$(pwd); HERE=$R/images/llama-cpp/gpu-proof; C=$R/.gpu-carry-llama
W=${W:-/tmp/llamaproof}; LOG=$W/logs; mkdir -p "$LOG"
left() { echo $((DEADLINE - $(date +%s))); }
say() { echo "[$(date +%T) +$(($(date +%s) - START))s] $*" | tee -a "$LOG/summary.txt"; }
save_out() { [ -n "${OUT:-}" ] && { cp "$LOG"/*.txt "$LOG"/*.json "$OUT/" 2>/dev/null; tail -c 300000 "$LOG/build.log" > "$OUT/build-tail.log" 2>/dev/null; }; true; }
trap save_out EXIT

if [ ! -f "$W/src.done" ]; then
  mkdir -p "$W/src" && tar -xzf "$C/llama-src.tar.gz" -C "$W/src" && touch "$W/src.done"
  { nvidia-smi; nvcc --version | tail -2; gcc --version | head -1; cmake --version | head -1; nproc; free -g; } > "$LOG/env.txt" 2>&1
  say "env: $(nvcc --version | tail -1); $(gcc --version | head -1); $(nproc) cores"
fi
S=$W/src/llama.cpp
if [ ! -f "$W/build.launched" ]; then
  touch "$W/build.launched"; date +%s > "$W/build.t0"
  ( cd "$S" && setsid bash -c '
      cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=OFF -DGGML_CUDA=ON -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90a-real \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_USE_PREBUILT_UI=OFF \
        -DLLAMA_BUILD_NUMBER=11312 -DLLAMA_BUILD_COMMIT=0c1e57098bba43ac29e6e3b677cdceebdd22334f \
        -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined \
      && cmake --build build --config Release --target llama-server -j"$(nproc)"
      echo $? > "$0/build.rc.tmp"; date +%s > "$0/build.t1"; mv "$0/build.rc.tmp" "$0/build.rc"' "$W" > "$LOG/build.log" 2>&1 & )
  say "build started (Dockerfile build-cuda flags, CMAKE_CUDA_ARCHITECTURES=90a-real)"
fi
MODEL=$W/moe.gguf
# The few-GB shape of the README's figures (tiny_moe_gguf.py defaults to the e2e's ~1 MB model).
GPU_SHAPE="--layers 8 --embd 2048 --heads 16 --kv-heads 4 --head-dim 128 --experts 64 --experts-used 8 --expert-ffn 768 --vocab 4096"
if [ ! -f "$W/model.done" ]; then
  PYTHONPATH=$S/gguf-py:$C/site python3 "$HERE/../tiny_moe_gguf.py" "$MODEL" ${MODEL_ARGS:-$GPU_SHAPE} > "$LOG/model.txt" 2>&1 \
    && touch "$W/model.done"
  say "model: $(tail -1 "$LOG/model.txt"); $(du -h "$MODEL" | cut -f1)"
fi
while [ ! -f "$W/build.rc" ]; do
  [ "$(left)" -lt 30 ] && { say "build still running ($(grep -c '\] Building' "$LOG/build.log") objects so far); call again"; exit 3; }
  sleep 5
done
[ -f "$W/build.reported" ] || { say "build rc=$(cat "$W/build.rc") in $(( $(cat "$W/build.t1") - $(cat "$W/build.t0") ))s"; touch "$W/build.reported"; }
[ "$(cat "$W/build.rc")" = 0 ] || { tail -30 "$LOG/build.log"; exit 4; }
BIN=$S/build/bin
say "binary: $(cd / && "$BIN/llama-server" --version 2>&1 | tr '\n' ' ')"
ls -la "$BIN" > "$LOG/bin-ls.txt"

THREADS=$(( $(nproc) - 2 ))
run() {  # name, extra args...
  local name=$1; shift
  [ "$(left)" -lt 90 ] && { say "$name: skipped, $(left)s left"; return; }
  local t0; t0=$(date +%s.%N)
  ( cd / && setsid bash -c 'echo $$ > '"$W/$name.pid"'; exec "$@"' llama "$BIN/llama-server" "$@" > "$LOG/server-$name.txt" 2>&1 & )
  local first503="" code pid=""
  while :; do
    [ -z "$pid" ] && [ -s "$W/$name.pid" ] && pid=$(cat "$W/$name.pid")
    code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health)
    [ "$code" = 503 ] && [ -z "$first503" ] && first503=$(python3 -c "import time; print(round(time.time()-$t0,2))")
    [ "$code" = 200 ] && break
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && { say "$name: server exited"; tail -20 "$LOG/server-$name.txt"; return; }
    [ "$(left)" -lt 40 ] && { say "$name: not ready in time"; break; }
    sleep 0.2
  done
  local ready; ready=$(python3 -c "import time; print(round(time.time()-$t0,2))")
  say "$name: /health 503 first at ${first503:-never}s, 200 at ${ready}s after exec"
  say "$name: /v1/models $(curl -s http://127.0.0.1:8080/v1/models | head -c 300)"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader > "$LOG/smi-$name.txt"
  say "$name: VRAM used $(cat "$LOG/smi-$name.txt"); server RSS $(ps -o rss= -p "$pid" | awk '{printf "%.2f GiB", $1/1048576}')"
  local body='{"model":"kimi-k2","messages":[{"role":"user","content":"Write a long story about a lighthouse."}],"max_tokens":256,"temperature":0.6,"min_p":0.01,"ignore_eos":true}'
  curl -s -o "$LOG/chat-$name.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
    http://127.0.0.1:8080/v1/chat/completions > "$LOG/chat-$name.code"
  say "$name: chat HTTP $(cat "$LOG/chat-$name.code"): $(python3 -c "
import json,sys; d=json.load(open('$LOG/chat-$name.json')); t=d.get('timings',{}); u=d.get('usage',{})
print('usage', u, 'prompt tok/s', round(t.get('prompt_per_second',0),1), 'decode tok/s', round(t.get('predicted_per_second',0),1), 'text', repr(d['choices'][0]['message']['content'][:80]))" 2>&1)"
  say "$name: VRAM after chat $(nvidia-smi --query-gpu=memory.used --format=csv,noheader); RSS $(ps -o rss= -p "$pid" | awk '{printf "%.2f GiB", $1/1048576}')"
  grep -E "offload|CPU_Mapped|CUDA0 model buffer|CPU model buffer|KV buffer|compute buffer|load_tensors|n_ctx|slots" "$LOG/server-$name.txt" | head -20 | sed "s/^/  [$name] /" | tee -a "$LOG/summary.txt"
  kill -- -"$pid" 2>/dev/null; sleep 2; kill -9 -- -"$pid" 2>/dev/null
  while curl -s -o /dev/null http://127.0.0.1:8080/health; do sleep 0.5; done
}
COMMON=(--model "$MODEL" -c 16384 -np 1 --temp 0.6 --min-p 0.01 --jinja -t "$THREADS" --host 0.0.0.0 --port 8080 --alias kimi-k2 --metrics)
run offload -ngl 999 -ot '\.ffn_(up|down|gate)_exps\.=CPU' "${COMMON[@]}"
run allgpu -ngl 999 "${COMMON[@]}"
say "done, $(left)s left"
