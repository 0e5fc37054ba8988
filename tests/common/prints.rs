//! `print!`, `println!`, `eprint!` and `eprintln!` in kernels and device functions: the values are
//! recorded and formatted on the host as Rust formats them; each line is whole (on the CPU backend
//! in thread order; on a GPU in the order the threads reached the print).

use super::*;
use std::sync::Mutex;

static CAPTURED: Mutex<Vec<(bool, String)>> = Mutex::new(Vec::new());

fn capture(stderr: bool, text: &str) {
    CAPTURED.lock().unwrap_or_else(|p| p.into_inner()).push((stderr, text.to_string()));
}

#[gpu_device]
fn report(i: usize, v: f32) {
    if v < 0.1 {
        eprintln!("small value {v:e} at {}", i);
    }
}

#[gpu_kernel]
fn printing(x: &[f32], flags: &[bool]) {
    let i = grid(1);
    if i < x.len() {
        println!("i = {i:>4}, x = {:.3}, flag = {}, hex = {:#06x}", x[i], flags[i], i);
        report(i, x[i]);
        if i == 0 {
            print!("first ");
            println!("done");
        }
    }
}

/// The inputs of the child process's run: fixed, so the parent knows its lines.
fn child_inputs() -> (Vec<f32>, Vec<bool>) {
    let x: Vec<f32> = (0..300).map(|i| ((i * 37) % 300) as f32 / 300.0).collect();
    let flags = x.iter().map(|v| *v > 0.5).collect();
    (x, flags)
}

pub fn kernel_prints(h: &Harness) {
    if std::env::var("GPUJIT_PRINTS_CHILD").is_ok() {
        // The child: no sink, so the lines go to this process's standard output and error.
        let (x, flags) = child_inputs();
        h.run(&printing, (3, 128), (&h.arr(&x), &h.arr(&flags))).unwrap();
        h.dev.synchronize().unwrap();
        return;
    }
    kernel_prints_captured(h);
    // A child process's real standard output and error, line by line.
    let (stdout, stderr) = run_case_child("kernel_prints", &[("GPUJIT_PRINTS_CHILD", "1")]);
    let (x, flags) = child_inputs();
    // The kernel's lines (the first may follow libtest's "test kernel_prints ... ").
    let keep = |text: &str, prefixes: &[&str]| -> Vec<String> {
        text.lines().filter_map(|l| prefixes.iter().filter_map(|p| l.find(p)).min().map(|at| l[at..].to_string())).collect()
    };
    let (mut out, mut err) = (keep(&stdout, &["i = ", "first "]), keep(&stderr, &["small value"]));
    let mut want_out: Vec<String> =
        (0..300).map(|i| format!("i = {i:>4}, x = {:.3}, flag = {}, hex = {:#06x}", x[i], flags[i], i)).collect();
    want_out.insert(1, "first done".into());
    let mut want_err: Vec<String> = (0..300).filter(|&i| x[i] < 0.1).map(|i| format!("small value {:e} at {i}", x[i])).collect();
    if h.is_gpu() {
        for v in [&mut out, &mut want_out, &mut err, &mut want_err] {
            v.sort();
        }
    }
    assert_eq!(out, want_out, "the child's standard output:\n{stdout}");
    assert_eq!(err, want_err, "the child's standard error:\n{stderr}");
}

