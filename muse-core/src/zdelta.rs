//! Compressed and delta-compressed bytes: one encoding for packs and bundles.
//!
//! Every compressed entry muse stores or sends is one zstd frame
//! (RFC 8878, through the `zstd` crate). A *delta* is a zstd frame
//! compressed with a base's full content as its prefix (zstd's
//! `refPrefix`, the mechanism behind `zstd --patch-from`): decompressing it
//! needs the same base bytes, and what it costs is roughly what the target
//! adds to the base, the way a git delta does. Packs ([`crate::pack`]) and
//! bundles ([`crate::bundle`]) share this encoding, so an entry can move
//! from one to the other without being recompressed.
//!
//! Each thread reuses one compression and one decompression context:
//! creating a zstd context runs a `cpuid` (its BMI2 probe), a VM exit under
//! a hypervisor, and that was a quarter of `bundle apply`'s main thread on
//! this project's machines. A reused context takes the base as a
//! raw-content dictionary (`ZSTD_CCtx_loadDictionary`,
//! `ZSTD_decompress_usingDict`), which zstd lays before the data exactly as
//! a prefix: frames made either way decode either way. A base that begins
//! with zstd's dictionary magic (zstd would parse it as a trained
//! dictionary) takes a fresh context and `refPrefix` instead.
//!
//! Frames always record their content size, so a reader knows the size of
//! what it will get before it allocates ([`content_size`]), and refuses a
//! frame larger than its caller's limit. Decompressed bytes are never
//! trusted: callers verify them by their SHA-256 like any other input.

use std::path::Path;

use crate::error::{Error, Result};

/// The zstd level of everyday writes (packs written by a batch, bundles):
/// zstd's own default, fast enough that compression does not dominate an
/// import (~300 MB/s on one core) with most of the gain of higher levels.
pub const DEFAULT_LEVEL: i32 = 3;

/// The zstd level `muse gc` uses when it repacks (slower, smaller).
pub const REPACK_LEVEL: i32 = 9;

fn corrupt(what: &'static str, path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt { what, path: path.to_path_buf(), detail: detail.to_string() }
}

fn window_log_for(len: usize) -> u32 {
    // The window must cover the whole base plus the target so that every
    // match into the prefix is reachable (zstd's --patch-from rule).
    let need = (len as u64).max(1 << 10).next_power_of_two();
    (need.trailing_zeros()).clamp(10, 31)
}

/// Compresses `data` into one zstd frame at `level`; with `base`, as a delta
/// against it (the base's bytes before the frame's data, as a prefix; see
/// the module docs), on this thread's reused context.
///
/// # Errors
/// [`Error::Corrupt`] only if zstd itself fails (out of memory, a level
/// out of range): never for any input bytes.
pub fn compress(data: &[u8], base: Option<&[u8]>, level: i32) -> Result<Vec<u8>> {
    // A base zstd would read as a trained dictionary: a fresh context
    // given the base as a prefix (raw content, always).
    if base.is_some_and(|b| b.len() >= 8 && b[..4] == ZSTD_DICT_MAGIC) {
        return compress_with_prefix(data, base, level);
    }
    let reused = CCTX.try_with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        let cctx = c.get_or_insert_with(zstd::zstd_safe::CCtx::create);
        let out = compress_on(cctx, data, base, level);
        // Drops the copied base and the parameters.
        let _ = cctx.reset(zstd::zstd_safe::ResetDirective::SessionAndParameters);
        Some(out)
    });
    match reused {
        Ok(Some(out)) => out,
        _ => compress_with_prefix(data, base, level),
    }
}

thread_local! {
    /// This thread's compression context, reused (see [`DCTX`]): the base
    /// is loaded as a raw-content dictionary (copied, so the context owes
    /// it no lifetime) and cleared after each frame.
    static CCTX: std::cell::RefCell<Option<zstd::zstd_safe::CCtx<'static>>> = const { std::cell::RefCell::new(None) };
}

