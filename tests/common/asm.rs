//! `ptx_asm!`, inline PTX: on a GPU the instructions run with their operands in registers
//! (compared with the same arithmetic in Rust); the CPU backend refuses the kernel with a typed
//! error naming it, before anything runs.

use super::{Harness, SIZES};
use gpujit::prelude::*;

/// Integer and float operands of every register class, outputs, an `inout`, braces.
#[gpu_kernel]
fn ptx_arith(
    a: &[u32],
    w: &[u64],
    x: &[f32],
    d: &[f64],
    h: &[u16],
    hi: &mut [u32],
    wide: &mut [u64],
    acc: &mut [f32],
    dd: &mut [f64],
    hh: &mut [u16],
) {
    let i = grid(1);
    if i < hi.len() {
        let mut top = 0u32;
        ptx_asm!("mul.hi.u32 {0}, {1}, {2};", out(reg) top, in(reg) a[i], in(reg) 0x9e37_79b9u32);
        let mut sum = 0u64;
        ptx_asm!("add.u64 {0}, {1}, {2};", out(reg) sum, in(reg) w[i], in(reg) i as u64);
        let mut s = acc[i];
        ptx_asm!("fma.rn.f32 {0}, {1}, {2}, {0};", inout(reg) s, in(reg) x[i], in(reg) 2.0f32);
        let mut q = 0.0f64;
        ptx_asm!("{{ .reg .f64 t; mul.rn.f64 t, {1}, {1}; sqrt.rn.f64 {0}, t; }}", out(reg) q, in(reg) d[i]);
        let mut m = 0u16;
        ptx_asm!("max.u16 {0}, {1}, {2};", out(reg) m, in(reg) h[i], in(reg) 1000u16);
        hi[i] = top;
        wide[i] = sum;
        acc[i] = s;
        dd[i] = q;
        hh[i] = m;
    }
}

/// `ptx_asm!` in a device function, inlined into the caller.
#[gpu_device]
fn brev(v: u32) -> u32 {
    let mut r = 0u32;
    ptx_asm!("brev.b32 {0}, {1};", out(reg) r, in(reg) v);
    r
}

#[gpu_kernel]
fn ptx_in_device_fn(a: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = brev(a[i]);
    }
}

/// Address operands: cache-hinted loads and stores of array parameters (`.cg`, `.cs`) and a
/// load from shared memory, each through the element's address in its state space.
#[gpu_kernel]
fn ptx_addresses(x: &[u32], y: &mut [f32], out: &mut [u32]) {
    let mut tile = shared_array::<u32, 128>();
    let t = thread_idx_x();
    let i = grid(1);
    tile[t] = 0;
    if i < x.len() {
        let mut v = 0u32;
        ptx_asm!("ld.global.cg.u32 {0}, [{1}];", out(reg) v, in(reg) &x[i]);
        tile[t] = v;
    }
    sync_threads();
    if i < out.len() {
        let mut w = 0u32;
        ptx_asm!("ld.shared.u32 {0}, [{1}];", out(reg) w, in(reg) &tile[(t + 1) % 128]);
        out[i] = w;
        ptx_asm!("st.global.cs.f32 [{0}], {1};", in(reg) &mut y[i], in(reg) w as f32);
    }
}

/// A warp-level tensor-core product through inline PTX: `mma.sync` m16n8k16, bf16 inputs, f32
/// accumulators, one warp a 16×8 tile of C. A (m×k) and Bᵀ (n×k) are row-major bf16, two to a
/// word along k (`reinterpret` views of bf16 arrays give this). The fragments follow the PTX
/// ISA's layout for this shape: lane = 4·group + t; A's registers hold rows group and group+8
/// at k = 2t, 2t+1 and those +8; B's hold k = 2t, 2t+1 (and +8) of column group; C's rows group
/// and group+8 at columns 2t, 2t+1. Needs m % 16 == 0, n % 8 == 0, k % 16 == 0.
#[gpu_kernel]
fn mma_bf16(a: &[u32], bt: &[u32], c: &mut [f32], m: usize, n: usize, k: usize) {
    let lane = thread_idx_x() % 32;
    let warp = grid(1) / 32;
    let tiles_n = n / 8;
    if tiles_n > 0 && warp < (m / 16) * tiles_n {
        let (tm, tn) = (warp / tiles_n, warp % tiles_n);
        let (g, t) = (lane / 4, lane % 4);
        let kw = k / 2;
        let (row0, row1, col) = (tm * 16 + g, tm * 16 + g + 8, tn * 8 + g);
        let (mut d0, mut d1, mut d2, mut d3) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let mut kk = 0;
        while kk < k {
            let w = kk / 2 + t;
            let (a0, a1, a2, a3) = (a[row0 * kw + w], a[row1 * kw + w], a[row0 * kw + w + 4], a[row1 * kw + w + 4]);
            let (b0, b1) = (bt[col * kw + w], bt[col * kw + w + 4]);
            ptx_asm!(
                "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {{{0}, {1}, {2}, {3}}}, {{{4}, {5}, {6}, {7}}}, {{{8}, {9}}}, {{{0}, {1}, {2}, {3}}};",
                inout(reg) d0, inout(reg) d1, inout(reg) d2, inout(reg) d3,
                in(reg) a0, in(reg) a1, in(reg) a2, in(reg) a3, in(reg) b0, in(reg) b1
            );
            kk += 16;
        }
        let c0 = tn * 8 + 2 * t;
        c[row0 * n + c0] = d0;
        c[row0 * n + c0 + 1] = d1;
        c[row1 * n + c0] = d2;
        c[row1 * n + c0 + 1] = d3;
    }
}

