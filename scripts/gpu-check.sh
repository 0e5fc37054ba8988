#!/usr/bin/env bash
# The GPU suite and the examples under compute-sanitizer's four tools: memcheck (with
# --leak-check full), racecheck, synccheck and initcheck, API-error reporting left on. Fails on
# any error any tool reports, or on any failing test or example.
#
# Two steps, since the GPU machine has CUDA but no Rust:
#   bash scripts/gpu-check.sh stage      # here: build the GPU suite and the examples, strip them and
#                                        # pack them into .device/gpu-check.tar.xz (git-ignored)
#   bash scripts/gpu-check.sh run        # there, from the repository root: unpack and check
#   bash scripts/gpu-check.sh python     # there: the Python GPU tests and benches (staged with
#                                        # GPU_CHECK_PYTHON=1), logs in $OUT/python
#
# `run` takes executables already on PATH (`gpu`, the examples) when there is no archive.
# Environment: GPU_CHECK_BENCHES=1 (stage: also pack the release benches gpu_bench,
# fused_bench and gemm_bench, and the sgemm example), GPU_CHECK_PYTHON=1 (stage: also the Python module and the example extension, release,
# as gpujit.abi3.so and my_kernels.abi3.so), GPU_CHECK_TOOLS (default: the four), GPU_CHECK_OUT (logs; default $OUT, else a
# temporary folder), GPU_CHECK_THREADS (test threads, default 1: see below), GPUJIT_FUZZ_KERNELS (the
# suite's fuzzing case under the sanitizers, default 40).
set -uo pipefail
cd "$(dirname "$0")/.."
examples=(quickstart matmul histogram block_sum stencil mandelbrot expressions streams monte_carlo)
archive=.device/gpu-check.tar.xz

stage() {
    set -e
    source scripts/setup.sh
    gpujit_setup
    cargo build --examples
    local json dir
    json=$(mktemp)
    cargo test -p gpujit --test gpu --no-run --message-format=json-render-diagnostics >"$json"
    local suite
    suite=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu": print(m["executable"])
' "$json")
    rm -f "$json"
    dir=$(mktemp -d)
    strip -o "$dir/gpu" "$suite"
    for e in "${examples[@]}"; do strip -o "$dir/$e" "target/debug/examples/$e"; done
    local extra=()
    if [ "${GPU_CHECK_BENCHES:-0}" = 1 ]; then
        # The GPU benches too (release), in the same archive: `gpu_bench` and `fused_bench` on PATH.
        json=$(mktemp)
        cargo bench --no-run --bench gpu_bench --bench fused_bench --bench gemm_bench --message-format=json-render-diagnostics >"$json"
        while read -r exe; do
            local name
            name=$(basename "$exe" | sed 's/-[0-9a-f]\{16\}$//')
            strip -o "$dir/$name" "$exe"
            extra+=("$name")
        done < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])
' "$json")
        rm -f "$json"
        # The SGEMM example too (release; not under the sanitizers, whose racecheck would take
        # minutes over its shared-memory tiles).
        cargo build --release --example sgemm
        strip -o "$dir/sgemm" target/release/examples/sgemm
        extra+=(sgemm)
    fi
    if [ "${GPU_CHECK_PYTHON:-0}" = 1 ]; then
        cargo build --release -p gpujit-python --features extension-module
        cargo build --release -p gpujit-extension-example --features extension-module
        strip -o "$dir/gpujit.abi3.so" target/release/libgpujit_python.so
        strip -o "$dir/my_kernels.abi3.so" target/release/libmy_kernels.so
        extra+=(gpujit.abi3.so my_kernels.abi3.so)
    fi
    mkdir -p .device "$(git rev-parse --git-path info)"
    grep -qxF "/.device/" "$(git rev-parse --git-path info/exclude)" 2>/dev/null || echo "/.device/" >>"$(git rev-parse --git-path info/exclude)"
    # One stream with a window past a whole executable: the LLVM they share is stored once.
    (cd "$dir" && tar cf - gpu "${examples[@]}" "${extra[@]}") | xz -T1 -3 --lzma2=dict=128MiB,mf=hc4 >"$archive"
    rm -rf "$dir"
    echo "gpu-check: staged $(du -h "$archive" | cut -f1) in $archive"
}

