//! `as` casts with Rust semantics, and the matrix of every pair of scalar types.

use super::*;

// ---------------------------------------------------------------------------------------------
// `as` casts with Rust's semantics (saturating float → int, NaN → 0, truncation, extension).

#[gpu_kernel]
fn casts_from_float(
    f: &[f32],
    d: &[f64],
    f_i32: &mut [i32],
    f_u8: &mut [u8],
    d_i64: &mut [i64],
    d_u32: &mut [u32],
    d_f32: &mut [f32],
    f_f64: &mut [f64],
) {
    let k = grid(1);
    if k < f.len() {
        f_i32[k] = f[k] as i32;
        f_u8[k] = f[k] as u8;
        d_i64[k] = d[k] as i64;
        d_u32[k] = d[k] as u32;
        d_f32[k] = d[k] as f32;
        f_f64[k] = f[k] as f64;
    }
}

#[gpu_kernel]
fn casts_from_int(
    i: &[i32],
    u: &[u64],
    b: &[bool],
    s: &[i8],
    i_f32: &mut [f32],
    u_f64: &mut [f64],
    u_i8: &mut [i8],
    s_u64: &mut [u64],
    b_i32: &mut [i32],
    i_usize: &mut [usize],
) {
    let k = grid(1);
    if k < i.len() {
        i_f32[k] = i[k] as f32;
        u_f64[k] = u[k] as f64;
        u_i8[k] = u[k] as i8;
        s_u64[k] = s[k] as u64;
        b_i32[k] = b[k] as i32;
        i_usize[k] = i[k] as usize;
    }
}

fn eq_bits<T: PartialEq + std::fmt::Debug>(got: Vec<T>, want: Vec<T>, what: &str, same: impl Fn(&T, &T) -> bool) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(same(g, w), "{what}[{k}]: got {g:?}, want {w:?}");
    }
}

pub fn as_casts(h: &Harness) {
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30, -1e30, 255.9, 256.0, -0.9, -1.0, 2147483647.0, 4294967296.0];
    for n in SIZES {
        let d: Vec<f64> =
            h.vec(n, |h| if h.next_u64() % 4 == 0 { special[(h.next_u64() % special.len() as u64) as usize] } else { h.f64_in(-5e9, 5e9) });
        let f: Vec<f32> = d.iter().map(|v| if v.abs() > 1e20 || v.is_nan() { *v as f32 } else { (*v / 1e7) as f32 }).collect();
        let (mut o1, mut o2, mut o3, mut o4, mut o5, mut o6) =
            (h.zeros::<i32>(n), h.zeros::<u8>(n), h.zeros::<i64>(n), h.zeros::<u32>(n), h.zeros::<f32>(n), h.zeros::<f64>(n));
        h.run(
            &casts_from_float,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&f), &h.arr(&d), &mut o1, &mut o2, &mut o3, &mut o4, &mut o5, &mut o6),
        )
        .unwrap();
        assert_eq!(o1.to_vec().unwrap(), f.iter().map(|v| *v as i32).collect::<Vec<_>>(), "f32 as i32");
        assert_eq!(o2.to_vec().unwrap(), f.iter().map(|v| *v as u8).collect::<Vec<_>>(), "f32 as u8");
        assert_eq!(o3.to_vec().unwrap(), d.iter().map(|v| *v as i64).collect::<Vec<_>>(), "f64 as i64");
        assert_eq!(o4.to_vec().unwrap(), d.iter().map(|v| *v as u32).collect::<Vec<_>>(), "f64 as u32");
        let nan_eq32 = |a: &f32, b: &f32| a == b || (a.is_nan() && b.is_nan());
        let nan_eq64 = |a: &f64, b: &f64| a == b || (a.is_nan() && b.is_nan());
        eq_bits(o5.to_vec().unwrap(), d.iter().map(|v| *v as f32).collect(), "f64 as f32", nan_eq32);
        eq_bits(o6.to_vec().unwrap(), f.iter().map(|v| *v as f64).collect(), "f32 as f64", nan_eq64);

        let i: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let u: Vec<u64> = h.vec(n, |h| h.next_u64());
        let b: Vec<bool> = h.vec(n, |h| h.next_u64() % 2 == 1);
        let s: Vec<i8> = h.vec(n, |h| h.next_u64() as i8);
        let (mut p1, mut p2, mut p3, mut p4, mut p5, mut p6) =
            (h.zeros::<f32>(n), h.zeros::<f64>(n), h.zeros::<i8>(n), h.zeros::<u64>(n), h.zeros::<i32>(n), h.zeros::<usize>(n));
        h.run(
            &casts_from_int,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&i), &h.arr(&u), &h.arr(&b), &h.arr(&s), &mut p1, &mut p2, &mut p3, &mut p4, &mut p5, &mut p6),
        )
        .unwrap();
        assert_eq!(p1.to_vec().unwrap(), i.iter().map(|v| *v as f32).collect::<Vec<_>>(), "i32 as f32");
        assert_eq!(p2.to_vec().unwrap(), u.iter().map(|v| *v as f64).collect::<Vec<_>>(), "u64 as f64");
        assert_eq!(p3.to_vec().unwrap(), u.iter().map(|v| *v as i8).collect::<Vec<_>>(), "u64 as i8");
        assert_eq!(p4.to_vec().unwrap(), s.iter().map(|v| *v as u64).collect::<Vec<_>>(), "i8 as u64");
        assert_eq!(p5.to_vec().unwrap(), b.iter().map(|v| *v as i32).collect::<Vec<_>>(), "bool as i32");
        assert_eq!(p6.to_vec().unwrap(), i.iter().map(|v| *v as usize).collect::<Vec<_>>(), "i32 as usize");
    }
}

