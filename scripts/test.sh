#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite on the CPU backend: every kernel against
# plain Rust, every test kernel's PTX through ptxas (sm_80, sm_90), the macro error tests, and the
# quick-start example. The GPU suite is separate: `cargo test --test gpu` on a machine with a GPU.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
gpujit_setup
gpujit_setup_ptxas
cd "$gpujit_root"
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all -- --check; fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
cargo build --benches
./target/debug/examples/quickstart
# One closing line for the whole run: cargo prints a summary per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
