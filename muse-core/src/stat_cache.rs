//! The stat cache (SPEC §5): `(ino, size, mtime)` → blob ID of working-tree
//! files, so that an unchanged file is not read again.
//!
//! The cache lives at `.muse/cache/stat_cache.json`
//! ([`stat_cache_path`]) as UTF-8 JSON:
//!
//! ```json
//! {"version": 3,
//!  "entries": {"src/a.py": {"ino": 1234, "size": 5, "mtime": 1700000000.123456,
//!                           "mtime_ns": 1700000000123456789,
//!                           "object_hash": "sha256:…"}}}
//! ```
//!
//! Keys are POSIX paths relative to the working-tree root, written in key
//! order and without whitespace. `mtime` (float seconds) is written for
//! readers that want it and ignored on load; `mtime_ns` is what is compared.
//! A file in exactly the shape [`StatCache::save`] writes is read by a
//! dedicated scanner; any other valid JSON (whitespace, field order,
//! escapes, extra fields) goes through serde with the same result.
//!
//! # Validity
//!
//! An entry is a hit only while the file's `(ino, size, mtime_ns)` all equal
//! the entry's, **and** the entry is not *racily clean*.
//!
//! # Racy timestamps
//!
//! A file modified twice within one tick of the filesystem clock keeps its
//! mtime (and, if the size is unchanged, its whole stat), so an entry is only
//! trusted when the file was hashed *after* the tick of its mtime had passed
//! (git's racy-git rule). Concretely:
//!
//! * **Loaded entries.** At load the cache file's own mtime `C` (ns) is
//!   remembered; it is stamped by the same coarse filesystem clock as the
//!   files. An entry with `mtime_ns >= C` is racy.
//! * **Entries hashed by this instance.** Each read is preceded by a *stamp*
//!   `S`; an entry whose `mtime_ns >= S` is racy. The walker
//!   ([`crate::walk::walk_workdir`]) takes `S` from the filesystem clock
//!   itself: the mtime of the cache temp file it creates just before its
//!   first read (so only files modified in the same tick as the walk are
//!   racy). The single-file methods ([`StatCache::get_object_hash`],
//!   [`StatCache::get_cached`]) use the wall clock minus [`RACY_MARGIN_NS`]
//!   (3 s: a coarse-clock tick plus the 2 s granularity of the coarsest
//!   filesystems).
//! * A racy entry is re-hashed on every lookup. When the content and stat
//!   turn out unchanged this is **not** a miss: the cache is not marked
//!   dirty. When they changed the entry is replaced and the cache is dirty.
//! * On [`StatCache::save`] the written file's mtime is lowered to the
//!   smallest mtime of the entries still racy (when that is older than the
//!   write time), so that they are racy again after the next load.
//!
//! # Loading never fails
//!
//! [`StatCache::load`] returns an empty cache with a [`LoadStatus`] saying
//! why for an absent, oversized, foreign-version or corrupt file (logged:
//! an oversized one with `log::error!` on target `muse.core.stat_cache`,
//! which `pyo3-log` delivers to that Python logger; the others with
//! `log::warn!`; an absent one at debug level). The size guard is decided from the
//! file's metadata before any byte is read.
//!
//! # In memory
//!
//! Entries are kept compactly: every key back to back in one string, one
//! 64-byte slot per entry (key offset and length, stat, raw 32-byte digest)
//! and a hash index of slot numbers (`hashbrown` + `foldhash`). A cache of
//! 75,000 files is three allocations, not 150,000 strings; loading parses
//! the file in one pass, and freeing it is immediate. Slots loaded from a
//! file written by [`StatCache::save`] (or its binary mirror) are in key
//! order: after a clean walk they are the manifest, with no sort. The
//! walker probes the index once per file it stats.
//!
//! # Reuse within a process
//!
//! [`StatCache::keep`] parks a clean cache in a process-wide slot (one
//! cache) with the identity of its file (device, inode, size, mtime, ctime);
//! [`StatCache::load_reusing`] takes it back instead of reading the file
//! while the file still has that identity (libgit2 reuses an index it read
//! by the same "file stamp" rule). Saves replace the file by rename, so
//! every save by any process changes the identity; so does any write in
//! place (ctime). The walker keeps and reuses; [`StatCache::load`] always
//! reads the file.
//!
//! # Threads
//!
//! A [`StatCache`] is a plain value (`Send + Sync`); concurrent loads and
//! saves of one file by separate instances are safe: every save writes its
//! own temp file (`.muse/cache/.stat_cache_<random>.tmp`, locked against the
//! GC) and renames it over the cache file, so the last rename wins and no
//! temp is left behind.

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasher;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::atomic::{create_locked_temp, MODE_MUTABLE, STAT_CACHE_TMP_PREFIX, STAT_CACHE_TMP_SUFFIX};
use crate::error::{Error, IoContext, Result};
use crate::ids::{blob_digest_reader, digest_from_hex, digest_from_id, id_from_digest, write_id, Digest, HEX_LEN, ID_LEN};
use crate::paths::{cache_dir, muse_dir, stat_cache_path, validate_rel_path};

/// The on-disk format version written by [`StatCache::save`] (the `"version"`
/// field). A file with another version is discarded on load.
pub const CACHE_VERSION: u32 = 3;

/// Default size guard of [`StatCache::load`], in bytes (256 MiB): a larger
/// cache file is discarded unread. A file of exactly the limit is accepted.
pub const MAX_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// Safety margin, in nanoseconds (3 s), of the wall-clock racy rule used by
/// [`StatCache::get_object_hash`] and [`StatCache::get_cached`]: an entry
/// hashed at wall time `t` is racy while its `mtime_ns >= t - RACY_MARGIN_NS`.
pub const RACY_MARGIN_NS: i64 = 3_000_000_000;

/// Tolerance of [`StatCache::get_cached`] on mtimes, in nanoseconds: callers
/// that hold a float mtime (seconds, as Python's `st_mtime`) lose
/// sub-microsecond precision, so mtimes there match when they differ by
/// less than 1 µs.
pub const FLOAT_MTIME_TOLERANCE_NS: i64 = 1_000;

/// One cache entry: the stat of a file when it was hashed, and its blob ID.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FileCacheEntry {
    /// Inode number (`st_ino`).
    pub ino: u64,
    /// Size in bytes (`st_size`).
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch
    /// (`st_mtime * 10^9 + st_mtime_nsec`).
    pub mtime_ns: i64,
    /// Blob ID of the content (`"sha256:"` + 64 hex digits).
    pub object_hash: String,
}

impl Serialize for FileCacheEntry {
    /// The on-disk shape: `{"ino", "size", "mtime" (float seconds),
    /// "mtime_ns", "object_hash"}`.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("FileCacheEntry", 5)?;
        st.serialize_field("ino", &self.ino)?;
        st.serialize_field("size", &self.size)?;
        st.serialize_field("mtime", &(self.mtime_ns as f64 / 1e9))?;
        st.serialize_field("mtime_ns", &self.mtime_ns)?;
        st.serialize_field("object_hash", &self.object_hash)?;
        st.end()
    }
}