// ---------------------------------------------------------------------------------------------
// `as` between every pair of primitive scalar types, against Rust's own `as`.

macro_rules! cast_kernel {
    ($name:ident, $from:ty) => {
        #[gpu_kernel]
        fn $name(
            x: &[$from],
            o_b: &mut [bool],
            o_i8: &mut [i8],
            o_i16: &mut [i16],
            o_i32: &mut [i32],
            o_i64: &mut [i64],
            o_u8: &mut [u8],
            o_u16: &mut [u16],
            o_u32: &mut [u32],
            o_u64: &mut [u64],
            o_f32: &mut [f32],
            o_f64: &mut [f64],
        ) {
            let i = grid(1);
            if i < x.len() {
                let v = x[i];
                o_b[i] = v == v;
                o_i8[i] = v as i8;
                o_i16[i] = v as i16;
                o_i32[i] = v as i32;
                o_i64[i] = v as i64;
                o_u8[i] = v as u8;
                o_u16[i] = v as u16;
                o_u32[i] = v as u32;
                o_u64[i] = v as u64;
                o_f32[i] = v as f32;
                o_f64[i] = v as f64;
            }
        }
    };
}
cast_kernel!(cast_from_i8, i8);
cast_kernel!(cast_from_i16, i16);
cast_kernel!(cast_from_i32, i32);
cast_kernel!(cast_from_i64, i64);
cast_kernel!(cast_from_u8, u8);
cast_kernel!(cast_from_u16, u16);
cast_kernel!(cast_from_u32, u32);
cast_kernel!(cast_from_u64, u64);
cast_kernel!(cast_from_f32, f32);
cast_kernel!(cast_from_f64, f64);

#[gpu_kernel]
fn cast_from_bool(
    x: &[bool],
    o_i8: &mut [i8],
    o_i16: &mut [i16],
    o_i32: &mut [i32],
    o_i64: &mut [i64],
    o_u8: &mut [u8],
    o_u16: &mut [u16],
    o_u32: &mut [u32],
    o_u64: &mut [u64],
) {
    let i = grid(1);
    if i < x.len() {
        let v = x[i];
        o_i8[i] = v as i8;
        o_i16[i] = v as i16;
        o_i32[i] = v as i32;
        o_i64[i] = v as i64;
        o_u8[i] = v as u8;
        o_u16[i] = v as u16;
        o_u32[i] = v as u32;
        o_u64[i] = v as u64;
    }
}

