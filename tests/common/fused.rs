//! Fused array expressions and reductions (issue 5), each against plain Rust on fresh random
//! inputs: every size of `SIZES` (0 and sizes off the block), broadcast, strided and offset
//! operands, every element type.

use super::{assert_close, Harness, SIZES};
use gpujit::prelude::*;
use gpujit::{fuse, Error};
use std::sync::{Mutex, MutexGuard};

/// Expression tests take this lock, so `expr_cache` sees only its own kernels in the
/// process-wide cache.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `exp(-x*x/2)*sin(y) + sqrt(|x*y|)`: the 5-op expression.
fn five_op_f32(x: f32, y: f32) -> f32 {
    (-x * x / 2.0).exp() * y.sin() + (x * y).abs().sqrt()
}

pub fn expr_elementwise(h: &Harness) {
    let _serial = serial();
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-3.0, 3.0) as f32);
        let y = h.vec(n, |h| h.f64_in(-3.0, 3.0) as f32);
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        // The example, a scalar on each side.
        let a = 1.5f32;
        let got = (expr(&dx) * 2.0 + &dy).exp().eval().unwrap();
        assert_eq!(got.shape(), &[n]);
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| (x * 2.0 + y).exp() as f64).collect();
        assert_close(&to_f64(&got.to_vec().unwrap()), &want, 2e-6, "exp(x*2+y)");
        let got = (a * &dx + &dy).eval().unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| (a * x + y) as f64).collect();
        assert_close(&to_f64(&got.to_vec().unwrap()), &want, 0.0, "saxpy");
        // The 5-op expression, f32 and f64.
        let five = ((-expr(&dx) * &dx / 2.0).exp() * expr(&dy).sin() + (expr(&dx) * &dy).abs().sqrt()).eval().unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| five_op_f32(*x, *y) as f64).collect();
        assert_close(&to_f64(&five.to_vec().unwrap()), &want, 4e-6, "5-op f32");
        let (x64, y64): (Vec<f64>, Vec<f64>) = (x.iter().map(|v| *v as f64).collect(), y.iter().map(|v| *v as f64).collect());
        let (dx64, dy64) = (h.arr(&x64), h.arr(&y64));
        let five = ((-expr(&dx64) * &dx64 / 2.0).exp() * expr(&dy64).sin() + (expr(&dx64) * &dy64).abs().sqrt()).eval().unwrap();
        let want: Vec<f64> = x64.iter().zip(&y64).map(|(x, y)| (-x * x / 2.0).exp() * y.sin() + (x * y).abs().sqrt()).collect();
        assert_close(&five.to_vec().unwrap(), &want, 1e-14, "5-op f64");
        // Contiguous but offset by one element (not 16-byte aligned: the scalar path).
        if n > 1 {
            let (xs, ys) = (dx.view().slice(0, 1..n, 1).unwrap(), dy.view().slice(0, 0..n - 1, 1).unwrap());
            let got = (expr(xs.clone()) * &ys - 1.0).eval().unwrap();
            let want: Vec<f64> = (0..n - 1).map(|i| (x[i + 1] * y[i] - 1.0) as f64).collect();
            assert_close(&to_f64(&got.to_vec().unwrap()), &want, 0.0, "offset operands");
            let s = expr(xs).sum().value().unwrap() as f64;
            let want: f64 = x[1..].iter().map(|v| *v as f64).sum();
            // An f32 sum's rounding grows with the magnitudes summed, not with the sum (which
            // may be near 0): a tree of ⌈log2 n⌉ levels, each off by at most half an ulp.
            let magnitude: f64 = x[1..].iter().map(|v| v.abs() as f64).sum();
            let bound = f32::EPSILON as f64 * (n as f64).log2().ceil().max(1.0) * magnitude;
            assert!((s - want).abs() <= bound, "sum of an offset view: got {s}, want {want} (bound {bound})");
        }
        // Comparisons, select, min/max/clamp, casts, logic.
        let sel = select(expr(&dx).gt(&dy), &dx, &dy).eval().unwrap();
        assert_eq!(sel.to_vec().unwrap(), x.iter().zip(&y).map(|(x, y)| if x > y { *x } else { *y }).collect::<Vec<_>>());
        let mm = (expr(&dx).min(&dy) + expr(&dx).max(0.5)).eval().unwrap();
        assert_eq!(mm.to_vec().unwrap(), x.iter().zip(&y).map(|(x, y)| x.min(*y) + x.max(0.5)).collect::<Vec<_>>());
        let cl = expr(&dx).clamp(-1.0, 0.25).eval().unwrap();
        assert_eq!(cl.to_vec().unwrap(), x.iter().map(|x| x.clamp(-1.0, 0.25)).collect::<Vec<_>>());
        let ints = (expr(&dx) * 10.0).cast::<i32>().eval().unwrap();
        assert_eq!(ints.to_vec().unwrap(), x.iter().map(|x| (x * 10.0) as i32).collect::<Vec<_>>());
        let both = (expr(&dx).gt(0.0) & expr(&dy).lt(0.0)) | !expr(&dx).le(2.0);
        let both = both.eval().unwrap();
        assert_eq!(
            both.to_vec().unwrap(),
            x.iter().zip(&y).map(|(x, y)| (*x > 0.0 && *y < 0.0) || *x > 2.0 || x.is_nan()).collect::<Vec<_>>()
        );
        // Integers wrap; division by zero gives 0 and `%` by zero the dividend, as kernels do.
        let a: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let b: Vec<i32> = h.vec(n, |h| (h.next_u64() % 7) as i32 - 3);
        let (da, db) = (h.arr(&a), h.arr(&b));
        let got =
            ((expr(&da) * 3 + &db) / &db + (expr(&da) % &db) + (expr(&da) >> 3) + (expr(&da) & 0xff) - (expr(&da) ^ &db)).eval().unwrap();
        let div = |p: i32, q: i32| if q == 0 { 0 } else { p.wrapping_div(q) };
        let rem = |p: i32, q: i32| if q == 0 { p } else { p.wrapping_rem(q) };
        let want: Vec<i32> = a
            .iter()
            .zip(&b)
            .map(|(&a, &b)| {
                div(a.wrapping_mul(3).wrapping_add(b), b)
                    .wrapping_add(rem(a, b))
                    .wrapping_add(a >> 3)
                    .wrapping_add(a & 0xff)
                    .wrapping_sub(a ^ b)
            })
            .collect();
        assert_eq!(got.to_vec().unwrap(), want, "integer expression");
    }
}

