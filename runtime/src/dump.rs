//! `GPUJIT_DUMP_DIR`: writes each compiled specialization's IR, LLVM IR and PTX to files.
//!
//! File names say the kernel and the signature: `saxpy.f32.ref_f32.mut_f32.ptx` for
//! `saxpy(a: f32, x: &[f32], y: &mut [f32])`. Extensions: `.ir` (gpujit IR), `.ll` (optimized LLVM
//! IR; `.host.ll` for the CPU backend), `.ptx`.

use gpujit_codegen::ir::{self, ParamType};
use std::path::PathBuf;
use std::sync::RwLock;

static DIR: RwLock<Option<Option<PathBuf>>> = RwLock::new(None);

/// The dump directory, if dumping is on: the last [`set_dir`], else `GPUJIT_DUMP_DIR`.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = &*DIR.read().unwrap_or_else(|p| p.into_inner()) {
        return d.clone();
    }
    let from_env = std::env::var_os("GPUJIT_DUMP_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
    *DIR.write().unwrap_or_else(|p| p.into_inner()) = Some(from_env.clone());
    from_env
}

/// Turns dumping on (into `dir`) or off (`None`) for the rest of the process, overriding
/// `GPUJIT_DUMP_DIR`.
pub fn set_dir(dir: Option<PathBuf>) {
    *DIR.write().unwrap_or_else(|p| p.into_inner()) = Some(dir);
}

/// The file stem naming a specialization: kernel name, then each parameter's type.
pub fn file_stem(kernel: &ir::Kernel) -> String {
    let mut s = kernel.name.clone();
    for p in &kernel.params {
        s.push('.');
        match p.ty {
            ParamType::Scalar(t) => s.push_str(t.name()),
            ParamType::Array { elem, mutable, ndim, contiguous } => {
                s.push_str(if mutable { "mut_" } else { "ref_" });
                s.push_str(elem.name());
                if ndim > 1 {
                    s.push_str(&format!("x{ndim}"));
                }
                if !contiguous {
                    s.push_str("_strided");
                }
            }
        }
    }
    s
}

/// Writes `contents` to `<dir>/<stem><ext>`; failures are reported on stderr, never fatal.
pub(crate) fn write(kernel: &ir::Kernel, ext: &str, contents: &str) {
    let Some(dir) = dir() else { return };
    let path = dir.join(format!("{}{ext}", file_stem(kernel)));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, contents)) {
        eprintln!("gpujit: GPUJIT_DUMP_DIR: cannot write {}: {e}", path.display());
    }
}
