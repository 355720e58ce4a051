//! Packs: many objects and records in one file (an extension of SPEC §1).
//!
//! One file per object makes a bulk write (a bundle applied, a history
//! imported, a large tree added) cost one file creation and one rename per
//! item: on this project's reference machine that is most of the time of
//! every bulk path. A [`crate::batch::Batch`] that holds more than
//! [`PACK_MIN_ENTRIES`] items (git's `transfer.unpackLimit` idea) therefore
//! writes them into one pack file, `.muse/packs/pack-<h>.pack`, instead of
//! loose files. Loose files stay the form of every single write
//! (`write_object`, `write_commit`, …) and of small batches, and remain
//! valid forever: readers look in both.
//!
//! # Format (version 1, little-endian)
//!
//! ```text
//! header   "MUSEPACK" | u32 version = 1 | u32 0
//! data     the entries' bytes, back to back: a blob's raw bytes, a commit
//!          or snapshot record's msgpack exactly as its loose file holds it
//! index    count × 56 bytes, sorted by (kind, id), no duplicates:
//!          id [32] (the SHA-256 digest) | kind u8 (0 blob, 1 commit,
//!          2 snapshot) | 7 zero bytes | offset u64 | len u64
//! trailer  index_offset u64 | count u64 | "MUSEPEND"
//! ```
//!
//! `<h>` is the SHA-256 of the index bytes, so two packs with the same
//! entries at the same offsets have the same name. A pack is written in the
//! batch's staging directory, made durable (`fsync`), then renamed into
//! `packs/` and the directory made durable, all before any ref moves: a pack
//! is visible whole or not at all, and never changes after.
//!
//! # Trust
//!
//! Opening a pack checks its header, trailer and index (sizes, bounds, order)
//! before anything is allocated from them; an entry's bytes are verified like
//! a loose file's on every read (a blob hashes to its ID, a record to its
//! ID), so a corrupt pack yields [`Error::Corrupt`], never data. A pack that
//! fails to open is skipped by readers with a warning and reported by
//! [`crate::verify`].
//!
//! # Discovery
//!
//! Each process caches, per repository, the packs it has opened, and checks
//! on each lookup with one `stat` that `packs/` did not change (mtime and
//! inode: a pack added or removed, a repository deleted and made again at
//! the same path); when it did, the directory is listed again. A lookup that
//! misses also re-lists it when the last listing was too recent to be
//! trusted (the directory's mtime within [`RACY_LISTING`] of the listing: a
//! pack renamed in within the same filesystem timestamp tick would not
//! change it), the racy-timestamp rule of the stat cache applied to a
//! directory.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// Magic bytes that start a pack.
pub const PACK_MAGIC: &[u8; 8] = b"MUSEPACK";
/// Magic bytes that end a pack.
pub const PACK_END: &[u8; 8] = b"MUSEPEND";
/// The pack format version this build writes and reads.
pub const PACK_VERSION: u32 = 1;
/// A batch with more items than this writes a pack; with fewer, loose files.
pub const PACK_MIN_ENTRIES: usize = 100;
/// A directory listing is trusted only when the directory's mtime is at
/// least this much older than the listing (see the module docs).
pub const RACY_LISTING: Duration = Duration::from_millis(100);

const HEADER_LEN: u64 = 16;
const ENTRY_LEN: usize = 56;
const TRAILER_LEN: u64 = 24;
/// Largest index a reader accepts (entries): 64 Mi entries, 3.5 GiB.
const MAX_ENTRIES: u64 = 64 * 1024 * 1024;

pub use crate::paths::packs_dir;

/// What a pack entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum EntryKind {
    /// A blob (raw bytes).
    Object = 0,
    /// A commit record (msgpack).
    Commit = 1,
    /// A snapshot record (msgpack, full or delta).
    Snapshot = 2,
}

impl EntryKind {
    fn from_u8(b: u8) -> Option<EntryKind> {
        match b {
            0 => Some(EntryKind::Object),
            1 => Some(EntryKind::Commit),
            2 => Some(EntryKind::Snapshot),
            _ => None,
        }
    }
}

/// One index entry: where an item's bytes are in the pack file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// SHA-256 digest of the ID.
    pub digest: [u8; 32],
    /// What it is.
    pub kind: EntryKind,
    /// Byte offset of its bytes in the pack file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

