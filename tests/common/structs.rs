//! User structs (`#[gpu_struct]`): parameters by value, locals, struct literals, device-function
//! arguments and results, elements of global, shared and per-thread arrays, nested structs and
//! array fields, fields read and written in place (`p[i].v += dt * a`), a generic kernel copying
//! them; checked against the same computation in plain Rust, on sizes off the block and 0.

use super::*;

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Vec3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Particle {
    pub pos: Vec3,
    pub vel: [f32; 3],
    pub mass: f32,
    pub id: u32,
    pub alive: bool,
    pub kind: u8,
    pub charge: i16,
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Wide {
    pub a: f64,
    pub z: Complex<f32>,
    pub n: i64,
}

#[gpu_device]
fn kick(p: Particle, g: Vec3, dt: f32) -> Particle {
    let mut q = p;
    q.vel[0] += g.x * dt;
    q.vel[1] += g.y * dt;
    q.vel[2] += g.z * dt;
    q
}

#[gpu_device]
fn energy(p: Particle) -> f32 {
    0.5 * p.mass * (p.vel[0] * p.vel[0] + p.vel[1] * p.vel[1] + p.vel[2] * p.vel[2])
}

/// One step: a kick through a device function, a drift in place, fields of every kind (Rust's
/// roundings kept, so that the host's step is the same bit for bit).
#[gpu_kernel(fp_contract = false)]
fn step(ps: &mut [Particle], g: Vec3, dt: f32, energies: &mut [f32]) {
    let i = grid(1);
    if i < ps.len() {
        let p = kick(ps[i], g, dt);
        ps[i].vel[0] = p.vel[0];
        ps[i].vel[1] = p.vel[1];
        ps[i].vel[2] = p.vel[2];
        ps[i].pos.x += dt * p.vel[0];
        ps[i].pos.y += dt * p.vel[1];
        ps[i].pos.z += dt * p.vel[2];
        if ps[i].pos.z < 0.0 {
            ps[i].alive = false;
            ps[i].kind = 7;
        }
        ps[i].charge = -ps[i].charge;
        energies[i] = energy(ps[i]);
    }
}

/// Host Rust: the same step.
fn step_host(p: &mut Particle, g: Vec3, dt: f32) -> f32 {
    p.vel[0] += g.x * dt;
    p.vel[1] += g.y * dt;
    p.vel[2] += g.z * dt;
    p.pos.x += dt * p.vel[0];
    p.pos.y += dt * p.vel[1];
    p.pos.z += dt * p.vel[2];
    if p.pos.z < 0.0 {
        p.alive = false;
        p.kind = 7;
    }
    // Kernel arithmetic wraps (i16::MIN stays i16::MIN), as release Rust does.
    p.charge = p.charge.wrapping_neg();
    0.5 * p.mass * (p.vel[0] * p.vel[0] + p.vel[1] * p.vel[1] + p.vel[2] * p.vel[2])
}

/// Struct literals, locals, shared and per-thread arrays of structs, a struct with a complex
/// field and 8-byte fields, reversed within each block through shared memory.
#[gpu_kernel]
fn wide_reverse(xs: &[Wide], out: &mut [Wide], scale: f64) {
    let mut tile = shared_array::<Wide, 128>();
    let mut pair = local_array::<Wide, 2>();
    let t = thread_idx_x();
    let i = grid(1);
    let n = xs.len();
    let mut w = Wide { a: 0.0, z: Complex::new(0.0, 0.0), n: -1 };
    if i < n {
        w = xs[i];
    }
    pair[0] = w;
    pair[1] = Wide { a: w.a * scale, z: w.z.conj(), n: w.n + 1 };
    tile[t] = pair[1];
    sync_threads();
    let base = block_idx_x() * block_dim_x();
    let last = if base + block_dim_x() <= n { block_dim_x() } else { n - base };
    if t < last {
        out[base + t] = tile[last - 1 - t];
        out[base + t].z.im += pair[0].z.re;
    }
}

/// A 2-D array of structs, maybe transposed: each element's fields from its position.
#[gpu_kernel]
fn grid_of_vecs(v: &mut Array<Vec3, 2>, scale: f32) {
    // x runs along the columns.
    let (c, r) = grid(2);
    if r < v.shape(0) && c < v.shape(1) {
        v[[r, c]].x = r as f32 * scale;
        v[[r, c]].z = c as f32;
        let old = v[[r, c]].y;
        v[[r, c]] = Vec3 { x: v[[r, c]].x, y: old + 1.0, z: v[[r, c]].z };
    }
}

/// Any element type, structs included.
#[gpu_kernel]
fn copy_any<T: Scalar>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i];
    }
}

