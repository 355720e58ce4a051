//! Commit and snapshot records: their fields, their msgpack form (SPEC §3),
//! and bounded reading of record files.
//!
//! Records are msgpack maps with string keys (named fields) carrying
//! `"format_version": 1`. Keys this version does not know are kept in
//! `extra` and written back unchanged, so a record written by a newer muse
//! survives a read-modify-write by this one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, IoContext, Result};
use crate::ids::{hash_commit, validate_id};

/// Largest record file read, in bytes (64 MiB). A larger file is an
/// integrity error and is never read whole.
pub const MAX_MSGPACK_BYTES: u64 = 64 * 1024 * 1024;

/// Current record format version.
pub const FORMAT_VERSION: u32 = 1;

/// The values `sem_ver_bump` may take.
pub const SEM_VER_BUMPS: [&str; 4] = ["none", "patch", "minor", "major"];

/// One commit (SPEC §3).
#[derive(Debug, Clone, PartialEq)]
pub struct CommitRecord {
    /// `hash_commit` of the fields below (SPEC §2).
    pub commit_id: String,
    /// The branch the commit was made on (informational).
    pub branch: String,
    /// The snapshot (manifest) this commit records.
    pub snapshot_id: String,
    /// Commit message.
    pub message: String,
    /// Commit time, exactly Python's `datetime.isoformat()` (hashed as is).
    pub committed_at: String,
    /// First parent.
    pub parent_commit_id: Option<String>,
    /// Second parent (merges).
    pub parent2_commit_id: Option<String>,
    /// Author (hashed).
    pub author: String,
    /// Free-form string metadata.
    pub metadata: BTreeMap<String, String>,
    /// A structured description of the change (a map), or `None`.
    pub structured_delta: Option<rmpv::Value>,
    /// `"none" | "patch" | "minor" | "major"`.
    pub sem_ver_bump: String,
    /// Breaking changes, one sentence each.
    pub breaking_changes: Vec<String>,
    /// Provenance: the agent that made the commit.
    pub agent_id: String,
    /// Provenance: the model behind the agent.
    pub model_id: String,
    /// Provenance: the toolchain.
    pub toolchain_id: String,
    /// Provenance: hash of the prompt.
    pub prompt_hash: String,
    /// Signature over the commit ID (opaque here).
    pub signature: String,
    /// ID of the signing key.
    pub signer_key_id: String,
    /// `format_version` found on disk (written as [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Keys this version does not know, preserved in order.
    pub extra: Vec<(String, rmpv::Value)>,
}

impl Default for CommitRecord {
    fn default() -> Self {
        CommitRecord {
            commit_id: String::new(),
            branch: String::new(),
            snapshot_id: String::new(),
            message: String::new(),
            committed_at: String::new(),
            parent_commit_id: None,
            parent2_commit_id: None,
            author: String::new(),
            metadata: BTreeMap::new(),
            structured_delta: None,
            sem_ver_bump: "none".into(),
            breaking_changes: Vec::new(),
            agent_id: String::new(),
            model_id: String::new(),
            toolchain_id: String::new(),
            prompt_hash: String::new(),
            signature: String::new(),
            signer_key_id: String::new(),
            format_version: FORMAT_VERSION,
            extra: Vec::new(),
        }
    }
}