impl PackEntry {
    fn key(&self) -> (EntryKind, &[u8; 32]) {
        (self.kind, &self.digest)
    }

    /// The entry's ID, `sha256:<hex>`.
    pub fn id(&self) -> String {
        crate::ids::id_from_digest(&self.digest)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.digest);
        out.push(self.kind as u8);
        out.extend_from_slice(&[0u8; 7]);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }
}

/// The digest of a valid ID (`sha256:` + 64 lowercase hex).
///
/// # Errors
/// [`Error::InvalidId`].
pub fn digest_of(id: &str) -> Result<[u8; 32]> {
    Ok(crate::ids::ObjectId::parse(id)?.0)
}

/// An open, validated pack.
#[derive(Debug)]
pub struct Pack {
    path: PathBuf,
    file: File,
    index: Vec<PackEntry>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Pack {
    /// Opens and validates the pack at `path` (header, trailer, index
    /// bounds and order; entry bytes are verified when read).
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming what is wrong; [`Error::Io`].
    pub fn open(path: &Path) -> Result<Pack> {
        let file = File::open(path).ctx("open", path)?;
        let size = file.metadata().ctx("stat", path)?.len();
        let bad = |d: String| Error::corrupt("pack", path, d);
        if size < HEADER_LEN + TRAILER_LEN {
            return Err(bad(format!("{size} bytes is too short for a pack")));
        }
        let mut head = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut head, 0).ctx("read", path)?;
        if &head[..8] != PACK_MAGIC {
            return Err(bad("no MUSEPACK header".into()));
        }
        let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        if version != PACK_VERSION {
            return Err(bad(format!("pack version {version}; this build reads version {PACK_VERSION}")));
        }
        let mut trailer = [0u8; TRAILER_LEN as usize];
        file.read_exact_at(&mut trailer, size - TRAILER_LEN).ctx("read", path)?;
        if &trailer[16..] != PACK_END {
            return Err(bad("no MUSEPEND trailer (truncated?)".into()));
        }
        let index_offset = u64_at(&trailer, 0);
        let count = u64_at(&trailer, 8);
        if count > MAX_ENTRIES {
            return Err(bad(format!("declares {count} entries, over the limit of {MAX_ENTRIES}")));
        }
        if index_offset < HEADER_LEN || index_offset.checked_add(count * ENTRY_LEN as u64 + TRAILER_LEN) != Some(size) {
            return Err(bad(format!("index of {count} entries at {index_offset} does not fit a {size}-byte file")));
        }
        let mut raw = vec![0u8; count as usize * ENTRY_LEN];
        file.read_exact_at(&mut raw, index_offset).ctx("read", path)?;
        let mut index = Vec::with_capacity(count as usize);
        for (i, e) in raw.chunks_exact(ENTRY_LEN).enumerate() {
            let kind = EntryKind::from_u8(e[32]).ok_or_else(|| bad(format!("index entry {i} has kind {}", e[32])))?;
            let entry = PackEntry {
                digest: e[..32].try_into().expect("32 bytes"),
                kind,
                offset: u64_at(e, 40),
                len: u64_at(e, 48),
            };
            if entry.offset < HEADER_LEN || entry.offset.checked_add(entry.len).is_none_or(|end| end > index_offset) {
                return Err(bad(format!("index entry {i} ({}) points outside the data", entry.id())));
            }
            if let Some(prev) = index.last() {
                if PackEntry::key(prev) >= entry.key() {
                    return Err(bad(format!("index entry {i} ({}) is out of order or repeated", entry.id())));
                }
            }
            index.push(entry);
        }
        Ok(Pack { path: path.to_path_buf(), file, index })
    }

    /// The pack file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, sorted by (kind, digest).
    pub fn entries(&self) -> &[PackEntry] {
        &self.index
    }

    /// The entry of `kind` with `digest`, if the pack holds it.
    pub fn find(&self, kind: EntryKind, digest: &[u8; 32]) -> Option<PackEntry> {
        self.index.binary_search_by(|e| e.key().cmp(&(kind, digest))).ok().map(|i| self.index[i])
    }

    /// The entries of one kind (a sub-slice of [`Pack::entries`]).
    pub fn entries_of(&self, kind: EntryKind) -> &[PackEntry] {
        let lo = self.index.partition_point(|e| e.kind < kind);
        let hi = self.index.partition_point(|e| e.kind <= kind);
        &self.index[lo..hi]
    }