/// `mma_bf16` against the host on small integers (every product and sum exact in f32, so
/// the tensor core's order of summation cannot change a bit).
pub fn inline_ptx_mma(h: &Harness) {
    for (m, n, k) in [(16usize, 8usize, 16usize), (32, 24, 48), (64, 40, 96)] {
        let av: Vec<f32> = h.vec(m * k, |h| (h.next_u64() % 9) as f32 - 4.0);
        let bv: Vec<f32> = h.vec(n * k, |h| (h.next_u64() % 9) as f32 - 4.0);
        let pack = |v: &[f32]| -> Vec<u32> {
            v.chunks(2)
                .map(|p| half::bf16::from_f32(p[0]).to_bits() as u32 | ((half::bf16::from_f32(p[1]).to_bits() as u32) << 16))
                .collect()
        };
        let (a, bt) = (pack(&av), pack(&bv));
        let mut c = h.zeros::<f32>(m * n);
        let warps = (m / 16) * (n / 8);
        let r = h.run(&mma_bf16, ((warps * 32).div_ceil(128), 128), (&h.arr(&a), &h.arr(&bt), &mut c, m, n, k));
        if !h.is_gpu() {
            let text = r.expect_err("refused").to_string();
            assert!(text.contains("kernel `mma_bf16`") && text.contains("ptx_asm!"), "{text}");
            continue;
        }
        r.unwrap();
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|q| av[i * k + q] * bv[j * k + q]).sum();
            }
        }
        assert_eq!(c.to_vec().unwrap(), want, "mma m16n8k16 bf16, {m}x{n}x{k}");
    }
}

/// The README's example ("Inline PTX"), as written there.
#[gpu_kernel]
fn hints(x: &[f32], y: &mut [f32], hi: &mut [u32]) {
    let i = grid(1);
    if i < y.len() {
        let mut v = 0.0f32;
        // A load cached in L2 only, through the element's address (its .global address).
        ptx_asm!("ld.global.cg.f32 {0}, [{1}];", out(reg) v, in(reg) &x[i]);
        let mut h = 0u32;
        ptx_asm!("mul.hi.u32 {0}, {1}, {2};", out(reg) h, in(reg) i as u32, in(reg) 0x9e37_79b9u32);
        // `inout`: one register, read and written.
        ptx_asm!("fma.rn.f32 {0}, {0}, {0}, {1};", inout(reg) v, in(reg) 1.0f32);
        // A streaming store, through `&mut` (of a `&mut` array).
        ptx_asm!("st.global.cs.f32 [{0}], {1};", in(reg) &mut y[i], in(reg) v);
        hi[i] = h;
    }
}

/// A `bool` has no PTX register class: refused when the kernel is specialized, on both backends.
#[gpu_kernel]
fn ptx_bool_operand(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < out.len() {
        let mut r = 0u32;
        ptx_asm!("selp.u32 {0}, 1, 0, {1};", out(reg) r, in(reg) x[i] > 3);
        out[i] = r;
    }
}