/// A 2-D expression of a matrix, a row, a column view, a transposed view and a stepped slice.
pub fn expr_broadcast_strided(h: &Harness) {
    let _serial = serial();
    for (r, c) in [(0usize, 5usize), (1, 1), (3, 7), (33, 65), (17, 300)] {
        let m: Vec<f64> = h.vec(r * c, |h| h.f64_in(-1.0, 1.0));
        let row: Vec<f64> = h.vec(c, |h| h.f64_in(-1.0, 1.0));
        let col: Vec<f64> = h.vec(r, |h| h.f64_in(-1.0, 1.0));
        let mt: Vec<f64> = h.vec(c * r, |h| h.f64_in(-1.0, 1.0)); // c × r, read transposed
        let wide: Vec<f64> = h.vec(r * 2 * c, |h| h.f64_in(-1.0, 1.0)); // r × 2c, every other column
        let dm = DeviceArray::from_shape(&h.dev, &[r, c], &m).unwrap();
        let drow = h.arr(&row);
        let dcol = DeviceArray::from_shape(&h.dev, &[r, 1], &col).unwrap();
        let dmt = DeviceArray::from_shape(&h.dev, &[c, r], &mt).unwrap();
        let dwide = DeviceArray::from_shape(&h.dev, &[r, 2 * c], &wide).unwrap();
        let stepped = dwide.view().slice(1, 1..2 * c, 2).unwrap();
        let e = (expr(&dm) + &drow) * &dcol - dmt.view().t() + stepped.clone();
        assert_eq!(e.shape(), &[r, c]);
        let got = e.eval().unwrap();
        assert_eq!(got.shape(), &[r, c]);
        let want: Vec<f64> = (0..r * c)
            .map(|f| {
                let (i, j) = (f / c, f % c);
                (m[f] + row[j]) * col[i] - mt[j * r + i] + wide[i * 2 * c + 2 * j + 1]
            })
            .collect();
        assert_close(&got.to_vec().unwrap(), &want, 1e-15, "broadcast 2-D");
        // Into a transposed output view (strided writes), and two outputs from one kernel.
        let mut out_t = DeviceArray::<f64>::zeros_shape(&h.dev, &[c, r]).unwrap();
        let mut out2 = DeviceArray::<f64>::zeros_shape(&h.dev, &[r, c]).unwrap();
        Fusion::new().output(out_t.view_mut().t(), &e).output(&mut out2, expr(&dm) * 2.0).run().unwrap();
        let got_t = out_t.to_vec().unwrap();
        let back: Vec<f64> = (0..r * c).map(|f| got_t[(f % c) * r + f / c]).collect();
        assert_close(&back, &want, 1e-15, "transposed output");
        assert_eq!(out2.to_vec().unwrap(), m.iter().map(|v| v * 2.0).collect::<Vec<_>>());
        // 3-D broadcasting against a 1-D operand with a reversed view.
        let cube: Vec<f32> = h.vec(2 * r * c, |h| h.f64_in(-1.0, 1.0) as f32);
        let dcube = DeviceArray::from_shape(&h.dev, &[2, r, c], &cube).unwrap();
        let rowf: Vec<f32> = row.iter().map(|v| *v as f32).collect();
        let drowf = h.arr(&rowf);
        let rev = drowf.view().slice(0, 0..c, -1).unwrap();
        let got = (expr(&dcube) * rev).eval().unwrap();
        assert_eq!(got.shape(), &[2, r, c]);
        let want: Vec<f64> = (0..2 * r * c).map(|f| (cube[f] * rowf[c - 1 - f % c]) as f64).collect();
        assert_close(&to_f64(&got.to_vec().unwrap()), &want, 0.0, "3-D with a reversed row");
    }
    // Only scalars: one element.
    let got = (expr(2.0f32) * 3.0).eval().unwrap();
    assert_eq!(got.to_vec().unwrap(), vec![6.0]);
}

macro_rules! dtype_case {
    ($h:expr, $t:ty, $gen:expr, $f:expr) => {{
        for n in [0usize, 1, 300] {
            let a: Vec<$t> = $h.vec(n, $gen);
            let b: Vec<$t> = $h.vec(n, $gen);
            let (da, db) = ($h.arr(&a), $h.arr(&b));
            let got = (expr(&da) * &db + &da - &db).eval().unwrap().to_vec().unwrap();
            let f: fn($t, $t) -> $t = $f;
            let want: Vec<$t> = a.iter().zip(&b).map(|(a, b)| f(*a, *b)).collect();
            assert_eq!(got, want, "{}", stringify!($t));
        }
    }};
}

/// Every element type: `a*b + a - b`, wrapping for integers, computed in f32 and rounded once
/// for the 16-bit floats.
pub fn expr_dtypes(h: &Harness) {
    let _serial = serial();
    dtype_case!(h, i8, |h| h.next_u64() as i8, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, u8, |h| h.next_u64() as u8, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, i16, |h| h.next_u64() as i16, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, u16, |h| h.next_u64() as u16, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, i32, |h| h.next_u64() as i32, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, u32, |h| h.next_u64() as u32, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, i64, |h| h.next_u64() as i64, |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, u64, |h| h.next_u64(), |a, b| a.wrapping_mul(b).wrapping_add(a).wrapping_sub(b));
    dtype_case!(h, f32, |h| h.f64_in(-10.0, 10.0) as f32, |a, b| a * b + a - b);
    dtype_case!(h, f64, |h| h.f64_in(-10.0, 10.0), |a, b| a * b + a - b);
    // 16-bit floats compute in f32 and round once, at the output.
    dtype_case!(h, f16, |h| f16::from_f64(h.f64_in(-10.0, 10.0)), |a, b| {
        let (a, b) = (a.to_f32(), b.to_f32());
        f16::from_f32(a * b + a - b)
    });
    dtype_case!(h, bf16, |h| bf16::from_f64(h.f64_in(-10.0, 10.0)), |a, b| {
        let (a, b) = (a.to_f32(), b.to_f32());
        bf16::from_f32(a * b + a - b)
    });
    // An explicit cast to a 16-bit type inside an expression rounds there.
    let x: Vec<f32> = h.vec(300, |h| h.f64_in(-10.0, 10.0) as f32);
    let dx = h.arr(&x);
    let got = ((expr(&dx) * 3.0).cast::<f16>() * f16::from_f32(1.5)).cast::<f32>().eval().unwrap().to_vec().unwrap();
    let want: Vec<f32> = x.iter().map(|v| f16::from_f32(f16::from_f32(v * 3.0).to_f32() * 1.5).to_f32()).collect();
    assert_eq!(got, want, "f16 rounding at casts");
    // Math on 16-bit floats computes in f32 and rounds once.
    let x: Vec<bf16> = h.vec(500, |h| bf16::from_f64(h.f64_in(-4.0, 4.0)));
    let got = expr(&h.arr(&x)).exp().eval().unwrap().to_vec().unwrap();
    let want: Vec<f64> = x.iter().map(|v| bf16::from_f32(v.to_f32().exp()).to_f64()).collect();
    let got: Vec<f64> = got.iter().map(|v| v.to_f64()).collect();
    assert_close(&got, &want, 1.0 / 128.0, "bf16 exp");
}

