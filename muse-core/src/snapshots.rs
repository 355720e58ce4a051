//! The snapshot store (SPEC §3).
//!
//! A snapshot lives at `.muse/snapshots/<hex>.msgpack`, written once (mode
//! 0444), in one of two forms:
//!
//! * **full** — `{"format_version": 1, "snapshot_id", "manifest": {path:
//!   blob_id}, "created_at", …}`; every record written before deltas
//!   existed has this form and stays readable;
//! * **delta** — `{"format_version": 1, "snapshot_id", "base_snapshot_id",
//!   "delta_upsert": {path: blob_id}, "delta_remove": [path], "depth": n,
//!   "created_at", …}`: the manifest is the base's manifest with the paths of
//!   `delta_remove` removed, then `delta_upsert` applied. `depth` is the
//!   number of deltas down to the first full record (a delta on a full
//!   record has depth 1).
//!
//! [`write_snapshot_with_base`] (and [`crate::batch::Batch::write_snapshot_with_base`])
//! stores a *skip delta* (the scheme of Subversion's FSFS): the record at
//! chain position `n` (its `depth`, 1 ..= [`CHECKPOINT_INTERVAL`] − 1) is a
//! delta on the ancestor of its chain at position `n & (n - 1)` (`n` with its
//! lowest set bit cleared). The given base is the new record's parent in that
//! chain; every other record is then a delta on the parent itself, one in
//! four on the grandparent's base, and so on. A full record (a checkpoint,
//! depth 0) is stored instead when the base is absent or unreadable, when
//! the chain is [`CHECKPOINT_INTERVAL`] long, or when the delta would have as
//! many entries as the manifest. So:
//!
//! - reading a snapshot reads at most `popcount(depth) + 1` ≤ 11 records
//!   (the depths along a chain strictly decrease);
//! - a history of C commits over F files, changing c paths per commit,
//!   stores about `c · log2(CHECKPOINT_INTERVAL) / 2` entries per commit
//!   (a delta at position `n` spans `n & -n` commits of changes) plus one
//!   full F-entry manifest per [`CHECKPOINT_INTERVAL`] commits: storage grows
//!   with the paths changed, not with C × F (2,000 files, 3 changes per
//!   commit: ~1.9 KB per snapshot against ~190 KB for a full record).
//!
//! Records written with the earlier rule (a delta on the parent, depth =
//! base depth + 1, a checkpoint every 32) are valid skip-delta chains and
//! stay readable; new records chain onto them.
//!
//! [`read_snapshot`] always returns the full manifest: it follows the base
//! chain iteratively (never recursively), reading each file under
//! [`MAX_MSGPACK_BYTES`], checking that every base holds the ID it is named
//! by and has a smaller depth (so a chain can neither cycle nor exceed
//! [`MAX_DELTA_DEPTH`] records), then verifies that the rebuilt manifest
//! hashes to the ID. A missing, undecodable or inconsistent base is
//! [`Error::Corrupt`] on every descendant. Unknown keys of the top record
//! are preserved (in [`SnapshotRecord::extra`]), as for full records.
//!
//! Garbage collection keeps the base chain of every snapshot it keeps
//! ([`crate::reachability`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::atomic::Durability;
use crate::commits::write_record_file;
use crate::config::durability_for;
use crate::error::{Error, Result};
use crate::pack::EntryKind;
use crate::paths::snapshot_path;
use crate::records::{
    check_snapshot_hash, decode_exact, read_capped, SnapshotRecord, SnapshotView, FORMAT_VERSION, MAX_MSGPACK_BYTES,
};

/// A delta chain is cut by a full record (a checkpoint) before its depth
/// reaches this: deltas have depth 1 ..= `CHECKPOINT_INTERVAL - 1`. A power
/// of two (see the module docs: skip deltas).
pub const CHECKPOINT_INTERVAL: u32 = 1024;

/// Deepest delta a reader accepts (records of other writers may use a
/// larger interval than [`CHECKPOINT_INTERVAL`]); deeper is corruption.
pub const MAX_DELTA_DEPTH: u32 = 4096;

use crate::manifest::Manifest;

