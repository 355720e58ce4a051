//! Streaming bundle files (format version 2): history in one file, written
//! and read frame by frame with bounded memory (`muse bundle create|apply|verify`).
//!
//! The in-memory MPack dict ([`crate::mpack`], SPEC §7, format version 1)
//! stays the wire form of the remote protocol and of the Python
//! `muse.core.mpack` contract; a *file* is written in the format below,
//! which carries the same content (commits parents first, snapshots as
//! deltas, the blobs they introduce, branch heads) but with every entry
//! compressed, blobs as zstd deltas ([`crate::zdelta`]) against earlier
//! versions, and no ceiling on the file's size. [`Repository::apply_bundle`](crate::Repository::apply_bundle)
//! reads both: a file that does not start with [`BUNDLE_MAGIC`] is a v1
//! MPack map and goes through [`crate::mpack::apply_mpack`].
//!
//! # File format (version [`BUNDLE_FORMAT_VERSION`] = 2)
//!
//! ```text
//! file     := "MUSEBNDL" | version: u32 BE (= 2) | frame*
//! frame    := kind: u8 | len: u32 BE | payload: len bytes
//!
//! 'H' header    msgpack map {"prerequisites": [commit_id, …],
//!                            "branch_heads":  {branch: commit_id, …},
//!                            "commits":       n}          # for progress only
//! 'B' blob      id: 32 bytes (SHA-256 digest) | has_base: u8 (0 | 1)
//!               | [base: 32 bytes] | zstd frame (zdelta: with the base's
//!               full content as prefix when has_base = 1)
//! 'S' snapshot  zstd frame of msgpack SnapshotDelta {snapshot_id,
//!               parent_snapshot_id, delta_upsert, delta_remove} (SPEC §7),
//!               with the record context as prefix
//! 'C' commit    zstd frame of a msgpack CommitRecord (as records.rs writes
//!               it), with the record context as prefix
//! 'E' end       commits: u64 BE | snapshots: u64 BE | blobs: u64 BE
//!               | SHA-256 of every byte of the file before this frame
//! ```
//!
//! The header frame comes first and once, the end frame last, followed by
//! nothing. In between, for each commit in parents-first order
//! (depth-first from the `want` tips, first parent first, octopus parents
//! included: [`CommitRecord::all_parents`]): the blobs its snapshot
//! introduces, its snapshot, the commit record. The order is a
//! *requirement* on the reader's side: every reference must point at an
//! earlier frame or at something the receiving repository stores.
//!
//! * **Prerequisites** (git's bundle prerequisites): the *boundary*
//!   commits, parents of bundle commits that are not in the bundle. The
//!   receiver must store every one (else nothing is applied: "repository
//!   lacks these prerequisite commits"). A bundle of a whole history has
//!   none.
//! * **Blobs**: every blob of a snapshot delta's `delta_upsert` that
//!   neither an earlier frame nor a prerequisite's snapshot carries, once.
//!   A blob's *base* is the blob at the same path in the manifest its
//!   snapshot delta applies to; it is used when it is an earlier blob frame
//!   or in a prerequisite's snapshot (a *thin* bundle, like git's: the
//!   receiver has it). Delta chains inside the bundle are at most
//!   [`MAX_DELTA_DEPTH`] long (git's `pack.depth`): a base whose chain is
//!   that deep is replaced by the blob its chain had at half the depth.
//! * **Snapshots**: one per distinct snapshot of the bundle's commits
//!   that the receiver does not provably have, as a delta (SPEC §7). Its
//!   `parent_snapshot_id` is the commit's first parent's snapshot when
//!   that is one of the last [`SNAPSHOT_WINDOW`] snapshot frames, a *kept*
//!   snapshot, or a prerequisite's snapshot; else the last snapshot frame
//!   (else `nil`: the whole manifest). A snapshot frame may carry one more
//!   key, `"keep": n` (absent: 0): the number of later snapshot frames
//!   that name it as parent while it is *outside* the window (a topic
//!   branch forked long ago, a merge after a long side branch). The
//!   reader keeps such a manifest until those `n` uses are made, at most
//!   [`KEEP_MAX_SNAPSHOTS`] snapshots and [`KEEP_MAX_ENTRIES`] entries at
//!   once (the writer keeps within both, else sends no `keep` and uses the
//!   fallback base). A parent that is an earlier frame neither in the
//!   window nor kept is refused. A reader therefore holds a bounded number
//!   of manifests, whatever the history.
//! * **Record context**: snapshot and commit frames are zdelta frames
//!   whose base is the *record context*, a byte string both sides build
//!   alike: empty at the start; after each blob frame its ID
//!   (`sha256:` + hex) is appended, after each snapshot or commit frame its
//!   decompressed msgpack; once longer than [`CONTEXT_MAX`] bytes it keeps
//!   only its last [`CONTEXT_KEEP`]. (An empty context: no prefix.) The
//!   IDs a record repeats (its parent, its snapshot, the blobs just sent)
//!   and the field names then cost a few bytes each instead of 71. A
//!   writer may compress against a suffix of the context (match offsets
//!   count back from the record, so they land on the same bytes of the
//!   whole context): this writer uses its last 8 KiB.
//! * **Frame bounds**: a blob frame's payload is at most
//!   `Limits::max_blob_bytes` (+ zstd's bound and the 65-byte prefix) and
//!   decompresses to at most `Limits::max_blob_bytes`; header, snapshot and
//!   commit frames are at most [`MAX_MSGPACK_BYTES`] both ways, and a
//!   snapshot delta has at most `Limits::max_entries` entries. The file as
//!   a whole has no limit (`Limits::max_bundle_bytes` applies to v1 files
//!   only).
//!
//! # Writing ([`Repository::create_bundle`](crate::Repository::create_bundle))
//!
//! The commit walk is [`crate::mpack`]'s paint-down walk, holding IDs and
//! snapshot IDs only. Frames are written to a temporary file beside the
//! destination (`.muse-bundle-*`), which is synced and renamed over the
//! destination only when complete: a killed `create` leaves no half file
//! under the final name. A blob the store holds in a pack as a zstd frame,
//! or as a delta on a blob the receiver will hold by then (an earlier
//! frame less than [`MAX_DELTA_DEPTH`] deep, or a prerequisite's), is
//! copied into its frame exactly as stored, neither decompressed nor
//! compressed again (git's pack reuse); manifests are rebuilt from the
//! stored snapshot records on manifests already at hand, and a stored
//! delta on the chosen parent is sent as it is; commit records are sent as
//! stored. None of this is re-verified on the sending side: the receiver
//! verifies every frame. A bundle of whole histories (no `have`) first
//! reads every packed commit on all cores instead of one at a time down
//! the parents, keeping their stored bytes (up to 64 MiB) for the commit
//! frames.
//!
//! Three threads share the work: the walk in file order (manifests,
//! deltas, the choice of each frame), a read-ahead thread that reads each
//! commit's stored record and snapshot record up to 256 commits ahead of
//! it, and a writer thread that compresses chunks of 64 frames in parallel
//! (rayon) and writes them in order, at most 4 chunks behind the walk. Memory: the
//! [`SNAPSHOT_WINDOW`] manifests, a byte-bounded cache of recently read
//! blob contents (delta bases), the set of blob digests sent (with each
//! one's chain depth and base), the walk's commit IDs, and the queued
//! chunks.
//!
//! # Reading ([`Repository::apply_bundle`](crate::Repository::apply_bundle), [`Repository::verify_bundle`](crate::Repository::verify_bundle))
//!
//! 1. A structural pass reads the file once, frame headers and bytes,
//!    checking the magic, version, frame kinds, lengths against the
//!    limits, the header first and the end frame last with nothing after
//!    it, and the end frame's SHA-256: truncation and corruption are
//!    found before any work.
//! 2. The main pass verifies every entry again as it goes (the file could
//!    change in between: the SHA-256 is recomputed and checked at the end):
//!    every blob is decompressed (its base read from the blob cache, or
//!    rebuilt from its earlier frames in the file, or read from the
//!    repository; a base that is neither earlier nor stored is an error
//!    naming it) and hash-verified; every snapshot's manifest is rebuilt
//!    and hash-verified, its paths checked exactly as
//!    [`crate::mpack::apply_mpack`] does
//!    ([`crate::paths::validate_incoming_path`]: no `..`, `.muse`, `.git`
//!    or alias of them; [`crate::paths::check_no_file_dir_clash`]), every
//!    blob it names earlier or stored; every commit verified
//!    ([`CommitRecord::validate`]), its snapshot and parents earlier or
//!    stored; no entry twice; the counts of the end frame; the branch heads.
//!    Manifests are rebuilt as persistent maps (`imbl`'s B-tree: a
//!    snapshot's shares every unchanged node with its parent's, so
//!    rebuilding one costs its delta, not its size) and handed to the write
//!    batch as a [`crate::records::SnapshotView`].
//!    The SHA-256 checks (every blob, every rebuilt manifest and its
//!    file/directory clashes) run on a second thread beside the pass; the
//!    pass waits for them before anything is committed and reports the
//!    failure at the smallest byte offset.
//! 3. Everything is written through one write batch
//!    ([`crate::store::WriteBatch`]: [`crate::batch::Batch`] on disk, which
//!    stages a pack for a big batch; a blob frame is kept there as it is,
//!    a delta when its base is in the same pack) and made durable and visible by its
//!    single commit. On any failure the batch is dropped: nothing becomes
//!    visible, no ref moves, the error names the first bad entry and its
//!    byte offset. `apply_bundle` moves no ref: the verified branch heads
//!    are returned for the caller (the CLI's `--update-refs`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::ids::{blob_id, digest_from_id, hash_sorted_snapshot, id_from_digest, validate_id, BlobId, CommitId, Digest, SnapshotId};
use crate::manifest::{Manifest, Shared, SharedView};
use crate::mpack::{load_manifest, ApplyStats, Limits, SnapshotDelta, Walk};
use crate::paths::{check_no_file_dir_clash, validate_incoming_path};
use crate::records::{now_iso, CommitRecord, MAX_MSGPACK_BYTES};
use crate::refs::validate_branch_name;
use crate::store::{Backend, WriteBatch};
use crate::zdelta;

/// The first 8 bytes of a v2 bundle file.
pub const BUNDLE_MAGIC: &[u8; 8] = b"MUSEBNDL";

/// The bundle file format version this code writes (v1 is the MPack map of
/// [`crate::mpack`], read but no longer written to files).
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

/// Longest chain of blob deltas inside one bundle (git's `pack.depth`
/// default): a reader rebuilds at most this many frames to get a base that
/// fell out of its cache.
pub const MAX_DELTA_DEPTH: u16 = 50;

/// How many of the latest snapshot frames a snapshot delta may name as its
/// parent (besides snapshots the receiver stores); also the number of
/// manifests a reader holds.
pub const SNAPSHOT_WINDOW: usize = 8;

/// Most snapshots a reader keeps beyond the window at once (frames with a
/// `keep` count; see the module docs).
pub const KEEP_MAX_SNAPSHOTS: usize = 512;
/// Most manifest entries, summed, of the snapshots a reader keeps beyond
/// the window at once.
pub const KEEP_MAX_ENTRIES: usize = 2_000_000;

/// Bytes of decompressed blob content each side caches as delta bases.
const BLOB_CACHE_BYTES: usize = 192 << 20;

/// The record context grows to at most this many bytes ...
pub const CONTEXT_MAX: usize = 32 << 10;
/// ... then keeps only its last this many.
pub const CONTEXT_KEEP: usize = 16 << 10;

/// zstd level of snapshot and commit frames. Each is compressed against
/// the record context's last [`ENCODE_CONTEXT`] bytes, which zstd indexes
/// anew for every frame; level 1 indexes it once instead of twice (level 3)
/// and the records, mostly IDs the context already holds, compress almost
/// as well.
const RECORD_LEVEL: i32 = 1;

