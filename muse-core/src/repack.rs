//! Repacking: many packs and loose files into one dense pack (`muse gc`).
//!
//! [`repack`] writes every loose object and record, and every entry of the
//! packs it replaces, into one new pack (format version 2,
//! [`crate::pack`]) compressed at [`crate::zdelta::REPACK_LEVEL`], with
//! blobs stored as deltas on the previous version of the same path, then
//! removes what the new pack now holds. This is git's `git repack -ad`
//! (with [`RepackOptions::all`]) or `git gc --auto`'s incremental repack
//! (without: only packs smaller than [`RepackOptions::small_pack_bytes`],
//! plus the loose files).
//!
//! # Delta bases
//!
//! Bases are chosen by path, the way git's `pack-objects` sorts by name:
//! the stored commits are walked oldest first (parents before children);
//! each commit's manifest is compared with its first parent's (manifests
//! memoised, so a parent is not rebuilt for every child), and every blob a
//! commit introduces at a path is hinted with the blob that path held in
//! the parent. Blobs are written grouped by the path they first appear at,
//! in history order, so a hint is normally the entry written just before
//! (and still in the writer's base cache). Blobs no manifest names get no
//! hint. The writer takes a delta only when it is clearly smaller than the
//! plain frame ([`crate::pack::PackWriter::append_with_base`]) and cuts
//! chains at [`crate::pack::WRITE_CHAIN_DEPTH`].
//!
//! # Rules
//!
//! 1. **Verified copies.** Every item copied is decoded and verified first
//!    (a blob hashes to its ID, a commit record to its ID, a snapshot
//!    record names its ID); a source that fails aborts the repack before
//!    anything is removed (`muse verify` says what is wrong).
//! 2. **Durable before delete.** The new pack is written in `.muse/tmp/`
//!    (locked, so the startup GC leaves it alone; a killed repack leaves a
//!    temp the next one removes), made durable (`fsync`, under `[core]
//!    fsync`), renamed into `packs/` and the directory made durable; only
//!    then are the replaced packs and the loose files it now holds deleted.
//!    A crash at any point leaves every item readable.
//! 3. **Readers keep reading.** A reader with a replaced pack open keeps
//!    reading it (the file is unlinked, not truncated); a reader that listed
//!    `packs/` before the swap re-lists when a pack is gone or an item is
//!    missing ([`crate::pack`]'s discovery rules) and finds the new pack.
//! 4. **Writers beside a repack.** Only the packs and loose files listed
//!    when the repack starts are replaced: a batch whose pack or loose files
//!    land meanwhile keeps them. A repack holds the write lock
//!    ([`crate::lock::write_lock`]) *shared*, like a writer, plus
//!    `.muse/repack.lock` exclusively, so two repacks never run at once and
//!    a prune ([`crate::reachability::prune`], which takes the write lock
//!    exclusively) never runs beside one.
//! 5. **Pruning** ([`RepackOptions::keep`]): an entry for which `keep`
//!    answers false is not copied, but only when every copy of it (in the
//!    replaced packs and loose files) is older than
//!    [`RepackOptions::grace`] (a pack's age is its file's mtime): a young
//!    pack or loose file is copied whole, since a writer may be about to
//!    reference it (git's `gc.pruneExpire`). A pruning repack takes the
//!    write lock *exclusively* (decide and delete under it, as
//!    [`crate::reachability::prune`] does), or runs under the caller's
//!    exclusive lock ([`repack_locked`]). `keep` must keep every item a
//!    kept item needs (a kept snapshot's delta base chain, …): the repack
//!    does not check reachability itself.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::atomic::Durability;
use crate::error::{Error, IoContext, Result};
use crate::lock::{FileLock, LockMode};
use crate::pack::{EntryKind, Pack, PackEntry, PackWriter};
use crate::records::CommitRecord;

/// Default of [`RepackOptions::small_pack_bytes`]: packs under 32 MiB are
/// merged by an incremental repack.
pub const DEFAULT_SMALL_PACK_BYTES: u64 = 32 * 1024 * 1024;

/// A predicate deciding which entries a pruning repack keeps: `(kind,
/// digest) -> keep?`.
pub type KeepFn<'a> = &'a (dyn Fn(EntryKind, &[u8; 32]) -> bool + Sync);

