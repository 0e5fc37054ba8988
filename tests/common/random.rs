//! Random numbers: Philox4x32-10 in kernels and device functions, bit-identical to the host's
//! generator (and so between the CPU backend and the GPU), Random123's known answers, and the
//! array fills of `gpujit::random`.

use super::*;
use gpujit::random::{self, philox4x32_10};

/// Every method of a generator, in a mix that depends on the drawn values: a loop, a branch, a
/// short-circuit operand (drawn only when the left side holds, as in Rust).
#[gpu_kernel]
fn draws(seed: u64, words: &mut [u32], wide: &mut [u64], singles: &mut [f32], doubles: &mut [f64]) {
    let i = grid(1);
    if i * 4 < words.len() {
        let mut r = Philox::new(seed, i as u64);
        words[4 * i] = r.next_u32();
        wide[2 * i] = r.next_u64();
        singles[3 * i] = r.uniform_f32();
        doubles[3 * i] = r.uniform_f64();
        singles[3 * i + 1] = r.normal_f32();
        doubles[3 * i + 1] = r.normal_f64();
        let mut acc = 0u32;
        for _ in 0..(r.next_u32() % 5) {
            acc ^= r.next_u32();
        }
        words[4 * i + 1] = acc;
        if (acc & 1) == 1 && r.next_u32() > 2_000_000_000 {
            words[4 * i + 2] = 1;
        }
        words[4 * i + 3] = r.next_u32();
        wide[2 * i + 1] = noise(seed ^ 0x5eed, i as u64);
        singles[3 * i + 2] = r.normal_f32() + r.uniform_f32();
        doubles[3 * i + 2] = r.normal_f64() * r.uniform_f64();
    }
}

/// A generator in a device function.
#[gpu_device]
fn noise(seed: u64, i: u64) -> u64 {
    let mut r = Philox::new(seed, i);
    let a = r.next_u64();
    a ^ (r.next_u32() as u64)
}

/// The kernel above, on the host (`Philox` is the same generator there).
fn host_draws(seed: u64, i: usize) -> ([u32; 4], [u64; 2], [f32; 3], [f64; 3]) {
    let mut r = Philox::new(seed, i as u64);
    let (mut w, mut d, mut s, mut f) = ([0u32; 4], [0u64; 2], [0f32; 3], [0f64; 3]);
    w[0] = r.next_u32();
    d[0] = r.next_u64();
    s[0] = r.uniform_f32();
    f[0] = r.uniform_f64();
    s[1] = r.normal_f32();
    f[1] = r.normal_f64();
    let mut acc = 0u32;
    for _ in 0..(r.next_u32() % 5) {
        acc ^= r.next_u32();
    }
    w[1] = acc;
    if (acc & 1) == 1 && r.next_u32() > 2_000_000_000 {
        w[2] = 1;
    }
    w[3] = r.next_u32();
    d[1] = noise(seed ^ 0x5eed, i as u64);
    s[2] = r.normal_f32() + r.uniform_f32();
    f[2] = r.normal_f64() * r.uniform_f64();
    (w, d, s, f)
}

pub fn random_streams(h: &Harness) {
    for n in SIZES {
        let seed = h.next_u64();
        let (mut w, mut d, mut s, mut f) = (h.zeros::<u32>(4 * n), h.zeros::<u64>(2 * n), h.zeros::<f32>(3 * n), h.zeros::<f64>(3 * n));
        h.run(&draws, LaunchConfig::for_elements(n, 128), (seed, &mut w, &mut d, &mut s, &mut f)).unwrap();
        let (w, d, s, f) = (w.to_vec().unwrap(), d.to_vec().unwrap(), s.to_vec().unwrap(), f.to_vec().unwrap());
        for i in 0..n {
            let (hw, hd, hs, hf) = host_draws(seed, i);
            let ctx = format!("seed {seed}, subsequence {i}");
            assert_eq!(&w[4 * i..4 * i + 4], &hw, "{ctx}: words");
            assert_eq!(&d[2 * i..2 * i + 2], &hd, "{ctx}: u64s");
            // Bit for bit, floats too.
            assert_eq!(s[3 * i..3 * i + 3].iter().map(|x| x.to_bits()).collect::<Vec<_>>(), hs.map(f32::to_bits), "{ctx}: f32s");
            assert_eq!(f[3 * i..3 * i + 3].iter().map(|x| x.to_bits()).collect::<Vec<_>>(), hf.map(f64::to_bits), "{ctx}: f64s");
        }
    }
}

