//! The commit store and history walks (SPEC §3, §6).
//!
//! A commit lives at `.muse/commits/<hex>.msgpack`, written once (mode
//! 0444). Every read verifies that the record hashes to the ID it is stored
//! under. Walks hold memory proportional to their cap, not to history depth.
//! Commits written by a large batch are in a pack ([`crate::pack`]) instead;
//! every reader here looks in both.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::atomic::{write_atomic, Durability, Replace, MODE_IMMUTABLE, MUSE_TMP_PREFIX};
use crate::config::durability_for;
use crate::error::{Error, Result};
use crate::ids::validate_id;
use crate::pack::{self, EntryKind};
use crate::paths::{commit_path, commits_dir};
use crate::records::{list_record_ids, read_capped, CommitRecord, MAX_MSGPACK_BYTES};

/// Default cap of [`crate::Repository::first_parent_commits`] when the caller passes 0.
pub const DEFAULT_WALK_CAP: usize = 10_000;

/// Writes `bytes` to `path` (a record), creating its directory if missing.
pub(crate) fn write_record_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<bool> {
    let written = match write_atomic(path, MUSE_TMP_PREFIX, bytes, MODE_IMMUTABLE, durability, Replace::NoClobber) {
        Err(e) if e.is_not_found() => {
            let dir = path.parent().expect("record has a directory");
            crate::atomic::create_dir_all_durable(dir, durability)?;
            write_atomic(path, MUSE_TMP_PREFIX, bytes, MODE_IMMUTABLE, durability, Replace::NoClobber)
        }
        other => other,
    }?;
    if !written {
        // Already stored: git's freshen rule, so that the prune grace period
        // protects a per-call sequence that reuses it.
        crate::atomic::freshen(path);
    }
    Ok(written)
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
    // Shared write lock for the call: `gc --prune` never runs mid-write.
    let _write_lock = crate::lock::writer_lock(root)?;
    if !path.is_file() && pack::find_for_write(root, EntryKind::Commit, &rec.commit_id, true)?.is_some() {
        return Ok(false);
    }
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
    pack::lookup(root, EntryKind::Commit, id, || read_commit_file(&path, id), |p, e| read_packed_entry(p, e, id))
}

/// The stored bytes of the commit record `id` (loose or packed), not
/// decoded: `Ok(None)` when absent.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::TooLarge`], [`Error::Io`].
pub fn read_commit_bytes(root: &Path, id: &str) -> Result<Option<Vec<u8>>> {
    let path = commit_path(root, id)?;
    if let Some(b) = read_capped(&path, "commit record", MAX_MSGPACK_BYTES)? {
        return Ok(Some(b));
    }
    match pack::find(root, EntryKind::Commit, id, true)? {
        Some((p, e)) => p.read(&e, "commit record", MAX_MSGPACK_BYTES).map(Some),
        None => Ok(None),
    }
}

/// [`read_commit`] and the record's stored bytes (one read, one decode):
/// `Ok(None)` when absent.
///
/// # Errors
/// As [`read_verified_commit_bytes`].
pub(crate) fn read_commit_and_bytes(root: &Path, id: &str) -> Result<Option<(CommitRecord, Vec<u8>)>> {
    let Some(data) = read_commit_bytes(root, id)? else { return Ok(None) };
    let path = commit_path(root, id)?;
    let rec = verify_commit(CommitRecord::from_msgpack(&data, &path)?, id, &path)?;
    Ok(Some((rec, data)))
}

/// [`read_commit_bytes`], verified: the bytes must decode to a record whose
/// `commit_id` is `id` and whose fields hash to it (exactly the bytes
/// handed out are checked). `Ok(None)` when absent.
///
/// # Errors
/// [`Error::Corrupt`] naming what does not match; as [`read_commit_bytes`].
pub fn read_verified_commit_bytes(root: &Path, id: &str) -> Result<Option<Vec<u8>>> {
    Ok(read_commit_and_bytes(root, id)?.map(|(_, data)| data))
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
    pack::is_stored(root, EntryKind::Commit, id)
}

