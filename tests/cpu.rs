//! The kernel suite on the CPU backend (how CI executes every kernel), plus the PTX of every
//! specialization it launches assembled by ptxas for sm_80 and sm_90, plus CPU-only checks.

#[macro_use]
mod common;

use common::Harness;
use gpujit::prelude::*;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            common::$case(&Harness::cpu());
        }
    )*};
}

for_each_case!(suite);

/// The compiler's golden tests: FileCheck directives and snapshots of IR and PTX
/// (`tests/golden/`; `GPUJIT_BLESS=1` rewrites the snapshots).
#[test]
fn golden() {
    common::golden::golden();
}

#[gpu_kernel]
fn off_by_one(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i <= x.len() {
        out[i] = x[i] * 2.0;
    }
}

/// The CPU backend checks every index: the first bad access is an error naming the kernel, the
/// array, the index and the thread, and no memory outside the array is touched.
#[test]
fn out_of_bounds_is_an_error() {
    let dev = Device::cpu();
    let x = DeviceArray::from_slice(&dev, &[1.0f32; 100]).unwrap();
    let mut out = DeviceArray::<f32>::zeros(&dev, 100).unwrap();
    let e = launch!(off_by_one[1, 128](&x, &mut out)).unwrap_err();
    match &e {
        gpujit::Error::OutOfBounds { kernel, array, index, len, tx, bx, at: Some(at), .. } => {
            assert_eq!((kernel.as_str(), array.as_str(), *index, *len, *tx, *bx), ("off_by_one", "x", 100, 100, 100, 0), "{e}");
            // The access's source line: `out[i] = x[i] * 2.0;`.
            assert!(at.file.ends_with("tests/cpu.rs") && at.line == 32, "{e}");
            assert!(e.to_string().ends_with("tests/cpu.rs:32"), "{e}");
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    // In-bounds threads did their work.
    assert_eq!(out.to_vec().unwrap(), vec![2.0; 100]);
}

#[gpu_kernel]
fn scale(k: f64, x: &mut [f64]) {
    let i = grid(1);
    if i < x.len() {
        x[i] *= k;
    }
}

/// GPUJIT_DUMP_DIR: the IR text and LLVM IR of each specialization, in files named by kernel and
/// signature.
#[test]
fn dump_dir_and_ir_text() {
    let dir = std::env::temp_dir().join(format!("gpujit-dump-{}", std::process::id()));
    gpujit::runtime::dump::set_dir(Some(dir.clone()));
    let dev = Device::cpu();
    let mut x = DeviceArray::from_slice(&dev, &[1.0f64, 2.0]).unwrap();
    launch!(scale[1, 32](3.0f64, &mut x)).unwrap();
    gpujit::runtime::dump::set_dir(None);
    assert_eq!(x.to_vec().unwrap(), vec![3.0, 6.0]);
    let ir = std::fs::read_to_string(dir.join("scale.f64.mut_f64.ir")).expect("IR dump");
    // The options the launch found (x's data is 16-byte aligned), the source file, the kernel.
    assert!(
        ir.starts_with("#[options(") && ir.contains("aligned_arrays = 2)]\nfile \"tests/cpu.rs\"\nkernel scale(k: f64, x: &mut [f64])"),
        "{ir}"
    );
    assert!(ir.contains("x[i_1] = (x[i_1] * k_0);"), "{ir}");
    let ll = std::fs::read_to_string(dir.join("scale.f64.mut_f64.host.ll")).expect("LLVM IR dump");
    assert!(ll.contains("i32 @gpujit_host_entry("), "{ll}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// PTX introspection without a GPU: the kernel entry, global loads and the chosen target.
#[test]
fn ptx_for_a_signature() {
    let dev = Device::cpu();
    let mut x = DeviceArray::from_slice(&dev, &[1.0f64]).unwrap();
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(90).unwrap();
    let out = scale.ptx(&target, (2.0f64, &mut x)).unwrap();
    assert!(out.ptx.contains(".target sm_90"), "{}", out.ptx);
    assert!(out.ptx.contains(".visible .entry scale("), "{}", out.ptx);
    assert!(out.ptx.contains("ld.global.f64") && out.ptx.contains("st.global.f64"), "{}", out.ptx);
    assert!(out.llvm_ir.unwrap().contains("ptx_kernel"));
}

#[gpu_kernel]
fn half_adds(h: &mut [f16], b: &mut [bf16], x: f16, y: bf16) {
    atomic_add(h, 0, x);
    atomic_add(b, 0, y);
}

#[gpu_kernel(boundscheck)]
fn checked_copy(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i];
}

#[gpu_kernel]
fn plain_copy(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i];
    }
}

/// 16-bit atomics touch their own two bytes: `atom.add.noftz.f16` (sm_70+) and `.bf16` (sm_90),
/// else a `atom.cas.b16` loop; never a 4-byte CAS on the word around the element.
#[test]
fn half_atomics_ptx() {
    let dev = Device::cpu();
    let (mut h, mut b) = (DeviceArray::<f16>::zeros(&dev, 1).unwrap(), DeviceArray::<bf16>::zeros(&dev, 1).unwrap());
    let args = || (f16::from_f32(1.0), bf16::from_f32(1.0));
    let sm90 = gpujit::codegen::nvptx::NvptxTarget::sm(90).unwrap();
    let (x, y) = args();
    let ptx = half_adds.ptx(&sm90, (&mut h, &mut b, x, y)).unwrap().ptx;
    assert!(ptx.contains("atom.global.add.noftz.f16") && ptx.contains("atom.global.add.noftz.bf16"), "{ptx}");
    assert!(!ptx.contains(".b32") || !ptx.contains("atom.global.cas"), "{ptx}");
    let sm80 = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let ptx = half_adds.ptx(&sm80, (&mut h, &mut b, x, y)).unwrap().ptx;
    assert!(ptx.contains("atom.global.add.noftz.f16") && ptx.contains("atom.cas.b16"), "{ptx}");
    assert!(!ptx.contains("atom.global.cas.b32") && !ptx.contains("atom.cas.b32"), "{ptx}");
}

#[gpu_kernel]
fn negate_abs_i16(x: &[i16], out: &mut [i16]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = -x[i] / 127 + x[i].abs();
    }
}

