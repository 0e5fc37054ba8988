//! Array expressions, reductions, `#[gpu_vectorize]` and `forall!`: each is one generated
//! kernel, on the GPU if there is one, else on the CPU backend. Checks its own results.
//!
//! ```text
//! cargo run --example expressions
//! ```

use gpujit::prelude::*;

/// A scalar function, applied elementwise with `softplus::map(..)`.
#[gpu_vectorize]
fn softplus(x: f32) -> f32 {
    if x > 20.0 {
        x
    } else {
        (1.0 + x.exp()).ln()
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    let n = 100_000;
    let xs: Vec<f32> = (0..n).map(|i| (i as f32 / n as f32) * 4.0 - 2.0).collect();
    let ys: Vec<f32> = (0..n).map(|i| ((i * 7) % 13) as f32 * 0.1).collect();
    let x = DeviceArray::from_slice(&dev, &xs)?;
    let y = DeviceArray::from_slice(&dev, &ys)?;

    // One fused kernel: z = exp(-x²/2)·sin(y) + sqrt(|x·y|).
    let z = ((-expr(&x) * &x / 2.0).exp() * expr(&y).sin() + (expr(&x) * &y).abs().sqrt()).eval()?;
    let zs = z.to_vec()?;
    for i in [0, n / 2, n - 1] {
        let want = (-xs[i] * xs[i] / 2.0).exp() * ys[i].sin() + (xs[i] * ys[i]).abs().sqrt();
        assert!((zs[i] - want).abs() <= 1e-5 * want.abs().max(1.0));
    }

    // Broadcasting: a 2-D grid from a column and a row, reduced along each axis.
    let col = DeviceArray::from_shape(&dev, &[4, 1], &[1.0f32, 2.0, 3.0, 4.0])?;
    let row = DeviceArray::from_slice(&dev, &[10.0f32, 20.0, 30.0])?;
    let grid = (expr(&col) * &row).eval()?; // shape [4, 3]
    assert_eq!(grid.shape(), &[4, 3]);
    assert_eq!(expr(&grid).sum().axis(0).eval()?.to_vec()?, vec![100.0, 200.0, 300.0]);
    assert_eq!(expr(&grid).reduce_max().axis(1).eval()?.to_vec()?, vec![30.0, 60.0, 90.0, 120.0]);

    // Fused map-reduce: the norm of x - y in one pass, the position of the largest element.
    let dist = (expr(&x) - &y).norm().value()?;
    let want = xs.iter().zip(&ys).map(|(a, b)| ((a - b) * (a - b)) as f64).sum::<f64>().sqrt();
    assert!((dist as f64 - want).abs() <= 1e-4 * want);
    assert_eq!(expr(&x).argmax().value()?, n - 1);

    // A vectorized scalar function inside an expression.
    let s = (softplus::map(&x) - &x).reduce_min().value()?;
    assert!(s > 0.0);

    // A closure over an index space, capturing arrays and a scalar.
    let mut out = DeviceArray::<f32>::zeros(&dev, n)?;
    let a = 3.0f32;
    forall!(n, |i| out[i] = a * x[i] + y[i])?;
    assert_eq!(out.to_vec()?[n - 1], a * xs[n - 1] + ys[n - 1]);

    println!("expressions: all results check out on {}", dev.name());
    Ok(())
}
