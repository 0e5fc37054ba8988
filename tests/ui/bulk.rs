use gpujit::prelude::*;

#[gpu_kernel]
fn load_without_count(x: &[f32], out: &mut [f32]) {
    let v = x.load(0);
    out[0] = v[0];
}

#[gpu_kernel]
fn load_as_a_statement(x: &[f32]) {
    x.load::<4>(0);
}

#[gpu_kernel]
fn store_by_value(out: &mut [f32]) {
    let v = local_array::<f32, 4>();
    out.store::<4>(0, v);
}

#[gpu_kernel]
fn wait_for_too_many() {
    cp_async_wait(9);
}

#[gpu_kernel]
fn mma_not_borrowed(out: &mut [f32]) {
    let mut c = local_array::<f32, 4>();
    let a = local_array::<f32, 4>();
    let b = local_array::<f32, 2>();
    mma_sync(c, &a, &b);
    out[0] = c[0];
}

#[gpu_kernel]
fn window_with_an_end(out: &mut [f32]) {
    let mut c = local_array::<f32, 8>();
    let a = local_array::<f32, 4>();
    let b = local_array::<f32, 2>();
    mma_sync(&mut c[0..4], &a, &b);
    out[0] = c[0];
}

#[gpu_kernel]
fn store_into_read_only(x: &[f32]) {
    let v = local_array::<f32, 4>();
    x.store::<4>(0, &v);
}

fn main() {}
