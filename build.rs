//! Links `tsm-native` as a non-PIE executable on Linux: every supervisor then shares the
//! binary's relocated data pages instead of dirtying ~60 KB of its own at start-up.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