/// Expressions typed at run time (`gpujit::runtime::dynamic`, what the Python module builds):
/// operations with stated result types, constants shared, reductions along axes, and type
/// mismatches as errors.
pub fn dynamic_expressions(h: &Harness) {
    use gpujit::codegen::ast::BinOp;
    use gpujit::codegen::math::MathFn;
    use gpujit::codegen::ScalarType;
    use gpujit::runtime::dynamic::DynExpr;
    use gpujit::runtime::expr::Node;
    use gpujit::runtime::reduce::ReduceOp;
    use gpujit::runtime::KernelArg;
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-4.0, 4.0) as f32);
        let dx = h.arr(&x);
        // (x as f64) * 2.5 + x², into an f64 output.
        let xf = DynExpr::input(&dx).cast(ScalarType::F64);
        let sq = DynExpr::apply(Node::Binary(BinOp::Mul), &[xf.clone(), xf.clone()], ScalarType::F64);
        let scaled = DynExpr::apply(Node::Binary(BinOp::Mul), &[xf, DynExpr::input(2.5f64)], ScalarType::F64);
        let y = DynExpr::apply(Node::Binary(BinOp::Add), &[scaled, sq], ScalarType::F64);
        let mut out = h.zeros::<f64>(n);
        y.eval_into((&mut out).into_arg(), None).unwrap();
        let want: Vec<f64> = x.iter().map(|&v| v as f64 * 2.5 + (v as f64) * (v as f64)).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}");
    }
    // A test of a 16-bit float gives a bool, not a widened 16-bit value (this failed to compile:
    // "mismatched types in assignment: bool and f16").
    let mut y: Vec<f16> = h.vec(257, |h| f16::from_f64(h.f64_in(-4.0, 4.0)));
    y[3] = f16::NAN;
    y[100] = f16::INFINITY;
    let dy = h.arr(&y);
    for (f, want) in
        [(MathFn::IsNan, y.iter().map(|v| v.is_nan()).collect::<Vec<_>>()), (MathFn::IsFinite, y.iter().map(|v| v.is_finite()).collect())]
    {
        let mut out = h.zeros::<bool>(257);
        DynExpr::apply(Node::Math(f), &[DynExpr::input(&dy)], ScalarType::Bool).eval_into((&mut out).into_arg(), None).unwrap();
        assert_eq!(out.to_vec().unwrap(), want, "{f:?}");
    }
    // 30 equal constants are one operand (an expression takes at most 20).
    let dx = h.arr(&[1.0f32, 2.0, 3.0]);
    let mut e = DynExpr::input(&dx);
    for _ in 0..30 {
        e = DynExpr::apply(Node::Binary(BinOp::Add), &[e, DynExpr::constant(0.5f32.into_arg())], ScalarType::F32);
    }
    let mut out = h.zeros::<f32>(3);
    e.eval_into((&mut out).into_arg(), None).unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![16.0, 17.0, 18.0]);
    // Scalars given as inputs stay parameters of their own: 30 of them are too many.
    let mut e = DynExpr::input(&dx);
    for _ in 0..30 {
        e = DynExpr::apply(Node::Binary(BinOp::Add), &[e, DynExpr::input(0.5f32)], ScalarType::F32);
    }
    let err = e.eval_into((&mut out).into_arg(), None).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    // A reduction along an axis of a broadcast expression.
    let (rows, cols) = (7, 130);
    let m: Vec<f64> = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0));
    let dm = DeviceArray::from_shape(&h.dev, &[rows, cols], &m).unwrap();
    let abs = DynExpr::apply(Node::Math(MathFn::Abs), &[DynExpr::input(&dm)], ScalarType::F64);
    let r = abs.reduce(ReduceOp::Sum, true, ScalarType::F64).axes(&[1]);
    assert_eq!(r.result_shape().unwrap(), vec![rows]);
    let mut means = h.zeros::<f64>(rows);
    r.eval_into((&mut means).into_arg()).unwrap();
    let got = means.to_vec().unwrap();
    for i in 0..rows {
        let want = m[i * cols..(i + 1) * cols].iter().map(|v| v.abs()).sum::<f64>() / cols as f64;
        assert!((got[i] - want).abs() < 1e-12, "row {i}: {} vs {want}", got[i]);
    }
    // Mismatched types are a compile error naming the expression, never a crash.
    let bad = DynExpr::apply(Node::Binary(BinOp::Add), &[DynExpr::input(&dx), DynExpr::input(1.0f64)], ScalarType::F32);
    let err = bad.eval_into((&mut out).into_arg(), None).unwrap_err();
    assert!(matches!(err, Error::Compile(_)), "{err}");
}

/// Bad expressions are errors naming the problem, and nothing is written.
pub fn expr_errors(h: &Harness) {
    let _serial = serial();
    let (a, b) = (h.arr(&[1.0f32; 3]), h.arr(&[1.0f32; 4]));
    let e = (expr(&a) + &b).eval().unwrap_err();
    assert!(matches!(&e, Error::Expression(m) if m.contains("[3]") && m.contains("[4]")), "{e}");
    let mut out = h.arr(&[7.0f32; 4]);
    let e = (expr(&a) * 2.0).eval_into(&mut out).unwrap_err();
    assert!(e.to_string().contains("cannot be written to an output of shape [4]"), "{e}");
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 4], "nothing written");
    let e = expr(&a).eval_into(&a).unwrap_err();
    assert!(e.to_string().contains("not a writable array"), "{e}");
    // Too many operands.
    let mut big = expr(&a);
    for k in 0..25 {
        big = big + k as f32;
    }
    let e = big.eval().unwrap_err();
    assert!(e.to_string().contains("at most"), "{e}");
    // Reductions: bad axes, empty min.
    let m = DeviceArray::from_shape(&h.dev, &[2, 3], &[1.0f32; 6]).unwrap();
    let e = expr(&m).sum().axis(2).eval().unwrap_err();
    assert!(e.to_string().contains("axis 2 is out of range"), "{e}");
    let empty = h.zeros::<f32>(0);
    let e = expr(&empty).reduce_max().value().unwrap_err();
    assert!(e.to_string().contains("zero elements"), "{e}");
    let e = expr(&m).sum().axis(0).value().unwrap_err();
    assert!(e.to_string().contains("every axis"), "{e}");
}