/// No `neg.s16` or `abs.s16` reaches ptxas (which takes their result for MIN as +32768): each is
/// done in 32 bits and truncated.
#[test]
fn sixteen_bit_neg_abs_widened() {
    use gpujit::codegen::nvptx::{widen_16bit_neg_abs, NvptxTarget};
    let dev = Device::cpu();
    let x = DeviceArray::<i16>::zeros(&dev, 4).unwrap();
    let mut out = DeviceArray::<i16>::zeros(&dev, 4).unwrap();
    let ptx = negate_abs_i16.ptx(&NvptxTarget::sm(90).unwrap(), (&x, &mut out)).unwrap().ptx;
    assert!(!ptx.contains("neg.s16") && !ptx.contains("abs.s16"), "{ptx}");
    assert!(ptx.contains("neg.s32 %gpujit_w, %gpujit_w") && ptx.contains("abs.s32 %gpujit_w, %gpujit_w"), "{ptx}");
    let text = "\tneg.s16 \t%rs3, %rs2;\n\tneg.s32 %r1, %r2;\n\tabs.s16 %rs9, %rs8;\n";
    assert_eq!(
        widen_16bit_neg_abs(text),
        "\t{ .reg .s32 %gpujit_w; cvt.s32.s16 %gpujit_w, %rs2; neg.s32 %gpujit_w, %gpujit_w; cvt.u16.u32 %rs3, %gpujit_w; }\n\tneg.s32 %r1, %r2;\n\t{ .reg .s32 %gpujit_w; cvt.s32.s16 %gpujit_w, %rs8; abs.s32 %gpujit_w, %gpujit_w; cvt.u16.u32 %rs9, %gpujit_w; }\n"
    );
}

