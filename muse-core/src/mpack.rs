//! MPack bundles: delta-encoded history transfer between repositories
//! (SPEC §7).
//!
//! An [`MPack`] carries commits, their snapshots as deltas, the blobs those
//! snapshots introduce, and branch heads. [`build_mpack`] makes one from a
//! repository, [`encode_mpack`] / [`decode_mpack`] convert it to and from
//! bytes, and [`apply_mpack`] stores it in another repository after
//! verifying *everything* in it: a bundle is hostile input.
//!
//! # Wire format (version [`MPACK_FORMAT_VERSION`] = 1)
//!
//! One msgpack map with string keys:
//!
//! ```text
//! {
//!   "version":      1,                          # absent: read as 1
//!   "commits":      [CommitRecord map, …],      # exactly as records.rs writes it; parents first
//!   "snapshots":    [{"snapshot_id":        "sha256:…",
//!                     "parent_snapshot_id": "sha256:…" | nil,   # nil: delta against the empty manifest
//!                     "delta_upsert":       {path: blob_id, …},
//!                     "delta_remove":       [path, …]}, …],     # never a "manifest" key
//!   "blobs":        [{"blob_id": "sha256:…", "content": bin}, …],
//!   "branch_heads": {branch: commit_id, …}
//! }
//! ```
//!
//! A snapshot entry's full manifest is its parent's manifest, then every
//! `delta_upsert` pair inserted (overwriting), then every `delta_remove`
//! path removed; it must hash to `snapshot_id` (SPEC §2) — the math is the
//! verification. The parent is an earlier entry of the same bundle or a
//! snapshot the receiving repository already stores. Blob `content` is
//! msgpack `bin` (a `str` is refused). Unknown keys are ignored, except a
//! `"manifest"` key in a snapshot entry, which is refused (v1 entries are
//! deltas only). A bundle with a `version` other than 1 is refused before
//! anything else in it is decoded.
//!
//! [`MPack`] also implements serde `Serialize`/`Deserialize` to exactly
//! this map, so it round-trips through `rmpv::ext::to_value` /
//! `rmpv::ext::from_value` (how the Python binding converts dicts).
//!
//! # What `build_mpack` sends
//!
//! * **Commits:** those reachable from `want` (both parents) and not from
//!   `have`, parents before children. The walk goes newest-first by
//!   `committed_at` from both sides at once (git's "paint down") and stops
//!   as soon as every commit still queued is reachable from `have`, so it
//!   reads the bundle's commits plus the `have`-side commits newer than the
//!   bundle's oldest, never the whole history. A commit is marked "the
//!   receiver has it" only by propagation from a `have` tip, so clock skew
//!   can only make a bundle larger (a commit the receiver has sent again,
//!   harmless), never omit one the receiver lacks. `have` IDs not stored
//!   locally are ignored (the receiver knows commits we do not).
//! * **Snapshots:** one entry per distinct snapshot of those commits, in
//!   commit order, as a delta against the snapshot of the commit's first
//!   parent (`parent_snapshot_id`); a root commit's entry has
//!   `parent_snapshot_id = None` and its whole manifest in `delta_upsert`.
//!   When the first parent is outside the bundle the delta is still against
//!   its snapshot: the receiver has it. A snapshot the receiver provably has
//!   (that of a `have` tip or of a parent of a bundle commit outside the
//!   bundle), or that an earlier entry already carries, gets no entry.
//! * **Blobs — the have rule:** every blob ID in some entry's
//!   `delta_upsert`, once, except those in the manifest of a snapshot the
//!   receiver provably has: the snapshots of the `have` tips and of the
//!   *boundary* commits (parents of bundle commits that are not in the
//!   bundle). This relies on the repository invariant that a repository
//!   holding a commit holds every blob of its snapshot. Only those
//!   manifests are loaded (not the manifests of all of `have`'s history),
//!   which keeps memory proportional to the bundle; the price is that a
//!   blob the receiver has only in some older snapshot may be sent again.
//! * **Branch heads:** every local branch pointing at one of the `want`
//!   tips.
//!
//! # What `apply_mpack` verifies
//!
//! Everything, before anything is written (pass 1, read-only):
//! the version; the [`Limits`]; every blob ID (`sha256:` + 64 hex), size and
//! content hash; every snapshot ID, parent ID, `delta_upsert` path (with
//! [`crate::paths::validate_incoming_path`], git's `verify_path`: no
//! absolute path, `..`, `.`, empty segment, NUL, backslash, and no
//! component at any depth that is `.muse` or `.git` or an NTFS/HFS+ alias
//! of either, such as `.MUSE`, `.git.`, `muse~1`, `.mu\u{200c}se`; the
//! `delta_remove` paths alike) and blob ID; that every parent
//! snapshot is an *earlier* entry or stored in the repository; that every
//! rebuilt manifest hashes to its `snapshot_id` and has no path that is
//! both a file and a directory (`a` beside `a/b`, git's index rule, see
//! [`crate::paths::check_no_file_dir_clash`]); that every blob a delta
//! introduces is in the bundle or the repository (blobs of a parent
//! manifest are covered by the parent); every commit with
//! [`CommitRecord::validate`] (IDs well-formed, `commit_id` verifies) plus
//! its `snapshot_id`; that every commit's snapshot is in the bundle or the
//! repository and every parent is an *earlier* commit of the bundle or
//! stored in the repository (so the graph is acyclic and ordered); that no
//! commit, snapshot or blob is listed twice; and every branch head (a valid
//! branch name pointing at a commit of the bundle or the repository).
//!
//! Then (pass 2) every object, snapshot (a [`SnapshotRecord`], stored as a
//! delta on its entry's parent snapshot where possible, see
//! [`crate::snapshots`]) and commit is staged in one write batch
//! ([`crate::store::WriteBatch`]) and made
//! durable and visible by its single commit (SPEC §4). On any error the
//! batch is dropped and nothing becomes visible; the error names the first
//! bad entry (`"blob #3 sha256:…: content hashes to sha256:…"`,
//! `"snapshot sha256:… (entry 7): delta_upsert path \"../x\": …"`).
//! `apply_mpack` moves no ref: it returns the bundle's verified
//! `branch_heads` in [`ApplyStats`] for the caller to apply.
//!
//! Manifests are rebuilt twice (once per pass) rather than kept: only the
//! manifests still needed as a parent of a later entry stay in memory
//! (reference-counted), so a linear chain holds two manifests at a time.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::ids::{blob_id, hash_sorted_snapshot, validate_id};
use crate::paths::{check_no_file_dir_clash, validate_incoming_path};
use crate::records::{now_iso, parse_iso_micros, CommitRecord, SnapshotRecord};
use crate::refs::validate_branch_name;
use crate::store::Backend;
use crate::ids::{BlobId, CommitId, SnapshotId};

/// The MPack wire-format version this code writes and the only one it reads.
pub const MPACK_FORMAT_VERSION: u32 = 1;

/// The pseudo-path errors about a bundle carry (it has no file).
const BUNDLE_PATH: &str = "<mpack>";
/// The `what` of [`Error::Corrupt`] errors about a bundle.
const WHAT: &str = "MPack bundle";

use crate::manifest::Manifest;