/// Frames compressed in parallel at a time by [`Repository::create_bundle`]
/// (bounds what a chunk holds).
const CHUNK_JOBS: usize = 64;

/// Chunks of jobs `create` queues for the writing thread at most.
const CHUNKS_QUEUED: usize = 4;

/// The part of the record context (its last bytes) `create` compresses a
/// record frame against; the reader decodes against the whole context
/// (see [`make_frame`]).
const ENCODE_CONTEXT: usize = 8 << 10;

/// Bytes of stored commit records `create` keeps from reading every packed
/// commit up front (past it, commit frames read their records again).
const KEEP_COMMIT_BYTES: usize = 64 << 20;

/// Commits `create`'s read-ahead thread reads ahead of the walk at most.
const READ_AHEAD: usize = 256;

/// What `create`'s read-ahead thread read for one commit (in file order):
/// its stored bytes and, the first time its snapshot comes, the snapshot's
/// stored record. `None`: not read there (the walk reads it itself).
#[derive(Default)]
struct Ahead {
    commit: Option<Result<Option<Vec<u8>>>>,
    snapshot: Option<Result<Option<crate::snapshots::StoredSnapshot>>>,
}

const KIND_HEADER: u8 = b'H';
const KIND_BLOB: u8 = b'B';
const KIND_SNAPSHOT: u8 = b'S';
const KIND_COMMIT: u8 = b'C';
const KIND_END: u8 = b'E';
/// Payload size of the end frame: three counts and a SHA-256.
const END_LEN: usize = 8 * 3 + 32;
/// Bytes before the first frame: magic and version.
const PREAMBLE_LEN: u64 = 12;

/// What [`Repository::create_bundle`](crate::Repository::create_bundle) wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateStats {
    /// Commit frames.
    pub commits: usize,
    /// Snapshot frames.
    pub snapshots: usize,
    /// Blob frames.
    pub blobs: usize,
    /// Blob frames stored as a delta against another blob.
    pub blob_deltas: usize,
    /// Blob frames copied from a pack entry as they were stored (no
    /// recompression; git's pack reuse).
    pub blobs_reused: usize,
    /// Size of the file, in bytes.
    pub bytes: u64,
    /// The bundle's prerequisite commits (the boundary; see the module docs).
    pub prerequisites: Vec<String>,
    /// `{branch: commit_id}`: the local branches at the `want` tips.
    pub branch_heads: BTreeMap<String, String>,
}

/// A bundle file's format, told by its first bytes ([`bundle_format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleFormat {
    /// A v1 MPack map ([`crate::mpack`]).
    MPackV1,
    /// The streaming format of this module.
    StreamV2,
}

/// What [`Repository::verify_bundle`](crate::Repository::verify_bundle) found (nothing written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleInfo {
    /// Format version of the file (1 or 2).
    pub version: u32,
    /// Commits in the bundle.
    pub commits: usize,
    /// Snapshot entries in the bundle.
    pub snapshots: usize,
    /// Blob entries in the bundle.
    pub blobs: usize,
    /// Prerequisite commits (all present, or `verify_bundle` fails).
    pub prerequisites: Vec<String>,
    /// `{branch: commit_id}` the bundle carries.
    pub branch_heads: BTreeMap<String, String>,
}

fn bad(file: &Path, detail: impl Into<String>) -> Error {
    Error::corrupt("bundle", file, detail)
}

/// The format of the bundle file at `path`: [`BundleFormat::StreamV2`] when
/// it starts with [`BUNDLE_MAGIC`], else [`BundleFormat::MPackV1`].
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read.
pub fn bundle_format(path: &Path) -> Result<BundleFormat> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        let n = f.read(&mut head[got..]).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(if got == head.len() && &head == BUNDLE_MAGIC { BundleFormat::StreamV2 } else { BundleFormat::MPackV1 })
}

// ---------------------------------------------------------------------------
// Blob content cache (both sides)
// ---------------------------------------------------------------------------

/// A cached blob and its eviction key (superseded?, last use).
type CacheSlot = (Arc<Vec<u8>>, (u8, u64));

/// Decompressed blobs by digest, at most `cap` bytes. Eviction takes
/// *superseded* blobs first (those already used as a delta base: their
/// successor now carries the path's history), then the least recently used.
struct BlobCache {
    map: HashMap<Digest, CacheSlot>,
    order: BTreeMap<(u8, u64), Digest>,
    bytes: usize,
    cap: usize,
    tick: u64,
}

impl BlobCache {
    fn new(cap: usize) -> Self {
        BlobCache { map: HashMap::new(), order: BTreeMap::new(), bytes: 0, cap, tick: 0 }
    }

    fn get(&mut self, d: &Digest) -> Option<Arc<Vec<u8>>> {
        self.tick += 1;
        let tick = self.tick;
        let (content, key) = self.map.get_mut(d)?;
        self.order.remove(key);
        *key = (1, tick);
        self.order.insert(*key, *d);
        Some(Arc::clone(content))
    }

    fn insert(&mut self, d: Digest, content: Arc<Vec<u8>>) {
        if content.len() > self.cap / 4 {
            return;
        }
        self.tick += 1;
        let key = (1, self.tick);
        self.bytes += content.len();
        if let Some((old, old_key)) = self.map.insert(d, (content, key)) {
            self.bytes -= old.len();
            self.order.remove(&old_key);
        }
        self.order.insert(key, d);
        while self.bytes > self.cap {
            let Some((_, victim)) = self.order.pop_first() else { break };
            if let Some((c, _)) = self.map.remove(&victim) {
                self.bytes -= c.len();
            }
        }
    }

    /// Marks `d` superseded (first to go).
    fn demote(&mut self, d: &Digest) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, key)) = self.map.get_mut(d) {
            self.order.remove(key);
            *key = (0, tick);
            self.order.insert(*key, *d);
        }
    }
}

/// A manifest as `create` holds it: a [`Shared`] map (persistent, nodes
/// shared). A snapshot's manifest built from another's (a stored delta
/// record applied: `remove`, then `upsert`) copies only the nodes on the
/// changed paths, and [`Built::diff`] of two manifests built from each
/// other skips the nodes they share (`imbl`'s `diff`), so a delta costs
/// the change, not the two whole maps. (An earlier form stacked changes as
/// layers flattened every 32; on git's whole history two manifests often
/// shared no layer and each diff flattened both: half of `create`'s time.)
struct Built(Shared);

impl Built {
    fn full(m: Manifest) -> Arc<Built> {
        Arc::new(Built(crate::manifest::manifest_to_shared(m)))
    }

    /// `base` without the paths of `remove`, then with `upsert`.
    fn on(base: &Arc<Built>, upsert: &Manifest, remove: &[String]) -> Arc<Built> {
        let mut m = base.0.clone();
        for p in remove {
            m.remove(p.as_str());
        }
        for (p, oid) in upsert {
            // The blob ID string is shared when the path already had it.
            match m.get(p.as_str()) {
                Some(v) if **v == **oid => {}
                _ => {
                    m.insert(Arc::from(p.as_str()), Arc::from(oid.as_str()));
                }
            }
        }
        Arc::new(Built(m))
    }

    fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(|v| &**v)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// `(upsert, remove)` turning `base` into `target` (what
    /// [`crate::mpack::diff_sorted`] gives for their whole maps), both sorted by path.
    fn diff(base: &Arc<Built>, target: &Arc<Built>) -> (Manifest, Vec<String>) {
        let mut upsert = Manifest::new();
        let mut remove = Vec::new();
        if Arc::ptr_eq(base, target) {
            return (upsert, remove);
        }
        for item in base.0.diff(&target.0) {
            match item {
                imbl::ordmap::DiffItem::Add(k, v) | imbl::ordmap::DiffItem::Update { new: (k, v), .. } => {
                    upsert.insert(k.to_string(), v.to_string());
                }
                imbl::ordmap::DiffItem::Remove(k, _) => remove.push(k.to_string()),
            }
        }
        (upsert, remove)
    }

    /// The whole map.
    #[cfg(test)]
    fn flatten(&self) -> Manifest {
        crate::manifest::shared_to_manifest(&self.0)
    }
}

/// Most manifests [`Manifests`] keeps beyond the window and the kept set.
/// Built from each other, they share their unchanged nodes; what they cost
/// is bounded by [`MANIFEST_LRU_CHARGE`].
const MANIFEST_LRU: usize = 4096;
/// Most memory the kept manifests may hold, in manifest entries (about
/// 100 bytes each): a manifest read whole is charged its length, one built
/// on another [`CHARGE_PER_CHANGE`] per changed path (the B-tree nodes
/// copied on its path).
const MANIFEST_LRU_CHARGE: usize = 2_000_000;
/// See [`MANIFEST_LRU_CHARGE`].
const CHARGE_PER_CHANGE: usize = 32;

/// The manifests `create` needs, built from the stored snapshot records
/// (each a full manifest or a delta on a base) on manifests it already
/// holds — the window, the kept set, or an LRU of recently built ones
/// (a stored delta's base is usually among them: the record's parent, or
/// the ancestor a skip delta names) — instead of rebuilding each one from
/// its checkpoint and hashing it ([`load_manifest`]). The sender's store
/// is not re-verified here: the receiver verifies every manifest against
/// its ID (a corrupt record makes a bundle that `apply` refuses; `muse
/// verify` finds it at the source). Stores other than the filesystem
/// store go through [`load_manifest`].
struct Manifests<'s> {
    store: &'s dyn Backend,
    root: Option<PathBuf>,
    /// Snapshot ID → (manifest, last use, charge).
    lru: HashMap<String, (Arc<Built>, u64, usize)>,
    /// Last use → snapshot ID, oldest first.
    order: BTreeMap<u64, String>,
    charge: usize,
    tick: u64,
}

impl<'s> Manifests<'s> {
    fn new(store: &'s dyn Backend) -> Self {
        let root = store.as_fs().map(|fs| fs.root().to_path_buf());
        Manifests { store, root, lru: HashMap::new(), order: BTreeMap::new(), charge: 0, tick: 0 }
    }

    fn known(
        &mut self,
        sid: &str,
        window: &Window<Built>,
        kept: &HashMap<String, (Arc<Built>, u32)>,
    ) -> Option<Arc<Built>> {
        if let Some(m) = window.get(sid).or_else(|| kept.get(sid).map(|(m, _)| Arc::clone(m))) {
            return Some(m);
        }
        self.tick += 1;
        let tick = self.tick;
        let (m, t, _) = self.lru.get_mut(sid)?;
        self.order.remove(t);
        *t = tick;
        self.order.insert(tick, sid.to_string());
        Some(Arc::clone(m))
    }

    /// Keeps `m` as snapshot `sid`'s manifest, charged `charge` (see
    /// [`MANIFEST_LRU_CHARGE`]), dropping the least recently used ones
    /// beyond the bounds.
    fn remember(&mut self, sid: &str, m: &Arc<Built>, charge: usize) {
        if charge > MANIFEST_LRU_CHARGE / 4 || self.lru.contains_key(sid) {
            return;
        }
        while self.lru.len() >= MANIFEST_LRU || (!self.lru.is_empty() && self.charge + charge > MANIFEST_LRU_CHARGE) {
            let Some((_, old)) = self.order.pop_first() else { break };
            if let Some((_, _, c)) = self.lru.remove(&old) {
                self.charge -= c;
            }
        }
        self.tick += 1;
        self.charge += charge;
        self.order.insert(self.tick, sid.to_string());
        self.lru.insert(sid.to_string(), (Arc::clone(m), self.tick, charge));
    }

