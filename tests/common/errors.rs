//! Launch and specialization errors: typed, naming the kernel and the argument.

use super::*;

// ---------------------------------------------------------------------------------------------
// Errors: typed, naming the kernel and the argument, and nothing runs.

pub fn launch_errors(h: &Harness) {
    let x = h.arr(&[1.0f32, 2.0, 3.0]);
    let y = h.arr(&[1.0f32, 2.0, 3.0]);
    let xi = h.arr(&[1i32, 2, 3]);
    let mut out = h.arr(&[7.0f32; 3]);

    let e = h.run(&add, (1, 32), (&xi, &y, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { kernel, param, position: 1, .. } if kernel == "add" && param == "x"), "{e}");
    assert!(e.to_string().contains("&[f32]") && e.to_string().contains("i32"), "{e}");

    let e = h.run(&add, (1, 32), (&x, &y)).unwrap_err();
    assert!(matches!(e, Error::ArgCount { expected: 3, got: 2, .. }), "{e}");

    let e = h.run(&add, (1, 32), (&x, &y, &out)).unwrap_err();
    assert!(matches!(&e, Error::ReadOnly { param, position: 3, .. } if param == "out"), "{e}");

    let e = h.run(&add, (1, 32), (&x, 2.0f32, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { param, .. } if param == "y"), "{e}");

    let limit = h.dev.max_threads_per_block();
    let e = h.run(&add, (1, limit + 1), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { kernel, .. } if kernel == "add"), "{e}");
    let e = h.run(&add, (1, (32, 32, 2)), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");
    let e = h.run(&add, (1, 0), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");
    let e = h.run(&add, (-1, 32), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");

    // A generic kernel: T bound to two types, and a bound that excludes the type.
    let xd = h.arr(&[1.0f64, 2.0, 3.0]);
    let mut yf = h.arr(&[0.0f32; 3]);
    let e = h.run(&axpy, (1, 32), (1.0f64, &xd, &mut yf)).unwrap_err();
    assert!(matches!(&e, Error::Generic { param, .. } if param == "y"), "{e}");
    let mut yi = h.arr(&[0i32; 3]);
    let e = h.run(&axpy, (1, 32), (1i32, &xi, &mut yi)).unwrap_err();
    assert!(e.to_string().contains("Float") && e.to_string().contains("i32"), "{e}");

    // Nothing ran: `out` is untouched.
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 3]);

    // An empty grid is not an error: nothing to run.
    h.run(&add, (0, 32), (&x, &y, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 3]);

    // Arguments collected in a slice: more than a launch takes is a typed error naming the
    // kernel, and nothing runs; the right ones launch.
    {
        let mut args = vec![(&x).into_arg(), (&y).into_arg(), (&mut out).into_arg()];
        args.resize(MAX_ARGS + 1, 1.0f32.into_arg());
        let e = add.launch((1, 32), &args[..]).unwrap_err();
        assert!(matches!(&e, Error::Unsupported { kernel, message } if kernel == "add" && message.contains("at most 24")), "{e}");
    }
    h.dev.synchronize().unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 3]);
    add.launch((1, 32), &[(&x).into_arg(), (&y).into_arg(), (&mut out).into_arg()][..]).unwrap();
    h.dev.synchronize().unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![2.0, 4.0, 6.0]);
}

#[gpu_kernel]
fn self_rem<T: Number>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] % x[i];
    }
}

pub fn specialization_errors(h: &Harness) {
    // bool does not satisfy the Number bound: binding fails before anything compiles.
    let b = h.arr(&[true, false]);
    let mut o = h.arr(&[false, false]);
    let e = h.run(&self_rem, (1, 32), (&b, &mut o)).unwrap_err();
    assert!(matches!(&e, Error::Generic { .. }) && e.to_string().contains("Number"), "{e}");
}
