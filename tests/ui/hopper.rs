use gpujit::prelude::*;

#[gpu_kernel]
fn tma_missing_barrier(map: &TensorMap) {
    let mut tile = shared_array::<u16, 1024>();
    tma_load_2d(&mut tile[0], map, 0, 0);
}

#[gpu_kernel]
fn tma_map_expression(map: &TensorMap) {
    let mut tile = shared_array::<u16, 1024>();
    let bar = shared_array::<u64, 1>();
    tma_load_2d(&mut tile[0], &map, 0, 0, &bar[0]);
}

#[gpu_kernel]
fn wgmma_wait_too_many() {
    wgmma_wait(8);
}

#[gpu_kernel]
fn barrier_by_value() {
    let bar = shared_array::<u64, 1>();
    mbarrier_arrive(bar[0]);
}

#[gpu_kernel]
fn map_written(map: &mut TensorMap) {
    let bar = shared_array::<u64, 1>();
    mbarrier_init(&bar[0], 1);
}

fn main() {}