/// IDs of every stored commit (loose and packed), sorted, without
/// repeats. Files in `commits/` whose names are not `<64 hex>.msgpack`
/// (temps, legacy files) are skipped.
///
/// # Errors
/// [`Error::Io`].
pub fn list_commit_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = list_record_ids(&commits_dir(root))?;
    ids.extend(pack::packed_ids(root, EntryKind::Commit));
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Every stored commit ID once, in the order the records are stored (see
/// [`stored_commit_order`]), with where each one is.
#[derive(Debug, Clone, Default)]
pub struct StoredOrder {
    /// The IDs: each pack's commits by offset, then the loose ones.
    pub ids: Vec<String>,
    /// For each of `ids`, its position in commit-ID order (a permutation of
    /// `0..ids.len()`).
    pub ranks: Vec<usize>,
    locs: Vec<Loc>,
    packs: std::sync::Arc<pack::PackSet>,
}

/// Where a commit record is: a pack (index in the pack set) and entry, or
/// a loose file.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Packed(usize, pack::PackEntry),
    Loose,
}

impl StoredOrder {
    /// Reads and verifies the commits `ids[range]`, one entry each (`None`
    /// for one removed since it was listed), in parallel; see
    /// [`read_commits`].
    ///
    /// # Errors
    /// As [`read_commits`].
    pub fn read(&self, root: &Path, range: std::ops::Range<usize>) -> Result<Vec<Option<CommitRecord>>> {
        read_located(root, &self.packs, &self.ids[range.clone()], &self.locs[range])
    }
}

/// Every stored commit ID, without repeats, in storage order (each pack's
/// commits by offset, packs oldest first, then the loose ones), with each
/// one's rank in commit-ID order: reading them in this order
/// ([`StoredOrder::read`]) reads every pack sequentially, and the ranks put
/// the records back in ID order (what [`get_all_commits`] does).
///
/// # Errors
/// [`Error::Io`].
pub fn stored_commit_order(root: &Path) -> Result<StoredOrder> {
    let packs = pack::refresh(root);
    let mut found: Vec<([u8; 32], Loc)> = Vec::new();
    for (k, p) in packs.packs().iter().enumerate() {
        let start = found.len();
        found.extend(p.entries_of(EntryKind::Commit).iter().map(|e| (e.digest, Loc::Packed(k, *e))));
        found[start..].sort_unstable_by_key(|(_, l)| match l {
            Loc::Packed(_, e) => e.offset,
            Loc::Loose => 0,
        });
    }
    for id in list_record_ids(&commits_dir(root))? {
        found.push((pack::digest_of(&id)?, Loc::Loose));
    }
    // ID order (digest order); of repeated IDs the first stored is kept.
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.par_sort_unstable_by(|&a, &b| found[a].0.cmp(&found[b].0).then(a.cmp(&b)));
    let mut rank_of: Vec<Option<usize>> = vec![None; found.len()];
    let mut r = 0;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && found[order[k - 1]].0 == found[i].0 {
            continue;
        }
        rank_of[i] = Some(r);
        r += 1;
    }
    let mut out = StoredOrder {
        ids: Vec::with_capacity(r),
        ranks: Vec::with_capacity(r),
        locs: Vec::with_capacity(r),
        packs: std::sync::Arc::clone(&packs),
    };
    for ((digest, loc), rank) in found.into_iter().zip(rank_of) {
        if let Some(rank) = rank {
            out.ids.push(crate::ids::id_from_digest(&digest));
            out.ranks.push(rank);
            out.locs.push(loc);
        }
    }
    Ok(out)
}

/// Every stored commit (loose and packed), verified, in commit-ID order.
/// Reads in parallel, each pack sequentially ([`stored_commit_order`]).
///
/// Packed records are read in runs of neighbours, one `pread` per run of up
/// to 1 MiB; a loose record is opened relative to one open handle on
/// `commits/` (`openat`, no path walk) and read with a single `read` when it
/// fits in 16 KiB (three system calls per record); larger ones take the
/// capped path. A commit removed while this runs is left out.
///
/// # Errors
/// The first [`Error::Corrupt`] / [`Error::TooLarge`] / [`Error::Io`] met.
pub fn get_all_commits(root: &Path) -> Result<Vec<CommitRecord>> {
    let mut slots: Vec<Option<CommitRecord>> = Vec::new();
    for_each_commit_slice(root, |n, ranks, recs| {
        if slots.is_empty() {
            slots.resize_with(n, || None);
        }
        for (rank, rec) in ranks.iter().zip(recs) {
            slots[*rank] = rec;
        }
        Ok(())
    })?;
    Ok(slots.into_iter().flatten().collect())
}