fn compression_error(e: usize) -> Error {
    corrupt("zstd frame", Path::new("<memory>"), format!("compression failed: {}", zstd::zstd_safe::get_error_name(e)))
}

/// [`compress`]'s frame parameters on `cctx`: `level`, the content size
/// recorded, no checksum; with a base of `base_len` bytes, a window
/// covering the base and the data (zstd's `--patch-from` rule) and the
/// data's size pledged.
fn set_frame_params(cctx: &mut zstd::zstd_safe::CCtx<'_>, data_len: usize, base_len: Option<usize>, level: i32) -> Result<()> {
    use zstd::zstd_safe::CParameter;
    let err = compression_error;
    cctx.set_parameter(CParameter::CompressionLevel(level)).map_err(err)?;
    cctx.set_parameter(CParameter::ContentSizeFlag(true)).map_err(err)?;
    cctx.set_parameter(CParameter::ChecksumFlag(false)).map_err(err)?;
    if let Some(b) = base_len {
        cctx.set_parameter(CParameter::WindowLog(window_log_for(b + data_len))).map_err(err)?;
        cctx.set_pledged_src_size(Some(data_len as u64)).map_err(err)?;
    }
    Ok(())
}

/// Compresses `data` on `cctx`, whose parameters and base are set.
fn compress_frame(cctx: &mut zstd::zstd_safe::CCtx<'_>, data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut out, data).map_err(compression_error)?;
    Ok(out)
}

/// [`compress`] on `cctx` (fresh parameters), the base as a dictionary of
/// raw content: zstd lays it before `data` exactly as a prefix, so the
/// frame decodes with the base as prefix ([`decompress`]).
fn compress_on(cctx: &mut zstd::zstd_safe::CCtx<'_>, data: &[u8], base: Option<&[u8]>, level: i32) -> Result<Vec<u8>> {
    cctx.reset(zstd::zstd_safe::ResetDirective::SessionAndParameters).map_err(compression_error)?;
    set_frame_params(cctx, data.len(), base.map(<[u8]>::len), level)?;
    if let Some(b) = base {
        cctx.load_dictionary(b).map_err(compression_error)?;
    }
    compress_frame(cctx, data)
}

/// [`compress`] on a fresh context, the base referenced as a prefix.
fn compress_with_prefix(data: &[u8], base: Option<&[u8]>, level: i32) -> Result<Vec<u8>> {
    let mut cctx = zstd::zstd_safe::CCtx::create();
    set_frame_params(&mut cctx, data.len(), base.map(<[u8]>::len), level)?;
    if let Some(b) = base {
        cctx.ref_prefix(b).map_err(compression_error)?;
    }
    compress_frame(&mut cctx, data)
}

/// The content size a frame declares, read from its header without
/// decompressing anything.
///
/// # Errors
/// [`Error::Corrupt`] naming `what` at `path` when the frame header is
/// malformed or does not declare a size (every frame muse writes does).
pub fn content_size(frame: &[u8], what: &'static str, path: &Path) -> Result<u64> {
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(corrupt(what, path, "zstd frame does not declare its size")),
        Err(_) => Err(corrupt(what, path, "not a zstd frame")),
    }
}

/// Decompresses one frame made by [`compress`] (with the same `base`, if
/// any). A frame that declares more than `limit` bytes is refused before
/// anything is allocated; a frame whose output is not exactly its declared
/// size, or with trailing bytes, is corrupt.
///
/// # Errors
/// [`Error::Corrupt`] naming `what` at `path` (a malformed frame, a wrong
/// base, sizes that disagree); a frame over `limit` is reported as
/// [`Error::Corrupt`] too, with the limit in the message (the entry lies
/// about itself or is not meant for this reader).
pub fn decompress(frame: &[u8], base: Option<&[u8]>, limit: u64, what: &'static str, path: &Path) -> Result<Vec<u8>> {
    let size = content_size(frame, what, path)?;
    if size > limit {
        return Err(corrupt(what, path, format!("declares {size} bytes, over the limit of {limit}")));
    }
    let size = usize::try_from(size).map_err(|_| corrupt(what, path, "size does not fit in memory"))?;
    if let Some(out) = decompress_reusing_context(frame, base, size) {
        return Ok(out);
    }
    decompress_checked(frame, base, size, what, path)
}