impl CommitRecord {
    /// The parent IDs (first, then second), skipping absent ones.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.parent_commit_id.as_deref().into_iter().chain(self.parent2_commit_id.as_deref())
    }

    /// Every parent ID: [`CommitRecord::parents`], then the further parents
    /// of an octopus merge that `metadata["extra_parents"]` lists
    /// (comma-separated commit IDs, written by `muse import-git`; see
    /// [`crate::import_git`]). History walks that must not lose a commit
    /// (gc reachability, bundles, fetch/push negotiation, verify) follow
    /// these; walks that show history (`log`, merge bases) follow
    /// [`CommitRecord::parents`], like git's two-parent ancestry for most
    /// porcelain. Empty entries are skipped; IDs are not validated here.
    pub fn all_parents(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.parents().collect();
        if let Some(extra) = self.metadata.get("extra_parents") {
            v.extend(extra.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
        v
    }

    /// `hash_commit` over this record's fields: what `commit_id` must be.
    ///
    /// Every parent takes part: [`CommitRecord::all_parents`], so an
    /// octopus merge's further parents (`metadata["extra_parents"]`) are
    /// covered by the ID too (`hash_commit` sorts its parents; a record
    /// without extra parents hashes as it always did).
    pub fn compute_id(&self) -> String {
        let parents = self.all_parents();
        hash_commit(&parents, &self.snapshot_id, &self.message, &self.committed_at, &self.author)
    }

    /// Whether `id` is this record's ID: [`Self::compute_id`], or, for a
    /// record written when only two parents were hashed (an octopus merge
    /// imported by an older `import-git`), [`Self::legacy_two_parent_id`].
    /// What a reader checks a stored record against.
    pub fn matches_id(&self, id: &str) -> bool {
        self.compute_id() == id || self.legacy_two_parent_id().as_deref() == Some(id)
    }

    /// The ID records written before octopus parents took part in the
    /// identity carry: `hash_commit` over the first two parents only.
    /// `None` for a record without extra parents (both rules agree).
    pub fn legacy_two_parent_id(&self) -> Option<String> {
        if self.all_parents().len() <= 2 {
            return None;
        }
        let parents: Vec<&str> = self.parents().collect();
        Some(hash_commit(&parents, &self.snapshot_id, &self.message, &self.committed_at, &self.author))
    }

    /// Checks the record before it is stored: valid commit and parent IDs,
    /// a known `sem_ver_bump`, and a `commit_id` that verifies.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::InvalidInput`], [`Error::HashMismatch`].
    pub fn validate(&self) -> Result<()> {
        validate_id(&self.commit_id)?;
        for p in self.all_parents() {
            validate_id(p)?;
        }
        if !SEM_VER_BUMPS.contains(&self.sem_ver_bump.as_str()) {
            return Err(Error::InvalidInput(format!(
                "sem_ver_bump must be one of none, patch, minor, major; got {:?}",
                self.sem_ver_bump
            )));
        }
        if let Some(d) = &self.structured_delta {
            if !d.is_map() && !d.is_nil() {
                return Err(Error::InvalidInput("structured_delta must be a map or None".into()));
            }
        }
        let actual = self.compute_id();
        // A record written when only two parents were hashed (an octopus
        // merge imported by an older `import-git`) still verifies.
        if actual != self.commit_id && self.legacy_two_parent_id().as_deref() != Some(self.commit_id.as_str()) {
            return Err(Error::HashMismatch { what: "commit", expected: self.commit_id.clone(), actual });
        }
        Ok(())
    }

    /// The record as msgpack bytes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if it cannot be encoded (never for valid data).
    pub fn to_msgpack(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(|e| Error::InvalidInput(format!("cannot encode commit: {e}")))
    }

    /// Decodes msgpack bytes; `path` is only used in errors. Does not verify
    /// the ID (see [`CommitRecord::validate`]).
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn from_msgpack(bytes: &[u8], path: &Path) -> Result<CommitRecord> {
        decode_exact(bytes, "commit record", path)
    }
}

macro_rules! field_names {
    ($($f:ident),*) => { &[$(stringify!($f)),*] };
}

const COMMIT_FIELDS: &[&str] = field_names!(
    format_version, commit_id, branch, snapshot_id, message, committed_at, parent_commit_id,
    parent2_commit_id, author, metadata, structured_delta, sem_ver_bump, breaking_changes, agent_id,
    model_id, toolchain_id, prompt_hash, signature, signer_key_id
);

impl Serialize for CommitRecord {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(COMMIT_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("format_version", &FORMAT_VERSION)?;
        m.serialize_entry("commit_id", &self.commit_id)?;
        m.serialize_entry("branch", &self.branch)?;
        m.serialize_entry("snapshot_id", &self.snapshot_id)?;
        m.serialize_entry("message", &self.message)?;
        m.serialize_entry("committed_at", &self.committed_at)?;
        m.serialize_entry("parent_commit_id", &self.parent_commit_id)?;
        m.serialize_entry("parent2_commit_id", &self.parent2_commit_id)?;
        m.serialize_entry("author", &self.author)?;
        m.serialize_entry("metadata", &self.metadata)?;
        m.serialize_entry("structured_delta", &self.structured_delta)?;
        m.serialize_entry("sem_ver_bump", &self.sem_ver_bump)?;
        m.serialize_entry("breaking_changes", &self.breaking_changes)?;
        m.serialize_entry("agent_id", &self.agent_id)?;
        m.serialize_entry("model_id", &self.model_id)?;
        m.serialize_entry("toolchain_id", &self.toolchain_id)?;
        m.serialize_entry("prompt_hash", &self.prompt_hash)?;
        m.serialize_entry("signature", &self.signature)?;
        m.serialize_entry("signer_key_id", &self.signer_key_id)?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A string field that older writers may have left as nil.
fn opt_string<'de, A: MapAccess<'de>>(map: &mut A) -> std::result::Result<String, A::Error> {
    Ok(map.next_value::<Option<String>>()?.unwrap_or_default())
}

impl<'de> Deserialize<'de> for CommitRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommitRecord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a commit record map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<CommitRecord, A::Error> {
                let mut r = CommitRecord::default();
                let (mut has_id, mut has_snap, mut has_time) = (false, false, false);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "format_version" => r.format_version = map.next_value()?,
                        "commit_id" => {
                            r.commit_id = map.next_value()?;
                            has_id = true
                        }
                        "branch" => r.branch = opt_string(&mut map)?,
                        "snapshot_id" => {
                            r.snapshot_id = map.next_value()?;
                            has_snap = true
                        }
                        "message" => r.message = opt_string(&mut map)?,
                        "committed_at" => {
                            r.committed_at = map.next_value()?;
                            has_time = true
                        }
                        "parent_commit_id" => r.parent_commit_id = map.next_value()?,
                        "parent2_commit_id" => r.parent2_commit_id = map.next_value()?,
                        "author" => r.author = opt_string(&mut map)?,
                        "metadata" => r.metadata = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "structured_delta" => {
                            r.structured_delta = map.next_value::<Option<rmpv::Value>>()?.filter(|v| !v.is_nil())
                        }
                        "sem_ver_bump" => {
                            r.sem_ver_bump = map.next_value::<Option<String>>()?.unwrap_or_else(|| "none".into())
                        }
                        "breaking_changes" => r.breaking_changes = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "agent_id" => r.agent_id = opt_string(&mut map)?,
                        "model_id" => r.model_id = opt_string(&mut map)?,
                        "toolchain_id" => r.toolchain_id = opt_string(&mut map)?,
                        "prompt_hash" => r.prompt_hash = opt_string(&mut map)?,
                        "signature" => r.signature = opt_string(&mut map)?,
                        "signer_key_id" => r.signer_key_id = opt_string(&mut map)?,
                        _ => {
                            let v: rmpv::Value = map.next_value()?;
                            r.extra.push((key, v));
                        }
                    }
                }
                if !(has_id && has_snap && has_time) {
                    return Err(de::Error::custom("missing commit_id, snapshot_id or committed_at"));
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// One snapshot: the full manifest `{path: blob_id}` of a tree (SPEC §3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotRecord {
    /// `hash_snapshot(manifest)`.
    pub snapshot_id: String,
    /// `{POSIX relative path: blob_id}`, sorted by path.
    pub manifest: BTreeMap<String, String>,
    /// Creation time, ISO-8601 (not hashed).
    pub created_at: String,
    /// Keys this version does not know, preserved in order.
    pub extra: Vec<(String, rmpv::Value)>,
}

/// A snapshot as a [`crate::store::WriteBatch`] can store it without a whole
/// [`SnapshotRecord`]: its ID, time, and lookups in its manifest. A writer
/// that holds manifests in another shape (the persistent maps `bundle
/// apply` rebuilds, sharing their entries with their parents') hands one
/// over, and a backend that stores deltas reads only the changed paths;
/// the whole record is built ([`SnapshotView::to_record`]) only when one
/// is stored in full (a checkpoint).
pub trait SnapshotView {
    /// `hash_snapshot(manifest)`, as in [`SnapshotRecord::snapshot_id`].
    fn snapshot_id(&self) -> &str;
    /// Creation time, ISO-8601 (not hashed).
    fn created_at(&self) -> &str;
    /// Keys this version does not know, preserved in order.
    fn extra(&self) -> &[(String, rmpv::Value)];
    /// How many entries the manifest has.
    fn entry_count(&self) -> usize;
    /// The manifest's entry for `path` as `(path, blob ID)`; `None` when
    /// the manifest has no such path.
    fn entry(&self, path: &str) -> Option<(&str, &str)>;
    /// The whole record: borrowed when the view is one, else built.
    fn to_record(&self) -> std::borrow::Cow<'_, SnapshotRecord>;
}

impl SnapshotView for SnapshotRecord {
    fn snapshot_id(&self) -> &str {
        &self.snapshot_id
    }

    fn created_at(&self) -> &str {
        &self.created_at
    }

    fn extra(&self) -> &[(String, rmpv::Value)] {
        &self.extra
    }

    fn entry_count(&self) -> usize {
        self.manifest.len()
    }

    fn entry(&self, path: &str) -> Option<(&str, &str)> {
        self.manifest.get_key_value(path).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn to_record(&self) -> std::borrow::Cow<'_, SnapshotRecord> {
        std::borrow::Cow::Borrowed(self)
    }
}

impl SnapshotRecord {
    /// A record for `manifest` with its computed ID and `created_at` now.
    pub fn new(manifest: BTreeMap<String, String>) -> SnapshotRecord {
        let snapshot_id = crate::ids::hash_sorted_snapshot(manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        SnapshotRecord { snapshot_id, manifest, created_at: now_iso(), extra: Vec::new() }
    }

    /// `hash_snapshot` of the manifest: what `snapshot_id` must be.
    pub fn compute_id(&self) -> String {
        crate::ids::hash_sorted_snapshot(self.manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Checks the record before it is stored: a valid ID, clean relative
    /// paths (git's `verify_path`: no `.muse` component or alias of it at
    /// any depth, see [`crate::paths::validate_rel_path`]), valid blob IDs,
    /// no path that is both a file and a directory (git's index rule, see
    /// [`crate::paths::check_no_file_dir_clash`]), and a manifest that
    /// hashes to `snapshot_id`.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::InvalidPath`], [`Error::InvalidInput`]
    /// (a file/directory clash, naming both paths), [`Error::HashMismatch`].
    pub fn validate(&self) -> Result<()> {
        validate_id(&self.snapshot_id)?;
        for (path, oid) in &self.manifest {
            crate::paths::validate_rel_path(path)?;
            validate_id(oid)?;
        }
        crate::paths::check_no_file_dir_clash(self.manifest.keys().map(String::as_str))?;
        let actual = self.compute_id();
        if actual != self.snapshot_id {
            return Err(Error::HashMismatch { what: "snapshot", expected: self.snapshot_id.clone(), actual });
        }
        Ok(())
    }

    /// The record as msgpack bytes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if it cannot be encoded.
    pub fn to_msgpack(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(|e| Error::InvalidInput(format!("cannot encode snapshot: {e}")))
    }

    /// Decodes msgpack bytes; `path` is only used in errors.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn from_msgpack(bytes: &[u8], path: &Path) -> Result<SnapshotRecord> {
        decode_exact(bytes, "snapshot record", path)
    }
}

impl Serialize for SnapshotRecord {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4 + self.extra.len()))?;
        m.serialize_entry("format_version", &FORMAT_VERSION)?;
        m.serialize_entry("snapshot_id", &self.snapshot_id)?;
        m.serialize_entry("manifest", &self.manifest)?;
        m.serialize_entry("created_at", &self.created_at)?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SnapshotRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SnapshotRecord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a snapshot record map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<SnapshotRecord, A::Error> {
                let mut r = SnapshotRecord::default();
                let (mut has_id, mut has_manifest) = (false, false);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "format_version" => {
                            let _: u32 = map.next_value()?;
                        }
                        "snapshot_id" => {
                            r.snapshot_id = map.next_value()?;
                            has_id = true
                        }
                        "manifest" => {
                            r.manifest = map.next_value::<BulkMap>()?.0;
                            has_manifest = true
                        }
                        "created_at" => r.created_at = opt_string(&mut map)?,
                        _ => {
                            let v: rmpv::Value = map.next_value()?;
                            r.extra.push((key, v));
                        }
                    }
                }
                if !(has_id && has_manifest) {
                    return Err(de::Error::custom("missing snapshot_id or manifest"));
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// Decodes exactly one msgpack value filling all of `bytes`; trailing bytes
/// are corruption too.
/// A `{string: string}` msgpack map decoded into a `BTreeMap` in one bulk
/// build: entries are collected in file order and the map is built from
/// them (`BTreeMap::from_iter` sorts, which costs one pass on the sorted
/// input writers produce), instead of one root-to-leaf search per entry.
/// A duplicated key keeps its last value, as repeated inserts would.
pub(crate) struct BulkMap(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for BulkMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BulkMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<BulkMap, A::Error> {
                // The size hint comes from the input: bounded before trusting it.
                let mut v: Vec<(String, String)> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(kv) = map.next_entry::<String, String>()? {
                    v.push(kv);
                }
                Ok(BulkMap(v.into_iter().collect()))
            }
        }
        d.deserialize_map(V)
    }
}

pub(crate) fn decode_exact<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &'static str, path: &Path) -> Result<T> {
    let mut rest: &[u8] = bytes;
    let mut de = rmp_serde::Deserializer::new(&mut rest);
    let v = T::deserialize(&mut de).map_err(|e| Error::corrupt(what, path, e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::corrupt(what, path, format!("{} unexpected bytes after the record", rest.len())));
    }
    Ok(v)
}

