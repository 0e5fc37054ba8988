use gpujit::prelude::*;

// A generator is used through its methods: not passed on, not copied, no unknown methods.
#[gpu_kernel]
fn as_value(seed: u64, out: &mut [u32]) {
    let mut r = Philox::new(seed, 0);
    let s = r;
    out[0] = 1;
}

#[gpu_kernel]
fn unknown_method(seed: u64, out: &mut [u32]) {
    let mut r = Philox::new(seed, 0);
    out[0] = r.gen_range(0, 10);
}

#[gpu_kernel]
fn wrong_arguments(seed: u64, out: &mut [u32]) {
    let mut r = Philox::new(seed);
    out[0] = r.next_u32();
}

fn main() {}