/// Commits per slice of [`for_each_commit_slice`].
pub const COMMIT_SLICE: usize = 8192;

/// Reads every stored commit in storage order (each pack sequentially),
/// [`COMMIT_SLICE`] at a time, pipelined: slice k + 1 is read (in
/// parallel) on another thread while `consume` handles slice k, so the
/// whole history is never held twice. `consume` gets the total count, the
/// ranks of the slice's commits in commit-ID order, and the records
/// (`None` for one removed meanwhile). Returns the total count.
///
/// # Errors
/// The first read error ([`Error::Corrupt`], [`Error::Io`], …) or the first
/// error `consume` returns; reading stops there.
pub fn for_each_commit_slice(
    root: &Path,
    mut consume: impl FnMut(usize, &[usize], Vec<Option<CommitRecord>>) -> Result<()>,
) -> Result<usize> {
    let order = stored_commit_order(root)?;
    let n = order.ids.len();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(std::ops::Range<usize>, Result<Vec<Option<CommitRecord>>>)>(1);
    std::thread::scope(|s| -> Result<()> {
        let order = &order;
        s.spawn(move || {
            for start in (0..n).step_by(COMMIT_SLICE) {
                let range = start..(start + COMMIT_SLICE).min(n);
                let r = order.read(root, range.clone());
                let failed = r.is_err();
                // The receiver is gone when the consumer stopped on an error.
                if tx.send((range, r)).is_err() || failed {
                    break;
                }
            }
        });
        // `rx` is moved into the loop: an early return drops it, which
        // stops the reader before the scope joins it.
        for (range, recs) in rx {
            consume(n, &order.ranks[range], recs?)?;
        }
        Ok(())
    })?;
    Ok(n)
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
    Ok(read_commits_opt(root, ids)?.into_iter().flatten().collect())
}

/// As [`read_commits`], one entry per ID: `None` for an absent commit.
/// IDs in [`stored_commit_order`] read each pack sequentially.
///
/// # Errors
/// As [`read_commits`].
pub fn read_commits_opt(root: &Path, ids: &[String]) -> Result<Vec<Option<CommitRecord>>> {
    let packs = pack::refresh(root);
    let mut locs = Vec::with_capacity(ids.len());
    for id in ids {
        let d = pack::digest_of(id)?;
        let found = packs.packs().iter().enumerate().rev().find_map(|(k, p)| p.find(EntryKind::Commit, &d).map(|e| (k, e)));
        locs.push(found.map_or(Loc::Loose, |(k, e)| Loc::Packed(k, e)));
    }
    read_located(root, &packs, ids, &locs)
}

/// Reads the commits `ids` found at `locs` (see [`read_commits_opt`]).
fn read_located(root: &Path, packs: &pack::PackSet, ids: &[String], locs: &[Loc]) -> Result<Vec<Option<CommitRecord>>> {
    let dir = commits_dir(root);
    // Packed records are read in runs of neighbouring entries, one `pread`
    // per run; the others are loose files.
    let mut packed: Vec<(usize, usize, pack::PackEntry)> = Vec::new();
    let mut loose: Vec<usize> = Vec::new();
    for (i, l) in locs.iter().enumerate() {
        match l {
            Loc::Packed(k, e) => packed.push((*k, i, *e)),
            Loc::Loose => loose.push(i),
        }
    }
    packed.sort_unstable_by_key(|(k, _, e)| (*k, e.offset));
    let mut runs: Vec<&[(usize, usize, pack::PackEntry)]> = Vec::new();
    let mut start = 0;
    for j in 1..=packed.len() {
        let split = j == packed.len() || {
            let (k0, _, first) = &packed[start];
            let (k, _, e) = &packed[j];
            let (_, _, prev) = &packed[j - 1];
            k != k0
                || e.offset.saturating_sub(prev.offset + prev.stored_len) > RUN_GAP
                || (e.offset + e.stored_len).saturating_sub(first.offset) > RUN_BYTES
        };
        if split {
            runs.push(&packed[start..j]);
            start = j;
        }
    }
    let mut out: Vec<(usize, Result<CommitRecord>)> = runs
        .par_iter()
        .flat_map_iter(|run| read_run(&packs.packs()[run[0].0], run, ids))
        .collect();
    if !loose.is_empty() {
        let dir_fd = match std::fs::File::open(&dir) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("open", &dir, e)),
        };
        if let Some(dir_fd) = dir_fd {
            let found: Vec<(usize, Result<CommitRecord>)> = loose
                .par_iter()
                .with_min_len(256)
                .map_init(
                    || vec![0u8; 16 * 1024],
                    |buf, &i| {
                        let id = &ids[i];
                        let name = format!("{}.msgpack", &id[7..]);
                        read_commit_at(&dir_fd, &dir, &name, id, buf).transpose().map(|r| (i, r))
                    },
                )
                .flatten()
                .collect();
            out.extend(found);
        }
    }
    // In the order of `ids`; the first error in that order wins.
    out.sort_unstable_by_key(|(i, _)| *i);
    let mut slots: Vec<Option<CommitRecord>> = (0..ids.len()).map(|_| None).collect();
    for (i, r) in out {
        slots[i] = Some(r?);
    }
    Ok(slots)
}

