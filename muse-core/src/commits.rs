//! The commit store and history walks (SPEC §3, §6).
//!
//! A commit lives at `.muse/commits/<hex>.msgpack`, written once (mode
//! 0444). Every read verifies that the record hashes to the ID it is stored
//! under. Walks hold memory proportional to their cap, not to history depth.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::atomic::{write_atomic, Durability, Replace, MODE_IMMUTABLE, MUSE_TMP_PREFIX};
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::ids::{is_hex64, validate_id};
use crate::paths::{commit_path, commits_dir};
use crate::records::{read_capped, CommitRecord, MAX_MSGPACK_BYTES};
use crate::refs::read_branch_ref;

/// Default cap of [`get_commits_for_branch`] when the caller passes 0.
pub const DEFAULT_WALK_CAP: usize = 10_000;

/// Writes `bytes` to `path` (a record), creating its directory if missing.
pub(crate) fn write_record_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<bool> {
    match write_atomic(path, MUSE_TMP_PREFIX, bytes, MODE_IMMUTABLE, durability, Replace::NoClobber) {
        Err(e) if e.is_not_found() => {
            let dir = path.parent().expect("record has a directory");
            crate::atomic::create_dir_all_durable(dir, durability)?;
            write_atomic(path, MUSE_TMP_PREFIX, bytes, MODE_IMMUTABLE, durability, Replace::NoClobber)
        }
        other => other,
    }
}

/// Validates and encodes a commit, returning its path and bytes.
pub(crate) fn prepare_commit(root: &Path, rec: &CommitRecord) -> Result<(PathBuf, Vec<u8>)> {
    rec.validate()?;
    let bytes = rec.to_msgpack()?;
    if bytes.len() as u64 > MAX_MSGPACK_BYTES {
        return Err(Error::TooLarge {
            what: "commit record",
            path: commit_path(root, &rec.commit_id)?,
            size: bytes.len() as u64,
            limit: MAX_MSGPACK_BYTES,
        });
    }
    Ok((commit_path(root, &rec.commit_id)?, bytes))
}

/// Stores a commit record. Returns `true` when written, `false` when a
/// record with that ID was already stored.
///
/// The record must verify: valid commit and parent IDs, and a `commit_id`
/// equal to `hash_commit` of its fields. The snapshot and parents need not
/// be stored. `durability` as in [`crate::object_store::write_object`].
///
/// # Errors
/// [`Error::InvalidId`], [`Error::HashMismatch`], [`Error::InvalidInput`],
/// [`Error::TooLarge`] (nothing written); [`Error::Io`].
pub fn write_commit(root: &Path, rec: &CommitRecord, durability: Option<Durability>) -> Result<bool> {
    let (path, bytes) = prepare_commit(root, rec)?;
    let durability = durability_for(root, durability)?;
    write_record_file(&path, &bytes, durability)
}

/// Reads and verifies the commit stored at `path` under `expected_id`.
fn read_commit_file(path: &Path, expected_id: &str) -> Result<Option<CommitRecord>> {
    let Some(bytes) = read_capped(path, "commit record", MAX_MSGPACK_BYTES)? else {
        return Ok(None);
    };
    let rec = CommitRecord::from_msgpack(&bytes, path)?;
    verify_commit(rec, expected_id, path).map(Some)
}

/// Reads the commit `id`: `Ok(None)` when it is not stored.
///
/// # Errors
/// [`Error::InvalidId`]; [`Error::Corrupt`] when the file is truncated,
/// undecodable, or does not hash to `id`; [`Error::TooLarge`] when it is
/// over `MAX_MSGPACK_BYTES` (not read); [`Error::Io`].
pub fn read_commit(root: &Path, id: &str) -> Result<Option<CommitRecord>> {
    let path = commit_path(root, id)?;
    read_commit_file(&path, id)
}

/// Like [`read_commit`] but a missing commit is [`Error::NotFound`].
///
/// # Errors
/// As [`read_commit`], plus [`Error::NotFound`].
pub fn load_commit(root: &Path, id: &str) -> Result<CommitRecord> {
    read_commit(root, id)?.ok_or_else(|| Error::NotFound { what: "commit", name: id.to_string() })
}

/// True when the commit `id` is stored.
///
/// # Errors
/// [`Error::InvalidId`].
pub fn has_commit(root: &Path, id: &str) -> Result<bool> {
    Ok(commit_path(root, id)?.is_file())
}