/// What [`repack`] does.
#[derive(Clone, Copy)]
pub struct RepackOptions<'a> {
    /// Replace every pack (`git repack -a`); `false`: only packs smaller
    /// than [`Self::small_pack_bytes`] (git's `gc --auto` idea), and then
    /// only when there are at least two such packs or any loose file.
    pub all: bool,
    /// See [`Self::all`].
    pub small_pack_bytes: u64,
    /// zstd level of the new pack (default [`crate::zdelta::REPACK_LEVEL`]).
    pub level: i32,
    /// When given, entries for which it answers false are dropped (see the
    /// module docs, rule 5); `None` keeps everything.
    pub keep: Option<KeepFn<'a>>,
    /// Only copies older than this may be dropped by `keep` (default
    /// [`crate::reachability::DEFAULT_PRUNE_GRACE`]).
    pub grace: Duration,
}

impl Default for RepackOptions<'_> {
    fn default() -> Self {
        RepackOptions {
            all: true,
            small_pack_bytes: DEFAULT_SMALL_PACK_BYTES,
            level: crate::zdelta::REPACK_LEVEL,
            keep: None,
            grace: crate::reachability::DEFAULT_PRUNE_GRACE,
        }
    }
}

impl std::fmt::Debug for RepackOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepackOptions")
            .field("all", &self.all)
            .field("small_pack_bytes", &self.small_pack_bytes)
            .field("level", &self.level)
            .field("keep", &self.keep.map(|_| "fn"))
            .field("grace", &self.grace)
            .finish()
    }
}

/// What a [`repack`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepackReport {
    /// Packs replaced (and removed).
    pub packs_replaced: usize,
    /// Loose files removed (their items are now packed, or were pruned).
    pub loose_removed: usize,
    /// Entries in the new pack.
    pub entries: usize,
    /// Of which stored as deltas.
    pub deltas: usize,
    /// Entries dropped by [`RepackOptions::keep`].
    pub dropped: usize,
    /// Bytes of the replaced packs and removed loose files.
    pub bytes_before: u64,
    /// Bytes of the new pack.
    pub bytes_after: u64,
    /// The new pack (`None` when there was nothing to do, or everything
    /// was dropped).
    pub pack: Option<PathBuf>,
}

/// Repacks the repository at `root` (see the module docs), taking the
/// write lock shared (exclusively when `opts.keep` is given) and
/// `.muse/repack.lock`.
///
/// # Errors
/// [`Error::Locked`] when another repack or a prune holds the locks for
/// longer than `[core] lock_timeout`; [`Error::Corrupt`] /
/// [`Error::HashMismatch`] when a source item does not verify (nothing is
/// removed then); [`Error::Io`].
pub fn repack(root: &Path, opts: &RepackOptions<'_>) -> Result<RepackReport> {
    let mode = if opts.keep.is_some() { LockMode::Exclusive } else { LockMode::Shared };
    let lock = crate::lock::write_lock(root, mode)?;
    repack_inner(root, opts, &lock)
}

/// As [`repack`] for a caller that already holds the write lock (a prune
/// deciding what to keep under it): `lock` must be the write lock of
/// `root`, held exclusively when `opts.keep` is given.
///
/// # Errors
/// [`Error::InvalidInput`] when `lock` is not that lock in that mode; as
/// [`repack`].
pub fn repack_locked(root: &Path, opts: &RepackOptions<'_>, lock: &FileLock) -> Result<RepackReport> {
    if lock.path() != crate::paths::write_lock_path(root) {
        return Err(Error::InvalidInput(format!("{} is not the write lock of this repository", lock.path().display())));
    }
    if opts.keep.is_some() && lock.mode() != LockMode::Exclusive {
        return Err(Error::InvalidInput("a pruning repack needs the write lock held exclusively".into()));
    }
    repack_inner(root, opts, lock)
}

/// Where one copy of an item is.
#[derive(Clone, Copy)]
enum Loc {
    /// In replaced pack `i`.
    Pack(usize, PackEntry),
    /// Loose file `i` of the listing.
    Loose(usize),
}

/// An item found in the sources.
struct Item {
    loc: Loc,
    /// Some copy of it is younger than the grace period.
    young: bool,
}