/// Re-evaluating an expression of the same form with other scalars and other arrays of other
/// sizes compiles nothing new.
pub fn expr_cache(h: &Harness) {
    let _serial = serial();
    let run = |n: usize, a: f32| {
        let x = h.arr(&vec![1.0f32; n]);
        let y = h.arr(&vec![2.0f32; n]);
        let v = ((expr(&x) * a + &y).sqrt() - a).eval().unwrap().to_vec().unwrap();
        assert_eq!(v, vec![(a + 2.0).sqrt() - a; n]);
        let s = (expr(&x) * a).sum().value().unwrap();
        assert_eq!(s, a * n as f32);
    };
    // Sizes pick the plan (one pass or two for the sum); warm each up once.
    let sizes = [1000, 1001, 5000, 77, 100_000];
    for n in sizes {
        run(n, 2.0);
    }
    // Counted on this thread: tests running beside it generate kernels of their own, as this
    // thread does meanwhile (a form no other test uses).
    let before = fuse::kernels_generated_here();
    std::thread::scope(|s| {
        let dev = h.dev.clone();
        s.spawn(move || {
            let x = DeviceArray::from_slice(&dev, &[0.25f64; 7]).unwrap();
            let v = (expr(&x).tanh().cosh().abs() * 3.0).eval().unwrap().to_vec().unwrap();
            assert_close(&v, &[0.25f64.tanh().cosh().abs() * 3.0; 7], 1e-12, "the other thread's expression");
            assert!(fuse::kernels_generated_here() >= 1, "the other thread generated its kernel");
        });
        for k in 0..3 {
            for n in sizes {
                run(n, 3.0 + k as f32);
            }
        }
    });
    assert_eq!(fuse::kernels_generated_here(), before, "no new kernel for the same expression form");
}

fn to_f64<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| (*x).into()).collect()
}