/// What [`StatCache::load`] found. Every outcome but `Loaded` comes with an
/// empty cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadStatus {
    /// No cache file (or no `.muse/cache/`).
    Absent,
    /// The file was read and all its entries are in the cache.
    Loaded,
    /// The file is `size` bytes, over `limit`; it was not read.
    TooLarge {
        /// Size of the cache file in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file's `"version"` is not [`CACHE_VERSION`].
    WrongVersion(u64),
    /// The file is not a valid version-3 cache (bad JSON, wrong shape,
    /// invalid blob ID) or could not be read; the message says which.
    Corrupt(String),
}

/// The stat of a file as the cache compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
}

impl Stat {
    pub(crate) fn of(md: &Metadata) -> Stat {
        Stat { ino: md.ino(), size: md.size(), mtime_ns: mtime_ns(md) }
    }

    fn matches(&self, e: &Slot, tol_ns: i64) -> bool {
        self.ino == e.ino && self.size == e.size && self.mtime_ns.abs_diff(e.mtime_ns) <= tol_ns as u64
    }
}

/// `st_mtime` of `md` in nanoseconds since the epoch (saturating).
pub(crate) fn mtime_ns(md: &Metadata) -> i64 {
    md.mtime().saturating_mul(1_000_000_000).saturating_add(md.mtime_nsec())
}

/// Wall-clock time in nanoseconds since the epoch.
fn wall_now_ns() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

fn system_time(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// Identity of a cache file: what changes whenever its content may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl FileStamp {
    fn of(md: &Metadata) -> FileStamp {
        let ctime_ns = md.ctime().saturating_mul(1_000_000_000).saturating_add(md.ctime_nsec());
        FileStamp { dev: md.dev(), ino: md.ino(), size: md.size(), mtime_ns: mtime_ns(md), ctime_ns }
    }
}

/// The cache [`StatCache::keep`] last kept (one per process).
static KEPT: Mutex<Option<StatCache>> = Mutex::new(None);

/// Outcome of a lookup by the walker.
pub(crate) enum Lookup<'a> {
    /// Trusted hit: the cached blob ID's digest.
    Hit(&'a Digest),
    /// Stat matches but the entry is racy, or stat differs, or no entry:
    /// the file must be read.
    Read,
}

/// The stat cache of one working tree. See the module docs for validity and
/// the racy-timestamp rule.
#[derive(Debug)]
pub struct StatCache {
    /// Working-tree root (the directory holding `.muse/`).
    root: PathBuf,
    entries: Table,
    /// Keys of entries that are racily clean (usually empty or tiny).
    racy: HashSet<String>,
    dirty: bool,
    /// The cache file this cache was loaded from or last saved to, while
    /// the two are known to hold the same entries.
    stamp: Option<FileStamp>,
}

impl StatCache {
    /// An empty, clean cache for the working tree at `root`.
    pub fn empty(root: &Path) -> StatCache {
        StatCache { root: root.to_path_buf(), entries: Table::default(), racy: HashSet::new(), dirty: false, stamp: None }
    }

    /// Loads `paths::stat_cache_path(root)` (`root` is the working-tree
    /// root). Never fails: any outcome but [`LoadStatus::Loaded`] gives an
    /// empty, clean cache and is logged (`log::error!` on target
    /// `muse.core.stat_cache` for `TooLarge`, `log::warn!` for
    /// `WrongVersion` and `Corrupt`, `log::debug!` for `Absent`).
    ///
    /// A file larger than `max_bytes` is rejected from its metadata, without
    /// reading it; a file of exactly `max_bytes` is accepted. I/O errors
    /// other than "not found" are reported as `Corrupt` with the message.
    pub fn load(root: &Path, max_bytes: u64) -> (StatCache, LoadStatus) {
        let path = stat_cache_path(root);
        let mut cache = StatCache::empty(root);
        let status = match read_cache_file(&path, max_bytes) {
            Ok((entries, stamp)) => {
                cache.entries = entries;
                cache.stamp = Some(stamp);
                cache.racy = cache.racy_as_loaded(stamp.mtime_ns);
                LoadStatus::Loaded
            }
            Err(status) => status,
        };
        match &status {
            LoadStatus::Loaded => {}
            LoadStatus::Absent => log::debug!("no stat cache at {}", path.display()),
            // The highest level the `log` crate has, on the logger the
            // Python package uses for this (pyo3-log maps the target):
            // a cache that large means something is badly wrong.
            LoadStatus::TooLarge { size, limit } => log::error!(
                target: "muse.core.stat_cache",
                "stat cache {} is {size} bytes, over the limit of {limit} bytes: discarded unread",
                path.display()
            ),
            LoadStatus::WrongVersion(v) => {
                log::warn!("stat cache {} has version {v}, expected {CACHE_VERSION}: discarded", path.display())
            }
            LoadStatus::Corrupt(why) => log::warn!("stat cache {} is corrupt ({why}): discarded", path.display()),
        }
        (cache, status)
    }

    /// Like [`load`](Self::load), but first looks at the cache this process
    /// last handed to [`keep`](Self::keep): when it belongs to `root` and
    /// the cache file still has the same identity (device, inode, size,
    /// mtime and ctime: libgit2's "file stamp" rule for reusing an index it
    /// read before), that cache is taken without reading the file. Any
    /// change to the file (a rewrite by another process, a rename over it,
    /// `touch`, a corrupt or foreign-version file written in its place)
    /// changes its ctime at least, so the file is loaded again.
    pub fn load_reusing(root: &Path, max_bytes: u64) -> (StatCache, LoadStatus) {
        let path = stat_cache_path(root);
        if let Ok(md) = std::fs::symlink_metadata(&path) {
            let now = FileStamp::of(&md);
            let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
            if kept.as_ref().is_some_and(|c| c.root == root && c.stamp == Some(now) && now.size <= max_bytes) {
                if let Some(c) = kept.take() {
                    return (c, LoadStatus::Loaded);
                }
            }
        }
        StatCache::load(root, max_bytes)
    }

    /// Drops the process-wide kept cache when it belongs to `root` (the
    /// next walk loads the file again).
    pub fn forget(root: &Path) {
        let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
        if kept.as_ref().is_some_and(|c| c.root == root) {
            kept.take();
        }
    }

    /// Hands this cache to the process-wide slot read by
    /// [`load_reusing`](Self::load_reusing) (one cache per process; the
    /// previous one is dropped). Only a cache that is clean and known to
    /// equal its file is kept; its racy set is recomputed as a load of that
    /// file would compute it.
    pub fn keep(mut self) {
        let Some(stamp) = self.stamp.filter(|_| !self.dirty) else { return };
        self.entries.sort();
        self.racy = self.racy_as_loaded(stamp.mtime_ns);
        let old = KEPT.lock().unwrap_or_else(|p| p.into_inner()).replace(self);
        drop(old);
    }

