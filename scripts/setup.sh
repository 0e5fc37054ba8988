# Sourced by scripts/quickstart.sh and scripts/test.sh: installs what a fresh Debian/Ubuntu machine
# lacks to build gpujit (LLVM 19's development package) and, with `--ptxas`, to check PTX without a
# GPU (ptxas, from NVIDIA's nvidia-cuda-nvcc-cu12 wheel, into .tools/). Idempotent.

gpujit_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup: need root to run: $*" >&2; return 1
    fi
}

apt_install() {
    local missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

gpujit_setup() {
    if ! command -v cargo >/dev/null; then
        echo "setup: cargo is missing: install Rust 1.80 or newer (https://rustup.rs), then run this again" >&2
        return 1
    fi
    # LLVM 19, linked statically into every gpujit binary (Debian 12 and Ubuntu 24.04 package it).
    if [ ! -x /usr/lib/llvm-19/bin/llvm-config ] || [ ! -f /usr/lib/llvm-19/lib/libLLVMCore.a ]; then
        apt_install llvm-19-dev libpolly-19-dev zlib1g-dev libzstd-dev libffi-dev libxml2-dev build-essential
    fi
    export LLVM_SYS_191_PREFIX=/usr/lib/llvm-19
}

gpujit_setup_ptxas() {
    local tools="$gpujit_root/.tools/nvcc"
    local ptxas="$tools/nvidia/cuda_nvcc/bin/ptxas"
    if [ ! -x "$ptxas" ]; then
        if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
        echo "setup: installing ptxas (nvidia-cuda-nvcc-cu12) into .tools/" >&2
        python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tools" 'nvidia-cuda-nvcc-cu12>=12.4,<13' >&2
    fi
    export GPUJIT_PTXAS="$ptxas"
}