/// A reference reduction along `axes` of a row-major `shape`, with `f` over the reduced values in
/// row-major order.
fn reference<T: Copy, R>(data: &[T], shape: &[usize], axes: &[usize], f: impl Fn(&[T]) -> R) -> Vec<R> {
    let nd = shape.len();
    let kept: Vec<usize> = (0..nd).filter(|d| !axes.contains(d)).collect();
    let red: Vec<usize> = (0..nd).filter(|d| axes.contains(d)).collect();
    let m: usize = kept.iter().map(|&d| shape[d]).product();
    let k: usize = red.iter().map(|&d| shape[d]).product();
    let mut strides = vec![1usize; nd];
    for d in (0..nd.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let at = |dims: &[usize], mut flat: usize| {
        let mut off = 0;
        for &d in dims.iter().rev() {
            off += (flat % shape[d]) * strides[d];
            flat /= shape[d];
        }
        off
    };
    (0..m).map(|o| (0..k).map(|i| data[at(&kept, o) + at(&red, i)]).collect::<Vec<T>>()).map(|v| f(&v)).collect()
}

fn nan_min(v: &[f64]) -> f64 {
    v.iter().fold(f64::INFINITY, |a, &b| if b.is_nan() || a.is_nan() { f64::NAN } else { a.min(b) })
}

fn nan_max(v: &[f64]) -> f64 {
    v.iter().fold(f64::NEG_INFINITY, |a, &b| if b.is_nan() || a.is_nan() { f64::NAN } else { a.max(b) })
}

fn first_arg(v: &[f64], better: impl Fn(f64, f64) -> bool) -> usize {
    if let Some(i) = v.iter().position(|x| x.is_nan()) {
        return i;
    }
    let mut best = 0;
    for i in 1..v.len() {
        if better(v[i], v[best]) {
            best = i;
        }
    }
    best
}

pub fn reductions(h: &Harness) {
    let _serial = serial();
    // Full reductions, sizes off the block and large enough for two passes.
    for n in [0usize, 1, 127, 129, 4099, 100_003] {
        let x: Vec<f64> = h.vec(n, |h| h.f64_in(-1.0, 1.0));
        let y: Vec<f64> = h.vec(n, |h| h.f64_in(-1.0, 1.0));
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let tol = 1e-13 * (n as f64).max(1.0);
        let sum: f64 = x.iter().sum();
        assert_close(&[expr(&dx).sum().value().unwrap()], &[sum], tol, "sum");
        assert_close(&[dot(&dx, &dy).value().unwrap()], &[x.iter().zip(&y).map(|(a, b)| a * b).sum()], tol, "dot");
        assert_close(&[expr(&dx).norm().value().unwrap()], &[x.iter().map(|v| v * v).sum::<f64>().sqrt()], tol, "norm");
        assert_close(&[expr(&dx).norm_l1().value().unwrap()], &[x.iter().map(|v| v.abs()).sum::<f64>()], tol, "norm_l1");
        let mean = expr(&dx).mean().value().unwrap();
        if n == 0 {
            assert!(mean.is_nan(), "mean of nothing");
        } else {
            assert_close(&[mean], &[sum / n as f64], tol, "mean");
        }
        // Fused map-reduce: the sum of an expression.
        let fused = ((expr(&dx) - 0.5) * &dy).exp().sum().value().unwrap();
        assert_close(&[fused], &[x.iter().zip(&y).map(|(a, b)| ((a - 0.5) * b).exp()).sum()], tol, "sum(exp((x-0.5)*y))");
        if n > 0 {
            assert_eq!(expr(&dx).reduce_min().value().unwrap(), nan_min(&x));
            assert_eq!(expr(&dx).reduce_max().value().unwrap(), nan_max(&x));
            assert_eq!(expr(&dx).argmin().value().unwrap(), first_arg(&x, |a, b| a < b));
            assert_eq!(expr(&dx).argmax().value().unwrap(), first_arg(&x, |a, b| a > b));
            // Ties give the first position; a NaN wins and its first position is returned.
            let mut t = x.clone();
            let w = (h.next_u64() as usize) % n;
            t[w] = 5.0;
            t[n - 1] = 5.0;
            let dt = h.arr(&t);
            assert_eq!(expr(&dt).argmax().value().unwrap(), w.min(n - 1));
            t[n / 2] = f64::NAN;
            t[n - 1] = f64::NAN;
            let dt = h.arr(&t);
            assert!(expr(&dt).reduce_min().value().unwrap().is_nan() && expr(&dt).reduce_max().value().unwrap().is_nan());
            assert_eq!(expr(&dt).argmin().value().unwrap(), n / 2);
        }
        // Products of values near 1; integer sums wrap; 16-bit floats accumulate in f32.
        let p: Vec<f32> = h.vec(n.min(3000), |h| h.f64_in(0.999, 1.001) as f32);
        let prod = expr(&h.arr(&p)).prod().value().unwrap() as f64;
        assert_close(&[prod], &[p.iter().map(|v| *v as f64).product::<f64>()], 1e-4, "prod");
        let ints: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let di = h.arr(&ints);
        assert_eq!(expr(&di).sum().value().unwrap(), ints.iter().fold(0i32, |a, b| a.wrapping_add(*b)));
        if n > 0 {
            assert_eq!(expr(&di).reduce_max().value().unwrap(), *ints.iter().max().unwrap());
            assert_eq!(expr(&di).argmin().value().unwrap(), first_arg(&ints.iter().map(|v| *v as f64).collect::<Vec<_>>(), |a, b| a < b));
        }
        let small: Vec<i8> = h.vec(n, |h| h.next_u64() as i8);
        assert_eq!(expr(&h.arr(&small)).sum().value().unwrap(), small.iter().fold(0i8, |a, b| a.wrapping_add(*b)));
        let hx: Vec<bf16> = h.vec(n, |h| bf16::from_f64(h.f64_in(0.0, 1.0)));
        let got = expr(&h.arr(&hx)).sum().value().unwrap().to_f64();
        let want: f64 = hx.iter().map(|v| v.to_f64()).sum();
        // One rounding to bf16 at the end (8 bits), not one a term.
        assert_close(&[got], &[want], 1.0 / 128.0, "bf16 sum in f32");
    }
    // Long flat ranges: on the CPU backend groups of contiguous elements a thread, levels of
    // partial results and a tail (sizes at and around the group sizes, 1024 f32 and 512 f64
    // elements; whole groups only; several levels); strided and reversed views.
    for n in [1023usize, 1024, 2047, 2048, 2049, 1 << 16, (1 << 20) + 1001] {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let dx = h.arr(&x);
        let exact: f64 = x.iter().map(|v| *v as f64).sum();
        let tol = 1e-6 * (n as f64).sqrt() * 4.0 + 1e-6;
        let got = expr(&dx).sum().value().unwrap();
        assert_close(&[got as f64], &[exact], tol, &format!("f32 sum of {n}"));
        assert_eq!(expr(&dx).sum().value().unwrap(), got, "the same sum again, n = {n}");
        let fused = (expr(&dx) * 3.0 + 1.0).sum().value().unwrap() as f64;
        assert_close(&[fused], &[3.0 * exact + n as f64], tol * 4.0 + 1e-3, &format!("sum(3x+1) of {n}"));
        let xd: Vec<f64> = x.iter().map(|v| *v as f64).collect();
        let mut xd_nan = xd.clone();
        let dd = h.arr(&xd);
        assert_eq!(expr(&dd).reduce_min().value().unwrap(), nan_min(&xd), "min of {n}");
        assert_eq!(expr(&dd).reduce_max().value().unwrap(), nan_max(&xd), "max of {n}");
        assert_close(&[expr(&dd).mean().value().unwrap()], &[exact / n as f64], 1e-12, &format!("mean of {n}"));
        // A NaN in the last element (a tail) and in the first group.
        for at in [n - 1, n / 3] {
            xd_nan[at] = f64::NAN;
            let dn = h.arr(&xd_nan);
            assert!(expr(&dn).reduce_max().value().unwrap().is_nan(), "NaN at {at} of {n}");
            assert!(expr(&dn).sum().value().unwrap().is_nan(), "sum with a NaN at {at} of {n}");
            xd_nan[at] = xd[at];
        }
        let ints: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        assert_eq!(expr(&h.arr(&ints)).sum().value().unwrap(), ints.iter().fold(0i32, |a, b| a.wrapping_add(*b)), "i32 sum of {n}");
        let bytes: Vec<u8> = h.vec(n, |h| h.next_u64() as u8);
        let wide = expr(&h.arr(&bytes)).sum().value().unwrap();
        assert_eq!(wide, bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)), "u8 sum of {n}");
        // Every third element, and backwards.
        for step in [3isize, -2] {
            let v = dx.view().slice(0, 0..n, step).unwrap();
            let picked: Vec<f64> = if step > 0 {
                x.iter().step_by(step as usize).map(|v| *v as f64).collect()
            } else {
                x.iter().rev().step_by((-step) as usize).map(|v| *v as f64).collect()
            };
            let got = expr(v).sum().value().unwrap() as f64;
            assert_close(&[got], &[picked.iter().sum::<f64>()], tol, &format!("sum of every {step} of {n}"));
            // The position in the view (rows of 4096 a thread on the CPU backend, and the rest).
            let v = dx.view().slice(0, 0..n, step).unwrap();
            assert_eq!(expr(v).argmax().value().unwrap(), first_arg(&picked, |a, b| a > b), "argmax of every {step} of {n}");
        }
    }
    // Along axes of a 3-D expression (keepdims too), and of a transposed view.
    for shape in [[3usize, 4, 5], [2, 1, 300], [40, 50, 3], [0, 3, 2], [5, 700, 2]] {
        let n: usize = shape.iter().product();
        let x: Vec<f64> = h.vec(n, |h| h.f64_in(-1.0, 1.0));
        let dx = DeviceArray::from_shape(&h.dev, &shape, &x).unwrap();
        for axes in [vec![0], vec![1], vec![2], vec![0, 1], vec![1, 2], vec![0, 2], vec![0, 1, 2]] {
            let want = reference(&x, &shape, &axes, |v| v.iter().map(|a| a * 2.0).sum::<f64>());
            let got = (expr(&dx) * 2.0).sum().axes(&axes).eval().unwrap();
            let kept: Vec<usize> = (0..3).filter(|d| !axes.contains(d)).map(|d| shape[d]).collect();
            assert_eq!(got.shape(), if kept.is_empty() { &[1][..] } else { &kept[..] }, "{shape:?} {axes:?}");
            assert_close(&got.to_vec().unwrap(), &want, 1e-13 * n.max(1) as f64, &format!("sum {shape:?} axes {axes:?}"));
            let kd = expr(&dx).reduce_max().axes(&axes).keepdims(true);
            if shape.iter().enumerate().any(|(d, s)| *s == 0 && axes.contains(&d)) {
                assert!(kd.eval().is_err(), "max over nothing");
                continue;
            }
            let got = kd.eval().unwrap();
            let kshape: Vec<usize> = (0..3).map(|d| if axes.contains(&d) { 1 } else { shape[d] }).collect();
            assert_eq!(got.shape(), &kshape[..]);
            assert_eq!(got.to_vec().unwrap(), reference(&x, &shape, &axes, nan_max), "max {shape:?} {axes:?}");
            if axes.len() == 1 || axes.len() == 3 {
                let got = expr(&dx).argmin().axes(&axes).eval().unwrap();
                assert_eq!(
                    got.to_vec().unwrap(),
                    reference(&x, &shape, &axes, |v| first_arg(v, |a, b| a < b)),
                    "argmin {shape:?} {axes:?}"
                );
            }
        }
        // A transposed view reduced along its (non-contiguous) last axis.
        let t = dx.view().permuted(&[2, 1, 0]).unwrap();
        let got = expr(t).sum().axis(2).eval().unwrap().to_vec().unwrap();
        let want = reference(&x, &shape, &[0], |v| v.iter().sum::<f64>());
        // got is [s2, s1] while want is [s1, s2]: compare transposed.
        let (s1, s2) = (shape[1], shape[2]);
        let back: Vec<f64> = (0..s1 * s2).map(|f| got[(f % s2) * s1 + f / s2]).collect();
        assert_close(&back, &want, 1e-13 * n.max(1) as f64, "sum of a transposed view");
    }
}

