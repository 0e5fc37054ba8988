//! `assert!`, `assert_eq!`, `assert_ne!` and `debug_assert!` in kernels and device functions: a
//! failing one ends its thread, the others run to their end, and the launch fails with
//! `Error::Assertion` naming the kernel, the block, the thread, the file and line, and the
//! message formatted as Rust formats it.

use super::*;

#[gpu_device]
fn checked_sqrt(x: f32, i: usize) -> f32 {
    assert!(x >= 0.0, "negative input {x} at {i}");
    x.sqrt()
}

/// Writes every element whose thread did not fail.
#[gpu_kernel]
fn asserting(x: &[f32], limit: u32, out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        let k = i as u32;
        assert!(k < limit);
        assert_ne!(x[i], 13.0, "thirteen at {}", i);
        out[i] = checked_sqrt(x[i], i);
    }
}

#[gpu_kernel]
fn equal_or_fail(a: &[i64], b: &[i64], out: &mut [i64]) {
    let i = grid(1);
    if i < a.len() {
        assert_eq!(a[i], b[i]);
        out[i] = a[i];
    }
}

#[gpu_kernel]
fn debug_only(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        debug_assert!(x[i] != 7, "seven: {:#x}", x[i]);
        out[i] = x[i] + 1;
    }
}

#[gpu_kernel(debug)]
fn debug_on(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        debug_assert_eq!(x[i] % 2, 0, "odd {:>5}", x[i]);
        out[i] = x[i];
    }
}

/// Assertions where threads meet: a grid-stride loop (on the CPU backend, run in lockstep) and
/// a barrier. A failing thread ends; the others go on, through the barrier too.
#[gpu_kernel]
fn asserting_in_step(x: &[f32], limit: u32, out: &mut [f32]) {
    let mut i = grid(1);
    while i < x.len() {
        assert!((i as u32) < limit, "past the limit at {}", i);
        out[i] = checked_sqrt(x[i], i);
        i += grid_size(1);
    }
    sync_threads();
}

fn assertion(e: &Error) -> (&str, [u32; 3], [u32; 3], &str, u32, &str) {
    match e {
        Error::Assertion { kernel, block, thread, file, line, message, .. } => (kernel, *block, *thread, file, *line, message),
        other => panic!("expected an assertion, got {other}"),
    }
}

