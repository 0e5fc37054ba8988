//! The Mandelbrot set on a 2-D grid of 2-D blocks, checked pixel by pixel against the same
//! iteration on the host, and written as a PGM image when a path is given.
//!
//! ```text
//! cargo run --release --example mandelbrot [out.pgm]
//! ```

use gpujit::prelude::*;

/// Escape iterations of the pixel each thread owns (at most `max_iter`).
#[gpu_kernel]
fn mandelbrot(image: &mut [u32], width: usize, height: usize, x0: f64, y0: f64, step: f64, max_iter: u32) {
    let px = block_idx_x() * block_dim_x() + thread_idx_x();
    let py = block_idx_y() * block_dim_y() + thread_idx_y();
    if px >= width || py >= height {
        return;
    }
    let cr = x0 + px as f64 * step;
    let ci = y0 + py as f64 * step;
    let (mut zr, mut zi) = (0.0, 0.0);
    let mut n = 0u32;
    while n < max_iter && zr * zr + zi * zi <= 4.0 {
        let t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        n += 1;
    }
    image[py * width + px] = n;
}

fn host(px: usize, py: usize, x0: f64, y0: f64, step: f64, max_iter: u32) -> u32 {
    let (cr, ci) = (x0 + px as f64 * step, y0 + py as f64 * step);
    let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0u32);
    while n < max_iter && zr * zr + zi * zi <= 4.0 {
        let t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        n += 1;
    }
    n
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let (width, height, max_iter) = (1021usize, 767usize, 200u32);
    let (x0, y0, step) = (-2.2, -1.2, 3.2 / width as f64);
    let mut image = DeviceArray::<u32>::zeros(&dev, width * height)?;
    launch!(mandelbrot[(width.div_ceil(32), height.div_ceil(8)), (32, 8)](&mut image, width, height, x0, y0, step, max_iter))?;
    let got = image.to_vec()?;
    let mut wrong = 0usize;
    for py in 0..height {
        for px in 0..width {
            if got[py * width + px] != host(px, py, x0, y0, step, max_iter) {
                wrong += 1;
            }
        }
    }
    let inside = got.iter().filter(|n| **n == max_iter).count();
    println!("mandelbrot {width}x{height}: {inside} pixels inside the set, {wrong} differ from the host");
    if let Some(path) = std::env::args().nth(1) {
        let mut pgm = format!("P2\n{width} {height}\n255\n").into_bytes();
        for n in &got {
            pgm.extend_from_slice(format!("{}\n", 255 - (n * 255 / max_iter)).as_bytes());
        }
        std::fs::write(&path, pgm).map_err(|e| gpujit::Error::Array(format!("cannot write {path}: {e}")))?;
        println!("wrote {path}");
    }
    if wrong > 0 {
        eprintln!("mandelbrot: pixels differ from the host iteration");
        std::process::exit(1);
    }
    println!("mandelbrot: verified against the host");
    Ok(())
}
