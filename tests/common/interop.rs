//! Interoperability: DLPack and the CUDA Array Interface.

use super::*;

// ---------------------------------------------------------------------------------------------
// Interoperability: DLPack and the CUDA Array Interface.

#[gpu_kernel]
fn copy_2d(a: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    if i < a.shape(0) && j < a.shape(1) {
        out[[i, j]] = a[[i, j]];
    }
}

/// A hand-made DLPack tensor over borrowed memory whose deleter counts its calls.
pub(crate) struct TestTensor {
    shape: Vec<i64>,
    strides: Option<Vec<i64>>,
    deleted: &'static AtomicUsize,
}

unsafe extern "C" fn count_versioned(p: *mut DLManagedTensorVersioned) {
    // SAFETY: made by `versioned` below from Boxes; called once by the importer.
    unsafe {
        let m = Box::from_raw(p);
        let t = Box::from_raw(m.manager_ctx as *mut TestTensor);
        t.deleted.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe extern "C" fn count_legacy(p: *mut DLManagedTensor) {
    // SAFETY: as above.
    unsafe {
        let m = Box::from_raw(p);
        let t = Box::from_raw(m.manager_ctx as *mut TestTensor);
        t.deleted.fetch_add(1, Ordering::SeqCst);
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn tensor(
    data: u64,
    device: DLDevice,
    dtype: DLDataType,
    shape: &[i64],
    strides: Option<&[i64]>,
    byte_offset: u64,
    deleted: &'static AtomicUsize,
) -> (Box<TestTensor>, DLTensor) {
    let mut t = Box::new(TestTensor { shape: shape.to_vec(), strides: strides.map(|s| s.to_vec()), deleted });
    let dl = DLTensor {
        data: data as *mut std::ffi::c_void,
        device,
        ndim: shape.len() as i32,
        dtype,
        shape: t.shape.as_mut_ptr(),
        strides: t.strides.as_mut().map(|s| s.as_mut_ptr()).unwrap_or(std::ptr::null_mut()),
        byte_offset,
    };
    (t, dl)
}

pub(crate) fn versioned(t: (Box<TestTensor>, DLTensor), major: u32, flags: u64) -> *mut DLManagedTensorVersioned {
    Box::into_raw(Box::new(DLManagedTensorVersioned {
        version: dlpack::DLPackVersion { major, minor: 0 },
        manager_ctx: Box::into_raw(t.0) as *mut std::ffi::c_void,
        deleter: Some(count_versioned),
        flags,
        dl_tensor: t.1,
    }))
}

pub fn dlpack_conformance(h: &Harness) {
    static DELETED: AtomicUsize = AtomicUsize::new(0);
    let count = || DELETED.load(Ordering::SeqCst);
    let f32t = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 1 };
    let data: Vec<f32> = (0..24).map(|v| v as f32).collect();
    // Our array, exported: its memory is what the hand-made tensors below describe.
    let exported = DeviceArray::from_shape(&h.dev, &[4, 6], &data).unwrap().into_dlpack();
    // SAFETY: `exported` is a valid tensor made just above; it is freed at the end of the test.
    let (base, device) = unsafe { ((*exported).dl_tensor.data as u64, (*exported).dl_tensor.device) };
    let expect_dev = if h.is_gpu() { dlpack::device_type::CUDA } else { dlpack::device_type::CPU };
    assert_eq!(device.device_type, expect_dev);

    let run = |m: *mut DLManagedTensorVersioned, rows: usize, cols: usize| -> Vec<f32> {
        // SAFETY: `m` is a valid tensor owned by the import from here on.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let a = t.array().unwrap();
        assert_eq!(a.shape(), &[rows, cols]);
        let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
        h.run(&copy_2d, ((cols.max(1), rows.max(1)), (1, 1)), (&a, &mut out)).unwrap();
        out.to_vec().unwrap()
    };
    let before = count();
    // NULL strides: compact row-major.
    assert_eq!(run(versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 1, 0), 4, 6), data);
    // Transposed (F-order view).
    let want: Vec<f32> = (0..24).map(|k| data[(k % 4) * 6 + k / 4]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[6, 4], Some(&[1, 6]), 0, &DELETED), 1, 0), 6, 4), want);
    // A byte offset: rows 1..4.
    assert_eq!(run(versioned(tensor(base, device, f32t, &[3, 6], None, 24, &DELETED), 1, 0), 3, 6), data[6..].to_vec());
    // Negative strides: rows reversed, element 0 at the last row.
    let want: Vec<f32> = (0..24).map(|k| data[(3 - k / 6) * 6 + k % 6]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[4, 6], Some(&[-6, 1]), 72, &DELETED), 1, 0), 4, 6), want);
    // A broadcast axis (stride 0) and size-1 axes with odd strides.
    let want: Vec<f32> = (0..18).map(|k| data[k % 6]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[3, 6], Some(&[0, 1]), 0, &DELETED), 1, 0), 3, 6), want);
    assert_eq!(count() - before, 5, "each import's deleter ran once");

    // 0-d: one element.
    let m = versioned(tensor(base + 8, device, f32t, &[], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert_eq!(t.array().unwrap().shape(), &[1]);
    drop(t);
    // Zero-size, with a NULL data pointer.
    let m = versioned(tensor(0, device, f32t, &[0, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[0, 6]).unwrap();
    h.run(&copy_2d, ((0, 0), (1, 1)), (&a, &mut out)).unwrap();
    drop(t);
    // Read-only: refused for a written parameter, and nothing is written.
    let m = versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 1, dlpack::FLAG_READ_ONLY);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    let mut ro = t.array().unwrap();
    let src = DeviceArray::from_shape(&h.dev, &[4, 6], &[-1.0f32; 24]).unwrap();
    let e = h.run(&copy_2d, ((6, 4), (1, 1)), (&src, &mut ro)).unwrap_err();
    assert!(matches!(&e, Error::ReadOnly { param, .. } if param == "out"), "{e}");
    drop(t);
    assert_eq!(count() - before, 8);

    // Refused imports still run the deleter exactly once.
    let bad_lanes = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 4 };
    let m = versioned(tensor(base, device, bad_lanes, &[4, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert!(t.array().unwrap_err().to_string().contains("lanes"));
    drop(t);
    let m = versioned(tensor(base, DLDevice { device_type: 7, device_id: 0 }, f32t, &[4, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert!(t.array().unwrap_err().to_string().contains("device type 7"));
    drop(t);
    let m = versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 2, 0);
    // SAFETY: as above.
    let e = unsafe { DlpackTensor::from_versioned(m) }.err().expect("major version 2 is refused");
    assert!(e.to_string().contains("major version 2"), "{e}");
    assert_eq!(count() - before, 11, "refused imports ran their deleters");

    // Legacy DLManagedTensor.
    let t = tensor(base, device, f32t, &[2, 6], None, 48, &DELETED);
    let legacy = Box::into_raw(Box::new(DLManagedTensor {
        dl_tensor: t.1,
        manager_ctx: Box::into_raw(t.0) as *mut std::ffi::c_void,
        deleter: Some(count_legacy),
    }));
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_legacy(legacy) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[2, 6]).unwrap();
    h.run(&copy_2d, ((6, 2), (1, 1)), (&a, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), data[12..].to_vec());
    drop(t);
    assert_eq!(count() - before, 12);

    // Our export, consumed by our own import (a round trip), and freed by its deleter.
    // SAFETY: `exported` came from `into_dlpack`; the import owns it from here on.
    let t = unsafe { DlpackTensor::from_versioned(exported) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[4, 6]).unwrap();
    h.run(&copy_2d, ((6, 4), (1, 1)), (&a, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), data);
    drop(t);

    // Every dtype maps both ways.
    for t in gpujit::codegen::ScalarType::ALL {
        assert_eq!(dlpack::scalar_type(dlpack::dl_data_type(t)).unwrap(), t);
        assert_eq!(gpujit::cai::parse_typestr(&gpujit::cai::typestr(t)).unwrap(), t);
    }
}

pub fn cuda_array_interface_rules(h: &Harness) {
    use gpujit::cai::{parse_typestr, CudaArrayInterface};
    use gpujit::codegen::ScalarType as S;
    assert_eq!(parse_typestr("<f4").unwrap(), S::F32);
    assert_eq!(parse_typestr("|b1").unwrap(), S::Bool);
    assert_eq!(parse_typestr("<V2").unwrap(), S::BF16);
    assert_eq!(parse_typestr("|u1").unwrap(), S::U8);
    assert_eq!(parse_typestr(">i1").unwrap(), S::I8, "byte order does not matter for one byte");
    assert!(parse_typestr(">f4").unwrap_err().to_string().contains("big-endian"));
    assert_eq!(parse_typestr("<c8").unwrap(), S::Complex32);
    assert_eq!(parse_typestr("<c16").unwrap(), S::Complex64);
    assert!(parse_typestr("<c4").is_err(), "no complex of f16");
    let cai = CudaArrayInterface {
        shape: vec![4, 6],
        typestr: "<f4".into(),
        data: (0, false),
        strides: Some(vec![4, 16]),
        version: 3,
        mask: None,
        stream: None,
    };
    let (elem, layout) = cai.layout().unwrap();
    assert_eq!((elem, layout.strides.clone()), (S::F32, vec![1, 4]), "byte strides become element strides");
    let bad = |c: CudaArrayInterface, what: &str| assert!(c.layout().unwrap_err().to_string().contains(what), "{what}");
    bad(CudaArrayInterface { strides: Some(vec![4, 6]), ..cai.clone() }, "multiple of the item size");
    bad(CudaArrayInterface { mask: Some(Box::new(cai.clone())), ..cai.clone() }, "mask");
    bad(CudaArrayInterface { version: 4, ..cai.clone() }, "version 4");
    bad(CudaArrayInterface { stream: Some(0), ..cai.clone() }, "stream");
    if !h.is_gpu() {
        // The interface describes device memory.
        let a = h.arr(&[1.0f32]);
        assert!(a.cuda_array_interface().is_err());
        return;
    }
    // Our export, imported back; and stream ordering after a slow producer on another stream.
    let n = 1 << 20;
    let stream = h.dev.new_stream().unwrap();
    let mut produced = h.zeros::<f32>(n);
    h.run(&slow_fill, (n.div_ceil(256), 256, &stream), (&mut produced, 20_000u32)).unwrap();
    let mut cai = produced.cuda_array_interface().unwrap();
    assert_eq!((cai.version, cai.typestr.as_str(), cai.shape.clone()), (3, "<f4", vec![n]));
    cai.stream = Some(stream.as_raw());
    // SAFETY: `produced` outlives the import and nothing else writes it meanwhile.
    let ext = unsafe { cai.import() }.unwrap();
    assert_eq!(ext.producer_stream(), Some(stream.as_raw()));
    let mut copy = h.zeros::<f32>(n);
    // Launched on a second stream, which does not order with the producer's by itself: only the
    // event gpujit records on the producer's stream makes it wait.
    let consumer = h.dev.new_stream().unwrap();
    h.run(&copy_1d, LaunchConfig::for_elements(n, 256).stream(&consumer), (&ext, &mut copy)).unwrap();
    consumer.synchronize().unwrap();
    let got = copy.to_vec().unwrap();
    assert!(got.iter().enumerate().all(|(i, v)| *v == (i % 1000) as f32 + 0.5), "the consumer saw unfinished data");
}

/// A deliberately slow producer: each thread spins before writing its value.
#[gpu_kernel]
fn slow_fill(out: &mut [f32], iters: u32) {
    let i = grid(1);
    let mut x = 0u32;
    for k in 0..iters {
        x = x * 1664525 + 1013904223 + k;
    }
    if i < out.len() {
        // The branch keeps the loop from being optimized away (x is never 7 for these iters).
        if x == 7 {
            out[i] = -1.0;
        } else {
            out[i] = (i % 1000) as f32 + 0.5;
        }
    }
}

#[gpu_kernel]
pub(crate) fn copy_1d(a: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < a.len() {
        out[i] = a[i];
    }
}
