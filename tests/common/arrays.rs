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

#[gpu_kernel]
fn copy_words(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i];
    }
}

#[gpu_kernel]
fn number_bytes(b: &mut [u8]) {
    let i = grid(1);
    if i < b.len() {
        b[i] = (i * 7 + 3) as u8;
    }
}

#[gpu_kernel]
fn copy_words_2d(x: &Array<u32, 2>, out: &mut Array<u32, 2>) {
    let (j, i) = grid(2);
    if i < x.shape(0) && j < x.shape(1) {
        out[[i, j]] = x[[i, j]];
    }
}

/// Reinterpreting views: bytes read as words, floats as their bits, bytes written into words,
/// a 2-D column slice; misaligned, ragged, strided and `bool` reinterpretations refused.
pub fn reinterpreted_views(h: &Harness) {
    for n in SIZES {
        let bytes: Vec<u8> = h.vec(4 * n, |h| h.next_u64() as u8);
        let d = h.arr(&bytes);
        let words = d.reinterpret::<u32>().unwrap();
        assert_eq!(words.shape(), &[n]);
        let mut out = h.zeros::<u32>(n);
        h.run(&copy_words, (n.div_ceil(128).max(1), 128), (&words, &mut out)).unwrap();
        let want: Vec<u32> = bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}");
        let floats: Vec<f32> = h.vec(n, |h| h.f64_in(-1e3, 1e3) as f32);
        let df = h.arr(&floats);
        h.run(&copy_words, (n.div_ceil(128).max(1), 128), (&df.reinterpret::<u32>().unwrap(), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), floats.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
        // Written through: the words' bytes.
        let mut w = h.zeros::<u32>(n);
        {
            let mut b = w.reinterpret_mut::<u8>().unwrap();
            h.run(&number_bytes, ((4 * n).div_ceil(128).max(1), 128), (&mut b,)).unwrap();
        }
        let want: Vec<u32> = (0..n).map(|k| u32::from_le_bytes(std::array::from_fn(|j| ((4 * k + j) * 7 + 3) as u8))).collect();
        assert_eq!(w.to_vec().unwrap(), want);
    }
    // A 2-D view whose last axis is a contiguous slice.
    let (rows, cols) = (9usize, 10usize);
    let m: Vec<f64> = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0));
    let dm = DeviceArray::from_shape(&h.dev, &[rows, cols], &m).unwrap();
    let v = dm.view().slice(1, 2..6, 1).unwrap();
    let r = v.reinterpret::<u32>().unwrap();
    assert_eq!(r.shape(), &[rows, 8]);
    assert_eq!(r.strides(), &[2 * cols as isize, 1]);
    let mut out = DeviceArray::<u32>::zeros_shape(&h.dev, &[rows, 8]).unwrap();
    h.run(&copy_words_2d, ((1, 1), (16, 16)), (&r, &mut out)).unwrap();
    let got = out.to_vec().unwrap();
    for i in 0..rows {
        for j in 0..4 {
            let bits = m[i * cols + 2 + j].to_bits();
            assert_eq!((got[i * 8 + 2 * j], got[i * 8 + 2 * j + 1]), (bits as u32, (bits >> 32) as u32), "[{i}, {j}]");
        }
    }
    // Refusals.
    let d5 = h.arr(&[1u8, 2, 3, 4, 5]);
    assert!(d5.reinterpret::<u32>().unwrap_err().to_string().contains("whole number"));
    let d8 = h.arr(&[0u8; 16]);
    let off = d8.view().slice(0, 1..9, 1).unwrap();
    assert!(off.reinterpret::<u32>().unwrap_err().to_string().contains("aligned"));
    assert!(dm.view().t().reinterpret::<u32>().unwrap_err().to_string().contains("contiguous"));
    assert!(d8.reinterpret::<bool>().unwrap_err().to_string().contains("bool"));
}

#[gpu_kernel]
fn sum_fours(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if 4 * i + 3 < x.len() && i < out.len() {
        out[i] = x[4 * i] + x[4 * i + 1] + x[4 * i + 2] + x[4 * i + 3];
    }
}

/// Neighbouring elements of 16-byte aligned arrays are read as vectors (golden `vector_loads`);
/// a view starting one element in is specialized without that fact and reads right (a GPU
/// would fault on a misaligned vector load).
pub fn aligned_vector_access(h: &Harness) {
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    for n in [4usize, 64, 4100] {
        let x: Vec<f32> = h.vec(n + 4, |h| h.f64_in(-1.0, 1.0) as f32);
        let dx = h.arr(&x);
        let mut out = h.zeros::<f32>(n / 4);
        let aligned = sum_fours.ptx(&target, (&dx, &mut out)).unwrap().ptx;
        assert!(aligned.contains("ld.global.nc.v4.f32"), "{aligned}");
        for skip in 0..4 {
            let v = dx.view().slice(0, skip..skip + n, 1).unwrap();
            if skip > 0 {
                let ptx = sum_fours.ptx(&target, (&v, &mut out)).unwrap().ptx;
                assert!(!ptx.contains(".v4.f32"), "a view {skip} elements in: {ptx}");
            }
            h.run(&sum_fours, ((n / 4).div_ceil(64).max(1), 64), (&v, &mut out)).unwrap();
            let want: Vec<f32> =
                (0..n / 4).map(|i| x[skip + 4 * i] + x[skip + 4 * i + 1] + x[skip + 4 * i + 2] + x[skip + 4 * i + 3]).collect();
            assert_eq!(out.to_vec().unwrap(), want, "n={n}, skip={skip}");
        }
    }
}