/// One snapshot file as stored: full or delta.
#[derive(Debug, Default)]
struct Stored {
    snapshot_id: String,
    manifest: Option<Manifest>,
    base_snapshot_id: Option<String>,
    delta_upsert: Manifest,
    delta_remove: Vec<String>,
    depth: u32,
    created_at: String,
    extra: Vec<(String, rmpv::Value)>,
}

impl Stored {
    fn depth(&self) -> u32 {
        if self.manifest.is_some() {
            0
        } else {
            self.depth
        }
    }
}

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stored;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a snapshot record map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Stored, A::Error> {
                let mut r = Stored::default();
                let mut has_id = false;
                let mut depth: Option<u32> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "format_version" => {
                            let _: u32 = map.next_value()?;
                        }
                        "snapshot_id" => {
                            r.snapshot_id = map.next_value()?;
                            has_id = true
                        }
                        "manifest" => r.manifest = Some(map.next_value::<crate::records::BulkMap>()?.0),
                        "base_snapshot_id" => r.base_snapshot_id = map.next_value()?,
                        "delta_upsert" => {
                            r.delta_upsert =
                                map.next_value::<Option<crate::records::BulkMap>>()?.map(|m| m.0).unwrap_or_default()
                        }
                        "delta_remove" => r.delta_remove = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "depth" => depth = Some(map.next_value()?),
                        "created_at" => r.created_at = map.next_value::<Option<String>>()?.unwrap_or_default(),
                        _ => {
                            let v: rmpv::Value = map.next_value()?;
                            r.extra.push((key, v));
                        }
                    }
                }
                if !has_id {
                    return Err(de::Error::custom("missing snapshot_id"));
                }
                if r.manifest.is_none() {
                    if r.base_snapshot_id.is_none() {
                        return Err(de::Error::custom("missing manifest (or base_snapshot_id)"));
                    }
                    r.depth = depth.ok_or_else(|| de::Error::custom("delta record without depth"))?;
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// The delta form of a record, for encoding.
struct DeltaOut<'a> {
    rec: &'a dyn SnapshotView,
    base: &'a str,
    upsert: BTreeMap<&'a str, &'a str>,
    remove: Vec<&'a str>,
    depth: u32,
}

impl Serialize for DeltaOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(7 + self.rec.extra().len()))?;
        m.serialize_entry("format_version", &FORMAT_VERSION)?;
        m.serialize_entry("snapshot_id", self.rec.snapshot_id())?;
        m.serialize_entry("base_snapshot_id", self.base)?;
        m.serialize_entry("delta_upsert", &self.upsert)?;
        m.serialize_entry("delta_remove", &self.remove)?;
        m.serialize_entry("depth", &self.depth)?;
        m.serialize_entry("created_at", self.rec.created_at())?;
        for (k, v) in self.rec.extra() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A snapshot read with its chain: the full record, its depth (0 for a full
/// record) and the IDs of its bases, nearest first.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub rec: SnapshotRecord,
    pub depth: u32,
    pub bases: Vec<String>,
    /// The depth of each of `bases`.
    pub base_depths: Vec<u32>,
    /// False when `rec.manifest` was not kept (a batch's cache entry):
    /// then only the ID and the chain are known.
    pub has_manifest: bool,
}

/// Snapshot records not yet in the store (a batch's), by ID: their bytes
/// and a path to name in errors; `None` when `id` is not among them.
pub(crate) trait StagedSnapshots {
    fn staged_snapshot(&self, id: &str) -> Option<Result<(Vec<u8>, PathBuf)>>;
}

/// The stored bytes of snapshot record `id`: staged, packed (packs known to
/// this process), loose, or in a pack that appeared since. `Ok(None)` when
/// absent.
fn fetch(root: &Path, staged: Option<&dyn StagedSnapshots>, id: &str) -> Result<Option<(Vec<u8>, PathBuf)>> {
    if let Some(r) = staged.and_then(|s| s.staged_snapshot(id)) {
        return r.map(Some);
    }
    let path = snapshot_path(root, id)?;
    crate::pack::lookup(
        root,
        EntryKind::Snapshot,
        id,
        || Ok(read_capped(&path, "snapshot record", MAX_MSGPACK_BYTES)?.map(|b| (b, path.clone()))),
        |p, e| Ok((p.read(e, "snapshot record", MAX_MSGPACK_BYTES)?, p.path().to_path_buf())),
    )
}