    /// Reads an entry's bytes (not verified: the caller checks them against
    /// the ID, as for a loose file). `limit` bounds the length read.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the entry is over `limit`; [`Error::Io`].
    pub fn read(&self, e: &PackEntry, what: &'static str, limit: u64) -> Result<Vec<u8>> {
        if e.len > limit {
            return Err(Error::TooLarge { what, path: self.path.clone(), size: e.len, limit });
        }
        let mut buf = vec![0u8; e.len as usize];
        self.file.read_exact_at(&mut buf, e.offset).ctx("read", &self.path)?;
        Ok(buf)
    }

    /// Reads `buf.len()` bytes of an entry from `at` bytes into it.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn read_part(&self, e: &PackEntry, at: u64, buf: &mut [u8]) -> Result<()> {
        debug_assert!(at + buf.len() as u64 <= e.len);
        self.file.read_exact_at(buf, e.offset + at).ctx("read", &self.path)
    }
}

/// Writes a pack (in a batch's staging directory); see the module docs.
/// Entries are buffered and written out 1 MiB at a time; an entry appended
/// earlier can be read back before [`PackWriter::finish`].
#[derive(Debug)]
pub struct PackWriter {
    path: PathBuf,
    file: File,
    /// Bytes not yet written; they start at file offset `flushed`.
    buf: Vec<u8>,
    flushed: u64,
    index: Vec<PackEntry>,
    /// The entries by (kind, digest).
    seen: HashMap<(EntryKind, [u8; 32]), PackEntry>,
}

const WRITE_CHUNK: usize = 1 << 20;

impl PackWriter {
    /// Creates the pack file `path` (must not exist).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn create(path: &Path) -> Result<PackWriter> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(crate::atomic::MODE_IMMUTABLE)
            .open(path)
            .ctx("create", path)?;
        let mut buf = Vec::with_capacity(WRITE_CHUNK + 64 * 1024);
        buf.extend_from_slice(PACK_MAGIC);
        buf.extend_from_slice(&PACK_VERSION.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Ok(PackWriter { path: path.to_path_buf(), file, buf, flushed: 0, index: Vec::new(), seen: HashMap::new() })
    }

    /// Number of entries appended.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no entry was appended.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The appended entry of `kind` with ID `digest`.
    pub fn get(&self, kind: EntryKind, digest: &[u8; 32]) -> Option<PackEntry> {
        self.seen.get(&(kind, *digest)).copied()
    }

    fn write_out(&mut self) -> Result<()> {
        self.file.write_all(&self.buf).ctx("write", &self.path)?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Appends an entry; returns it. The caller has verified `bytes` against
    /// the ID and checked that it is not in the pack yet.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn append(&mut self, kind: EntryKind, digest: [u8; 32], bytes: &[u8]) -> Result<PackEntry> {
        let e = PackEntry { digest, kind, offset: self.flushed + self.buf.len() as u64, len: bytes.len() as u64 };
        if bytes.len() >= WRITE_CHUNK {
            self.write_out()?;
            self.file.write_all(bytes).ctx("write", &self.path)?;
            self.flushed += bytes.len() as u64;
        } else {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= WRITE_CHUNK {
                self.write_out()?;
            }
        }
        self.index.push(e);
        self.seen.insert((kind, digest), e);
        Ok(e)
    }

    /// Reads back the bytes of an appended entry.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn read(&self, e: &PackEntry) -> Result<Vec<u8>> {
        let mut out = vec![0u8; e.len as usize];
        let end = e.offset + e.len;
        // The part already in the file, then the part still buffered.
        let in_file = end.min(self.flushed).saturating_sub(e.offset) as usize;
        if in_file > 0 {
            self.file.read_exact_at(&mut out[..in_file], e.offset).ctx("read", &self.path)?;
        }
        if in_file < out.len() {
            let from = (e.offset + in_file as u64 - self.flushed) as usize;
            let n = out.len() - in_file;
            out[in_file..].copy_from_slice(&self.buf[from..from + n]);
        }
        Ok(out)
    }

    /// Writes the index and trailer, `fsync`s the file when `durable`, and
    /// returns the file's path and its final name (`pack-<h>.pack`).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn finish(mut self, durable: bool) -> Result<(PathBuf, String)> {
        self.index.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        let index_offset = self.flushed + self.buf.len() as u64;
        let mut raw = Vec::with_capacity(self.index.len() * ENTRY_LEN);
        for e in &self.index {
            e.encode(&mut raw);
        }
        let name = format!("pack-{}.pack", &crate::ids::id_from_digest(&Sha256::digest(&raw))[7..]);
        self.buf.extend_from_slice(&raw);
        self.buf.extend_from_slice(&index_offset.to_le_bytes());
        self.buf.extend_from_slice(&(self.index.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(PACK_END);
        self.write_out()?;
        if durable {
            self.file.sync_all().ctx("fsync", &self.path)?;
        }
        Ok((self.path, name))
    }
}

