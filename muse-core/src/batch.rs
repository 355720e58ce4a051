//! Write batches: many objects and records, one flush barrier (SPEC §4).
//!
//! A [`Batch`] stages every item it is given in a private directory
//! `.muse/tmp/batch-*` (no `fsync` per item), in one of two forms, chosen
//! by the number of items (git's `transfer.unpackLimit` rule):
//!
//! * **a pack** ([`crate::pack`]) once the batch holds more than
//!   `[pack] unpack_limit` items (default [`crate::pack::PACK_MIN_ENTRIES`]):
//!   every item is appended to one file, `pack.tmp` (pack format version 2:
//!   zstd at [`crate::zdelta::DEFAULT_LEVEL`], and a blob given a base
//!   hint by [`Batch::write_object_with_base`] stored as a delta on it when
//!   that blob is in the same pack and the delta is clearly smaller);
//! * **loose files** otherwise (and once the first items held exceed
//!   [`HOLD_BYTES`] before that count is reached): one staged file per item.
//!
//! Until the count is reached, items are held in memory. Files streamed from
//! disk ([`Batch::write_object_from_file`]) are always staged loose. On
//! [`Batch::commit`]:
//!
//! 1. the staged bytes are made durable: the pack by `fsync` alone, or one
//!    filesystem barrier (`syncfs`) when loose files are staged;
//! 2. each staged file is renamed into its final place (never over an
//!    existing one), and the pack into `.muse/packs/`, so no reader ever
//!    sees a file whose bytes are not yet on disk;
//! 3. the renames are made durable (`fsync` of `packs/`, or a second
//!    barrier);
//! 4. only then are the queued ref updates applied, each durable on return,
//!    so a ref never points at something that is not durable.
//!
//! Under `[core] fsync = "off"` no barrier or `fsync` is issued. A batch that is
//! dropped without `commit` (or whose process dies) leaves nothing visible:
//! its staging directory is removed, by `Drop` or by the next startup GC
//! (the batch holds an `flock` on it while alive).
//!
//! # The batch and the GC
//!
//! * **Staging directory.** The startup GC ([`crate::repo::startup_gc`])
//!   removes every `batch-*` directory whose `flock` it can take, so a batch
//!   directory must never carry that name unlocked. [`Batch::begin`] creates
//!   it as `.muse/tmp/.new-batch-<r>` (a name the GC leaves alone unless it
//!   is older than [`crate::object_store::CLEANUP_MIN_AGE_SECS`]: a process
//!   killed between `mkdir` and `rename`), locks it, then renames it to
//!   `batch-<r>`; the lock follows the inode.
//! * **Write lock.** A batch holds the repository's write lock
//!   ([`crate::lock::write_lock`]) *shared* from [`Batch::begin`] until it
//!   is committed or dropped. Its ref updates are applied inside
//!   [`Batch::commit`], so everything it stored is reachable before the lock
//!   is released, and `gc --prune` (which decides and deletes under the
//!   lock held exclusively, [`crate::reachability::prune`]) never sees its
//!   data unreachable. An item the batch skips because it is already stored
//!   as a loose file has its mtime refreshed (see
//!   [`crate::reachability`]'s "freshen" rule).
//!
//! # Staging writers
//!
//! Loose files given as bytes are written by [`WRITERS`] staging threads while the
//! caller goes on (hashing, encoding the next record): file creation is
//! most of a batch's cost with one file per item, and it overlaps with the
//! caller's CPU work and with the other writer (each has its own
//! subdirectory, so their creates do not contend on one directory lock).
//! The bytes waiting to be written are bounded by [`PENDING_BYTES`]; a
//! caller that gets ahead waits. A write error is returned by the next
//! call that stages, reads a staged record or commits, and poisons the
//! batch: it can then only be dropped. The renames of [`Batch::commit`]
//! run on one thread (a rename across directories takes the filesystem's
//! rename lock, so more threads would only contend for it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::atomic::{sync_filesystem, Durability, MODE_IMMUTABLE};
use crate::commits::prepare_commit;
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::object_store::verify_blob;
use crate::paths::{object_path, staging_dir};
use crate::records::{CommitRecord, SnapshotRecord, SnapshotView};
use crate::pack::{EntryKind, PackWriter, Prepared};
use crate::snapshots::{load_snapshot, prepare_snapshot_on, skip_base, Against, Check, Loaded, StagedSnapshots};

/// Counts of what a committed batch wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Objects newly stored.
    pub objects_written: usize,
    /// Objects that were already stored (or given twice).
    pub objects_skipped: usize,
    /// Commit records newly stored.
    pub commits_written: usize,
    /// Snapshot records newly stored.
    pub snapshots_written: usize,
    /// Ref updates applied.
    pub refs_updated: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Object,
    Commit,
    Snapshot,
}

impl Kind {
    fn entry_kind(self) -> EntryKind {
        match self {
            Kind::Object => EntryKind::Object,
            Kind::Commit => EntryKind::Commit,
            Kind::Snapshot => EntryKind::Snapshot,
        }
    }
}

/// Bound, in bytes, on the items a batch holds in memory before it knows
/// whether it will write a pack (more than `[pack] unpack_limit` items) or
/// loose files; past it, the batch writes loose files.
pub const HOLD_BYTES: usize = 8 * 1024 * 1024;

/// An item staged before the batch chose between a pack and loose files.
struct Held {
    id: String,
    dest: PathBuf,
    bytes: Vec<u8>,
    kind: Kind,
    /// Delta base hint (a blob's digest), for the pack.
    base: Option<[u8; 32]>,
    /// An encoding computed already (a bundle's frame), for the pack.
    prepared: Option<Prepared>,
}