    /// The keys a load would mark racy for a file of mtime `file_mtime_ns`.
    fn racy_as_loaded(&self, file_mtime_ns: i64) -> HashSet<String> {
        self.entries.iter().filter(|(_, e)| e.mtime_ns >= file_mtime_ns).map(|(k, _)| k.to_owned()).collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// The entry of `rel` (a POSIX path relative to the working-tree root),
    /// if any. The entry is built on the fly (entries are stored compactly).
    pub fn get(&self, rel: &str) -> Option<FileCacheEntry> {
        self.entries.get(rel).map(Slot::entry)
    }

    /// Whether `rel` has an entry.
    pub fn contains(&self, rel: &str) -> bool {
        self.entries.get(rel).is_some()
    }

    /// Every `(key, entry)`, in no particular order (entries are built on
    /// the fly).
    pub fn iter(&self) -> impl Iterator<Item = (&str, FileCacheEntry)> + '_ {
        self.entries.iter().map(|(k, e)| (k, e.entry()))
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Whether the cache changed since it was loaded or saved (a miss was
    /// recorded or an entry pruned).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether this cache was loaded from its file (or saved to it) and the
    /// file still held what it was loaded from at the time: there is a file
    /// on disk that a later walk can start from.
    pub(crate) fn has_file(&self) -> bool {
        self.stamp.is_some()
    }

    /// Overrides the dirty flag. (A cache marked clean this way is no
    /// longer known to equal its file: [`keep`](Self::keep) ignores it.)
    pub fn set_dirty(&mut self, dirty: bool) {
        if !dirty && self.dirty {
            self.stamp = None;
        }
        self.dirty = dirty;
    }

    /// The blob ID of the regular file `abs_path`, keyed by its path relative
    /// to `root` (`/`-separated).
    ///
    /// `lstat`s the file; on a trusted hit (exact `(ino, size, mtime_ns)`,
    /// not racy) returns the cached ID without reading. Otherwise streams the
    /// file through [`blob_id_reader`](crate::ids::blob_id_reader) (opened with `O_NOFOLLOW | O_NONBLOCK`
    /// and checked to be regular with `fstat`, whose stat is recorded),
    /// records the entry and marks the cache dirty, unless the entry was
    /// merely racy and the file turned out unchanged.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] when `abs_path` is not under `root`, not valid
    /// UTF-8, not a clean relative path (see [`validate_rel_path`]) or not a
    /// regular file (symlink, directory, FIFO, …); [`Error::Io`] naming the
    /// path for a failed `lstat`, `open` or `read` (including "not found").
    pub fn get_object_hash(&mut self, root: &Path, abs_path: &Path) -> Result<String> {
        let rel = rel_key(root, abs_path)?;
        let md = std::fs::symlink_metadata(abs_path).ctx("stat", abs_path)?;
        if !md.is_file() {
            return Err(not_regular(abs_path));
        }
        if let Lookup::Hit(h) = self.lookup(&rel, &Stat::of(&md), 0) {
            return Ok(id_from_digest(h));
        }
        let stamp = wall_now_ns().saturating_sub(RACY_MARGIN_NS);
        let (digest, stat) = hash_file(abs_path)?;
        self.apply(&rel, stat, &digest, stamp, 0);
        Ok(id_from_digest(&digest))
    }

    /// Like [`get_object_hash`](Self::get_object_hash) with a
    /// caller-supplied stat: `rel` is the key (a clean POSIX relative path),
    /// `abs_path` the file to read on a miss, `mtime_ns`, `size`, `ino` the
    /// file's stat. The caller's stat (not the file's) is what is compared
    /// and recorded.
    ///
    /// mtimes match when they differ by less than
    /// [`FLOAT_MTIME_TOLERANCE_NS`] (1 µs), since callers holding float
    /// seconds cannot give exact nanoseconds; `ino` and `size` must be equal.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for a bad `rel` or when `abs_path` is not a
    /// regular file; [`Error::Io`] naming `abs_path` when it cannot be read.
    pub fn get_cached(&mut self, rel: &str, abs_path: &Path, mtime_ns: i64, size: u64, ino: u64) -> Result<String> {
        validate_rel_path(rel)?;
        let stat = Stat { ino, size, mtime_ns };
        let tol = FLOAT_MTIME_TOLERANCE_NS - 1;
        if let Lookup::Hit(h) = self.lookup(rel, &stat, tol) {
            return Ok(id_from_digest(h));
        }
        let stamp = wall_now_ns().saturating_sub(RACY_MARGIN_NS);
        let (digest, _) = hash_file(abs_path)?;
        self.apply(rel, stat, &digest, stamp, tol);
        Ok(id_from_digest(&digest))
    }

    /// Removes every entry whose path `keep` rejects. Returns how many were
    /// removed; marks the cache dirty when that is not zero.
    pub fn prune<F: Fn(&str) -> bool>(&mut self, keep: F) -> usize {
        self.retain(|_, k| keep(k))
    }

    fn retain<F: FnMut(usize, &str) -> bool>(&mut self, keep: F) -> usize {
        let removed = self.entries.retain(keep);
        if removed > 0 {
            self.dirty = true;
            if !self.racy.is_empty() {
                let entries = &self.entries;
                self.racy.retain(|k| entries.get(k).is_some());
            }
        }
        removed
    }

    /// Writes the cache to `paths::stat_cache_path(root)` atomically and
    /// clears the dirty flag.
    ///
    /// Creates `.muse/cache/` when missing (but never `.muse/` itself),
    /// writes a locked temp `.stat_cache_<random>.tmp` (mode 0644) in it,
    /// lowers the temp's mtime to that of the oldest racy entry when needed
    /// (see the module docs) and renames it over the cache file. No
    /// `fdatasync` (it is a cache). On every error the temp is removed and
    /// the old cache file is left as it was.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory or file (e.g. when `.muse/` does
    /// not exist, or the disk is full).
    pub fn save(&mut self) -> Result<()> {
        self.save_into(None)
    }

    // ----- crate-internal interface of the walker -------------------------

    /// Looks `rel` up for a file whose stat is `stat` (mtimes compared with
    /// tolerance `tol_ns`).
    pub(crate) fn lookup(&self, rel: &str, stat: &Stat, tol_ns: i64) -> Lookup<'_> {
        match self.entries.get(rel) {
            Some(e) if self.trusted(rel, stat, e, tol_ns) => Lookup::Hit(&e.digest),
            _ => Lookup::Read,
        }
    }

    /// Looks up one file the walk listed, as [`lookup`](Self::lookup)
    /// would: `true` for a trusted hit, whose slot is then marked in `seen`
    /// (one flag per entry, in entry order; see
    /// [`prune_unseen`](Self::prune_unseen)), `false` when the file must be
    /// read. One index probe: the walk looks its files up in the order it
    /// listed them, which is cheaper than sorting them to merge them with
    /// the entries (a clean walk never needs them in order: its manifest is
    /// then the cache's own entries, already in key order).
    pub(crate) fn lookup_seen(&self, rel: &str, stat: &Stat, tol_ns: i64, seen: &mut [bool]) -> bool {
        match self.entries.position(rel) {
            Some(i) if self.trusted(rel, stat, &self.entries.slots[i], tol_ns) => {
                if let Some(s) = seen.get_mut(i) {
                    *s = true;
                }
                true
            }
            _ => false,
        }
    }

    /// Whether entry `e` of `rel` is a trusted hit for a file with `stat`:
    /// the stat matches and the entry is not racy.
    fn trusted(&self, rel: &str, stat: &Stat, e: &Slot, tol_ns: i64) -> bool {
        stat.matches(e, tol_ns) && (self.racy.is_empty() || !self.racy.contains(rel))
    }

    /// Removes the entries that were there before a walk (index below
    /// `seen.len()`) and that the walk did not mark in `seen` (neither a
    /// trusted hit nor a file it read): the files no longer present.
    /// Entries added since (index `seen.len()` and up) stay. Returns how
    /// many went; marks the cache dirty when that is not zero.
    pub(crate) fn prune_unseen(&mut self, seen: &[bool]) -> usize {
        if seen.iter().all(|&s| s) {
            return 0;
        }
        self.retain(|i, _| seen.get(i).copied().unwrap_or(true))
    }

    /// Puts the entries in key order (a no-op when they are).
    pub(crate) fn sort_entries(&mut self) {
        self.entries.sort();
    }

    /// `(key, blob digest)` of every entry, in entry order (key order after
    /// [`sort_entries`](Self::sort_entries)).
    pub(crate) fn digests(&self) -> impl ExactSizeIterator<Item = (&str, &Digest)> + '_ {
        let t = &self.entries;
        t.slots.iter().map(move |s| (Table::key(&t.keys, s), &s.digest))
    }

