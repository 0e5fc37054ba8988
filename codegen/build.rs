//! Fingerprints the compiler's sources, so the runtime's disk cache never serves code that an
//! earlier build of the code generator produced (gpujit's version alone changes too rarely).

use std::path::Path;

fn main() {
    // The language definition (`gpujit-lang`) decides what code is generated too.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../lang/src");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    collect(Path::new("../lang/src"), &mut files);
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        for b in f.to_string_lossy().bytes().chain(std::fs::read(&f).unwrap_or_default()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=GPUJIT_CODEGEN_FINGERPRINT={h:016x}");
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}