/// `ZSTD_DICT_MAGIC` (little-endian): a dictionary starting with it is read
/// by zstd as a trained dictionary, not as raw content.
const ZSTD_DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];

thread_local! {
    /// This thread's decompression context, reused: creating one runs a
    /// `cpuid` (zstd's BMI2 probe), which costs a VM exit under a
    /// hypervisor; on this project's machines that was a quarter of
    /// `bundle apply`'s main thread.
    static DCTX: std::cell::RefCell<Option<zstd::zstd_safe::DCtx<'static>>> = const { std::cell::RefCell::new(None) };
}

/// The fast path of [`decompress`]: one whole frame decoded in one call on
/// this thread's reused context, the base given as a raw-content
/// dictionary (what [`compress`]'s prefix is). `None` when that path does
/// not apply (a base that zstd would read as a trained dictionary) or
/// fails in any way; [`decompress_checked`] then decodes the frame again
/// and names what is wrong, so both paths accept exactly the same frames.
fn decompress_reusing_context(frame: &[u8], base: Option<&[u8]>, size: usize) -> Option<Vec<u8>> {
    if base.is_some_and(|b| b.len() >= 8 && b[..4] == ZSTD_DICT_MAGIC) {
        return None;
    }
    // Exactly one frame, nothing after it (the one-call API would decode
    // a second frame too).
    if zstd::zstd_safe::find_frame_compressed_size(frame).ok()? != frame.len() {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(size);
    let n = DCTX
        .try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            let d = c.get_or_insert_with(zstd::zstd_safe::DCtx::create);
            match base {
                Some(b) => d.decompress_using_dict(&mut out, frame, b).ok(),
                None => d.decompress(&mut out, frame).ok(),
            }
        })
        .ok()??;
    (n == size && out.len() == size).then_some(out)
}