    /// Makes room for `additional` more entries (one allocation instead of
    /// a doubling series when a cold walk records every file).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Records that the file `rel`, read after racy stamp `stamp`, had stat
    /// `stat` and blob digest `digest`. Marks the cache dirty unless the
    /// existing entry already said exactly that (a verified racy entry).
    ///
    /// Returns the entry's index, or `None` when it could not be recorded
    /// (the key space of 4 GiB is full: the file is read again next time).
    pub(crate) fn apply(&mut self, rel: &str, stat: Stat, digest: &Digest, stamp: i64, tol_ns: i64) -> Option<usize> {
        let at = self.entries.position(rel);
        let unchanged = at.is_some_and(|i| {
            let e = &self.entries.slots[i];
            stat.matches(e, tol_ns) && e.digest == *digest
        });
        let at = if unchanged {
            at
        } else {
            self.dirty = true;
            self.entries.insert(rel, stat, *digest)
        };
        if stat.mtime_ns >= stamp {
            if !self.racy.contains(rel) {
                self.racy.insert(rel.to_owned());
            }
        } else if !self.racy.is_empty() {
            self.racy.remove(rel);
        }
        at
    }

    /// Prepares for reading files: creates `.muse/cache/` (only when
    /// `.muse/` exists) and the temp file a later save will use, and returns
    /// it with the racy stamp = its mtime (the filesystem clock now). When
    /// that is impossible, returns no temp and the wall-clock stamp.
    pub(crate) fn read_stamp(&self) -> (Option<NamedTempFile>, i64) {
        let fallback = wall_now_ns().saturating_sub(RACY_MARGIN_NS);
        if !muse_dir(&self.root).is_dir() {
            return (None, fallback);
        }
        let made = ensure_cache_dir(&self.root).and_then(|dir| {
            let tmp = create_locked_temp(&dir, STAT_CACHE_TMP_PREFIX, STAT_CACHE_TMP_SUFFIX, MODE_MUTABLE)
                .ctx("create temp in", &dir)?;
            let md = tmp.as_file().metadata().ctx("stat", tmp.path())?;
            Ok((tmp, mtime_ns(&md)))
        });
        match made {
            Ok((tmp, stamp)) => (Some(tmp), stamp),
            Err(e) => {
                log::warn!("cannot stamp the filesystem clock for the stat cache ({e}); using the wall clock");
                (None, fallback)
            }
        }
    }

    /// [`save`](Self::save) through `tmp` when given (created by
    /// [`read_stamp`](Self::read_stamp)), else through a new temp.
    pub(crate) fn save_into(&mut self, tmp: Option<NamedTempFile>) -> Result<()> {
        let path = stat_cache_path(&self.root);
        let tmp = match tmp {
            Some(t) => t,
            None => {
                let dir = ensure_cache_dir(&self.root)?;
                create_locked_temp(&dir, STAT_CACHE_TMP_PREFIX, STAT_CACHE_TMP_SUFFIX, MODE_MUTABLE)
                    .ctx("create temp in", &dir)?
            }
        };
        {
            let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file());
            let doc = OnDiskOut { version: CACHE_VERSION, entries: SortedEntries(&self.entries) };
            serde_json::to_writer(&mut w, &doc).map_err(io::Error::from).ctx("write", tmp.path())?;
            w.flush().ctx("write", tmp.path())?;
        }
        let floor = self.racy.iter().filter_map(|k| self.entries.get(k)).map(|e| e.mtime_ns).min();
        if let Some(floor) = floor {
            let written = tmp.as_file().metadata().ctx("stat", tmp.path())?;
            if floor < mtime_ns(&written) {
                tmp.as_file().set_modified(system_time(floor)).ctx("set mtime of", tmp.path())?;
            }
        }
        let written = tmp.as_file().metadata().ctx("stat", tmp.path())?;
        tmp.persist(&path).map_err(|e| Error::io("rename into", &path, e.error))?;
        self.dirty = false;
        // The file now holds exactly these entries, if it is still ours.
        self.stamp = std::fs::symlink_metadata(&path)
            .ok()
            .map(|md| FileStamp::of(&md))
            .filter(|now| now.ino == written.ino() && now.dev == written.dev());
        if let Some(stamp) = self.stamp {
            if let Err(e) = write_mirror(&path.with_file_name(MIRROR_FILE), &self.entries, stamp) {
                log::debug!("stat cache mirror not written: {e}");
            }
        }
        Ok(())
    }
}

/// Name of the binary mirror of the cache file (in `.muse/cache/`): the
/// same entries as `stat_cache.json`, in the in-memory layout (keys back to
/// back, one 64-byte slot per entry), tagged with the identity (device,
/// inode, size, mtime, ctime) of the JSON file it mirrors. A load uses it
/// only while the JSON file still has that identity, so the JSON file stays
/// the cache of record (SPEC §5): any rewrite of it, by muse or anyone
/// else, makes the mirror stale and unused. Loading it costs a read and a
/// UTF-8 check instead of a JSON parse.
pub const MIRROR_FILE: &str = "stat_cache.bin";

/// First bytes of [`MIRROR_FILE`] (format version in the last one).
const MIRROR_MAGIC: &[u8; 8] = b"MUSESTC1";

