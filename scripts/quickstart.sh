#!/usr/bin/env bash
# Installs what is missing, then runs the quick-start example on the GPU if there is one, else on
# the CPU backend. It checks its own results.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
gpujit_setup
cd "$gpujit_root"
cargo run --release --example quickstart