fn read_stored(root: &Path, staged: Option<&dyn StagedSnapshots>, id: &str) -> Result<Option<(Stored, PathBuf)>> {
    let Some((bytes, path)) = fetch(root, staged, id)? else {
        return Ok(None);
    };
    decode_exact::<Stored>(&bytes, "snapshot record", &path).map(|s| Some((s, path)))
}

/// Reads snapshot `id` (from `staged` first, then the store), following its
/// base chain iteratively, and verifies the rebuilt manifest. `Ok(None)`
/// when `id` itself is absent.
pub(crate) fn load_snapshot(root: &Path, staged: Option<&dyn StagedSnapshots>, id: &str) -> Result<Option<Loaded>> {
    crate::ids::validate_id(id)?;
    let Some((top, top_path)) = read_stored(root, staged, id)? else {
        return Ok(None);
    };
    if top.snapshot_id != id {
        return Err(Error::corrupt("snapshot record", &top_path, format!("holds snapshot {} instead", top.snapshot_id)));
    }
    let depth = top.depth();
    if depth > MAX_DELTA_DEPTH {
        return Err(Error::corrupt("snapshot record", &top_path, format!("delta depth {depth} is over {MAX_DELTA_DEPTH}")));
    }
    // chain[0] is the top record, the last one is the full record.
    let mut chain: Vec<Stored> = vec![top];
    let mut bases: Vec<String> = Vec::new();
    let mut base_depths: Vec<u32> = Vec::new();
    let mut seen: HashSet<String> = HashSet::from([id.to_string()]);
    let mut cur_path = top_path.clone();
    loop {
        let cur = chain.last().expect("chain is never empty");
        if cur.manifest.is_some() {
            break;
        }
        let base = cur.base_snapshot_id.clone().expect("delta has a base");
        let cur_depth = cur.depth;
        let corrupt = |p: &Path, d: String| Error::corrupt("snapshot record", p, d);
        if cur_depth == 0 {
            return Err(corrupt(&cur_path, "delta record with depth 0".into()));
        }
        if !seen.insert(base.clone()) {
            return Err(corrupt(&cur_path, format!("delta chain cycles through base {base}")));
        }
        crate::ids::validate_id(&base).map_err(|e| corrupt(&cur_path, format!("bad base_snapshot_id: {e}")))?;
        let Some((b, base_path)) = read_stored(root, staged, &base)? else {
            return Err(corrupt(&cur_path, format!("base snapshot {base} is missing")));
        };
        if b.snapshot_id != base {
            return Err(corrupt(&base_path, format!("holds snapshot {} instead of base {base}", b.snapshot_id)));
        }
        if b.depth() >= cur_depth {
            return Err(corrupt(
                &cur_path,
                format!("depth {cur_depth} but base {base} has depth {}", b.depth()),
            ));
        }
        base_depths.push(b.depth());
        bases.push(base);
        chain.push(b);
        cur_path = base_path;
    }
    let created_at = std::mem::take(&mut chain[0].created_at);
    let extra = std::mem::take(&mut chain[0].extra);
    let mut manifest = chain.pop().and_then(|f| f.manifest).expect("chain ends with a full record");
    while let Some(d) = chain.pop() {
        for p in &d.delta_remove {
            manifest.remove(p);
        }
        manifest.extend(d.delta_upsert);
    }
    let rec = SnapshotRecord { snapshot_id: id.to_string(), manifest, created_at, extra };
    check_snapshot_hash(&rec, id, &top_path)?;
    Ok(Some(Loaded { rec, depth, bases, base_depths, has_manifest: true }))
}

/// Encodes a snapshot record as a full record (no validation).
fn encode_full(root: &Path, rec: &SnapshotRecord) -> Result<(PathBuf, Vec<u8>)> {
    let path = snapshot_path(root, &rec.snapshot_id)?;
    let bytes = rec.to_msgpack()?;
    check_size(&path, &bytes)?;
    Ok((path, bytes))
}