/// The globals a compiled module defines are recorded, so the runtime looks up only those.
#[test]
fn ptx_globals_recorded() {
    use gpujit::codegen::nvptx::{ptx_globals, NvptxTarget, OOB_RECORD};
    let dev = Device::cpu();
    let x = DeviceArray::<f32>::zeros(&dev, 4).unwrap();
    let mut out = DeviceArray::<f32>::zeros(&dev, 4).unwrap();
    let t = NvptxTarget::sm(90).unwrap();
    let checked = checked_copy.ptx(&t, (&x, &mut out)).unwrap();
    assert_eq!(checked.meta.globals, vec![OOB_RECORD.to_string()], "{}", checked.ptx);
    let plain = plain_copy.ptx(&t, (&x, &mut out)).unwrap();
    assert!(plain.meta.globals.is_empty(), "{:?}", plain.meta.globals);
    let text = ".version 7.8\n.extern .global .align 4 .u32 other[1];\n.visible .global .align 8 .b8 rec[72];\n.global .align 4 .u32 gpujit_grid_barrier[2] = {0, 0};\n";
    assert_eq!(ptx_globals(text), vec!["rec".to_string(), "gpujit_grid_barrier".to_string()]);
}

/// The driver-version → PTX-ISA and compute-capability → architecture choices.
#[test]
fn nvptx_target_selection() {
    use gpujit::codegen::nvptx::NvptxTarget;
    assert_eq!(NvptxTarget::for_device(9, 0, 13000), Some(NvptxTarget { arch: 90, ptx_version: 85 }));
    assert_eq!(NvptxTarget::for_device(8, 0, 12020), Some(NvptxTarget { arch: 80, ptx_version: 82 }));
    assert_eq!(NvptxTarget::for_device(8, 6, 11080), Some(NvptxTarget { arch: 86, ptx_version: 78 }));
    // Newer than LLVM 19 knows: the newest known architecture, JIT-compiled forward by the driver.
    assert_eq!(NvptxTarget::for_device(12, 0, 12080), Some(NvptxTarget { arch: 90, ptx_version: 85 }));
    // A driver too old for sm_90 gets sm_87's PTX for an H100.
    assert_eq!(NvptxTarget::for_device(9, 0, 11040), Some(NvptxTarget { arch: 87, ptx_version: 74 }));
}

/// GPUJIT_DEVICE parsing.
#[test]
fn device_specs() {
    assert_eq!(Device::from_spec(Some("cpu")).unwrap().id(), gpujit::DeviceId::Cpu);
    let e = Device::from_spec(Some("tpu:3")).unwrap_err();
    assert!(matches!(e, gpujit::Error::BadDeviceSpec { .. }), "{e}");
    if !Device::cuda_available() {
        let e = Device::from_spec(Some("cuda:0")).unwrap_err();
        assert!(matches!(e, gpujit::Error::NoDevice { .. }), "{e}");
        assert_eq!(Device::from_spec(None).unwrap().id(), gpujit::DeviceId::Cpu);
    }
}

#[gpu_kernel]
fn shared_overrun(out: &mut [f32]) {
    let mut tile = shared_array::<f32, 32>();
    let t = thread_idx_x();
    tile[t] = 1.0;
    sync_threads();
    if t == 0 {
        out[0] = tile[0];
    }
}

