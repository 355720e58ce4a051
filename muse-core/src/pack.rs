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
//! # Format (little-endian)
//!
//! ```text
//! header   "MUSEPACK" | u32 version (1 or 2) | u32 0
//! data     the entries' stored bytes, back to back
//! index    count × 56 bytes, sorted by (kind, id), no duplicates:
//!          id [32] (the SHA-256 digest) | kind u8 (0 blob, 1 commit,
//!          2 snapshot) | 7 bytes (see below) | offset u64 | len u64
//! trailer  index_offset u64 | count u64 | "MUSEPEND"
//! ```
//!
//! **Version 1** (written before compression existed, still read): every
//! entry is stored raw (a blob's bytes, a record's msgpack exactly as its
//! loose file holds it), the 7 bytes are zero and `len` is its length.
//!
//! **Version 2** (written by this build): the 7 bytes are
//! `encoding u8 | depth u8 | size u40` and `len` is the *stored* length:
//!
//! | encoding | stored bytes | depth |
//! |---|---|---|
//! | 0 raw   | the item's bytes (`size` = `len`) | 0 |
//! | 1 zstd  | one [`crate::zdelta`] frame of the item | 0 |
//! | 2 delta | the base item's digest [32], then a [`crate::zdelta`] frame compressed with the base's bytes as prefix | 1 ..= [`MAX_CHAIN_DEPTH`] |
//!
//! `size` is the item's decoded size (what [`PackEntry::len`] reports);
//! every frame also declares it, and a frame declaring anything else is
//! corrupt. A delta's base is an item of the *same kind* (a blob's a blob;
//! a commit record's a commit record, normally its first parent's; a
//! snapshot record's a snapshot record, normally its base's) in the *same*
//! pack at a *smaller* offset with a smaller depth, so a pack is
//! self-contained and a chain can neither cycle nor run longer than its
//! depth. Writers cut chains at [`WRITE_CHAIN_DEPTH`] (git's `pack.depth`
//! default); readers refuse a chain longer than [`MAX_CHAIN_DEPTH`]. A
//! writer picks, per entry, the smallest of raw, zstd and (for an item given
//! a base hint, [`PackWriter::append_with_base`]) delta, a delta only when
//! it is clearly smaller.
//!
//! `<h>` is the SHA-256 of the index bytes, so two packs with the same
//! entries at the same offsets have the same name. A pack is written in a
//! staging directory, made durable (`fsync`), then renamed into `packs/`
//! and the directory made durable, all before any ref moves: a pack is
//! visible whole or not at all, and never changes after. Only a repack
//! ([`crate::repack`]) removes a pack, after the pack replacing it is
//! durable.
//!
//! # Trust
//!
//! Opening a pack checks its header, trailer and index (sizes, bounds,
//! order, encodings and depths) before anything is allocated from them; an
//! entry's final bytes are verified like a loose file's on every read (a
//! blob hashes to its ID, a record to its ID: the callers' check), and every
//! intermediate base of a delta chain is checked against its ID by its kind
//! (a blob hashed, a commit record's fields hashed, a snapshot record's
//! named ID compared) before it is used or cached, so a corrupt or lying pack yields
//! [`Error::Corrupt`], never data. A frame is refused before anything is
//! allocated when it declares more than the index says. A pack that fails
//! to open is skipped by readers with a warning and reported by
//! [`crate::verify`].
//!
//! # Base cache
//!
//! Reading consecutive versions of one file must not decompress its whole
//! chain each time: the decoded bytes of chain bases (verified) are kept in
//! one process-wide LRU of at most [`BASE_CACHE_BYTES`], keyed by (pack,
//! offset) and shared by all threads (git's `core.deltaBaseCacheLimit`).
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
//! directory. A pack that is listed but gone when it is opened (a repack
//! replaced it in between) is not an error: the directory is listed again
//! (a few times) and the pack that replaced it is found instead. A pack
//! already open stays readable after a repack unlinks it (its descriptor
//! holds the file).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// Magic bytes that start a pack.
pub const PACK_MAGIC: &[u8; 8] = b"MUSEPACK";
/// Magic bytes that end a pack.
pub const PACK_END: &[u8; 8] = b"MUSEPEND";
/// The pack format version this build writes (it reads 1 and 2).
pub const PACK_VERSION: u32 = 2;
/// The first pack format version (entries stored raw), still read.
pub const PACK_VERSION_V1: u32 = 1;
/// A batch with more items than this writes a pack; with fewer, loose files.
pub const PACK_MIN_ENTRIES: usize = 100;
/// A directory listing is trusted only when the directory's mtime is at
/// least this much older than the listing (see the module docs).
pub const RACY_LISTING: Duration = Duration::from_millis(100);
/// Longest delta chain a reader follows (deltas on deltas, down to a
/// non-delta entry); longer is corruption.
pub const MAX_CHAIN_DEPTH: u8 = 64;
/// Longest delta chain a [`PackWriter`] writes by default: git's
/// `pack.depth` default.
pub const WRITE_CHAIN_DEPTH: u8 = 50;
/// A pack whose mtime (as this process knows it) is younger than this is
/// not touched again by [`Pack::freshen`]: far below any prune grace
/// period, and it keeps hot write paths at one syscall per pack per window.
pub const FRESHEN_AFTER: Duration = Duration::from_secs(300);
/// Bound, in bytes, of the process-wide cache of decoded delta bases (see
/// the module docs; git's `core.deltaBaseCacheLimit` is 96 MiB).
pub const BASE_CACHE_BYTES: usize = 64 * 1024 * 1024;

