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
//!   ([`crate::snapshot::walk_workdir`]) takes `S` from the filesystem clock
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
//! # Threads
//!
//! A [`StatCache`] is a plain value (`Send + Sync`); concurrent loads and
//! saves of one file by separate instances are safe: every save writes its
//! own temp file (`.muse/cache/.stat_cache_<random>.tmp`, locked against the
//! GC) and renames it over the cache file, so the last rename wins and no
//! temp is left behind.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::atomic::{create_locked_temp, MODE_MUTABLE, STAT_CACHE_TMP_PREFIX, STAT_CACHE_TMP_SUFFIX};
use crate::error::{Error, IoContext, Result};
use crate::ids::{blob_id_reader, is_valid_id};
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

    fn matches(&self, e: &FileCacheEntry, tol_ns: i64) -> bool {
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

/// Outcome of a lookup by the walker.
pub(crate) enum Lookup<'a> {
    /// Trusted hit: the cached blob ID.
    Hit(&'a str),
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
    entries: HashMap<String, FileCacheEntry>,
    /// Keys of entries that are racily clean (usually empty or tiny).
    racy: HashSet<String>,
    dirty: bool,
}

impl StatCache {
    /// An empty, clean cache for the working tree at `root`.
    pub fn empty(root: &Path) -> StatCache {
        StatCache { root: root.to_path_buf(), entries: HashMap::new(), racy: HashSet::new(), dirty: false }
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
            Ok((entries, file_mtime_ns)) => {
                cache.racy =
                    entries.iter().filter(|(_, e)| e.mtime_ns >= file_mtime_ns).map(|(k, _)| k.clone()).collect();
                cache.entries = entries;
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

    /// The entries, keyed by POSIX path relative to the working-tree root.
    pub fn entries(&self) -> &HashMap<String, FileCacheEntry> {
        &self.entries
    }

    /// Whether the cache changed since it was loaded or saved (a miss was
    /// recorded or an entry pruned).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Overrides the dirty flag.
    pub fn set_dirty(&mut self, dirty: bool) {
        self.dirty = dirty;
    }

    /// The blob ID of the regular file `abs_path`, keyed by its path relative
    /// to `root` (`/`-separated).
    ///
    /// `lstat`s the file; on a trusted hit (exact `(ino, size, mtime_ns)`,
    /// not racy) returns the cached ID without reading. Otherwise streams the
    /// file through [`blob_id_reader`] (opened with `O_NOFOLLOW | O_NONBLOCK`
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
            return Ok(h.to_owned());
        }
        let stamp = wall_now_ns().saturating_sub(RACY_MARGIN_NS);
        let (hash, stat) = hash_file(abs_path)?;
        self.apply(&rel, stat, &hash, stamp, 0);
        Ok(hash)
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
            return Ok(h.to_owned());
        }
        let stamp = wall_now_ns().saturating_sub(RACY_MARGIN_NS);
        let (hash, _) = hash_file(abs_path)?;
        self.apply(rel, stat, &hash, stamp, tol);
        Ok(hash)
    }

    /// Removes every entry whose path `keep` rejects. Returns how many were
    /// removed; marks the cache dirty when that is not zero.
    pub fn prune<F: Fn(&str) -> bool>(&mut self, keep: F) -> usize {
        let before = self.entries.len();
        self.entries.retain(|k, _| keep(k));
        let removed = before - self.entries.len();
        if removed > 0 {
            self.dirty = true;
            if !self.racy.is_empty() {
                let entries = &self.entries;
                self.racy.retain(|k| entries.contains_key(k));
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
            Some(e) if stat.matches(e, tol_ns) && (self.racy.is_empty() || !self.racy.contains(rel)) => {
                Lookup::Hit(&e.object_hash)
            }
            _ => Lookup::Read,
        }
    }

    /// Records that the file `rel`, read after racy stamp `stamp`, had stat
    /// `stat` and blob ID `hash`. Marks the cache dirty unless the existing
    /// entry already said exactly that (a verified racy entry).
    pub(crate) fn apply(&mut self, rel: &str, stat: Stat, hash: &str, stamp: i64, tol_ns: i64) {
        match self.entries.get_mut(rel) {
            Some(e) if stat.matches(e, tol_ns) && e.object_hash == hash => {}
            Some(e) => {
                *e = FileCacheEntry {
                    ino: stat.ino,
                    size: stat.size,
                    mtime_ns: stat.mtime_ns,
                    object_hash: hash.to_owned(),
                };
                self.dirty = true;
            }
            None => {
                self.entries.insert(
                    rel.to_owned(),
                    FileCacheEntry {
                        ino: stat.ino,
                        size: stat.size,
                        mtime_ns: stat.mtime_ns,
                        object_hash: hash.to_owned(),
                    },
                );
                self.dirty = true;
            }
        }
        if stat.mtime_ns >= stamp {
            if !self.racy.contains(rel) {
                self.racy.insert(rel.to_owned());
            }
        } else if !self.racy.is_empty() {
            self.racy.remove(rel);
        }
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
        tmp.persist(&path).map_err(|e| Error::io("rename into", &path, e.error))?;
        self.dirty = false;
        Ok(())
    }
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

/// Streams the regular file `path` through [`blob_id_reader`]; returns its
/// blob ID and its `fstat` taken before reading.
fn hash_file(path: &Path) -> Result<(String, Stat)> {
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
    let (hash, _) = blob_id_reader(&f).ctx("read", path)?;
    Ok((hash, Stat::of(&md)))
}

// ----- on-disk format ------------------------------------------------------

#[derive(Serialize)]
struct OnDiskOut<'a> {
    version: u32,
    entries: SortedEntries<'a>,
}

/// The entries serialized as a map in key order: the file is deterministic,
/// and a load allocates the entries of one directory next to each other,
/// which the walker then looks up together.
struct SortedEntries<'a>(&'a HashMap<String, FileCacheEntry>);