/// An integrity error about the bundle: [`Error::Corrupt`] with the
/// pseudo-path `<mpack>`.
fn bad(detail: impl Into<String>) -> Error {
    Error::corrupt(WHAT, Path::new(BUNDLE_PATH), detail)
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/// One snapshot of a bundle, as a delta against its parent snapshot.
///
/// Full manifest = manifest of `parent_snapshot_id` (empty when `None`),
/// then `delta_upsert` inserted, then `delta_remove` removed; it hashes to
/// `snapshot_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDelta {
    /// The snapshot's ID: `hash_snapshot` of its full manifest.
    pub snapshot_id: String,
    /// The snapshot the delta applies to: an earlier entry of the bundle or
    /// one the receiver stores. `None`: the empty manifest (first of a
    /// chain; `delta_upsert` is then the full manifest).
    pub parent_snapshot_id: Option<String>,
    /// `{path: blob_id}` added or changed relative to the parent.
    pub delta_upsert: BTreeMap<String, String>,
    /// Paths of the parent that this snapshot no longer has.
    pub delta_remove: Vec<String>,
}

/// One blob of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MPackBlob {
    /// `sha256:` + hex of the content.
    pub blob_id: String,
    /// The raw bytes (msgpack `bin` on the wire).
    pub content: Vec<u8>,
}

/// A bundle (see the module docs for the wire form).
#[derive(Debug, Clone, PartialEq)]
pub struct MPack {
    /// Wire-format version; [`MPACK_FORMAT_VERSION`].
    pub version: u32,
    /// Commit records, parents before children.
    pub commits: Vec<CommitRecord>,
    /// Snapshot deltas, each parent before its children.
    pub snapshots: Vec<SnapshotDelta>,
    /// Blobs the receiver lacks.
    pub blobs: Vec<MPackBlob>,
    /// `{branch: commit_id}` of the sender's branches at the `want` tips.
    pub branch_heads: BTreeMap<String, String>,
}

impl Default for MPack {
    fn default() -> Self {
        MPack {
            version: MPACK_FORMAT_VERSION,
            commits: Vec::new(),
            snapshots: Vec::new(),
            blobs: Vec::new(),
            branch_heads: BTreeMap::new(),
        }
    }
}

/// What [`apply_mpack`] stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Commit records newly stored.
    pub commits_written: usize,
    /// Snapshot records newly stored.
    pub snapshots_written: usize,
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Blobs of the bundle that were already stored.
    pub blobs_skipped: usize,
    /// The bundle's `branch_heads`, verified (valid branch names pointing at
    /// commits now stored). Not applied: `apply_mpack` moves no ref.
    pub branch_heads: BTreeMap<String, String>,
}

/// Bounds on what [`decode_mpack`] and [`apply_mpack`] accept, checked
/// before anything of that size is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded bundle, in bytes (default 4 GiB). In
    /// [`apply_mpack`], bounds the sum of blob sizes.
    pub max_bundle_bytes: u64,
    /// Largest single blob (any msgpack `bin` value), in bytes
    /// (default 2 GiB).
    pub max_blob_bytes: u64,
    /// Most container items in the whole bundle: every array element and
    /// every map entry at any depth counts one (default 10 000 000). In
    /// [`apply_mpack`], bounds commits + snapshots + blobs + delta entries
    /// + branch heads.
    pub max_entries: u64,
    /// Deepest nesting of msgpack arrays/maps (default 64; the bundle map
    /// is depth 1, a commit's `structured_delta` starts at depth 4).
    pub max_depth: u32,
    /// Most manifest entries [`apply_mpack`] rebuilds, summed over all
    /// snapshots of the bundle (default 1 000 000 000). Deltas are small on
    /// the wire but each rebuilt snapshot is a full manifest, held and
    /// hashed whole (~100 bytes per entry), so this bounds the CPU time and
    /// memory a small bundle can make the receiver spend.
    pub max_rebuilt_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bundle_bytes: 4 << 30,
            max_blob_bytes: 2 << 30,
            max_entries: 10_000_000,
            max_depth: 64,
            max_rebuilt_entries: 1_000_000_000,
        }
    }
}

// ---------------------------------------------------------------------------
// serde
// ---------------------------------------------------------------------------

/// Serializes a byte slice as msgpack `bin` (not as an array of ints).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for SnapshotDelta {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("snapshot_id", &self.snapshot_id)?;
        m.serialize_entry("parent_snapshot_id", &self.parent_snapshot_id)?;
        m.serialize_entry("delta_upsert", &self.delta_upsert)?;
        m.serialize_entry("delta_remove", &self.delta_remove)?;
        m.end()
    }
}

impl Serialize for MPackBlob {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("blob_id", &self.blob_id)?;
        m.serialize_entry("content", &Bytes(&self.content))?;
        m.end()
    }
}

impl Serialize for MPack {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("version", &self.version)?;
        m.serialize_entry("commits", &self.commits)?;
        m.serialize_entry("snapshots", &self.snapshots)?;
        m.serialize_entry("blobs", &self.blobs)?;
        m.serialize_entry("branch_heads", &self.branch_heads)?;
        m.end()
    }
}

/// Deserializes msgpack `bin` only, refusing `str` and arrays.
struct Bin(Vec<u8>);