fn check_size(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() as u64 > MAX_MSGPACK_BYTES {
        return Err(Error::TooLarge {
            what: "snapshot record",
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_MSGPACK_BYTES,
        });
    }
    Ok(())
}

/// The chain position of a record stored on top of `parent` (skip deltas,
/// see the module docs): `None` when it must be a checkpoint (the chain is
/// [`CHECKPOINT_INTERVAL`] long), else `(new depth, base)` where the base is
/// `None` for `parent` itself and `Some(i)` for `parent.bases[i]`: the
/// member of the parent's chain at depth `n & (n - 1)` (or, in a chain
/// written by other rules, the lowest one at or above it).
pub(crate) fn skip_base(parent: &Loaded) -> Option<(u32, Option<usize>)> {
    let n = parent.depth.checked_add(1).filter(|n| *n < CHECKPOINT_INTERVAL)?;
    let m = n & (n - 1);
    let pick = parent.base_depths.iter().take_while(|d| **d >= m).count();
    Some((n, pick.checked_sub(1)))
}

/// Chooses the record a new snapshot on top of `parent` is stored against:
/// `(base, new depth)`, or `None` for a checkpoint. `load` fetches a member
/// of the parent's chain (from a cache or the store); when it cannot, the
/// parent itself is the base (a valid chain, only less balanced).
pub(crate) fn choose_base(parent: Loaded, load: &mut dyn FnMut(&str) -> Option<Loaded>) -> Option<(Loaded, u32)> {
    let (n, pick) = skip_base(&parent)?;
    if let Some(i) = pick {
        if let Some(b) = load(&parent.bases[i]).filter(|b| b.depth == parent.base_depths[i]) {
            return Some((b, n));
        }
    }
    Some((parent, n))
}

impl Loaded {
    /// The chain of a record stored as a delta on `self`: (bases, their
    /// depths), nearest first.
    pub(crate) fn chain_above(&self) -> (Vec<String>, Vec<u32>) {
        let mut bases = Vec::with_capacity(self.bases.len() + 1);
        bases.push(self.rec.snapshot_id.clone());
        bases.extend(self.bases.iter().cloned());
        let mut depths = Vec::with_capacity(bases.len());
        depths.push(self.depth);
        depths.extend(self.base_depths.iter().copied());
        (bases, depths)
    }
}

/// How much of a record [`prepare_snapshot_on`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Everything: the ID, every path and blob ID, the manifest's hash.
    Full,
    /// The caller computed the ID from the manifest
    /// ([`SnapshotRecord::new`]) and the base's entries are valid: only the
    /// entries that differ from the base (all of them for a full record)
    /// are checked. The caller has also checked that no path is both a
    /// file and a directory ([`crate::paths::check_no_file_dir_clash`]):
    /// `apply_mpack` on every rebuilt manifest, `import_git` at every
    /// changed path ([`crate::paths::check_no_file_dir_clash_at`]).
    Computed,
}

fn validate_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
    for (path, oid) in entries {
        crate::paths::validate_rel_path(path)?;
        crate::ids::validate_id(oid)?;
    }
    Ok(())
}