/// Fails naming the first element where `got` and `want` differ.
fn first_difference<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("{what}: element {i} is {:?}, want {:?}", got[i], want[i]);
    }
}

pub fn user_structs(h: &Harness) {
    let g = Vec3 { x: 0.5, y: -1.0, z: -9.8 };
    let dt = 0.01f32;
    for n in SIZES {
        let mut ps: Vec<Particle> = h.vec(n, |h| Particle {
            pos: Vec3 { x: h.f64_in(-1.0, 1.0) as f32, y: h.f64_in(-1.0, 1.0) as f32, z: h.f64_in(-0.01, 1.0) as f32 },
            vel: [h.f64_in(-1.0, 1.0) as f32, h.f64_in(-1.0, 1.0) as f32, h.f64_in(-1.0, 1.0) as f32],
            mass: h.f64_in(0.5, 2.0) as f32,
            id: h.next_u64() as u32,
            alive: true,
            kind: (h.next_u64() % 5) as u8,
            charge: h.next_u64() as i16,
        });
        let mut d = h.arr(&ps);
        let mut e = h.zeros::<f32>(n);
        for _ in 0..3 {
            h.run(&step, (n.div_ceil(128).max(1), 128), (&mut d, g, dt, &mut e)).unwrap();
        }
        let mut want_e = vec![0.0f32; n];
        for _ in 0..3 {
            for (p, w) in ps.iter_mut().zip(&mut want_e) {
                *w = step_host(p, g, dt);
            }
        }
        // The same operations in the same order: bit for bit on both backends.
        first_difference(&d.to_vec().unwrap(), &ps, &format!("step n={n}"));
        first_difference(&e.to_vec().unwrap(), &want_e, &format!("energies n={n}"));
        // A generic kernel copies structs as any element.
        let mut c = h.zeros::<Particle>(n);
        h.run(&copy_any, (n.div_ceil(128).max(1), 128), (&d, &mut c)).unwrap();
        first_difference(&c.to_vec().unwrap(), &ps, &format!("copy n={n}"));

        let ws: Vec<Wide> = h.vec(n, |h| Wide {
            a: h.f64_in(-4.0, 4.0),
            z: Complex::new(h.f64_in(-1.0, 1.0) as f32, h.f64_in(-1.0, 1.0) as f32),
            n: h.next_u64() as i64 >> 2,
        });
        let x = h.arr(&ws);
        let mut out = h.zeros::<Wide>(n);
        let blocks = n.div_ceil(128).max(1);
        h.run(&wide_reverse, (blocks, 128), (&x, &mut out, 1.5f64)).unwrap();
        let got = out.to_vec().unwrap();
        for b in 0..blocks {
            let (base, last) = (b * 128, (n - (b * 128).min(n)).min(128));
            for t in 0..last {
                let src = ws[base + last - 1 - t];
                let mut want = Wide { a: src.a * 1.5, z: src.z.conj(), n: src.n + 1 };
                want.z.im += ws[base + t].z.re;
                assert_eq!(got[base + t], want, "wide n={n} [{}]", base + t);
            }
        }
    }
}

/// Structs the kernel language refuses: typed errors naming the kernel.
#[gpu_kernel]
fn struct_less<T: Scalar>(x: &[T], out: &mut [bool]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] == x[0];
    }
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Big {
    pub a: [f64; 9],
}

#[gpu_kernel]
fn takes_big(b: Big, out: &mut [f64]) {
    out[0] = b.a[8];
}

/// An array field indexed by a variable.
#[gpu_kernel]
fn field_by_variable(ps: &[Particle], k: usize, out: &mut [f32]) {
    let i = grid(1);
    if i < ps.len() {
        out[i] = ps[i].vel[k];
    }
}

