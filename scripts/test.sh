#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite on the CPU backend: every kernel against
# plain Rust, every test kernel's PTX through ptxas (sm_80, sm_90), the macro error tests, the
# quick-start example, and the Python module on NumPy arrays. The GPU suite is separate:
# `cargo test --test gpu` on a machine with a GPU.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
gpujit_setup
gpujit_setup_ptxas
cd "$gpujit_root"
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all -- --check; fi
# The test that takes a native backtrace inside a CPU-backend kernel runs it under gdb.
command -v gdb >/dev/null || apt_install gdb
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# python/ is tested from Python, below (its Rust test binary would need libpython to link).
cargo test --workspace --exclude gpujit-python --exclude gpujit-extension-example 2>&1 | tee "$log"
cargo build --benches
./target/debug/examples/quickstart
./target/debug/examples/expressions
./target/debug/examples/streams
./target/debug/examples/monte_carlo
# The register-tiled SGEMM against the host: edge tiles, an empty product, k not a multiple of BK.
./target/debug/examples/sgemm
./target/debug/examples/sgemm 129 1 9
./target/debug/examples/sgemm 3 5 0
./target/debug/examples/gemm_tensor_core
./target/debug/examples/gemm_tensor_core 129 1 9
./target/debug/examples/gemm_tensor_core 3 5 0
# Hopper's path (TMA, mbarrier, wgmma) on the CPU backend: a ragged size, one column.
./target/debug/examples/gemm_wgmma
./target/debug/examples/gemm_wgmma 129 1 8
# The Python package (python/): a wheel built by maturin (`pip wheel ./python`, release), installed
# into a fresh virtual environment and tested there on NumPy arrays.
command -v python3 >/dev/null || apt_install python3 python3-pip
python3 -c "import ensurepip, venv" 2>/dev/null || apt_install python3-venv
venv=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$venv"' EXIT
# System site packages: a NumPy installed by the system is used when pip cannot fetch one.
python3 -m venv --system-site-packages "$venv/env"
py="$venv/env/bin/python"
"$py" -c "import numpy" 2>/dev/null || "$py" -m pip install --quiet --disable-pip-version-check numpy 2>/dev/null || apt_install python3-numpy
"$py" -m pip wheel --quiet --disable-pip-version-check ./python -w "$venv/wheels"
"$py" -m pip install --quiet --disable-pip-version-check --no-index "$venv"/wheels/gpujit-*.whl
# The installed package, not a build tree, is what imports.
(cd "$venv" && "$py" -c "import gpujit, sys; assert gpujit.__file__.startswith(sys.prefix), gpujit.__file__; print('python: gpujit', gpujit.__version__, 'from', gpujit.__file__)")
(cd "$venv" && GPUJIT_DEVICE=cpu "$py" "$gpujit_root/python/tests/test_numpy.py") 2>&1 | tee -a "$log"
(cd "$venv" && GPUJIT_DEVICE=cpu "$py" "$gpujit_root/python/tests/test_arrays.py") 2>&1 | tee -a "$log"
# A user's extension with its own kernels (python/examples/extension, the template), built and
# installed as a user would, tested with NumPy arrays.
"$py" -m pip wheel --quiet --disable-pip-version-check ./python/examples/extension -w "$venv/wheels"
"$py" -m pip install --quiet --disable-pip-version-check --no-index "$venv"/wheels/my_kernels-*.whl
(cd "$venv" && GPUJIT_DEVICE=cpu "$py" "$gpujit_root/python/examples/extension/tests/test_extension.py") 2>&1 | tee -a "$log"
# One closing line for the whole run: cargo prints a summary per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