macro_rules! check_casts_from {
    ($h:expr, $kernel:ident, $from:ty, $gen:expr) => {{
        let h: &Harness = $h;
        let n = 3000;
        let gen: &dyn Fn(&Harness, usize) -> $from = &$gen;
        let x: Vec<$from> = (0..n).map(|i| gen(h, i)).collect();
        let mut o_b = h.zeros::<bool>(n);
        let (mut o_i8, mut o_i16, mut o_i32, mut o_i64) = (h.zeros::<i8>(n), h.zeros::<i16>(n), h.zeros::<i32>(n), h.zeros::<i64>(n));
        let (mut o_u8, mut o_u16, mut o_u32, mut o_u64) = (h.zeros::<u8>(n), h.zeros::<u16>(n), h.zeros::<u32>(n), h.zeros::<u64>(n));
        let (mut o_f32, mut o_f64) = (h.zeros::<f32>(n), h.zeros::<f64>(n));
        h.run(
            &$kernel,
            LaunchConfig::for_elements(n, 128),
            (
                &h.arr(&x),
                &mut o_b,
                &mut o_i8,
                &mut o_i16,
                &mut o_i32,
                &mut o_i64,
                &mut o_u8,
                &mut o_u16,
                &mut o_u32,
                &mut o_u64,
                &mut o_f32,
                &mut o_f64,
            ),
        )
        .unwrap();
        let what = stringify!($from);
        assert_eq!(o_i8.to_vec().unwrap(), x.iter().map(|v| *v as i8).collect::<Vec<_>>(), "{what} as i8");
        assert_eq!(o_i16.to_vec().unwrap(), x.iter().map(|v| *v as i16).collect::<Vec<_>>(), "{what} as i16");
        assert_eq!(o_i32.to_vec().unwrap(), x.iter().map(|v| *v as i32).collect::<Vec<_>>(), "{what} as i32");
        assert_eq!(o_i64.to_vec().unwrap(), x.iter().map(|v| *v as i64).collect::<Vec<_>>(), "{what} as i64");
        assert_eq!(o_u8.to_vec().unwrap(), x.iter().map(|v| *v as u8).collect::<Vec<_>>(), "{what} as u8");
        assert_eq!(o_u16.to_vec().unwrap(), x.iter().map(|v| *v as u16).collect::<Vec<_>>(), "{what} as u16");
        assert_eq!(o_u32.to_vec().unwrap(), x.iter().map(|v| *v as u32).collect::<Vec<_>>(), "{what} as u32");
        assert_eq!(o_u64.to_vec().unwrap(), x.iter().map(|v| *v as u64).collect::<Vec<_>>(), "{what} as u64");
        let same32 = |a: &f32, b: &f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let same64 = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for (i, (g, w)) in o_f32.to_vec().unwrap().iter().zip(x.iter().map(|v| *v as f32)).enumerate() {
            assert!(same32(g, &w), "{what} as f32 at {i}: {g} vs {w}");
        }
        for (i, (g, w)) in o_f64.to_vec().unwrap().iter().zip(x.iter().map(|v| *v as f64)).enumerate() {
            assert!(same64(g, &w), "{what} as f64 at {i}: {g} vs {w}");
        }
        #[allow(clippy::eq_op)]
        let want_b: Vec<bool> = x.iter().map(|v| *v == *v).collect();
        assert_eq!(o_b.to_vec().unwrap(), want_b, "{what} == itself");
    }};
}

/// Integers: random bits plus the extremes; floats: random magnitudes across the ranges of every
/// integer type, plus NaN, infinities, ±0, values just past each bound, and halves.
pub fn cast_matrix(h: &Harness) {
    macro_rules! int_gen {
        ($t:ty) => {
            |h: &Harness, i: usize| match i % 7 {
                0 => <$t>::MIN,
                1 => <$t>::MAX,
                2 => 0,
                _ => h.next_u64() as $t,
            }
        };
    }
    check_casts_from!(h, cast_from_i8, i8, int_gen!(i8));
    check_casts_from!(h, cast_from_i16, i16, int_gen!(i16));
    check_casts_from!(h, cast_from_i32, i32, int_gen!(i32));
    check_casts_from!(h, cast_from_i64, i64, int_gen!(i64));
    check_casts_from!(h, cast_from_u8, u8, int_gen!(u8));
    check_casts_from!(h, cast_from_u16, u16, int_gen!(u16));
    check_casts_from!(h, cast_from_u32, u32, int_gen!(u32));
    check_casts_from!(h, cast_from_u64, u64, int_gen!(u64));
    let special: [f64; 16] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        0.5,
        -0.5,
        127.5,
        128.0,
        -129.0,
        255.5,
        256.0,
        65536.0,
        4294967296.0,
        9.3e18,
        1.9e19,
    ];
    let float_gen = move |h: &Harness, i: usize| -> f64 {
        if i < special.len() {
            special[i]
        } else {
            let mag = 10f64.powf(h.f64_in(-2.0, 20.0));
            if h.next_u64() % 2 == 0 {
                mag
            } else {
                -mag
            }
        }
    };
    check_casts_from!(h, cast_from_f64, f64, float_gen);
    check_casts_from!(h, cast_from_f32, f32, move |h: &Harness, i: usize| float_gen(h, i) as f32);
    // bool → integers.
    let n = 300;
    let x: Vec<bool> = h.vec(n, |h| h.next_u64() % 2 == 0);
    let (mut a, mut b, mut c, mut d) = (h.zeros::<i8>(n), h.zeros::<i16>(n), h.zeros::<i32>(n), h.zeros::<i64>(n));
    let (mut e, mut f, mut g, mut k) = (h.zeros::<u8>(n), h.zeros::<u16>(n), h.zeros::<u32>(n), h.zeros::<u64>(n));
    h.run(
        &cast_from_bool,
        LaunchConfig::for_elements(n, 128),
        (&h.arr(&x), &mut a, &mut b, &mut c, &mut d, &mut e, &mut f, &mut g, &mut k),
    )
    .unwrap();
    assert_eq!(a.to_vec().unwrap(), x.iter().map(|v| *v as i8).collect::<Vec<_>>());
    assert_eq!(d.to_vec().unwrap(), x.iter().map(|v| *v as i64).collect::<Vec<_>>());
    assert_eq!(e.to_vec().unwrap(), x.iter().map(|v| *v as u8).collect::<Vec<_>>());
    assert_eq!(k.to_vec().unwrap(), x.iter().map(|v| *v as u64).collect::<Vec<_>>());
    assert_eq!(b.to_vec().unwrap(), x.iter().map(|v| *v as i16).collect::<Vec<_>>());
    assert_eq!(c.to_vec().unwrap(), x.iter().map(|v| *v as i32).collect::<Vec<_>>());
    assert_eq!(f.to_vec().unwrap(), x.iter().map(|v| *v as u16).collect::<Vec<_>>());
    assert_eq!(g.to_vec().unwrap(), x.iter().map(|v| *v as u32).collect::<Vec<_>>());
}

