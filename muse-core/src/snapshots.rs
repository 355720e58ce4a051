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
//! stores a delta when the base is stored and readable, the new depth stays
//! below [`CHECKPOINT_INTERVAL`], and the delta has fewer entries than the
//! manifest; otherwise a full record (a checkpoint). So a history of C
//! commits over F files costs storage proportional to the paths changed,
//! plus one full manifest every [`CHECKPOINT_INTERVAL`] snapshots of a chain,
//! and reading a snapshot reads at most [`CHECKPOINT_INTERVAL`] files.
//!
//! [`read_snapshot`] always returns the full manifest: it follows the base
//! chain iteratively (never recursively), reading each file under
//! [`MAX_MSGPACK_BYTES`], checking that every base holds the ID it is named
//! by and has depth exactly one less (so a chain can neither cycle nor
//! exceed [`MAX_DELTA_DEPTH`]), then verifies that the rebuilt manifest
//! hashes to the ID. A missing, undecodable or inconsistent base is
//! [`Error::Corrupt`] on every descendant. Unknown keys of the top record
//! are preserved (in [`SnapshotRecord::extra`]), as for full records.
//!
//! Garbage collection keeps the base chain of every snapshot it keeps
//! ([`crate::reachability`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::atomic::Durability;
use crate::commits::write_record_file;
use crate::config::durability_for;
use crate::error::{Error, Result};
use crate::paths::snapshot_path;
use crate::records::{check_snapshot_hash, decode_exact, read_capped, SnapshotRecord, FORMAT_VERSION, MAX_MSGPACK_BYTES};

/// A delta chain is cut by a full record (a checkpoint) before its depth
/// reaches this: deltas have depth 1 ..= `CHECKPOINT_INTERVAL - 1`.
pub const CHECKPOINT_INTERVAL: u32 = 32;

/// Deepest delta chain a reader follows (records of other writers may use a
/// larger interval than [`CHECKPOINT_INTERVAL`]); deeper is corruption.
pub const MAX_DELTA_DEPTH: u32 = 1024;

type Manifest = BTreeMap<String, String>;

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
                        "manifest" => r.manifest = Some(map.next_value()?),
                        "base_snapshot_id" => r.base_snapshot_id = map.next_value()?,
                        "delta_upsert" => r.delta_upsert = map.next_value::<Option<_>>()?.unwrap_or_default(),
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
    rec: &'a SnapshotRecord,
    base: &'a str,
    upsert: BTreeMap<&'a str, &'a str>,
    remove: Vec<&'a str>,
    depth: u32,
}

impl Serialize for DeltaOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(7 + self.rec.extra.len()))?;
        m.serialize_entry("format_version", &FORMAT_VERSION)?;
        m.serialize_entry("snapshot_id", &self.rec.snapshot_id)?;
        m.serialize_entry("base_snapshot_id", self.base)?;
        m.serialize_entry("delta_upsert", &self.upsert)?;
        m.serialize_entry("delta_remove", &self.remove)?;
        m.serialize_entry("depth", &self.depth)?;
        m.serialize_entry("created_at", &self.rec.created_at)?;
        for (k, v) in &self.rec.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A snapshot read with its chain: the full record, its depth (0 for a full
/// record) and the IDs of its bases, nearest first.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub rec: SnapshotRecord,
    pub depth: u32,
    pub bases: Vec<String>,
}

/// Where snapshot records not yet in the store are (a batch's staged files).
pub(crate) type StagedSnapshots = HashMap<String, PathBuf>;

fn locate(root: &Path, staged: Option<&StagedSnapshots>, id: &str) -> Result<PathBuf> {
    if let Some(p) = staged.and_then(|s| s.get(id)) {
        return Ok(p.clone());
    }
    snapshot_path(root, id)
}

fn read_stored(path: &Path) -> Result<Option<Stored>> {
    let Some(bytes) = read_capped(path, "snapshot record", MAX_MSGPACK_BYTES)? else {
        return Ok(None);
    };
    decode_exact::<Stored>(&bytes, "snapshot record", path).map(Some)
}

