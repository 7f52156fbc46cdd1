#!/usr/bin/env bash
# Runs on the workstation (internet to package registries, no GPU). Fills two ignored folders of the
# repo root that the device call carries:
#   .gpu-carry/  kt-src/  KTransformers v0.4.1 (git archive of the pinned commit, docs/SFT/kt-kernel
#                         left out) with the two submodules the build needs (third_party/llama.cpp,
#                         third_party/pybind11), each exported at the tag's gitlink commit
#                pyinc/   Python 3.12 headers (Ubuntu noble libpython3.12-dev), used only if the
#                         device's python3 has none
#                rules/   the chart-rendered optimize rules, the adapted one-GPU rules, the args
#                prebuilt/ (optional, not made here) so-*.tar.xz that device.sh left in $OUT: lets a
#                         re-run skip the ~12-minute extension build
#   .whl/        Python wheels the device lacks (cp312 manylinux). Not typing_extensions: the device's
#                newer one is needed by its anyio (4.15.0 broke `import anyio` there).
#
# Needs: git, the mirrors of kvcache-ai/ktransformers, ggerganov/llama.cpp and pybind/pybind11 (KT_GIT,
# LLAMA_GIT, PYBIND_GIT: bare repos), helm (.venv/bin/helm), python3 with PyYAML, pip, curl.
set -euo pipefail
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
HERE=$ROOT/images/ktransformers/gpu-proof
KT_GIT=${KT_GIT:-/work/.mirror/kvcache-ai+ktransformers/repo}
LLAMA_GIT=${LLAMA_GIT:-/work/.mirror/ggerganov+llama.cpp/repo}
PYBIND_GIT=${PYBIND_GIT:-/work/.mirror/pybind+pybind11/repo}
KT_COMMIT=e40ba6dfae17ab24212ddcc6ab4b32594258f04d   # tag v0.4.1 (images/versions.yaml)
CARRY=$ROOT/.gpu-carry
WHL=$ROOT/.whl

test "$(git --git-dir="$KT_GIT" rev-parse 'v0.4.1^{commit}')" = "$KT_COMMIT"
# (.gpu-carry/prebuilt/, extensions a device run returned, is kept)
rm -rf "$CARRY/kt-src" "$CARRY/rules" "$CARRY/pyinc" && mkdir -p "$CARRY/kt-src" "$CARRY/rules" "$CARRY/pyinc"

# --- KTransformers at the pinned commit, trimmed to what setup.py needs without balance_serve
git --git-dir="$KT_GIT" archive "$KT_COMMIT" -- . ':!doc' ':!KT-SFT' ':!kt-kernel' ':!WeChatGroup.png' \
  ':!ktransformers/website' ':!ktransformers/tests' ':!merge_tensors' | tar -x -C "$CARRY/kt-src"
# --- submodules at the tag's gitlinks
sub_commit() { git --git-dir="$KT_GIT" ls-tree "$KT_COMMIT" "third_party/$1" | awk '{print $3}'; }
LLAMA_COMMIT=$(sub_commit llama.cpp); PYBIND_COMMIT=$(sub_commit pybind11)
echo "llama.cpp $LLAMA_COMMIT, pybind11 $PYBIND_COMMIT"
mkdir -p "$CARRY/kt-src/third_party/llama.cpp" "$CARRY/kt-src/third_party/pybind11"
# llama.cpp is built as a subproject (no tests/examples): leave out models, docs, GPU backends' kernels.
git --git-dir="$LLAMA_GIT" archive "$LLAMA_COMMIT" -- . ':!models' ':!media' ':!docs' ':!examples' ':!tests' \
  ':!kompute' ':!kompute-shaders' ':!ggml-sycl' ':!ggml-sycl.cpp' ':!ggml-vulkan-shaders.hpp' ':!vulkan-shaders' \
  ':!spm-headers' ':!pocs' ':!gguf-py' ':!grammars' ':!prompts' ':!.github' ':!.devops' ':!ggml-metal.metal' \
  ':!ggml-metal.m' ':!ggml-cuda' ':!ggml-cuda.cu' ':!convert-hf-to-gguf.py' ':!convert-llama-ggml-to-gguf.py' \
  ':!ggml-vulkan.cpp' ':!ggml-kompute.cpp' | tar -x -C "$CARRY/kt-src/third_party/llama.cpp"