impl<'de> Deserialize<'de> for Bin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bin;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("msgpack bin (blob content must be bytes)")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Bin, E> {
                Ok(Bin(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Bin, E> {
                Ok(Bin(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// The version check shared by the serde path and [`decode_mpack`].
fn check_version(v: Option<u64>) -> Result<()> {
    match v {
        None | Some(1) => Ok(()),
        Some(0) => Err(Error::InvalidInput("invalid MPack format version 0 (this muse reads version 1)".into())),
        Some(n) => Err(Error::InvalidInput(format!(
            "unsupported MPack format version {n}: this muse reads version {MPACK_FORMAT_VERSION} only \
             (the bundle was written by a newer muse)"
        ))),
    }
}

/// A version value as found: an unsigned integer, or a description of what
/// it is instead.
fn version_from_value(v: &rmpv::Value) -> Result<u64> {
    v.as_u64().ok_or_else(|| Error::InvalidInput(format!("MPack \"version\" must be a positive integer, got {v}")))
}

/// Names an entry kind in errors.
trait Named {
    const NAME: &'static str;
}
impl Named for CommitRecord {
    const NAME: &'static str = "commit";
}
impl Named for SnapshotDelta {
    const NAME: &'static str = "snapshot";
}
impl Named for MPackBlob {
    const NAME: &'static str = "blob";
}

/// A list whose decode errors name the entry (`"snapshot #3: …"`).
struct Indexed<T>(Vec<T>);

impl<'de, T: Deserialize<'de> + Named> Deserialize<'de> for Indexed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Named> Visitor<'de> for V<T> {
            type Value = Indexed<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of {} entries", T::NAME)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Indexed<T>, A::Error> {
                // No preallocation from the declared length: it is untrusted.
                let mut out = Vec::new();
                loop {
                    match seq.next_element::<T>() {
                        Ok(Some(x)) => out.push(x),
                        Ok(None) => return Ok(Indexed(out)),
                        Err(e) => return Err(de::Error::custom(format_args!("{} #{}: {e}", T::NAME, out.len()))),
                    }
                }
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

fn opt_list<'de, T: Deserialize<'de> + Named, A: MapAccess<'de>>(map: &mut A) -> std::result::Result<Vec<T>, A::Error> {
    Ok(map.next_value::<Option<Indexed<T>>>()?.map(|l| l.0).unwrap_or_default())
}

impl<'de> Deserialize<'de> for MPack {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MPack;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an MPack bundle map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<MPack, A::Error> {
                let mut m = MPack::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "version" => {
                            let v: rmpv::Value = map.next_value()?;
                            let n = version_from_value(&v).map_err(de::Error::custom)?;
                            check_version(Some(n)).map_err(de::Error::custom)?;
                            m.version = MPACK_FORMAT_VERSION;
                        }
                        "commits" => m.commits = opt_list(&mut map)?,
                        "snapshots" => m.snapshots = opt_list(&mut map)?,
                        "blobs" => m.blobs = opt_list(&mut map)?,
                        "branch_heads" => {
                            m.branch_heads = map
                                .next_value::<Option<BTreeMap<String, String>>>()
                                .map_err(|e| de::Error::custom(format_args!("branch_heads: {e}")))?
                                .unwrap_or_default()
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for SnapshotDelta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SnapshotDelta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a snapshot delta map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<SnapshotDelta, A::Error> {
                let mut s = SnapshotDelta::default();
                let mut has_id = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "snapshot_id" => {
                            s.snapshot_id = map.next_value()?;
                            has_id = true;
                        }
                        "parent_snapshot_id" => s.parent_snapshot_id = map.next_value()?,
                        "delta_upsert" => {
                            s.delta_upsert =
                                map.next_value::<Option<crate::records::BulkMap>>()?.map(|m| m.0).unwrap_or_default()
                        }
                        "delta_remove" => s.delta_remove = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "manifest" => {
                            return Err(de::Error::custom(
                                "carries a full \"manifest\"; MPack v1 snapshot entries are deltas \
                                 (delta_upsert / delta_remove)",
                            ))
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if !has_id {
                    return Err(de::Error::custom("missing snapshot_id"));
                }
                Ok(s)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for MPackBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MPackBlob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a blob map {blob_id, content}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<MPackBlob, A::Error> {
                let (mut id, mut content) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "blob_id" => id = Some(map.next_value::<String>()?),
                        "content" => content = Some(map.next_value::<Bin>()?.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match (id, content) {
                    (Some(blob_id), Some(content)) => Ok(MPackBlob { blob_id, content }),
                    _ => Err(de::Error::custom("missing blob_id or content")),
                }
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------
// encode / decode
// ---------------------------------------------------------------------------

/// Encodes a bundle as msgpack bytes (the map of the module docs; blob
/// content as `bin`). The value is written as is, `version` included.
///
/// # Errors
/// [`Error::InvalidInput`] if encoding fails (it does not for any value of
/// these types).
pub fn encode_mpack(m: &MPack) -> Result<Vec<u8>> {
    rmp_serde::to_vec(m).map_err(|e| Error::InvalidInput(format!("cannot encode MPack: {e}")))
}

/// Decodes bundle bytes, refusing anything over `limits` before allocating
/// it.
///
/// First a structural scan of the raw bytes (no allocation): the input must
/// be one msgpack map filling all of `bytes`, at most
/// `limits.max_bundle_bytes` long; every declared length (str, bin, ext,
/// array, map) must fit in the bytes that remain, so a header claiming
/// 10 GiB fails at once; every `bin` is at most `limits.max_blob_bytes`;
/// at most `limits.max_entries` container items and `limits.max_depth`
/// levels of nesting in all; every `str` is UTF-8; `version`, if present,
/// is 1. Then the typed decode. Decoding verifies no hash: that is
/// [`apply_mpack`]'s job.
///
/// # Errors
/// [`Error::TooLarge`] (bundle or blob over its limit); [`Error::InvalidInput`]
/// (unsupported `version`, over `max_entries` or `max_depth`);
/// [`Error::Corrupt`] (`<mpack>`: truncated, malformed, wrong shape — e.g.
/// blob content that is not `bin`), naming the byte offset or the entry.
pub fn decode_mpack(bytes: &[u8], limits: &Limits) -> Result<MPack> {
    let version = Scanner::new(bytes, limits).scan_bundle()?;
    check_version(version)?;
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    MPack::deserialize(&mut de).map_err(|e| bad(format!("undecodable: {e}")))
}

/// The allocation-free structural pass of [`decode_mpack`].
struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    entries: u64,
    limits: &'a Limits,
}

impl<'a> Scanner<'a> {
    fn new(buf: &'a [u8], limits: &'a Limits) -> Self {
        Scanner { buf, pos: 0, entries: 0, limits }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes `n` bytes, or fails naming what was being read at `at`.
    fn take(&mut self, n: u64, what: &str, at: usize) -> Result<&'a [u8]> {
        let rem = self.remaining();
        if n > rem as u64 {
            return Err(bad(format!("truncated at byte {at}: {what} needs {n} bytes, only {rem} remain")));
        }
        // n <= rem, so it fits in usize and the range is in bounds.
        let end = self.pos + n as usize;
        let s = self.buf.get(self.pos..end).ok_or_else(|| bad("internal: range out of bounds"))?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, width: u64, what: &str, at: usize) -> Result<u64> {
        let b = self.take(width, what, at)?;
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// Counts `n` container items and checks they can fit in what remains
    /// (each needs at least `min_bytes` bytes).
    fn items(&mut self, n: u64, min_bytes: u64, what: &str, at: usize) -> Result<()> {
        let rem = self.remaining() as u64;
        if n.saturating_mul(min_bytes) > rem {
            return Err(bad(format!("truncated at byte {at}: {what} declares {n} entries, only {rem} bytes remain")));
        }
        self.entries = self.entries.saturating_add(n);
        if self.entries > self.limits.max_entries {
            return Err(Error::InvalidInput(format!(
                "MPack bundle has more than {} entries (Limits::max_entries); refused",
                self.limits.max_entries
            )));
        }
        Ok(())
    }

    fn enter(&self, depth: u32, at: usize) -> Result<u32> {
        let d = depth.saturating_add(1);
        if d > self.limits.max_depth {
            return Err(Error::InvalidInput(format!(
                "MPack bundle nests deeper than {} levels at byte {at} (Limits::max_depth); refused",
                self.limits.max_depth
            )));
        }
        Ok(d)
    }

    fn str_body(&mut self, n: u64, at: usize) -> Result<&'a [u8]> {
        let s = self.take(n, "str", at)?;
        if std::str::from_utf8(s).is_err() {
            return Err(bad(format!("str at byte {at} is not valid UTF-8")));
        }
        Ok(s)
    }

    fn bin_body(&mut self, n: u64, at: usize) -> Result<()> {
        if n > self.limits.max_blob_bytes {
            return Err(Error::TooLarge {
                what: "MPack bin value",
                path: PathBuf::from(format!("{BUNDLE_PATH} byte {at}")),
                size: n,
                limit: self.limits.max_blob_bytes,
            });
        }
        self.take(n, "bin", at).map(|_| ())
    }

    fn array(&mut self, n: u64, depth: u32, at: usize) -> Result<()> {
        let d = self.enter(depth, at)?;
        self.items(n, 1, "array", at)?;
        for _ in 0..n {
            self.value(d)?;
        }
        Ok(())
    }

    fn map(&mut self, n: u64, depth: u32, at: usize) -> Result<()> {
        let d = self.enter(depth, at)?;
        self.items(n, 2, "map", at)?;
        for _ in 0..n {
            self.value(d)?;
            self.value(d)?;
        }
        Ok(())
    }

    /// Skips one value (and everything inside it), checking it.
    fn value(&mut self, depth: u32) -> Result<()> {
        let at = self.pos;
        let m = self.uint(1, "value", at)? as u8;
        match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok(()),
            0xc1 => Err(bad(format!("invalid msgpack marker 0xc1 at byte {at}"))),
            0x80..=0x8f => self.map(u64::from(m & 0x0f), depth, at),
            0x90..=0x9f => self.array(u64::from(m & 0x0f), depth, at),
            0xa0..=0xbf => self.str_body(u64::from(m & 0x1f), at).map(|_| ()),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (m - 0xc4), "bin length", at)?;
                self.bin_body(n, at)
            }
            0xc7..=0xc9 => {
                let n = self.uint(1 << (m - 0xc7), "ext length", at)?;
                self.take(n.saturating_add(1), "ext", at).map(|_| ())
            }
            0xca => self.take(4, "float32", at).map(|_| ()),
            0xcb => self.take(8, "float64", at).map(|_| ()),
            0xcc..=0xcf => self.take(1 << (m - 0xcc), "uint", at).map(|_| ()),
            0xd0..=0xd3 => self.take(1 << (m - 0xd0), "int", at).map(|_| ()),
            0xd4..=0xd8 => self.take((1u64 << (m - 0xd4)) + 1, "fixext", at).map(|_| ()),
            0xd9..=0xdb => {
                let n = self.uint(1 << (m - 0xd9), "str length", at)?;
                self.str_body(n, at).map(|_| ())
            }
            0xdc | 0xdd => {
                let n = self.uint(if m == 0xdc { 2 } else { 4 }, "array length", at)?;
                self.array(n, depth, at)
            }
            0xde | 0xdf => {
                let n = self.uint(if m == 0xde { 2 } else { 4 }, "map length", at)?;
                self.map(n, depth, at)
            }
        }
    }

    /// Reads a `str` value if the next value is one (else leaves it).
    fn try_str(&mut self) -> Result<Option<&'a [u8]>> {
        let at = self.pos;
        let n = match self.buf.get(at) {
            Some(&m @ 0xa0..=0xbf) => {
                self.pos += 1;
                u64::from(m & 0x1f)
            }
            Some(&m @ 0xd9..=0xdb) => {
                self.pos += 1;
                self.uint(1 << (m - 0xd9), "str length", at)?
            }
            _ => return Ok(None),
        };
        self.str_body(n, at).map(Some)
    }

    /// Reads the value of `"version"`: an unsigned integer.
    fn version_value(&mut self) -> Result<u64> {
        let at = self.pos;
        let m = self.uint(1, "version", at)? as u8;
        let v = match m {
            0x00..=0x7f => Some(u64::from(m)),
            0xcc..=0xcf => Some(self.uint(1 << (m - 0xcc), "version", at)?),
            0xd0..=0xd3 => {
                let width = 1u64 << (m - 0xd0);
                let raw = self.uint(width, "version", at)?;
                let sign_bit = 1u64 << (width * 8 - 1);
                if raw & sign_bit == 0 {
                    Some(raw)
                } else {
                    None
                }
            }
            _ => None,
        };
        v.ok_or_else(|| Error::InvalidInput(format!("MPack \"version\" (byte {at}) must be a positive integer")))
    }

    /// Scans the whole bundle; returns its `version` if present.
    fn scan_bundle(mut self) -> Result<Option<u64>> {
        let total = self.buf.len() as u64;
        if total > self.limits.max_bundle_bytes {
            return Err(Error::TooLarge {
                what: "MPack bundle",
                path: PathBuf::from(BUNDLE_PATH),
                size: total,
                limit: self.limits.max_bundle_bytes,
            });
        }
        let m = match self.buf.first() {
            None => return Err(bad("empty input: an MPack bundle is a msgpack map")),
            Some(&m) => m,
        };
        let n = match m {
            0x80..=0x8f => {
                self.pos = 1;
                u64::from(m & 0x0f)
            }
            0xde | 0xdf => {
                self.pos = 1;
                self.uint(if m == 0xde { 2 } else { 4 }, "map length", 0)?
            }
            _ => return Err(bad(format!("an MPack bundle is a msgpack map; first byte 0x{m:02x} is not a map"))),
        };
        let depth = self.enter(0, 0)?;
        self.items(n, 2, "bundle map", 0)?;
        let mut version = None;
        for _ in 0..n {
            let key = self.try_str()?;
            if key.is_none() {
                self.value(depth)?;
            }
            if key == Some(b"version".as_slice()) {
                version = Some(self.version_value()?);
            } else {
                self.value(depth)?;
            }
        }
        if self.pos != self.buf.len() {
            return Err(bad(format!(
                "{} unexpected bytes after the bundle map (at byte {})",
                self.buf.len() - self.pos,
                self.pos
            )));
        }
        Ok(version)
    }
}

// ---------------------------------------------------------------------------
// build
// ---------------------------------------------------------------------------

/// How many snapshot manifests [`build_mpack`] reads in parallel at a time
/// (bounds the memory of the prefetch).
const BUILD_READ_CHUNK: usize = 32;

/// Walk flag: reachable from a `want` tip.
pub(crate) const WANT: u8 = 1;
/// Walk flag: reachable from a `have` tip.
pub(crate) const HAVE: u8 = 2;

/// A commit met by the build walk.
pub(crate) struct Node {
    /// [`WANT`] / [`HAVE`] bits.
    pub(crate) flags: u8,
    time: i64,
    /// First parent first (octopus parents included: `all_parents`).
    pub(crate) parents: Vec<String>,
    /// The commit's snapshot.
    pub(crate) snapshot_id: String,
    /// Kept only while the commit may go into the bundle (and only when the
    /// walk keeps records at all, see [`Walk::new`]).
    pub(crate) rec: Option<CommitRecord>,
    queued: bool,
}

/// The two-sided, newest-first walk of [`build_mpack`] (also the commit
/// walk of the streaming bundles, [`crate::bundle`]).
pub(crate) struct Walk<'r> {
    store: &'r dyn Backend,
    /// Every commit met, by ID.
    pub(crate) nodes: HashMap<String, Node>,
    heap: BinaryHeap<(i64, String)>,
    /// Queued commits not (yet) known to be reachable from `have`.
    pending: usize,
    /// Keep each bundle commit's record in its [`Node`] (`build_mpack`);
    /// without, only IDs are held and callers read records again.
    keep_records: bool,
}

impl<'r> Walk<'r> {
    /// An empty walk over `store`; `keep_records`: see [`Walk::keep_records`].
    pub(crate) fn new(store: &'r dyn Backend, keep_records: bool) -> Self {
        Walk { store, nodes: HashMap::new(), heap: BinaryHeap::new(), pending: 0, keep_records }
    }

    /// Loads `id` into `nodes` if absent. `Ok(false)` when not stored.
    pub(crate) fn load(&mut self, id: &str) -> Result<bool> {
        if self.nodes.contains_key(id) {
            return Ok(true);
        }
        let Some(rec) = self.store.read_commit(&CommitId::parse(id)?)? else { return Ok(false) };
        self.insert(id, rec);
        Ok(true)
    }

    /// Adds commit `id`, read (and verified) by the caller, as
    /// [`Walk::load`] would have: unmarked, not queued. A commit already
    /// met is left as it is.
    pub(crate) fn insert(&mut self, id: &str, rec: CommitRecord) {
        if self.nodes.contains_key(id) {
            return;
        }
        let node = Node {
            flags: 0,
            time: parse_iso_micros(&rec.committed_at).unwrap_or(i64::MIN),
            parents: rec.all_parents().into_iter().map(str::to_string).collect(),
            snapshot_id: rec.snapshot_id.clone(),
            rec: self.keep_records.then_some(rec),
            queued: false,
        };
        self.nodes.insert(id.to_string(), node);
    }

    /// ORs `flags` into the node `id` (loaded) and queues it if that
    /// changed anything.
    pub(crate) fn mark(&mut self, id: &str, flags: u8) {
        let Some(node) = self.nodes.get_mut(id) else { return };
        let old = node.flags;
        let new = old | flags;
        if new == old {
            return;
        }
        node.flags = new;
        if new & HAVE != 0 {
            node.rec = None;
        }
        if node.queued {
            if old & HAVE == 0 && new & HAVE != 0 {
                self.pending = self.pending.saturating_sub(1);
            }
        } else {
            node.queued = true;
            if new & HAVE == 0 {
                self.pending += 1;
            }
            self.heap.push((node.time, id.to_string()));
        }
    }

    /// Paints down until every queued commit is reachable from `have`.
    pub(crate) fn run(&mut self) -> Result<()> {
        while self.pending > 0 {
            let Some((_, id)) = self.heap.pop() else { break };
            let Some(node) = self.nodes.get_mut(&id) else { continue };
            node.queued = false;
            if node.flags & HAVE == 0 {
                self.pending = self.pending.saturating_sub(1);
            }
            let flags = node.flags;
            let parents = node.parents.clone();
            for p in &parents {
                if !self.load(p)? {
                    if flags & HAVE != 0 {
                        continue; // the receiver's history; not needed
                    }
                    return Err(Error::NotFound { what: "commit", name: format!("{p} (parent of {id})") });
                }
                self.mark(p, flags);
            }
        }
        Ok(())
    }

    /// True when `id` is reachable from `want` and not from `have`.
    pub(crate) fn in_bundle(&self, id: &str) -> bool {
        self.nodes.get(id).is_some_and(|n| n.flags == WANT)
    }

    /// The bundle's commits, parents before children (depth-first from the
    /// `want` tips in order, first parent first).
    pub(crate) fn topo_order(&self, want: &[String]) -> Vec<String> {
        let mut order = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for tip in want {
            if !self.in_bundle(tip) || !seen.insert(tip.as_str()) {
                continue;
            }
            let mut stack: Vec<(&str, usize)> = vec![(tip.as_str(), 0)];
            while let Some(top) = stack.last_mut() {
                let (id, k) = (top.0, top.1);
                let parents = self.nodes.get(id).map(|n| n.parents.as_slice()).unwrap_or(&[]);
                if let Some(p) = parents.get(k) {
                    top.1 += 1;
                    if self.in_bundle(p) && seen.insert(p.as_str()) {
                        stack.push((p.as_str(), 0));
                    }
                } else {
                    order.push(id.to_string());
                    stack.pop();
                }
            }
        }
        order
    }
}

/// Manifests kept while later entries still need them as a delta base.
struct ManifestCache {
    /// Remaining uses of each snapshot as a base.
    uses: HashMap<String, usize>,
    live: HashMap<String, Manifest>,
}

impl ManifestCache {
    fn new() -> Self {
        ManifestCache { uses: HashMap::new(), live: HashMap::new() }
    }

    fn add_use(&mut self, sid: &str) {
        *self.uses.entry(sid.to_string()).or_insert(0) += 1;
    }

    fn needed(&self, sid: &str) -> bool {
        self.uses.get(sid).is_some_and(|&n| n > 0)
    }

    /// Keeps `manifest` if `sid` is still needed as a base.
    fn offer(&mut self, sid: &str, manifest: Manifest) {
        if self.needed(sid) {
            self.live.insert(sid.to_string(), manifest);
        }
    }

    /// Takes one use of base `sid`: the manifest, moved out when this was
    /// its last use, cloned otherwise. `None` when not cached.
    fn take(&mut self, sid: &str) -> Option<Manifest> {
        let left = match self.uses.get_mut(sid) {
            Some(n) if *n > 0 => {
                *n -= 1;
                *n
            }
            _ => 0,
        };
        if left == 0 {
            self.live.remove(sid)
        } else {
            self.live.get(sid).cloned()
        }
    }
}

/// The stored snapshot `sid`, `None` when absent.
pub(crate) fn snapshot(store: &dyn Backend, sid: &str) -> Result<Option<SnapshotRecord>> {
    store.read_snapshot(&SnapshotId::parse(sid)?)
}

/// The manifest of stored snapshot `sid`; [`Error::NotFound`] (with `why`)
/// when absent.
pub(crate) fn load_manifest(store: &dyn Backend, sid: &str, why: impl FnOnce() -> String) -> Result<Manifest> {
    match snapshot(store, sid)? {
        Some(rec) => Ok(rec.manifest),
        None => Err(Error::NotFound { what: "snapshot", name: format!("{sid} ({})", why()) }),
    }
}

/// The delta from `base` to `manifest` ([`crate::manifest::delta`]), owned.
pub(crate) fn diff_sorted(base: &Manifest, manifest: &Manifest) -> (Manifest, Vec<String>) {
    let (upsert, remove) = crate::manifest::delta(base, manifest);
    (
        upsert.into_iter().map(|(p, o)| (p.to_string(), o.to_string())).collect(),
        remove.into_iter().map(str::to_string).collect(),
    )
}

/// Builds the bundle of everything reachable from `want` and not from
/// `have` (see the module docs for exactly what is sent).
///
/// `want` and `have` are commit IDs. Memory is proportional to the bundle
/// (its commits, blobs, and the manifests live as delta bases) plus the
/// manifests of the snapshots the receiver provably has, not to the
/// repository.
///
/// # Errors
/// [`Error::InvalidId`] for a malformed ID in `want` or `have`;
/// [`Error::NotARepository`] when `root` has no `.muse/`;
/// [`Error::NotFound`] for a `want` commit, a parent of a bundle commit, a
/// snapshot or a blob missing from the repository; [`Error::Corrupt`] for a
/// damaged record or object; [`Error::Io`].
pub fn build_mpack(root: &Path, want: &[String], have: &[String]) -> Result<MPack> {
    let parse = |ids: &[String]| ids.iter().map(|id| CommitId::parse(id)).collect::<Result<Vec<_>>>();
    let (want, have) = (parse(want)?, parse(have)?);
    crate::Repository::open(root)?.build_mpack(&want, &have)
}

/// [`build_mpack`] from `store` ([`crate::Repository::build_mpack`]).
pub(crate) fn build_from(store: &dyn Backend, want: &[CommitId], have: &[CommitId]) -> Result<MPack> {
    let want: Vec<String> = want.iter().map(ToString::to_string).collect();
    let have: Vec<String> = have.iter().map(ToString::to_string).collect();
    let (want, have) = (want.as_slice(), have.as_slice());
    let mut walk = Walk::new(store, true);
    for id in want {
        if !walk.load(id)? {
            return Err(Error::NotFound { what: "commit", name: id.clone() });
        }
        walk.mark(id, WANT);
    }
    let mut have_tips = Vec::new();
    for id in have {
        if walk.load(id)? {
            walk.mark(id, HAVE);
            have_tips.push(id.as_str());
        }
    }
    walk.run()?;
    let order = walk.topo_order(want);

    // Snapshots the receiver provably has: those of the have tips and of the
    // boundary commits (parents of bundle commits outside the bundle).
    let mut receiver_snaps: Vec<String> = Vec::new();
    let mut receiver_set: HashSet<String> = HashSet::new();
    let boundary = order
        .iter()
        .filter_map(|id| walk.nodes.get(id))
        .flat_map(|n| n.parents.iter())
        .filter(|p| !walk.in_bundle(p))
        .map(String::as_str);
    for c in have_tips.iter().copied().chain(boundary) {
        if let Some(n) = walk.nodes.get(c) {
            if receiver_set.insert(n.snapshot_id.clone()) {
                receiver_snaps.push(n.snapshot_id.clone());
            }
        }
    }

    // One entry per snapshot not yet emitted and not had by the receiver.
    let mut plan: Vec<(String, Option<String>)> = Vec::new();
    let mut emitted: HashSet<&str> = HashSet::new();
    let mut cache = ManifestCache::new();
    for id in &order {
        let Some(node) = walk.nodes.get(id) else { continue };
        let sid = node.snapshot_id.as_str();
        if receiver_set.contains(sid) || !emitted.insert(sid) {
            continue;
        }
        let base = node.parents.first().and_then(|p| walk.nodes.get(p)).map(|p| p.snapshot_id.clone());
        if let Some(b) = &base {
            cache.add_use(b);
        }
        plan.push((sid.to_string(), base));
    }

    // Blobs the receiver has; keep those manifests that serve as bases.
    let mut have_blobs: HashSet<String> = HashSet::new();
    for sid in &receiver_snaps {
        let Some(rec) = snapshot(store, sid)? else {
            if cache.needed(sid) {
                return Err(Error::NotFound { what: "snapshot", name: format!("{sid} (delta base)") });
            }
            continue;
        };
        have_blobs.extend(rec.manifest.values().cloned());
        cache.offer(sid, rec.manifest);
    }

    let mut snapshots = Vec::with_capacity(plan.len());
    let mut blob_ids: Vec<String> = Vec::new();
    let mut sent: HashSet<String> = HashSet::new();
    // Manifests are read (and verified) in parallel, a bounded chunk at a
    // time, then diffed in order.
    for chunk in plan.chunks(BUILD_READ_CHUNK) {
        let read: Vec<Result<Manifest>> = chunk
            .par_iter()
            .map(|(sid, _)| load_manifest(store, sid, || "snapshot of a bundle commit".into()))
            .collect();
        for ((sid, base_id), manifest) in chunk.iter().zip(read) {
            let manifest = manifest?;
            let (sid, base_id) = (sid.clone(), base_id.clone());
            let base = match &base_id {
                None => Manifest::new(),
                Some(b) => {
                    if !cache.live.contains_key(b.as_str()) {
                        let m = load_manifest(store, b, || "delta base".into())?;
                        cache.live.insert(b.clone(), m);
                    }
                    cache.take(b).unwrap_or_default()
                }
            };
            let (delta_upsert, delta_remove) = diff_sorted(&base, &manifest);
            for oid in delta_upsert.values() {
                if !have_blobs.contains(oid) && sent.insert(oid.clone()) {
                    blob_ids.push(oid.clone());
                }
            }
            cache.offer(&sid, manifest);
            snapshots.push(SnapshotDelta { snapshot_id: sid, parent_snapshot_id: base_id, delta_upsert, delta_remove });
        }
    }
    drop(have_blobs);

    // Blobs: read (and hash-verified) in parallel, kept in order.
    let blobs = blob_ids
        .into_par_iter()
        .with_min_len(64)
        .map(|oid| store.read_blob(&BlobId::parse(&oid)?).map(|content| MPackBlob { blob_id: oid, content }))
        .collect::<Result<Vec<_>>>()?;

    let mut commits = Vec::with_capacity(order.len());
    for id in &order {
        match walk.nodes.get_mut(id).and_then(|n| n.rec.take()) {
            Some(rec) => commits.push(rec),
            None => return Err(Error::NotFound { what: "commit", name: id.clone() }),
        }
    }

    let want_set: HashSet<&str> = want.iter().map(String::as_str).collect();
    let branch_heads = store
        .branches()?
        .into_iter()
        .map(|(name, id)| (name, id.to_string()))
        .filter(|(_, id)| want_set.contains(id.as_str()))
        .collect();

    Ok(MPack { version: MPACK_FORMAT_VERSION, commits, snapshots, blobs, branch_heads })
}

// ---------------------------------------------------------------------------
// apply
// ---------------------------------------------------------------------------

/// What pass 1 of [`apply_mpack`] learned.
struct Plan<'m> {
    /// Blob ID → entry index.
    bundle_blobs: HashMap<&'m str, usize>,
    /// Snapshot ID → entry index.
    snap_index: HashMap<&'m str, usize>,
}

/// Rebuilds every snapshot of `m` in order, handing each full manifest to
/// `sink` (which hands it back). With `verify` (the limits), checks every
/// ID, path, blob, hash and `max_rebuilt_entries` on the way (pass 1);
/// without, trusts pass 1 (pass 2).
fn rebuild_all(
    store: &dyn Backend,
    m: &MPack,
    plan: &Plan<'_>,
    verify: Option<&Limits>,
    mut sink: impl FnMut(&SnapshotDelta, Manifest) -> Result<Manifest>,
) -> Result<()> {
    let mut cache = ManifestCache::new();
    for d in &m.snapshots {
        if let Some(p) = &d.parent_snapshot_id {
            cache.add_use(p);
        }
    }
    let mut repo_blobs: HashSet<&str> = HashSet::new();
    let mut rebuilt = 0u64;
    for (i, d) in m.snapshots.iter().enumerate() {
        let sid = d.snapshot_id.as_str();
        let ctx = || format!("snapshot {sid} (entry {i})");
        let mut manifest = match d.parent_snapshot_id.as_deref() {
            None => Manifest::new(),
            Some(p) => match plan.snap_index.get(p) {
                Some(&j) if j < i => {
                    cache.take(p).ok_or_else(|| bad(format!("{}: parent snapshot {p} was not rebuilt", ctx())))?
                }
                Some(&j) if j == i => return Err(bad(format!("{}: is its own parent", ctx()))),
                Some(&j) => {
                    return Err(bad(format!(
                        "{}: parent snapshot {p} is entry {j}, after this one; entries must list parents first",
                        ctx()
                    )))
                }
                None => {
                    if !cache.live.contains_key(p) {
                        let Some(rec) = snapshot(store, p)? else {
                            return Err(bad(format!(
                                "{}: parent snapshot {p} is neither in the bundle nor in the repository",
                                ctx()
                            )));
                        };
                        cache.live.insert(p.to_string(), rec.manifest);
                    }
                    cache.take(p).ok_or_else(|| bad(format!("{}: parent snapshot {p} was not loaded", ctx())))?
                }
            },
        };
        for (path, oid) in &d.delta_upsert {
            if verify.is_some() {
                validate_incoming_path(path).map_err(|e| bad(format!("{}: delta_upsert path {path:?}: {e}", ctx())))?;
                validate_id(oid).map_err(|e| bad(format!("{}: delta_upsert path {path:?}: blob ID: {e}", ctx())))?;
                if !plan.bundle_blobs.contains_key(oid.as_str()) && !repo_blobs.contains(oid.as_str()) {
                    if !store.has_blob(&BlobId::parse(oid)?)? {
                        return Err(bad(format!(
                            "{}: blob {oid} of path {path:?} is neither in the bundle nor in the repository",
                            ctx()
                        )));
                    }
                    repo_blobs.insert(oid.as_str());
                }
            }
            manifest.insert(path.clone(), oid.clone());
        }
        for path in &d.delta_remove {
            if verify.is_some() {
                validate_incoming_path(path).map_err(|e| bad(format!("{}: delta_remove path {path:?}: {e}", ctx())))?;
            }
            manifest.remove(path);
        }
        if let Some(limits) = verify {
            rebuilt = rebuilt.saturating_add(manifest.len() as u64);
            if rebuilt > limits.max_rebuilt_entries {
                return Err(Error::InvalidInput(format!(
                    "{}: the bundle's rebuilt manifests exceed {} entries in all (Limits::max_rebuilt_entries); refused",
                    ctx(),
                    limits.max_rebuilt_entries
                )));
            }
            let actual = hash_sorted_snapshot(manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if actual != d.snapshot_id {
                return Err(bad(format!(
                    "{}: rebuilt manifest ({} entries) hashes to {actual}, not to its snapshot_id",
                    ctx(),
                    manifest.len()
                )));
            }
            // git's index rule: no path both a file and a directory (one
            // pass over the sorted keys, as cheap as the hash above).
            check_no_file_dir_clash(manifest.keys().map(String::as_str)).map_err(|e| bad(format!("{}: {e}", ctx())))?;
        }
        let manifest = sink(d, manifest)?;
        cache.offer(sid, manifest);
    }
    Ok(())
}

/// Pass 1 of [`apply_mpack`]: every check, no write.
fn verify_bundle<'m>(store: &dyn Backend, m: &'m MPack, limits: &Limits) -> Result<Plan<'m>> {
    check_version(Some(u64::from(m.version)))?;

    // Limits (a bundle built in memory never went through decode_mpack).
    let mut entries = (m.commits.len() + m.snapshots.len() + m.blobs.len() + m.branch_heads.len()) as u64;
    for d in &m.snapshots {
        entries = entries.saturating_add((d.delta_upsert.len() + d.delta_remove.len()) as u64);
    }
    if entries > limits.max_entries {
        return Err(Error::InvalidInput(format!(
            "MPack bundle has {entries} entries, over the limit of {} (Limits::max_entries); refused",
            limits.max_entries
        )));
    }
    let mut total = 0u64;
    for (i, b) in m.blobs.iter().enumerate() {
        let size = b.content.len() as u64;
        if size > limits.max_blob_bytes {
            return Err(Error::TooLarge {
                what: "MPack blob",
                path: PathBuf::from(format!("{BUNDLE_PATH} blob #{i}")),
                size,
                limit: limits.max_blob_bytes,
            });
        }
        total = total.saturating_add(size);
    }
    if total > limits.max_bundle_bytes {
        return Err(Error::TooLarge {
            what: "MPack blobs (sum)",
            path: PathBuf::from(BUNDLE_PATH),
            size: total,
            limit: limits.max_bundle_bytes,
        });
    }

    // Blobs: IDs, no duplicates, content hashes (in parallel).
    let mut bundle_blobs: HashMap<&str, usize> = HashMap::with_capacity(m.blobs.len());
    for (i, b) in m.blobs.iter().enumerate() {
        validate_id(&b.blob_id).map_err(|e| bad(format!("blob #{i}: {e}")))?;
        if let Some(j) = bundle_blobs.insert(b.blob_id.as_str(), i) {
            return Err(bad(format!("blob #{i} {}: listed twice (also blob #{j})", b.blob_id)));
        }
    }
    let actual: Vec<String> = m.blobs.par_iter().with_min_len(16).map(|b| blob_id(&b.content)).collect();
    for (i, (b, a)) in m.blobs.iter().zip(&actual).enumerate() {
        if *a != b.blob_id {
            return Err(bad(format!("blob #{i} {}: content hashes to {a}", b.blob_id)));
        }
    }
    drop(actual);

    // Snapshots: IDs, no duplicates, then rebuild and verify each.
    let mut snap_index: HashMap<&str, usize> = HashMap::with_capacity(m.snapshots.len());
    for (i, d) in m.snapshots.iter().enumerate() {
        validate_id(&d.snapshot_id).map_err(|e| bad(format!("snapshot entry {i}: snapshot_id: {e}")))?;
        if let Some(p) = &d.parent_snapshot_id {
            validate_id(p)
                .map_err(|e| bad(format!("snapshot {} (entry {i}): parent_snapshot_id: {e}", d.snapshot_id)))?;
        }
        if let Some(j) = snap_index.insert(d.snapshot_id.as_str(), i) {
            return Err(bad(format!("snapshot {} (entry {i}): listed twice (also entry {j})", d.snapshot_id)));
        }
    }
    let plan = Plan { bundle_blobs, snap_index };
    rebuild_all(store, m, &plan, Some(limits), |_, manifest| Ok(manifest))?;

    // Commits: verify, no duplicates, snapshot present, parents earlier.
    let mut commit_index: HashMap<&str, usize> = HashMap::with_capacity(m.commits.len());
    for (i, c) in m.commits.iter().enumerate() {
        validate_id(&c.commit_id).map_err(|e| bad(format!("commit #{i}: commit_id: {e}")))?;
        if let Some(j) = commit_index.insert(c.commit_id.as_str(), i) {
            return Err(bad(format!("commit #{i} {}: listed twice (also commit #{j})", c.commit_id)));
        }
    }
    for (i, c) in m.commits.iter().enumerate() {
        let ctx = || format!("commit #{i} {}", c.commit_id);
        c.validate().map_err(|e| bad(format!("{}: {e}", ctx())))?;
        validate_id(&c.snapshot_id).map_err(|e| bad(format!("{}: snapshot_id: {e}", ctx())))?;
        if !plan.snap_index.contains_key(c.snapshot_id.as_str()) && !store.has_snapshot(&SnapshotId::parse(&c.snapshot_id)?)? {
            return Err(bad(format!(
                "{}: snapshot {} is neither in the bundle nor in the repository",
                ctx(),
                c.snapshot_id
            )));
        }
        for p in c.all_parents() {
            validate_id(p).map_err(|e| bad(format!("{}: parent: {e}", ctx())))?;
            match commit_index.get(p) {
                Some(&j) if j < i => {}
                Some(&j) if j == i => return Err(bad(format!("{}: is its own parent", ctx()))),
                Some(&j) => {
                    return Err(bad(format!(
                        "{}: parent {p} is commit #{j}, after this one; commits must list parents first \
                         (or the graph has a cycle)",
                        ctx()
                    )))
                }
                None => {
                    if !store.has_commit(&CommitId::parse(p)?)? {
                        return Err(bad(format!(
                            "{}: parent {p} is neither earlier in the bundle nor in the repository",
                            ctx()
                        )));
                    }
                }
            }
        }
    }

    // Branch heads: valid names at known commits.
    for (branch, id) in &m.branch_heads {
        validate_branch_name(branch).map_err(|e| bad(format!("branch_heads[{branch:?}]: {e}")))?;
        validate_id(id).map_err(|e| bad(format!("branch_heads[{branch:?}]: {e}")))?;
        if !commit_index.contains_key(id.as_str()) && !store.has_commit(&CommitId::parse(id)?)? {
            return Err(bad(format!(
                "branch_heads[{branch:?}]: commit {id} is neither in the bundle nor in the repository"
            )));
        }
    }
    Ok(plan)
}

/// Verifies a bundle completely, then stores its blobs, snapshots (as
/// deltas on their parent snapshots where possible, see
/// [`crate::snapshots`]) and commits through one write batch
/// ([`crate::store::WriteBatch`]; see the module docs).
/// Applying a bundle whose content is already stored writes nothing.
///
/// Moves no ref and writes nothing at all unless every check passes; the
/// verified `branch_heads` are returned in [`ApplyStats`] for the caller.
///
/// # Errors
/// [`Error::Corrupt`] (`<mpack>`) naming the first bad entry: a blob whose
/// ID is malformed or does not match its content, a snapshot whose ID,
/// parent, path (see [`crate::paths::validate_incoming_path`]: no `.muse`
/// or `.git` component or alias) or blob ID is invalid, whose parent is
/// missing or listed after it, whose rebuilt manifest does not hash to its
/// ID or has a path that is both a file and a directory (naming both), a commit
/// that does not verify or whose snapshot or parents are missing or listed
/// after it, a duplicate entry, a bad branch head;
/// [`Error::NotARepository`] when `root` has no `.muse/`;
/// [`Error::InvalidInput`] (unsupported version, over
/// `limits.max_entries` or `limits.max_rebuilt_entries`); [`Error::TooLarge`] (blob over
/// `limits.max_blob_bytes`, blobs over `limits.max_bundle_bytes`); errors
/// reading the repository ([`Error::Corrupt`] of a stored record,
/// [`Error::Io`]); [`Error::Io`] while writing (nothing visible).
pub fn apply_mpack(root: &Path, m: &MPack, limits: &Limits) -> Result<ApplyStats> {
    crate::Repository::open(root)?.apply_mpack(m, limits)
}

/// [`apply_mpack`] into `store` ([`crate::Repository::apply_mpack`]).
pub(crate) fn apply_to(
    store: &dyn Backend,
    m: &MPack,
    limits: &Limits,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<ApplyStats> {
    let items = (m.blobs.len() + m.snapshots.len() + m.commits.len()) as u64;
    progress("verifying the bundle", 0, 1);
    let plan = verify_bundle(store, m, limits)?;
    progress("verifying the bundle", 1, 1);

    let mut batch = store.batch()?;
    // Everything below was verified by pass 1 (blob hashes, paths, IDs,
    // every rebuilt manifest's hash) and the bundle cannot change in
    // between: pass 2 stages without hashing again.
    for (i, b) in m.blobs.iter().enumerate() {
        batch.write_verified_blob(&BlobId::parse(&b.blob_id)?, &b.content)?;
        if i % 256 == 255 {
            progress("storing the bundle", i as u64 + 1, items);
        }
    }
    let created_at = now_iso();
    rebuild_all(store, m, &plan, None, |d, manifest| {
        let rec = SnapshotRecord {
            snapshot_id: d.snapshot_id.clone(),
            manifest,
            created_at: created_at.clone(),
            extra: Vec::new(),
        };
        // Stored as a delta on the entry's parent snapshot (SPEC §3); the
        // manifest is the parent's with exactly these paths changed.
        let changed: BTreeSet<String> = d.delta_upsert.keys().chain(&d.delta_remove).cloned().collect();
        let base = d.parent_snapshot_id.as_deref().map(SnapshotId::parse).transpose()?;
        batch.write_snapshot_delta(&rec, base.as_ref(), &changed)?;
        Ok(rec.manifest)
    })?;
    for c in &m.commits {
        batch.write_commit(c)?;
    }
    let stats = batch.commit()?;
    progress("storing the bundle", items, items);
    Ok(ApplyStats {
        commits_written: stats.commits_written,
        snapshots_written: stats.snapshots_written,
        blobs_written: stats.blobs_written,
        blobs_skipped: stats.blobs_skipped,
        branch_heads: m.branch_heads.clone(),
    })
}

impl crate::Repository {
    /// The bundle of every commit reachable from `want` and not from `have`
    /// (SPEC §7; what is sent: the module docs), read from this
    /// repository's store, whichever backend it is.
    ///
    /// # Errors
    /// As [`build_mpack`] (without [`Error::NotARepository`]).
    pub fn build_mpack(&self, want: &[CommitId], have: &[CommitId]) -> Result<MPack> {
        build_from(self.store(), want, have)
    }

    /// Verifies bundle `m` completely, then stores its content in this
    /// repository's store in one write batch; moves no ref (the verified
    /// `branch_heads` are returned; [`crate::Repository::update_branch`]
    /// applies git's fast-forward rule to them).
    ///
    /// # Errors
    /// As [`apply_mpack`] (without [`Error::NotARepository`]).
    pub fn apply_mpack(&self, m: &MPack, limits: &Limits) -> Result<ApplyStats> {
        apply_to(self.store(), m, limits, &|what, done, total| self.report_progress(what, done, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_rejects_huge_declared_lengths_fast() {
        let l = Limits::default();
        // bin32 claiming 2 GiB - 1 inside a map value.
        let mut b = vec![0x81, 0xa5];
        b.extend_from_slice(b"blobs");
        b.extend_from_slice(&[0xc6, 0x7f, 0xff, 0xff, 0xff]);
        let e = decode_mpack(&b, &l).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // array32 with 2^31 entries.
        let mut b = vec![0x81, 0xa7];
        b.extend_from_slice(b"commits");
        b.extend_from_slice(&[0xdd, 0x80, 0, 0, 0]);
        let e = decode_mpack(&b, &l).unwrap_err();
        assert!(e.to_string().contains("declares 2147483648 entries"), "{e}");
    }

    #[test]
    fn diff_sorted_agrees_with_lookups() {
        let map = |pairs: &[(&str, &str)]| -> Manifest {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let cases = [
            (map(&[]), map(&[])),
            (map(&[]), map(&[("a", "1"), ("b", "2")])),
            (map(&[("a", "1"), ("b", "2")]), map(&[])),
            (map(&[("a", "1"), ("c", "3"), ("e", "5")]), map(&[("a", "1"), ("b", "2"), ("c", "4"), ("f", "6")])),
            (map(&[("a/b", "1"), ("a/c", "2"), ("z", "9")]), map(&[("a/b", "1"), ("a/c", "2"), ("z", "9")])),
            (map(&[("x", "1")]), map(&[("a", "1"), ("x", "2"), ("y", "3")])),
        ];
        for (base, manifest) in &cases {
            let (upsert, remove) = diff_sorted(base, manifest);
            let want_upsert: Manifest =
                manifest.iter().filter(|(k, v)| base.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let want_remove: Vec<String> = base.keys().filter(|k| !manifest.contains_key(*k)).cloned().collect();
            assert_eq!(upsert, want_upsert, "{base:?} -> {manifest:?}");
            assert_eq!(remove, want_remove, "{base:?} -> {manifest:?}");
            // Applying the delta to the base gives the manifest back.
            let mut rebuilt = base.clone();
            rebuilt.extend(upsert);
            for r in &remove {
                rebuilt.remove(r);
            }
            assert_eq!(&rebuilt, manifest);
        }
    }

    #[test]
    fn version_rules() {
        let l = Limits::default();
        let empty = decode_mpack(&[0x80], &l).unwrap();
        assert_eq!(empty, MPack::default());
        let v2 = [0x81, 0xa7, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];
        let e = decode_mpack(&v2, &l).unwrap_err();
        assert!(e.to_string().contains("unsupported MPack format version 2"), "{e}");
    }

    #[test]
    fn rmpv_round_trip() {
        let m = MPack {
            blobs: vec![MPackBlob { blob_id: blob_id(b"x"), content: b"x".to_vec() }],
            snapshots: vec![SnapshotDelta { snapshot_id: blob_id(b"s"), ..Default::default() }],
            ..Default::default()
        };
        let v = rmpv::ext::to_value(&m).unwrap();
        let back: MPack = rmpv::ext::from_value(v).unwrap();
        assert_eq!(back, m);
        let bytes = encode_mpack(&m).unwrap();
        assert_eq!(decode_mpack(&bytes, &Limits::default()).unwrap(), m);
    }
}