const HEADER_LEN: u64 = 16;
const ENTRY_LEN: usize = 56;
const TRAILER_LEN: u64 = 24;
/// Largest index a reader accepts (entries): 64 Mi entries, 3.5 GiB.
const MAX_ENTRIES: u64 = 64 * 1024 * 1024;
/// Largest decoded size a version-2 index entry can state (u40).
const MAX_V2_SIZE: u64 = (1 << 40) - 1;
/// Bytes of a delta's base reference (the base's digest).
const BASE_REF_LEN: u64 = 32;

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

/// How a pack entry's bytes are stored (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// The item's bytes as they are.
    Raw = 0,
    /// One zstd frame of the item ([`crate::zdelta::compress`] without a
    /// base).
    Zstd = 1,
    /// A base item's digest (32 bytes; an item of the same kind in the same
    /// pack), then a zstd frame compressed with that item's bytes as prefix.
    Delta = 2,
}

impl Encoding {
    fn from_u8(b: u8) -> Option<Encoding> {
        match b {
            0 => Some(Encoding::Raw),
            1 => Some(Encoding::Zstd),
            2 => Some(Encoding::Delta),
            _ => None,
        }
    }
}

/// One index entry: where an item's bytes are in the pack file, and how
/// they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// SHA-256 digest of the ID.
    pub digest: [u8; 32],
    /// What it is.
    pub kind: EntryKind,
    /// Byte offset of its stored bytes in the pack file.
    pub offset: u64,
    /// The item's length in bytes, decoded (a blob's size, a record's
    /// msgpack length).
    pub len: u64,
    /// Length of its stored bytes in the pack file (equal to `len` for a
    /// [`Encoding::Raw`] entry).
    pub stored_len: u64,
    /// How it is stored.
    pub encoding: Encoding,
    /// Delta chain depth: 0 unless [`Encoding::Delta`] (1 for a delta on a
    /// non-delta entry).
    pub depth: u8,
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
        out.push(self.encoding as u8);
        out.push(self.depth);
        out.extend_from_slice(&self.len.to_le_bytes()[..5]);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
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
    version: u32,
    /// Where the data section ends (the index's offset).
    data_end: u64,
    /// The file's mtime as this process last knew it (seconds since the
    /// epoch; set at open and by [`Pack::freshen`]).
    mtime: AtomicU64,
    /// Process-unique number: the base cache's key (a path can be reused).
    uid: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn next_uid() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Pack {
    /// Opens and validates the pack at `path` (header, trailer, index
    /// bounds, order, encodings and depths; entry bytes are verified when
    /// read).
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming what is wrong; [`Error::Io`].
    pub fn open(path: &Path) -> Result<Pack> {
        let file = File::open(path).ctx("open", path)?;
        let meta = file.metadata().ctx("stat", path)?;
        let size = meta.len();
        let mtime = meta.modified().ok().and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
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
        if version != PACK_VERSION && version != PACK_VERSION_V1 {
            return Err(bad(format!(
                "pack version {version}; this build reads versions {PACK_VERSION_V1} and {PACK_VERSION}"
            )));
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
            let stored_len = u64_at(e, 48);
            let (encoding, depth, len) = if version == PACK_VERSION_V1 {
                (Encoding::Raw, 0u8, stored_len)
            } else {
                let enc = Encoding::from_u8(e[33])
                    .ok_or_else(|| bad(format!("index entry {i} has encoding {}", e[33])))?;
                let mut size = [0u8; 8];
                size[..5].copy_from_slice(&e[35..40]);
                (enc, e[34], u64::from_le_bytes(size))
            };
            let entry = PackEntry {
                digest: e[..32].try_into().expect("32 bytes"),
                kind,
                offset: u64_at(e, 40),
                len,
                stored_len,
                encoding,
                depth,
            };
            if entry.offset < HEADER_LEN
                || entry.offset.checked_add(entry.stored_len).is_none_or(|end| end > index_offset)
            {
                return Err(bad(format!("index entry {i} ({}) points outside the data", entry.id())));
            }
            let consistent = match encoding {
                Encoding::Raw => depth == 0 && len == stored_len,
                Encoding::Zstd => depth == 0,
                Encoding::Delta => {
                    (1..=MAX_CHAIN_DEPTH).contains(&depth)
                        && stored_len > BASE_REF_LEN
                }
            };
            if !consistent {
                return Err(bad(format!(
                    "index entry {i} ({}) has an impossible {encoding:?} entry (depth {depth}, size {len}, stored {stored_len}; chains are at most {MAX_CHAIN_DEPTH} deep)",
                    entry.id()
                )));
            }
            if let Some(prev) = index.last() {
                if PackEntry::key(prev) >= entry.key() {
                    return Err(bad(format!("index entry {i} ({}) is out of order or repeated", entry.id())));
                }
            }
            index.push(entry);
        }
        Ok(Pack { path: path.to_path_buf(), file, index, version, data_end: index_offset, mtime: AtomicU64::new(mtime), uid: next_uid() })
    }

    /// Makes the pack count as young again for the prune grace period
    /// (git's `freshen_packed_object`): sets the file's mtime to now, what a
    /// writer does instead of writing an item this pack already holds, so
    /// that a `gc --prune` beside it does not drop an entry the writer is
    /// about to reference (the repack's grace rule reads the pack file's
    /// mtime, [`crate::repack`] rule 5).
    ///
    /// At most one syscall per [`FRESHEN_AFTER`] per open pack: the call
    /// does nothing while the mtime this process last knew (from opening
    /// the pack or from its own last touch) is younger than that. Returns
    /// whether it touched the file; a failure is logged and ignored (the
    /// item is stored either way; a pack not ours cannot be touched).
    pub fn freshen(&self) -> bool {
        let now = SystemTime::now();
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = self.mtime.load(Ordering::Relaxed);
        if secs.saturating_sub(last) < FRESHEN_AFTER.as_secs() {
            return false;
        }
        // One thread touches it; the others see the new time.
        if self.mtime.compare_exchange(last, secs, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return false;
        }
        match self.file.set_modified(now) {
            Ok(()) => true,
            Err(e) => {
                log::debug!("could not freshen {}: {e}", self.path.display());
                false
            }
        }
    }

    /// The pack file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pack's format version (1 or 2).
    pub fn version(&self) -> u32 {
        self.version
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

    /// Reads an entry's item bytes, decoded (decompressed, delta chain
    /// resolved). The final bytes are not verified: the caller checks them
    /// against the ID, as for a loose file (the bases of a delta chain are
    /// verified here). `limit` bounds the decoded length.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the entry is over `limit`;
    /// [`Error::Corrupt`] when its stored bytes do not decode to its stated
    /// size (a bad frame, a missing or misplaced delta base, a chain over
    /// [`MAX_CHAIN_DEPTH`], a base that does not hash to its ID);
    /// [`Error::Io`].
    pub fn read(&self, e: &PackEntry, what: &'static str, limit: u64) -> Result<Vec<u8>> {
        if e.len > limit {
            return Err(Error::TooLarge { what, path: self.path.clone(), size: e.len, limit });
        }
        match e.encoding {
            Encoding::Raw => self.read_stored(e),
            Encoding::Zstd => {
                let frame = self.read_stored(e)?;
                self.decode_frame(e, &frame, 0, None, what)
            }
            Encoding::Delta => self.read_delta(e, what),
        }
    }

    /// The stored bytes of an entry, exactly as they are in the file
    /// (a zstd frame for [`Encoding::Zstd`]; the base digest and a frame
    /// for [`Encoding::Delta`]): for copying an entry elsewhere without
    /// recompressing it. Not verified.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn raw_entry(&self, e: &PackEntry) -> Result<Vec<u8>> {
        self.read_stored(e)
    }

    fn read_stored(&self, e: &PackEntry) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; e.stored_len as usize];
        self.file.read_exact_at(&mut buf, e.offset).ctx("read", &self.path)?;
        Ok(buf)
    }

    /// Decodes the frame `stored[skip..]` of `e` (with `base` for a delta),
    /// checking that it declares and yields exactly `e.len` bytes.
    fn decode_frame(&self, e: &PackEntry, stored: &[u8], skip: usize, base: Option<&[u8]>, what: &'static str) -> Result<Vec<u8>> {
        let frame = &stored[skip..];
        let declared = crate::zdelta::content_size(frame, what, &self.path)?;
        if declared != e.len {
            return Err(Error::corrupt(
                what,
                &self.path,
                format!("entry {} declares {declared} bytes in its frame and {} in the index", e.id(), e.len),
            ));
        }
        crate::zdelta::decompress(frame, base, e.len, what, &self.path)
    }

    /// Resolves a delta chain: walks down to a cached or non-delta base
    /// (checking every step), then decodes upwards, verifying and caching
    /// every base.
    fn read_delta(&self, top: &PackEntry, what: &'static str) -> Result<Vec<u8>> {
        let bad = |d: String| Error::corrupt(what, &self.path, d);
        // A base read before (verified when cached).
        if let Some(hit) = base_cache_get(self.uid, top.offset) {
            return Ok(hit.as_ref().clone());
        }
        // chain[0] = top; each next one is the previous one's base.
        let mut chain: Vec<(PackEntry, Vec<u8>)> = Vec::new();
        let mut cur = *top;
        let mut base_bytes: Option<Arc<Vec<u8>>> = None;
        while cur.encoding == Encoding::Delta {
            if chain.len() >= MAX_CHAIN_DEPTH as usize {
                return Err(bad(format!("delta chain of {} is longer than {MAX_CHAIN_DEPTH}", top.id())));
            }
            let stored = self.read_stored(&cur)?;
            let digest: [u8; 32] = stored
                .get(..BASE_REF_LEN as usize)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad(format!("delta entry {} has no base reference", cur.id())))?;
            // A base is an item of the same kind (a blob's a blob, a
            // commit record's a commit record, …).
            let base = self.find(cur.kind, &digest).ok_or_else(|| {
                bad(format!("delta base {} of {} is not in this pack", crate::ids::id_from_digest(&digest), cur.id()))
            })?;
            if base.offset >= cur.offset || base.depth >= cur.depth {
                return Err(bad(format!(
                    "delta base {} of {} is not an earlier, shallower entry (offset {} depth {} against {} {})",
                    base.id(),
                    cur.id(),
                    base.offset,
                    base.depth,
                    cur.offset,
                    cur.depth
                )));
            }
            chain.push((cur, stored));
            if let Some(hit) = base_cache_get(self.uid, base.offset) {
                base_bytes = Some(hit);
                break;
            }
            cur = base;
        }
        let mut bytes = match base_bytes {
            Some(b) => b,
            None => {
                // `cur` is the chain's non-delta bottom: decode, verify, cache.
                let b = match cur.encoding {
                    Encoding::Raw => self.read_stored(&cur)?,
                    _ => {
                        let frame = self.read_stored(&cur)?;
                        self.decode_frame(&cur, &frame, 0, None, what)?
                    }
                };
                let b = Arc::new(self.verified_base(&cur, b, what)?);
                base_cache_put(self.uid, cur.offset, &b);
                b
            }
        };
        for (i, (e, stored)) in chain.iter().enumerate().rev() {
            let out = self.decode_frame(e, stored, BASE_REF_LEN as usize, Some(&bytes), what)?;
            if i == 0 {
                return Ok(out);
            }
            let out = Arc::new(self.verified_base(e, out, what)?);
            base_cache_put(self.uid, e.offset, &out);
            bytes = out;
        }
        unreachable!("a delta chain has at least its top entry")
    }

    /// Checks the decoded bytes of a delta base against its ID, by its
    /// kind: a blob hashes to its ID, a commit record's fields hash to it
    /// (and it names it), a snapshot record names it (the checks the
    /// readers of each kind make on a final item).
    fn verified_base(&self, e: &PackEntry, bytes: Vec<u8>, what: &'static str) -> Result<Vec<u8>> {
        let bad = |d: String| Error::corrupt(what, &self.path, format!("delta base {} {d}", e.id()));
        match e.kind {
            EntryKind::Object => {
                let actual: [u8; 32] = Sha256::digest(&bytes).into();
                if actual != e.digest {
                    return Err(bad(format!("hashes to {}", crate::ids::id_from_digest(&actual))));
                }
            }
            EntryKind::Commit => {
                let rec = crate::records::CommitRecord::from_msgpack(&bytes, &self.path)?;
                let id = e.id();
                if rec.commit_id != id {
                    return Err(bad(format!("holds commit {:?}", rec.commit_id)));
                }
                if !rec.matches_id(&id) {
                    return Err(bad(format!("has fields that hash to {}", rec.compute_id())));
                }
            }
            EntryKind::Snapshot => {
                #[derive(serde::Deserialize)]
                struct SnapshotIdOnly {
                    snapshot_id: String,
                }
                let rec: SnapshotIdOnly =
                    rmp_serde::from_slice(&bytes).map_err(|err| bad(format!("is not a snapshot record: {err}")))?;
                if rec.snapshot_id != e.id() {
                    return Err(bad(format!("names snapshot {:?}", rec.snapshot_id)));
                }
            }
        }
        Ok(bytes)
    }

    /// Reads `buf.len()` stored bytes of the pack's data from file offset
    /// `offset` (for reading the stored bytes of neighbouring entries with
    /// one `pread`, then decoding each with [`Pack::decode_stored`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a range outside the data section;
    /// [`Error::Io`].
    pub fn read_span(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if offset < HEADER_LEN || end.is_none_or(|end| end > self.data_end) {
            return Err(Error::InvalidInput(format!(
                "bytes {offset}+{} are outside the data of pack {}",
                buf.len(),
                self.path.display()
            )));
        }
        self.file.read_exact_at(buf, offset).ctx("read", &self.path)
    }

    /// Decodes an entry from its `stored` bytes (read with
    /// [`Pack::read_span`]; exactly `e.stored_len` of them): raw bytes as
    /// they are, a zstd frame decompressed (checked against the stated
    /// size). A delta entry is read whole with [`Pack::read`] (its chain
    /// needs other entries). Not verified against the ID (the caller's
    /// check, as for [`Pack::read`]).
    ///
    /// # Errors
    /// As [`Pack::read`].
    pub fn decode_stored(&self, e: &PackEntry, stored: &[u8], what: &'static str, limit: u64) -> Result<Vec<u8>> {
        if e.len > limit {
            return Err(Error::TooLarge { what, path: self.path.clone(), size: e.len, limit });
        }
        if stored.len() as u64 != e.stored_len {
            return Err(Error::InvalidInput(format!(
                "{} stored bytes given for entry {} of {} bytes in {}",
                stored.len(),
                e.id(),
                e.stored_len,
                self.path.display()
            )));
        }
        match e.encoding {
            Encoding::Raw => Ok(stored.to_vec()),
            Encoding::Zstd => self.decode_frame(e, stored, 0, None, what),
            Encoding::Delta => self.read(e, what, limit),
        }
    }

    /// Reads `buf.len()` stored bytes of a [`Encoding::Raw`] entry from
    /// `at` bytes into it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an entry that is not raw (its stored
    /// bytes are not the item's: use [`Pack::read`]); [`Error::Io`].
    pub fn read_part(&self, e: &PackEntry, at: u64, buf: &mut [u8]) -> Result<()> {
        if e.encoding != Encoding::Raw {
            return Err(Error::InvalidInput(format!(
                "pack entry {} in {} is {:?}-encoded: read it whole",
                e.id(),
                self.path.display(),
                e.encoding
            )));
        }
        debug_assert!(at + buf.len() as u64 <= e.len);
        self.file.read_exact_at(buf, e.offset + at).ctx("read", &self.path)
    }
}