/// What a delta is computed against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Against<'a> {
    /// The base's manifest: an exact delta, by one merge walk.
    Manifest(&'a Manifest),
    /// A superset of the paths where the record differs from its base (its
    /// parent, whose manifest is not at hand): the record's entry for each
    /// is upserted, and those it lacks are removed. Entries equal to the
    /// base's, or removals of absent paths, are harmless when applied.
    Changed(&'a BTreeSet<String>),
}

/// Validates (see [`Check`]) and encodes `rec` as a delta on `base` (`(id,
/// what to diff against, depth of the new record)`, see [`choose_base`])
/// when that is worth it (fewer entries than the manifest), else as a full
/// record. Returns the path, the bytes and the depth stored (0 for a full
/// record).
pub(crate) fn prepare_snapshot_on(
    root: &Path,
    rec: &dyn SnapshotView,
    base: Option<(&str, Against<'_>, u32)>,
    check: Check,
) -> Result<(PathBuf, Vec<u8>, u32)> {
    match check {
        Check::Full => rec.to_record().validate()?,
        Check::Computed => {
            crate::ids::validate_id(rec.snapshot_id())?;
        }
    }
    let full = |rec: &dyn SnapshotView| -> Result<(PathBuf, Vec<u8>, u32)> {
        let rec = rec.to_record();
        if check == Check::Computed {
            validate_entries(rec.manifest.iter().map(|(p, o)| (p.as_str(), o.as_str())))?;
        }
        let (p, b) = encode_full(root, &rec)?;
        Ok((p, b, 0))
    };
    let Some((base_id, against, depth)) =
        base.filter(|(b, _, d)| *b != rec.snapshot_id() && (1..CHECKPOINT_INTERVAL).contains(d))
    else {
        return full(rec);
    };
    let mut upsert: BTreeMap<&str, &str> = BTreeMap::new();
    let mut remove: Vec<&str> = Vec::new();
    let base_m = match against {
        Against::Manifest(m) => m,
        Against::Changed(paths) => {
            for p in paths {
                match rec.entry(p.as_str()) {
                    Some((k, v)) => {
                        upsert.insert(k, v);
                    }
                    None => remove.push(p),
                }
            }
            return delta_or_full(root, rec, base_id, upsert, remove, depth, check, full);
        }
    };
    // One merge walk over the two sorted manifests.
    let whole = rec.to_record();
    let (up, rm) = crate::manifest::delta(base_m, &whole.manifest);
    delta_or_full(root, rec, base_id, up.into_iter().collect(), rm, depth, check, full)
}

#[allow(clippy::too_many_arguments)]
fn delta_or_full<'a>(
    root: &Path,
    rec: &'a dyn SnapshotView,
    base_id: &'a str,
    upsert: BTreeMap<&'a str, &'a str>,
    remove: Vec<&'a str>,
    depth: u32,
    check: Check,
    full: impl Fn(&dyn SnapshotView) -> Result<(PathBuf, Vec<u8>, u32)>,
) -> Result<(PathBuf, Vec<u8>, u32)> {
    if upsert.len() + remove.len() >= rec.entry_count().max(1) {
        return full(rec);
    }
    if check == Check::Computed {
        validate_entries(upsert.iter().map(|(p, o)| (*p, *o)))?;
    }
    let path = snapshot_path(root, rec.snapshot_id())?;
    let out = DeltaOut { rec, base: base_id, upsert, remove, depth };
    let bytes = rmp_serde::to_vec(&out).map_err(|e| Error::InvalidInput(format!("cannot encode snapshot: {e}")))?;
    check_size(&path, &bytes)?;
    Ok((path, bytes, depth))
}

/// Stores a snapshot record as a full record. Returns `true` when written,
/// `false` when one with that ID was already stored. The record is checked
/// first with [`SnapshotRecord::validate`] (git's `verify_path` rules on
/// every path, no file/directory clash, the hash).
///
/// # Errors
/// [`Error::InvalidId`], [`Error::InvalidPath`] (including a `.muse`
/// component or alias at any depth), [`Error::InvalidInput`] (a path that
/// is both a file and a directory, naming both), [`Error::HashMismatch`],
/// [`Error::TooLarge`] (nothing written); [`Error::Io`].
pub fn write_snapshot(root: &Path, rec: &SnapshotRecord, durability: Option<Durability>) -> Result<bool> {
    write_snapshot_with_base(root, rec, None, durability)
}

/// Stores a snapshot record, as a (skip) delta in the chain of the stored
/// snapshot `base`, its parent, when possible (see the module docs: a base
/// that is absent, unreadable or at the end of a [`CHECKPOINT_INTERVAL`]
/// chain gives a full record).
/// Returns `true` when written, `false` when one with that ID was already
/// stored.
///
/// # Errors
/// As [`write_snapshot`]; [`Error::InvalidId`] for a malformed `base`.
pub fn write_snapshot_with_base(
    root: &Path,
    rec: &SnapshotRecord,
    base: Option<&str>,
    durability: Option<Durability>,
) -> Result<bool> {
    let durability = durability_for(root, durability)?;
    // Shared write lock for the call: `gc --prune` never runs mid-write.
    let _write_lock = crate::lock::writer_lock(root)?;
    if crate::pack::find_for_write(root, EntryKind::Snapshot, &rec.snapshot_id, false)?.is_some() {
        rec.validate()?;
        return Ok(false);
    }
    let parent = match base {
        Some(b) if b != rec.snapshot_id => {
            crate::ids::validate_id(b)?;
            rec.validate()?;
            if has_snapshot(root, &rec.snapshot_id)? {
                return Ok(false);
            }
            // An unreadable base only costs a full record.
            load_snapshot(root, None, b).ok().flatten()
        }
        _ => None,
    };
    let chosen = parent.and_then(|p| choose_base(p, &mut |id| load_snapshot(root, None, id).ok().flatten()));
    let (path, bytes, _) = prepare_snapshot_on(
        root,
        rec,
        chosen.as_ref().map(|(b, d)| (b.rec.snapshot_id.as_str(), Against::Manifest(&b.rec.manifest), *d)),
        Check::Full,
    )?;
    write_record_file(&path, &bytes, durability)
}

/// Reads the snapshot `id` with its full manifest (rebuilt from its delta
/// chain if stored as a delta): `Ok(None)` when absent.
///
/// # Errors
/// [`Error::InvalidId`]; [`Error::Corrupt`] when it or a base is
/// undecodable, missing, inconsistent, or when the manifest does not hash
/// to `id`; [`Error::TooLarge`]; [`Error::Io`].
pub fn read_snapshot(root: &Path, id: &str) -> Result<Option<SnapshotRecord>> {
    Ok(load_snapshot(root, None, id)?.map(|l| l.rec))
}

/// The IDs of the base chain of snapshot `id`, nearest first (empty for a
/// full record); reads and verifies the snapshot.
///
/// # Errors
/// As [`read_snapshot`]; [`Error::NotFound`] when `id` is absent.
pub fn snapshot_bases(root: &Path, id: &str) -> Result<Vec<String>> {
    load_snapshot(root, None, id)?
        .map(|l| l.bases)
        .ok_or_else(|| Error::NotFound { what: "snapshot", name: id.to_string() })
}

/// True when the snapshot `id` is stored.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn has_snapshot(root: &Path, id: &str) -> Result<bool> {
    crate::pack::is_stored(root, EntryKind::Snapshot, id)
}