    /// Snapshot `sid`'s manifest and, when its stored record is a delta,
    /// that delta (see [`StoredDelta::reuse`]).
    ///
    /// `ahead`, when given, is what reading `sid`'s stored record gave on
    /// the read-ahead thread (used instead of reading it again).
    fn get(
        &mut self,
        sid: &str,
        what: impl Fn() -> String,
        window: &Window<Built>,
        kept: &HashMap<String, (Arc<Built>, u32)>,
        mut ahead: Option<Result<Option<crate::snapshots::StoredSnapshot>>>,
    ) -> Result<(Arc<Built>, Option<StoredDelta>)> {
        if let Some(m) = self.known(sid, window, kept) {
            return Ok((m, None));
        }
        let Some(root) = self.root.clone() else {
            return Ok((Built::full(load_manifest(self.store, sid, what)?), None));
        };
        // Down the stored chain to a manifest at hand or a full record.
        let mut chain: Vec<(String, StoredDelta)> = Vec::new();
        let mut cur = sid.to_string();
        let start = loop {
            if !chain.is_empty() {
                if let Some(m) = self.known(&cur, window, kept) {
                    break m;
                }
            }
            let read = match ahead.take() {
                Some(r) if chain.is_empty() => r,
                _ => crate::snapshots::read_stored_snapshot(&root, &cur),
            };
            let st = match read? {
                Some(st) if st.snapshot_id == cur && chain.len() <= usize::from(crate::pack::MAX_CHAIN_DEPTH) * 4 => st,
                // Absent, odd or very deep: the verified way.
                _ => return Ok((Built::full(load_manifest(self.store, sid, what)?), None)),
            };
            match st.form {
                crate::snapshots::StoredForm::Full(m) => {
                    let m = Built::full(m);
                    if chain.is_empty() {
                        self.remember(sid, &m, m.len());
                        return Ok((m, None));
                    }
                    self.remember(&cur, &m, m.len());
                    break m;
                }
                crate::snapshots::StoredForm::Delta { base, upsert, remove, .. } => {
                    let next = base.clone();
                    chain.push((cur, StoredDelta { base, upsert, remove }));
                    cur = next;
                }
            }
        };
        let mut m = start;
        let mut last = None;
        while let Some((id, d)) = chain.pop() {
            m = Built::on(&m, &d.upsert, &d.remove);
            let charge = ((d.upsert.len() + d.remove.len()) * CHARGE_PER_CHANGE + 1).min(m.len());
            self.remember(&id, &m, charge);
            last = Some(d);
        }
        Ok((m, last))
    }
}

/// A stored snapshot delta record's parts (see [`Manifests::get`]).
struct StoredDelta {
    base: String,
    upsert: Manifest,
    remove: Vec<String>,
}

impl StoredDelta {
    /// The bundle's snapshot delta on `base_id` when it is this record's
    /// base: the stored change itself, no manifest comparison. (A stored
    /// delta removes before it upserts, a bundle's applies its upserts
    /// first: a record naming one path in both is not reused.)
    fn reuse(self, base_id: Option<&str>) -> Option<(Manifest, Vec<String>)> {
        if base_id != Some(self.base.as_str()) || self.remove.iter().any(|p| self.upsert.contains_key(p)) {
            return None;
        }
        Some((self.upsert, self.remove))
    }
}

/// The last [`SNAPSHOT_WINDOW`] snapshot frames' manifests, oldest first
/// (as [`Built`] manifests on the writing side).
struct Window<M = Shared>(VecDeque<(String, Arc<M>)>);

impl<M> Default for Window<M> {
    fn default() -> Self {
        Window(VecDeque::new())
    }
}

impl<M> Window<M> {
    fn get(&self, sid: &str) -> Option<Arc<M>> {
        self.0.iter().find(|(s, _)| s == sid).map(|(_, m)| Arc::clone(m))
    }

    fn last(&self) -> Option<(String, Arc<M>)> {
        self.0.back().map(|(s, m)| (s.clone(), Arc::clone(m)))
    }

    fn push(&mut self, sid: String, m: Arc<M>) {
        if self.0.len() == SNAPSHOT_WINDOW {
            self.0.pop_front();
        }
        self.0.push_back((sid, m));
    }
}

/// The record context (see the module docs): the bytes snapshot and commit
/// frames are compressed against, the same on both sides.
#[derive(Default)]
struct RecordContext(Vec<u8>);

impl RecordContext {
    /// What the next record frame is compressed against (`None`: nothing).
    fn prefix(&self) -> Option<&[u8]> {
        (!self.0.is_empty()).then_some(self.0.as_slice())
    }

    /// Appends what a frame contributes, then trims to the last
    /// [`CONTEXT_KEEP`] bytes once over [`CONTEXT_MAX`].
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > CONTEXT_MAX {
            let cut = self.0.len() - CONTEXT_KEEP;
            self.0.drain(..cut);
        }
    }

}

fn digest(id: &str) -> Result<Digest> {
    digest_from_id(id).ok_or_else(|| Error::InvalidId { id: id.to_string(), reason: "not sha256: + 64 hex" })
}

// ---------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------

/// The record context on the writing side: the same bytes as
/// [`RecordContext`], kept as one stream buffer per chunk of jobs, so that
/// a record job names its prefix as a range of that buffer instead of
/// copying the whole context (up to [`CONTEXT_MAX`] bytes per record).
#[derive(Default)]
struct ContextLog {
    /// The stream's bytes from stream offset `origin` on.
    buf: Vec<u8>,
    origin: usize,
    /// Stream offset where the context starts.
    start: usize,
}

impl ContextLog {
    fn end(&self) -> usize {
        self.origin + self.buf.len()
    }

    /// Appends what a frame contributes ([`RecordContext::push`]'s rule).
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.end() - self.start > CONTEXT_MAX {
            self.start = self.end() - CONTEXT_KEEP;
        }
    }

    /// Queues record frame `raw` of `kind`, compressed against the context
    /// as it is now (a range of the buffer [`ContextLog::take`] returns).
    fn record(&mut self, jobs: &mut Vec<Job>, kind: u8, raw: Vec<u8>) {
        let ctx = (self.start - self.origin, self.end() - self.origin);
        self.push(&raw);
        jobs.push(Job::Record { kind, raw, ctx });
    }

    /// The buffer the queued jobs' ranges index; keeps only the context.
    fn take(&mut self) -> Vec<u8> {
        let keep = self.buf[self.start - self.origin..].to_vec();
        self.origin = self.start;
        std::mem::replace(&mut self.buf, keep)
    }
}

/// One frame to produce, in file order.
enum Job {
    /// A blob, with its delta base (`None`: compressed alone) and the base's
    /// content when the cache had it.
    Blob { id: Digest, base: Option<(Digest, Option<Arc<Vec<u8>>>)> },
    /// A snapshot delta or commit record (`kind`): its msgpack bytes and
    /// the range of the chunk's context buffer to compress it against
    /// ([`ContextLog`]; an empty range: no prefix).
    Record { kind: u8, raw: Vec<u8>, ctx: (usize, usize) },
    /// A blob whose stored pack entry is copied as it is (git's pack reuse):
    /// its zdelta frame, on `base` when the entry is a delta.
    Copy { id: Digest, base: Option<Digest>, frame: Vec<u8> },
}

/// An encoded frame (kind, payload) and, for a blob, its content for the
/// cache.
type Made = (u8, Vec<u8>, Option<(Digest, Arc<Vec<u8>>)>);

fn make_frame(store: &dyn Backend, job: &Job, contexts: &[u8]) -> Result<Made> {
    match job {
        Job::Blob { id, base } => {
            let oid = BlobId::parse(&id_from_digest(id))?;
            let content = store.read_blob(&oid)?;
            let mut payload = Vec::with_capacity(65 + content.len() / 3);
            payload.extend_from_slice(id);
            let frame = match base {
                None => {
                    payload.push(0);
                    zdelta::compress(&content, None, zdelta::DEFAULT_LEVEL)?
                }
                Some((b, cached)) => {
                    payload.push(1);
                    payload.extend_from_slice(b);
                    let bytes = match cached {
                        Some(c) => Arc::clone(c),
                        None => Arc::new(store.read_blob(&BlobId::parse(&id_from_digest(b))?)?),
                    };
                    zdelta::compress(&content, Some(&bytes), zdelta::DEFAULT_LEVEL)?
                }
            };
            payload.extend_from_slice(&frame);
            Ok((KIND_BLOB, payload, Some((*id, Arc::new(content)))))
        }
        Job::Record { kind, raw, ctx: (from, to) } => {
            // Only the context's last `ENCODE_CONTEXT` bytes are indexed:
            // match offsets count back from the record, so a frame made
            // against a suffix of the reader's context decodes against the
            // whole of it, and zstd indexes a prefix position by position.
            let from = (*from).max(to.saturating_sub(ENCODE_CONTEXT));
            let prefix = contexts.get(from..*to).filter(|p| !p.is_empty());
            Ok((*kind, zdelta::compress(raw, prefix, RECORD_LEVEL)?, None))
        }
        Job::Copy { id, base, frame } => {
            let mut payload = Vec::with_capacity(65 + frame.len());
            payload.extend_from_slice(id);
            match base {
                None => payload.push(0),
                Some(b) => {
                    payload.push(1);
                    payload.extend_from_slice(b);
                }
            }
            payload.extend_from_slice(frame);
            Ok((KIND_BLOB, payload, None))
        }
    }
}

/// A reusable stored entry: its base and the base's depth in the bundle,
/// and the frame ([`reusable_entry`]).
type Reusable = (Option<(Digest, u16)>, Vec<u8>);

/// The stored pack entry of blob `d` when it can be copied into the bundle
/// unchanged (git's pack reuse: no decompression, no recompression): a zstd
/// frame, or a delta frame whose base the receiver will hold by the time it
/// reads this one (a prerequisite's blob, or a blob sent earlier less than
/// [`MAX_DELTA_DEPTH`] frames down its chain). Returns the base, its chain
/// depth in the bundle (0 for a prerequisite's) and the frame. `None` for a
/// loose blob, a raw entry, a v1 pack, or a delta on anything else: the
/// caller then compresses the blob itself.
///
/// The copied bytes are not decoded here: the receiver decodes and
/// hash-verifies every blob frame (a corrupt stored entry makes a bundle
/// that `apply`/`verify` refuse; `muse verify` finds it at the source).
fn reusable_entry(
    root: &Path,
    d: &Digest,
    have_blobs: &HashSet<Digest>,
    sent: &HashMap<Digest, Sent>,
) -> Result<Option<Reusable>> {
    use crate::pack::{EntryKind, Encoding};
    let Some((pack, e)) = crate::pack::find(root, EntryKind::Object, &id_from_digest(d), false)? else {
        return Ok(None);
    };
    match e.encoding {
        Encoding::Raw => Ok(None),
        Encoding::Zstd => Ok(Some((None, pack.raw_entry(&e)?))),
        Encoding::Delta => {
            let mut stored = pack.raw_entry(&e)?;
            let Some(b) = stored.get(..32).and_then(|s| <[u8; 32]>::try_from(s).ok()) else { return Ok(None) };
            let depth = if have_blobs.contains(&b) {
                0
            } else {
                match sent.get(&b) {
                    Some(s) if s.depth < MAX_DELTA_DEPTH => s.depth,
                    _ => return Ok(None),
                }
            };
            stored.drain(..32);
            Ok(Some((Some((b, depth)), stored)))
        }
    }
}

/// A writer that hashes and counts what goes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        self.inner.write_all(bytes).map_err(|e| Error::io("write", path, e))?;
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn frame(&mut self, kind: u8, payload: &[u8], path: &Path) -> Result<()> {
        let len = u32::try_from(payload.len()).map_err(|_| Error::TooLarge {
            what: "bundle frame",
            path: path.to_path_buf(),
            size: payload.len() as u64,
            limit: u64::from(u32::MAX),
        })?;
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_be_bytes());
        self.put(&head, path)?;
        self.put(payload, path)
    }
}

/// Per blob sent: chain depth inside the bundle and delta base.
struct Sent {
    depth: u16,
    base: Option<Digest>,
}