/// Reads snapshot `id` (from `staged` first, then the store), following its
/// base chain iteratively, and verifies the rebuilt manifest. `Ok(None)`
/// when `id` itself is absent.
pub(crate) fn load_snapshot(root: &Path, staged: Option<&StagedSnapshots>, id: &str) -> Result<Option<Loaded>> {
    let top_path = locate(root, staged, id)?;
    let Some(top) = read_stored(&top_path)? else {
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
        let base_path = locate(root, staged, &base)
            .map_err(|e| corrupt(&cur_path, format!("bad base_snapshot_id: {e}")))?;
        let Some(b) = read_stored(&base_path)? else {
            return Err(corrupt(&cur_path, format!("base snapshot {base} is missing")));
        };
        if b.snapshot_id != base {
            return Err(corrupt(&base_path, format!("holds snapshot {} instead of base {base}", b.snapshot_id)));
        }
        if b.depth() + 1 != cur_depth {
            return Err(corrupt(
                &cur_path,
                format!("depth {cur_depth} but base {base} has depth {}", b.depth()),
            ));
        }
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
    Ok(Some(Loaded { rec, depth, bases }))
}

/// Validates and encodes a snapshot record as a full record.
pub(crate) fn prepare_snapshot(root: &Path, rec: &SnapshotRecord) -> Result<(PathBuf, Vec<u8>)> {
    rec.validate()?;
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

/// Validates and encodes `rec` as a delta on `base` (`(id, manifest,
/// depth)`) when that is worth it (see the module docs), else as a full
/// record. Returns the path, the bytes and the depth stored.
pub(crate) fn prepare_snapshot_on(
    root: &Path,
    rec: &SnapshotRecord,
    base: Option<(&str, &Manifest, u32)>,
) -> Result<(PathBuf, Vec<u8>, u32)> {
    let Some((base_id, base_m, base_depth)) = base.filter(|(b, _, d)| *b != rec.snapshot_id && d + 1 < CHECKPOINT_INTERVAL)
    else {
        let (p, b) = prepare_snapshot(root, rec)?;
        return Ok((p, b, 0));
    };
    rec.validate()?;
    // One merge walk over the two sorted manifests.
    let mut upsert: BTreeMap<&str, &str> = BTreeMap::new();
    let mut remove: Vec<&str> = Vec::new();
    let (mut new_it, mut old_it) = (rec.manifest.iter().peekable(), base_m.iter().peekable());
    loop {
        match (new_it.peek(), old_it.peek()) {
            (None, None) => break,
            (Some((p, o)), None) => {
                upsert.insert(p, o);
                new_it.next();
            }
            (None, Some((p, _))) => {
                remove.push(p);
                old_it.next();
            }
            (Some((np, no)), Some((op, oo))) => match np.cmp(op) {
                std::cmp::Ordering::Less => {
                    upsert.insert(np, no);
                    new_it.next();
                }
                std::cmp::Ordering::Greater => {
                    remove.push(op);
                    old_it.next();
                }
                std::cmp::Ordering::Equal => {
                    if no != oo {
                        upsert.insert(np, no);
                    }
                    new_it.next();
                    old_it.next();
                }
            },
        }
    }
    if upsert.len() + remove.len() >= rec.manifest.len().max(1) {
        let (p, b) = prepare_snapshot(root, rec)?;
        return Ok((p, b, 0));
    }
    let path = snapshot_path(root, &rec.snapshot_id)?;
    let depth = base_depth + 1;
    let out = DeltaOut { rec, base: base_id, upsert, remove, depth };
    let bytes = rmp_serde::to_vec(&out).map_err(|e| Error::InvalidInput(format!("cannot encode snapshot: {e}")))?;
    check_size(&path, &bytes)?;
    Ok((path, bytes, depth))
}

/// Stores a snapshot record as a full record. Returns `true` when written,
/// `false` when one with that ID was already stored.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::InvalidPath`], [`Error::HashMismatch`],
/// [`Error::TooLarge`] (nothing written); [`Error::Io`].
pub fn write_snapshot(root: &Path, rec: &SnapshotRecord, durability: Option<Durability>) -> Result<bool> {
    write_snapshot_with_base(root, rec, None, durability)
}

/// Stores a snapshot record, as a delta against the stored snapshot `base`
/// when possible (see the module docs: a base that is absent, unreadable or
/// at the end of a [`CHECKPOINT_INTERVAL`] chain gives a full record).
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
    let loaded = match base {
        Some(b) if b != rec.snapshot_id => {
            crate::ids::validate_id(b)?;
            rec.validate()?;
            if snapshot_path(root, &rec.snapshot_id)?.is_file() {
                return Ok(false);
            }
            // An unreadable base only costs a full record.
            load_snapshot(root, None, b).ok().flatten()
        }
        _ => None,
    };
    let (path, bytes, _) =
        prepare_snapshot_on(root, rec, loaded.as_ref().map(|l| (l.rec.snapshot_id.as_str(), &l.rec.manifest, l.depth)))?;
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
    Ok(snapshot_path(root, id)?.is_file())
}