/// Reductions along an axis of matrices of shapes for each of the CPU backend's plans: a thread
/// a row, the flat plan row by row for a few long rows, groups of neighbouring columns and the
/// last few columns, blocks of rows into partial results where a row of them is small (with a
/// last, shorter block); the GPU runs its own plans on the same shapes.
pub fn matrix_reductions(h: &Harness) {
    let _serial = serial();
    let shapes = [
        (1usize, 1usize),
        (1, 17),
        (17, 1),
        (9, 16),
        (8, 33),
        (100, 7),
        (7, 100),
        (33, 1000),
        (1000, 33),
        (300, 250),
        (1001, 129),
        (2, 140_000),
        (40_000, 2),
        (12, 33_000),
        (5, 40_007),
    ];
    for (rows, cols) in shapes {
        let n = rows * cols;
        let x: Vec<f64> = h.vec(n, |h| h.f64_in(-1.0, 1.0));
        let y: Vec<f64> = h.vec(n, |h| h.f64_in(-1.0, 1.0));
        let dx = DeviceArray::from_shape(&h.dev, &[rows, cols], &x).unwrap();
        let dy = DeviceArray::from_shape(&h.dev, &[rows, cols], &y).unwrap();
        let xf: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let dxf = DeviceArray::from_shape(&h.dev, &[rows, cols], &xf).unwrap();
        let ints: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let di = DeviceArray::from_shape(&h.dev, &[rows, cols], &ints).unwrap();
        let bytes: Vec<u8> = h.vec(n, |h| h.next_u64() as u8);
        let db = DeviceArray::from_shape(&h.dev, &[rows, cols], &bytes).unwrap();
        let shape = [rows, cols];
        let row: Vec<f64> = h.vec(cols, |h| h.f64_in(-1.0, 1.0));
        let col: Vec<f64> = h.vec(rows, |h| h.f64_in(-1.0, 1.0));
        let rowi: Vec<i32> = h.vec(cols, |h| (h.next_u64() % 7) as i32 - 3);
        let (drow, drowi) = (h.arr(&row), h.arr(&rowi));
        let dcol = DeviceArray::from_shape(&h.dev, &[rows, 1], &col).unwrap();
        // The column as column 1 of a `[rows, 3]` matrix: a view of stride 3.
        let wide: Vec<f64> = (0..rows * 3).map(|i| if i % 3 == 1 { col[i / 3] } else { f64::NAN }).collect();
        let dwide = DeviceArray::from_shape(&h.dev, &[rows, 3], &wide).unwrap();
        let dcol_view = dwide.view().slice(1, 1..2, 1).unwrap();
        let dzero = DeviceArray::from_shape(&h.dev, &[rows, cols], &vec![0.0f64; n]).unwrap();
        for axis in [0usize, 1] {
            let what = |op: &str| format!("{op} of {rows} x {cols} along axis {axis}");
            let k = shape[axis] as f64;
            let tol = 1e-14 * k.max(1.0);
            let want = reference(&x, &shape, &[axis], |v| v.iter().sum::<f64>());
            assert_close(&expr(&dx).sum().axis(axis).eval().unwrap().to_vec().unwrap(), &want, tol, &what("sum"));
            let want = reference(&x, &shape, &[axis], |v| v.iter().sum::<f64>() / v.len() as f64);
            assert_close(&expr(&dx).mean().axis(axis).eval().unwrap().to_vec().unwrap(), &want, tol, &what("mean"));
            // A fused expression of two operands and a scalar, and its norm.
            let xy: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b + 0.5).collect();
            let want = reference(&xy, &shape, &[axis], |v| v.iter().sum::<f64>());
            let got = (expr(&dx) * &dy + 0.5).sum().axis(axis).eval().unwrap().to_vec().unwrap();
            assert_close(&got, &want, tol * 2.0, &what("sum(x*y+0.5)"));
            let want = reference(&x, &shape, &[axis], |v| v.iter().map(|a| a * a).sum::<f64>().sqrt());
            assert_close(&expr(&dx).norm().axis(axis).eval().unwrap().to_vec().unwrap(), &want, tol, &what("norm"));
            // f32 sums against exact ones: each within a few roundings a term.
            let want = reference(&xf, &shape, &[axis], |v| v.iter().map(|a| *a as f64).sum::<f64>());
            let got = to_f64(&expr(&dxf).sum().axis(axis).eval().unwrap().to_vec().unwrap());
            assert_close(&got, &want, 1e-6 * k.sqrt() * 4.0 + 1e-6, &what("f32 sum"));
            // Integers wrap, exactly.
            let want = reference(&ints, &shape, &[axis], |v| v.iter().fold(0i32, |a, b| a.wrapping_add(*b)));
            assert_eq!(expr(&di).sum().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("i32 sum"));
            let want = reference(&bytes, &shape, &[axis], |v| v.iter().fold(0u8, |a, b| a.wrapping_add(*b)));
            assert_eq!(expr(&db).sum().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("u8 sum"));
            let want = reference(&ints, &shape, &[axis], |v| *v.iter().max().unwrap());
            assert_eq!(expr(&di).reduce_max().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("i32 max"));
            // Ties (the first position wins) and NaN (the first NaN wins; min and max are NaN).
            let mut t: Vec<f64> = x.iter().map(|v| (v * 4.0).round()).collect();
            for _ in 0..(n / 50).max(1) {
                let at = (h.next_u64() as usize) % n;
                t[at] = f64::NAN;
            }
            let dt = DeviceArray::from_shape(&h.dev, &[rows, cols], &t).unwrap();
            let want = reference(&t, &shape, &[axis], |v| first_arg(v, |a, b| a > b));
            assert_eq!(expr(&dt).argmax().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("argmax"));
            let want = reference(&t, &shape, &[axis], |v| first_arg(v, |a, b| a < b));
            assert_eq!(expr(&dt).argmin().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("argmin"));
            let want = reference(&t, &shape, &[axis], nan_min);
            let got = expr(&dt).reduce_min().axis(axis).eval().unwrap().to_vec().unwrap();
            assert!(got.iter().zip(&want).all(|(g, w)| g == w || (g.is_nan() && w.is_nan())), "{}", what("min with NaN"));
            // A user reduction.
            let want = reference(&xf, &shape, &[axis], |v| v.iter().fold(0.0f32, |a, &b| absmax(a, b)).abs());
            let got = expr(&dxf).reduce(device_fn!(absmax), 0.0).axis(axis).eval().unwrap().to_vec().unwrap();
            assert_eq!(got.iter().map(|v| v.abs()).collect::<Vec<_>>(), want, "{}", what("absmax"));
            // Twice: the same bits (the order depends only on the shape).
            let sum = || expr(&dxf).sum().axis(axis).eval().unwrap().to_vec().unwrap();
            assert_eq!(to_f64(&sum()), to_f64(&sum()), "{}", what("f32 sum again"));
            // Broadcast operands: a row `[cols]` and a column `[rows, 1]` beside the matrix.
            let xv: Vec<f64> = (0..n).map(|i| x[i] - row[i % cols] * col[i / cols.max(1)]).collect();
            let want = reference(&xv, &shape, &[axis], |v| v.iter().sum::<f64>());
            let got = (expr(&dx) - expr(&drow) * &dcol).sum().axis(axis).eval().unwrap().to_vec().unwrap();
            assert_close(&got, &want, tol * 2.0, &what("sum(x - row * col)"));
            let tv: Vec<f64> = (0..n).map(|i| t[i] + row[i % cols]).collect();
            let want = reference(&tv, &shape, &[axis], |v| first_arg(v, |a, b| a > b));
            assert_eq!((expr(&dt) + &drow).argmax().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("argmax(t + row)"));
            let iv: Vec<i32> = (0..n).map(|i| ints[i].wrapping_mul(rowi[i % cols])).collect();
            let want = reference(&iv, &shape, &[axis], |v| *v.iter().max().unwrap());
            assert_eq!((expr(&di) * &drowi).reduce_max().axis(axis).eval().unwrap().to_vec().unwrap(), want, "{}", what("max(i * row)"));
            // A column view (strided) beside the matrix, and the row alone broadcast.
            let want = reference(&xv, &shape, &[axis], |v| v.iter().sum::<f64>());
            let got = (expr(&dx) - expr(&drow) * &dcol_view).sum().axis(axis).eval().unwrap().to_vec().unwrap();
            assert_close(&got, &want, tol * 2.0, &what("sum(x - row * column view)"));
            let rows_only: Vec<f64> = (0..n).map(|i| row[i % cols]).collect();
            let want = reference(&rows_only, &shape, &[axis], |v| v.iter().sum::<f64>());
            let got = (expr(&drow) + &dzero).sum().axis(axis).eval().unwrap().to_vec().unwrap();
            assert_close(&got, &want, tol, &what("sum(row + zeros)"));
        }
    }
}

