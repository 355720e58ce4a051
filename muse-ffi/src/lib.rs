//! # libmuse
//!
//! The C ABI over `muse-core` (SPEC §8: integer status codes, a thread-local
//! last-error message, opaque handles with explicit free functions). This
//! crate is a skeleton until the C ABI issue lands: it builds the `libmuse`
//! shared and static libraries and exports the version query only.

use std::ffi::c_char;

/// The library version as a static NUL-terminated UTF-8 string
/// (e.g. `"0.1.0"`). The pointer is valid for the life of the process; do
/// not free it.
#[no_mangle]
pub extern "C" fn muse_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_nul_terminated_and_matches_core() {
        let p = super::muse_version();
        // SAFETY: muse_version returns a pointer to a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        assert_eq!(s.to_str().unwrap(), muse_core::VERSION);
    }
}