/// The packs of one repository known to this process.
#[derive(Debug, Default)]
pub struct PackSet {
    packs: Vec<Arc<Pack>>,
    names: HashSet<OsString>,
    /// `packs/`'s (mtime ns, inode) when listed; `None` when absent.
    stamp: Option<(i128, u64)>,
    /// The listing may be relied on while the stamp is unchanged.
    trusted: bool,
    /// Packs that failed to open: (path, error text).
    broken: Vec<(PathBuf, String)>,
}

impl PackSet {
    /// The open packs.
    pub fn packs(&self) -> &[Arc<Pack>] {
        &self.packs
    }

    /// Packs that failed to open, with the reason.
    pub fn broken(&self) -> &[(PathBuf, String)] {
        &self.broken
    }

    /// The pack and entry of `kind` with `digest`, newest pack first.
    pub fn find(&self, kind: EntryKind, digest: &[u8; 32]) -> Option<(&Arc<Pack>, PackEntry)> {
        self.packs.iter().rev().find_map(|p| p.find(kind, digest).map(|e| (p, e)))
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<PackSet>>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, Arc<PackSet>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn stamp_of(dir: &Path) -> Option<(i128, u64)> {
    let m = std::fs::metadata(dir).ok()?;
    Some((m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.ino()))
}

/// At most this many repositories' pack sets are cached per process (a
/// long-lived process touching many repositories, a test suite, stays
/// bounded); past it the cache is emptied and refilled on demand.
const MAX_CACHED_REPOS: usize = 64;

/// The packs of the repository at `root` as this process last listed them,
/// re-listed only when `packs/` changed (one `stat`).
pub fn cached(root: &Path) -> Arc<PackSet> {
    current(root, false)
}

/// The packs of the repository at `root`, re-listing `packs/` when it
/// changed or when the last listing could not be trusted (see the module
/// docs).
pub fn refresh(root: &Path) -> Arc<PackSet> {
    current(root, true)
}

/// Drops this process's cached pack listing of the repository at `root`
/// (the next lookup lists `packs/` again).
pub fn forget(root: &Path) {
    registry().lock().unwrap_or_else(|p| p.into_inner()).remove(&packs_dir(root));
}

fn current(root: &Path, relist_untrusted: bool) -> Arc<PackSet> {
    let dir = packs_dir(root);
    let before = SystemTime::now();
    let stamp = stamp_of(&dir);
    let old = registry().lock().unwrap_or_else(|p| p.into_inner()).get(&dir).cloned();
    if let Some(old) = &old {
        if old.stamp == stamp && (old.trusted || !relist_untrusted) {
            return Arc::clone(old);
        }
    }
    let mut set = PackSet { stamp, ..PackSet::default() };
    let listed: Vec<OsString> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_str().is_some_and(|s| s.starts_with("pack-") && s.ends_with(".pack")))
            .collect(),
        Err(_) => Vec::new(),
    };
    let listed_set: HashSet<&OsString> = listed.iter().collect();
    // Packs already open stay open while they are listed.
    if let Some(old) = &old {
        for p in &old.packs {
            if let Some(name) = p.path.file_name().map(OsString::from) {
                if listed_set.contains(&name) && set.names.insert(name) {
                    set.packs.push(Arc::clone(p));
                }
            }
        }
    }
    let mut new: Vec<&OsString> = listed.iter().filter(|n| !set.names.contains(*n)).collect();
    new.sort();
    for name in new {
        let path = dir.join(name);
        match Pack::open(&path) {
            Ok(p) => {
                set.packs.push(Arc::new(p));
                set.names.insert(name.clone());
            }
            Err(e) => {
                log::warn!("skipping pack {}: {e}", path.display());
                set.broken.push((path, e.to_string()));
            }
        }
    }
    let since_epoch = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    set.trusted = match stamp {
        Some((mtime, _)) => mtime + (RACY_LISTING.as_nanos() as i128) < since_epoch(before),
        None => true,
    };
    let set = Arc::new(set);
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    if reg.len() >= MAX_CACHED_REPOS && !reg.contains_key(&dir) {
        reg.clear();
    }
    reg.insert(dir, Arc::clone(&set));
    set
}

