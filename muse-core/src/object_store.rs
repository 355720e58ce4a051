//! The content-addressed blob store (SPEC §1, §4).
//!
//! A blob with ID `sha256:<h>` lives at `.muse/objects/sha256/<h[0:2]>/<h[2:]>`
//! as its raw bytes, read-only (mode 0444). Writes are hash-verified before
//! anything touches the disk, idempotent, and never overwrite an intact
//! object. Reads verify the hash, so a flipped bit is an error, never data.
//!
//! Objects written by a large [`crate::batch::Batch`] live in a pack
//! ([`crate::pack`]) instead; every reader here looks in the packs this
//! process knows, then at the loose path, then in packs that appeared since.
//! [`object_path`] is only ever the loose path.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};
use std::time::Duration;


use crate::atomic::{
    create_locked_temp, write_atomic, write_temp_and_persist, Durability, Replace,
    MODE_IMMUTABLE, OBJ_TMP_PREFIX, RESTORE_TMP_PREFIX,
};
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::ids::{blob_id, id_from_digest, validate_id};
use crate::pack::{self, EntryKind};
pub use crate::paths::{object_path, objects_dir};
use crate::paths::object_shards_dir;

/// Object temps younger than this are never removed by
/// [`cleanup_stale_object_temps`] (seconds), even when unlocked: they may
/// belong to a writer that does not take locks (an older muse).
pub const CLEANUP_MIN_AGE_SECS: u64 = 60;

/// The process-wide cache of shard directories known to exist, so that a
/// write does not `mkdir` on every call. Keys are the shard directory paths
/// exactly as [`object_path`] builds them (`…/objects/sha256/<xx>`).
pub fn created_shards() -> &'static RwLock<HashSet<PathBuf>> {
    static SHARDS: OnceLock<RwLock<HashSet<PathBuf>>> = OnceLock::new();
    SHARDS.get_or_init(Default::default)
}

fn ensure_dir_cached(dir: &Path, durability: Durability) -> Result<()> {
    if created_shards().read().unwrap_or_else(|p| p.into_inner()).contains(dir) {
        return Ok(());
    }
    crate::atomic::create_dir_all_durable(dir, durability)?;
    created_shards().write().unwrap_or_else(|p| p.into_inner()).insert(dir.to_path_buf());
    Ok(())
}

/// Drops the shard directories of the repository at `root` from
/// [`created_shards`] (the next write checks them again).
pub fn forget_shards(root: &Path) {
    let base = object_shards_dir(root);
    created_shards().write().unwrap_or_else(|p| p.into_inner()).retain(|d| !d.starts_with(&base));
}

fn forget_dir(dir: &Path) {
    created_shards().write().unwrap_or_else(|p| p.into_inner()).remove(dir);
}

/// Checks that `content` hashes to `id`.
///
/// # Errors
/// [`Error::InvalidId`] for a malformed `id`; [`Error::HashMismatch`] when
/// the content has another ID.
pub fn verify_blob(id: &str, content: &[u8]) -> Result<()> {
    validate_id(id)?;
    let actual = blob_id(content);
    if actual != id {
        return Err(Error::HashMismatch { what: "object", expected: id.to_string(), actual });
    }
    Ok(())
}

/// Stores `content` under `id`.
///
/// Returns `true` when the object was written and `false` when it already
/// existed (nothing is overwritten; an existing file whose size is wrong, a
/// remnant of a power loss under `fsync = "off"`, is replaced). Creates the
/// shard directory as needed. `durability` overrides the repository's
/// `[core] fsync` policy only towards *less* syncing (`Some(Deferred)`);
/// `None` follows the policy.
///
/// **Against `gc --prune`** ([`crate::reachability`]): the call holds the
/// write lock shared, and an object it finds already stored as a loose file
/// has its mtime set to now (git's "freshen" rule), so the prune grace
/// period protects it as if it had just been written; one found in a pack
/// freshens the pack ([`crate::pack::Pack::freshen`], at most once per
/// [`crate::pack::FRESHEN_AFTER`]).
///
/// # Errors
/// [`Error::InvalidId`], [`Error::HashMismatch`] (nothing written),
/// [`Error::Locked`] (a prune held the write lock for longer than `[core]
/// lock_timeout`), [`Error::Io`].
pub fn write_object(root: &Path, id: &str, content: &[u8], durability: Option<Durability>) -> Result<bool> {
    verify_blob(id, content)?;
    let durability = durability_for(root, durability)?;
    let path = object_path(root, id)?;
    let _write_lock = crate::lock::writer_lock(root)?;
    let mut replace = Replace::NoClobber;
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() && m.len() == content.len() as u64 => {
            crate::atomic::freshen(&path);
            return Ok(false);
        }
        Ok(_) => {
            log::warn!("object {} has the wrong size or type; rewriting it", path.display());
            replace = Replace::Overwrite;
        }
        Err(_) => {
            if pack::find_for_write(root, EntryKind::Object, id, true)?.is_some() {
                return Ok(false);
            }
        }
    }
    let shard = path.parent().expect("object path has a shard");
    ensure_dir_cached(shard, durability)?;
    match write_atomic(&path, OBJ_TMP_PREFIX, content, MODE_IMMUTABLE, durability, replace) {
        Err(e) if e.is_not_found() => {
            // The shard directory vanished behind the cache's back.
            forget_dir(shard);
            ensure_dir_cached(shard, durability)?;
            write_atomic(&path, OBJ_TMP_PREFIX, content, MODE_IMMUTABLE, durability, replace)
        }
        other => other,
    }
}

