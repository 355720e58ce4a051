//! Gives the shared library a versioned soname (`libmuse.so.<major>`), so
//! that programs linked against it record `libmuse.so.0` and a future
//! ABI-breaking `libmuse.so.1` can be installed beside it.
//!
//! The header is *not* generated here: `include/muse.h` is produced by the
//! pinned cbindgen CLI (`muse-ffi/gen-header.sh`) and committed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if os == "linux" || os == "freebsd" || os == "netbsd" || os == "openbsd" || os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmuse.so.{major}");
    }
}