/// Writes the mirror of `table` for the JSON file of identity `stamp`
/// (temp file in the same directory, renamed over the old mirror).
fn write_mirror(path: &Path, table: &Table, stamp: FileStamp) -> Result<()> {
    let mut sorted: Vec<(&str, &Slot)> = table.iter().collect();
    if !table.sorted {
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    let key_bytes: usize = sorted.iter().map(|(k, _)| k.len()).sum();
    let mut w = Vec::with_capacity(64 + sorted.len() * 64 + key_bytes);
    w.extend_from_slice(MIRROR_MAGIC);
    for x in [stamp.dev, stamp.ino, stamp.size, stamp.mtime_ns as u64, stamp.ctime_ns as u64] {
        w.extend_from_slice(&x.to_le_bytes());
    }
    w.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    w.extend_from_slice(&(key_bytes as u64).to_le_bytes());
    let mut off = 0u64;
    for (k, s) in &sorted {
        let (Ok(o), Ok(l)) = (u32::try_from(off), u32::try_from(k.len())) else {
            return Err(Error::InvalidInput("stat cache keys over 4 GiB".into()));
        };
        w.extend_from_slice(&o.to_le_bytes());
        w.extend_from_slice(&l.to_le_bytes());
        w.extend_from_slice(&s.ino.to_le_bytes());
        w.extend_from_slice(&s.size.to_le_bytes());
        w.extend_from_slice(&s.mtime_ns.to_le_bytes());
        w.extend_from_slice(&s.digest);
        off += k.len() as u64;
    }
    for (k, _) in &sorted {
        w.extend_from_slice(k.as_bytes());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = create_locked_temp(dir, STAT_CACHE_TMP_PREFIX, STAT_CACHE_TMP_SUFFIX, MODE_MUTABLE).ctx("create temp in", dir)?;
    tmp.write_all(&w).ctx("write", tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io("rename into", path, e.error))?;
    Ok(())
}

/// The entries of the mirror at `path` when it mirrors the JSON file of
/// identity `stamp` and is well formed (every key in bounds, on character
/// boundaries, in strictly increasing order); else `None`.
fn read_mirror(path: &Path, stamp: FileStamp, max_bytes: u64) -> Option<Table> {
    // Read straight into the table's own vectors: the slots through one
    // small reused buffer, the keys into the string they become. A whole
    // copy of the file in memory would double the pages this touches.
    let mut f = open_for_hash(path).ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file() || md.len() > max_bytes {
        return None;
    }
    let mut head = [0u8; 64];
    f.read_exact(&mut head).ok()?;
    let u64_at = |b: &[u8], i: usize| -> u64 { u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8])) };
    if head[..8] != MIRROR_MAGIC[..] {
        return None;
    }
    let want = [stamp.dev, stamp.ino, stamp.size, stamp.mtime_ns as u64, stamp.ctime_ns as u64];
    for (i, w) in want.iter().enumerate() {
        if u64_at(&head, 8 + 8 * i) != *w {
            return None;
        }
    }
    let n = usize::try_from(u64_at(&head, 48)).ok()?;
    let key_bytes = usize::try_from(u64_at(&head, 56)).ok()?;
    let total = 64usize.checked_add(n.checked_mul(64)?)?.checked_add(key_bytes)?;
    if u64::try_from(total).ok()? != md.len() {
        return None;
    }
    let mut t = Table::with_capacity(n, 0);
    let mut buf = vec![0u8; 64 * 1024.min(n.max(1))];
    let mut left = n;
    while left > 0 {
        let k = left.min(buf.len() / 64);
        f.read_exact(&mut buf[..64 * k]).ok()?;
        for r in buf[..64 * k].chunks_exact(64) {
            t.slots.push(Slot {
                off: u32::from_le_bytes(r[0..4].try_into().ok()?),
                len: u32::from_le_bytes(r[4..8].try_into().ok()?),
                ino: u64_at(r, 8),
                size: u64_at(r, 16),
                mtime_ns: u64_at(r, 24) as i64,
                digest: r[32..64].try_into().ok()?,
            });
        }
        left -= k;
    }
    drop(buf);
    let mut keys = vec![0u8; key_bytes];
    f.read_exact(&mut keys).ok()?;
    let keys = String::from_utf8(keys).ok()?;
    let mut prev: Option<&str> = None;
    for s in &t.slots {
        let key = keys.get(s.off as usize..(s.off as usize).checked_add(s.len as usize)?)?;
        if prev.is_some_and(|p| p >= key) {
            return None;
        }
        prev = Some(key);
    }
    t.keys = keys;
    t.sorted = true;
    t.rebuild_index();
    Some(t)
}

/// Creates `<root>/.muse/cache` if missing (never `.muse/` itself).
fn ensure_cache_dir(root: &Path) -> Result<PathBuf> {
    let dir = cache_dir(root);
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(Error::io("create directory", &dir, e)),
    }
}

fn not_regular(path: &Path) -> Error {
    Error::InvalidPath { path: path.to_string_lossy().chars().take(200).collect(), reason: "not a regular file" }
}

/// `abs_path` relative to `root`, `/`-separated, validated.
fn rel_key(root: &Path, abs_path: &Path) -> Result<String> {
    let shown = || abs_path.to_string_lossy().chars().take(200).collect::<String>();
    let rel = abs_path
        .strip_prefix(root)
        .map_err(|_| Error::InvalidPath { path: shown(), reason: "not under the working-tree root" })?;
    let rel = rel.to_str().ok_or_else(|| Error::InvalidPath { path: shown(), reason: "not valid UTF-8" })?;
    validate_rel_path(rel)?;
    Ok(rel.to_owned())
}

/// Opens `path` for hashing: `O_NOFOLLOW` (a symlink fails with `ELOOP`)
/// and `O_NONBLOCK` (a FIFO never blocks the open).
pub(crate) fn open_for_hash(path: &Path) -> io::Result<File> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path)
}

/// Streams the regular file `path` through [`blob_digest_reader`]; returns
/// its blob digest and its `fstat` taken before reading.
fn hash_file(path: &Path) -> Result<(Digest, Stat)> {
    let f = open_for_hash(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            not_regular(path)
        } else {
            Error::io("open", path, e)
        }
    })?;
    let md = f.metadata().ctx("stat", path)?;
    if !md.is_file() {
        return Err(not_regular(path));
    }
    let (digest, _) = blob_digest_reader(&f).ctx("read", path)?;
    Ok((digest, Stat::of(&md)))
}

// ----- in-memory table -----------------------------------------------------

/// One entry as stored: its key's place in [`Table::keys`], the stat and
/// the raw digest (no allocation per entry; 64 bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    off: u32,
    len: u32,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) digest: Digest,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

impl Slot {
    fn entry(&self) -> FileCacheEntry {
        FileCacheEntry { ino: self.ino, size: self.size, mtime_ns: self.mtime_ns, object_hash: id_from_digest(&self.digest) }
    }
}

/// The entries: keys back to back in one string, fixed-size slots in one
/// vector, and a hash index of slot numbers. Loading 75,000 entries
/// allocates three buffers instead of 150,000 strings, and freeing them is
/// as cheap.
struct Table {
    keys: String,
    slots: Vec<Slot>,
    index: HashTable<u32>,
    state: foldhash::fast::RandomState,
    /// Whether `slots` are in strictly increasing key order (as a file
    /// written by `save` is loaded); the walker's manifest is the entries
    /// in this order.
    sorted: bool,
}

impl Default for Table {
    fn default() -> Table {
        Table::with_capacity(0, 0)
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("len", &self.slots.len()).finish()
    }
}