#[gpu_device]
fn absmax(a: f32, b: f32) -> f32 {
    if a.abs() > b.abs() {
        a
    } else {
        b
    }
}

/// A user reduction from a `#[gpu_device]` function and an identity (CuPy's ReductionKernel).
pub fn user_reductions(h: &Harness) {
    let _serial = serial();
    for n in [0usize, 1, 255, 5000, 70_001] {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let dx = h.arr(&x);
        let got = expr(&dx).reduce(device_fn!(absmax), 0.0).value().unwrap();
        let want = x.iter().fold(0.0f32, |a, &b| absmax(a, b));
        assert_eq!(got.abs(), want.abs(), "n = {n}");
        // Along an axis, of a fused expression.
        if n >= 5000 {
            let m = DeviceArray::from_shape(&h.dev, &[50, 100], &x[..5000]).unwrap();
            let got = (expr(&m) - 1.0).reduce(device_fn!(absmax), 0.0).axis(1).eval().unwrap().to_vec().unwrap();
            let want: Vec<f32> = (0..50).map(|r| x[r * 100..r * 100 + 100].iter().fold(0.0f32, |a, &b| absmax(a, b - 1.0))).collect();
            assert_eq!(got.iter().map(|v| v.abs()).collect::<Vec<_>>(), want.iter().map(|v| v.abs()).collect::<Vec<_>>());
        }
    }
}

#[gpu_vectorize]
fn rel_diff(a: f64, b: f64) -> f64 {
    let d = a - b;
    let scale = a.abs() + b.abs() + 1.0;
    if d < 0.0 {
        -d / scale
    } else {
        d / scale
    }
}

#[gpu_vectorize]
fn lerp<T: Float>(a: T, b: T, t: T) -> T {
    a + (b - a) * t
}

/// `#[gpu_vectorize]`: scalar functions applied to broadcast arrays and fused with the rest of an
/// expression, against the same functions called on the host.
pub fn vectorized_functions(h: &Harness) {
    let _serial = serial();
    for (r, c) in [(0usize, 3usize), (1, 1), (7, 129), (40, 33)] {
        let m: Vec<f64> = h.vec(r * c, |h| h.f64_in(-5.0, 5.0));
        let row: Vec<f64> = h.vec(c, |h| h.f64_in(-5.0, 5.0));
        let dm = DeviceArray::from_shape(&h.dev, &[r, c], &m).unwrap();
        let drow = h.arr(&row);
        let got = rel_diff::map(&dm, &drow).eval().unwrap();
        assert_eq!(got.shape(), &[r, c]);
        let want: Vec<f64> = (0..r * c).map(|f| rel_diff(m[f], row[f % c])).collect();
        assert_close(&got.to_vec().unwrap(), &want, 1e-15, "rel_diff over a broadcast row");
        // Fused with more operations and a reduction, a scalar operand, a transposed view.
        let got = (rel_diff::map(dm.view().t(), 0.5) * 2.0).sum().value().unwrap();
        let want: f64 = m.iter().map(|v| rel_diff(*v, 0.5) * 2.0).sum();
        assert_close(&[got], &[want], 1e-12, "sum(2 * rel_diff(m^T, 0.5))");
        let a: Vec<f32> = h.vec(r * c, |h| h.f64_in(-1.0, 1.0) as f32);
        let b: Vec<f32> = h.vec(r * c, |h| h.f64_in(-1.0, 1.0) as f32);
        let (da, db) = (h.arr(&a), h.arr(&b));
        let mut out = h.zeros::<f32>(r * c);
        lerp::map(&da, &db, 0.25f32).eval_into(&mut out).unwrap();
        assert_eq!(out.to_vec().unwrap(), a.iter().zip(&b).map(|(a, b)| lerp(*a, *b, 0.25)).collect::<Vec<_>>());
    }
}

