#[allow(dead_code)]
#[path = "gemm_tensor_core.rs"]
mod g;
use gpujit::codegen::nvptx::NvptxTarget;
use gpujit::prelude::*;
fn main() {
    let dev = Device::cpu();
    let a = DeviceArray::from_slice(&dev, &[half::bf16::ONE; 64]).unwrap();
    let mut c = DeviceArray::<f32>::zeros(&dev, 64).unwrap();
    let t = NvptxTarget::for_device(9, 0, 13000).unwrap();
    let out = g::gemm_bf16.ptx(&t, (&a, &a, &mut c, 8usize, 8usize, 8usize)).unwrap();
    std::fs::write("/tmp/gemm.ptx", &out.ptx).unwrap();
    std::fs::write("/tmp/gemm.ll", out.llvm_ir.unwrap_or_default()).unwrap();
}
