#!/usr/bin/env bash
# The fuzzer's long run on a GPU machine: N random kernels (default 10000), each run on the GPU
# and on the CPU backend and compared with the oracle, split over P processes (default 8) with
# seeds BASE, BASE+1, ... (default BASE: 1). Uses the staged GPU suite (`gpu` on PATH, else
# .device/gpu-check.tar.xz from `scripts/gpu-check.sh stage`). Logs go to $OUT (else a temporary
# folder); exits non-zero on any mismatch.
#   bash scripts/gpu-fuzz.sh [N] [P] [BASE]
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000} procs=${2:-8} base=${3:-1}
if ! command -v gpu >/dev/null && [ -f .device/gpu-check.tar.xz ]; then
    bin=$(mktemp -d)
    xz -dc .device/gpu-check.tar.xz | tar xf - -C "$bin" gpu
    export PATH="$bin:$PATH"
fi
command -v gpu >/dev/null || { echo "gpu-fuzz: the GPU suite (gpu) is not staged" >&2; exit 2; }
out=${OUT:-$(mktemp -d)}/fuzz
mkdir -p "$out"
export GPUJIT_REQUIRE_GPU=1 GPUJIT_CACHE_DIR
GPUJIT_CACHE_DIR=$(mktemp -d)
each=$(((n + procs - 1) / procs))
for p in $(seq 0 $((procs - 1))); do
    GPUJIT_FUZZ_KERNELS=$each GPUJIT_FUZZ_SEED=$((base + p)) gpu differential_fuzzing --nocapture --test-threads=1 >"$out/fuzz.$p.log" 2>&1 &
done
wait
grep -h '^fuzz: [0-9]* kernels generated' "$out"/fuzz.*.log
kernels=$(grep -ho '^fuzz: [0-9]* kernels generated' "$out"/fuzz.*.log | awk '{ s += $2 } END { print s + 0 }')
bad=$(grep -ho '[0-9]* mismatch(es)' "$out"/fuzz.*.log | awk '{ s += $1 } END { print s + 0 }')
failed=$(grep -l '^test result: FAILED\|panicked' "$out"/fuzz.*.log | wc -l)
echo "gpu-fuzz: $kernels kernels on the GPU and the CPU backend, $bad mismatch(es), $failed failed process(es); logs in $out"
[ "$bad" = 0 ] && [ "$failed" = 0 ] && [ "$kernels" -ge "$n" ]