struct LooseFile {
    kind: EntryKind,
    digest: [u8; 32],
    path: PathBuf,
    size: u64,
}

fn repack_inner(root: &Path, opts: &RepackOptions<'_>, _write_lock: &FileLock) -> Result<RepackReport> {
    let _repack_lock = FileLock::acquire(
        &crate::paths::muse_dir(root).join("repack.lock"),
        LockMode::Exclusive,
        crate::lock::lock_timeout(root),
        "repack lock",
    )?;
    let durability = crate::config::durability_for(root, None)?;
    let now = SystemTime::now();
    let young = |m: SystemTime| now.duration_since(m).map_or(true, |age| age < opts.grace);
    let mut report = RepackReport::default();

    // 1. The sources, listed once: only these are replaced.
    let set = crate::pack::refresh(root);
    let mut replaced: Vec<(Arc<Pack>, bool, u64)> = Vec::new();
    let mut kept: Vec<Arc<Pack>> = Vec::new();
    for p in set.packs() {
        let meta = std::fs::metadata(p.path()).ctx("stat", p.path())?;
        if opts.all || meta.len() < opts.small_pack_bytes {
            replaced.push((Arc::clone(p), meta.modified().map_or(true, young), meta.len()));
        } else {
            kept.push(Arc::clone(p));
        }
    }
    let loose = list_loose(root, &young)?;
    if replaced.is_empty() && loose.0.is_empty() {
        return Ok(report);
    }
    if !opts.all && replaced.len() < 2 && loose.0.is_empty() {
        return Ok(report);
    }
    let (loose, loose_young) = loose;

    // 2. Every item once, with where to read it and whether it is young.
    let mut items: HashMap<(EntryKind, [u8; 32]), Item> = HashMap::new();
    let mut covered: HashSet<(EntryKind, [u8; 32])> = HashSet::new();
    let in_kept = |kind: EntryKind, d: &[u8; 32]| kept.iter().any(|p| p.find(kind, d).is_some());
    for (i, (p, is_young, _)) in replaced.iter().enumerate() {
        for e in p.entries() {
            let key = (e.kind, e.digest);
            if in_kept(e.kind, &e.digest) {
                covered.insert(key);
                continue;
            }
            items
                .entry(key)
                .and_modify(|it| it.young |= *is_young)
                .or_insert(Item { loc: Loc::Pack(i, *e), young: *is_young });
        }
    }
    for (i, f) in loose.iter().enumerate() {
        let key = (f.kind, f.digest);
        if in_kept(f.kind, &f.digest) {
            covered.insert(key);
            continue;
        }
        let y = loose_young[i];
        items.entry(key).and_modify(|it| it.young |= y).or_insert(Item { loc: Loc::Loose(i), young: y });
    }

    // 3. The order and delta hints of records (parents first) and blobs
    // (by path through history).
    let HistoryOrder { commits: commit_order, snapshots: snapshot_order, blobs: blob_order } =
        history_order(root, &items)?;

    // 4. Write the new pack.
    let tmp_dir = crate::paths::staging_dir(root);
    std::fs::create_dir_all(&tmp_dir).ctx("create directory", &tmp_dir)?;
    let stamp = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tmp = tmp_dir.join(format!("repack-{}-{stamp}.pack", std::process::id()));
    let mut w = PackWriter::create_with_level(&tmp, opts.level)?;
    let cleanup = TempGuard(tmp.clone());
    w.lock()?;
    let mut dropped: HashSet<(EntryKind, [u8; 32])> = HashSet::new();
    let mut written: HashSet<(EntryKind, [u8; 32])> = HashSet::new();
    // Records first (commits parents first, each hinted with its first
    // parent's; then snapshots in the same order, each hinted with its
    // stored base or its parent commit's snapshot; then the records no
    // history walk reached), then blobs in path order, then the blobs no
    // manifest names.
    let mut order: Vec<(Key, Option<Digest32>)> = Vec::with_capacity(items.len());
    enum Fetched {
        Bytes(Vec<u8>),
        Dropped,
        /// A loose file gone since the listing (not ours to delete).
        Vanished,
    }
    let mut placed_records: HashSet<(EntryKind, [u8; 32])> = HashSet::new();
    for (kind, list) in [(EntryKind::Commit, &commit_order), (EntryKind::Snapshot, &snapshot_order)] {
        for (d, hint) in list {
            if placed_records.insert((kind, *d)) {
                order.push(((kind, *d), *hint));
            }
        }
    }
    let mut records: Vec<(EntryKind, [u8; 32])> =
        items.keys().filter(|k| k.0 != EntryKind::Object && !placed_records.contains(k)).copied().collect();
    records.sort_unstable();
    order.extend(records.into_iter().map(|k| (k, None)));
    drop(placed_records);
    let mut placed: HashSet<[u8; 32]> = HashSet::with_capacity(blob_order.len());
    for (d, hint) in &blob_order {
        if placed.insert(*d) {
            order.push(((EntryKind::Object, *d), *hint));
        }
    }
    let mut rest: Vec<[u8; 32]> =
        items.keys().filter(|k| k.0 == EntryKind::Object && !placed.contains(&k.1)).map(|k| k.1).collect();
    rest.sort_unstable();
    order.extend(rest.into_iter().map(|d| ((EntryKind::Object, d), None)));

    // Read and verify in parallel, a slice at a time; append in order.
    for chunk in order.chunks(256) {
        let loaded: Vec<Result<Fetched>> = chunk
            .par_iter()
            .map(|(key, _)| {
                let it = &items[key];
                if let Some(keep) = opts.keep {
                    if !it.young && !keep(key.0, &key.1) {
                        return Ok(Fetched::Dropped);
                    }
                }
                Ok(match read_verified(&replaced, &loose, key.0, &key.1, it.loc)? {
                    Some(b) => Fetched::Bytes(b),
                    None => Fetched::Vanished,
                })
            })
            .collect();
        let mut fetched = Vec::with_capacity(chunk.len());
        for f in loaded {
            fetched.push(f?);
        }
        // The bytes of this slice's items, as bases for later ones in it.
        let local: HashMap<(EntryKind, [u8; 32]), &[u8]> = chunk
            .iter()
            .zip(&fetched)
            .filter_map(|((k, _), f)| match f {
                Fetched::Bytes(b) => Some((*k, b.as_slice())),
                _ => None,
            })
            .collect();
        // A stored snapshot delta's own base is the better hint.
        let hints: Vec<Option<[u8; 32]>> = chunk
            .iter()
            .zip(&fetched)
            .map(|((k, hint), f)| match f {
                Fetched::Bytes(b) if k.0 == EntryKind::Snapshot => stored_snapshot_base(b).or(*hint),
                _ => *hint,
            })
            .collect();
        // Compress in parallel (the bases: earlier in this slice, or in the
        // writer's cache), then append in order.
        let writer = &w;
        let prepared: Vec<Result<Option<crate::pack::Prepared>>> = chunk
            .par_iter()
            .zip(fetched.par_iter())
            .zip(hints.par_iter())
            .map(|(((key, _), f), hint)| {
                let Fetched::Bytes(b) = f else { return Ok(None) };
                let from_writer = hint.and_then(|h| writer.base_bytes_of(key.0, &h));
                let base: Option<&[u8]> = match hint.and_then(|h| local.get(&(key.0, h)).copied()) {
                    Some(l) => Some(l),
                    None => from_writer.as_ref().map(|a| a.as_slice()),
                };
                crate::pack::prepare(key.0, b, base, writer.level()).map(Some)
            })
            .collect();
        drop(local);
        for ((((key, _), f), p), hint) in chunk.iter().zip(fetched).zip(prepared).zip(&hints) {
            match (f, p?) {
                (Fetched::Vanished, _) => {}
                (Fetched::Dropped, _) => {
                    dropped.insert(*key);
                }
                (Fetched::Bytes(b), Some(p)) => {
                    w.append_prepared(key.0, key.1, &b, *hint, p)?;
                    written.insert(*key);
                }
                (Fetched::Bytes(b), None) => {
                    w.append_with_base(key.0, key.1, &b, *hint)?;
                    written.insert(*key);
                }
            }
        }
    }
    report.entries = w.len();
    report.deltas = w.deltas();
    report.dropped = dropped.len();

    // 5. Durable, renamed in, durable again: then delete.
    let full = durability == Durability::Full;
    let new_name = if w.is_empty() {
        drop(w);
        None
    } else {
        let (path, name) = w.finish(full)?;
        let packs = crate::pack::packs_dir(root);
        crate::atomic::create_dir_all_durable(&packs, durability)?;
        let dest = packs.join(&name);
        if !rename_noreplace(&path, &dest)? {
            // The same entries at the same offsets: that pack is this one.
            let _ = std::fs::remove_file(&path);
        }
        if full {
            crate::atomic::sync_dir(&packs)?;
        }
        report.bytes_after = std::fs::metadata(&dest).ctx("stat", &dest)?.len();
        match Pack::open(&dest) {
            Ok(p) => crate::pack::register(root, p, name.clone().into()),
            Err(e) => return Err(e),
        }
        report.pack = Some(dest);
        Some(name)
    };
    drop(cleanup);
    let gone = |key: &(EntryKind, [u8; 32])| written.contains(key) || dropped.contains(key) || covered.contains(key);
    for (p, _, size) in &replaced {
        if new_name.as_deref().is_some_and(|n| p.path().file_name().is_some_and(|f| f == n)) {
            continue;
        }
        // Every entry is in the new pack, in a kept pack, or dropped.
        if p.entries().iter().all(|e| gone(&(e.kind, e.digest))) {
            match std::fs::remove_file(p.path()) {
                Ok(()) => {
                    report.packs_replaced += 1;
                    report.bytes_before += size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", p.path(), e)),
            }
        }
    }
    for f in &loose {
        if gone(&(f.kind, f.digest)) {
            match std::fs::remove_file(&f.path) {
                Ok(()) => {
                    report.loose_removed += 1;
                    report.bytes_before += f.size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &f.path, e)),
            }
        }
    }
    Ok(report)
}