pub fn inline_ptx(h: &Harness) {
    let mut out = h.zeros::<u32>(4);
    let e = h.run(&ptx_bool_operand, (1, 32), (&h.arr(&[1u32, 5, 2, 9]), &mut out)).expect_err("a bool operand");
    let text = e.to_string();
    assert!(
        text.contains("kernel `ptx_bool_operand`") && text.contains("a `ptx_asm!` operand is a 16-, 32- or 64-bit integer or float"),
        "{text}"
    );

    for n in SIZES {
        let a: Vec<u32> = h.vec(n, |h| h.next_u64() as u32);
        let w: Vec<u64> = h.vec(n, |h| h.next_u64() >> 1);
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-4.0, 4.0) as f32);
        let d: Vec<f64> = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        let hv: Vec<u16> = h.vec(n, |h| h.next_u64() as u16);
        let acc0: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let (mut hi, mut wide, mut dd, mut hh) = (h.zeros::<u32>(n), h.zeros::<u64>(n), h.zeros::<f64>(n), h.zeros::<u16>(n));
        let mut acc = h.arr(&acc0);
        let (ga, gw, gx, gd, gh) = (h.arr(&a), h.arr(&w), h.arr(&x), h.arr(&d), h.arr(&hv));
        let r = h.run(&ptx_arith, (n.div_ceil(128).max(1), 128), (&ga, &gw, &gx, &gd, &gh, &mut hi, &mut wide, &mut acc, &mut dd, &mut hh));
        if !h.is_gpu() {
            let e = r.expect_err("the CPU backend runs no inline PTX");
            let text = e.to_string();
            assert!(matches!(e, gpujit::Error::Compile(gpujit::codegen::CompileError::Unsupported { .. })), "{e:?}");
            assert!(text.contains("kernel `ptx_arith`") && text.contains("ptx_asm!") && text.contains("CPU backend"), "{text}");
            // Nothing ran: the outputs are untouched.
            assert_eq!(acc.to_vec().unwrap(), acc0);
            assert!(hi.to_vec().unwrap().iter().all(|v| *v == 0));
            continue;
        }
        r.unwrap();
        let want_hi: Vec<u32> = a.iter().map(|v| ((*v as u64 * 0x9e37_79b9u64) >> 32) as u32).collect();
        let want_wide: Vec<u64> = w.iter().enumerate().map(|(i, v)| v.wrapping_add(i as u64)).collect();
        let want_acc: Vec<f32> = x.iter().zip(&acc0).map(|(x, c)| x.mul_add(2.0, *c)).collect();
        let want_dd: Vec<f64> = d.iter().map(|v| (v * v).sqrt()).collect();
        let want_hh: Vec<u16> = hv.iter().map(|v| (*v).max(1000)).collect();
        assert_eq!(hi.to_vec().unwrap(), want_hi, "mul.hi.u32, n = {n}");
        assert_eq!(wide.to_vec().unwrap(), want_wide, "add.u64, n = {n}");
        assert_eq!(acc.to_vec().unwrap(), want_acc, "fma.rn.f32 inout, n = {n}");
        assert_eq!(dd.to_vec().unwrap(), want_dd, "braces, f64, n = {n}");
        assert_eq!(hh.to_vec().unwrap(), want_hh, "max.u16, n = {n}");
    }
    for n in SIZES {
        let x: Vec<u32> = h.vec(n, |h| h.next_u64() as u32 >> 8);
        let (mut y, mut out) = (h.zeros::<f32>(n), h.zeros::<u32>(n));
        let r = h.run(&ptx_addresses, (n.div_ceil(128).max(1), 128), (&h.arr(&x), &mut y, &mut out));
        if !h.is_gpu() {
            let text = r.expect_err("refused").to_string();
            assert!(text.contains("kernel `ptx_addresses`") && text.contains("ptx_asm!"), "{text}");
            continue;
        }
        r.unwrap();
        // Each thread reads its block neighbour's element (0 past the end of x).
        let want: Vec<u32> = (0..n)
            .map(|i| {
                let j = i / 128 * 128 + (i % 128 + 1) % 128;
                if j < n {
                    x[j]
                } else {
                    0
                }
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want, "ld.global.cg / ld.shared, n = {n}");
        assert_eq!(y.to_vec().unwrap(), want.iter().map(|v| *v as f32).collect::<Vec<_>>(), "st.global.cs, n = {n}");
    }
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        let (mut y, mut hi) = (h.zeros::<f32>(n), h.zeros::<u32>(n));
        let r = h.run(&hints, (n.div_ceil(128).max(1), 128), (&h.arr(&x), &mut y, &mut hi));
        if !h.is_gpu() {
            assert!(r.expect_err("refused").to_string().contains("kernel `hints`"));
            continue;
        }
        r.unwrap();
        assert_eq!(y.to_vec().unwrap(), x.iter().map(|v| v.mul_add(*v, 1.0)).collect::<Vec<_>>(), "README example, n = {n}");
        assert_eq!(hi.to_vec().unwrap(), (0..n).map(|i| ((i as u64 * 0x9e37_79b9) >> 32) as u32).collect::<Vec<_>>());
    }
    let a: Vec<u32> = h.vec(1000, |h| h.next_u64() as u32);
    let mut out = h.zeros::<u32>(1000);
    let r = h.run(&ptx_in_device_fn, (8, 128), (&h.arr(&a), &mut out));
    if h.is_gpu() {
        r.unwrap();
        assert_eq!(out.to_vec().unwrap(), a.iter().map(|v| v.reverse_bits()).collect::<Vec<_>>());
    } else {
        let text = r.expect_err("refused").to_string();
        assert!(text.contains("kernel `ptx_in_device_fn`") && text.contains("ptx_asm!"), "{text}");
    }
}