/// [`decompress`] on a fresh streaming context, checking every way a frame
/// can be wrong.
fn decompress_checked(frame: &[u8], base: Option<&[u8]>, size: usize, what: &'static str, path: &Path) -> Result<Vec<u8>> {
    use zstd::zstd_safe::{DCtx, DParameter, InBuffer, OutBuffer};
    let err = |e: usize| corrupt(what, path, format!("zstd: {}", zstd::zstd_safe::get_error_name(e)));
    let mut dctx = DCtx::create();
    dctx.set_parameter(DParameter::WindowLogMax(31)).map_err(err)?;
    if let Some(b) = base {
        dctx.ref_prefix(b).map_err(err)?;
    }
    let mut out: Vec<u8> = Vec::with_capacity(size);
    let mut input = InBuffer::around(frame);
    {
        let mut output = OutBuffer::around(&mut out);
        loop {
            let hint = dctx.decompress_stream(&mut output, &mut input).map_err(err)?;
            if hint == 0 {
                break;
            }
            if output.pos() == output.capacity() {
                // The frame wants to write past its declared size.
                return Err(corrupt(what, path, format!("decompresses to more than its declared {size} bytes")));
            }
            if input.pos() == frame.len() {
                return Err(corrupt(what, path, "zstd frame is truncated"));
            }
        }
    }
    if input.pos() != frame.len() {
        return Err(corrupt(what, path, "bytes after the zstd frame"));
    }
    if out.len() != size {
        return Err(corrupt(what, path, format!("decompressed to {} bytes, declared {size}", out.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_plain_and_delta() {
        let base: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut target = base.clone();
        target[1000] ^= 0xff;
        target.extend_from_slice(b"tail");
        let plain = compress(&target, None, DEFAULT_LEVEL).unwrap();
        let delta = compress(&target, Some(&base), DEFAULT_LEVEL).unwrap();
        assert!(delta.len() < plain.len() / 4, "delta {} plain {}", delta.len(), plain.len());
        assert_eq!(decompress(&plain, None, u64::MAX, "t", Path::new("x")).unwrap(), target);
        assert_eq!(decompress(&delta, Some(&base), u64::MAX, "t", Path::new("x")).unwrap(), target);
        // The wrong base never yields the target silently: either an error
        // or other bytes (callers hash what they get).
        if let Ok(v) = decompress(&delta, Some(&target), u64::MAX, "t", Path::new("x")) {
            assert_ne!(v, target);
        }
        assert_eq!(content_size(&delta, "t", Path::new("x")).unwrap(), target.len() as u64);
    }

    /// A base starting with zstd's dictionary magic is still raw content
    /// (the reused-context path would read it as a trained dictionary, so
    /// it takes the streaming path), and the two paths agree.
    #[test]
    fn a_base_that_looks_like_a_zstd_dictionary_is_raw_content() {
        let mut base = ZSTD_DICT_MAGIC.to_vec();
        base.extend((0..50_000u32).flat_map(|i| (i % 97).to_le_bytes()));
        let mut target = base.clone();
        target[20_000] ^= 1;
        let delta = compress(&target, Some(&base), DEFAULT_LEVEL).unwrap();
        assert!(decompress_reusing_context(&delta, Some(&base), target.len()).is_none());
        assert_eq!(delta, compress_with_prefix(&target, Some(&base), DEFAULT_LEVEL).unwrap());
        assert_eq!(decompress(&delta, Some(&base), u64::MAX, "t", Path::new("x")).unwrap(), target);
        let plain_base = &base[4..];
        let delta = compress(&target, Some(plain_base), DEFAULT_LEVEL).unwrap();
        let fast = decompress_reusing_context(&delta, Some(plain_base), target.len()).unwrap();
        assert_eq!(fast, decompress_checked(&delta, Some(plain_base), target.len(), "t", Path::new("x")).unwrap());
        // A frame made with the base as a prefix reads on the reused path,
        // and one made on the reused context reads on the streaming path.
        let by_prefix = compress_with_prefix(&target, Some(plain_base), DEFAULT_LEVEL).unwrap();
        assert_eq!(decompress_reusing_context(&by_prefix, Some(plain_base), target.len()).unwrap(), target);
        assert_eq!(decompress_checked(&delta, Some(plain_base), target.len(), "t", Path::new("x")).unwrap(), target);
        // The reused context keeps nothing from one frame to the next.
        let again = compress(&target, Some(plain_base), DEFAULT_LEVEL).unwrap();
        assert_eq!(again, delta);
        let alone = compress(&target, None, DEFAULT_LEVEL).unwrap();
        assert_eq!(alone, compress_with_prefix(&target, None, DEFAULT_LEVEL).unwrap());
    }

    /// A second frame after the first (even an empty one) is refused on
    /// the reused-context path too.
    #[test]
    fn a_frame_followed_by_another_is_refused() {
        let mut f = compress(b"hello", None, DEFAULT_LEVEL).unwrap();
        f.extend(compress(b"", None, DEFAULT_LEVEL).unwrap());
        let e = decompress(&f, None, u64::MAX, "t", Path::new("x")).unwrap_err().to_string();
        assert!(e.contains("bytes after the zstd frame"), "{e}");
    }

    #[test]
    fn refuses_oversized_truncated_and_garbage() {
        let data = vec![7u8; 100_000];
        let f = compress(&data, None, DEFAULT_LEVEL).unwrap();
        assert!(decompress(&f, None, 99_999, "t", Path::new("x")).unwrap_err().to_string().contains("over the limit"));
        assert!(decompress(&f[..f.len() - 1], None, u64::MAX, "t", Path::new("x")).is_err());
        let mut extra = f.clone();
        extra.push(0);
        assert!(decompress(&extra, None, u64::MAX, "t", Path::new("x")).is_err());
        assert!(decompress(b"not zstd at all", None, u64::MAX, "t", Path::new("x")).is_err());
        assert_eq!(decompress(&compress(b"", None, 3).unwrap(), None, 0, "t", Path::new("x")).unwrap(), b"");
    }
}
