#!/usr/bin/env bash
# Issue 10's GPU figures in one run on a bare NVIDIA machine (bench/gpu/README.md):
#   1. GoGrid's own CUDA build of the pinned llama.cpp release (scripts/build-cuda.ts, sm_90 here),
#      compiled in the background at nice 10 while step 2 runs;
#   2. the Vulkan prebuilt GoGrid ships: bench:engine (one stream, GoGrid vs the C loop) and
#      bench:batch (1, 16, 64 concurrent jobs vs the batched C loop), 1B-shape Q4_0 and Q8_0;
#   3. the same on the CUDA build.
# Needs .gpu/ and .gl/ from bench/gpu/prepare.sh and native/vendor/ (the headers) in the checkout.
# Writes everything under $OUT (the device tool brings it back) and a summary on stdout.
# GPU_STEPS: which steps to run (default "build vulkan cuda"). GPU_DEADLINE: seconds after which no
# bench step starts and a running one is cut short (default 470, for a 500 s device call); the
# build runs on in its own session.
set -u
OUT=${OUT:-/tmp/gogrid-gpu-out}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
W=/tmp/gogrid-gpu
STEPS=${GPU_STEPS:-build vulkan cuda}
mkdir -p "$OUT" "$W"
cd "$REPO" || exit 1
S=$OUT/summary.txt
say() { echo "[$(date +%T)] $*" | tee -a "$S"; }
has() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# seconds a step may take: at most $1, and no later than the deadline (0: do not start it)
budget() {
  local left=$((${GPU_DEADLINE:-470} - SECONDS))
  [ "$left" -lt 30 ] && { echo 0; return; }
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

# --- tools: bun, the Vulkan loader, the NVIDIA Vulkan driver, the CUDA toolkit ---------------------
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
[ -x "$W/bun" ] || { xz -dc .gpu/bun.xz > "$W/bun.tmp" && chmod +x "$W/bun.tmp" && mv "$W/bun.tmp" "$W/bun"; }
export PATH=$W:/usr/local/cuda/bin:$PATH
command -v cc >/dev/null || export CC=gcc
mkdir -p "$W/vulkan" "$W/src"
[ -f "$W/vulkan/libggml-base.so" ] || tar -C "$W/vulkan" -xJf .gpu/vulkan-libs.tar.xz
[ -f "$W/src/CMakeLists.txt" ] || tar -C "$W/src" -xJf .gpu/llama-src.tar.xz
say "machine: $(nproc) cores; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1); bun $(bun --version); $(nvcc --version 2>&1 | tail -1)"
export GOGRID_BENCH_NO_LOAD_CHECK=1 GOGRID_CACHE_DIR=$W/cache

# cuBLAS: the toolkit's, else the pip wheel's (linked through unversioned names made here)
extra=()
cublas=$(ls /usr/local/cuda/lib64/libcublas.so 2>/dev/null || true)
if [ -z "$cublas" ]; then
  lib=$(find / -xdev -name 'libcublas.so.*' -not -path '/proc/*' 2>/dev/null | head -1)
  inc=$(find / -xdev -name cublas_v2.h -not -path '/proc/*' 2>/dev/null | head -1)
  if [ -n "$lib" ] && [ -n "$inc" ]; then
    d=$(dirname "$lib")
    mkdir -p "$W/cublas"
    ln -sf "$lib" "$W/cublas/libcublas.so"
    ln -sf "$(ls "$d"/libcublasLt.so.* | head -1)" "$W/cublas/libcublasLt.so"
    # written --cmake-arg=-D...: as a separate word a value starting with "-" reads as a flag
    extra=("--cmake-arg=-DCUDA_cublas_LIBRARY=$W/cublas/libcublas.so" "--cmake-arg=-DCUDA_cublasLt_LIBRARY=$W/cublas/libcublasLt.so"
      "--cmake-arg=-DCMAKE_CUDA_FLAGS=-I$(dirname "$inc")" "--cmake-arg=-DCMAKE_CXX_FLAGS=-I$(dirname "$inc")")
    export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "cuBLAS from $d (headers $(dirname "$inc"))"
  else
    say "no cuBLAS found: the CUDA build will fail"
  fi
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The build runs in its own session (setsid), so it outlives this command: when it is not done in
# GPU_BUILD_UNTIL seconds into the run, a next call on the still-warm machine (GPU_STEPS=cuda) picks it up.
blog=$W/cuda-build.log
built() { [ -f "$blog" ] && grep -qx 'exit 0' "$blog"; }
if has build && ! built && ! { [ -f "$blog" ] && ! grep -q '^exit ' "$blog"; }; then
  say "CUDA build started (sm_90, nice 10)"
  jobs=$(($(nproc) - 2))
  [ "$jobs" -ge 1 ] || jobs=1
  setsid bash -c 'nice -n 10 "$@" > "$0" 2>&1; echo "exit $?" >> "$0"' "$blog" \
    bun scripts/build-cuda.ts --source "$W/src" --build-dir "$W/cb" --out "$W/cuda" --archs 90 --cpu native \
    --jobs "$jobs" ${extra[@]+"${extra[@]}"} < /dev/null > /dev/null 2>&1 &
fi
for t in q4_0 q8_0; do
  [ -f "bench-models/1b-$t.gguf" ] || bun scripts/make-gguf.ts --preset 1b --type "$t" > /dev/null
done

# --- the plan: backend:part[:model] items, run in order while time is left ----------------------
# (the CUDA items wait for the build first)
PLAN=${GPU_PLAN:-vulkan:engine vulkan:batch:q4_0 vulkan:batch:q8_0 cuda:engine cuda:batch:q4_0 cuda:batch:q8_0 cuda:mixed:q4_0 vulkan:mixed:q4_0}
waited=0
wait_build() {
  [ "$waited" = 1 ] && return
  waited=1
  [ -f "$blog" ] || return
  say "waiting for the CUDA build (until ${GPU_BUILD_UNTIL:-330} s into this run)"
  for _ in $(seq 50); do [ -f "$blog" ] && break; sleep 0.1; done # the build's session may not have made it yet
  [ -f "$blog" ] || return
  while [ "$SECONDS" -lt "${GPU_BUILD_UNTIL:-330}" ] && ! grep -q '^exit ' "$blog"; do sleep 1; done
  cp "$blog" "$OUT/"
  say "CUDA build: $(grep -E '^(build-cuda: [0-9]+ libraries|exit )' "$blog" | tr '\n' ' ')"
}
for item in $PLAN; do
  IFS=: read -r backend part model <<< "$item"
  has "$backend" || continue
  dir=$W/$backend
  if [ "$backend" = cuda ]; then
    wait_build
    built || { say "$item: no finished CUDA build to measure"; continue; }
  fi
  if [ "$part" = engine ]; then
    t=$(budget 150)
    [ "$t" = 0 ] && { say "$item: out of time"; continue; }
    say "$item (≤ $t s)"
    GOGRID_LLAMA_LIB_DIR=$dir timeout "$t" bun native/bench/engine.ts --backend "$backend" --models 1b-q4,1b \
      --no-node-llama-cpp --no-threadpool-loop --time-limit "$((t > 60 ? t - 30 : t / 2))" \
      > "$OUT/engine-$backend.txt" 2> "$OUT/engine-$backend.err"
    say "$item exit $?"
  elif [ "$part" = mixed ]; then
    # jobs of mixed lengths, with and without moving sequences into the holes finished jobs leave
    for holes in fill no-fill; do
      t=$(budget 100)
      [ "$t" = 0 ] && { say "$item $holes: out of time"; continue; }
      say "$item $holes (≤ $t s)"
      flag=$([ "$holes" = no-fill ] && echo --no-fill-holes)
      GOGRID_LLAMA_LIB_DIR=$dir timeout "$t" bun bench/batch.ts --backend "$backend" --model "bench-models/1b-$model.gguf" \
        --sequences 16,64 --reps 3 --mixed-lengths $flag > "$OUT/mixed-$holes-$backend-$model.txt" 2>> "$OUT/batch-$backend.err"
      say "$item $holes exit $?"
    done
  else
    t=$(budget 120)
    [ "$t" = 0 ] && { say "$item: out of time"; continue; }
    say "$item (≤ $t s)"
    GOGRID_LLAMA_LIB_DIR=$dir timeout "$t" bun bench/batch.ts --backend "$backend" --model "bench-models/1b-$model.gguf" \
      --sequences 1,16,64 --reps 3 ${GPU_BATCH_FLAGS:-} > "$OUT/batch-$backend-$model.txt" 2>> "$OUT/batch-$backend.err"
    say "$item exit $?"
  fi
done
wait_build

# --- summary: the tables and JSON lines ------------------------------------------------------------
for f in "$OUT"/engine-*.txt "$OUT"/batch-*.txt "$OUT"/mixed-*.txt; do
  [ -f "$f" ] || continue
  echo "=== $(basename "$f")"
  grep -v '^\[' "$f" | tail -14
done
for f in "$OUT"/*.err; do [ -s "$f" ] && { echo "=== $(basename "$f") (last lines)"; tail -4 "$f"; }; done