/// A decoded base and its last use tick.
type BaseSlot = (Arc<Vec<u8>>, u64);

/// The process-wide LRU of decoded delta bases (see the module docs).
#[derive(Default)]
struct BaseCache {
    map: HashMap<(u64, u64), BaseSlot>,
    /// Use tick → key, oldest first.
    order: BTreeMap<u64, (u64, u64)>,
    tick: u64,
    bytes: usize,
}

fn base_cache() -> &'static Mutex<BaseCache> {
    static C: OnceLock<Mutex<BaseCache>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn base_cache_get(pack: u64, offset: u64) -> Option<Arc<Vec<u8>>> {
    let mut c = base_cache().lock().unwrap_or_else(|p| p.into_inner());
    c.tick += 1;
    let tick = c.tick;
    let (bytes, old) = {
        let slot = c.map.get_mut(&(pack, offset))?;
        let old = std::mem::replace(&mut slot.1, tick);
        (Arc::clone(&slot.0), old)
    };
    c.order.remove(&old);
    c.order.insert(tick, (pack, offset));
    Some(bytes)
}

fn base_cache_put(pack: u64, offset: u64, bytes: &Arc<Vec<u8>>) {
    let n = bytes.len();
    if n > BASE_CACHE_BYTES / 4 {
        return;
    }
    let mut c = base_cache().lock().unwrap_or_else(|p| p.into_inner());
    if c.map.contains_key(&(pack, offset)) {
        return;
    }
    while c.bytes + n > BASE_CACHE_BYTES {
        let Some((_, key)) = c.order.pop_first() else { break };
        if let Some((old, _)) = c.map.remove(&key) {
            c.bytes -= old.len();
        }
    }
    c.tick += 1;
    let tick = c.tick;
    c.map.insert((pack, offset), (Arc::clone(bytes), tick));
    c.order.insert(tick, (pack, offset));
    c.bytes += n;
}

