//! The snapshot store (SPEC §3).
//!
//! A snapshot lives at `.muse/snapshots/<hex>.msgpack`, written once (mode
//! 0444) as its full manifest. Every read verifies that the manifest hashes
//! to the snapshot ID.

use std::path::Path;

use crate::atomic::Durability;
use crate::commits::write_record_file;
use crate::config::durability_for;
use crate::error::{Error, Result};
use crate::paths::snapshot_path;
use crate::records::{check_snapshot_hash, read_capped, SnapshotRecord, MAX_MSGPACK_BYTES};

/// Validates and encodes a snapshot record for storage.
pub(crate) fn prepare_snapshot(root: &Path, rec: &SnapshotRecord) -> Result<(std::path::PathBuf, Vec<u8>)> {
    rec.validate()?;
    let path = snapshot_path(root, &rec.snapshot_id)?;
    let bytes = rec.to_msgpack()?;
    if bytes.len() as u64 > MAX_MSGPACK_BYTES {
        return Err(Error::TooLarge { what: "snapshot record", path, size: bytes.len() as u64, limit: MAX_MSGPACK_BYTES });
    }
    Ok((path, bytes))
}

/// Stores a snapshot record. Returns `true` when written, `false` when one
/// with that ID was already stored.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::InvalidPath`], [`Error::HashMismatch`],
/// [`Error::TooLarge`] (nothing written); [`Error::Io`].
pub fn write_snapshot(root: &Path, rec: &SnapshotRecord, durability: Option<Durability>) -> Result<bool> {
    let (path, bytes) = prepare_snapshot(root, rec)?;
    let durability = durability_for(root, durability)?;
    write_record_file(&path, &bytes, durability)
}

/// Reads the snapshot `id` with its full manifest: `Ok(None)` when absent.
///
/// # Errors
/// [`Error::InvalidId`]; [`Error::Corrupt`] when undecodable or when the
/// manifest does not hash to `id`; [`Error::TooLarge`]; [`Error::Io`].
pub fn read_snapshot(root: &Path, id: &str) -> Result<Option<SnapshotRecord>> {
    let path = snapshot_path(root, id)?;
    let Some(bytes) = read_capped(&path, "snapshot record", MAX_MSGPACK_BYTES)? else {
        return Ok(None);
    };
    let rec = SnapshotRecord::from_msgpack(&bytes, &path)?;
    check_snapshot_hash(&rec, id, &path)?;
    Ok(Some(rec))
}

/// True when the snapshot `id` is stored.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn has_snapshot(root: &Path, id: &str) -> Result<bool> {
    Ok(snapshot_path(root, id)?.is_file())
}