/// IDs of every stored commit, sorted. Files in `commits/` whose names are
/// not `<64 hex>.msgpack` (temps, legacy files) are skipped.
///
/// # Errors
/// [`Error::Io`].
pub fn list_commit_ids(root: &Path) -> Result<Vec<String>> {
    let dir = commits_dir(root);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &dir, e)),
    };
    let mut ids = Vec::new();
    for entry in rd {
        let entry = entry.ctx("list", &dir)?;
        let name = entry.file_name();
        let b = name.as_encoded_bytes();
        if let Some(hex) = b.strip_suffix(b".msgpack") {
            if is_hex64(hex) {
                // is_hex64 guarantees ASCII.
                ids.push(format!("sha256:{}", std::str::from_utf8(hex).expect("ascii")));
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Every stored commit, verified, in commit-ID order. Reads in parallel.
///
/// Each record is opened relative to one open handle on `commits/`
/// (`openat`, no path walk) and read with a single `read` when it fits in
/// 16 KiB (three system calls per record); larger ones take the capped path.
///
/// # Errors
/// The first [`Error::Corrupt`] / [`Error::TooLarge`] / [`Error::Io`] met.
pub fn get_all_commits(root: &Path) -> Result<Vec<CommitRecord>> {
    read_commits(root, &list_commit_ids(root)?)
}

/// The stored commits among `ids` (valid IDs, as [`list_commit_ids`]
/// gives), verified, in the order of `ids`; absent ones are left out. Reads
/// in parallel, as [`get_all_commits`]; a caller that converts records as
/// it goes (the Python binding) reads a long list in slices, so that only
/// one slice is held twice.
///
/// # Errors
/// The first [`Error::Corrupt`] / [`Error::TooLarge`] / [`Error::Io`] met;
/// [`Error::InvalidId`] for an ID that is not `sha256:` + 64 hex.
pub fn read_commits(root: &Path, ids: &[String]) -> Result<Vec<CommitRecord>> {
    for id in ids {
        crate::ids::validate_id(id)?;
    }
    let dir = commits_dir(root);
    let dir_fd = match std::fs::File::open(&dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("open", &dir, e)),
    };
    ids.par_iter()
        .with_min_len(256)
        .map_init(
            || vec![0u8; 16 * 1024],
            |buf, id| {
                let name = format!("{}.msgpack", &id[7..]);
                read_commit_at(&dir_fd, &dir, &name, id, buf).transpose()
            },
        )
        .flatten()
        .collect()
}

/// Reads and verifies `commits/<name>` through the directory handle.
fn read_commit_at(dir_fd: &std::fs::File, dir: &Path, name: &str, id: &str, buf: &mut [u8]) -> Result<Option<CommitRecord>> {
    use rustix::fs::{openat, Mode, OFlags};
    let path = dir.join(name);
    let fd = match openat(dir_fd, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(Error::io("open", &path, e.into())),
    };
    let n = rustix::io::read(&fd, &mut *buf).map_err(|e| Error::io("read", &path, e.into()))?;
    drop(fd);
    if n == buf.len() {
        // Did not fit: the general, size-capped reader.
        return read_commit_file(&path, id);
    }
    let rec = CommitRecord::from_msgpack(&buf[..n], &path)?;
    verify_commit(rec, id, &path).map(Some)
}

fn verify_commit(rec: CommitRecord, expected_id: &str, path: &Path) -> Result<CommitRecord> {
    if rec.commit_id != expected_id {
        return Err(Error::corrupt("commit record", path, format!("holds commit {:?} instead", rec.commit_id)));
    }
    let actual = rec.compute_id();
    if actual != expected_id {
        return Err(Error::corrupt("commit record", path, format!("fields hash to {actual}")));
    }
    Ok(rec)
}

/// Iterator over the first-parent chain from `tip` (tip first). Holds one
/// record at a time.
pub struct FirstParentWalk<'a> {
    root: &'a Path,
    next: Option<String>,
}

impl Iterator for FirstParentWalk<'_> {
    type Item = Result<CommitRecord>;
    fn next(&mut self) -> Option<Self::Item> {
        let id = self.next.take()?;
        match load_commit(self.root, &id) {
            Ok(rec) => {
                self.next = rec.parent_commit_id.clone();
                Some(Ok(rec))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Walks the first-parent chain from `tip`.
pub fn walk_first_parent<'a>(root: &'a Path, tip: Option<&str>) -> FirstParentWalk<'a> {
    FirstParentWalk { root, next: tip.map(str::to_string) }
}

/// The commits of `branch`, tip first, following first parents, at most
/// `max_count` of them (`0` means [`DEFAULT_WALK_CAP`]). An absent branch
/// has no commits.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::NotFound`] for a missing parent,
/// [`Error::Corrupt`], [`Error::Io`].
pub fn get_commits_for_branch(root: &Path, branch: &str, max_count: usize) -> Result<Vec<CommitRecord>> {
    let cap = if max_count == 0 { DEFAULT_WALK_CAP } else { max_count };
    let tip = read_branch_ref(root, branch)?;
    walk_first_parent(root, tip.as_deref()).take(cap).collect()
}

/// Result of [`walk_commits_between`].
#[derive(Debug, Clone, PartialEq)]
pub struct WalkResult {
    /// The commits found, newest first (breadth-first from the tip).
    pub commits: Vec<CommitRecord>,
    /// True when the walk stopped at the cap with commits left unvisited.
    pub truncated: bool,
}

/// Commits reachable from `tip` (both parents) up to, not including,
/// `base` and what lies behind it on each path, breadth-first, at most
/// `max_commits` (the cap keeps memory bounded; `truncated` says whether it
/// cut the walk). With `base = None` walks to the roots.
///
/// The walk stops descending at `base` itself; it does not compute the
/// whole ancestry of `base`, so in a history where a path from `tip` goes
/// around `base` the commits behind that path are counted too. In linear
/// and merged-once histories this is exactly `git rev-list base..tip`.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::NotFound`], [`Error::Corrupt`],
/// [`Error::Io`].
pub fn walk_commits_between(root: &Path, tip: &str, base: Option<&str>, max_commits: usize) -> Result<WalkResult> {
    validate_id(tip)?;
    if let Some(b) = base {
        validate_id(b)?;
    }
    let mut commits = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    if Some(tip) != base {
        queue.push_back(tip.to_string());
        seen.insert(tip.to_string());
    }
    while let Some(id) = queue.pop_front() {
        if commits.len() >= max_commits {
            return Ok(WalkResult { commits, truncated: true });
        }
        let rec = load_commit(root, &id)?;
        for p in rec.parents() {
            if Some(p) != base && seen.insert(p.to_string()) {
                queue.push_back(p.to_string());
            }
        }
        commits.push(rec);
    }
    Ok(WalkResult { commits, truncated: false })
}
