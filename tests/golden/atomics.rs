// Atomics on a global array: float add and a compare-and-swap.
// ARGS: &[f32], &mut [f32], &mut [u32]
//
// IR: atomic_add(total, [0u64], x[{{i_[0-9]+}}]);
// IR: atomic_cas(flags, [({{i_[0-9]+}} % flags.len())], 0u32, 1u32);
// LLVM: atomicrmw fadd ptr addrspace(1)
// LLVM: cmpxchg ptr addrspace(1)
// PTX: atom.global.add.f32
// PTX: atom.global.cas.b32
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn atomics(x: &[f32], total: &mut [f32], flags: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        atomic_add(total, 0, x[i]);
        atomic_cas(flags, i % flags.len(), 0, 1);
    }
}