pub fn user_struct_arrays_2d(h: &Harness) {
    for (rows, cols) in [(0, 3), (1, 1), (7, 33), (40, 17)] {
        let init: Vec<Vec3> = h.vec(rows * cols, |h| Vec3 { x: 0.0, y: h.f64_in(-1.0, 1.0) as f32, z: 0.0 });
        for transposed in [false, true] {
            let mut a = DeviceArray::from_shape(&h.dev, &[rows, cols], &init).unwrap();
            let (r, c) = if transposed { (cols, rows) } else { (rows, cols) };
            {
                let view = if transposed { a.view_mut().t() } else { a.view_mut() };
                h.run(&grid_of_vecs, ((c.div_ceil(8).max(1), r.div_ceil(8).max(1)), (8, 8)), (view, 0.5f32)).unwrap();
            }
            let got = a.to_vec().unwrap();
            for i in 0..rows {
                for j in 0..cols {
                    // Element (i, j) of the array is element (j, i) of the transposed view.
                    let (vr, vc) = if transposed { (j, i) } else { (i, j) };
                    let want = Vec3 { x: vr as f32 * 0.5, y: init[i * cols + j].y + 1.0, z: vc as f32 };
                    assert_eq!(got[i * cols + j], want, "{rows}x{cols} t={transposed} ({i}, {j})");
                }
            }
        }
    }
}

pub fn user_struct_errors(h: &Harness) {
    let ps = h.arr(&[Particle::default(); 2]);
    let mut o = h.zeros::<f32>(2);
    let e = h.run(&field_by_variable, (1, 32), (&ps, 1usize, &mut o)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("field_by_variable") && text.contains("indexed by a constant"), "{text}");
    // Over 64 bytes by value: a typed error naming the argument; in an array it is fine.
    let mut out = h.zeros::<f64>(1);
    let e = h.run(&takes_big, (1, 1), (Big::default(), &mut out)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { param, position: 1, .. } if param == "b"), "{e}");
    assert!(e.to_string().contains("72 bytes"), "{e}");
    let x = h.arr(&[Vec3::default(); 4]);
    let mut out = h.zeros::<bool>(4);
    let e = h.run(&struct_less, (1, 32), (&x, &mut out)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("struct_less") && text.contains("Vec3") && text.contains("`==`"), "{text}");
    // The layout kernels see is Rust's.
    let d = <Particle as gpujit::Element>::TYPE.struct_def().unwrap();
    assert_eq!((d.size, d.align), (std::mem::size_of::<Particle>(), std::mem::align_of::<Particle>()));
    let offsets: Vec<usize> = d.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, vec![0, 12, 24, 28, 32, 33, 34]);
}

/// The heavier of two particles (the first on a tie): a reduction's combining function.
#[gpu_device]
fn heavier(a: Particle, b: Particle) -> Particle {
    if b.mass > a.mass {
        b
    } else {
        a
    }
}

/// A warp's shuffle of a struct, and a user reduction over structs (shuffle trees included).
#[gpu_kernel]
fn shuffle_structs(ps: &[Particle], out: &mut [Particle]) {
    let i = grid(1);
    let mut p = Particle { pos: Vec3 { x: 0.0, y: 0.0, z: 0.0 }, vel: [0.0; 3], mass: 0.0, id: 0, alive: false, kind: 0, charge: 0 };
    if i < ps.len() {
        p = ps[i];
    }
    let q = shfl_xor_sync(0xffff_ffff, p, 1);
    if i < ps.len() {
        out[i] = q;
    }
}

pub fn user_struct_reductions(h: &Harness) {
    let _serial = super::fused::serial();
    for n in [0usize, 1, 31, 129, 4099, 70_001] {
        let ps: Vec<Particle> =
            h.vec(n, |h| Particle { mass: h.f64_in(0.0, 100.0) as f32, id: h.next_u64() as u32, ..Particle::default() });
        let d = h.arr(&ps);
        let got = expr(&d).reduce(device_fn!(heavier), Particle::default()).value().unwrap();
        let want = ps.iter().fold(Particle::default(), |a, b| if b.mass > a.mass { *b } else { a });
        assert_eq!(got.mass, want.mass, "n={n}");
        let mut out = h.zeros::<Particle>(n);
        h.run(&shuffle_structs, (n.div_ceil(128).max(1), 128), (&d, &mut out)).unwrap();
        let out = out.to_vec().unwrap();
        for i in 0..n {
            // Lanes pair up (i ^ 1) within full warps of the grid; a partner past the end held the default.
            let want = if (i ^ 1) < n { ps[i ^ 1] } else { Particle::default() };
            assert_eq!(out[i], want, "shuffle n={n} [{i}]");
        }
    }
}