pub fn kernel_assertions(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 10.0) as f32);
        let dx = h.arr(&x);
        let mut out = h.zeros::<f32>(n);
        // Nothing fails: a normal launch.
        h.run(&asserting, (n.div_ceil(128).max(1), 128), (&dx, u32::MAX, &mut out)).unwrap();
        let want: Vec<f32> = x.iter().map(|v| v.sqrt()).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}");
        if n < 1000 {
            continue;
        }
        // The device function's assertion fails in thread 5 of block 1 (element 133) alone.
        let limit = u32::MAX;
        let mut out = h.zeros::<f32>(n);
        let mut y = x.clone();
        y[133] = -4.0;
        let dy = h.arr(&y);
        let e = h.run(&asserting, (n.div_ceil(128), 128), (&dy, limit, &mut out)).unwrap_err();
        let (kernel, block, thread, file, line, message) = assertion(&e);
        assert_eq!((kernel, block, thread), ("asserting", [1, 0, 0], [5, 0, 0]), "{e}");
        assert!(file.ends_with("asserts.rs") && line == 10, "{e}");
        assert_eq!(message, "negative input -4 at 133", "{e}");
        // The other threads did their work; the failing one wrote nothing.
        let got = out.to_vec().unwrap();
        for i in 0..n {
            let want = if i == 133 { 0.0 } else { y[i].sqrt() };
            assert_eq!(got[i], want, "n={n} [{i}]");
        }
        let mut z = x.clone();
        z[130] = 13.0;
        let e = h.run(&asserting, (n.div_ceil(128), 128), (&h.arr(&z), limit, &mut out)).unwrap_err();
        let (_, _, thread, _, _, message) = assertion(&e);
        assert_eq!(thread, [2, 0, 0], "{e}");
        assert_eq!(message, "assertion `left != right` failed: thirteen at 130\n  left: 13.0\n right: 13.0", "{e}");
        let e = h.run(&asserting, (n.div_ceil(128), 128), (&dx, 1u32, &mut out)).unwrap_err();
        assert!(assertion(&e).5 == "assertion failed: k < limit", "{e}");
    }
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 10.0) as f32);
        let dx = h.arr(&x);
        let mut out = h.zeros::<f32>(n);
        h.run(&asserting_in_step, (3, 64), (&dx, u32::MAX, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| v.sqrt()).collect::<Vec<_>>(), "n={n}");
        // Each thread stops at its first element from 100 on: the elements below are done.
        let mut out = h.zeros::<f32>(n);
        match h.run(&asserting_in_step, (3, 64), (&dx, 100u32, &mut out)) {
            Ok(()) => assert!(n <= 100, "n={n}: no assertion failed"),
            Err(e) => {
                assert!(n > 100, "n={n}: {e}");
                let (kernel, _, _, _, _, message) = assertion(&e);
                assert_eq!(kernel, "asserting_in_step", "{e}");
                assert!(message.starts_with("past the limit at "), "{e}");
            }
        }
        let want: Vec<f32> = x.iter().enumerate().map(|(i, v)| if i < 100 { v.sqrt() } else { 0.0 }).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}, limit 100");
    }
    let a: Vec<i64> = (0..300).collect();
    let mut b = a.clone();
    b[200] = -1;
    let mut out = h.zeros::<i64>(300);
    let e = h.run(&equal_or_fail, (3, 128), (&h.arr(&a), &h.arr(&b), &mut out)).unwrap_err();
    let (kernel, block, thread, _, _, message) = assertion(&e);
    assert_eq!((kernel, block, thread), ("equal_or_fail", [1, 0, 0], [72, 0, 0]));
    assert_eq!(message, "assertion `left == right` failed\n  left: 200\n right: -1");
    // debug_assert! is compiled only with `debug` (or GPUJIT_DEBUG=1, which this run may set).
    let x = h.arr(&[1u32, 7, 3]);
    let mut o = h.zeros::<u32>(3);
    match h.run(&debug_only, (1, 32), (&x, &mut o)) {
        Ok(()) => assert_eq!(o.to_vec().unwrap(), vec![2, 8, 4]),
        Err(e) => assert_eq!(assertion(&e).5, "seven: 0x7", "{e}"),
    }
    let e = h.run(&debug_on, (1, 32), (&x, &mut o)).unwrap_err();
    assert_eq!(assertion(&e).5, "assertion `left == right` failed: odd     1\n  left: 1\n right: 0", "{e}");
}

#[gpu_kernel(lineinfo)]
fn lined(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] * 3.0;
    }
}

#[gpu_kernel]
fn unlined(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] * 3.0;
    }
}

/// A `bf16` atomic add under line info (ptxas 12.9 crashed on it when the PTX asked for code
/// compiled for debugging).
#[gpu_kernel(lineinfo)]
fn lined_bf16_sums(y: &[bf16], sb: &mut [bf16]) {
    let i = grid(1);
    if i < y.len() {
        atomic_add(sb, i % sb.len(), y[i]);
    }
}

/// `lineinfo`: the kernel runs as without it, and its PTX names this file's lines.
pub fn line_info_kernels(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut out = h.zeros::<f32>(n);
        h.run(&lined, (n.div_ceil(128).max(1), 128), (&h.arr(&x), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| v * 3.0).collect::<Vec<_>>());
    }
    let x = h.arr(&[1.0f32]);
    let mut out = h.zeros::<f32>(1);
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let ptx = lined.ptx(&target, (&x, &mut out)).unwrap().ptx;
    // `lined`'s `out[i] = x[i] * 3.0;`, the first in this file.
    let line = include_str!("asserts.rs").lines().position(|l| l.contains("out[i] = x[i] * 3.0;")).unwrap() + 1;
    assert!(ptx.contains(".file") && ptx.contains("asserts.rs"), "{ptx}");
    assert!(ptx.lines().any(|l| l.trim_start().starts_with(&format!(".loc\t1 {line} "))), "no .loc of line {line}:\n{ptx}");
    // The same code as without line info: not compiled for debugging (`.target ..., debug`, which
    // ptxas takes as -G), the same instructions.
    let plain = unlined.ptx(&target, (&x, &mut out)).unwrap().ptx;
    assert!(ptx.lines().any(|l| l == ".target sm_80"), "{ptx}");
    let code = |p: &str, name: &str| -> Vec<String> {
        let body = &p[p.find(".entry").unwrap()..];
        let body = &body[..body.find("\n}").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with(".loc") && !l.starts_with("$L__") && !l.starts_with("//"))
            .map(|l| l.replace(name, "K"))
            .collect()
    };
    assert_eq!(code(&ptx, "lined"), code(&plain, "unlined"));
    // Through ptxas (on the CPU harness, every launched kernel's PTX is), and it runs.
    // Small integers, so every partial sum (below 256) is exact in bf16, in any order.
    let n = 129;
    let y: Vec<bf16> = h.vec(n, |h| bf16::from_f64((h.next_u64() % 3) as f64));
    let mut sb = h.zeros::<bf16>(2);
    h.run(&lined_bf16_sums, (2, 128), (&h.arr(&y), &mut sb)).unwrap();
    let sum = |k: usize| -> f64 { y.iter().skip(k).step_by(2).map(|v| v.to_f64()).sum() };
    assert_eq!(sb.to_vec().unwrap().iter().map(|v| v.to_f64()).collect::<Vec<_>>(), vec![sum(0), sum(1)]);
}

