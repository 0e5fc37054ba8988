//! N-D strided arrays.

use super::*;

// ---------------------------------------------------------------------------------------------
// N-D strided arrays.

/// The 5-point Laplacian on any 2-D layout.
#[gpu_kernel]
fn laplacian(u: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    let (rows, cols) = (u.shape(0), u.shape(1));
    if i >= 1 && j >= 1 && i + 1 < rows && j + 1 < cols {
        out[[i, j]] = u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j - 1]] + u[[i, j + 1]] - 4.0 * u[[i, j]];
    }
}

fn laplacian_ref(u: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * cols];
    for i in 1..rows.saturating_sub(1) {
        for j in 1..cols.saturating_sub(1) {
            out[i * cols + j] =
                u[(i - 1) * cols + j] + u[(i + 1) * cols + j] + u[i * cols + j - 1] + u[i * cols + j + 1] - 4.0 * u[i * cols + j];
        }
    }
    out
}

fn grid_2d(rows: usize, cols: usize) -> ((usize, usize), (usize, usize)) {
    ((cols.div_ceil(16).max(1), rows.div_ceil(8).max(1)), (16, 8))
}

pub fn strided_stencil(h: &Harness) {
    let (r0, c0) = (80usize, 90usize);
    let data = h.vec(r0 * c0, |h| h.f64_in(-1.0, 1.0) as f32);
    let u = DeviceArray::from_shape(&h.dev, &[r0, c0], &data).unwrap();
    // C-contiguous.
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[r0, c0]).unwrap();
    let (g, b) = grid_2d(r0, c0);
    h.run(&laplacian, (g, b), (&u, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), laplacian_ref(&data, r0, c0), "contiguous");
    // A transposed view (strides (1, 90)).
    let ut = u.view().t();
    let logical = ut.to_vec().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[c0, r0]).unwrap();
    let (g, b) = grid_2d(c0, r0);
    h.run(&laplacian, (g, b), (ut, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), laplacian_ref(&logical, c0, r0), "transposed");
    // Rows 3..70 every 2nd, columns backwards from 79 to 5 every 3rd (negative stride); written
    // into a strided view of a larger output.
    let us = u.view().slice(0, 3..70, 2).unwrap().slice(1, 5..80, -3).unwrap();
    let (rows, cols) = (us.shape()[0], us.shape()[1]);
    let logical = us.to_vec().unwrap();
    let mut big = DeviceArray::<f32>::zeros_shape(&h.dev, &[2 * rows, cols + 7]).unwrap();
    let mut target = big.view_mut().slice(0, 0..2 * rows, 2).unwrap().slice(1, 7..cols + 7, 1).unwrap();
    let (g, b) = grid_2d(rows, cols);
    h.run(&laplacian, (g, b), (&us, &mut target)).unwrap();
    assert_eq!(target.to_vec().unwrap(), laplacian_ref(&logical, rows, cols), "sliced, negative stride");
    // The other rows of `big` stay untouched.
    let all = big.to_vec().unwrap();
    assert!((0..rows).all(|r| all[(2 * r + 1) * (cols + 7)..(2 * r + 2) * (cols + 7)].iter().all(|v| *v == 0.0)));
}

/// Sums a 3-D array over its first two axes, and reports its strides.
#[gpu_kernel]
fn sum_planes(a: &Array<i64, 3>, out: &mut [i64], strides: &mut [i64]) {
    let k = grid(1);
    if k < a.shape(2) {
        let mut s = 0;
        for i in 0..a.shape(0) {
            for j in 0..a.shape(1) {
                s += a[[i, j, k]];
            }
        }
        out[k] = s;
    }
    if k == 0 {
        strides[0] = a.stride(0) as i64;
        strides[1] = a.stride(1) as i64;
        strides[2] = a.stride(2) as i64;
        strides[3] = a.len() as i64;
    }
}

pub fn three_d_arrays(h: &Harness) {
    let (n0, n1, n2) = (5usize, 7usize, 11usize);
    let data: Vec<i64> = h.vec(n0 * n1 * n2, |h| (h.next_u64() % 1000) as i64);
    let a = DeviceArray::from_shape(&h.dev, &[n0, n1, n2], &data).unwrap();
    let (mut out, mut strides) = (h.zeros::<i64>(n2), h.zeros::<i64>(4));
    h.run(&sum_planes, LaunchConfig::for_elements(n2, 32), (&a, &mut out, &mut strides)).unwrap();
    let want: Vec<i64> = (0..n2).map(|k| (0..n0 * n1).map(|ij| data[ij * n2 + k]).sum()).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(strides.to_vec().unwrap(), vec![(n1 * n2) as i64, n2 as i64, 1, (n0 * n1 * n2) as i64]);
    // Axes permuted (2, 0, 1): a strided specialization of the same kernel.
    let p = a.view().permuted(&[1, 2, 0]).unwrap();
    let (mut out, mut strides) = (h.zeros::<i64>(n0), h.zeros::<i64>(4));
    h.run(&sum_planes, LaunchConfig::for_elements(n0, 32), (&p, &mut out, &mut strides)).unwrap();
    let want: Vec<i64> = (0..n0).map(|i| data[i * n1 * n2..(i + 1) * n1 * n2].iter().sum()).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(strides.to_vec().unwrap(), vec![n2 as i64, 1, (n1 * n2) as i64, (n0 * n1 * n2) as i64]);
    let ir = sum_planes.ir((&p, &mut out, &mut strides)).unwrap().to_string();
    assert!(ir.contains("a: &Array<i64, 3, strided>"), "{ir}");
    // A 1-D array for a 3-D parameter: a typed error naming the parameter.
    let flat = h.arr(&data);
    let e = h.run(&sum_planes, (1, 32), (&flat, &mut out, &mut strides)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { param, .. } if param == "a"), "{e}");
    assert!(e.to_string().contains("&Array<i64, 3>") && e.to_string().contains("1-D"), "{e}");
}