/// Reads the object `id` and verifies that its bytes hash to `id`.
///
/// # Errors
/// [`Error::InvalidId`]; [`Error::NotFound`] when absent; [`Error::Corrupt`]
/// when the stored bytes do not hash to `id`; [`Error::Io`].
pub fn read_object(root: &Path, id: &str) -> Result<Vec<u8>> {
    let path = object_path(root, id)?;
    let loose = || match std::fs::read(&path) {
        Ok(d) => Ok(Some((d, path.clone()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    };
    let packed = |p: &pack::Pack, e: &pack::PackEntry| Ok((p.read(e, "object", u64::MAX)?, p.path().to_path_buf()));
    let (data, from) = pack::lookup(root, EntryKind::Object, id, loose, packed)?
        .ok_or_else(|| Error::NotFound { what: "object", name: id.to_string() })?;
    let actual = blob_id(&data);
    if actual != id {
        return Err(Error::corrupt("object", &from, format!("content hashes to {actual}")));
    }
    Ok(data)
}

/// True when the object `id` is stored: a regular file at its path (temps
/// do not count) or an entry of a pack.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn has_object(root: &Path, id: &str) -> Result<bool> {
    pack::is_stored(root, EntryKind::Object, id)
}

/// As [`has_object`] but without re-listing `packs/` on a miss (a pack
/// another process added within the last [`crate::pack::RACY_LISTING`] may
/// be missed): for callers to whom a false "absent" only costs a duplicate
/// write.
pub(crate) fn has_object_known(root: &Path, id: &str) -> Result<bool> {
    let path = object_path(root, id)?;
    Ok(pack::find(root, EntryKind::Object, id, false)?.is_some()
        || std::fs::symlink_metadata(&path).map(|m| m.is_file()).unwrap_or(false))
}

/// Size in bytes of the stored object `id`.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::NotFound`].
pub fn object_size(root: &Path, id: &str) -> Result<u64> {
    let path = object_path(root, id)?;
    if let Ok(m) = std::fs::symlink_metadata(&path) {
        return Ok(m.len());
    }
    pack::find(root, EntryKind::Object, id, true)?
        .map(|(_, e)| e.len)
        .ok_or_else(|| Error::NotFound { what: "object", name: id.to_string() })
}

/// Opens the stored object `id` for streaming: a reader of its bytes (loose
/// file or pack entry, not yet verified: the caller hashes what it reads and
/// compares with `id`) and the file it comes from, for error messages.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::NotFound`] when absent, [`Error::Io`].
pub fn open_object(root: &Path, id: &str) -> Result<(Box<dyn Read + Send>, PathBuf)> {
    let src_path = object_path(root, id)?;
    match File::open(&src_path) {
        Ok(f) => Ok((Box::new(f), src_path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match pack::find(root, EntryKind::Object, id, true)? {
            Some((p, e)) => {
                let path = p.path().to_path_buf();
                Ok((Box::new(pack::EntryReader::new(p, e)), path))
            }
            None => Err(Error::NotFound { what: "object", name: id.to_string() }),
        },
        Err(e) => Err(Error::io("open", &src_path, e)),
    }
}

/// Streams the object `id` from `src` (opened by [`open_object`] at
/// `src_path`) into `out` (at `out_path`, for errors), hashing on the way.
/// Returns the bytes copied.
///
/// # Errors
/// [`Error::Corrupt`] when the bytes do not hash to `id` (what `out` got
/// must then be thrown away), [`Error::Io`].
pub(crate) fn copy_verified(src: &mut dyn Read, src_path: &Path, id: &str, out: &mut dyn Write, out_path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let (digest, total) = crate::ids::hash_stream(src, &mut buf, &mut |b| out.write_all(b)).map_err(|e| match e {
        crate::ids::StreamError::Read(e) => Error::io("read", src_path, e),
        crate::ids::StreamError::Sink(e) => Error::io("write", out_path, e),
    })?;
    let actual = id_from_digest(&digest);
    if actual != id {
        return Err(Error::corrupt("object", src_path, format!("content hashes to {actual}")));
    }
    Ok(total)
}

/// Writes the object `id` to the working-tree file `dest` atomically: the
/// bytes are streamed from the store into a `.restore-tmp-` temp in `dest`'s
/// directory, hash-verified on the way, then renamed over `dest`. The file
/// gets mode 0666 minus the umask; `executable` adds the x bits the umask
/// allows. Creates `dest`'s parent directories. Returns the bytes written.
///
/// # Errors
/// [`Error::NotFound`], [`Error::Corrupt`] (dest untouched), [`Error::Io`].
pub fn restore_object(root: &Path, id: &str, dest: &Path, executable: bool, durability: Option<Durability>) -> Result<u64> {
    let durability = durability_for(root, durability)?;
    let (mut src, src_path) = open_object(root, id)?;
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).ctx("create directory", dir)?;
    let mode = if executable { 0o777 } else { 0o666 };
    let mut tmp = create_locked_temp(dir, RESTORE_TMP_PREFIX, "", mode).ctx("create temp in", dir)?;
    let tmp_path = tmp.path().to_path_buf();
    let total = copy_verified(&mut src, &src_path, id, tmp.as_file_mut(), &tmp_path)?;
    write_temp_and_persist(tmp, dest, &[], durability, Replace::Overwrite)?;
    Ok(total)
}

/// Removes stale object temps (`.obj-tmp-*`, `.restore-tmp-*`) from every
/// shard directory: those no live writer holds and whose mtime is at least
/// `min_age` old ([`CLEANUP_MIN_AGE_SECS`] by default). Never touches a
/// stored object. Returns the number removed.
///
/// This lists every shard; the startup GC ([`crate::repo::startup_gc`])
/// lists only shards changed since its last sweep.
///
/// # Errors
/// [`Error::Io`] for an unreadable shard directory.
pub fn cleanup_stale_object_temps(root: &Path, min_age: Option<Duration>) -> Result<usize> {
    let min_age = min_age.unwrap_or(Duration::from_secs(CLEANUP_MIN_AGE_SECS));
    let mut removed = 0;
    for shard in list_shards(root)? {
        removed += sweep_object_shard(&shard, min_age)?.removed;
    }
    Ok(removed)
}

/// The shard directories under `objects/sha256/` (empty when absent).
pub(crate) fn list_shards(root: &Path) -> Result<Vec<PathBuf>> {
    let base = object_shards_dir(root);
    let rd = match std::fs::read_dir(&base) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &base, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.ctx("list", &base)?;
        let name = entry.file_name();
        if name.len() == 2 && entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Result of sweeping one directory.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sweep {
    pub removed: usize,
    pub kept_live: usize,
}

pub(crate) fn sweep_object_shard(shard: &Path, min_age: Duration) -> Result<Sweep> {
    sweep_dir(shard, &[OBJ_TMP_PREFIX, RESTORE_TMP_PREFIX], "", Some(min_age))
}

/// Removes, from `dir` (not recursively), the files whose names start with
/// one of `prefixes` and end with `suffix`, unless live (see
/// [`try_remove_temp`]). A missing `dir` is an empty sweep.
pub(crate) fn sweep_dir(
    dir: &Path,
    prefixes: &[&str],
    suffix: &str,
    min_age: Option<Duration>,
) -> Result<Sweep> {
    let mut sweep = Sweep::default();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sweep),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    for entry in rd {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if !prefixes.iter().any(|p| bytes.starts_with(p.as_bytes())) || !bytes.ends_with(suffix.as_bytes()) {
            continue;
        }
        let path = entry.path();
        match crate::atomic::try_remove_temp(&path, min_age)? {
            crate::atomic::TempState::Removed => {
                log::debug!("removed stale temp file {}", path.display());
                sweep.removed += 1;
            }
            crate::atomic::TempState::Live => sweep.kept_live += 1,
            crate::atomic::TempState::Vanished => {}
        }
    }
    if sweep.removed > 0 {
        // One record per directory, not per file: a sweep after many
        // crashes must not cost a log call per temp.
        log::warn!("removed {} stale temp file(s) left by killed writers in {}", sweep.removed, dir.display());
    }
    Ok(sweep)
}