/// A DLPack CUDAHost (page-locked host) tensor is used in place by kernels on the CPU and on a
/// GPU, read and written, beside device arrays. On a GPU machine the memory is really pinned
/// (`cuMemHostAlloc`); on the CPU harness plain host memory stands in for it.
pub fn dlpack_pinned_host(h: &Harness) {
    static DELETED: AtomicUsize = AtomicUsize::new(0);
    let f32t = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 1 };
    let pinned_dev = DLDevice { device_type: dlpack::device_type::CUDA_HOST, device_id: 0 };
    for n in [0usize, 1, 1000, 4099] {
        let data: Vec<f32> = h.vec(n, |h| h.f64_in(-10.0, 10.0) as f32);
        let mut plain = vec![0.0f32; n.max(1)];
        let ptr: *mut f32 = if h.is_gpu() {
            let ctx = cudarc::driver::CudaContext::new(0).unwrap();
            ctx.bind_to_thread().unwrap();
            // SAFETY: a context is current; the allocation is freed below, after its last use.
            // Flags: portable (1) and device-mapped (2).
            unsafe { cudarc::driver::result::malloc_host(n.max(1) * 4, 3) }.unwrap() as *mut f32
        } else {
            plain.as_mut_ptr()
        };
        // SAFETY: ptr holds n.max(1) f32s, used only through this slice until the imports below.
        unsafe { std::slice::from_raw_parts_mut(ptr, n) }.copy_from_slice(&data);
        let m = versioned(tensor(ptr as u64, pinned_dev, f32t, &[n as i64], None, 0, &DELETED), 1, 0);
        // SAFETY: `m` is a valid tensor owned by the import from here on.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let a = t.array().unwrap();
        assert!(a.is_pinned());
        // Read in place into a device array of the harness's device.
        let mut out = h.zeros::<f32>(n);
        h.run(&copy_1d, LaunchConfig::for_elements(n, 128), (&a, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), data);
        drop(t);
        // Written in place from a device array.
        let m = versioned(tensor(ptr as u64, pinned_dev, f32t, &[n as i64], None, 0, &DELETED), 1, 0);
        // SAFETY: as above.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let mut w = t.array().unwrap();
        let src: Vec<f32> = data.iter().map(|v| v * 2.0).collect();
        h.run(&copy_1d, LaunchConfig::for_elements(n, 128), (&h.arr(&src), &mut w)).unwrap();
        h.dev.synchronize().unwrap();
        drop(t);
        // SAFETY: the kernels that used the memory have finished (synchronized above).
        assert_eq!(unsafe { std::slice::from_raw_parts(ptr, n) }, &src[..]);
        if h.is_gpu() {
            // SAFETY: allocated by malloc_host above; no longer used.
            unsafe { cudarc::driver::result::free_host(ptr as *mut std::ffi::c_void) }.unwrap();
        }
        drop(plain);
    }
    // A launch whose only arrays are pinned runs on the default device.
    let data = [1.0f32, 2.0, 3.0];
    let mut src = data;
    let mut dst = [0.0f32; 3];
    if !h.is_gpu() {
        let ma = versioned(tensor(src.as_mut_ptr() as u64, pinned_dev, f32t, &[3], None, 0, &DELETED), 1, 0);
        let mb = versioned(tensor(dst.as_mut_ptr() as u64, pinned_dev, f32t, &[3], None, 0, &DELETED), 1, 0);
        // SAFETY: as above.
        let (ta, tb) = unsafe { (DlpackTensor::from_versioned(ma).unwrap(), DlpackTensor::from_versioned(mb).unwrap()) };
        let (a, mut b) = (ta.array().unwrap(), tb.array().unwrap());
        copy_1d.launch(LaunchConfig::for_elements(3, 32), (&a, &mut b)).unwrap();
        drop((ta, tb));
        assert_eq!(dst, data);
    }
}