/// An item's candidate encodings, computed by [`prepare`] (on any thread)
/// and stored by [`PackWriter::append_prepared`].
#[derive(Debug, Default)]
pub struct Prepared {
    /// A zstd frame against the base (without the base reference), when
    /// one was tried and is clearly smaller than the plain frame.
    delta: Option<Vec<u8>>,
    /// The plain zstd frame, when computed.
    plain: Option<Vec<u8>>,
}

impl Prepared {
    /// An encoding computed elsewhere, for [`PackWriter::append_prepared`]:
    /// `frame` is a [`crate::zdelta`] frame of the item, compressed with the
    /// base's bytes as prefix when `on_base` (then the base given to
    /// `append_prepared` must be that base: the entry is a delta when it is
    /// in the pack, else the item is compressed alone), else compressed
    /// alone (stored as the entry, or raw when not smaller). Used to keep a
    /// received bundle's frames as they are.
    pub fn from_frame(frame: Vec<u8>, on_base: bool) -> Prepared {
        if on_base {
            Prepared { delta: Some(frame), plain: None }
        } else {
            Prepared { delta: None, plain: Some(frame) }
        }
    }
}

/// Computes the encodings [`PackWriter::append_with_base`] chooses from,
/// for `bytes` of `kind` with an optional delta `base` (the bytes of an
/// item of the same kind): pure CPU work, so a repack runs it in parallel.
/// The rule is the same for every kind.
///
/// The delta is tried only for an item of at least 64 bytes whose base has a
/// comparable size (git's rule: the base at least half the target, the
/// target at least 1/32 of the base), and kept only when it is clearly
/// smaller (under 90 %) than the plain frame, or under an eighth of the
/// bytes (then the plain frame is not computed at all).
///
/// # Errors
/// [`Error::Corrupt`] if zstd itself fails.
pub fn prepare(_kind: EntryKind, bytes: &[u8], base: Option<&[u8]>, level: i32) -> Result<Prepared> {
    if bytes.len() as u64 > MAX_V2_SIZE {
        return Ok(Prepared::default());
    }
    let n = bytes.len();
    let base = base.filter(|b| n >= 64 && b.len().saturating_mul(2) >= n && n.saturating_mul(32) >= b.len());
    if let Some(b) = base {
        let delta = crate::zdelta::compress(bytes, Some(b), level)?;
        let d = delta.len() + BASE_REF_LEN as usize;
        if d < n / 8 {
            return Ok(Prepared { delta: Some(delta), plain: None });
        }
        let plain = crate::zdelta::compress(bytes, None, level)?;
        if d < plain.len() / 10 * 9 {
            return Ok(Prepared { delta: Some(delta), plain: Some(plain) });
        }
        return Ok(Prepared { delta: None, plain: Some(plain) });
    }
    Ok(Prepared { delta: None, plain: Some(crate::zdelta::compress(bytes, None, level)?) })
}