/// Records a pack this process just moved into `packs/` (so it is found
/// without re-listing the directory).
pub(crate) fn register(root: &Path, pack: Pack, name: OsString) {
    let dir = packs_dir(root);
    let stamp = stamp_of(&dir);
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    let mut set = PackSet { stamp, ..PackSet::default() };
    if let Some(old) = reg.get(&dir) {
        set.packs.clone_from(&old.packs);
        set.names.clone_from(&old.names);
        set.broken.clone_from(&old.broken);
    }
    if set.names.insert(name) {
        set.packs.push(Arc::new(pack));
    }
    // Untrusted: the next miss re-lists, picking up other writers' packs.
    set.trusted = false;
    reg.insert(dir, Arc::new(set));
}

/// The one lookup order for a stored item: the packs known to this
/// process, then `loose` (the loose file), then the packs again after
/// re-listing `packs/` (a repack may have moved the item meanwhile).
/// `packed` reads a pack entry. `Ok(None)` when neither holds it.
///
/// # Errors
/// [`Error::InvalidId`]; what `loose` and `packed` return.
pub(crate) fn lookup<T>(
    root: &Path,
    kind: EntryKind,
    id: &str,
    loose: impl FnOnce() -> Result<Option<T>>,
    mut packed: impl FnMut(&Pack, &PackEntry) -> Result<T>,
) -> Result<Option<T>> {
    if let Some((p, e)) = find(root, kind, id, false)? {
        return packed(&p, &e).map(Some);
    }
    if let Some(v) = loose()? {
        return Ok(Some(v));
    }
    match find(root, kind, id, true)? {
        Some((p, e)) => packed(&p, &e).map(Some),
        None => Ok(None),
    }
}

/// Finds `id` of `kind` in the repository's packs: first among the packs
/// known to this process (re-listed if `packs/` changed), then, when
/// `relist` and the last listing was not trusted, after re-reading
/// `packs/`. `Ok(None)` when no pack holds it.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn find(root: &Path, kind: EntryKind, id: &str, relist: bool) -> Result<Option<(Arc<Pack>, PackEntry)>> {
    let digest = digest_of(id)?;
    let set = cached(root);
    if let Some((p, e)) = set.find(kind, &digest) {
        return Ok(Some((Arc::clone(p), e)));
    }
    if !relist {
        return Ok(None);
    }
    let set = refresh(root);
    Ok(set.find(kind, &digest).map(|(p, e)| (Arc::clone(p), e)))
}

/// True when item `id` of `kind` is stored: in a pack this process knows,
/// as a loose file (a regular file for an object, any file for a record),
/// or in a pack that appeared since.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn is_stored(root: &Path, kind: EntryKind, id: &str) -> Result<bool> {
    let loose = || -> Result<Option<()>> {
        let stored = match kind {
            EntryKind::Object => {
                std::fs::symlink_metadata(crate::paths::object_path(root, id)?).map(|m| m.is_file()).unwrap_or(false)
            }
            EntryKind::Commit => crate::paths::commit_path(root, id)?.is_file(),
            EntryKind::Snapshot => crate::paths::snapshot_path(root, id)?.is_file(),
        };
        Ok(stored.then_some(()))
    };
    Ok(lookup(root, kind, id, loose, |_, _| Ok(()))?.is_some())
}

/// IDs of every item of `kind` in the repository's packs (listed afresh),
/// pack by pack.
pub fn packed_ids(root: &Path, kind: EntryKind) -> Vec<String> {
    refresh(root).packs().iter().flat_map(|p| p.entries_of(kind).iter().map(PackEntry::id)).collect()
}

