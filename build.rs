//! Links `tsm-native` as a non-PIE executable on Linux: every supervisor then shares the
//! binary's relocated data pages instead of dirtying ~60 KB of its own at start-up. (For musl,
//! `.cargo/config.toml` compiles the code as static, non-PIE code to match.)
//!
//! Also names the build: `TSM_BUILD`, a hash of the sources, so that a light supervisor
//! built from other sources is never taken for this build's (`supervise::light`).

use std::path::{Path, PathBuf};

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rustc-env=TSM_BUILD={:016x}", build_hash());
    for watched in ["build.rs", "Cargo.toml", "Cargo.lock", "src"] {
        println!("cargo:rerun-if-changed={watched}");
    }
}

/// FNV-1a over the name and bytes of every source file, in a fixed order.
fn build_hash() -> u64 {
    let mut files = vec![
        PathBuf::from("build.rs"),
        PathBuf::from("Cargo.toml"),
        PathBuf::from("Cargo.lock"),
    ];
    walk(Path::new("src"), &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let name = file.to_string_lossy().into_owned().into_bytes();
        for b in name.iter().chain([0u8].iter()).chain(bytes.iter()) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}