/// Out-of-range shared-memory accesses are caught too, naming the shared array, and cannot
/// touch the memory around the block's shared buffer.
#[test]
fn shared_out_of_bounds_is_an_error() {
    let dev = Device::cpu();
    let mut out = DeviceArray::<f32>::zeros(&dev, 1).unwrap();
    let e = launch!(shared_overrun[2, 64](&mut out)).unwrap_err();
    match &e {
        gpujit::Error::OutOfBounds { array, index, len, tx, .. } => {
            assert_eq!((array.as_str(), *index, *len, *tx), ("tile", 32, 32, 32), "{e}");
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
}

#[gpu_kernel]
fn column_overrun(a: &Array<f32, 2>, out: &mut [f32]) {
    let i = grid(1);
    if i < a.shape(0) {
        out[i] = a[[i, a.shape(1)]];
    }
}

/// On an N-D array, the error names the axis whose index is out of range and its extent.
#[test]
fn nd_out_of_bounds_names_the_axis() {
    let dev = Device::cpu();
    let a = DeviceArray::from_shape(&dev, &[4, 6], &[1.0f32; 24]).unwrap();
    let mut out = DeviceArray::<f32>::zeros(&dev, 4).unwrap();
    let e = launch!(column_overrun[1, 32](&a, &mut out)).unwrap_err();
    match &e {
        gpujit::Error::OutOfBounds { array, axis, index, len, shape, .. } => {
            assert_eq!((array.as_str(), *axis, *index, *len), ("a", 1, 6, 6), "{e}");
            assert_eq!(&shape[..], &[4, 6], "{e}");
            assert!(e.to_string().contains("shape [4, 6]"), "{e}");
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    // Views are checked when made: none can reach outside its array.
    assert!(a.view().slice(1, 2..7, 1).is_err());
    assert!(a.view().reshape(&[5, 5]).is_err());
    assert!(a.view().t().reshape(&[24]).is_err(), "a transposed view is not contiguous");
}

#[gpu_device]
fn countdown(n: i32) -> i32 {
    if n <= 0 {
        0
    } else {
        1 + countdown(n - 1)
    }
}

#[gpu_kernel]
fn recursive(out: &mut [i32]) {
    out[0] = countdown(5);
}

/// Recursion is refused when the kernel is specialized, with a typed error naming the function.
#[test]
fn device_recursion_is_an_error() {
    assert_eq!(countdown(5), 5, "still an ordinary function on the host");
    let mut out = DeviceArray::<i32>::zeros(&Device::cpu(), 1).unwrap();
    let e = launch!(recursive[1, 1](&mut out)).unwrap_err();
    assert!(matches!(e, gpujit::Error::Compile(_)) && e.to_string().contains("`countdown` calls itself"), "{e}");
}

#[gpu_kernel]
fn scale_2d(a: &Array<f64, 2>, k: f64, out: &mut Array<f64, 2>) {
    let (j, i) = grid(2);
    if i < a.shape(0) && j < a.shape(1) {
        out[[i, j]] = a[[i, j]] * k;
    }
}

/// Host `ndarray` arrays: copied to and from device arrays, and borrowed as kernel arguments on
/// the CPU backend without copies, whatever their strides.
#[test]
fn ndarray_interop() {
    use gpujit::ndarray::{s, Array2};
    let dev = Device::cpu();
    let a = Array2::from_shape_fn((5, 7), |(i, j)| (i * 10 + j) as f64);
    // A transposed (non-contiguous) input copies into a C-contiguous device array.
    let d = DeviceArray::from_ndarray(&dev, &a.t()).unwrap();
    assert_eq!(d.shape(), &[7, 5]);
    assert_eq!(d.to_ndarray().unwrap(), a.t().into_dyn());
    // A reversed, sliced view in; an ndarray out, written in place.
    let view = a.slice(s![..;-1, 1..6]);
    let input = gpujit::ExternalArray::from_ndarray(&view).unwrap();
    assert_eq!((input.shape(), input.strides()), (&[5usize, 5][..], &[-7isize, 1][..]));
    let mut out = Array2::<f64>::zeros((5, 5));
    let mut output = gpujit::ExternalArray::from_ndarray_mut(&mut out).unwrap();
    launch!(scale_2d[(5, 5), (1, 1)](&input, 2.0f64, &mut output)).unwrap();
    drop(output);
    assert_eq!(out, view.mapv(|v| v * 2.0));
    // A read-only borrow cannot be written.
    let e = launch!(scale_2d[(5, 5), (1, 1)](&input, 2.0f64, &mut gpujit::ExternalArray::from_ndarray(&a).unwrap())).unwrap_err();
    assert!(matches!(e, gpujit::Error::ReadOnly { .. }), "{e}");
}

/// `GPUJIT_LOG=compile` reports each compile with its time (a child process, so the setting is
/// read fresh).
#[test]
fn compile_log() {
    let (_, stderr) = common::run_first_launch_child(&[("GPUJIT_LOG", "compile"), ("GPUJIT_DEVICE", "cpu")]);
    assert!(stderr.contains("gpujit: compiled `probe(a: f32, x: &[f32], out: &mut [f32])` for the CPU backend in "), "{stderr}");
    // The expression's generated kernel too.
    assert!(stderr.matches("gpujit: compiled `").count() >= 2, "{stderr}");
    let (_, quiet) = common::run_first_launch_child(&[("GPUJIT_DEVICE", "cpu")]);
    assert!(!quiet.contains("gpujit: compiled"), "{quiet}");
}

/// The compiler's pruned libdevice (the math functions, and a piece for each function used) is
/// kept in the disk cache's directory: a second process finds it there and never parses
/// libdevice; damaged pieces are detected and rebuilt.
#[test]
fn libdevice_piece_on_disk() {
    let dir = std::env::temp_dir().join(format!("gpujit-libdevice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_string_lossy().to_string();
    let env = [("GPUJIT_CACHE_DIR", d.as_str()), ("GPUJIT_DEVICE", "cpu")];
    let pieces = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".bc")).collect())
            .unwrap_or_default()
    };
    let (out, _) = common::run_first_launch_child(&env);
    assert!(out.contains("libdevice full parses: 1"), "{out}");
    let written = pieces();
    assert!(written.len() >= 2 && written.iter().any(|p| p.to_string_lossy().ends_with("__nv_sinf.bc")), "{written:?}");
    let (out, _) = common::run_first_launch_child(&env);
    assert!(out.contains("libdevice full parses: 0"), "{out}");
    // Without the function's piece, it is cut from the math piece: still no full parse.
    for p in pieces().iter().filter(|p| p.to_string_lossy().ends_with("__nv_sinf.bc")) {
        std::fs::remove_file(p).unwrap();
    }
    let (out, _) = common::run_first_launch_child(&env);
    assert!(out.contains("libdevice full parses: 0"), "{out}");
    // A flipped byte in every piece: detected, libdevice parsed again, the pieces rewritten.
    for file in pieces() {
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&file, &bytes).unwrap();
    }
    let (out, _) = common::run_first_launch_child(&env);
    assert!(out.contains("libdevice full parses: 1"), "{out}");
    let (out, _) = common::run_first_launch_child(&env);
    assert!(out.contains("libdevice full parses: 0"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The compiled-kernel description codegen returns agrees with the code: the PTX entry takes one
/// parameter per argument word of the layout (arrays: pointer, extents, strides), and the
/// description names the globals and the cooperative launch.
#[test]
fn compiled_kernel_contract() {
    use gpujit::codegen::contract::ParamSlots;
    use gpujit::codegen::specialize::ArgType;
    use gpujit::codegen::ScalarType::{F32, U32};
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let sig = [
        ArgType::Array { elem: F32, writable: false, ndim: 2, contiguous: false },
        ArgType::Scalar(U32),
        ArgType::Array { elem: F32, writable: true, ndim: 1, contiguous: true },
    ];
    let out = strided_probe.ptx_for(&target, &sig).unwrap();
    let meta = &out.meta;
    assert_eq!(
        meta.layout.params(),
        &[ParamSlots::Array { word: 0, ndim: 2 }, ParamSlots::Scalar { word: 5 }, ParamSlots::Array { word: 6, ndim: 1 }]
    );
    assert_eq!(meta.layout.words(), 9);
    let params = out.ptx.matches(".param .").count();
    assert_eq!(params, meta.layout.words(), "{}", out.ptx);
    assert_eq!(meta.entry, "strided_probe");
    assert!(!meta.cooperative && !meta.uses_barrier && !meta.boundscheck);
    assert_eq!(meta.arrays, vec!["a", "n", "out"]);
}

#[gpu_kernel]
fn strided_probe(a: &Array<f32, 2>, n: u32, out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() && i < a.shape(0) {
        out[i] = a[[i, 0]] * (n as f32);
    }
}

/// Refusals of foreign arrays are variants a caller can match, with the same messages as before.
#[test]
fn interop_refusals_are_typed() {
    use gpujit::dlpack::{scalar_type, DLDataType};
    use gpujit::{Error, ExternalArray, InteropError};
    let e = gpujit::cai::parse_typestr(">f4").unwrap_err();
    assert!(matches!(&e, Error::Interop(InteropError::BigEndian { typestr }) if typestr == ">f4"), "{e:?}");
    assert_eq!(e.to_string(), "typestr \">f4\" is big-endian; gpujit's devices are little-endian");
    let e = gpujit::cai::parse_typestr("<q9").unwrap_err();
    assert!(matches!(e, Error::Interop(InteropError::Typestr { .. })), "{e:?}");
    let e = scalar_type(DLDataType { code: 2, bits: 32, lanes: 4 }).unwrap_err();
    assert!(matches!(e, Error::Interop(InteropError::VectorDtype { lanes: 4 })), "{e:?}");
    let e = scalar_type(DLDataType { code: 2, bits: 8, lanes: 1 }).unwrap_err();
    assert!(matches!(e, Error::Interop(InteropError::Dtype { code: 2, bits: 8 })), "{e:?}");
    let dev = Device::cpu();
    // SAFETY: a null pointer is refused before anything reads it.
    let e = unsafe { ExternalArray::from_raw_parts(&dev, gpujit::codegen::ScalarType::F32, 0, &[4], None, true) }.unwrap_err();
    assert!(matches!(e, Error::Interop(InteropError::Pointer { ptr: 0, align: 4, .. })), "{e:?}");
    // SAFETY: as above; the stride count is checked first.
    let e = unsafe { ExternalArray::from_raw_parts(&dev, gpujit::codegen::ScalarType::F32, 64, &[4, 4], Some(&[1]), true) }.unwrap_err();
    assert!(matches!(e, Error::Interop(InteropError::StrideCount { strides: 1, ndim: 2 })), "{e:?}");
}

/// IR statements carry the source position of the statement they came from (the macro's spans),
/// for line information and errors.
#[test]
fn ir_statements_carry_spans() {
    use gpujit::codegen::ir::StmtKind;
    use gpujit::codegen::specialize::ArgType;
    let ir = scale
        .ir_for(&[
            ArgType::Scalar(gpujit::codegen::ScalarType::F64),
            ArgType::Array { elem: gpujit::codegen::ScalarType::F64, writable: true, ndim: 1, contiguous: true },
        ])
        .unwrap();
    let text = include_str!("cpu.rs");
    let line_of = |needle: &str| text.lines().position(|l| l.trim_start().starts_with(needle)).map(|n| n as u32 + 1).unwrap();
    // `let i = grid(1);` then `if i < x.len() { x[i] *= k; }`, after the parameter prologue.
    let fn_line = line_of("fn scale(k: f64");
    let stmts: Vec<_> = ir.body.iter().filter(|s| s.span.line > fn_line).collect();
    assert!(matches!(stmts[0].kind, StmtKind::Assign { .. }), "{:?}", stmts[0]);
    assert_eq!(stmts[0].span.line, fn_line + 1);
    let StmtKind::If { then, .. } = &stmts[1].kind else { panic!("{:?}", stmts[1]) };
    assert_eq!(stmts[1].span.line, fn_line + 2);
    assert!(matches!(then[0].kind, StmtKind::Store { .. }));
    assert_eq!(then[0].span.line, fn_line + 3);
}

#[gpu_device]
fn relax(acc: f32) -> f32 {
    acc * 0.999 + 0.5 // RELAX: the loop's work
}

#[gpu_kernel(lineinfo)]
fn spinning(x: &mut [f32], n: u64) {
    let i = grid(1);
    if i < x.len() {
        let mut acc = x[i];
        let mut k = 0u64;
        while k < n {
            acc = relax(acc);
            k += 1;
        }
        x[i] = acc;
    }
}

/// `spinning` as `debug`: unoptimized, its scalar locals and parameters described.
#[gpu_kernel(debug)]
fn spinning_debug(x: &mut [f32], n: u64) {
    let i = grid(1);
    if i < x.len() {
        let mut acc = x[i];
        let mut k = 0u64;
        while k < n {
            acc = relax(acc);
            k += 1;
        }
        x[i] = acc;
    }
}

/// Where the child of `host_backtraces_name_lines` has compiled its kernel (and built its source
/// form, whose host code also carries the kernel's lines): gdb sets its line breakpoint here.
#[no_mangle]
#[inline(never)]
extern "C" fn backtrace_child_compiled() {
    std::hint::black_box(());
}

/// The CPU backend's JIT code carries DWARF line tables that LLVM registers with GDB's JIT
/// interface. Under gdb, a child process of this test is stopped inside a running kernel:
/// - a `lineinfo` kernel (optimized), by an abort while it spins: the backtrace names the kernel
///   and its Rust line (or the device function inlined into it, and both lines);
/// - a `debug` kernel (unoptimized), at a breakpoint on a Rust line of the device function: the
///   backtrace shows the device function's and the kernel's scalar parameters and locals with
///   their values.
///
/// Needs gdb (scripts/test.sh installs it); skipped only where the system refuses gdb's ptrace.
#[test]
fn host_backtraces_name_lines() {
    if let Ok(which) = std::env::var("GPUJIT_BACKTRACE_CHILD") {
        let dev = Device::cpu();
        let mut x = DeviceArray::from_slice(&dev, &[1.0f32; 4]).unwrap();
        let k: &gpujit::Kernel = if which == "debug" { &spinning_debug } else { &spinning };
        // Compiled (and its source form built) first, by a launch with nothing to do.
        k.launch((1, 4), (&mut x, 0u64)).unwrap();
        backtrace_child_compiled();
        if which == "debug" {
            // Three steps, stopped in the first by gdb.
            k.launch((1, 4), (&mut x, 3u64)).unwrap();
            return;
        }
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(1000));
            std::process::abort();
        });
        k.launch((1, 4), (&mut x, u64::MAX)).unwrap();
        unreachable!("the kernel spins until the process is stopped");
    }
    let gdb = std::env::var("GPUJIT_GDB").unwrap_or_else(|_| "gdb".into());
    let src = include_str!("cpu.rs");
    let relax_line = src.lines().position(|l| l.contains("// RELAX:")).unwrap() + 1;
    // The lines of `acc = relax(acc);` in `spinning`, then in `spinning_debug`.
    let calls: Vec<usize> = src.lines().enumerate().filter(|(_, l)| l.trim() == "acc = relax(acc);").map(|(i, _)| i + 1).collect();
    // The child under gdb, running `commands` once stopped.
    let run = |child: &str, commands: &[&str]| -> Option<String> {
        let mut cmd = std::process::Command::new(&gdb);
        cmd.args(["-nx", "-batch"]);
        for c in commands {
            cmd.args(["-ex", c]);
        }
        let out = cmd
            .arg("--args")
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "host_backtraces_name_lines", "--nocapture", "--test-threads=1"])
            .env("GPUJIT_BACKTRACE_CHILD", child)
            .env("GPUJIT_CPU_THREADS", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {gdb} (scripts/test.sh installs it): {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if text.contains("ptrace: Operation not permitted") {
            eprintln!("skipping: this system refuses ptrace to gdb:\n{text}");
            return None;
        }
        Some(text)
    };
    let Some(text) = run("lineinfo", &["run", "thread apply all bt"]) else { return };
    let frames: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let kernel = frames
        .iter()
        .position(|f| f.contains(" spinning ") || f.contains(" spinning ("))
        .unwrap_or_else(|| panic!("no frame of the kernel:\n{text}"));
    let line_of = |f: &str| f.rsplit_once("cpu.rs:").and_then(|(_, l)| l.trim().parse::<usize>().ok());
    let body = (calls[0] - 3)..=(calls[0] + 3);
    match line_of(frames[kernel]) {
        Some(l) => assert!(body.contains(&l), "the kernel's frame names line {l}, not one of its loop's {body:?}:\n{text}"),
        None => panic!("the kernel's frame names no line of cpu.rs:\n{text}"),
    }
    // Stopped in the device function: its frame, inlined, comes first, at its own line.
    if kernel > 0 && frames[kernel - 1].contains("relax") {
        assert_eq!(line_of(frames[kernel - 1]), Some(relax_line), "{text}");
        assert_eq!(line_of(frames[kernel]), Some(calls[0]), "{text}");
    }
    // `debug`: the device function's and the kernel's parameters and locals, with values.
    let stop = format!("break tests/cpu.rs:{relax_line}");
    let Some(text) = run("debug", &["break backtrace_child_compiled", "run", &stop, "continue", "bt full", "kill"]) else { return };
    let lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("#0")).collect();
    assert!(lines.first().is_some_and(|l| l.contains("relax (acc=1) at")), "not stopped in relax with its argument:\n{text}");
    let kernel = lines.iter().position(|l| l.starts_with("#1")).unwrap_or_else(|| panic!("no caller:\n{text}"));
    assert!(lines[kernel].contains(&format!("spinning_debug (n=3) at cpu.rs:{}", calls[1])), "{text}");
    let locals: Vec<&str> = lines[kernel + 1..].iter().take_while(|l| !l.starts_with('#')).map(|l| l.trim()).collect();
    for local in ["n = 3", "i = 0", "acc = 1", "k = 0"] {
        assert!(locals.contains(&local), "no `{local}` in the kernel's frame:\n{text}");
    }
}