/// [`Repository::create_bundle`] from `store`.
pub(crate) fn create_to(
    store: &dyn Backend,
    path: &Path,
    want: &[CommitId],
    have: &[CommitId],
    progress: &dyn Fn(&str, u64, u64),
) -> Result<CreateStats> {
    let want: Vec<String> = want.iter().map(ToString::to_string).collect();
    progress("counting commits", 0, 1);
    let mut walk = Walk::new(store, false);
    // A bundle of whole histories (no `have`): every packed commit is read
    // up front on all cores, not one at a time down the parents (the walk
    // then meets them already read; what it does not meet is dropped), and
    // their stored bytes are kept for the commit frames (up to
    // [`KEEP_COMMIT_BYTES`] in all). An entry that does not read is left to
    // the walk, which reports it if the bundle needs it.
    let mut commit_bytes: HashMap<String, Vec<u8>> = HashMap::new();
    if let (true, Some(fs)) = (have.is_empty(), store.as_fs()) {
        let root = fs.root();
        let ids = crate::pack::packed_ids(root, crate::pack::EntryKind::Commit);
        let read: Vec<_> = ids
            .par_iter()
            .filter_map(|id| crate::commits::read_commit_and_bytes(root, id).ok().flatten().map(|r| (id, r)))
            .collect();
        let mut kept = 0usize;
        for (id, (rec, bytes)) in read {
            walk.insert(id, rec);
            if kept + bytes.len() <= KEEP_COMMIT_BYTES {
                kept += bytes.len();
                commit_bytes.insert(id.clone(), bytes);
            }
        }
    }
    for id in &want {
        if !walk.load(id)? {
            return Err(Error::NotFound { what: "commit", name: id.clone() });
        }
        walk.mark(id, crate::mpack::WANT);
    }
    for id in have {
        let id = id.to_string();
        if walk.load(&id)? {
            walk.mark(&id, crate::mpack::HAVE);
        }
    }
    walk.run()?;
    let order = walk.topo_order(&want);
    progress("counting commits", 1, 1);

    // Prerequisites: the boundary. Their snapshots and blobs are the
    // receiver's.
    let mut prerequisites: Vec<String> = Vec::new();
    let mut seen_boundary: HashSet<&str> = HashSet::new();
    for id in &order {
        let Some(n) = walk.nodes.get(id) else { continue };
        for p in &n.parents {
            if !walk.in_bundle(p) && seen_boundary.insert(p.as_str()) {
                prerequisites.push(p.clone());
            }
        }
    }
    let mut receiver_snaps: HashSet<String> = HashSet::new();
    let mut have_blobs: HashSet<Digest> = HashSet::new();
    for p in &prerequisites {
        let Some(n) = walk.nodes.get(p) else { continue };
        if receiver_snaps.insert(n.snapshot_id.clone()) {
            let m = load_manifest(store, &n.snapshot_id, || format!("snapshot of prerequisite {p}"))?;
            for oid in m.values() {
                have_blobs.insert(digest(oid)?);
            }
        }
    }

    let want_set: HashSet<&str> = want.iter().map(String::as_str).collect();
    let branch_heads: BTreeMap<String, String> = store
        .branches()?
        .into_iter()
        .map(|(name, id)| (name, id.to_string()))
        .filter(|(_, id)| want_set.contains(id.as_str()))
        .collect();

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".muse-bundle-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create temporary file in", &dir, e))?;
    let mut out =
        HashingWriter { inner: BufWriter::with_capacity(1 << 20, tmp.as_file()), hash: Sha256::new(), bytes: 0 };
    let mut pre = Vec::with_capacity(PREAMBLE_LEN as usize);
    pre.extend_from_slice(BUNDLE_MAGIC);
    pre.extend_from_slice(&BUNDLE_FORMAT_VERSION.to_be_bytes());
    out.put(&pre, path)?;
    let header = Header { prerequisites: prerequisites.clone(), branch_heads: branch_heads.clone(), commits: order.len() as u64 };
    let hb = rmp_serde::to_vec_named(&header).map_err(|e| Error::InvalidInput(format!("cannot encode header: {e}")))?;
    out.frame(KIND_HEADER, &hb, path)?;

    let mut stats = CreateStats { prerequisites, branch_heads, ..CreateStats::default() };
    let mut window: Window<Built> = Window::default();
    let mut emitted: HashSet<String> = HashSet::new();
    let mut sent: HashMap<Digest, Sent> = HashMap::new();
    let cache = std::sync::Mutex::new(BlobCache::new(BLOB_CACHE_BYTES));
    let mut jobs: Vec<Job> = Vec::new();
    let mut rctx = ContextLog::default();
    let total = order.len() as u64;
    let fs_root = store.as_fs().map(|fs| fs.root().to_path_buf());
    let fs_root = fs_root.as_deref();
    let mut manifests = Manifests::new(store);

    // Frames are made and written on a second thread (the writer), a chunk
    // of [`CHUNK_JOBS`] jobs at a time compressed in parallel, while this
    // thread walks on and queues the next chunks (at most `CHUNKS_QUEUED`
    // wait): the two overlap instead of taking turns. A blob job made before
    // its delta base reached the cache reads the base from the store. Each
    // chunk comes with the context buffer its record jobs index.
    let flush = |jobs: &[Job], contexts: &[u8], out: &mut HashingWriter<_>| -> Result<()> {
        let made: Vec<Result<Made>> =
            jobs.par_iter().with_max_len(1).map(|j| make_frame(store, j, contexts)).collect();
        let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (job, m) in jobs.iter().zip(made) {
            let (kind, payload, content) = m?;
            out.frame(kind, &payload, path)?;
            if let (Job::Blob { base: Some((b, _)), .. }, _) = (job, &content) {
                cache.demote(b);
            }
            if let Some((d, c)) = content {
                cache.insert(d, c);
            }
        }
        Ok(())
    };

    // Which snapshots later frames name as parent from outside the window:
    // the "keep" counts (simulating the frame sequence).
    let mut uses: HashMap<String, u32> = HashMap::new();
    {
        let mut frame_of: HashMap<&str, usize> = HashMap::new();
        for id in &order {
            let Some(node) = walk.nodes.get(id) else { continue };
            let sid = node.snapshot_id.as_str();
            if receiver_snaps.contains(sid) || frame_of.contains_key(sid) {
                continue;
            }
            let j = frame_of.len();
            let fp = node.parents.first().and_then(|p| walk.nodes.get(p)).map(|n| n.snapshot_id.as_str());
            if let Some(&i) = fp.and_then(|f| frame_of.get(f)) {
                if i + SNAPSHOT_WINDOW < j {
                    *uses.entry(fp.unwrap_or_default().to_string()).or_insert(0) += 1;
                }
            }
            frame_of.insert(sid, j);
        }
    }
    let mut kept: HashMap<String, (Arc<Built>, u32)> = HashMap::new();
    let mut kept_entries = 0usize;

    // This thread's part: the walk in file order, queueing jobs.
    let mut walk_frames = |tx: std::sync::mpsc::SyncSender<(Vec<Job>, Vec<u8>)>,
                           ahead_rx: Option<std::sync::mpsc::Receiver<Ahead>>|
     -> Result<()> {
    for (i, id) in order.iter().enumerate() {
        let Some(node) = walk.nodes.get(id) else { continue };
        let mut ahead = ahead_rx.as_ref().and_then(|r| r.recv().ok()).unwrap_or_default();
        let sid = node.snapshot_id.clone();
        if !receiver_snaps.contains(&sid) && !emitted.contains(&sid) {
            let (manifest, stored) =
                manifests.get(&sid, || format!("snapshot of commit {id}"), &window, &kept, ahead.snapshot.take())?;
            let fp_sid = node.parents.first().and_then(|p| walk.nodes.get(p)).map(|n| n.snapshot_id.clone());
            let in_window = fp_sid.as_ref().and_then(|f| window.get(f));
            let from_kept = fp_sid.as_ref().filter(|_| in_window.is_none()).and_then(|f| {
                let (m, left) = kept.get_mut(f)?;
                let m = Arc::clone(m);
                *left -= 1;
                if *left == 0 {
                    kept_entries -= m.len();
                    kept.remove(f);
                }
                Some(m)
            });
            let (base_id, base_m): (Option<String>, Arc<Built>) = match (fp_sid, in_window, from_kept) {
                (Some(f), Some(m), _) | (Some(f), None, Some(m)) => (Some(f), m),
                (Some(f), None, None) if receiver_snaps.contains(&f) => {
                    let (m, _) = manifests.get(&f, || "delta base".into(), &window, &kept, None)?;
                    (Some(f), m)
                }
                _ => match window.last() {
                    Some((s, m)) => (Some(s), m),
                    None => (None, Built::full(Manifest::new())),
                },
            };
            let (delta_upsert, delta_remove) = match stored.and_then(|d| d.reuse(base_id.as_deref())) {
                Some(d) => d,
                None => Built::diff(&base_m, &manifest),
            };
            for (p, oid) in &delta_upsert {
                let d = digest(oid)?;
                if have_blobs.contains(&d) || sent.contains_key(&d) {
                    continue;
                }
                if let Some(root) = fs_root {
                    if let Some((base, frame)) = reusable_entry(root, &d, &have_blobs, &sent)? {
                        let depth = base.map_or(0, |(_, dep)| dep.saturating_add(1));
                        sent.insert(d, Sent { depth, base: base.map(|(b, _)| b) });
                        if base.is_some() {
                            stats.blob_deltas += 1;
                        }
                        stats.blobs_reused += 1;
                        jobs.push(Job::Copy { id: d, base: base.map(|(b, _)| b), frame });
                        rctx.push(oid.as_bytes());
                        stats.blobs += 1;
                        continue;
                    }
                }
                let mut base = None;
                if let Some(old) = base_m.get(p) {
                    let mut b = digest(old)?;
                    if have_blobs.contains(&b) {
                        base = Some((b, 0u16));
                    } else if let Some(s) = sent.get(&b) {
                        let mut depth = s.depth;
                        if depth >= MAX_DELTA_DEPTH {
                            // Back down the chain to half the depth.
                            while depth > MAX_DELTA_DEPTH / 2 {
                                match sent.get(&b).and_then(|s| s.base) {
                                    Some(next) => {
                                        b = next;
                                        depth = sent.get(&b).map_or(0, |s| s.depth);
                                    }
                                    None => break,
                                }
                            }
                        }
                        base = Some((b, depth));
                    }
                }
                let depth = base.map_or(0, |(_, dep)| dep.saturating_add(1));
                sent.insert(d, Sent { depth, base: base.map(|(b, _)| b) });
                if base.is_some() {
                    stats.blob_deltas += 1;
                }
                let base = base.map(|(b, _)| {
                    (b, cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&b))
                });
                jobs.push(Job::Blob { id: d, base });
                rctx.push(oid.as_bytes());
                stats.blobs += 1;
            }
            emitted.insert(sid.clone());
            let d = SnapshotDelta { snapshot_id: sid.clone(), parent_snapshot_id: base_id, delta_upsert, delta_remove };
            let mut keep = uses.get(&sid).copied().unwrap_or(0);
            if keep > 0 {
                if kept.len() < KEEP_MAX_SNAPSHOTS && kept_entries + manifest.len() <= KEEP_MAX_ENTRIES {
                    kept_entries += manifest.len();
                    kept.insert(sid.clone(), (Arc::clone(&manifest), keep));
                } else {
                    keep = 0;
                }
            }
            let raw = rmp_serde::to_vec(&SnapFrame { d: &d, keep })
                .map_err(|e| Error::InvalidInput(format!("cannot encode snapshot: {e}")))?;
            rctx.record(&mut jobs, KIND_SNAPSHOT, raw);
            stats.snapshots += 1;
            window.push(sid, manifest);
        }
        // The stored record's bytes as they are (the receiver decodes and
        // verifies each commit); other stores re-encode the record.
        let stored = match (fs_root, ahead.commit) {
            (Some(_), Some(read)) => read?,
            (Some(root), None) => crate::commits::read_commit_bytes(root, id)?,
            (None, _) => None,
        };
        let raw = match stored {
            Some(b) => b,
            None => store
                .read_commit(&CommitId::parse(id)?)?
                .ok_or_else(|| Error::NotFound { what: "commit", name: id.clone() })?
                .to_msgpack()?,
        };
        rctx.record(&mut jobs, KIND_COMMIT, raw);
        stats.commits += 1;
        if jobs.len() >= CHUNK_JOBS {
            if tx.send((std::mem::take(&mut jobs), rctx.take())).is_err() {
                // The writer stopped on an error, which its join returns.
                return Ok(());
            }
            progress("writing the bundle", i as u64 + 1, total);
        }
    }
    let _ = tx.send((std::mem::take(&mut jobs), rctx.take()));
    Ok(())
    };

    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<Job>, Vec<u8>)>(CHUNKS_QUEUED);
    let (walked, written) = std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("muse-bundle-write".into())
            .spawn_scoped(scope, move || -> Result<HashingWriter<_>> {
                for (chunk, contexts) in rx {
                    flush(&chunk, &contexts, &mut out)?;
                }
                Ok(out)
            })
            .map_err(|e| Error::io("start a thread for", path, e));
        // The read-ahead thread: the stored reads of the commits in file
        // order, [`READ_AHEAD`] commits ahead of this thread at most (it
        // stops when this thread stops receiving).
        let (ahead_rx, reader) = match fs_root.map(|root| {
            let (atx, arx) = std::sync::mpsc::sync_channel::<Ahead>(READ_AHEAD);
            let (order, walk, receiver_snaps, commit_bytes) = (&order, &walk, &receiver_snaps, &commit_bytes);
            let read_ahead = move || {
                let mut seen: HashSet<&str> = HashSet::new();
                for id in order {
                    let Some(node) = walk.nodes.get(id) else { continue };
                    let sid = node.snapshot_id.as_str();
                    let snapshot = (!receiver_snaps.contains(sid) && seen.insert(sid))
                        .then(|| crate::snapshots::read_stored_snapshot(root, sid));
                    let commit = Some(match commit_bytes.get(id) {
                        Some(b) => Ok(Some(b.clone())),
                        None => crate::commits::read_commit_bytes(root, id),
                    });
                    if atx.send(Ahead { commit, snapshot }).is_err() {
                        return;
                    }
                }
            };
            let h = std::thread::Builder::new().name("muse-bundle-read".into()).spawn_scoped(scope, read_ahead);
            (arx, h)
        }) {
            Some((arx, Ok(h))) => (Some(arx), Some(h)),
            _ => (None, None),
        };
        let walked = match &writer {
            Ok(_) => walk_frames(tx, ahead_rx),
            Err(_) => {
                drop(ahead_rx);
                Ok(())
            }
        };
        // Joined here (its receiver is gone, so it has stopped): a panic on
        // it cost only its reads, which the walk made itself.
        if let Some(h) = reader {
            let _ = h.join();
        }
        let written = match writer {
            Ok(h) => h.join().unwrap_or_else(|_| Err(bad(path, "the thread writing the bundle panicked"))),
            Err(e) => Err(e),
        };
        (walked, written)
    });
    walked?;
    let mut out = written?;
    progress("writing the bundle", total, total);
    let mut end = Vec::with_capacity(END_LEN);
    end.extend_from_slice(&(stats.commits as u64).to_be_bytes());
    end.extend_from_slice(&(stats.snapshots as u64).to_be_bytes());
    end.extend_from_slice(&(stats.blobs as u64).to_be_bytes());
    end.extend_from_slice(&out.hash.clone().finalize());
    out.frame(KIND_END, &end, path)?;
    stats.bytes = out.bytes;
    out.inner.flush().map_err(|e| Error::io("write", path, e))?;
    drop(out);
    tmp.as_file().sync_all().map_err(|e| Error::io("fsync", path, e))?;
    tmp.persist(path).map_err(|e| Error::io("rename into place", path, e.error))?;
    Ok(stats)
}