/// Bound, in bytes, of the blobs a [`PackWriter`] keeps as delta bases.
pub const WRITER_BASE_BYTES: usize = 32 * 1024 * 1024;

/// Writes a pack (version 2, in a staging directory); see the module docs.
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
    /// zstd level of new entries.
    level: i32,
    /// Longest delta chain written.
    max_depth: u8,
    /// Recent items' bytes (possible delta bases), oldest first, at most
    /// [`WRITER_BASE_BYTES`] in all.
    recent: HashMap<(EntryKind, [u8; 32]), Arc<Vec<u8>>>,
    recent_order: VecDeque<(EntryKind, [u8; 32])>,
    recent_bytes: usize,
    /// Entries stored as deltas.
    deltas: usize,
}

const WRITE_CHUNK: usize = 1 << 20;

impl PackWriter {
    /// Creates the pack file `path` (must not exist), writing new entries
    /// at [`crate::zdelta::DEFAULT_LEVEL`].
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn create(path: &Path) -> Result<PackWriter> {
        PackWriter::create_with_level(path, crate::zdelta::DEFAULT_LEVEL)
    }

    /// Creates the pack file `path` (must not exist), compressing at zstd
    /// `level` ([`crate::zdelta::REPACK_LEVEL`] for a repack).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn create_with_level(path: &Path, level: i32) -> Result<PackWriter> {
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
        Ok(PackWriter {
            path: path.to_path_buf(),
            file,
            buf,
            flushed: 0,
            index: Vec::new(),
            seen: HashMap::new(),
            level,
            max_depth: WRITE_CHAIN_DEPTH,
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            recent_bytes: 0,
            deltas: 0,
        })
    }

    /// Sets the longest delta chain this writer makes (default
    /// [`WRITE_CHAIN_DEPTH`]; at most 255). Readers refuse chains longer
    /// than [`MAX_CHAIN_DEPTH`]: a larger value only makes packs they
    /// reject (for tests of that rule).
    pub fn set_max_depth(&mut self, depth: u8) {
        self.max_depth = depth;
    }

    /// Takes an exclusive `flock` on the file being written, so the startup
    /// GC ([`crate::repo::startup_gc`]) leaves it alone while this writer
    /// lives (for a writer whose file is directly in `.muse/tmp/`).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn lock(&self) -> Result<()> {
        self.file.lock().ctx("lock", &self.path)
    }

    /// Number of entries appended.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no entry was appended.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Number of entries stored as deltas.
    pub fn deltas(&self) -> usize {
        self.deltas
    }

    /// Bytes written so far (header and entries).
    pub fn bytes_written(&self) -> u64 {
        self.flushed + self.buf.len() as u64
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

    fn put(&mut self, parts: &[&[u8]]) -> Result<u64> {
        let offset = self.flushed + self.buf.len() as u64;
        for bytes in parts {
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
        }
        Ok(offset)
    }

    /// Appends an entry without a delta base hint; returns it. See
    /// [`PackWriter::append_with_base`].
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn append(&mut self, kind: EntryKind, digest: [u8; 32], bytes: &[u8]) -> Result<PackEntry> {
        self.append_with_base(kind, digest, bytes, None)
    }

    /// Appends an entry; returns it. The caller has verified `bytes` against
    /// the ID and checked that it is not in the pack yet.
    ///
    /// `base` is a hint: the digest of an item of the same kind it is
    /// likely similar to (for a blob, the previous version of the same path;
    /// for a commit record, its first parent's; for a snapshot record, its
    /// base's). It is stored as a delta on that item only when the base is
    /// already in this pack with bytes this writer still holds (the last
    /// [`WRITER_BASE_BYTES`] of items), its chain is shallower than the
    /// writer's limit, the sizes are comparable (git's rule: the base at
    /// least half the target, the target at least 1/32 of the base), and the
    /// delta is clearly smaller (under 90 %) than the plain zstd frame.
    /// Otherwise an entry is stored as a zstd frame, or raw when that is not
    /// smaller (readers decode each entry by its own encoding).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] if zstd itself fails.
    pub fn append_with_base(
        &mut self,
        kind: EntryKind,
        digest: [u8; 32],
        bytes: &[u8],
        base: Option<[u8; 32]>,
    ) -> Result<PackEntry> {
        let base = base.filter(|b| *b != digest).and_then(|b| self.base_bytes_of(kind, &b).map(|bytes| (b, bytes)));
        let prepared = prepare(kind, bytes, base.as_ref().map(|(_, b)| b.as_slice()), self.level)?;
        self.append_prepared(kind, digest, bytes, base.map(|(b, _)| b), prepared)
    }

    /// The bytes of blob `digest` when it can be a delta base for the next
    /// entry: it is in this pack, shallower than the writer's depth limit,
    /// and still in the writer's base cache. For preparing entries off the
    /// writer ([`prepare`]).
    pub fn base_bytes(&self, digest: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.base_bytes_of(EntryKind::Object, digest)
    }

    /// [`PackWriter::base_bytes`] for an item of any kind: the bytes of
    /// item `digest` of `kind` (a delta's base is always of its own kind).
    pub fn base_bytes_of(&self, kind: EntryKind, digest: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        let e = self.get(kind, digest)?;
        if e.depth >= self.max_depth {
            return None;
        }
        self.recent.get(&(kind, *digest)).cloned()
    }

    /// The zstd level this writer compresses at.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// Appends an entry encoded by [`prepare`] (possibly on another
    /// thread) for the same `kind` and `bytes`, with `base` the digest of
    /// the base bytes given to it. The delta is used only if `base` can
    /// still be a base here (in this pack, shallower than the depth limit);
    /// otherwise the plain frame (computed now if [`prepare`] skipped it),
    /// or the raw bytes when that is not smaller.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] if zstd itself fails.
    pub fn append_prepared(
        &mut self,
        kind: EntryKind,
        digest: [u8; 32],
        bytes: &[u8],
        base: Option<[u8; 32]>,
        prepared: Prepared,
    ) -> Result<PackEntry> {
        let len = bytes.len() as u64;
        let Prepared { delta, plain } = prepared;
        let base_entry = match (base, &delta) {
            (Some(b), Some(_)) if b != digest => {
                self.get(kind, &b).filter(|e| e.depth < self.max_depth).map(|e| (b, e))
            }
            _ => None,
        };
        let (encoding, depth, frame, base_ref) = match (base_entry, delta) {
            (Some((b, e)), Some(d)) => (Encoding::Delta, e.depth + 1, Some(d), Some(b)),
            _ => {
                let plain = match plain {
                    Some(p) => Some(p),
                    None if len <= MAX_V2_SIZE => Some(crate::zdelta::compress(bytes, None, self.level)?),
                    None => None,
                };
                match plain {
                    Some(p) if p.len() < bytes.len() => (Encoding::Zstd, 0, Some(p), None),
                    _ => (Encoding::Raw, 0, None, None),
                }
            }
        };
        let offset = match (&frame, &base_ref) {
            (Some(f), Some(b)) => self.put(&[b, f])?,
            (Some(f), None) => self.put(&[f])?,
            _ => self.put(&[bytes])?,
        };
        let stored_len = self.flushed + self.buf.len() as u64 - offset;
        let e = PackEntry { digest, kind, offset, len, stored_len, encoding, depth };
        if encoding == Encoding::Delta {
            self.deltas += 1;
        }
        self.index.push(e);
        self.seen.insert((kind, digest), e);
        self.remember(kind, digest, bytes);
        Ok(e)
    }

    fn remember(&mut self, kind: EntryKind, digest: [u8; 32], bytes: &[u8]) {
        if bytes.len() > WRITER_BASE_BYTES / 4 || self.recent.contains_key(&(kind, digest)) {
            return;
        }
        while self.recent_bytes + bytes.len() > WRITER_BASE_BYTES {
            let Some(old) = self.recent_order.pop_front() else { break };
            if let Some(b) = self.recent.remove(&old) {
                self.recent_bytes -= b.len();
            }
        }
        self.recent.insert((kind, digest), Arc::new(bytes.to_vec()));
        self.recent_order.push_back((kind, digest));
        self.recent_bytes += bytes.len();
    }

    fn read_stored(&self, e: &PackEntry) -> Result<Vec<u8>> {
        let mut out = vec![0u8; e.stored_len as usize];
        let end = e.offset + e.stored_len;
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

    /// Reads back the item bytes of an appended entry (decoded).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] if its stored bytes do not decode
    /// (the file was changed behind the writer).
    pub fn read(&self, e: &PackEntry) -> Result<Vec<u8>> {
        let stored = self.read_stored(e)?;
        match e.encoding {
            Encoding::Raw => Ok(stored),
            Encoding::Zstd => crate::zdelta::decompress(&stored, None, e.len, "pack entry", &self.path),
            Encoding::Delta => {
                let digest: [u8; 32] = stored[..BASE_REF_LEN as usize].try_into().expect("32 bytes");
                let base_entry = self
                    .get(e.kind, &digest)
                    .filter(|b| b.depth < e.depth)
                    .ok_or_else(|| Error::corrupt("pack entry", &self.path, "delta base not in the pack"))?;
                let base = match self.recent.get(&(e.kind, digest)) {
                    Some(b) => Arc::clone(b),
                    None => Arc::new(self.read(&base_entry)?),
                };
                crate::zdelta::decompress(&stored[BASE_REF_LEN as usize..], Some(&base), e.len, "pack entry", &self.path)
            }
        }
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
    let old = registry().lock().unwrap_or_else(|p| p.into_inner()).get(&dir).cloned();
    let mut attempt = 0;
    loop {
        let before = SystemTime::now();
        let stamp = stamp_of(&dir);
        if let Some(old) = &old {
            if attempt == 0 && old.stamp == stamp && (old.trusted || !relist_untrusted) {
                return Arc::clone(old);
            }
        }
        let (mut set, vanished) = list_packs(&dir, stamp, old.as_deref());
        // A pack listed but gone when opened: a repack replaced it after
        // renaming its successor in; list again to find that one.
        if vanished && attempt < 4 {
            attempt += 1;
            continue;
        }
        let since_epoch =
            |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
        set.trusted = !vanished
            && match stamp {
                Some((mtime, _)) => mtime + (RACY_LISTING.as_nanos() as i128) < since_epoch(before),
                None => true,
            };
        let set = Arc::new(set);
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        if reg.len() >= MAX_CACHED_REPOS && !reg.contains_key(&dir) {
            reg.clear();
        }
        reg.insert(dir, Arc::clone(&set));
        return set;
    }
}

/// Lists `dir` and opens the packs not open in `old`; also returns whether
/// a listed pack was gone when opened.
fn list_packs(dir: &Path, stamp: Option<(i128, u64)>, old: Option<&PackSet>) -> (PackSet, bool) {
    let mut set = PackSet { stamp, ..PackSet::default() };
    let listed: Vec<OsString> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_str().is_some_and(|s| s.starts_with("pack-") && s.ends_with(".pack")))
            .collect(),
        Err(_) => Vec::new(),
    };
    let listed_set: HashSet<&OsString> = listed.iter().collect();
    // Packs already open stay open while they are listed.
    if let Some(old) = old {
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
    let mut vanished = false;
    for name in new {
        let path = dir.join(name);
        match Pack::open(&path) {
            Ok(p) => {
                set.packs.push(Arc::new(p));
                set.names.insert(name.clone());
            }
            Err(e) if e.is_not_found() => vanished = true,
            Err(e) => {
                log::warn!("skipping pack {}: {e}", path.display());
                set.broken.push((path, e.to_string()));
            }
        }
    }
    (set, vanished)
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

/// [`find`] for a writer about to skip writing an item because it is
/// already stored: the pack found is freshened ([`Pack::freshen`], git's
/// `freshen_packed_object`), so a prune beside the writer keeps it.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn find_for_write(root: &Path, kind: EntryKind, id: &str, relist: bool) -> Result<Option<(Arc<Pack>, PackEntry)>> {
    let found = find(root, kind, id, relist)?;
    if let Some((p, _)) = &found {
        p.freshen();
    }
    Ok(found)
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

/// A reader over one pack entry's item bytes (for streaming a large blob):
/// a raw entry is read straight from the file, a zstd entry through a
/// streaming decoder (memory bounded by zstd's window), a delta entry is
/// decoded whole on the first read. Not verified: the caller hashes what
/// it reads (a corrupt entry fails there or with an I/O error of kind
/// `InvalidData`).
pub struct EntryReader {
    pack: Arc<Pack>,
    entry: PackEntry,
    pos: u64,
    state: ReaderState,
}

enum ReaderState {
    Start,
    Stream(Box<dyn std::io::Read + Send>),
    Whole(std::io::Cursor<Vec<u8>>),
}

/// The stored bytes of a pack entry, as a reader (for the zstd decoder).
struct StoredReader {
    pack: Arc<Pack>,
    offset: u64,
    end: u64,
}

impl std::io::Read for StoredReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.end - self.offset) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.pack.file.read_exact_at(&mut buf[..n], self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

impl EntryReader {
    /// Reads `entry` of `pack` from its start.
    pub fn new(pack: Arc<Pack>, entry: PackEntry) -> EntryReader {
        EntryReader { pack, entry, pos: 0, state: ReaderState::Start }
    }

    fn start(&mut self) -> std::io::Result<()> {
        self.state = match self.entry.encoding {
            Encoding::Raw => return Ok(()),
            Encoding::Zstd => {
                let src = StoredReader {
                    pack: Arc::clone(&self.pack),
                    offset: self.entry.offset,
                    end: self.entry.offset + self.entry.stored_len,
                };
                let mut dec = zstd::stream::read::Decoder::with_buffer(std::io::BufReader::with_capacity(64 * 1024, src))?;
                dec.window_log_max(31)?;
                // Never more than the stated size (the caller's hash check
                // catches anything else).
                ReaderState::Stream(Box::new(std::io::Read::take(dec.single_frame(), self.entry.len)))
            }
            Encoding::Delta => {
                let bytes = self
                    .pack
                    .read(&self.entry, "object", u64::MAX)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
                ReaderState::Whole(std::io::Cursor::new(bytes))
            }
        };
        Ok(())
    }
}

impl std::io::Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if matches!(self.state, ReaderState::Start) && self.entry.encoding != Encoding::Raw {
            self.start()?;
        }
        match &mut self.state {
            ReaderState::Stream(r) => return r.read(buf),
            ReaderState::Whole(c) => return c.read(buf),
            ReaderState::Start => {}
        }
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