/// Packed commit records closer than this (bytes) are read in one run.
const RUN_GAP: u64 = 4096;
/// Longest run read at once (bytes; a longer record is read alone).
const RUN_BYTES: u64 = 1 << 20;

/// Reads the stored bytes of a run of entries of `pack` with one `pread`,
/// then decodes each by its encoding ([`pack::Pack::decode_stored`]: raw
/// bytes as they are, a zstd frame decompressed, a delta resolved through
/// its chain) and verifies it; `(index into ids, record)` for each.
fn read_run(pack: &pack::Pack, run: &[(usize, usize, pack::PackEntry)], ids: &[String]) -> Vec<(usize, Result<CommitRecord>)> {
    let first = run[0].2;
    let last = run[run.len() - 1].2;
    let span = (last.offset + last.stored_len).saturating_sub(first.offset);
    let one_by_one = || run.iter().map(|(_, i, e)| (*i, read_packed_entry(pack, e, &ids[*i]))).collect();
    if run.len() == 1 || span > RUN_BYTES {
        return one_by_one();
    }
    let mut buf = vec![0u8; span as usize];
    if pack.read_span(first.offset, &mut buf).is_err() {
        // Each entry's own read reports the error precisely.
        return one_by_one();
    }
    run.iter()
        .map(|(_, i, e)| {
            let at = (e.offset - first.offset) as usize;
            let r = buf
                .get(at..at + e.stored_len as usize)
                .ok_or_else(|| Error::corrupt("commit record", pack.path(), format!("entry {} overlaps its neighbours", e.id())))
                .and_then(|stored| pack.decode_stored(e, stored, "commit record", MAX_MSGPACK_BYTES))
                .and_then(|bytes| CommitRecord::from_msgpack(&bytes, pack.path()))
                .and_then(|rec| verify_commit(rec, &ids[*i], pack.path()));
            (*i, r)
        })
        .collect()
}

/// Reads and verifies one packed commit record.
fn read_packed_entry(pack: &pack::Pack, e: &pack::PackEntry, id: &str) -> Result<CommitRecord> {
    let bytes = pack.read(e, "commit record", MAX_MSGPACK_BYTES)?;
    let rec = CommitRecord::from_msgpack(&bytes, pack.path())?;
    verify_commit(rec, id, pack.path())
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
    if !rec.matches_id(expected_id) {
        let actual = rec.compute_id();
        return Err(Error::corrupt("commit record", path, format!("fields hash to {actual}")));
    }
    Ok(rec)
}

/// Result of [`walk_between_with`] ([`crate::Repository::walk_between`]).
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
/// Reads commits with `load` (a missing commit is [`Error::NotFound`]), so
/// it runs over any store: [`crate::Repository::walk_between`] and
/// [`crate::Repository::ahead_behind`].
///
/// # Errors
/// [`Error::InvalidId`]; what `load` returns ([`Error::NotFound`],
/// [`Error::Corrupt`], [`Error::Io`]).
pub fn walk_between_with(
    load: &mut dyn FnMut(&str) -> Result<CommitRecord>,
    tip: &str,
    base: Option<&str>,
    max_commits: usize,
) -> Result<WalkResult> {
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
        let rec = load(&id)?;
        for p in rec.parents() {
            if Some(p) != base && seen.insert(p.to_string()) {
                queue.push_back(p.to_string());
            }
        }
        commits.push(rec);
    }
    Ok(WalkResult { commits, truncated: false })
}