/// A reader over one pack entry's bytes (for streaming a large blob).
pub struct EntryReader {
    pack: Arc<Pack>,
    entry: PackEntry,
    pos: u64,
}

impl EntryReader {
    /// Reads `entry` of `pack` from its start.
    pub fn new(pack: Arc<Pack>, entry: PackEntry) -> EntryReader {
        EntryReader { pack, entry, pos: 0 }
    }
}

impl std::io::Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.entry.len - self.pos;
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.pack.file.read_exact_at(&mut buf[..n], self.entry.offset + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(b: &[u8]) -> String {
        crate::ids::blob_id(b)
    }

    #[test]
    fn write_then_open_and_find_every_entry() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.pack");
        let mut w = PackWriter::create(&p).unwrap();
        let mut ids = Vec::new();
        for i in 0..300u32 {
            let body = format!("blob {i}").repeat(i as usize % 7 + 1);
            let id = id_of(body.as_bytes());
            let e = w.append(EntryKind::Object, digest_of(&id).unwrap(), body.as_bytes()).unwrap();
            assert_eq!(w.read(&e).unwrap(), body.as_bytes());
            ids.push((id, body));
        }
        let big = vec![7u8; WRITE_CHUNK + 3];
        let big_id = id_of(&big);
        w.append(EntryKind::Object, digest_of(&big_id).unwrap(), &big).unwrap();
        let (path, name) = w.finish(false).unwrap();
        assert!(name.starts_with("pack-") && name.ends_with(".pack"));
        let pack = Pack::open(&path).unwrap();
        assert_eq!(pack.entries().len(), 301);
        for (id, body) in &ids {
            let e = pack.find(EntryKind::Object, &digest_of(id).unwrap()).unwrap();
            assert_eq!(e.id(), *id);
            assert_eq!(pack.read(&e, "object", u64::MAX).unwrap(), body.as_bytes());
            assert!(pack.find(EntryKind::Commit, &digest_of(id).unwrap()).is_none());
        }
        let e = pack.find(EntryKind::Object, &digest_of(&big_id).unwrap()).unwrap();
        let mut r = EntryReader::new(Arc::new(pack), e);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut back).unwrap();
        assert_eq!(back, big);
    }

    #[test]
    fn damaged_packs_are_refused_with_a_reason() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.pack");
        let mut w = PackWriter::create(&p).unwrap();
        for i in 0..3u8 {
            let b = [i; 10];
            w.append(EntryKind::Commit, digest_of(&id_of(&b)).unwrap(), &b).unwrap();
        }
        let (path, _) = w.finish(false).unwrap();
        let good = std::fs::read(&path).unwrap();
        let try_bytes = |bytes: &[u8]| {
            let q = d.path().join("q.pack");
            let _ = std::fs::remove_file(&q);
            std::fs::write(&q, bytes).unwrap();
            Pack::open(&q).map(|_| ()).unwrap_err().to_string()
        };
        // Truncated: no trailer.
        assert!(try_bytes(&good[..good.len() - 5]).contains("trailer"));
        // Wrong magic.
        let mut b = good.clone();
        b[0] = b'X';
        assert!(try_bytes(&b).contains("header"));
        // A count that does not fit the file.
        let mut b = good.clone();
        let n = b.len();
        b[n - 16..n - 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(try_bytes(&b).contains("entries"));
        // An entry pointing past the data.
        let mut b = good.clone();
        let idx = u64_at(&b, n - 24) as usize;
        b[idx + 48..idx + 56].copy_from_slice(&(1u64 << 30).to_le_bytes());
        assert!(try_bytes(&b).contains("outside"));
        // Entries out of order.
        let mut b = good.clone();
        let (first, second) = (b[idx..idx + 56].to_vec(), b[idx + 56..idx + 112].to_vec());
        b[idx..idx + 56].copy_from_slice(&second);
        b[idx + 56..idx + 112].copy_from_slice(&first);
        assert!(try_bytes(&b).contains("order"));
        // An unknown kind.
        let mut b = good;
        b[idx + 32] = 9;
        assert!(try_bytes(&b).contains("kind"));
    }

    #[test]
    fn digest_round_trips() {
        let id = id_of(b"x");
        assert_eq!(crate::ids::id_from_digest(&digest_of(&id).unwrap()), id);
        assert!(digest_of("sha256:XYZ").is_err());
    }
}