/// A snapshot frame's map: the [`SnapshotDelta`] keys, plus `"keep"` when
/// non-zero.
struct SnapFrame<'a> {
    d: &'a SnapshotDelta,
    keep: u32,
}

impl serde::Serialize for SnapFrame<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(if self.keep > 0 { 5 } else { 4 }))?;
        m.serialize_entry("snapshot_id", &self.d.snapshot_id)?;
        m.serialize_entry("parent_snapshot_id", &self.d.parent_snapshot_id)?;
        m.serialize_entry("delta_upsert", &self.d.delta_upsert)?;
        m.serialize_entry("delta_remove", &self.d.delta_remove)?;
        if self.keep > 0 {
            m.serialize_entry("keep", &self.keep)?;
        }
        m.end()
    }
}

/// The `"keep"` key of a snapshot frame (other keys ignored).
#[derive(serde::Deserialize, Default)]
struct KeepKey {
    #[serde(default)]
    keep: u32,
}

/// The header frame's map.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Header {
    #[serde(default)]
    prerequisites: Vec<String>,
    #[serde(default)]
    branch_heads: BTreeMap<String, String>,
    #[serde(default)]
    commits: u64,
}

// ---------------------------------------------------------------------------
// read
// ---------------------------------------------------------------------------

/// A frame as read: kind, payload, and the offset of its kind byte.
struct Frame {
    kind: u8,
    at: u64,
    payload: Vec<u8>,
}

/// Reads frames from a bundle file, hashing everything it reads.
struct FrameReader {
    r: BufReader<File>,
    path: PathBuf,
    pos: u64,
    hash: Sha256,
    limits: Limits,
    /// Record a wrong end-frame SHA-256 in `hash_mismatch` instead of
    /// failing (the structural pass: the main pass then names the first bad
    /// entry, if any).
    defer_hash: bool,
    hash_mismatch: Option<Error>,
}

fn kind_name(k: u8) -> &'static str {
    match k {
        KIND_HEADER => "header",
        KIND_BLOB => "blob",
        KIND_SNAPSHOT => "snapshot",
        KIND_COMMIT => "commit",
        KIND_END => "end",
        _ => "unknown",
    }
}

impl FrameReader {
    fn open(path: &Path, limits: &Limits) -> Result<FrameReader> {
        let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let mut fr = FrameReader {
            r: BufReader::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            pos: 0,
            hash: Sha256::new(),
            limits: *limits,
            defer_hash: false,
            hash_mismatch: None,
        };
        let mut pre = [0u8; PREAMBLE_LEN as usize];
        fr.fill(&mut pre, "the file header")?;
        if &pre[..8] != BUNDLE_MAGIC {
            return Err(bad(path, "not a muse bundle v2 file (no MUSEBNDL magic)"));
        }
        let version = u32::from_be_bytes([pre[8], pre[9], pre[10], pre[11]]);
        if version != BUNDLE_FORMAT_VERSION {
            return Err(Error::InvalidInput(format!(
                "{}: unsupported bundle format version {version}: this muse reads versions 1 and {BUNDLE_FORMAT_VERSION}",
                path.display()
            )));
        }
        Ok(fr)
    }

    /// Reads exactly `buf.len()` bytes or fails as truncated.
    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(bad(
                        &self.path,
                        format!(
                            "truncated at byte {}: {what} needs {} more bytes",
                            self.pos + got as u64,
                            buf.len() - got
                        ),
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", &self.path, e)),
            }
        }
        self.hash.update(&buf[..]);
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// The largest payload a frame of `kind` may declare.
    fn max_len(&self, kind: u8) -> u64 {
        match kind {
            KIND_BLOB => {
                let cap = usize::try_from(self.limits.max_blob_bytes).unwrap_or(usize::MAX);
                (zstd::zstd_safe::compress_bound(cap) as u64).saturating_add(65)
            }
            KIND_END => END_LEN as u64,
            _ => MAX_MSGPACK_BYTES,
        }
    }

    /// The next frame. The end frame's hash is checked here (against the
    /// bytes before it) and nothing may follow it.
    fn next(&mut self) -> Result<Frame> {
        let at = self.pos;
        // The hash of every byte before this frame (the end frame's check).
        let before = self.hash.clone();
        let mut head = [0u8; 5];
        self.fill(&mut head, "a frame header")?;
        let kind = head[0];
        if !matches!(kind, KIND_HEADER | KIND_BLOB | KIND_SNAPSHOT | KIND_COMMIT | KIND_END) {
            return Err(bad(&self.path, format!("unknown frame kind 0x{kind:02x} at byte {at}")));
        }
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if len > self.max_len(kind) || (kind == KIND_END && len != END_LEN as u64) {
            return Err(Error::TooLarge {
                what: "bundle frame",
                path: PathBuf::from(format!("{} ({} frame at byte {at})", self.path.display(), kind_name(kind))),
                size: len,
                limit: self.max_len(kind),
            });
        }
        // Grown as bytes arrive: a length the file cannot back allocates
        // nothing like it.
        let mut payload = Vec::with_capacity(len.min(1 << 20) as usize);
        let got = (&mut self.r)
            .take(len)
            .read_to_end(&mut payload)
            .map_err(|e| Error::io("read", &self.path, e))? as u64;
        if got != len {
            return Err(bad(
                &self.path,
                format!(
                    "truncated at byte {}: the {} frame at byte {at} needs {} more bytes",
                    self.pos + got,
                    kind_name(kind),
                    len - got
                ),
            ));
        }
        self.hash.update(&payload);
        self.pos += len;
        if kind == KIND_END {
            if payload[24..] != before.finalize()[..] {
                let e = bad(
                    &self.path,
                    format!("end frame at byte {at}: SHA-256 of the file does not match (corrupt or changed)"),
                );
                if !self.defer_hash {
                    return Err(e);
                }
                self.hash_mismatch = Some(e);
            }
            let mut extra = [0u8; 1];
            match self.r.read(&mut extra) {
                Ok(0) => {}
                Ok(_) => return Err(bad(&self.path, format!("bytes after the end frame (at byte {})", self.pos))),
                Err(e) => return Err(Error::io("read", &self.path, e)),
            }
        }
        Ok(Frame { kind, at, payload })
    }
}

/// Pass 1: the whole file's structure and hash, no decoding. Returns the
/// frame counts and, separately, a wrong SHA-256.
fn scan(path: &Path, limits: &Limits) -> Result<([u64; 3], Option<Error>)> {
    let mut fr = FrameReader::open(path, limits)?;
    fr.defer_hash = true;
    let first = fr.next()?;
    if first.kind != KIND_HEADER {
        return Err(bad(path, format!("first frame (byte {}) is a {} frame, not the header", first.at, kind_name(first.kind))));
    }
    let mut counts = [0u64; 3];
    loop {
        let f = fr.next()?;
        match f.kind {
            KIND_BLOB => counts[2] += 1,
            KIND_SNAPSHOT => counts[1] += 1,
            KIND_COMMIT => counts[0] += 1,
            KIND_END => return Ok((counts, fr.hash_mismatch.take())),
            _ => return Err(bad(path, format!("second header frame at byte {}", f.at))),
        }
    }
}

/// Where a bundle blob's frame is, to rebuild it when it is a delta base no
/// longer cached.
struct BlobLoc {
    /// Offset of the payload.
    offset: u64,
    len: u32,
    base: Option<Digest>,
    /// Frames of the bundle down this blob's delta chain (itself included).
    depth: u16,
}

/// Where applied items go: a write batch, or nowhere (verify).
enum Sink<'a> {
    Batch(Box<dyn WriteBatch + 'a>),
    Check,
}