/// Word `k` of generator `(seeds[i], subs[i])` after skipping `skip[i]` words (and the same
/// from a generator that starts there, in `at`).
#[gpu_kernel]
fn words_at(seeds: &[u64], subs: &[u64], skip: &[u32], out: &mut [u32], at: &mut [u32]) {
    let i = grid(1);
    if i < seeds.len() {
        let mut r = Philox::new(seeds[i], subs[i]);
        for _ in 0..skip[i] {
            r.next_u32();
        }
        out[i] = r.next_u32();
        let mut q = Philox::with_offset(seeds[i], subs[i], skip[i] as u64);
        at[i] = q.next_u32();
    }
}

pub fn random_known_answers(h: &Harness) {
    // Random123's kat_vectors for philox4x32 10 (counter, key, output), on the host generator.
    let kat = gpujit::codegen::random::KNOWN_ANSWERS;
    for (c, k, want) in kat {
        assert_eq!(philox4x32_10(c, k), want);
    }
    // In a kernel: the first block of key 0, counter 0 is the first vector.
    let zeros = h.arr(&[0u64; 4]);
    let mut out = h.zeros::<u32>(4);
    h.run(&words_at, LaunchConfig::new(1, 4), (&zeros, &zeros, &h.arr(&[0u32, 1, 2, 3]), &mut out, &mut h.zeros::<u32>(4))).unwrap();
    assert_eq!(out.to_vec().unwrap(), kat[0].2);
    // Any key, counter and word: the kernel's Philox block is the host's.
    for n in SIZES {
        let (seeds, subs): (Vec<u64>, Vec<u64>) = (h.vec(n, |h| h.next_u64()), h.vec(n, |h| h.next_u64()));
        let skip: Vec<u32> = h.vec(n, |h| (h.next_u64() % 40) as u32);
        let (mut out, mut at) = (h.zeros::<u32>(n), h.zeros::<u32>(n));
        h.run(&words_at, LaunchConfig::for_elements(n, 64), (&h.arr(&seeds), &h.arr(&subs), &h.arr(&skip), &mut out, &mut at)).unwrap();
        let want: Vec<u32> = (0..n)
            .map(|i| {
                let c = [skip[i] / 4, 0, subs[i] as u32, (subs[i] >> 32) as u32];
                philox4x32_10(c, [seeds[i] as u32, (seeds[i] >> 32) as u32])[(skip[i] % 4) as usize]
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want);
        assert_eq!(at.to_vec().unwrap(), want, "with_offset");
    }
}

pub fn random_fills(h: &Harness) {
    let seed = h.next_u64();
    let u = random::uniform(&h.dev, &[1, 2, 3, 4], seed).unwrap();
    assert_eq!(u.shape(), &[1, 2, 3, 4]);
    let values = u.to_vec().unwrap();
    // The array is the stream: element i is draw i.
    let mut r = Philox::new(seed, 0);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(*v, r.uniform_f32(), "element {i}");
    }
    for n in SIZES {
        let z = random::normal_f64(&h.dev, &[n], seed).unwrap().to_vec().unwrap();
        let mut r = Philox::with_offset(seed, 0, 0);
        assert!(z.iter().all(|v| *v == r.normal_f64()), "normal_f64, n = {n}");
        let mut r = Philox::new(seed, 0);
        assert!(random::normal(&h.dev, &[n], seed).unwrap().to_vec().unwrap().iter().all(|v| *v == r.normal_f32()));
        let mut r = Philox::with_offset(seed, 0, 0);
        assert!(random::uniform_f64(&h.dev, &[n], seed).unwrap().to_vec().unwrap().iter().all(|v| *v == r.uniform_f64()));
    }
    assert!(random::normal(&h.dev, &[0, 3], seed).unwrap().to_vec().unwrap().is_empty());
    // A shape too large is an error, not a panic.
    let e = random::uniform(&h.dev, &[usize::MAX, 3], seed).unwrap_err().to_string();
    assert!(e.contains("random::uniform") && e.contains("shape"), "{e}");
    // Into an existing array of any shape: the same numbers.
    let mut into = DeviceArray::<f32>::zeros_shape(&h.dev, &[2, 3, 4]).unwrap();
    random::uniform_into(&mut into, seed).unwrap();
    assert_eq!(into.shape(), &[2, 3, 4]);
    assert_eq!(into.to_vec().unwrap(), values);
    // The distributions: 200k draws each, within 6 standard errors.
    let n = 200_000;
    let stats = |x: &[f64]| {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
        (mean, var)
    };
    let as64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
    let u = as64(random::uniform(&h.dev, &[n], seed).unwrap().to_vec().unwrap());
    assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    let (m, v) = stats(&u);
    assert!((m - 0.5).abs() < 6.0 * (1.0 / 12f64 / n as f64).sqrt() && (v - 1.0 / 12.0).abs() < 0.002, "uniform: mean {m}, variance {v}");
    for z in [
        as64(random::normal(&h.dev, &[n], seed).unwrap().to_vec().unwrap()),
        random::normal_f64(&h.dev, &[n], seed).unwrap().to_vec().unwrap(),
    ] {
        let (m, v) = stats(&z);
        assert!(m.abs() < 6.0 / (n as f64).sqrt() && (v - 1.0).abs() < 0.02, "normal: mean {m}, variance {v}");
        // Tails: P(|z| > 3) = 0.0027.
        let tail = z.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
        assert!((tail - 0.0027).abs() < 0.0008, "normal tail {tail}");
    }
    let d = random::uniform_f64(&h.dev, &[n], seed).unwrap().to_vec().unwrap();
    let (m, _) = stats(&d);
    assert!((m - 0.5).abs() < 0.005, "uniform_f64 mean {m}");
}