/// IDs of every stored snapshot record (loose and packed), sorted, without
/// repeats. Files in `snapshots/` whose names are not `<64 hex>.msgpack`
/// (temps) are skipped.
///
/// # Errors
/// [`Error::Io`] when `snapshots/` exists but cannot be listed.
pub fn list_snapshot_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = crate::records::list_record_ids(&crate::paths::snapshots_dir(root))?;
    ids.extend(crate::pack::packed_ids(root, EntryKind::Snapshot));
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The form of one snapshot record as it is stored ([`read_stored_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredForm {
    /// A full record: the whole manifest (`{path: blob_id}`).
    Full(Manifest),
    /// A delta record: the manifest is `base`'s manifest without the paths
    /// of `remove`, then with `upsert` applied (see the module docs).
    Delta {
        /// The ID of the base snapshot (`base_snapshot_id`; not validated).
        base: String,
        /// The record's chain depth (1 for a delta on a full record).
        depth: u32,
        /// Entries added or changed (`delta_upsert`).
        upsert: Manifest,
        /// Paths removed (`delta_remove`), applied before `upsert`.
        remove: Vec<String>,
    },
}

/// One snapshot record as stored: decoded but neither rebuilt from its
/// base chain nor checked against its ID ([`read_stored_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The ID the record holds (in a damaged store, not necessarily the
    /// one it was read under).
    pub snapshot_id: String,
    /// Full manifest or delta.
    pub form: StoredForm,
    /// Where it was read: the loose record file or the pack holding it (for
    /// error messages).
    pub path: PathBuf,
}

impl StoredSnapshot {
    /// The chain depth: 0 for a full record.
    pub fn depth(&self) -> u32 {
        match &self.form {
            StoredForm::Full(_) => 0,
            StoredForm::Delta { depth, .. } => *depth,
        }
    }

    /// The base snapshot's ID, for a delta record.
    pub fn base(&self) -> Option<&str> {
        match &self.form {
            StoredForm::Full(_) => None,
            StoredForm::Delta { base, .. } => Some(base),
        }
    }
}

/// Reads snapshot record `id` as stored (loose or packed, the lookup order
/// of [`read_snapshot`]) without following its base chain or verifying its
/// manifest hash: for whole-store walks (`muse verify` rebuilds each
/// manifest once from its base's, `muse gc` collects the blob IDs of the
/// stored entries). `Ok(None)` when absent. Unknown keys are dropped.
///
/// # Errors
/// [`Error::InvalidId`]; [`Error::Corrupt`] when the record does not
/// decode (or is a delta without a depth); [`Error::TooLarge`];
/// [`Error::Io`].
pub fn read_stored_snapshot(root: &Path, id: &str) -> Result<Option<StoredSnapshot>> {
    crate::ids::validate_id(id)?;
    let Some((s, path)) = read_stored(root, None, id)? else {
        return Ok(None);
    };
    let form = match (s.manifest, s.base_snapshot_id) {
        (Some(m), _) => StoredForm::Full(m),
        (None, Some(base)) => StoredForm::Delta { base, depth: s.depth, upsert: s.delta_upsert, remove: s.delta_remove },
        // The decoder refuses a record with neither.
        (None, None) => return Err(Error::corrupt("snapshot record", &path, "missing manifest (or base_snapshot_id)")),
    };
    Ok(Some(StoredSnapshot { snapshot_id: s.snapshot_id, form, path }))
}

/// The chain link of one stored snapshot record, decoded without its
/// manifest or delta entries ([`read_stored_snapshot_head`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHead {
    /// The ID the record holds.
    pub snapshot_id: String,
    /// The base snapshot's ID (`None` for a full record; not validated).
    pub base: Option<String>,
    /// The chain depth (0 for a full record).
    pub depth: u32,
    /// Where it was read: the loose record file or the pack holding it.
    pub path: PathBuf,
}

/// [`Stored`] without the entries (skipped, not allocated).
#[derive(Default)]
struct Head {
    snapshot_id: String,
    full: bool,
    base: Option<String>,
    depth: u32,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Head;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a snapshot record map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Head, A::Error> {
                let mut r = Head::default();
                let mut has_id = false;
                let mut depth: Option<u32> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "snapshot_id" => {
                            r.snapshot_id = map.next_value()?;
                            has_id = true
                        }
                        "manifest" => {
                            let _: de::IgnoredAny = map.next_value()?;
                            r.full = true;
                        }
                        "base_snapshot_id" => r.base = map.next_value()?,
                        "depth" => depth = Some(map.next_value()?),
                        _ => {
                            let _: de::IgnoredAny = map.next_value()?;
                        }
                    }
                }
                if !has_id {
                    return Err(de::Error::custom("missing snapshot_id"));
                }
                if r.full {
                    r.base = None;
                } else {
                    if r.base.is_none() {
                        return Err(de::Error::custom("missing manifest (or base_snapshot_id)"));
                    }
                    r.depth = depth.ok_or_else(|| de::Error::custom("delta record without depth"))?;
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads only the chain link of snapshot record `id` (its ID, base and
/// depth), skipping its entries: the first pass of `muse verify`, which
/// orders the records so that each base's manifest is built before the
/// records stored on it. `Ok(None)` when absent.
///
/// # Errors
/// As [`read_stored_snapshot`].
pub fn read_stored_snapshot_head(root: &Path, id: &str) -> Result<Option<StoredHead>> {
    crate::ids::validate_id(id)?;
    let Some((bytes, path)) = fetch(root, None, id)? else {
        return Ok(None);
    };
    let h: Head = decode_exact(&bytes, "snapshot record", &path)?;
    Ok(Some(StoredHead { snapshot_id: h.snapshot_id, base: h.base, depth: h.depth, path }))
}