/// A launch's lines are out when the synchronization after it returns, while other threads read
/// arrays and synchronize the device all along (on a GPU one of theirs may take the launch's
/// records first: the launching thread's synchronization then waits until they are written).
pub fn prints_while_others_synchronize(h: &Harness) {
    let _serial = super::fused::serial();
    let (x, flags) = child_inputs();
    let (dx, dflags) = (h.arr(&x), h.arr(&flags));
    let want_out = x.len() + 1;
    let want_err = x.iter().filter(|v| **v < 0.1).count();
    let stop = std::sync::atomic::AtomicBool::new(false);
    // Blocking reads (they report what finished kernels printed), one thread the device's
    // synchronization.
    let smalls: Vec<DeviceArray<f32>> = (0..3).map(|_| h.arr(&[1.0f32; 4])).collect();
    std::thread::scope(|s| {
        for (t, small) in smalls.iter().enumerate() {
            let dev = h.dev.clone();
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if t == 0 {
                        dev.synchronize().expect("no launch of this test fails");
                    } else {
                        assert_eq!(small.to_vec().expect("no launch of this test fails"), [1.0; 4]);
                    }
                }
            });
        }
        gpujit::runtime::print::set_sink(Some(capture));
        let mut failed = None;
        for round in 0..150 {
            CAPTURED.lock().unwrap().clear();
            h.run(&printing, (3, 128), (&dx, &dflags)).unwrap();
            let got = std::mem::take(&mut *CAPTURED.lock().unwrap());
            let count = |stderr: bool| got.iter().filter(|(e, _)| *e == stderr).map(|(_, t)| t.lines().count()).sum::<usize>();
            if (count(false), count(true)) != (want_out, want_err) {
                failed = Some((round, count(false), count(true)));
                break;
            }
        }
        gpujit::runtime::print::set_sink(None);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some((round, out, err)) = failed {
            panic!("round {round}: {out} of {want_out} lines on standard output, {err} of {want_err} on standard error when the synchronization returned");
        }
    });
}

fn kernel_prints_captured(h: &Harness) {
    let _serial = super::fused::serial();
    gpujit::runtime::print::set_sink(Some(capture));
    CAPTURED.lock().unwrap().clear();
    let n = 300;
    let x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 1.0) as f32);
    let flags: Vec<bool> = x.iter().map(|v| *v > 0.5).collect();
    h.run(&printing, (n.div_ceil(128), 128), (&h.arr(&x), &h.arr(&flags))).unwrap();
    gpujit::runtime::print::set_sink(None);
    let got = std::mem::take(&mut *CAPTURED.lock().unwrap());
    let text = |stderr: bool| -> Vec<String> {
        got.iter().filter(|(e, _)| *e == stderr).flat_map(|(_, t)| t.lines().map(str::to_string).collect::<Vec<_>>()).collect()
    };
    let (mut out, mut err) = (text(false), text(true));
    let mut want_out: Vec<String> = (0..n).map(|i| format!("i = {i:>4}, x = {:.3}, flag = {}, hex = {:#06x}", x[i], flags[i], i)).collect();
    want_out.push("first done".into());
    let mut want_err: Vec<String> = (0..n).filter(|&i| x[i] < 0.1).map(|i| format!("small value {:e} at {i}", x[i])).collect();
    if h.is_gpu() {
        // Threads print in the order they get there.
        for v in [&mut out, &mut want_out, &mut err, &mut want_err] {
            v.sort();
        }
    } else {
        // In thread order; thread 0's "first done" after its own line.
        want_out.pop();
        want_out.insert(1, "first done".into());
    }
    assert_eq!(out, want_out);
    assert_eq!(err, want_err);
    // A graph of a kernel that prints: each replay's lines, at the synchronization after it.
    gpujit::runtime::print::set_sink(Some(capture));
    let (dx, dflags) = (h.arr(&x[..5]), h.arr(&flags[..5]));
    let graph = Graph::capture(&h.dev, |s| printing.launch((1, 32, s), (&dx, &dflags)).map(|_| ())).unwrap();
    assert!(CAPTURED.lock().unwrap().is_empty(), "nothing runs at capture");
    graph.launch().unwrap();
    graph.launch().unwrap();
    h.dev.synchronize().unwrap();
    gpujit::runtime::print::set_sink(None);
    let got = std::mem::take(&mut *CAPTURED.lock().unwrap());
    let mut lines: Vec<String> =
        got.iter().filter(|(e, _)| !*e).flat_map(|(_, t)| t.lines().map(str::to_string).collect::<Vec<_>>()).collect();
    let mut want: Vec<String> = (0..5).map(|i| format!("i = {i:>4}, x = {:.3}, flag = {}, hex = {:#06x}", x[i], flags[i], i)).collect();
    want.push("first done".into());
    want.extend(want.clone());
    lines.sort();
    want.sort();
    assert_eq!(lines, want);
}