/// Two outputs with an early return, a branch in the tail, and different output types.
// `v != v`: NaN (the kernel language has no `is_nan` method yet).
#[allow(clippy::eq_op)]
#[gpu_vectorize]
fn split_mag(v: f64, limit: f64) -> (f64, i32) {
    if v != v {
        return (0.0, -1);
    }
    let m = v.abs();
    if m > limit {
        (limit, 1)
    } else {
        (m, 0)
    }
}

/// Three outputs of a generic type.
#[gpu_vectorize]
fn moments<T: Float>(a: T, b: T) -> (T, T, T) {
    let s = a + b;
    (s, s * s, (a - b).abs())
}

/// Several outputs from one `#[gpu_vectorize]` function, evaluated in one kernel, against the
/// function called on the host.
pub fn vectorized_outputs(h: &Harness) {
    let _serial = serial();
    for n in SIZES {
        let mut v: Vec<f64> = h.vec(n, |h| h.f64_in(-4.0, 4.0));
        if n > 3 {
            v[3] = f64::NAN;
        }
        let dv = h.arr(&v);
        let before = gpujit::fuse::kernels_generated_here();
        let (mag, flag) = split_mag::map(&dv, 2.5).eval().unwrap();
        let want: Vec<(f64, i32)> = v.iter().map(|x| split_mag(*x, 2.5)).collect();
        assert_eq!(mag.to_vec().unwrap(), want.iter().map(|w| w.0).collect::<Vec<_>>(), "split_mag.0, n = {n}");
        assert_eq!(flag.to_vec().unwrap(), want.iter().map(|w| w.1).collect::<Vec<_>>(), "split_mag.1, n = {n}");
        // Another limit is a parameter, not a new kernel; both outputs came from one.
        let (mag, _) = split_mag::map(&dv, 1.0).eval().unwrap();
        assert_eq!(mag.to_vec().unwrap(), v.iter().map(|x| split_mag(*x, 1.0).0).collect::<Vec<_>>());
        assert!(gpujit::fuse::kernels_generated_here() <= before + 1, "one kernel for both outputs");

        // Broadcast (a row against a matrix), a generic type, into given outputs through a Fusion.
        let cols = 5;
        let rows = n.div_ceil(cols);
        let m: Vec<f32> = h.vec(rows * cols, |h| h.f64_in(-3.0, 3.0) as f32);
        let row: Vec<f32> = h.vec(cols, |h| h.f64_in(-3.0, 3.0) as f32);
        let dm = DeviceArray::from_shape(&h.dev, &[rows, cols], &m).unwrap();
        let drow = h.arr(&row);
        let (s, sq, d) = moments::map(&dm, &drow);
        let mut out_s = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
        let mut out_d = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
        Fusion::new().output(&mut out_s, s).output(&mut out_d, d * 2.0).run().unwrap();
        let want: Vec<(f32, f32, f32)> = (0..rows * cols).map(|f| moments(m[f], row[f % cols])).collect();
        assert_eq!(out_s.to_vec().unwrap(), want.iter().map(|w| w.0).collect::<Vec<_>>());
        assert_eq!(out_d.to_vec().unwrap(), want.iter().map(|w| w.2 * 2.0).collect::<Vec<_>>());
        let total = sq.sum().value().unwrap();
        let want_total: f32 = want.iter().map(|w| w.1).sum();
        assert!((total - want_total).abs() <= 1e-4 * (1.0 + want_total.abs()), "sum of squares {total} vs {want_total}");
    }
}

#[gpu_device]
fn square(v: f32) -> f32 {
    v * v
}

fn saxpy_into(out: &mut DeviceArray<f32>, a: f32, x: &DeviceArray<f32>, y: &DeviceArray<f32>) -> gpujit::Result<()> {
    let n = x.len();
    // `out`, `x` and `y` are references here: captured through them.
    forall!(n, |i| out[i] = a * x[i] + y[i])
}

/// `forall!`: closures over 1-, 2- and 3-D index spaces capturing arrays and scalars.
pub fn forall_closures(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-10.0, 10.0) as f32);
        let y = h.vec(n, |h| h.f64_in(-10.0, 10.0) as f32);
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let mut out = h.zeros::<f32>(n);
        let a = 1.5f32;
        forall!(n, |i| out[i] = a * dx[i] + dy[i]).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().zip(&y).map(|(x, y)| h.madd(a, *x, *y)).collect::<Vec<_>>());
        saxpy_into(&mut out, 2.0, &dx, &dy).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().zip(&y).map(|(x, y)| h.madd(2.0, *x, *y)).collect::<Vec<_>>());
        // A block body with locals, a branch, a device function and a compound assignment.
        let mut acc = h.arr(&y);
        forall!(n, |i| {
            let v = dx[i];
            if v > 0.0 {
                acc[i] += square(v);
            } else {
                acc[i] -= 1.0;
            }
        })
        .unwrap();
        let want: Vec<f32> = x.iter().zip(&y).map(|(x, y)| if *x > 0.0 { y + x * x } else { y - 1.0 }).collect();
        assert_eq!(acc.to_vec().unwrap(), want);
    }
    for (r, c) in [(0usize, 4usize), (3, 5), (33, 65)] {
        let m: Vec<i64> = h.vec(r * c, |h| h.next_u64() as i64 % 1000);
        let row: Vec<i64> = h.vec(c, |h| h.next_u64() as i64 % 1000);
        let dm = DeviceArray::from_shape(&h.dev, &[r, c], &m).unwrap();
        let drow = h.arr(&row);
        let mut out = DeviceArray::<i64>::zeros_shape(&h.dev, &[c, r]).unwrap();
        let k = 7i64;
        // Transposed write into a 2-D array, reading a 2-D array and a row.
        forall!((r, c), |i, j| out[[j, i]] = dm[[i, j]] * drow[j] + k).unwrap();
        let got = out.to_vec().unwrap();
        for (f, v) in m.iter().enumerate() {
            let (i, j) = (f / c, f % c);
            assert_eq!(got[j * r + i], v * row[j] + k);
        }
        let mut cube = DeviceArray::<u32>::zeros_shape(&h.dev, &[2, r, c]).unwrap();
        forall!((2, r, c), |a, b, d| cube[[a, b, d]] = (a * 10000 + b * 100 + d) as u32).unwrap();
        let got = cube.to_vec().unwrap();
        assert!(got.iter().enumerate().all(|(f, v)| *v == ((f / (r * c)) * 10000 + (f / c % r) * 100 + f % c) as u32));
    }
    // A type error in the body is an error at launch naming the kernel.
    let x = h.arr(&[true, false]);
    let mut out = h.zeros::<f32>(2);
    let e = forall!(2, |i| out[i] = x[i] * 2.0).unwrap_err();
    assert!(e.to_string().contains("forall_line_"), "{e}");
}