/// Removes the temp pack unless it was renamed away.
struct TempGuard(PathBuf);

impl Drop for TempGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Renames `from` to `to` unless `to` exists; `Ok(false)` when it does.
fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST) => Ok(false),
        Err(e) => Err(Error::io("rename into", to, e.into())),
    }
}

fn hex_digest(hex: &str) -> Option<[u8; 32]> {
    if !crate::ids::is_hex64(hex.as_bytes()) {
        return None;
    }
    crate::pack::digest_of(&format!("sha256:{hex}")).ok()
}

/// Every loose object and record (temps and stray names skipped), and
/// whether each is younger than the grace period.
fn list_loose(root: &Path, young: &dyn Fn(SystemTime) -> bool) -> Result<(Vec<LooseFile>, Vec<bool>)> {
    let mut out = Vec::new();
    let mut ages = Vec::new();
    let mut push = |kind: EntryKind, digest: [u8; 32], path: PathBuf, meta: std::fs::Metadata| {
        if meta.is_file() {
            ages.push(meta.modified().map_or(true, young));
            out.push(LooseFile { kind, digest, path, size: meta.len() });
        }
    };
    let read_dir = |dir: &Path| -> Result<Vec<std::fs::DirEntry>> {
        match std::fs::read_dir(dir) {
            Ok(rd) => rd.map(|e| e.ctx("list", dir)).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("list", dir, e)),
        }
    };
    let shards = crate::paths::object_shards_dir(root);
    for shard in read_dir(&shards)? {
        let Some(prefix) = shard.file_name().to_str().map(str::to_owned) else { continue };
        if prefix.len() != 2 {
            continue;
        }
        for f in read_dir(&shard.path())? {
            let Some(name) = f.file_name().to_str().map(str::to_owned) else { continue };
            let Some(d) = hex_digest(&format!("{prefix}{name}")) else { continue };
            if let Ok(meta) = f.path().symlink_metadata() {
                push(EntryKind::Object, d, f.path(), meta);
            }
        }
    }
    for (kind, dir) in
        [(EntryKind::Commit, crate::paths::commits_dir(root)), (EntryKind::Snapshot, crate::paths::snapshots_dir(root))]
    {
        for f in read_dir(&dir)? {
            let Some(name) = f.file_name().to_str().map(str::to_owned) else { continue };
            let Some(hex) = name.strip_suffix(".msgpack") else { continue };
            let Some(d) = hex_digest(hex) else { continue };
            if let Ok(meta) = f.path().symlink_metadata() {
                push(kind, d, f.path(), meta);
            }
        }
    }
    Ok((out, ages))
}