/// Indices with effects: evaluated once, after the value, as Rust does.
#[gpu_kernel]
fn effects_in_indices(seed: u64, counter: &mut [u32], hist: &mut [u32], out: &mut [u32]) {
    let i = grid(1);
    if i * 4 < out.len() {
        // A compound assignment reads and writes the element its index names once (each thread
        // in its own 8 elements: no race).
        hist[8 * i + atomic_add(counter, 0, 1u32) as usize % 8] += 1;
        let mut r = Philox::new(seed, i as u64);
        // The value draws first, then the index.
        out[4 * i + (r.next_u32() % 4) as usize] = r.next_u32();
        out[4 * i + 3] += r.next_u32() % 7;
    }
}

pub fn effects_in_indices_once(h: &Harness) {
    for n in SIZES {
        let seed = h.next_u64();
        let (mut counter, mut hist, mut out) = (h.zeros::<u32>(1), h.zeros::<u32>(8 * n), h.zeros::<u32>(4 * n));
        h.run(&effects_in_indices, LaunchConfig::for_elements(n, 64), (seed, &mut counter, &mut hist, &mut out)).unwrap();
        assert_eq!(counter.to_vec().unwrap(), vec![n as u32], "one atomic a thread");
        let hist = hist.to_vec().unwrap();
        assert!((0..n).all(|i| hist[8 * i..8 * i + 8].iter().sum::<u32>() == 1), "one increment a thread");
        let mut want = vec![0u32; 4 * n];
        for i in 0..n {
            let mut r = Philox::new(seed, i as u64);
            want[4 * i + (r.next_u32() % 4) as usize] = r.next_u32();
            want[4 * i + 3] += r.next_u32() % 7;
        }
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

/// A generator's name is scoped like any `let`: shadowed by a later `let`, back after the block.
#[gpu_kernel]
fn scoped_generators(seed: u64, out: &mut [u64]) {
    let i = grid(1);
    if i < out.len() {
        let mut r = Philox::new(seed, i as u64);
        let first = r.next_u32();
        {
            // The initializer still draws from the generator; then `r` is a u64.
            let r = r.next_u32() as u64 + 1;
            out[i] = r;
        }
        out[i] += (r.next_u32() ^ first) as u64;
    }
}

pub fn generator_scopes(h: &Harness) {
    for n in SIZES {
        let seed = h.next_u64();
        let mut out = h.zeros::<u64>(n);
        h.run(&scoped_generators, LaunchConfig::for_elements(n, 64), (seed, &mut out)).unwrap();
        let want: Vec<u64> = (0..n)
            .map(|i| {
                let mut r = Philox::new(seed, i as u64);
                let first = r.next_u32();
                let shadow = r.next_u32() as u64 + 1;
                shadow + (r.next_u32() ^ first) as u64
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want);
    }
}