run() {
    command -v compute-sanitizer >/dev/null || { echo "gpu-check: compute-sanitizer is not on PATH" >&2; return 2; }
    local bin out
    if [ -f "$archive" ]; then
        bin=$(mktemp -d)
        xz -dc "$archive" | tar xf - -C "$bin"
        export PATH="$bin:$PATH"
    fi
    command -v gpu >/dev/null || { echo "gpu-check: the GPU suite (gpu) is not staged" >&2; return 2; }
    out=${GPU_CHECK_OUT:-${OUT:-$(mktemp -d)}}
    mkdir -p "$out"
    export GPUJIT_REQUIRE_GPU=1 GPUJIT_FUZZ_KERNELS=${GPUJIT_FUZZ_KERNELS:-40}
    # Tests that run a sanitizer on a child of their own skip themselves under these tools.
    export GPUJIT_UNDER_SANITIZER=1
    # Exact allocations, so memcheck sees each array's extent (not its memory cache size class).
    export GPUJIT_MEMORY_CACHE=off
    # Compiled kernels come from the compiler, not from an earlier run's disk cache.
    export GPUJIT_CACHE_DIR
    GPUJIT_CACHE_DIR=$(mktemp -d)
    local tools=${GPU_CHECK_TOOLS:-memcheck racecheck synccheck initcheck}
    local threads=${GPU_CHECK_THREADS:-1}
    local failed=0 total=0
    for tool in $tools; do
        local flags=(--tool "$tool" --error-exitcode 99 --print-limit 200)
        [ "$tool" = memcheck ] && flags+=(--leak-check full)
        # The tools wait for the device around launches, and a device-wide wait while a test
        # captures a CUDA graph invalidates the capture (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED),
        # so under a sanitizer the tests run one at a time unless GPU_CHECK_THREADS says more.
        local t=$threads
        # Each tool runs the suite and every example; the tools run side by side.
        (
            compute-sanitizer "${flags[@]}" gpu --test-threads="$t" >"$out/$tool.gpu.log" 2>&1
            echo $? >"$out/$tool.gpu.rc"
            for e in "${examples[@]}"; do
                if command -v "$e" >/dev/null; then
                    compute-sanitizer "${flags[@]}" "$e" >"$out/$tool.$e.log" 2>&1
                    echo $? >"$out/$tool.$e.rc"
                fi
            done
        ) &
    done
    wait
    printf '%-10s %-12s %8s %s\n' tool program errors status
    for tool in $tools; do
        for log in "$out/$tool".*.log; do
            local prog errors rc status
            prog=$(basename "$log" .log)
            prog=${prog#"$tool".}
            rc=$(cat "${log%.log}.rc" 2>/dev/null || echo "?")
            # "ERROR SUMMARY: N errors" (racecheck: "RACECHECK SUMMARY: ... (N errors, ...)") once
            # per process, the suite's child processes too; the tool's own internal errors count.
            errors=$( (grep -ho 'ERROR SUMMARY: [0-9]*' "$log" | awk '{ print $3 }'
                grep -ho 'RACECHECK SUMMARY: .*(\([0-9]*\) error' "$log" | sed 's/.*(\([0-9]*\) error.*/\1/'
                grep -c 'Internal Sanitizer Error' "$log") | awk '{ s += $1 } END { print s + 0 }')
            status=ok
            if [ "$errors" != 0 ]; then status="sanitizer errors"; fi
            if [ "$rc" != 0 ] && [ "$errors" = 0 ]; then status="failed (exit $rc)"; fi
            if grep -q '^test result: FAILED' "$log"; then status="tests failed"; fi
            [ "$status" = ok ] || failed=1
            total=$((total + errors))
            printf '%-10s %-12s %8s %s\n' "$tool" "$prog" "$errors" "$status"
        done
    done
    echo "gpu-check: $total sanitizer error(s) in all; logs in $out"
    return $failed
}

run_python() {
    local bin out
    bin=$(mktemp -d)
    xz -dc "$archive" | tar xf - -C "$bin"
    [ -f "$bin/gpujit.abi3.so" ] || { echo "gpu-check: stage with GPU_CHECK_PYTHON=1 first" >&2; return 2; }
    out=${GPU_CHECK_OUT:-${OUT:-$(mktemp -d)}}/python
    mkdir -p "$out"
    local failed=0
    for t in python/tests/test_gpu_producers.py python/tests/test_arrays.py python/examples/extension/tests/test_extension.py; do
        (cd "$bin" && GPUJIT_DEVICE=cuda GPUJIT_REQUIRE_GPU=1 PYTHONPATH="$bin" timeout 300 python3 "$OLDPWD/$t") >"$out/$(basename "$t" .py).log" 2>&1 || failed=1
        tail -1 "$out/$(basename "$t" .py).log"
    done
    (cd "$bin" && PYTHONPATH="$bin" timeout 300 python3 "$OLDPWD/python/benches/bench_python.py") 2>&1 | tee "$out/bench_python.log"
    return $failed
}

case ${1:-} in
    stage) stage ;;
    run) run ;;
    python) run_python ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
esac