/// IDs of the records stored as `<64 hex>.msgpack` in `dir` (loose
/// commits or snapshots), in directory order; other names (temps, legacy
/// files) are skipped, an absent `dir` holds none.
///
/// # Errors
/// [`Error::Io`] when `dir` exists but cannot be listed.
pub(crate) fn list_record_ids(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut ids = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(hex) = name.as_encoded_bytes().strip_suffix(b".msgpack") {
            if crate::ids::is_hex64(hex) {
                // is_hex64 guarantees ASCII.
                ids.push(format!("sha256:{}", std::str::from_utf8(hex).expect("ascii")));
            }
        }
    }
    Ok(ids)
}

/// The current UTC time as Python's `datetime.now(timezone.utc).isoformat()`
/// writes it (`2026-01-01T00:00:00.123456+00:00`).
pub fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Parses an ISO-8601 time as written by Python's `isoformat()` into
/// seconds since the epoch (naive times are taken as UTC). `None` when
/// unparsable.
pub fn parse_iso_seconds(s: &str) -> Option<i64> {
    parse_iso_micros(s).map(|us| us.div_euclid(1_000_000))
}

/// Like [`parse_iso_seconds`], in microseconds.
pub fn parse_iso_micros(s: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc().timestamp_micros())
}

/// Reads a record file whole, refusing one larger than `limit` bytes
/// without reading it. `Ok(None)` when the file does not exist.
///
/// # Errors
/// [`Error::TooLarge`], [`Error::Io`].
pub fn read_capped(path: &Path, what: &'static str, limit: u64) -> Result<Option<Vec<u8>>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let size = f.metadata().ctx("stat", path)?.len();
    if size > limit {
        return Err(Error::TooLarge { what, path: path.to_path_buf(), size, limit });
    }
    let mut buf = Vec::with_capacity(size as usize);
    // `take` guards against a file that grows while we read it.
    (&mut f).take(limit + 1).read_to_end(&mut buf).ctx("read", path)?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge { what, path: path.to_path_buf(), size: buf.len() as u64, limit });
    }
    Ok(Some(buf))
}