/// The state of the main pass.
struct Reader<'s> {
    store: &'s dyn Backend,
    path: PathBuf,
    /// For re-reading earlier blob frames.
    file: File,
    limits: Limits,
    blobs: HashMap<Digest, BlobLoc>,
    cache: BlobCache,
    repo_blobs: HashSet<Digest>,
    snapshots: HashSet<String>,
    commits: HashSet<String>,
    window: Window,
    /// Snapshots kept beyond the window: manifest and uses left.
    kept: HashMap<String, (Arc<Shared>, u32)>,
    kept_entries: usize,
    rebuilt: u64,
    /// The record context (see the module docs).
    rctx: RecordContext,
    /// Hash checks running beside the pass.
    checker: Checker,
}

/// A check the [`Checker`] makes.
enum Check {
    /// The content of the blob frame at byte `at` must hash to `id`.
    Blob { id: Digest, content: Arc<Vec<u8>>, at: u64 },
    /// The manifest rebuilt by the snapshot frame at byte `at` must hash
    /// to `sid` and have no path that is also a directory.
    Manifest { sid: String, manifest: Shared, at: u64 },
}

/// Checks the blob hashes and rebuilt manifests of a bundle on a second
/// thread while the main pass goes on (the hashing is a third of the work
/// of reading a bundle; git's `index-pack` hashes in threads too). The
/// main pass waits for it ([`Checker::finish`]) before anything is
/// committed and reports the failure at the smallest byte offset: the
/// same error an inline check would have raised first. Items wait in a
/// bounded queue ([`CHECK_QUEUE`] of them), which bounds the memory they
/// hold.
struct Checker {
    file: PathBuf,
    tx: Option<std::sync::mpsc::SyncSender<Check>>,
    handle: Option<std::thread::JoinHandle<Option<(u64, Error)>>>,
    /// The first failure of a check made inline (no thread).
    inline_failure: Option<(u64, Error)>,
}

/// Items the [`Checker`] queue holds at most.
const CHECK_QUEUE: usize = 64;

fn check_blob(file: &Path, id: &Digest, content: &[u8], at: u64) -> Result<()> {
    let oid = id_from_digest(id);
    let actual = blob_id(content);
    if actual != oid {
        return Err(bad(file, format!("blob {oid} (frame at byte {at}): content hashes to {actual}")));
    }
    Ok(())
}

fn check_manifest(file: &Path, sid: &str, m: &Shared, at: u64) -> Result<()> {
    let ctx = |s: &str| bad(file, format!("snapshot {sid} (frame at byte {at}): {s}"));
    let actual = hash_sorted_snapshot(m.iter().map(|(k, v)| (&**k, &**v)));
    if actual != sid {
        return Err(ctx(&format!("rebuilt manifest ({} entries) hashes to {actual}", m.len())));
    }
    check_no_file_dir_clash(m.keys().map(|k| &**k)).map_err(|e| ctx(&e.to_string()))
}

/// Runs check `c`: its byte offset and result.
fn run_check(file: &Path, c: &Check) -> (u64, Result<()>) {
    match c {
        Check::Blob { id, content, at } => (*at, check_blob(file, id, content, *at)),
        Check::Manifest { sid, manifest, at } => (*at, check_manifest(file, sid, manifest, *at)),
    }
}

/// Keeps the failure with the smaller offset in `first`.
fn keep_first(first: &mut Option<(u64, Error)>, at: u64, r: Result<()>) {
    if let Err(e) = r {
        if first.as_ref().is_none_or(|(a, _)| at < *a) {
            *first = Some((at, e));
        }
    }
}

impl Checker {
    fn start(file: &Path) -> Checker {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Check>(CHECK_QUEUE);
        let path = file.to_path_buf();
        let run = move || {
            let mut first: Option<(u64, Error)> = None;
            for c in rx {
                let (at, r) = run_check(&path, &c);
                keep_first(&mut first, at, r);
            }
            first
        };
        let (tx, handle) = match std::thread::Builder::new().name("muse-bundle-check".into()).spawn(run) {
            Ok(h) => (Some(tx), Some(h)),
            // No thread to be had: every check is made inline.
            Err(_) => (None, None),
        };
        Checker { file: file.to_path_buf(), tx, handle, inline_failure: None }
    }

    /// Hands `c` over (or checks it now when there is no checking thread).
    fn send(&mut self, c: Check) {
        let c = match &self.tx {
            Some(tx) => match tx.send(c) {
                Ok(()) => return,
                // The thread is gone: check inline from now on.
                Err(std::sync::mpsc::SendError(c)) => {
                    self.tx = None;
                    c
                }
            },
            None => c,
        };
        let (at, r) = run_check(&self.file, &c);
        keep_first(&mut self.inline_failure, at, r);
    }

    /// Waits for every check handed over; the failure at the smallest byte
    /// offset, if any.
    fn finish(&mut self) -> Option<(u64, Error)> {
        self.tx = None;
        let mut first = self.inline_failure.take();
        if let Some(h) = self.handle.take() {
            match h.join() {
                Ok(Some((at, e))) => keep_first(&mut first, at, Err(e)),
                Ok(None) => {}
                Err(_) => keep_first(
                    &mut first,
                    0,
                    Err(bad(&self.file, "the thread checking the bundle's hashes panicked; nothing was applied")),
                ),
            }
        }
        first
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl Reader<'_> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        bad(&self.path, detail)
    }

    /// Decodes a blob frame's payload and checks it against its ID; the
    /// base is given.
    fn decode_blob(&self, id: &Digest, frame: &[u8], base: Option<&[u8]>, at: u64) -> Result<Vec<u8>> {
        let content = self.decode_blob_unchecked(id, frame, base, at)?;
        check_blob(&self.path, id, &content, at)?;
        Ok(content)
    }

    /// [`Reader::decode_blob`] without the hash check (the caller hands
    /// the content to the [`Checker`]).
    fn decode_blob_unchecked(&self, id: &Digest, frame: &[u8], base: Option<&[u8]>, at: u64) -> Result<Vec<u8>> {
        zdelta::decompress(frame, base, self.limits.max_blob_bytes, "bundle blob", &self.path)
            .map_err(|e| self.bad(format!("blob {} (frame at byte {at}): {e}", id_from_digest(id))))
    }

    /// The content of blob `d`: cached, rebuilt from the bundle's earlier
    /// frames (down its delta chain), or read from the repository.
    fn content(&mut self, d: &Digest) -> Result<Arc<Vec<u8>>> {
        if let Some(c) = self.cache.get(d) {
            return Ok(c);
        }
        // The chain of bundle frames down to a cached, stored or plain one.
        let mut chain: Vec<Digest> = Vec::new();
        let mut cur = *d;
        let mut start: Option<Arc<Vec<u8>>> = None;
        while let Some(loc) = self.blobs.get(&cur) {
            chain.push(cur);
            match loc.base {
                None => break,
                Some(b) => {
                    if let Some(c) = self.cache.get(&b) {
                        start = Some(c);
                        break;
                    }
                    if !self.blobs.contains_key(&b) {
                        start = Some(Arc::new(self.store.read_blob(&BlobId::parse(&id_from_digest(&b))?)?));
                        break;
                    }
                    cur = b;
                }
            }
        }
        if chain.is_empty() {
            return Ok(Arc::new(self.store.read_blob(&BlobId::parse(&id_from_digest(d))?)?));
        }
        let mut cur_content = start;
        for id in chain.iter().rev() {
            let Some(loc) = self.blobs.get(id) else { return Err(self.bad("internal: chain entry vanished")) };
            let mut payload = vec![0u8; loc.len as usize];
            self.file.read_exact_at(&mut payload, loc.offset).map_err(|e| Error::io("read", &self.path, e))?;
            let skip = if loc.base.is_some() { 65 } else { 33 };
            let frame = payload.get(skip..).ok_or_else(|| self.bad("blob frame shrank"))?;
            let c = self.decode_blob(id, frame, cur_content.as_deref().map(Vec::as_slice), loc.offset)?;
            cur_content = Some(Arc::new(c));
        }
        let c = cur_content.ok_or_else(|| self.bad("internal: empty chain"))?;
        self.cache.insert(*d, Arc::clone(&c));
        Ok(c)
    }