impl Table {
    fn with_capacity(entries: usize, key_bytes: usize) -> Table {
        Table {
            keys: String::with_capacity(key_bytes),
            slots: Vec::with_capacity(entries),
            index: HashTable::with_capacity(entries),
            state: foldhash::fast::RandomState::default(),
            sorted: true,
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        let Table { keys, slots, index, state, .. } = self;
        index.reserve(additional, Self::rehash(keys, slots, state));
    }

    /// The index's hasher of a slot number (for its growth and rebuilds).
    fn rehash<'a>(keys: &'a str, slots: &'a [Slot], state: &'a foldhash::fast::RandomState) -> impl Fn(&u32) -> u64 + 'a {
        move |&j| state.hash_one(Self::key(keys, &slots[j as usize]))
    }

    /// Rebuilds the index from `slots` (after they were reordered or
    /// filtered in place).
    fn rebuild_index(&mut self) {
        let Table { keys, slots, index, state, .. } = self;
        index.clear();
        for (i, s) in slots.iter().enumerate() {
            index.insert_unique(state.hash_one(Self::key(keys, s)), i as u32, Self::rehash(keys, slots, state));
        }
    }

    fn key<'a>(keys: &'a str, s: &Slot) -> &'a str {
        &keys[s.off as usize..s.off as usize + s.len as usize]
    }

    fn position(&self, rel: &str) -> Option<usize> {
        let h = self.state.hash_one(rel);
        self.index.find(h, |&i| Self::key(&self.keys, &self.slots[i as usize]) == rel).map(|&i| i as usize)
    }

    fn get(&self, rel: &str) -> Option<&Slot> {
        self.position(rel).map(|i| &self.slots[i])
    }

    /// Inserts or replaces the entry of `rel`; returns its index, or
    /// `None` when it could not be recorded.
    fn insert(&mut self, rel: &str, stat: Stat, digest: Digest) -> Option<usize> {
        if let Some(i) = self.position(rel) {
            let s = &mut self.slots[i];
            (s.ino, s.size, s.mtime_ns, s.digest) = (stat.ino, stat.size, stat.mtime_ns, digest);
            return Some(i);
        }
        // Keys live in 4 GiB at most: past that an entry is not recorded
        // (its file is simply read again next time).
        let (Ok(len), Ok(off)) = (u32::try_from(rel.len()), u32::try_from(self.keys.len())) else { return None };
        let Ok(i) = u32::try_from(self.slots.len()) else { return None };
        off.checked_add(len)?;
        if let Some(last) = self.slots.last() {
            self.sorted &= Self::key(&self.keys, last) < rel;
        }
        self.keys.push_str(rel);
        self.slots.push(Slot { off, len, ino: stat.ino, size: stat.size, mtime_ns: stat.mtime_ns, digest });
        let Table { keys, slots, index, state, .. } = self;
        index.insert_unique(state.hash_one(rel), i, Self::rehash(keys, slots, state));
        Some(i as usize)
    }

    /// Keeps the entries that `keep(index, key)` accepts (in place, order kept;
    /// the keys of the others stay in `keys` unused until the next load);
    /// returns how many went.
    fn retain<F: FnMut(usize, &str) -> bool>(&mut self, mut keep: F) -> usize {
        let before = self.slots.len();
        let keys = &self.keys;
        let mut i = 0;
        // `Vec::retain` visits each element once, in order.
        self.slots.retain(|s| {
            i += 1;
            keep(i - 1, Self::key(keys, s))
        });
        let removed = before - self.slots.len();
        if removed > 0 {
            self.rebuild_index();
        }
        removed
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Slot)> + '_ {
        self.slots.iter().map(|s| (Self::key(&self.keys, s), s))
    }

    /// Puts the slots in key order, when they are not (in place: the keys
    /// stay where they are in `keys`; the index is rebuilt).
    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        let keys = &self.keys;
        self.slots.sort_unstable_by(|a, b| Self::key(keys, a).cmp(Self::key(keys, b)));
        self.rebuild_index();
        self.sorted = true;
    }
}

// ----- on-disk format ------------------------------------------------------

#[derive(Serialize)]
struct OnDiskOut<'a> {
    version: u32,
    entries: SortedEntries<'a>,
}

/// The entries serialized as a map in key order: the file is deterministic,
/// and a load stores the entries of one directory next to each other,
/// which the walker then looks up together.
struct SortedEntries<'a>(&'a Table);

impl Serialize for SortedEntries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut sorted: Vec<(&str, &Slot)> = self.0.iter().collect();
        if !self.0.sorted {
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        s.collect_map(sorted.into_iter().map(|(k, e)| (k, SlotOut(e))))
    }
}

/// A slot in the on-disk shape of [`FileCacheEntry`].
struct SlotOut<'a>(&'a Slot);

impl Serialize for SlotOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let e = self.0;
        let mut buf = [0u8; ID_LEN];
        let mut st = s.serialize_struct("FileCacheEntry", 5)?;
        st.serialize_field("ino", &e.ino)?;
        st.serialize_field("size", &e.size)?;
        st.serialize_field("mtime", &(e.mtime_ns as f64 / 1e9))?;
        st.serialize_field("mtime_ns", &e.mtime_ns)?;
        st.serialize_field("object_hash", write_id(&e.digest, &mut buf))?;
        st.end()
    }
}

/// The top level, parsed so that a foreign version is recognised without
/// parsing its entries (when `"version"` comes first, as we write it).
struct OnDiskIn {
    version: Option<u64>,
    entries: Option<Table>,
}

struct TopSeed {
    capacity: usize,
}

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = OnDiskIn;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<OnDiskIn, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = OnDiskIn;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stat cache object {\"version\": 3, \"entries\": {...}}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<OnDiskIn, A::Error> {
        let mut out = OnDiskIn { version: None, entries: None };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => out.version = Some(map.next_value()?),
                "entries" if out.version.is_some_and(|v| v != u64::from(CACHE_VERSION)) => {
                    map.next_value::<IgnoredAny>()?;
                }
                "entries" => out.entries = Some(map.next_value_seed(EntriesSeed { capacity: self.capacity })?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct EntriesSeed {
    capacity: usize,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed {
    type Value = Table;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed {
    type Value = Table;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of path to entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Table::with_capacity(self.capacity, self.capacity * 32);
        while let Some((k, v)) = map.next_entry::<String, FileCacheEntry>()? {
            let Some(digest) = digest_from_id(&v.object_hash) else {
                return Err(serde::de::Error::custom(format!("entry {k:?} has an invalid object_hash")));
            };
            out.insert(&k, Stat { ino: v.ino, size: v.size, mtime_ns: v.mtime_ns }, digest);
        }
        Ok(out)
    }
}

/// Reads and parses the cache file: its entries and its mtime (ns), or the
/// non-`Loaded` status.
fn read_cache_file(
    path: &Path,
    max_bytes: u64,
) -> std::result::Result<(Table, FileStamp), LoadStatus> {
    // The size guard comes from the metadata, before the file is opened.
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadStatus::Absent),
        Err(e) => return Err(LoadStatus::Corrupt(format!("stat: {e}"))),
    };
    if md.is_file() && md.len() > max_bytes {
        return Err(LoadStatus::TooLarge { size: md.len(), limit: max_bytes });
    }
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadStatus::Absent),
        Err(e) => return Err(LoadStatus::Corrupt(format!("open: {e}"))),
    };
    // The file may have been replaced since: what counts is the one opened.
    let md = f.metadata().map_err(|e| LoadStatus::Corrupt(format!("stat: {e}")))?;
    if !md.is_file() {
        return Err(LoadStatus::Corrupt("not a regular file".into()));
    }
    if md.len() > max_bytes {
        return Err(LoadStatus::TooLarge { size: md.len(), limit: max_bytes });
    }
    // The binary mirror, while it mirrors this very file.
    if let Some(t) = read_mirror(&path.with_file_name(MIRROR_FILE), FileStamp::of(&md), max_bytes) {
        return Ok((t, FileStamp::of(&md)));
    }
    let mut bytes = Vec::with_capacity(md.len() as usize + 1);
    f.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| LoadStatus::Corrupt(format!("read: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        // It grew between fstat and read.
        return Err(LoadStatus::TooLarge { size: bytes.len() as u64, limit: max_bytes });
    }
    // ~190 bytes per entry on disk.
    let capacity = bytes.len() / 160;
    if let Some(entries) = parse_canonical(&bytes, capacity) {
        return Ok((entries, FileStamp::of(&md)));
    }
    let seed = TopSeed { capacity };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let doc =
        seed.deserialize(&mut de).and_then(|d| de.end().map(|()| d)).map_err(|e| LoadStatus::Corrupt(e.to_string()))?;
    let version = doc.version.ok_or_else(|| LoadStatus::Corrupt("no \"version\" field".into()))?;
    if version != u64::from(CACHE_VERSION) {
        return Err(LoadStatus::WrongVersion(version));
    }
    let entries = doc.entries.ok_or_else(|| LoadStatus::Corrupt("no \"entries\" field".into()))?;
    Ok((entries, FileStamp::of(&md)))
}