/// Only the ID of a snapshot record (any form).
#[derive(serde::Deserialize)]
struct SnapshotIdOnly {
    snapshot_id: String,
}

/// Reads one item from its source and verifies it; `Ok(None)` when its
/// loose file is gone.
fn read_verified(
    packs: &[(Arc<Pack>, bool, u64)],
    loose: &[LooseFile],
    kind: EntryKind,
    digest: &[u8; 32],
    loc: Loc,
) -> Result<Option<Vec<u8>>> {
    let limit = match kind {
        EntryKind::Object => u64::MAX,
        _ => crate::records::MAX_MSGPACK_BYTES,
    };
    let what = match kind {
        EntryKind::Object => "object",
        EntryKind::Commit => "commit record",
        EntryKind::Snapshot => "snapshot record",
    };
    let (bytes, path) = match loc {
        Loc::Pack(i, e) => (packs[i].0.read(&e, what, limit)?, packs[i].0.path().to_path_buf()),
        Loc::Loose(i) => {
            let f = &loose[i];
            let read = match kind {
                EntryKind::Object => match std::fs::read(&f.path) {
                    Ok(b) => Some(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(Error::io("read", &f.path, e)),
                },
                _ => crate::records::read_capped(&f.path, what, limit)?,
            };
            let Some(b) = read else { return Ok(None) };
            (b, f.path.clone())
        }
    };
    let id = crate::ids::id_from_digest(digest);
    match kind {
        EntryKind::Object => {
            let actual: [u8; 32] = Sha256::digest(&bytes).into();
            if actual != *digest {
                return Err(Error::corrupt(
                    what,
                    &path,
                    format!("{id} hashes to {}", crate::ids::id_from_digest(&actual)),
                ));
            }
        }
        EntryKind::Commit => {
            let rec = CommitRecord::from_msgpack(&bytes, &path)?;
            if rec.commit_id != id || !rec.matches_id(&id) {
                return Err(Error::corrupt(what, &path, format!("record stored as {id} does not hash to it")));
            }
        }
        EntryKind::Snapshot => {
            let rec: SnapshotIdOnly = rmp_serde::from_slice(&bytes)
                .map_err(|e| Error::corrupt(what, &path, format!("{id}: {e}")))?;
            if rec.snapshot_id != id {
                return Err(Error::corrupt(what, &path, format!("record stored as {id} names {}", rec.snapshot_id)));
            }
        }
    }
    Ok(Some(bytes))
}

/// The base of a stored snapshot delta record (`base_snapshot_id`), if
/// its bytes name one.
fn stored_snapshot_base(bytes: &[u8]) -> Option<[u8; 32]> {
    #[derive(serde::Deserialize)]
    struct BaseOnly {
        #[serde(default)]
        base_snapshot_id: Option<String>,
    }
    let rec: BaseOnly = rmp_serde::from_slice(bytes).ok()?;
    crate::pack::digest_of(rec.base_snapshot_id.as_deref()?).ok()
}

/// A SHA-256 digest (an item's ID).
type Digest32 = [u8; 32];
/// An item's key: its kind and digest.
type Key = (EntryKind, Digest32);
/// An item's digest and its delta base hint.
type Hinted = (Digest32, Option<Digest32>);

/// Write order and delta hints from the stored history (see
/// [`history_order`]); each list holds `(digest, hint)`.
struct HistoryOrder {
    commits: Vec<Hinted>,
    snapshots: Vec<Hinted>,
    blobs: Vec<Hinted>,
}

/// Walks the stored commits parents first. Commit records in that order,
/// each hinted with its first parent's record; snapshot records in order
/// of first use, each hinted with its first parent commit's snapshot (the
/// repack prefers a stored delta's own base); and the blobs named by the
/// manifests, grouped by the path each first appears at (groups in order
/// of first appearance, each in history order), with the blob the same
/// path held in the first parent as delta hint (see the module docs).
/// Only items in `items` are listed.
fn history_order(root: &Path, items: &HashMap<(EntryKind, [u8; 32]), Item>) -> Result<HistoryOrder> {
    let ids = crate::commits::list_commit_ids(root)?;
    let recs = crate::commits::read_commits_opt(root, &ids)?;
    let recs: Vec<CommitRecord> = recs.into_iter().flatten().collect();
    let order = oldest_first(&recs);
    let mut groups: Vec<Vec<Hinted>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut memo = ManifestMemo::default();
    let mut commits = Vec::with_capacity(recs.len());
    let mut snapshots = Vec::with_capacity(recs.len());
    let mut snapshots_seen: HashSet<[u8; 32]> = HashSet::new();
    let stored = |kind: EntryKind, id: &str| crate::pack::digest_of(id).ok().filter(|d| items.contains_key(&(kind, *d)));
    for i in order {
        let rec = &recs[i];
        let parent_rec = rec
            .parents()
            .next()
            .and_then(|p| recs.binary_search_by(|r| r.commit_id.as_str().cmp(p)).ok())
            .map(|j| &recs[j]);
        if let Some(d) = stored(EntryKind::Commit, &rec.commit_id) {
            commits.push((d, parent_rec.and_then(|p| stored(EntryKind::Commit, &p.commit_id))));
        }
        if let Some(d) = stored(EntryKind::Snapshot, &rec.snapshot_id) {
            if snapshots_seen.insert(d) {
                snapshots.push((d, parent_rec.and_then(|p| stored(EntryKind::Snapshot, &p.snapshot_id))));
            }
        }
        let Some(manifest) = memo.get(root, &rec.snapshot_id)? else { continue };
        let parent = match parent_rec {
            Some(p) => memo.get(root, &p.snapshot_id)?,
            None => None,
        };
        let empty = std::collections::BTreeMap::new();
        let before = parent.as_deref().unwrap_or(&empty);
        for (path, blob) in manifest.iter() {
            let old = before.get(path);
            if old == Some(blob) {
                continue;
            }
            let Ok(d) = crate::pack::digest_of(blob) else { continue };
            if !items.contains_key(&(EntryKind::Object, d)) || !seen.insert(d) {
                continue;
            }
            let hint = old.and_then(|o| crate::pack::digest_of(o).ok());
            let g = *group_of.entry(path.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push((d, hint));
        }
    }
    Ok(HistoryOrder { commits, snapshots, blobs: groups.into_iter().flatten().collect() })
}

/// Indices of `recs` (sorted by ID) in an order where every parent comes
/// before its children (Kahn's algorithm; roots and ties by commit time).
fn oldest_first(recs: &[CommitRecord]) -> Vec<usize> {
    let index = |id: &str| recs.binary_search_by(|r| r.commit_id.as_str().cmp(id)).ok();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); recs.len()];
    let mut pending: Vec<usize> = vec![0; recs.len()];
    for (i, r) in recs.iter().enumerate() {
        for p in r.all_parents() {
            if let Some(j) = index(p) {
                if j != i {
                    children[j].push(i);
                    pending[i] += 1;
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..recs.len()).filter(|&i| pending[i] == 0).collect();
    ready.sort_by(|&a, &b| recs[b].committed_at.cmp(&recs[a].committed_at));
    let mut out = Vec::with_capacity(recs.len());
    // A stack: a commit's children follow it closely (first-parent chains
    // stay together, so the memoised parent manifest is usually a hit).
    while let Some(i) = ready.pop() {
        out.push(i);
        for &c in children[i].iter().rev() {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(c);
            }
        }
    }
    out
}

/// Recently rebuilt manifests, by snapshot ID (a few: a child usually
/// follows its parent).
#[derive(Default)]
struct ManifestMemo {
    entries: Vec<(String, Arc<std::collections::BTreeMap<String, String>>)>,
}

impl ManifestMemo {
    const CAP: usize = 16;

    fn get(&mut self, root: &Path, id: &str) -> Result<Option<Arc<std::collections::BTreeMap<String, String>>>> {
        if let Some(i) = self.entries.iter().position(|(k, _)| k == id) {
            let e = self.entries.remove(i);
            let m = Arc::clone(&e.1);
            self.entries.push(e);
            return Ok(Some(m));
        }
        let Some(rec) = crate::snapshots::read_snapshot(root, id)? else { return Ok(None) };
        let m = Arc::new(rec.manifest);
        if self.entries.len() >= Self::CAP {
            self.entries.remove(0);
        }
        self.entries.push((id.to_string(), Arc::clone(&m)));
        Ok(Some(m))
    }
}