    fn blob_frame(&mut self, f: &Frame, sink: &mut Sink<'_>) -> Result<bool> {
        let p = &f.payload;
        let at = f.at;
        if p.len() < 33 {
            return Err(self.bad(format!("blob frame at byte {at} is {} bytes, too short", p.len())));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&p[..32]);
        let oid = id_from_digest(&id);
        if self.blobs.contains_key(&id) {
            return Err(self.bad(format!("blob {oid} (frame at byte {at}): listed twice")));
        }
        let (base, body_at) = match p[32] {
            0 => (None, 33),
            1 => {
                let b: Digest = p
                    .get(33..65)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| self.bad(format!("blob {oid} (frame at byte {at}): truncated base ID")))?;
                (Some(b), 65)
            }
            x => return Err(self.bad(format!("blob {oid} (frame at byte {at}): bad base flag {x}"))),
        };
        let depth = match &base {
            Some(b) => self.blobs.get(b).map_or(1, |l| l.depth.saturating_add(1)),
            None => 1,
        };
        if depth > MAX_DELTA_DEPTH + 1 {
            return Err(self.bad(format!(
                "blob {oid} (frame at byte {at}): delta chain of {depth} frames, over the limit of {}",
                MAX_DELTA_DEPTH + 1
            )));
        }
        let base_content = match &base {
            None => None,
            Some(b) => {
                if !self.blobs.contains_key(b) && !self.store.has_blob(&BlobId::parse(&id_from_digest(b))?)? {
                    return Err(self.bad(format!(
                        "blob {oid} (frame at byte {at}): delta base {} is neither earlier in the bundle nor in the \
                         repository",
                        id_from_digest(b)
                    )));
                }
                Some(self.content(b)?)
            }
        };
        let content =
            Arc::new(self.decode_blob_unchecked(&id, &p[body_at..], base_content.as_deref().map(Vec::as_slice), at)?);
        self.checker.send(Check::Blob { id, content: Arc::clone(&content), at });
        self.rctx.push(oid.as_bytes());
        let written = match sink {
            // The bundle's delta base is the pack's hint (the previous
            // version of the same path): a pack stores the blob as a delta.
            // The frame itself is kept when the pack can (no recompression).
            Sink::Batch(batch) => {
                let hint = base.as_ref().map(|b| BlobId::parse(&id_from_digest(b))).transpose()?;
                batch.write_verified_blob_frame(&BlobId::parse(&oid)?, &content, hint.as_ref(), &p[body_at..])?
            }
            Sink::Check => false,
        };
        if let Some(b) = &base {
            self.cache.demote(b);
        }
        self.cache.insert(id, content);
        let len = u32::try_from(p.len()).map_err(|_| self.bad("frame over 4 GiB"))?;
        self.blobs.insert(id, BlobLoc { offset: at + 5, len, base, depth });
        Ok(written)
    }

    fn has_blob(&mut self, oid: &str) -> Result<bool> {
        let d = digest(oid)?;
        if self.blobs.contains_key(&d) || self.repo_blobs.contains(&d) {
            return Ok(true);
        }
        if self.store.has_blob(&BlobId::parse(oid)?)? {
            self.repo_blobs.insert(d);
            return Ok(true);
        }
        Ok(false)
    }

    fn snapshot_frame(&mut self, f: &Frame, sink: &mut Sink<'_>) -> Result<()> {
        let at = f.at;
        let bytes = zdelta::decompress(&f.payload, self.rctx.prefix(), MAX_MSGPACK_BYTES, "bundle snapshot", &self.path)
            .map_err(|e| self.bad(format!("snapshot frame at byte {at}: {e}")))?;
        self.rctx.push(&bytes);
        let d: SnapshotDelta = rmp_serde::from_slice(&bytes)
            .map_err(|e| self.bad(format!("snapshot frame at byte {at}: undecodable: {e}")))?;
        let keep = rmp_serde::from_slice::<KeepKey>(&bytes)
            .map_err(|e| self.bad(format!("snapshot frame at byte {at}: \"keep\": {e}")))?
            .keep;
        drop(bytes);
        let sid = d.snapshot_id.clone();
        let ctx = |s: &str| format!("snapshot {sid} (frame at byte {at}): {s}");
        validate_id(&sid).map_err(|e| self.bad(ctx(&format!("snapshot_id: {e}"))))?;
        if self.snapshots.contains(&sid) {
            return Err(self.bad(ctx("listed twice")));
        }
        let entries = (d.delta_upsert.len() + d.delta_remove.len()) as u64;
        if entries > self.limits.max_entries {
            return Err(Error::InvalidInput(ctx(&format!(
                "{entries} delta entries, over the limit of {} (Limits::max_entries); refused",
                self.limits.max_entries
            ))));
        }
        let mut manifest: Shared = match d.parent_snapshot_id.as_deref() {
            None => Shared::new(),
            Some(p) => {
                validate_id(p).map_err(|e| self.bad(ctx(&format!("parent_snapshot_id: {e}"))))?;
                if p == sid {
                    return Err(self.bad(ctx("is its own parent")));
                }
                let kept = if self.window.get(p).is_none() { self.kept.get_mut(p) } else { None };
                let kept = kept.map(|(m, left)| {
                    *left -= 1;
                    (Arc::clone(m), *left == 0)
                });
                if let Some((m, true)) = &kept {
                    self.kept_entries -= m.len();
                    self.kept.remove(p);
                }
                match self.window.get(p).or(kept.map(|(m, _)| m)) {
                    Some(m) => (*m).clone(),
                    None if self.snapshots.contains(p) => {
                        return Err(self.bad(ctx(&format!(
                            "parent snapshot {p} is an earlier frame neither in the last {SNAPSHOT_WINDOW} \
                             snapshots nor kept"
                        ))))
                    }
                    None => match crate::mpack::snapshot(self.store, p)? {
                        Some(rec) => rec.manifest.into_iter().map(|(k, v)| (Arc::from(k), Arc::from(v))).collect(),
                        None => {
                            return Err(self.bad(ctx(&format!(
                                "parent snapshot {p} is neither earlier in the bundle nor in the repository"
                            ))))
                        }
                    },
                }
            }
        };
        for (path, oid) in &d.delta_upsert {
            validate_incoming_path(path).map_err(|e| self.bad(ctx(&format!("delta_upsert path {path:?}: {e}"))))?;
            validate_id(oid).map_err(|e| self.bad(ctx(&format!("delta_upsert path {path:?}: blob ID: {e}"))))?;
            if !self.has_blob(oid)? {
                return Err(self.bad(ctx(&format!(
                    "blob {oid} of path {path:?} is neither earlier in the bundle nor in the repository"
                ))));
            }
            manifest.insert(Arc::from(path.as_str()), Arc::from(oid.as_str()));
        }
        for path in &d.delta_remove {
            validate_incoming_path(path).map_err(|e| self.bad(ctx(&format!("delta_remove path {path:?}: {e}"))))?;
            manifest.remove(path.as_str());
        }
        self.rebuilt = self.rebuilt.saturating_add(manifest.len() as u64);
        if self.rebuilt > self.limits.max_rebuilt_entries {
            return Err(Error::InvalidInput(ctx(&format!(
                "the bundle's rebuilt manifests exceed {} entries in all (Limits::max_rebuilt_entries); refused",
                self.limits.max_rebuilt_entries
            ))));
        }
        if let Sink::Batch(batch) = sink {
            let rec = SharedView { sid: &sid, created_at: now_iso(), manifest: &manifest };
            let changed: BTreeSet<String> = d.delta_upsert.keys().chain(&d.delta_remove).cloned().collect();
            let base = d.parent_snapshot_id.as_deref().map(SnapshotId::parse).transpose()?;
            batch.write_snapshot_delta(&rec, base.as_ref(), &changed)?;
        }
        // Its hash and file/directory clashes are checked beside this pass.
        self.checker.send(Check::Manifest { sid: sid.clone(), manifest: manifest.clone(), at });
        let manifest = Arc::new(manifest);
        if keep > 0 {
            if self.kept.len() >= KEEP_MAX_SNAPSHOTS || self.kept_entries + manifest.len() > KEEP_MAX_ENTRIES {
                return Err(Error::InvalidInput(ctx(&format!(
                    "asks to keep more than {KEEP_MAX_SNAPSHOTS} snapshots or {KEEP_MAX_ENTRIES} manifest entries \
                     at once; refused"
                ))));
            }
            self.kept_entries += manifest.len();
            self.kept.insert(sid.clone(), (Arc::clone(&manifest), keep));
        }
        self.snapshots.insert(sid.clone());
        self.window.push(sid, manifest);
        Ok(())
    }

    fn commit_frame(&mut self, f: &Frame, sink: &mut Sink<'_>) -> Result<()> {
        let at = f.at;
        let bytes = zdelta::decompress(&f.payload, self.rctx.prefix(), MAX_MSGPACK_BYTES, "bundle commit", &self.path)
            .map_err(|e| self.bad(format!("commit frame at byte {at}: {e}")))?;
        self.rctx.push(&bytes);
        let c = CommitRecord::from_msgpack(&bytes, &self.path)
            .map_err(|e| self.bad(format!("commit frame at byte {at}: {e}")))?;
        let ctx = |s: &str| format!("commit {} (frame at byte {at}): {s}", c.commit_id);
        c.validate().map_err(|e| self.bad(ctx(&e.to_string())))?;
        validate_id(&c.snapshot_id).map_err(|e| self.bad(ctx(&format!("snapshot_id: {e}"))))?;
        if self.commits.contains(&c.commit_id) {
            return Err(self.bad(ctx("listed twice")));
        }
        if !self.snapshots.contains(&c.snapshot_id) && !self.store.has_snapshot(&SnapshotId::parse(&c.snapshot_id)?)? {
            return Err(self.bad(ctx(&format!(
                "snapshot {} is neither earlier in the bundle nor in the repository",
                c.snapshot_id
            ))));
        }
        for p in c.all_parents() {
            validate_id(p).map_err(|e| self.bad(ctx(&format!("parent: {e}"))))?;
            if p == c.commit_id {
                return Err(self.bad(ctx("is its own parent")));
            }
            if !self.commits.contains(p) && !self.store.has_commit(&CommitId::parse(p)?)? {
                return Err(self.bad(ctx(&format!(
                    "parent {p} is neither earlier in the bundle nor in the repository (commits must come \
                     parents first)"
                ))));
            }
        }
        if let Sink::Batch(batch) = sink {
            batch.write_commit(&c)?;
        }
        self.commits.insert(c.commit_id);
        Ok(())
    }
}

/// Reads and verifies a v2 bundle, writing into `sink`; returns the
/// counts, prerequisites and verified branch heads.
fn read_v2(
    store: &dyn Backend,
    path: &Path,
    limits: &Limits,
    cache_bytes: usize,
    sink: Sink<'_>,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<(BundleInfo, ApplyStats)> {
    progress("checking the bundle file", 0, 1);
    let (counts, mismatch) = scan(path, limits)?;
    progress("checking the bundle file", 1, 1);
    if let Some(e) = mismatch {
        // Corrupt: nothing is written; a checking pass names the first bad
        // entry when one fails its own verification.
        drop(sink);
        main_pass(store, path, limits, cache_bytes, counts, Sink::Check, progress)?;
        return Err(e);
    }
    main_pass(store, path, limits, cache_bytes, counts, sink, progress)
}

