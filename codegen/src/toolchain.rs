//! The CUDA files gpujit uses without a GPU: `ptxas`, to assemble and check generated PTX, and
//! `libdevice.10.bc`, NVIDIA's math library in LLVM bitcode, linked into kernels that call math
//! functions.
//!
//! `ptxas` is looked for in: `$GPUJIT_PTXAS`, `$CUDA_HOME/bin`, `/usr/local/cuda/bin`, the `PATH`,
//! the `nvidia-cuda-nvcc-cu12` Python wheel. libdevice in: `$GPUJIT_LIBDEVICE`,
//! `$CUDA_HOME/nvvm/libdevice`, `/usr/local/cuda/nvvm/libdevice`, beside `$GPUJIT_PTXAS`, the wheel.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Finds `ptxas`; the error lists every place looked at.
pub fn find_ptxas() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("GPUJIT_PTXAS") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(h) = std::env::var_os("CUDA_HOME") {
        candidates.push(Path::new(&h).join("bin/ptxas"));
    }
    candidates.push(PathBuf::from("/usr/local/cuda/bin/ptxas"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("ptxas")));
    }
    if let Some(dir) = python_package_dir("nvidia.cuda_nvcc") {
        candidates.push(dir.join("bin/ptxas"));
    } else {
        tried.push("the nvidia-cuda-nvcc-cu12 Python wheel (not installed)".to_string());
    }
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "ptxas not found; looked at: {}. Install it with `python3 -m pip install nvidia-cuda-nvcc-cu12` or set GPUJIT_PTXAS",
        tried.join(", ")
    ))
}

/// Finds `libdevice.10.bc` (once a process); the error lists every place looked at.
pub fn find_libdevice() -> Result<PathBuf, String> {
    static FOUND: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            const REL: &str = "nvvm/libdevice/libdevice.10.bc";
            let mut candidates: Vec<PathBuf> = Vec::new();
            if let Some(p) = std::env::var_os("GPUJIT_LIBDEVICE") {
                candidates.push(PathBuf::from(p));
            }
            if let Some(h) = std::env::var_os("CUDA_HOME") {
                candidates.push(Path::new(&h).join(REL));
            }
            candidates.push(Path::new("/usr/local/cuda").join(REL));
            if let Some(p) = std::env::var_os("GPUJIT_PTXAS") {
                if let Some(bin) = Path::new(&p).parent().and_then(Path::parent) {
                    candidates.push(bin.join(REL));
                }
            }
            let mut tried: Vec<String> = Vec::new();
            for c in &candidates {
                if c.is_file() {
                    return Ok(c.clone());
                }
                tried.push(c.display().to_string());
            }
            match python_package_dir("nvidia.cuda_nvcc") {
                Some(dir) if dir.join(REL).is_file() => return Ok(dir.join(REL)),
                Some(dir) => tried.push(dir.join(REL).display().to_string()),
                None => tried.push("the nvidia-cuda-nvcc-cu12 Python wheel (not installed)".into()),
            }
            Err(format!(
                "libdevice.10.bc (CUDA's math library, needed for math functions on the GPU) not found; looked at: {}. Install CUDA, or `python3 -m pip install nvidia-cuda-nvcc-cu12`, or set GPUJIT_LIBDEVICE",
                tried.join(", ")
            ))
        })
        .clone()
}

/// The directory of an installed Python package (namespace packages included).
fn python_package_dir(module: &str) -> Option<PathBuf> {
    let script = format!("import {module} as m; print(list(m.__path__)[0])");
    for py in ["python3", "python"] {
        if let Ok(out) = Command::new(py).args(["-c", &script]).output() {
            if out.status.success() {
                let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !s.is_empty() {
                    return Some(PathBuf::from(s));
                }
            }
        }
    }
    None
}

/// What `ptxas -v` reported for one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtxasReport {
    pub registers: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    /// The full `ptxas -v` output.
    pub log: String,
}

/// Assembles `ptx` for `sm_{arch}` with `ptxas`; the error holds ptxas's messages.
pub fn ptxas_check(ptxas: &Path, ptx: &str, arch: u32) -> Result<PtxasReport, String> {
    let dir = std::env::temp_dir();
    let unique = format!("gpujit-{}-{:?}-{}.ptx", std::process::id(), std::thread::current().id(), arch).replace(['(', ')', ' '], "");
    let file = dir.join(unique);
    std::fs::write(&file, ptx).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    // PTX for an architecture-specific target (`.target sm_90a`) assembles only for it.
    let accelerated = ptx.lines().any(|l| l.trim() == format!(".target sm_{arch}a"));
    let name = format!("sm_{arch}{}", if accelerated { "a" } else { "" });
    let out = Command::new(ptxas).args(["--gpu-name", &name, "-v", "-o", "/dev/null"]).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| format!("cannot run {}: {e}", ptxas.display()))?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(log);
    }
    Ok(PtxasReport::parse(log))
}

impl PtxasReport {
    /// Reads registers and spills from a `ptxas -v` log, or the CUDA driver JIT's information log
    /// (the same text); what the log does not mention is 0.
    pub fn parse(log: String) -> PtxasReport {
        let num_before =
            |key: &str| -> u32 { log.find(key).and_then(|i| log[..i].split_whitespace().last()).and_then(|w| w.parse().ok()).unwrap_or(0) };
        PtxasReport {
            registers: num_before(" registers"),
            spill_stores: num_before(" bytes spill stores"),
            spill_loads: num_before(" bytes spill loads"),
            log,
        }
    }
}
