//! # libmuse
//!
//! The C ABI over `muse-core` (SPEC section 8). The header is `include/muse.h`,
//! generated from this crate by the pinned cbindgen (`gen-header.sh`).
//!
//! Conventions (after rustls-ffi and libgit2):
//!
//! * Every function that can fail returns a [`muse_status`]: `MUSE_OK`
//!   (0), one code per error class of the core, plus `MUSE_E_NULL_ARG`,
//!   `MUSE_E_BUFFER_TOO_SMALL`, `MUSE_E_UTF8`, `MUSE_E_PANIC`, and the
//!   remotes' `MUSE_E_REJECTED`, `MUSE_E_REMOTE`. A message
//!   describing the failure is kept per thread
//!   ([`muse_last_error_message`], [`muse_last_error_copy`]).
//! * Results go through out-parameters, written only on `MUSE_OK` (the
//!   documented exception: the `needed` size of a buffer function is also
//!   written on `MUSE_E_BUFFER_TOO_SMALL`).
//! * Objects are opaque handles (`muse_repository` (alias `muse_repo`),
//!   `muse_bytes`, `muse_manifest`, `muse_commit`, `muse_log_iter`,
//!   `muse_ref_list`, `muse_status_list`, `muse_diff_list`,
//!   `muse_path_list`, `muse_commit_list`, `muse_remote_list`,
//!   `muse_ref_update_list`),
//!   each with its free function; freeing NULL is a no-op. `const`
//!   pointers are never written through.
//! * Strings are NUL-terminated UTF-8 (`MUSE_E_UTF8` otherwise); byte
//!   buffers are pointer + length. IDs are written into caller buffers of
//!   `MUSE_ID_BUFSIZE` (72) bytes.
//! * Every exported body runs behind `catch_unwind`: a Rust panic becomes
//!   `MUSE_E_PANIC`, never an abort or an unwind into C.
//!
//! `unsafe` is confined to this crate (the core forbids it); every block
//! carries a `// SAFETY:` comment.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![allow(non_camel_case_types)]

use std::ffi::c_char;

/// mimalloc for the library's own allocations (feature `mimalloc`, on by
/// default): `write_object` from C was ~5 % slower than from Python with
/// the system allocator. Memory crossing the ABI is always allocated and
/// freed by the library itself (the `_free` functions), so the host's
/// allocator is never mixed with this one.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The order of these modules is the order of the header's sections
// (cbindgen follows it); keep the blank lines so that rustfmt does not
// sort them.
pub mod error;

mod util;

pub mod repo;

pub mod objects;

pub mod records;

pub mod manifest;

pub mod refs;

pub mod porcelain;

pub mod history;

pub mod mpack;

pub mod remote;

pub use error::muse_status;
pub use util::{MUSE_ID_BUFSIZE, MUSE_ID_LEN};

/// Major version of the library (the `N` of the soname `libmuse.so.N`).
pub const MUSE_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const MUSE_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const MUSE_VERSION_PATCH: u32 = 0;

/// The library version as a static NUL-terminated UTF-8 string
/// (e.g. `"0.1.0"`), equal to `MUSE_VERSION_MAJOR.MINOR.PATCH` of the
/// library actually loaded (which may differ from the header's). The
/// pointer is valid for the life of the process; do not free it.
#[no_mangle]
pub extern "C" fn muse_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    // Cannot panic; guarded all the same, as every exported body is.
    error::guard_value(VERSION.as_ptr().cast(), || VERSION.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_nul_terminated_and_matches_core() {
        let p = super::muse_version();
        // SAFETY: muse_version returns a pointer to a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        assert_eq!(s.to_str().unwrap(), muse_core::VERSION);
        let parts = format!(
            "{}.{}.{}",
            super::MUSE_VERSION_MAJOR,
            super::MUSE_VERSION_MINOR,
            super::MUSE_VERSION_PATCH
        );
        assert_eq!(
            parts,
            muse_core::VERSION,
            "update MUSE_VERSION_* with the crate version"
        );
    }
}
