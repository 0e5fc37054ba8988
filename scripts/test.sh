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
cargo test --workspace
cargo build --benches
./target/debug/examples/quickstart