#[gpu_device]
fn read_past(x: &[f32], i: usize) -> f32 {
    x[i + 1]
}

#[gpu_kernel(boundscheck)]
fn reads_past(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = read_past(x, i);
    }
}

/// A bad access's error names its source line, in a device function too.
pub fn bounds_error_lines(h: &Harness) {
    let x = h.arr(&[1.0f32; 40]);
    let mut out = h.zeros::<f32>(40);
    let e = h.run(&reads_past, (1, 64), (&x, &mut out)).unwrap_err();
    let line = line!() - 16; // `x[i + 1]`
    match &e {
        Error::OutOfBounds { at: Some(at), tx, .. } => assert!(at.file.ends_with("asserts.rs") && at.line == line && *tx == 39, "{e}"),
        other => panic!("expected an out-of-bounds error, got {other}"),
    }
}

#[gpu_kernel(boundscheck)]
fn one_past_checked(y: &mut [f32]) {
    let i = grid(1);
    if i <= y.len() {
        y[i] = 1.0;
    }
}

/// The error a failed launch reports: at the launch itself on the CPU backend; on a GPU at the
/// next synchronization (`sync`), the launch itself succeeding, and only once.
fn reported(h: &Harness, launched: gpujit::Result<()>, sync: impl Fn() -> gpujit::Result<()>) -> Error {
    if !h.is_gpu() {
        return launched.expect_err("the CPU backend reports at the launch");
    }
    launched.expect("a GPU launch reports at the next synchronization");
    let e = sync().expect_err("the synchronization reports the failure");
    sync().expect("a failure is reported once");
    e
}

/// Failed assertions are reported at the next synchronization on a GPU (the stream's, the
/// device's, a blocking read), as CUDA reports device-side asserts; kernels that assert or
/// check bounds can be captured in graphs, and a replay's failure is reported likewise.
pub fn deferred_reports(h: &Harness) {
    let n = 1000;
    let x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 10.0) as f32);
    let mut bad = x.clone();
    bad[700] = -2.0;
    let (dx, dbad) = (h.arr(&x), h.arr(&bad));
    let mut out = h.zeros::<f32>(n);
    let blocks = n.div_ceil(128);
    let want_message = "negative input -2 at 700";
    let check = |e: &Error| {
        let (kernel, block, thread, _, _, message) = assertion(e);
        assert_eq!((kernel, block, thread, message), ("asserting", [5, 0, 0], [60, 0, 0], want_message), "{e}");
    };
    // The device's synchronization.
    let launched = asserting.launch((blocks, 128), (&dbad, u32::MAX, &mut out));
    check(&reported(h, launched, || h.dev.synchronize()));
    // A stream's.
    let s = h.dev.new_stream().unwrap();
    let launched = asserting.launch((blocks, 128, &s), (&dbad, u32::MAX, &mut out));
    check(&reported(h, launched, || s.synchronize()));
    // A blocking read of any array.
    let launched = asserting.launch((blocks, 128), (&dbad, u32::MAX, &mut out));
    check(&reported(h, launched, || dx.to_vec().map(|_| ())));
    // Many launches without a synchronization between them: the one that failed is reported.
    for round in 0..101 {
        let input = if round == 50 { &dbad } else { &dx };
        let launched = asserting.launch((blocks, 128), (input, u32::MAX, &mut out));
        match launched {
            Err(e) if round == 50 && !h.is_gpu() => check(&e),
            other => other.unwrap(),
        }
    }
    if h.is_gpu() {
        check(&h.dev.synchronize().unwrap_err());
    }
    h.dev.synchronize().unwrap();
    let want: Vec<f32> = x.iter().map(|v| v.sqrt()).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    // A graph of a kernel that asserts: each replay's failure reported at the next
    // synchronization (the first of two replays before it).
    let graph = Graph::capture(&h.dev, |s| asserting.launch((blocks, 128, s), (&dbad, u32::MAX, &mut out)).map(|_| ())).unwrap();
    check(&reported(h, graph.launch(), || h.dev.synchronize()));
    if h.is_gpu() {
        graph.launch().unwrap();
        graph.launch_on(&s).unwrap();
        check(&h.dev.synchronize().unwrap_err());
        h.dev.synchronize().unwrap();
    }
    // A graph of a bounds-checked kernel: the error gives the captured array's shape.
    let mut y = h.zeros::<f32>(10);
    let graph = Graph::capture(&h.dev, |s| one_past_checked.launch((1, 32, s), (&mut y,)).map(|_| ())).unwrap();
    let e = reported(h, graph.launch_on(&s), || s.synchronize());
    assert!(
        matches!(&e, Error::OutOfBounds { kernel, array, index: 10, shape, .. } if kernel == "one_past_checked" && array == "y" && shape[..] == [10u64]),
        "{e}"
    );
    assert_eq!(y.to_vec().unwrap(), vec![1.0; 10]);
}