git --git-dir="$PYBIND_GIT" archive "$PYBIND_COMMIT" -- . ':!docs' ':!tests' ':!.github' \
  | tar -x -C "$CARRY/kt-src/third_party/pybind11"
printf '%s\n' "ktransformers $KT_COMMIT" "third_party/llama.cpp $LLAMA_COMMIT" "third_party/pybind11 $PYBIND_COMMIT" \
  > "$CARRY/kt-src/SOURCE-COMMITS"

# --- Python 3.12 headers (fallback)
deb=/tmp/libpython3.12-dev.deb
[ -s $deb ] || curl -fsSL -o $deb \
  http://archive.ubuntu.com/ubuntu/pool/main/p/python3.12/libpython3.12-dev_3.12.3-1ubuntu0.9_amd64.deb
rm -rf /tmp/pydev && mkdir /tmp/pydev && dpkg-deb -x $deb /tmp/pydev
cp -a /tmp/pydev/usr/include "$CARRY/pyinc/"

# --- the chart's args and optimize rules (re-rendered from the repo as it is now)
cd "$ROOT"
.venv/bin/helm template t charts/ktransformers -f charts/ktransformers/profiles/leviathan.yaml \
  > "$CARRY/rules/render-leviathan.yaml"
.venv/bin/helm template t charts/ktransformers -f charts/ktransformers/profiles/leviathan.yaml \
  --set gpus.count=2 --set-json 'gpus.layerSplit=[1,2]' --set model.numLayers=3 > "$CARRY/rules/render-tiny.yaml"
python3 - "$CARRY/rules" <<'EOF'
import sys, yaml, json
d = sys.argv[1]
for name in ("render-leviathan", "render-tiny"):
    for doc in yaml.safe_load_all(open(f"{d}/{name}.yaml")):
        if not doc:
            continue
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("optimize-rules") and name == "render-tiny":
            open(f"{d}/rules-rendered.yaml", "w").write(doc["data"]["optimize-rules.yaml"] + "\n")
        if doc["kind"] == "Deployment":
            c = doc["spec"]["template"]["spec"]["containers"][0]
            json.dump({"command": c["command"], "args": c["args"]}, open(f"{d}/{name}-args.json", "w"), indent=1)
EOF
python3 "$HERE/adapt_rules.py" "$CARRY/rules/rules-rendered.yaml" "$CARRY/rules" | tee "$CARRY/rules/adapt.log"

# --- wheels (cp312, manylinux x86_64). Two transformers sets: 4.57.1 (what v0.4.1's code needs) and
# 4.51.3 (server/requirements.txt's pin), to show on the GPU which one works.
mkdir -p "$WHL" && rm -f "$WHL"/*.whl
PLAT="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_26_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any"
python3 -m pip download -q --no-deps --only-binary=:all: $PLAT -d "$WHL" \
  transformers==4.57.1 tokenizers==0.22.1 huggingface_hub==0.36.0 accelerate==1.11.0 \
  fastapi==0.121.0 starlette==0.49.3 uvicorn==0.38.0 openai==2.7.1 sqlalchemy==2.0.44 greenlet==3.2.4 \
  pyzmq==27.1.0 colorlog==6.10.1 fire==0.7.1 termcolor==3.2.0 pydantic==2.12.4 pydantic_core==2.41.5 \
  annotated-types==0.7.0 typing-inspection==0.4.2 distro==1.9.0 jiter==0.11.1 sniffio==1.3.1 \
  gguf==0.17.1
mkdir -p "$WHL/tf451"
python3 -m pip download -q --no-deps --only-binary=:all: $PLAT -d "$WHL/tf451" transformers==4.51.3 tokenizers==0.21.4
du -sh "$CARRY" "$WHL"