impl Serialize for SortedEntries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut sorted: Vec<(&String, &FileCacheEntry)> = self.0.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        s.collect_map(sorted)
    }
}

/// The top level, parsed so that a foreign version is recognised without
/// parsing its entries (when `"version"` comes first, as we write it).
struct OnDiskIn {
    version: Option<u64>,
    entries: Option<HashMap<String, FileCacheEntry>>,
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
    type Value = HashMap<String, FileCacheEntry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed {
    type Value = HashMap<String, FileCacheEntry>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of path to entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = HashMap::with_capacity(self.capacity);
        while let Some((k, v)) = map.next_entry::<String, FileCacheEntry>()? {
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// Reads and parses the cache file: its entries and its mtime (ns), or the
/// non-`Loaded` status.
fn read_cache_file(
    path: &Path,
    max_bytes: u64,
) -> std::result::Result<(HashMap<String, FileCacheEntry>, i64), LoadStatus> {
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
        return Ok((entries, mtime_ns(&md)));
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
    if let Some((k, _)) = entries.iter().find(|(_, e)| !is_valid_id(&e.object_hash)) {
        return Err(LoadStatus::Corrupt(format!("entry {k:?} has an invalid object_hash")));
    }
    Ok((entries, mtime_ns(&md)))
}

/// Fast path of the loader: parses exactly the compact shape
/// [`StatCache::save`] writes (`{"version":3,"entries":{"k":{"ino":…,
/// "size":…,"mtime":…,"mtime_ns":…,"object_hash":"…"},…}}`, no whitespace,
/// fields in that order, keys without escapes) about three times faster than
/// the general deserializer. Returns `None` on any deviation, and the
/// general (serde) path then decides; on input it accepts, both agree.
fn parse_canonical(b: &[u8], capacity: usize) -> Option<HashMap<String, FileCacheEntry>> {
    let mut p = Scan { b, i: 0 };
    p.lit(b"{\"version\":3,\"entries\":{")?;
    let mut out = HashMap::with_capacity(capacity);
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
            let object_hash = p.plain_string()?;
            if !is_valid_id(object_hash) {
                return None;
            }
            p.lit(b"}")?;
            out.insert(key.to_owned(), FileCacheEntry { ino, size, mtime_ns, object_hash: object_hash.to_owned() });
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

    fn serde_parse(b: &[u8]) -> Option<HashMap<String, FileCacheEntry>> {
        let mut de = serde_json::Deserializer::from_slice(b);
        let doc = TopSeed { capacity: 0 }.deserialize(&mut de).ok()?;
        de.end().ok()?;
        (doc.version? == 3).then_some(())?;
        doc.entries
    }

    #[test]
    fn canonical_fast_path_agrees_with_serde() {
        let h = crate::ids::blob_id(b"x");
        let mut entries = HashMap::new();
        for (i, k) in ["a", "dir/b.txt", "ü/ß 1", "", "x\"q", "tab\there", "back\\slash"].iter().enumerate() {
            let mtime_ns = [0, -1, 1_700_000_000_123_456_789, i64::MIN, i64::MAX, 5, 999][i];
            entries.insert(
                k.to_string(),
                FileCacheEntry { ino: u64::MAX - i as u64, size: i as u64, mtime_ns, object_hash: h.clone() },
            );
        }
        let bytes =
            serde_json::to_vec(&OnDiskOut { version: CACHE_VERSION, entries: SortedEntries(&entries) }).unwrap();
        // Escaped keys make the fast path decline; serde reads them all.
        assert_eq!(parse_canonical(&bytes, 0), None);
        assert_eq!(serde_parse(&bytes).unwrap(), entries);
        entries.retain(|k, _| !k.contains(['"', '\t', '\\']));
        let bytes =
            serde_json::to_vec(&OnDiskOut { version: CACHE_VERSION, entries: SortedEntries(&entries) }).unwrap();
        assert_eq!(parse_canonical(&bytes, 0).unwrap(), entries);
        assert_eq!(serde_parse(&bytes).unwrap(), entries);
        let empty =
            serde_json::to_vec(&OnDiskOut { version: CACHE_VERSION, entries: SortedEntries(&HashMap::new()) }).unwrap();
        assert_eq!(parse_canonical(&empty, 0).unwrap(), HashMap::new());
    }

    #[test]
    fn canonical_fast_path_declines_what_it_does_not_know() {
        let h = crate::ids::blob_id(b"x");
        let good = format!(
            r#"{{"version":3,"entries":{{"a":{{"ino":1,"size":2,"mtime":1.5e-3,"mtime_ns":-3,"object_hash":"{h}"}}}}}}"#
        );
        let e = parse_canonical(good.as_bytes(), 0).unwrap();
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
            assert_eq!(parse_canonical(bad.as_bytes(), 0), None, "{bad}");
        }
        // Values at the limits are accepted like serde accepts them.
        let edge = good.replace("\"ino\":1", "\"ino\":18446744073709551615").replace("-3", "-9223372036854775808");
        assert_eq!(parse_canonical(edge.as_bytes(), 0), serde_parse(edge.as_bytes()));
        assert!(parse_canonical(edge.as_bytes(), 0).is_some());
    }
}