/// Where a batch's items wait for [`Batch::commit`], and the reader of
/// its staged snapshot records (delta bases of later ones).
struct Staging {
    dir: PathBuf,
    /// Loose files staged (written by `writers`, or streamed).
    staged: Vec<Staged>,
    /// Staged loose snapshot records: ID → staged file.
    loose_snapshots: HashMap<String, PathBuf>,
    /// Items not yet placed (the first `unpack_limit`, up to [`HOLD_BYTES`]).
    held: Vec<Held>,
    held_bytes: usize,
    /// The decision: `Some` once the batch writes a pack; `loose` once it
    /// writes loose files.
    pack: Option<PackWriter>,
    loose: bool,
    /// Items in the pack, per kind (objects, commits, snapshots).
    packed: [usize; 3],
    /// Writing the pack failed (sticky: the batch can only be dropped).
    pack_failed: bool,
    writers: Writers,
}

impl StagedSnapshots for Staging {
    fn staged_snapshot(&self, id: &str) -> Option<Result<(Vec<u8>, PathBuf)>> {
        if let Some(path) = self.loose_snapshots.get(id) {
            // Its file is written by a staging writer: wait for them.
            return Some(self.writers.flush(&self.dir).and_then(|()| {
                crate::records::read_capped(path, "snapshot record", crate::records::MAX_MSGPACK_BYTES)?
                    .map(|b| (b, path.clone()))
                    .ok_or_else(|| Error::NotFound { what: "staged snapshot", name: id.to_string() })
            }));
        }
        if let Some(h) = self.held.iter().find(|h| matches!(h.kind, Kind::Snapshot) && h.id == id) {
            return Some(Ok((h.bytes.clone(), self.dir.clone())));
        }
        let pack = self.pack.as_ref()?;
        let e = pack.get(EntryKind::Snapshot, &crate::pack::digest_of(id).ok()?)?;
        Some(pack.read(&e).map(|b| (b, self.dir.join(PACK_TMP))))
    }
}

/// Name of a batch's pack while it is staged.
const PACK_TMP: &str = "pack.tmp";

/// Number of staging writer threads of a batch (and of subdirectories of
/// its staging directory).
pub const WRITERS: usize = 2;

/// Bound, in bytes, on the staged bytes a batch holds in memory waiting for
/// its writers (each file counts its length plus 256).
pub const PENDING_BYTES: usize = 32 * 1024 * 1024;

/// Work queue state shared by a batch and its staging writers.
#[derive(Default)]
struct Pending {
    /// Files sent and not yet written.
    files: usize,
    /// Their bytes (+256 each).
    bytes: usize,
    /// The first write error, until it is reported.
    error: Option<Error>,
    /// A write failed (sticky).
    failed: bool,
}

impl Pending {
    /// The first write error (once), then a generic one; `Ok` when no write
    /// failed.
    fn result(&mut self, dir: &Path) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.failed {
            return Err(Error::io(
                "write",
                dir,
                std::io::Error::other("an earlier write of this batch failed; the batch cannot be committed"),
            ));
        }
        Ok(())
    }
}

/// The staging writer threads of one batch.
struct Writers {
    txs: Vec<std::sync::mpsc::Sender<(PathBuf, Vec<u8>)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    state: std::sync::Arc<(std::sync::Mutex<Pending>, std::sync::Condvar)>,
}