/// Verifies that a decoded snapshot manifest hashes to `snapshot_id`; used
/// by readers.
pub(crate) fn check_snapshot_hash(rec: &SnapshotRecord, expected: &str, path: &Path) -> Result<()> {
    if rec.snapshot_id != expected {
        return Err(Error::corrupt("snapshot record", path, format!("holds snapshot {} instead", rec.snapshot_id)));
    }
    let actual = crate::ids::hash_sorted_snapshot(rec.manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if actual != expected {
        return Err(Error::corrupt("snapshot record", path, format!("manifest hashes to {actual}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_map_sorts_and_keeps_the_last_of_duplicated_keys() {
        // {"b": "2", "a": "1", "b": "3"}: out of order, "b" twice.
        let mut bytes = vec![0x83];
        for (k, v) in [("b", "2"), ("a", "1"), ("b", "3")] {
            for x in [k, v] {
                bytes.push(0xa0 | x.len() as u8); // fixstr
                bytes.extend_from_slice(x.as_bytes());
            }
        }
        let m: BulkMap = rmp_serde::from_slice(&bytes).unwrap();
        let want: BTreeMap<String, String> = [("a", "1"), ("b", "3")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(m.0, want);
        // The same as the map decoder it replaces.
        let plain: BTreeMap<String, String> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(m.0, plain);
        // Non-string values are an error, as before.
        let bad = [0x81, 0xa1, b'a', 0x01];
        assert!(rmp_serde::from_slice::<BulkMap>(&bad).is_err());
    }

    fn sample() -> CommitRecord {
        let mut r = CommitRecord {
            snapshot_id: crate::ids::fake_id("s"),
            message: "m".into(),
            committed_at: "2026-01-01T00:00:00+00:00".into(),
            author: "a".into(),
            ..Default::default()
        };
        r.commit_id = r.compute_id();
        r
    }

    #[test]
    fn commit_roundtrip_keeps_unknown_keys() {
        let mut r = sample();
        r.extra.push(("future_field".into(), rmpv::Value::from(42)));
        r.metadata.insert("k".into(), "v".into());
        let bytes = r.to_msgpack().unwrap();
        let back = CommitRecord::from_msgpack(&bytes, Path::new("x")).unwrap();
        assert_eq!(back, r);
        back.validate().unwrap();
    }

    #[test]
    fn validate_refuses_wrong_id() {
        let mut r = sample();
        r.message.push('!');
        assert!(matches!(r.validate(), Err(Error::HashMismatch { .. })));
    }

    #[test]
    fn snapshot_validate_refuses_reserved_paths_and_clashes() {
        let oid = crate::ids::blob_id(b"x");
        let rec = |paths: &[&str]| SnapshotRecord::new(paths.iter().map(|p| (p.to_string(), oid.clone())).collect());
        rec(&["a", "a.txt", "b/c", ".museignore"]).validate().unwrap();
        let e = rec(&["a", "a.txt", "a/b"]).validate().unwrap_err().to_string();
        assert!(e.contains("\"a\"") && e.contains("\"a/b\""), "{e}");
        for bad in ["sub/.muse/HEAD", ".MUSE/x", "muse~1/x"] {
            assert!(matches!(rec(&[bad]).validate(), Err(Error::InvalidPath { .. })), "{bad}");
        }
    }

    #[test]
    fn garbage_is_corrupt_not_panic() {
        for bytes in [&b""[..], b"\xff\x00garbage", b"\x81\xa1a", b"\x90", b"\x82\xa9commit_id\xa8deadbeef"] {
            assert!(matches!(CommitRecord::from_msgpack(bytes, Path::new("x")), Err(Error::Corrupt { .. })));
        }
    }

    #[test]
    fn iso_parse() {
        assert_eq!(parse_iso_seconds("1970-01-01T00:01:00+00:00"), Some(60));
        assert_eq!(parse_iso_seconds("1970-01-01T00:01:00"), Some(60));
        assert_eq!(parse_iso_seconds("1970-01-01T01:01:00+01:00"), Some(60));
        assert!(now_iso().ends_with("+00:00"));
    }
}
