//! The CUDA tools gpujit can use without a GPU: `ptxas`, to assemble and check generated PTX.
//!
//! Looked for, in order: `$GPUJIT_PTXAS`, `$CUDA_HOME/bin/ptxas`, `/usr/local/cuda/bin/ptxas`, the
//! `PATH`, and the `nvidia-cuda-nvcc-cu12` Python wheel (`pip install nvidia-cuda-nvcc-cu12`).

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
    let out = Command::new(ptxas).args(["--gpu-name", &format!("sm_{arch}"), "-v", "-o", "/dev/null"]).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| format!("cannot run {}: {e}", ptxas.display()))?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(log);
    }
    let num_before =
        |key: &str| -> u32 { log.find(key).and_then(|i| log[..i].split_whitespace().last()).and_then(|w| w.parse().ok()).unwrap_or(0) };
    Ok(PtxasReport {
        registers: num_before(" registers"),
        spill_stores: num_before(" bytes spill stores"),
        spill_loads: num_before(" bytes spill loads"),
        log,
    })
}