#[gpu_device]
fn damped(v: f32, k: u32) -> f32 {
    let scale = 1.0 / (k as f32 + 1.0);
    v.sin() * scale
}

/// A kernel built for the debugger: locals, a loop, a device function and a libdevice call.
#[gpu_kernel(debug)]
fn debugged(x: &[f32], rounds: u32, out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        let mut acc = 0.0f32;
        let mut k = 0u32;
        while k < rounds {
            let term = damped(x[i], k);
            acc += term;
            k += 1;
        }
        out[i] = acc;
    }
}

/// The bytes a PTX debug section's `.b8` lists spell.
fn section_bytes(ptx: &str, section: &str) -> Vec<u8> {
    let Some(start) = ptx.find(&format!(".section\t{section}")) else { return Vec::new() };
    let body = &ptx[start..];
    let body = &body[..body.find("\n\t}").unwrap_or(body.len())];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix(".b8"))
        .flat_map(|l| l.split(',').map(str::trim).filter_map(|b| b.parse::<u8>().ok()).collect::<Vec<_>>())
        .collect()
}

/// `debug` kernels: the same results, unoptimized code with full debug information (on the
/// GPU, PTX compiled for debugging with DWARF describing the locals).
pub fn debug_info_kernels(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-3.0, 3.0) as f32);
        let rounds = 1 + (h.next_u64() % 5) as u32;
        let mut out = h.zeros::<f32>(n);
        h.run(&debugged, (n.div_ceil(128).max(1), 128), (&h.arr(&x), rounds, &mut out)).unwrap();
        let got = out.to_vec().unwrap();
        for i in 0..n {
            let want: f32 = (0..rounds).map(|k| x[i].sin() * (1.0 / (k as f32 + 1.0))).sum();
            assert!((got[i] - want).abs() <= 1e-5 * (1.0 + want.abs()), "n={n} [{i}]: {} vs {want}", got[i]);
        }
    }
    let (x, mut out) = (h.arr(&[1.0f32]), h.zeros::<f32>(1));
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let ptx = debugged.ptx(&target, (&x, 1u32, &mut out)).unwrap().ptx;
    assert!(ptx.lines().any(|l| l == ".target sm_80, debug"), "{ptx}");
    let version: String = ptx.lines().find_map(|l| l.strip_prefix(".version ")).unwrap_or_default().to_string();
    assert!(version.as_str() >= "7.5", "debug sections need PTX 7.5: {version}");
    let strings = String::from_utf8_lossy(&[section_bytes(&ptx, ".debug_str"), section_bytes(&ptx, ".debug_info")].concat()).into_owned();
    for name in ["debugged", "damped", "acc", "term", "rounds", "scale"] {
        assert!(strings.contains(name), "no `{name}` in the debug sections:\n{strings}");
    }
}