/// Fast path of the loader: parses exactly the compact shape
/// [`StatCache::save`] writes (`{"version":3,"entries":{"k":{"ino":…,
/// "size":…,"mtime":…,"mtime_ns":…,"object_hash":"…"},…}}`, no whitespace,
/// fields in that order, keys without escapes) about three times faster than
/// the general deserializer. Returns `None` on any deviation, and the
/// general (serde) path then decides; on input it accepts, both agree.
fn parse_canonical(b: &[u8], capacity: usize) -> Option<Table> {
    let mut p = Scan { b, i: 0 };
    p.lit(b"{\"version\":3,\"entries\":{")?;
    let mut out = Table::with_capacity(capacity, capacity * 32);
    if p.peek()? == b'}' {
        p.i += 1;
    } else {
        loop {
            let key = p.plain_string()?;
            p.lit(b":{\"ino\":")?;
            let ino = p.uint()?;
            p.lit(b",\"size\":")?;
            let size = p.uint()?;
            p.lit(b",\"mtime\":")?;
            p.number()?;
            p.lit(b",\"mtime_ns\":")?;
            let mtime_ns = p.int()?;
            p.lit(b",\"object_hash\":")?;
            p.lit(b"\"sha256:")?;
            let digest = digest_from_hex(p.b.get(p.i..p.i + HEX_LEN)?.try_into().ok()?)?;
            p.i += HEX_LEN;
            p.lit(b"\"}")?;
            out.insert(key, Stat { ino, size, mtime_ns }, digest);
            match p.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    p.lit(b"}")?;
    (p.i == b.len()).then_some(out)
}

/// Byte cursor of [`parse_canonical`]; every method returns `None` on a
/// mismatch.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i + s.len();
        (self.b.get(self.i..end)? == s).then(|| self.i = end)
    }

    /// A JSON string without escapes or control characters, valid UTF-8.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let rest = &self.b[self.i..];
        let len = rest.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let s = std::str::from_utf8(&rest[..len]).ok()?;
        self.i += len + 1;
        Some(s)
    }

    /// JSON digits of an integer (no sign): `0` or a non-zero digit first.
    fn digits(&mut self) -> Option<&'a [u8]> {
        let rest = &self.b[self.i..];
        let len = rest.iter().position(|c| !c.is_ascii_digit()).unwrap_or(rest.len());
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        self.i += len;
        Some(&rest[..len])
    }

    fn uint(&mut self) -> Option<u64> {
        self.digits()?.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
    }

    fn int(&mut self) -> Option<i64> {
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let mag = self.uint()?;
        if neg {
            0i64.checked_sub_unsigned(mag)
        } else {
            i64::try_from(mag).ok()
        }
    }

    /// Skips a JSON number: `-?int(.digits)?([eE][+-]?digits)?`.
    fn number(&mut self) -> Option<()> {
        if self.peek()? == b'-' {
            self.i += 1;
        }
        self.digits()?;
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.frac_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.frac_digits()?;
        }
        Some(())
    }

    /// One or more digits (leading zeros allowed).
    fn frac_digits(&mut self) -> Option<()> {
        let rest = &self.b[self.i..];
        let len = rest.iter().position(|c| !c.is_ascii_digit()).unwrap_or(rest.len());
        (len > 0).then(|| self.i += len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    type Map = BTreeMap<String, FileCacheEntry>;

    fn as_map(t: &Table) -> Map {
        t.iter().map(|(k, e)| (k.to_owned(), e.entry())).collect()
    }

    fn table_of(m: &Map) -> Table {
        let mut t = Table::default();
        for (k, e) in m {
            let st = Stat { ino: e.ino, size: e.size, mtime_ns: e.mtime_ns };
            t.insert(k, st, digest_from_id(&e.object_hash).unwrap());
        }
        t
    }

    fn canonical(b: &[u8]) -> Option<Map> {
        parse_canonical(b, 0).map(|t| as_map(&t))
    }

    #[test]
    fn the_binary_mirror_is_used_only_while_it_mirrors_the_json_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".muse/cache")).unwrap();
        let mut m = Map::new();
        for (i, k) in ["a.txt", "dir/é.txt", "z"].iter().enumerate() {
            let id = crate::ids::blob_id(k.as_bytes());
            m.insert(k.to_string(), FileCacheEntry { ino: i as u64 + 7, size: 3, mtime_ns: 1_000_000_000 * (i as i64 + 1), object_hash: id });
        }
        let mut c = StatCache::empty(root);
        c.entries = table_of(&m);
        c.dirty = true;
        c.save().unwrap();
        let mirror = stat_cache_path(root).with_file_name(MIRROR_FILE);
        assert!(mirror.is_file());
        let md = std::fs::metadata(stat_cache_path(root)).unwrap();
        let t = read_mirror(&mirror, FileStamp::of(&md), u64::MAX).expect("mirrors the file");
        assert_eq!(as_map(&t), m);
        assert_eq!(as_map(&StatCache::load(root, u64::MAX).0.entries), m);
        // The JSON file rewritten by someone else (same bytes, even): the
        // mirror no longer mirrors it and the JSON is what loads.
        let json = std::fs::read(stat_cache_path(root)).unwrap();
        let mut other = json.clone();
        let at = other.windows(5).position(|w| w == b"a.txt").unwrap();
        other[at] = b'b';
        std::fs::write(stat_cache_path(root), &other).unwrap();
        let md2 = std::fs::metadata(stat_cache_path(root)).unwrap();
        assert!(read_mirror(&mirror, FileStamp::of(&md2), u64::MAX).is_none());
        let loaded = as_map(&StatCache::load(root, u64::MAX).0.entries);
        assert!(loaded.contains_key("b.txt") && !loaded.contains_key("a.txt"));
        // A damaged mirror is never used, whatever its stamp says.
        c.dirty = true;
        c.save().unwrap();
        let md3 = std::fs::metadata(stat_cache_path(root)).unwrap();
        let good = std::fs::read(&mirror).unwrap();
        for cut in [0, 8, 63, 64, good.len() - 1] {
            std::fs::write(&mirror, &good[..cut]).unwrap();
            assert!(read_mirror(&mirror, FileStamp::of(&md3), u64::MAX).is_none(), "cut at {cut}");
        }
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 1] = 0xff; // not UTF-8
        std::fs::write(&mirror, &bad).unwrap();
        assert!(read_mirror(&mirror, FileStamp::of(&md3), u64::MAX).is_none());
        let mut bad = good.clone();
        bad[64] = 200; // a key offset out of bounds
        std::fs::write(&mirror, &bad).unwrap();
        assert!(read_mirror(&mirror, FileStamp::of(&md3), u64::MAX).is_none());
        std::fs::write(&mirror, &good).unwrap();
        assert!(read_mirror(&mirror, FileStamp::of(&md3), u64::MAX).is_some());
    }

    fn serde_parse(b: &[u8]) -> Option<Map> {
        let mut de = serde_json::Deserializer::from_slice(b);
        let doc = TopSeed { capacity: 0 }.deserialize(&mut de).ok()?;
        de.end().ok()?;
        (doc.version? == 3).then_some(())?;
        doc.entries.map(|t| as_map(&t))
    }

    fn to_json(m: &Map) -> Vec<u8> {
        serde_json::to_vec(&OnDiskOut { version: CACHE_VERSION, entries: SortedEntries(&table_of(m)) }).unwrap()
    }

    #[test]
    fn table_inserts_replaces_and_retains() {
        let mut t = Table::default();
        let st = |n| Stat { ino: n, size: n, mtime_ns: n as i64 };
        for i in 0..1000u64 {
            t.insert(&format!("d/{i}"), st(i), [i as u8; 32]);
        }
        t.insert("d/7", st(70), [1; 32]);
        assert_eq!(t.len(), 1000);
        assert_eq!(t.get("d/7").map(|s| (s.ino, s.digest)), Some((70, [1; 32])));
        assert!(t.get("d/1000").is_none() && t.get("d/").is_none());
        assert_eq!(t.retain(|_, k| k.ends_with('7')), 900);
        assert_eq!(t.len(), 100);
        assert_eq!(t.get("d/17").map(|s| s.ino), Some(17));
        assert!(t.get("d/18").is_none());
        // "d/1000" < "d/117"... inserted in numeric order: not key order.
        assert!(!t.sorted);
        t.sort();
        assert!(t.sorted && t.len() == 100);
        let keys: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(t.get("d/997").map(|s| s.ino), Some(997));
    }

    #[test]
    fn sorted_lookup_agrees_with_probes() {
        let st = |n: u64| Stat { ino: n, size: n, mtime_ns: n as i64 };
        for sorted in [true, false] {
            let mut c = StatCache::empty(Path::new("/nonexistent"));
            let mut keys: Vec<String> = (0..200u64).map(|i| format!("k{i:03}")).collect();
            if !sorted {
                keys.reverse();
            }
            for k in &keys {
                let n: u64 = k[1..].parse().unwrap();
                if !n.is_multiple_of(3) {
                    c.entries.insert(k, st(n), [n as u8; 32]);
                }
            }
            assert_eq!(c.entries.sorted, sorted);
            c.racy.insert("k005".into());
            // Files: every key, plus some the cache lacks; stat differs for n % 7 == 0.
            let mut files: Vec<(String, Stat)> = (0..210u64)
                .map(|n| (format!("k{n:03}"), if n % 7 == 0 { st(n + 1) } else { st(n) }))
                .collect();
            files.push(("a".into(), st(1)));
            files.push(("z".into(), st(1)));
            files.sort_by(|a, b| a.0.cmp(&b.0));
            let mut seen = vec![false; c.len()];
            let mut shuffled = files.clone();
            shuffled.reverse();
            let mut misses: Vec<String> =
                shuffled.into_iter().filter(|(k, st)| !c.lookup_seen(k, st, 0, &mut seen)).map(|(k, _)| k).collect();
            misses.sort();
            let mut want_hits = vec![];
            let mut want_misses = vec![];
            for (rel, stat) in files {
                match c.lookup(&rel, &stat, 0) {
                    Lookup::Hit(d) => want_hits.push((rel, *d)),
                    Lookup::Read => want_misses.push(rel),
                }
            }
            // `seen` marks exactly the entries of the hits.
            let mut hits: Vec<(String, Digest)> =
                c.digests().zip(&seen).filter(|(_, s)| **s).map(|((k, d), _)| (k.to_owned(), *d)).collect();
            hits.sort();
            assert_eq!(hits, want_hits);
            assert_eq!(misses, want_misses);
            assert!(!hits.iter().any(|(k, _)| k == "k005" || k == "k007" || k == "k003"));
            assert_eq!(hits.len(), (0..200u64).filter(|n| n % 3 != 0 && n % 7 != 0 && *n != 5).count());
            // Pruning the unseen keeps exactly the hits, and entries added after the walk.
            c.entries.insert("zz", st(1), [0; 32]);
            assert_eq!(c.prune_unseen(&seen), 200 - 67 - hits.len());
            assert!(c.is_dirty());
            c.sort_entries();
            let left: Vec<&str> = c.digests().map(|(k, _)| k).collect();
            let mut want: Vec<&str> = hits.iter().map(|(k, _)| k.as_str()).collect();
            want.push("zz");
            assert_eq!(left, want);
        }
    }

    #[test]
    fn canonical_fast_path_agrees_with_serde() {
        let h = crate::ids::blob_id(b"x");
        let mut entries = Map::new();
        for (i, k) in ["a", "dir/b.txt", "ü/ß 1", "", "x\"q", "tab\there", "back\\slash"].iter().enumerate() {
            let mtime_ns = [0, -1, 1_700_000_000_123_456_789, i64::MIN, i64::MAX, 5, 999][i];
            entries.insert(
                k.to_string(),
                FileCacheEntry { ino: u64::MAX - i as u64, size: i as u64, mtime_ns, object_hash: h.clone() },
            );
        }
        let bytes = to_json(&entries);
        // Escaped keys make the fast path decline; serde reads them all.
        assert_eq!(canonical(&bytes), None);
        assert_eq!(serde_parse(&bytes).unwrap(), entries);
        entries.retain(|k, _| !k.contains(['"', '\t', '\\']));
        let bytes = to_json(&entries);
        assert_eq!(canonical(&bytes).unwrap(), entries);
        assert_eq!(serde_parse(&bytes).unwrap(), entries);
        let empty = to_json(&Map::new());
        assert_eq!(canonical(&empty).unwrap(), Map::new());
    }

    #[test]
    fn canonical_fast_path_declines_what_it_does_not_know() {
        let h = crate::ids::blob_id(b"x");
        let good = format!(
            r#"{{"version":3,"entries":{{"a":{{"ino":1,"size":2,"mtime":1.5e-3,"mtime_ns":-3,"object_hash":"{h}"}}}}}}"#
        );
        let e = canonical(good.as_bytes()).unwrap();
        assert_eq!(e["a"], FileCacheEntry { ino: 1, size: 2, mtime_ns: -3, object_hash: h.clone() });
        assert_eq!(serde_parse(good.as_bytes()).unwrap(), e);
        for bad in [
            good.replace("\"ino\":1", "\"ino\":01"),
            good.replace("\"ino\":1", "\"ino\":18446744073709551616"),
            good.replace("\"mtime_ns\":-3", "\"mtime_ns\":-9223372036854775809"),
            good.replace("1.5e-3", "1."),
            good.replace("1.5e-3", "1.5e"),
            good.replace(&h, "sha256:00"),
            good.replace("{\"ino\"", "{ \"ino\""),
            good.replace("\"version\":3", "\"version\":4"),
            format!("{good} "),
            good[..good.len() - 1].to_string(),
        ] {
            assert_eq!(canonical(bad.as_bytes()), None, "{bad}");
        }
        // Values at the limits are accepted like serde accepts them.
        let edge = good.replace("\"ino\":1", "\"ino\":18446744073709551615").replace("-3", "-9223372036854775808");
        assert_eq!(canonical(edge.as_bytes()), serde_parse(edge.as_bytes()));
        assert!(canonical(edge.as_bytes()).is_some());
    }
}