impl Writers {
    fn new() -> Writers {
        Writers { txs: Vec::new(), threads: Vec::new(), state: Default::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `bytes` to be written to the new file `path` by writer `k`,
    /// first waiting while too many bytes are pending. Writes inline when
    /// no thread can be started.
    fn send(&mut self, k: usize, dir: &Path, path: PathBuf, bytes: Vec<u8>) -> Result<()> {
        if self.txs.is_empty() {
            for i in 0..WRITERS {
                let (tx, rx) = std::sync::mpsc::channel::<(PathBuf, Vec<u8>)>();
                let state = std::sync::Arc::clone(&self.state);
                let spawned = std::thread::Builder::new().name(format!("muse-stage-{i}")).spawn(move || {
                    for (path, bytes) in rx {
                        let cost = bytes.len() + 256;
                        let r = create_staged(&path, &bytes);
                        drop(bytes);
                        let mut g = state.0.lock().unwrap_or_else(|p| p.into_inner());
                        g.files -= 1;
                        g.bytes -= cost;
                        if let Err(e) = r {
                            if !g.failed {
                                g.error = Some(e);
                                g.failed = true;
                            }
                        }
                        state.1.notify_all();
                    }
                });
                match spawned {
                    Ok(h) => {
                        self.txs.push(tx);
                        self.threads.push(h);
                    }
                    Err(_) => break,
                }
            }
        }
        let cost = bytes.len() + 256;
        let tx = match self.txs.get(k % self.txs.len().max(1)) {
            Some(tx) => tx,
            None => return create_staged(&path, &bytes),
        };
        let mut g = self.lock();
        while g.bytes > 0 && g.bytes + cost > PENDING_BYTES && !g.failed {
            g = self.state.1.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.result(dir)?;
        g.files += 1;
        g.bytes += cost;
        drop(g);
        if let Err(std::sync::mpsc::SendError((path, bytes))) = tx.send((path, bytes)) {
            // The thread is gone (it cannot panic, but be safe): write here.
            let mut g = self.lock();
            g.files -= 1;
            g.bytes -= cost;
            drop(g);
            return create_staged(&path, &bytes);
        }
        Ok(())
    }

    /// Waits until every queued file is written; the first write error.
    fn flush(&self, dir: &Path) -> Result<()> {
        let mut g = self.lock();
        while g.files > 0 {
            g = self.state.1.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.result(dir)
    }

    /// The first write error so far, without waiting.
    fn check(&self, dir: &Path) -> Result<()> {
        self.lock().result(dir)
    }

    /// Stops the threads after they wrote what is queued.
    fn join(&mut self) {
        self.txs.clear();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Creates the staged file `path` (which must not exist) holding `bytes`.
fn create_staged(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f =
        OpenOptions::new().write(true).create_new(true).mode(MODE_IMMUTABLE).open(path).ctx("create", path)?;
    f.write_all(bytes).ctx("write", path)
}

struct Staged {
    staged: PathBuf,
    dest: PathBuf,
    kind: Kind,
}

enum RefUpdate {
    Set { branch: String, id: String },
    Cas { branch: String, expected: Option<String>, id: String },
}

/// A set of writes made durable together; see the module docs.
pub struct Batch {
    root: PathBuf,
    /// The `flock` on the staging directory (the startup GC skips it).
    _lock: File,
    durability: Durability,
    /// `[pack] unpack_limit`.
    unpack_limit: usize,
    /// The repository's packs when the batch began: an item found there is
    /// not staged again (a pack another process adds meanwhile is not seen,
    /// which only costs a duplicate).
    packs: std::sync::Arc<crate::pack::PackSet>,
    staging: Staging,
    ids: HashSet<String>,
    refs: Vec<RefUpdate>,
    stats: BatchStats,
    done: bool,
    /// Snapshots staged or read as delta bases, with their chains: the
    /// latest one at each chain level (the trailing zeros of its depth; the
    /// last slot for full records). In a linear chain of skip deltas these
    /// are exactly the next record's parent and base, so a long chain is
    /// written without re-reading anything; at most `LEVELS` manifests.
    levels: Vec<Option<Loaded>>,
    /// For snapshots in `levels` written with a `changed` set: (the latest
    /// record reached from it by records that all gave one, the union of
    /// their changed paths). A skip delta on such a snapshot is built from
    /// that union (see `Against::Changed`), without its manifest.
    since: HashMap<String, (String, BTreeSet<String>)>,
    /// The chains (no manifest) of the latest snapshots staged with a
    /// `changed` set, at most [`STAGED_CHAINS`]: the parent of a record
    /// staged after a jump between branches (a bundle's side branches, a
    /// merge) is found here instead of being read back and rebuilt.
    staged_chains: HashMap<String, Loaded>,
    /// For the same snapshots: the parent each was staged on and its
    /// `changed` set, to find what changed since a skip-delta base that left
    /// the level cache ([`Batch::changes_between`]).
    staged_links: HashMap<String, (String, BTreeSet<String>)>,
    /// Frees evicted manifests on another thread (a 2,000-entry manifest
    /// is ~4,000 frees: a third of a long import's time on one core).
    dropper: Dropper<Loaded>,
    /// This batch created `.muse/tmp/`: a batch that does not commit
    /// removes it again when it is empty, leaving `.muse/` as it found it.
    created_base: bool,
    /// The write lock, shared, until the batch is committed or dropped
    /// (declared last: released after `Drop` removed the staging directory).
    _write_lock: Option<crate::lock::FileLock>,
}

/// Drops values on a helper thread, started on first use and joined when
/// the `Dropper` is dropped.
struct Dropper<T: Send + 'static> {
    tx: Option<std::sync::mpsc::SyncSender<T>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Dropper<T> {
    fn new() -> Self {
        Dropper { tx: None, thread: None }
    }

    fn discard(&mut self, v: T) {
        if self.tx.is_none() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<T>(64);
            let spawned = std::thread::Builder::new().name("muse-drop".into()).spawn(move || rx.into_iter().for_each(drop));
            if let Ok(h) = spawned {
                self.tx = Some(tx);
                self.thread = Some(h);
            }
        }
        match &self.tx {
            // A send only fails when the thread is gone: drop here instead.
            Some(tx) => drop(tx.send(v)),
            None => drop(v),
        }
    }
}

impl<T: Send + 'static> Drop for Dropper<T> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// Slots of [`Batch::levels`]: one per trailing-zero count of a depth below
/// [`crate::snapshots::CHECKPOINT_INTERVAL`], plus one for full records.
const LEVELS: usize = crate::snapshots::CHECKPOINT_INTERVAL.trailing_zeros() as usize + 1;

/// Most entries of [`Batch`]'s `staged_chains` (a few hundred bytes each).
const STAGED_CHAINS: usize = 16_384;

fn level(depth: u32) -> usize {
    if depth == 0 {
        LEVELS - 1
    } else {
        (depth.trailing_zeros() as usize).min(LEVELS - 2)
    }
}

impl Batch {
    /// Starts a batch on the repository at `root`.
    ///
    /// # Errors
    /// [`Error::NotARepository`] when `root` has no `.muse/`;
    /// [`Error::Io`] when the staging directory cannot be made;
    /// [`Error::Locked`] when `gc --prune` holds the write lock for longer
    /// than `[core] lock_timeout`.
    pub fn begin(root: &Path) -> Result<Batch> {
        // A repository whose `.muse/` vanished under an open handle is not
        // written into (the staging directory would recreate it).
        if !crate::paths::muse_dir(root).is_dir() {
            return Err(Error::NotARepository { start: root.to_path_buf() });
        }
        // First the write lock: no prune runs from here until the batch has
        // moved its refs (or is dropped).
        let write_lock = crate::lock::writer_lock(root)?;
        let (dir, lock, created_base) = create_staging_dir(root)?;
        for k in 0..WRITERS {
            let sub = dir.join(k.to_string());
            std::fs::create_dir(&sub).ctx("create directory", &sub)?;
        }
        Ok(Batch {
            root: root.to_path_buf(),
            _lock: lock,
            durability: durability_for(root, None)?,
            unpack_limit: usize::try_from(crate::config::Config::load(root)?.unpack_limit).unwrap_or(usize::MAX),
            packs: crate::pack::refresh(root),
            staging: Staging {
                dir,
                staged: Vec::new(),
                loose_snapshots: HashMap::new(),
                held: Vec::new(),
                held_bytes: 0,
                pack: None,
                loose: false,
                packed: [0; 3],
                pack_failed: false,
                writers: Writers::new(),
            },
            ids: HashSet::new(),
            refs: Vec::new(),
            stats: BatchStats::default(),
            done: false,
            levels: vec![None; LEVELS],
            since: HashMap::new(),
            staged_chains: HashMap::new(),
            staged_links: HashMap::new(),
            dropper: Dropper::new(),
            created_base,
            _write_lock: write_lock,
        })
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the next staged file: `<dir>/<n % WRITERS>/<n>`.
    fn next_staged_path(&self) -> PathBuf {
        let n = self.staging.staged.len();
        let mut p = self.staging.dir.join((n % WRITERS).to_string());
        p.push(n.to_string());
        p
    }

    /// True when item `id` of `kind` is stored: in a pack known when the
    /// batch began (the pack is then freshened, [`crate::pack::Pack::freshen`]),
    /// or as a loose file (one `stat`; the file is then freshened, see
    /// [`crate::atomic::freshen`]).
    fn stored(&self, kind: EntryKind, id: &str) -> Result<bool> {
        if let Some((p, _)) = self.packs.find(kind, &crate::pack::digest_of(id)?) {
            // The pack counts as young again (git's `freshen_packed_object`).
            p.freshen();
            return Ok(true);
        }
        let path = match kind {
            EntryKind::Object => object_path(&self.root, id)?,
            EntryKind::Commit => crate::paths::commit_path(&self.root, id)?,
            EntryKind::Snapshot => crate::paths::snapshot_path(&self.root, id)?,
        };
        let stored = std::fs::symlink_metadata(&path).map(|m| m.is_file()).unwrap_or(false);
        if stored {
            crate::atomic::freshen(&path);
        }
        Ok(stored)
    }

    /// Fails when a staging write failed.
    fn check(&self) -> Result<()> {
        if self.staging.pack_failed {
            return Err(Error::io(
                "write",
                self.staging.dir.join(PACK_TMP),
                std::io::Error::other("an earlier write of this batch's pack failed; the batch cannot be committed"),
            ));
        }
        self.staging.writers.check(&self.staging.dir)
    }

    /// Stages item `id`: into the pack once the batch writes one, as a
    /// loose file once it writes those, else held until it decides (more
    /// than `unpack_limit` items: a pack; over [`HOLD_BYTES`]: loose).
    fn stage(&mut self, id: &str, dest: PathBuf, bytes: Vec<u8>, kind: Kind, base: Option<[u8; 32]>) -> Result<()> {
        self.stage_prepared(id, dest, bytes, kind, base, None)
    }

    /// [`Batch::stage`] with the pack encoding already computed (see
    /// [`Prepared::from_frame`]).
    fn stage_prepared(
        &mut self,
        id: &str,
        dest: PathBuf,
        bytes: Vec<u8>,
        kind: Kind,
        base: Option<[u8; 32]>,
        prepared: Option<Prepared>,
    ) -> Result<()> {
        self.check()?;
        let digest = crate::pack::digest_of(id)?;
        if let Some(pack) = &mut self.staging.pack {
            let r = match prepared {
                Some(p) => pack.append_prepared(kind.entry_kind(), digest, &bytes, base, p),
                None => pack.append_with_base(kind.entry_kind(), digest, &bytes, base),
            };
            if let Err(e) = r {
                self.staging.pack_failed = true;
                return Err(e);
            }
            self.staging.packed[kind.entry_kind() as usize] += 1;
            return Ok(());
        }
        if self.staging.loose {
            return self.stage_loose(id, dest, bytes, kind);
        }
        self.staging.held_bytes += bytes.len();
        self.staging.held.push(Held { id: id.to_string(), dest, bytes, kind, base, prepared });
        if self.staging.held.len() > self.unpack_limit {
            if let Err(e) = self.start_pack() {
                self.staging.pack_failed = true;
                return Err(e);
            }
        } else if self.staging.held_bytes > HOLD_BYTES {
            self.release_held()?;
        }
        Ok(())
    }

    /// Decides for a pack: creates it with the held items.
    fn start_pack(&mut self) -> Result<()> {
        let mut pack = PackWriter::create(&self.staging.dir.join(PACK_TMP))?;
        for h in std::mem::take(&mut self.staging.held) {
            let digest = crate::pack::digest_of(&h.id)?;
            match h.prepared {
                Some(p) => pack.append_prepared(h.kind.entry_kind(), digest, &h.bytes, h.base, p)?,
                None => pack.append_with_base(h.kind.entry_kind(), digest, &h.bytes, h.base)?,
            };
            self.staging.packed[h.kind.entry_kind() as usize] += 1;
        }
        self.staging.held_bytes = 0;
        self.staging.pack = Some(pack);
        Ok(())
    }

    /// Decides for loose files: stages the held items as files.
    fn release_held(&mut self) -> Result<()> {
        self.staging.loose = true;
        self.staging.held_bytes = 0;
        for h in std::mem::take(&mut self.staging.held) {
            self.stage_loose(&h.id, h.dest, h.bytes, h.kind)?;
        }
        Ok(())
    }

    fn stage_loose(&mut self, id: &str, dest: PathBuf, bytes: Vec<u8>, kind: Kind) -> Result<()> {
        let staged = self.next_staged_path();
        let n = self.staging.staged.len();
        self.staging.writers.send(n, &self.staging.dir, staged.clone(), bytes)?;
        if matches!(kind, Kind::Snapshot) {
            self.staging.loose_snapshots.insert(id.to_string(), staged.clone());
        }
        self.staging.staged.push(Staged { staged, dest, kind });
        Ok(())
    }

    /// Stages the object `id` (hash-verified now). Returns `false` when it is
    /// already stored or already in this batch.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::HashMismatch`], [`Error::Io`].
    pub fn write_object(&mut self, id: &str, content: &[u8]) -> Result<bool> {
        verify_blob(id, content)?;
        self.write_verified_object(id, content)
    }

    /// As [`Batch::write_object`] for content the caller has already
    /// hash-verified against `id` (a valid ID): not hashed again.
    pub(crate) fn write_verified_object(&mut self, id: &str, content: &[u8]) -> Result<bool> {
        self.write_verified_object_with_base(id, content, None)
    }

    /// As [`Batch::write_object`], with a delta base hint: `base` is the ID
    /// of a blob `content` is likely similar to (typically the previous
    /// version of the same path). When the batch writes a pack and that
    /// blob is in it, the object may be stored as a delta on it (see
    /// [`crate::pack::PackWriter::append_with_base`]); loose writes ignore
    /// the hint. Returns `false` when the object is already stored or
    /// already in this batch.
    ///
    /// # Errors
    /// [`Error::InvalidId`] (for `id` or `base`), [`Error::HashMismatch`],
    /// [`Error::Io`].
    pub fn write_object_with_base(&mut self, id: &str, content: &[u8], base: Option<&str>) -> Result<bool> {
        verify_blob(id, content)?;
        let base = base.map(crate::pack::digest_of).transpose()?;
        self.write_verified_object_with_base(id, content, base)
    }

    /// As [`Batch::write_object_with_base`] for `content` the caller has
    /// hash-verified against `id`, with `frame`, a [`crate::zdelta`] frame
    /// decoding to `content` (on `base`'s content when `base` is given):
    /// when the batch writes a pack, the frame is stored as it is (a delta
    /// when `base` is in this pack and its chain is short enough, else
    /// `frame` as a plain entry only if it was compressed alone), instead
    /// of compressing `content` again. Returns `false` when the object is
    /// already stored or already in this batch.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::Io`].
    pub fn write_verified_object_frame(
        &mut self,
        id: &str,
        content: &[u8],
        base: Option<[u8; 32]>,
        frame: &[u8],
    ) -> Result<bool> {
        if self.ids.contains(id) || self.stored(EntryKind::Object, id)? {
            self.stats.objects_skipped += 1;
            return Ok(false);
        }
        let prepared = Prepared::from_frame(frame.to_vec(), base.is_some());
        self.stage_prepared(id, object_path(&self.root, id)?, content.to_vec(), Kind::Object, base, Some(prepared))?;
        self.ids.insert(id.to_string());
        Ok(true)
    }

    fn write_verified_object_with_base(&mut self, id: &str, content: &[u8], base: Option<[u8; 32]>) -> Result<bool> {
        if self.ids.contains(id) || self.stored(EntryKind::Object, id)? {
            self.stats.objects_skipped += 1;
            return Ok(false);
        }
        self.stage(id, object_path(&self.root, id)?, content.to_vec(), Kind::Object, base)?;
        self.ids.insert(id.to_string());
        Ok(true)
    }

    /// Stages the object `id` by streaming the file at `src` (64 KiB at a
    /// time, never whole in memory) and checking that its bytes hash to
    /// `id`. Returns `false` when the object is already stored or staged.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::HashMismatch`] when the file's bytes
    /// (e.g. changed since they were hashed) do not hash to `id` (nothing
    /// staged); [`Error::Io`].
    pub fn write_object_from_file(&mut self, id: &str, src: &Path) -> Result<bool> {
        crate::ids::validate_id(id)?;
        self.check()?;
        if self.ids.contains(id) || self.stored(EntryKind::Object, id)? {
            self.stats.objects_skipped += 1;
            return Ok(false);
        }
        let staged = self.next_staged_path();
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE_IMMUTABLE)
            .open(&staged)
            .ctx("create", &staged)?;
        let input = File::open(src).ctx("open", src)?;
        let (actual, _) = crate::ids::blob_id_reader(Tee { inner: input, copy: &mut out })
            .map_err(|e| Error::io("copy", src, e))?;
        if actual != id {
            let _ = std::fs::remove_file(&staged);
            return Err(Error::HashMismatch { what: "object", expected: id.to_string(), actual });
        }
        self.staging.staged.push(Staged { staged, dest: object_path(&self.root, id)?, kind: Kind::Object });
        self.ids.insert(id.to_string());
        Ok(true)
    }

    /// Stages a commit record (verified now). Returns `false` when it is
    /// already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::commits::write_commit`].
    pub fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool> {
        // A stored commit with this (validated) ID is the same record: skip
        // the verification and encoding.
        if self.ids.contains(&rec.commit_id) || self.stored(EntryKind::Commit, &rec.commit_id)? {
            return Ok(false);
        }
        let (path, bytes) = prepare_commit(&self.root, rec)?;
        self.stage(&rec.commit_id, path, bytes, Kind::Commit, None)?;
        self.ids.insert(rec.commit_id.clone());
        Ok(true)
    }

    /// Stages a snapshot record (verified now) as a full record. Returns
    /// `false` when it is already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::snapshots::write_snapshot`].
    pub fn write_snapshot(&mut self, rec: &SnapshotRecord) -> Result<bool> {
        self.write_snapshot_with_base(rec, None)
    }

    /// Stages a snapshot record (verified now), as a delta against `base`
    /// when possible: `base` may be stored or staged earlier in this batch
    /// (see [`crate::snapshots::write_snapshot_with_base`]). Returns `false`
    /// when it is already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::snapshots::write_snapshot_with_base`].
    pub fn write_snapshot_with_base(&mut self, rec: &SnapshotRecord, base: Option<&str>) -> Result<bool> {
        self.stage_snapshot(rec, base, Check::Full, None)
    }

    /// As [`Batch::write_snapshot_with_base`] for a record whose ID the
    /// caller computed from its manifest ([`SnapshotRecord::new`]) and whose
    /// manifest differs from its parent's (`base`) at most in the paths of
    /// `changed`: only those entries are validated, the hash is not
    /// recomputed, and the delta on the parent is built from `changed`
    /// without the parent's manifest, which is then not kept either (see
    /// [`Batch::levels`]).
    pub(crate) fn write_computed_snapshot(
        &mut self,
        rec: &dyn SnapshotView,
        base: Option<&str>,
        changed: &BTreeSet<String>,
    ) -> Result<bool> {
        self.stage_snapshot(rec, base, Check::Computed, Some(changed))
    }

    /// The manifest of snapshot `id` (staged in this batch or stored), a
    /// copy; `Ok(None)` when absent.
    ///
    /// # Errors
    /// As [`crate::snapshots::read_snapshot`].
    pub(crate) fn manifest_of(&self, id: &str) -> Result<Option<BTreeMap<String, String>>> {
        if let Some(l) = self.levels.iter().flatten().find(|l| l.has_manifest && l.rec.snapshot_id == id) {
            return Ok(Some(l.rec.manifest.clone()));
        }
        Ok(load_snapshot(&self.root, Some(&self.staging), id)?.map(|l| l.rec.manifest))
    }

    fn stage_snapshot(
        &mut self,
        rec: &dyn SnapshotView,
        base: Option<&str>,
        check: Check,
        changed: Option<&BTreeSet<String>>,
    ) -> Result<bool> {
        let sid = rec.snapshot_id();
        if self.ids.contains(sid) || self.stored(EntryKind::Snapshot, sid)? {
            return Ok(false);
        }
        // The parent (`base`), and the member of its chain the new record
        // is a skip delta on (see `crate::snapshots`), from the level cache
        // or the store; either being unreadable only costs a fuller record.
        let mut parent: Option<Loaded> = None;
        if let Some(b) = base.filter(|b| *b != sid) {
            crate::ids::validate_id(b)?;
            parent = self
                .take_level(b)
                .or_else(|| changed.and_then(|_| self.staged_chains.get(b).cloned()))
                .or_else(|| self.load(b));
        }
        let mut ancestor: Option<Loaded> = None;
        let mut ancestor_changed: Option<BTreeSet<String>> = None;
        let mut depth = 0;
        if let Some((n, pick)) = parent.as_ref().and_then(skip_base) {
            depth = n;
            if let Some(i) = pick {
                let p = parent.as_ref().expect("skip_base had a parent");
                let (id, want) = (p.bases[i].clone(), p.base_depths[i]);
                // The paths changed since that ancestor, when every record
                // from it to the parent came with its `changed` set: then
                // the delta needs no manifest.
                // (Or, once it left the level cache, from the links of the
                // records staged since it.)
                let since = changed.and_then(|c| {
                    let set = match self.since.get(&id) {
                        Some((tip, set)) if *tip == p.rec.snapshot_id => set.clone(),
                        _ => self.changes_between(&id, &p.rec.snapshot_id)?,
                    };
                    Some(set.into_iter().chain(c.iter().cloned()).collect::<BTreeSet<String>>())
                });
                if let Some(u) = since {
                    ancestor = self
                        .take_level(&id)
                        .filter(|a| a.depth == want)
                        .or_else(|| self.staged_chains.get(&id).filter(|a| a.depth == want).cloned());
                    ancestor_changed = ancestor.is_some().then_some(u);
                }
                if ancestor.is_none() {
                    ancestor = self.take_level(&id).filter(|a| a.has_manifest).or_else(|| self.load(&id));
                    ancestor = ancestor.filter(|a| a.depth == want);
                }
            }
        }
        // A delta on the parent needs its manifest unless `changed` says
        // where they differ.
        if ancestor.is_none() && changed.is_none() && parent.as_ref().is_some_and(|p| !p.has_manifest) {
            let id = parent.as_ref().map(|p| p.rec.snapshot_id.clone()).expect("checked");
            parent = self.load(&id);
            depth = if parent.is_some() { depth } else { 0 };
        }
        let chosen = ancestor.as_ref().or(parent.as_ref()).filter(|_| depth > 0);
        // On the parent, `changed` gives the delta without a merge walk; on
        // an ancestor, the paths changed since it.
        let against = chosen.map(|b| match (ancestor.is_none(), changed, &ancestor_changed) {
            (true, Some(c), _) => Against::Changed(c),
            (false, _, Some(u)) => Against::Changed(u),
            _ => Against::Manifest(&b.rec.manifest),
        });
        let prepared = prepare_snapshot_on(
            &self.root,
            rec,
            chosen.zip(against).map(|(b, a)| (b.rec.snapshot_id.as_str(), a, depth)),
            check,
        );
        let (bases, base_depths) = match (&prepared, chosen) {
            (Ok((_, _, d)), Some(b)) if *d > 0 => b.chain_above(),
            _ => (Vec::new(), Vec::new()),
        };
        for l in [ancestor, parent].into_iter().flatten() {
            self.remember(l);
        }
        let (path, bytes, depth) = prepared?;
        self.stage(sid, path, bytes, Kind::Snapshot, None)?;
        self.ids.insert(sid.to_string());
        // Cached records whose changes were followed up to the parent are
        // now followed up to this record; this record starts its own.
        if let (Some(c), Some(b)) = (changed, base) {
            for (tip, set) in self.since.values_mut() {
                if tip == b {
                    set.extend(c.iter().cloned());
                    *tip = sid.to_string();
                }
            }
        }
        if changed.is_some() {
            self.since.insert(sid.to_string(), (sid.to_string(), BTreeSet::new()));
        }
        // Keep the manifest only for writers that give no `changed` set
        // (the others' skip deltas are built from `since`).
        let keep = changed.is_none();
        let kept = if keep {
            rec.to_record().into_owned()
        } else {
            SnapshotRecord { snapshot_id: sid.to_string(), ..SnapshotRecord::default() }
        };
        let staged = Loaded { rec: kept, depth, bases, base_depths, has_manifest: keep };
        if !keep {
            if self.staged_chains.len() >= STAGED_CHAINS {
                self.staged_chains.clear();
                self.staged_links.clear();
            }
            self.staged_chains.insert(sid.to_string(), staged.clone());
            if let (Some(c), Some(b)) = (changed, base) {
                self.staged_links.insert(sid.to_string(), (b.to_string(), c.clone()));
            }
        }
        self.remember(staged);
        let levels = &self.levels;
        self.since.retain(|id, _| levels.iter().flatten().any(|l| l.rec.snapshot_id == *id));
        Ok(true)
    }

    /// The paths where snapshot `from` can differ from its ancestor
    /// `ancestor`: the union of the `changed` sets of the records staged
    /// from `from` back to `ancestor` (excluded) along their parents.
    /// `None` when a link on the way is not known (not staged with a
    /// `changed` set, or forgotten).
    fn changes_between(&self, ancestor: &str, from: &str) -> Option<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        let mut cur = from;
        for _ in 0..crate::snapshots::CHECKPOINT_INTERVAL {
            if cur == ancestor {
                return Some(set);
            }
            let (parent, changed) = self.staged_links.get(cur)?;
            set.extend(changed.iter().cloned());
            cur = parent;
        }
        None
    }

    /// Takes snapshot `id` out of the level cache.
    fn take_level(&mut self, id: &str) -> Option<Loaded> {
        self.levels.iter_mut().find(|l| l.as_ref().is_some_and(|l| l.rec.snapshot_id == id)).and_then(Option::take)
    }

    /// Reads snapshot `id` (staged in this batch or stored) as a delta base:
    /// `None` when absent, unreadable or holding an invalid entry (bases'
    /// entries are trusted by [`Check::Computed`]).
    fn load(&self, id: &str) -> Option<Loaded> {
        load_snapshot(&self.root, Some(&self.staging), id).ok().flatten().filter(|l| l.rec.validate().is_ok())
    }

    fn remember(&mut self, l: Loaded) {
        let k = level(l.depth);
        if let Some(old) = self.levels[k].replace(l) {
            self.dropper.discard(old);
        }
    }

    /// Queues `branch := commit_id`, applied after the barrier.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`] (checked now).
    pub fn write_branch_ref(&mut self, branch: &str, commit_id: &str) -> Result<()> {
        crate::refs::validate_branch_name(branch)?;
        crate::ids::validate_id(commit_id)?;
        self.refs.push(RefUpdate::Set { branch: branch.into(), id: commit_id.into() });
        Ok(())
    }

    /// Queues a compare-and-swap of `branch` from `expected` to `commit_id`,
    /// applied after the barrier; [`Batch::commit`] fails with
    /// [`Error::RefConflict`] if the ref moved (the staged data is then
    /// durable but unreferenced).
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`] (checked now).
    pub fn compare_and_swap_branch_ref(&mut self, branch: &str, expected: Option<&str>, commit_id: &str) -> Result<()> {
        crate::refs::validate_branch_name(branch)?;
        crate::ids::validate_id(commit_id)?;
        if let Some(e) = expected {
            crate::ids::validate_id(e)?;
        }
        self.refs.push(RefUpdate::Cas { branch: branch.into(), expected: expected.map(Into::into), id: commit_id.into() });
        Ok(())
    }

    /// Number of items staged so far.
    pub fn len(&self) -> usize {
        let s = &self.staging;
        s.staged.len() + s.held.len() + s.pack.as_ref().map_or(0, PackWriter::len)
    }

    /// True when nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes everything durable and visible, then applies the ref updates
    /// (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::RefConflict`] from a queued compare-and-swap.
    pub fn commit(mut self) -> Result<BatchStats> {
        self.check()?;
        if !self.staging.held.is_empty() {
            self.release_held()?;
        }
        let dir = self.staging.dir.clone();
        self.staging.writers.flush(&dir)?;
        self.staging.writers.join();
        let full = self.durability == Durability::Full;
        let staged = std::mem::take(&mut self.staging.staged);
        // The pack: index and trailer written, and fsynced on its own when
        // no loose file needs the filesystem barrier anyway.
        let pack = match self.staging.pack.take() {
            Some(p) if !p.is_empty() => Some(p.finish(full && staged.is_empty())?),
            _ => None,
        };
        if full && !staged.is_empty() {
            sync_filesystem(&dir)?;
        }
        // One thread: a rename across directories holds the filesystem's
        // rename lock, so parallel renames only spin on it (measured: 14 % of
        // a 75,000-file add's CPU spent spinning).
        let renamed: Vec<bool> = staged.iter().map(move_into_place).collect::<Result<_>>()?;
        for (s, renamed) in staged.iter().zip(renamed) {
            match (&s.kind, renamed) {
                (Kind::Object, true) => self.stats.objects_written += 1,
                (Kind::Object, false) => self.stats.objects_skipped += 1,
                (Kind::Commit, true) => self.stats.commits_written += 1,
                (Kind::Snapshot, true) => self.stats.snapshots_written += 1,
                _ => {}
            }
        }
        if let Some((tmp, name)) = pack {
            let packs = crate::pack::packs_dir(&self.root);
            crate::atomic::create_dir_all_durable(&packs, self.durability)?;
            let dest = packs.join(&name);
            let [objects, commits, snapshots] = self.staging.packed;
            if rename_noreplace(&tmp, &dest)? {
                self.stats.objects_written += objects;
                self.stats.commits_written += commits;
                self.stats.snapshots_written += snapshots;
                match crate::pack::Pack::open(&dest) {
                    Ok(p) => crate::pack::register(&self.root, p, name.into()),
                    Err(e) => log::warn!("cannot reopen the pack just written: {e}"),
                }
            } else {
                // The same entries at the same offsets: the same pack.
                self.stats.objects_skipped += objects;
            }
            if full && staged.is_empty() {
                crate::atomic::sync_dir(&packs)?;
            }
        }
        if full && !staged.is_empty() {
            sync_filesystem(&dir)?;
        }
        self.done = true;
        let _ = std::fs::remove_dir_all(&dir);
        for r in std::mem::take(&mut self.refs) {
            match r {
                RefUpdate::Set { branch, id } => crate::refs::write_branch_ref(&self.root, &branch, &id)?,
                RefUpdate::Cas { branch, expected, id } => {
                    crate::refs::compare_and_swap_branch_ref(&self.root, &branch, expected.as_deref(), &id)?
                }
            }
            self.stats.refs_updated += 1;
        }
        Ok(self.stats)
    }

    /// Discards everything staged; nothing becomes visible.
    pub fn abort(mut self) {
        self.cleanup();
    }

    fn cleanup(&mut self) {
        self.staging.writers.join();
        if !self.done {
            self.done = true;
            self.staging.pack = None;
            let _ = std::fs::remove_dir_all(&self.staging.dir);
            if self.created_base {
                // Fails (and is left) when another batch is staging there.
                let _ = std::fs::remove_dir(staging_dir(&self.root));
            }
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A reader that writes everything it reads to `copy` too.
struct Tee<'a, R> {
    inner: R,
    copy: &'a mut File,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Prefix of a staging directory while it is being created (and not yet
/// locked): the startup GC leaves such a directory alone unless it is older
/// than [`crate::object_store::CLEANUP_MIN_AGE_SECS`].
pub const NEW_BATCH_PREFIX: &str = ".new-batch-";
/// Prefix of a live (locked) staging directory, or one left by a dead batch.
pub const BATCH_PREFIX: &str = "batch-";

/// Creates this batch's staging directory `.muse/tmp/batch-<r>`, locked,
/// without it ever being visible under that name unlocked: it is made as
/// `.new-batch-<r>`, locked, and renamed (the `flock` follows the inode).
/// Returns it, its lock, and whether `.muse/tmp/` was created here.
fn create_staging_dir(root: &Path) -> Result<(PathBuf, File, bool)> {
    let base = staging_dir(root);
    let mut created_base = false;
    let mut attempts = 0;
    // A batch that made `.muse/tmp/` and was dropped removes it again (when
    // empty), so another batch may see it vanish in between; and a GC may
    // remove a `.new-batch-` directory of a process stalled for longer than
    // its age gate: retry.
    loop {
        attempts += 1;
        let retry = attempts < 8;
        if !base.is_dir() {
            match std::fs::create_dir(&base) {
                Ok(()) => created_base = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(&base).ctx("create directory", &base)?;
                    created_base = true;
                }
                Err(e) => return Err(Error::io("create directory", &base, e)),
            }
        }
        let fresh = match tempfile::Builder::new().prefix(NEW_BATCH_PREFIX).rand_bytes(10).tempdir_in(&base) {
            Ok(d) => d.keep(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && retry => continue,
            Err(e) => return Err(Error::io("create staging directory in", &base, e)),
        };
        let lock = match File::open(&fresh) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && retry => continue,
            Err(e) => return Err(Error::io("open", &fresh, e)),
        };
        lock.lock().ctx("lock", &fresh)?;
        let name = fresh.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let dir = base.join(format!("{BATCH_PREFIX}{}", &name[NEW_BATCH_PREFIX.len()..]));
        match rename_noreplace(&fresh, &dir) {
            Ok(true) => return Ok((dir, lock, created_base)),
            // The name is taken (a dead batch's leftover): another one.
            Ok(false) if retry => {
                let _ = std::fs::remove_dir(&fresh);
            }
            // Removed by a GC between our `mkdir` and our lock.
            Err(e) if e.is_not_found() && retry => {}
            Ok(false) => {
                let _ = std::fs::remove_dir(&fresh);
                return Err(Error::io(
                    "rename into",
                    &dir,
                    std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Renames a staged file into its place (creating the directory when
/// missing; the commit's second barrier makes it durable); `Ok(false)`, with
/// the staged file removed, when the destination already exists.
fn move_into_place(s: &Staged) -> Result<bool> {
    let renamed = match rename_noreplace(&s.staged, &s.dest) {
        Err(e) if e.is_not_found() => {
            let dir = s.dest.parent().expect("destination has a directory");
            std::fs::create_dir_all(dir).ctx("create directory", dir)?;
            rename_noreplace(&s.staged, &s.dest)?
        }
        other => other?,
    };
    if !renamed {
        let _ = std::fs::remove_file(&s.staged);
    }
    Ok(renamed)
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