/// `DeviceArray::from_foreign`: another library's memory as an array, no copy; kernels write it;
/// its owner is dropped with the array, and the memory is never freed by gpujit.
#[test]
fn foreign_memory_arrays() {
    struct Owner(Vec<f64>, std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dev = Device::cpu();
    for n in [0usize, 1, 129, 1000] {
        let data: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let owner = Owner(data.clone(), dropped.clone());
        let ptr = if n == 0 { 8 } else { owner.0.as_ptr() as u64 };
        dropped.store(false, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: `owner` holds `n` f64s at `ptr`, moved into the array, which keeps them.
        let mut a = unsafe { DeviceArray::<f64>::from_foreign(&dev, ptr, &[n], Box::new(owner)) }.unwrap();
        assert!(a.is_foreign() && a.address() == ptr);
        launch!(scale[n.div_ceil(128).max(1), 128](3.0f64, &mut a)).unwrap();
        assert_eq!(a.to_vec().unwrap(), data.iter().map(|v| v * 3.0).collect::<Vec<_>>());
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        drop(a);
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst), "the owner was not dropped with the array");
    }
    // A misaligned pointer is refused, and nothing is kept.
    let keep = Box::new(vec![0u8; 16]);
    let bad = keep.as_ptr() as u64 + 1;
    // SAFETY: refused before any use.
    let e = unsafe { DeviceArray::<f64>::from_foreign(&dev, bad, &[1], keep) }.unwrap_err();
    assert!(matches!(e, gpujit::Error::Interop(gpujit::InteropError::Pointer { .. })), "{e}");
}