/// Pass 2 of [`read_v2`].
fn main_pass(
    store: &dyn Backend,
    path: &Path,
    limits: &Limits,
    cache_bytes: usize,
    counts: [u64; 3],
    mut sink: Sink<'_>,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<(BundleInfo, ApplyStats)> {
    let mut fr = FrameReader::open(path, limits)?;
    let hf = fr.next()?;
    if hf.kind != KIND_HEADER {
        return Err(bad(path, format!("first frame (byte {}) is not the header", hf.at)));
    }
    let header: Header =
        rmp_serde::from_slice(&hf.payload).map_err(|e| bad(path, format!("header frame: undecodable: {e}")))?;
    let mut missing = Vec::new();
    for p in &header.prerequisites {
        validate_id(p).map_err(|e| bad(path, format!("header: prerequisite: {e}")))?;
        if !store.has_commit(&CommitId::parse(p)?)? {
            missing.push(p.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Error::NotFound {
            what: "prerequisite commit",
            name: format!(
                "the repository lacks these prerequisite commits of {}: {}",
                path.display(),
                missing.join(", ")
            ),
        });
    }
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut r = Reader {
        store,
        path: path.to_path_buf(),
        file,
        limits: *limits,
        blobs: HashMap::new(),
        cache: BlobCache::new(cache_bytes),
        repo_blobs: HashSet::new(),
        snapshots: HashSet::new(),
        commits: HashSet::new(),
        window: Window::default(),
        kept: HashMap::new(),
        kept_entries: 0,
        rebuilt: 0,
        rctx: RecordContext::default(),
        checker: Checker::start(path),
    };
    let total = counts.iter().sum::<u64>();
    let mut done = 0u64;
    let what = if matches!(sink, Sink::Check) { "verifying the bundle" } else { "storing the bundle" };
    // The frame being read, for ordering a failure against the checker's.
    let mut at = 0u64;
    let read = (|| {
        loop {
            let f = fr.next()?;
            at = f.at;
            match f.kind {
                KIND_BLOB => {
                    r.blob_frame(&f, &mut sink)?;
                }
                KIND_SNAPSHOT => r.snapshot_frame(&f, &mut sink)?,
                KIND_COMMIT => r.commit_frame(&f, &mut sink)?,
                KIND_END => return Ok(f),
                _ => return Err(bad(path, format!("second header frame at byte {}", f.at))),
            }
            done += 1;
            if done.is_multiple_of(512) {
                progress(what, done, total);
            }
        }
    })();
    // Every hash checked before anything else is decided: the failure at
    // the smallest offset is the one reported (as if checked inline).
    let checked = r.checker.finish();
    let end = match (read, checked) {
        (Ok(end), None) => end,
        (Ok(_), Some((_, e))) => return Err(e),
        (Err(e), None) => return Err(e),
        (Err(e), Some((c_at, c))) => return Err(if c_at <= at { c } else { e }),
    };
    let n = |i: usize| u64::from_be_bytes(end.payload[i * 8..i * 8 + 8].try_into().unwrap_or([0xff; 8]));
    let have = [r.commits.len() as u64, r.snapshots.len() as u64, r.blobs.len() as u64];
    if [n(0), n(1), n(2)] != have || have != counts {
        return Err(bad(
            path,
            format!(
                "end frame counts {} commits, {} snapshots, {} blobs; the file has {}, {}, {}",
                n(0),
                n(1),
                n(2),
                have[0],
                have[1],
                have[2]
            ),
        ));
    }
    for (branch, id) in &header.branch_heads {
        validate_branch_name(branch).map_err(|e| bad(path, format!("branch_heads[{branch:?}]: {e}")))?;
        validate_id(id).map_err(|e| bad(path, format!("branch_heads[{branch:?}]: {e}")))?;
        if !r.commits.contains(id) && !store.has_commit(&CommitId::parse(id)?)? {
            return Err(bad(
                path,
                format!("branch_heads[{branch:?}]: commit {id} is neither in the bundle nor in the repository"),
            ));
        }
    }
    let info = BundleInfo {
        version: BUNDLE_FORMAT_VERSION,
        commits: have[0] as usize,
        snapshots: have[1] as usize,
        blobs: have[2] as usize,
        prerequisites: header.prerequisites,
        branch_heads: header.branch_heads.clone(),
    };
    let mut stats = ApplyStats { branch_heads: header.branch_heads, ..ApplyStats::default() };
    if let Sink::Batch(batch) = sink {
        progress(what, total, total);
        let s = batch.commit()?;
        stats.commits_written = s.commits_written;
        stats.snapshots_written = s.snapshots_written;
        stats.blobs_written = s.blobs_written;
        stats.blobs_skipped = s.blobs_skipped;
    }
    Ok((info, stats))
}

/// Reads a v1 file whole (at most `limits.max_bundle_bytes`) and decodes it.
fn read_v1(path: &Path, limits: &Limits) -> Result<crate::mpack::MPack> {
    let len = std::fs::metadata(path).map_err(|e| Error::io("stat", path, e))?.len();
    if len > limits.max_bundle_bytes {
        return Err(Error::TooLarge {
            what: "MPack v1 bundle file",
            path: path.to_path_buf(),
            size: len,
            limit: limits.max_bundle_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    crate::mpack::decode_mpack(&bytes, limits)
}

impl crate::Repository {
    /// Writes the bundle file of every commit reachable from `want` and not
    /// from `have` to `path` (format v2, see the module docs), replacing
    /// any file there only once the new one is complete.
    ///
    /// `have` IDs this repository does not store are ignored (the receiver
    /// knows commits we do not). Progress goes to the handle's progress
    /// callback.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a `want` commit, a parent of a bundle commit,
    /// a snapshot or a blob missing from the repository; [`Error::Corrupt`]
    /// for a damaged record or object; [`Error::TooLarge`] for a blob whose
    /// frame would exceed 4 GiB; [`Error::Io`] writing the file (the
    /// temporary file is removed, nothing is left under `path`'s name).
    pub fn create_bundle(&self, path: &Path, want: &[CommitId], have: &[CommitId]) -> Result<CreateStats> {
        create_to(self.store(), path, want, have, &|w, d, t| self.report_progress(w, d, t))
    }

    /// Verifies the bundle file at `path` completely (either format) and
    /// stores its content in one write batch: all or nothing (see the
    /// module docs). Moves no ref: the verified branch heads are in the
    /// returned [`ApplyStats`] (for [`crate::Repository::update_branch`]).
    ///
    /// # Errors
    /// [`Error::Corrupt`] (`bundle` at `path`) naming the first bad frame
    /// and its byte offset: truncated, a hash that does not match, a delta
    /// base, parent, snapshot or blob neither earlier in the bundle nor
    /// stored, a path [`crate::paths::validate_incoming_path`] refuses, a
    /// duplicate, a commit out of order; [`Error::TooLarge`] for a frame
    /// declaring more than the limits allow; [`Error::NotFound`] when a
    /// prerequisite commit is missing; [`Error::InvalidInput`] for an
    /// unsupported version or a limit of [`Limits`]; v1 files: as
    /// [`crate::mpack::apply_mpack`] plus [`Error::TooLarge`] over
    /// `limits.max_bundle_bytes`; [`Error::Io`].
    pub fn apply_bundle(&self, path: &Path, limits: &Limits) -> Result<ApplyStats> {
        match bundle_format(path)? {
            BundleFormat::MPackV1 => {
                let m = read_v1(path, limits)?;
                self.apply_mpack(&m, limits)
            }
            BundleFormat::StreamV2 => {
                let batch = self.store().batch()?;
                let progress = |w: &str, d: u64, t: u64| self.report_progress(w, d, t);
                Ok(read_v2(self.store(), path, limits, BLOB_CACHE_BYTES, Sink::Batch(batch), &progress)?.1)
            }
        }
    }

    /// Checks the bundle file at `path` as [`Self::apply_bundle`] would
    /// (every frame decoded and verified, prerequisites present), writing
    /// nothing (git's `bundle verify`, stricter).
    ///
    /// # Errors
    /// As [`Self::apply_bundle`].
    pub fn verify_bundle(&self, path: &Path, limits: &Limits) -> Result<BundleInfo> {
        match bundle_format(path)? {
            BundleFormat::MPackV1 => {
                let m = read_v1(path, limits)?;
                Ok(BundleInfo {
                    version: 1,
                    commits: m.commits.len(),
                    snapshots: m.snapshots.len(),
                    blobs: m.blobs.len(),
                    prerequisites: Vec::new(),
                    branch_heads: m.branch_heads,
                })
            }
            BundleFormat::StreamV2 => {
                let progress = |w: &str, d: u64, t: u64| self.report_progress(w, d, t);
                Ok(read_v2(self.store(), path, limits, BLOB_CACHE_BYTES, Sink::Check, &progress)?.0)
            }
        }
    }
}

/// [`crate::Repository::create_bundle`] for the repository at `root`
/// (`want` and `have` as `sha256:` commit IDs).
///
/// # Errors
/// [`Error::InvalidId`], [`Error::NotARepository`], and as
/// [`crate::Repository::create_bundle`].
pub fn create_bundle(root: &Path, path: &Path, want: &[String], have: &[String]) -> Result<CreateStats> {
    let parse = |ids: &[String]| ids.iter().map(|id| CommitId::parse(id)).collect::<Result<Vec<_>>>();
    crate::Repository::open(root)?.create_bundle(path, &parse(want)?, &parse(have)?)
}

/// [`crate::Repository::apply_bundle`] for the repository at `root`.
///
/// # Errors
/// [`Error::NotARepository`], and as [`crate::Repository::apply_bundle`].
pub fn apply_bundle(root: &Path, path: &Path, limits: &Limits) -> Result<ApplyStats> {
    crate::Repository::open(root)?.apply_bundle(path, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpack::diff_sorted;
    use crate::records::SnapshotRecord;
    use crate::Repository;

    /// A repository with one file edited `n` times (plus a second file
    /// every 7th commit); returns it, its commit IDs and every blob ID.
    fn history(n: usize) -> (tempfile::TempDir, Repository, Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/.muse/config.toml"), "[core]\nfsync = \"off\"\n").unwrap();
        let mut text: Vec<String> = (0..400).map(|i| format!("line {i} of a file that changes slowly\n")).collect();
        let mut manifest = Manifest::new();
        let (mut commits, mut blobs) = (Vec::new(), Vec::new());
        let mut parent: Option<String> = None;
        for i in 0..n {
            text[(i * 37) % 400] = format!("edit {i}\n");
            let id = repo.write_blob(text.concat().as_bytes()).unwrap().to_string();
            blobs.push(id.clone());
            manifest.insert("f.txt".into(), id);
            if i % 7 == 0 {
                let id = repo.write_blob(format!("other {i}\n").repeat(50).as_bytes()).unwrap().to_string();
                blobs.push(id.clone());
                manifest.insert("d/g.txt".into(), id);
            }
            let snap = SnapshotRecord::new(manifest.clone());
            repo.write_snapshot(&snap).unwrap();
            let mut c = CommitRecord {
                branch: "main".into(),
                snapshot_id: snap.snapshot_id.clone(),
                message: format!("c{i}"),
                committed_at: format!("2024-01-01T00:{:02}:{:02}.000000+00:00", i / 60, i % 60),
                parent_commit_id: parent.clone(),
                author: "t".into(),
                ..Default::default()
            };
            c.commit_id = c.compute_id();
            repo.write_commit(&c).unwrap();
            parent = Some(c.commit_id.clone());
            commits.push(c.commit_id);
        }
        (dir, repo, commits, blobs)
    }

    #[test]
    fn deep_chains_are_capped_and_rebuilt_from_the_file_without_a_cache() {
        let (dir, src, commits, blobs) = history(130);
        let file = dir.path().join("b.bundle");
        let tip = CommitId::parse(commits.last().unwrap()).unwrap();
        let st = src.create_bundle(&file, &[tip], &[]).unwrap();
        assert_eq!((st.commits, st.blobs), (130, blobs.len()));
        // Every edit but the first of each file is a delta.
        assert_eq!(st.blob_deltas, blobs.len() - 2);
        let dst = Repository::init(dir.path().join("dst")).unwrap();
        // No cache at all: every base is rebuilt from earlier frames.
        let batch = dst.store().batch().unwrap();
        let (info, stats) =
            read_v2(dst.store(), &file, &Limits::default(), 0, Sink::Batch(batch), &|_, _, _| {}).unwrap();
        assert_eq!((info.commits, stats.blobs_written), (130, blobs.len()));
        for b in &blobs {
            assert_eq!(dst.read_blob(b).unwrap(), src.read_blob(b).unwrap());
        }
        for c in &commits {
            assert!(dst.has_commit(c).unwrap());
        }
    }

    #[test]
    fn a_chain_deeper_than_the_limit_is_refused() {
        // Frames written by hand: blob k is a delta on blob k-1.
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path().join("r")).unwrap();
        let path = dir.path().join("deep.bundle");
        let mut w = HashingWriter { inner: Vec::new(), hash: Sha256::new(), bytes: 0 };
        w.put(BUNDLE_MAGIC, &path).unwrap();
        w.put(&BUNDLE_FORMAT_VERSION.to_be_bytes(), &path).unwrap();
        w.frame(KIND_HEADER, &rmp_serde::to_vec_named(&Header::default()).unwrap(), &path).unwrap();
        let mut prev: Option<(Digest, Vec<u8>)> = None;
        for k in 0..(usize::from(MAX_DELTA_DEPTH) + 3) {
            let content = format!("version {k}\n").into_bytes();
            let d = digest(&blob_id(&content)).unwrap();
            let mut p = d.to_vec();
            match &prev {
                None => p.push(0),
                Some((b, _)) => {
                    p.push(1);
                    p.extend_from_slice(b);
                }
            }
            p.extend(zdelta::compress(&content, prev.as_ref().map(|(_, c)| c.as_slice()), 3).unwrap());
            w.frame(KIND_BLOB, &p, &path).unwrap();
            prev = Some((d, content));
        }
        let mut end = vec![0u8; 24];
        end.extend_from_slice(&w.hash.clone().finalize());
        w.frame(KIND_END, &end, &path).unwrap();
        std::fs::write(&path, &w.inner).unwrap();
        let e = repo.verify_bundle(&path, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains("delta chain of 52 frames, over the limit of 51"), "{e}");
    }

    /// Manifests built along a branching history (nodes shared, paths
    /// removed and added back) read and diff exactly like their whole
    /// maps.
    #[test]
    fn built_manifests_agree_with_whole_maps() {
        let mut seed = 0x9e37_79b9_u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let start: Manifest = (0..40).map(|i| (format!("d{}/f{i}", i % 4), format!("v{i}"))).collect();
        let mut nodes: Vec<(Arc<Built>, Manifest)> = vec![(Built::full(start.clone()), start)];
        for step in 0..400u64 {
            // Mostly on the latest node, sometimes on an older one (a branch).
            let at = if rnd(5) == 0 { rnd(nodes.len() as u64) as usize } else { nodes.len() - 1 };
            let (base, whole) = nodes[at].clone();
            let mut upsert = Manifest::new();
            let mut remove = Vec::new();
            for _ in 0..1 + rnd(4) {
                let p = format!("d{}/f{}", rnd(5), rnd(50));
                match rnd(3) {
                    0 => remove.push(p),
                    _ => {
                        upsert.insert(p, format!("s{step}"));
                    }
                }
            }
            let layered = Built::on(&base, &upsert, &remove);
            let mut next = whole.clone();
            for p in &remove {
                next.remove(p);
            }
            next.extend(upsert);
            assert_eq!(layered.flatten(), next, "step {step}");
            assert_eq!(layered.len(), next.len(), "step {step}");
            for k in 0..50 {
                let p = format!("d{}/f{k}", k % 5);
                assert_eq!(layered.get(&p), next.get(&p).map(String::as_str), "step {step} {p}");
            }
            // Against the base it was built on, and against a random other.
            let other = rnd(nodes.len() as u64) as usize;
            for (b, bw) in [(&base, &whole), (&nodes[other].0, &nodes[other].1)] {
                let want = diff_sorted(bw, &next);
                let (u, mut r) = Built::diff(b, &layered);
                r.sort();
                let mut wr = want.1.clone();
                wr.sort();
                assert_eq!((u, r), (want.0, wr), "step {step}");
            }
            nodes.push((layered, next));
        }
    }
}
