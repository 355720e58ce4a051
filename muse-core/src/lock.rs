//! Repository locks (SPEC §12): advisory `flock`s on files under `.muse/`,
//! taken with a bounded wait.
//!
//! Two locks exist:
//!
//! * **the index lock** `.muse/index.lock` (git's `index.lock` rule): held
//!   exclusively by every command that changes the stage, HEAD or the
//!   working tree (`add`, `commit`, `checkout`, `merge`, `bundle apply
//!   --update-refs` onto the checked-out branch). The stage is read,
//!   changed and written back (new file + rename) under it, so concurrent
//!   `add`s all land.
//! * **the write lock** `.muse/gc.lock`: held *shared* by every writer of a
//!   batch or a porcelain command while it writes data that is not yet
//!   reachable from a ref, and *exclusively* by `gc --prune` while it
//!   decides what is unreachable and deletes it. Pruning therefore never
//!   sees a half-written commit, and never makes a ref point at missing data
//!   (see [`crate::reachability::prune`]).
//!
//!   Shared holders that overlap would keep an exclusive waiter out for as
//!   long as they keep coming (measured: 2 prunes in 3 s beside 4 threads
//!   committing small batches). So the write lock has a gate,
//!   `.muse/gc-gate.lock` ([`WRITE_GATE_NAME`]): the exclusive taker holds
//!   it exclusively while it waits and while it holds the lock; a shared
//!   taker first passes it (takes it shared and drops it at once), waiting
//!   at most [`GATE_WAIT`]. New writers thus queue behind a waiting prune.
//!
//!   Within one process the shared hold is one open file and one `flock`,
//!   counted: the first holder takes it (gate, then lock), later holders
//!   only count, the last one unlocks. So a per-call write costs a mutex,
//!   not an `open` and a `flock`, and a writer nested in another (a batch
//!   inside a porcelain command) never queues behind a prune that waits
//!   for its own process.
//!
//! Unlike git's `O_EXCL` lock files, these are `flock`s: the kernel releases
//! them when the holder dies, so a SIGKILLed command never leaves a stale
//! lock that needs `--force` or a manual `rm`. The lock files themselves
//! stay in `.muse/` (removing a lock file while others wait on it would let
//! two processes hold "the" lock on two different inodes).
//!
//! A command that cannot get a lock waits up to `[core] lock_timeout`
//! seconds (default [`DEFAULT_LOCK_TIMEOUT`]), then fails with
//! [`Error::Locked`], naming the process that holds it (read from
//! `/proc/locks`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};

pub use crate::config::DEFAULT_LOCK_TIMEOUT;

/// File name of the index lock in `.muse/`.
pub use crate::paths::INDEX_LOCK_NAME;
/// File name of the write lock in `.muse/`.
pub use crate::paths::WRITE_LOCK_NAME;
/// File name of the write lock's gate in `.muse/` (see the module docs).
pub use crate::paths::WRITE_GATE_NAME;

/// The longest a shared taker of the write lock waits at its gate before
/// going ahead of a waiting exclusive taker anyway (it then waits for the
/// lock itself, as always): long enough for the holders a prune waits for
/// to finish a typical batch, short enough to bound the stall of a writer
/// that keeps the prune waiting from another thread of its process.
pub const GATE_WAIT: Duration = Duration::from_secs(1);

/// Shared (many holders) or exclusive (one holder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many shared holders at once; excludes an exclusive holder.
    Shared,
    /// One holder; excludes every other.
    Exclusive,
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    mode: LockMode,
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// This lock's own open file (and, for an exclusive write lock, its
    /// gate, dropped after the file: the lock is released first).
    Own { _file: File, _gate: Option<Box<FileLock>> },
    /// One count of the process's shared hold on a write lock.
    Shared(Arc<Mutex<SharedHold>>),
}

thread_local! {
    /// Shared write-lock holds taken on this thread and not yet dropped: a
    /// thread with one (a writer nested in another) never queues at the
    /// gate, where it would wait for a prune that waits for it. (A hold
    /// dropped on another thread skews the counts; that only costs
    /// fairness.)
    static SHARED_ON_THREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Held::Shared(hold) = &self.held {
            SHARED_ON_THREAD.with(|c| c.set(c.get().saturating_sub(1)));
            let mut h = hold.lock().unwrap_or_else(|p| p.into_inner());
            h.count = h.count.saturating_sub(1);
            if h.count == 0 {
                let _ = h.file.unlock();
            }
        }
    }
}

/// The process's shared hold on one repository's write lock: one open file
/// description, so one `flock`, for every holder in the process (taking it
/// costs a mutex and a counter, not an `open` and a `flock` per write).
#[derive(Debug)]
struct SharedHold {
    /// `.muse/gc.lock`, locked shared while `count > 0`.
    file: File,
    /// `.muse/gc-gate.lock`.
    gate: File,
    /// (device, inode) of `file`, checked when the hold is taken from 0:
    /// a repository removed and made again at the same path has new files.
    id: (u64, u64),
    /// Holders in this process.
    count: usize,
}

/// Idle shared holds kept open per process (beyond these, holds with no
/// holder are closed: a process that touches many repositories keeps few
/// descriptors).
const IDLE_HOLDS: usize = 8;

/// The process's shared holds of write locks, by lock file path.
type SharedHolds = Mutex<Vec<(PathBuf, Arc<Mutex<SharedHold>>)>>;

fn shared_holds() -> &'static SharedHolds {
    static HOLDS: OnceLock<SharedHolds> = OnceLock::new();
    HOLDS.get_or_init(Default::default)
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).ctx("open lock file", path)
}

fn file_id(f: &File, path: &Path) -> Result<(u64, u64)> {
    let m = f.metadata().ctx("stat", path)?;
    Ok((m.dev(), m.ino()))
}

/// Waits up to `timeout` for `mode` on the open `file` (at `path`).
fn wait_for(file: &File, path: &Path, mode: LockMode, timeout: Duration, what: &'static str) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let r = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match r {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::Locked {
                what,
                path: path.to_path_buf(),
                holders: holders_of(file),
                waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

impl FileLock {
    /// Takes the lock on `path` (created if missing, never removed) in
    /// `mode`, waiting up to `timeout`. `what` names the lock in the error.
    ///
    /// # Errors
    /// [`Error::Locked`] when the wait runs out; [`Error::Io`] when the lock
    /// file cannot be opened or locked.
    pub fn acquire(path: &Path, mode: LockMode, timeout: Duration, what: &'static str) -> Result<FileLock> {
        let file = open_lock_file(path)?;
        wait_for(&file, path, mode, timeout, what)?;
        Ok(FileLock { path: path.to_path_buf(), mode, held: Held::Own { _file: file, _gate: None } })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it is held in.
    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

/// The configured wait (`[core] lock_timeout`, seconds), or the default
/// when the config cannot be read (the caller reports config errors).
pub fn lock_timeout(root: &Path) -> Duration {
    crate::config::Config::load(root).map(|c| c.lock_timeout).unwrap_or(DEFAULT_LOCK_TIMEOUT)
}

/// Takes the index lock (`.muse/index.lock`, exclusive) with the
/// configured wait.
///
/// # Errors
/// As [`FileLock::acquire`].
pub fn index_lock(root: &Path) -> Result<FileLock> {
    FileLock::acquire(&crate::paths::index_lock_path(root), LockMode::Exclusive, lock_timeout(root), "index lock")
}

/// Takes the write lock (`.muse/gc.lock`) in `mode` with the configured
/// wait: shared for writers, exclusive for `gc --prune`; through its gate
/// (see the module docs). Taking it shared while this process already holds
/// it shared never waits.
///
/// # Errors
/// As [`FileLock::acquire`].
pub fn write_lock(root: &Path, mode: LockMode) -> Result<FileLock> {
    let timeout = lock_timeout(root);
    let gate = crate::paths::write_gate_path(root);
    let path = crate::paths::write_lock_path(root);
    match mode {
        LockMode::Shared => {
            let hold = {
                let mut holds = shared_holds().lock().unwrap_or_else(|p| p.into_inner());
                match holds.iter().position(|(p, _)| *p == path) {
                    Some(i) => holds[i].1.clone(),
                    None => {
                        let file = open_lock_file(&path)?;
                        let id = file_id(&file, &path)?;
                        let hold = Arc::new(Mutex::new(SharedHold { file, gate: open_lock_file(&gate)?, id, count: 0 }));
                        holds.push((path.clone(), hold.clone()));
                        // Close the oldest idle holds beyond IDLE_HOLDS.
                        let mut idle = holds.iter().filter(|(_, h)| Arc::strong_count(h) == 1).count();
                        holds.retain(|(_, h)| {
                            if idle > IDLE_HOLDS && Arc::strong_count(h) == 1 {
                                idle -= 1;
                                false
                            } else {
                                true
                            }
                        });
                        hold
                    }
                }
            };
            let nested = SHARED_ON_THREAD.with(std::cell::Cell::get) > 0;
            let prune_waits = {
                let mut h = hold.lock().unwrap_or_else(|p| p.into_inner());
                if h.count == 0 {
                    // The repository may have been removed and made again.
                    let now = std::fs::metadata(&path).map(|m| (m.dev(), m.ino())).ok();
                    if now != Some(h.id) {
                        h.file = open_lock_file(&path)?;
                        h.id = file_id(&h.file, &path)?;
                        h.gate = open_lock_file(&gate)?;
                    }
                }
                // The gate, without waiting: is a prune waiting?
                !nested
                    && match h.gate.try_lock_shared() {
                        Ok(()) => {
                            let _ = h.gate.unlock();
                            false
                        }
                        Err(std::fs::TryLockError::WouldBlock) => true,
                        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &gate, e)),
                    }
            };
            if prune_waits {
                // Queue behind it (briefly), on an own descriptor and
                // without the hold's mutex: the holders it waits for must
                // be able to let go meanwhile.
                let g = open_lock_file(&gate)?;
                match wait_for(&g, &gate, LockMode::Shared, GATE_WAIT.min(timeout), "write lock") {
                    Ok(()) => {}
                    Err(Error::Locked { .. }) => log::debug!("a prune waits for the write lock; going ahead of it"),
                    Err(e) => return Err(e),
                }
            }
            {
                let mut h = hold.lock().unwrap_or_else(|p| p.into_inner());
                if h.count == 0 {
                    wait_for(&h.file, &path, LockMode::Shared, timeout, "write lock")?;
                }
                h.count += 1;
            }
            SHARED_ON_THREAD.with(|c| c.set(c.get() + 1));
            Ok(FileLock { path, mode, held: Held::Shared(hold) })
        }
        LockMode::Exclusive => {
            let start = Instant::now();
            let gate = FileLock::acquire(&gate, LockMode::Exclusive, timeout, "write lock")?;
            let rest = timeout.saturating_sub(start.elapsed());
            let file = open_lock_file(&path)?;
            wait_for(&file, &path, mode, rest, "write lock")?;
            Ok(FileLock { path, mode, held: Held::Own { _file: file, _gate: Some(Box::new(gate)) } })
        }
    }
}

/// PIDs holding a `flock` on `file`'s inode, from `/proc/locks` (empty when
/// unavailable).
fn holders_of(file: &File) -> Vec<u32> {
    let Ok(meta) = file.metadata() else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string("/proc/locks") else { return Vec::new() };
    let ino = meta.ino();
    let mut pids = Vec::new();
    // Lines look like: "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF";
    // blocked waiters carry "->" after the number and are skipped.
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[1] != "FLOCK" {
            continue;
        }
        let Ok(pid) = fields[4].parse::<u32>() else { continue };
        let Some(node) = fields[5].rsplit(':').next().and_then(|s| s.parse::<u64>().ok()) else { continue };
        if node == ino && pid != std::process::id() && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Takes the write lock shared ([`crate::lock::write_lock`]), as every
/// writer of data no ref reaches yet does (see the module docs): a
/// [`crate::reachability::prune`] waits until it is released. Shared holders never wait for each
/// other, and a thread that holds it already does not queue behind a
/// waiting prune, so this nests inside a [`crate::batch::Batch`] or a
/// command that took the lock first. `None` (nothing to protect, no lock
/// taken) when `root` has no `.muse/`, or the lock file cannot be created
/// for lack of permission (a read-only repository: the write itself then
/// fails, unless the item is already stored).
///
/// # Errors
/// [`Error::Locked`] when a prune holds it for longer than `[core]
/// lock_timeout`; [`Error::Io`].
pub fn writer_lock(root: &Path) -> Result<Option<FileLock>> {
    match write_lock(root, LockMode::Shared) {
        Ok(l) => Ok(Some(l)),
        Err(Error::Io { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_times_out_naming_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let a = FileLock::acquire(&p, LockMode::Exclusive, Duration::from_millis(10), "test lock").unwrap();
        let err = FileLock::acquire(&p, LockMode::Shared, Duration::from_millis(30), "test lock").unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert!(err.to_string().contains("x.lock"), "{err}");
        drop(a);
        let s1 = FileLock::acquire(&p, LockMode::Shared, Duration::from_millis(10), "test lock").unwrap();
        let _s2 = FileLock::acquire(&p, LockMode::Shared, Duration::from_millis(10), "test lock").unwrap();
        assert!(FileLock::acquire(&p, LockMode::Exclusive, Duration::from_millis(20), "t").is_err());
        drop(s1);
    }

    /// The write lock's gate (across threads): a waiting exclusive taker is not overtaken by
    /// new shared takers, and a thread that holds the lock shared takes it
    /// again without queueing behind the waiter.
    #[test]
    fn new_writers_queue_behind_a_waiting_prune_but_a_holder_nests() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        std::fs::create_dir(root.join(".muse")).unwrap();
        let outer = write_lock(&root, LockMode::Shared).unwrap();
        let r = root.clone();
        let prune = std::thread::spawn(move || {
            let l = write_lock(&r, LockMode::Exclusive).unwrap();
            let got = Instant::now();
            std::thread::sleep(Duration::from_millis(150));
            drop(l);
            (got, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(100));
        // Nested on this thread: no wait at the gate.
        let t = Instant::now();
        let inner = write_lock(&root, LockMode::Shared).unwrap();
        assert!(t.elapsed() < Duration::from_millis(500), "a nested shared take queued behind the prune");
        // A new writer on another thread queues behind the prune.
        let r = root.clone();
        let writer = std::thread::spawn(move || {
            let l = write_lock(&r, LockMode::Shared).unwrap();
            let got = Instant::now();
            drop(l);
            got
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(inner);
        drop(outer);
        let (prune_got, prune_released) = prune.join().unwrap();
        let writer_got = writer.join().unwrap();
        // (Its lock is released just before `prune_released` is read.)
        assert!(writer_got > prune_got, "a new writer overtook the waiting prune");
        assert!(writer_got + Duration::from_millis(50) > prune_released, "a writer shared the prune's lock");
    }

    /// The write lock: shared holds of one process nest without waiting
    /// (even behind a waiting prune); the prune gets the lock once the last
    /// one is released, and a writer that comes while the prune holds it
    /// waits until the prune is done.
    #[test]
    fn shared_holds_nest_and_a_prune_runs_alone() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        std::fs::create_dir(root.join(".muse")).unwrap();
        let outer = write_lock(&root, LockMode::Shared).unwrap();
        let r = root.clone();
        let prune = std::thread::spawn(move || {
            let l = write_lock(&r, LockMode::Exclusive).unwrap();
            let got = Instant::now();
            std::thread::sleep(Duration::from_millis(150));
            let released = Instant::now();
            drop(l);
            (got, released)
        });
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        let inner = write_lock(&root, LockMode::Shared).unwrap();
        assert!(t.elapsed() < Duration::from_millis(500), "a nested shared take queued behind the prune");
        let released_shared = Instant::now();
        drop(inner);
        drop(outer);
        std::thread::sleep(Duration::from_millis(50));
        // The prune holds it now: a new writer waits for it.
        let l = write_lock(&root, LockMode::Shared).unwrap();
        let writer_got = Instant::now();
        drop(l);
        let (prune_got, prune_released) = prune.join().unwrap();
        assert!(prune_got >= released_shared, "the prune ran beside a shared holder");
        assert!(writer_got >= prune_released, "a writer shared the prune's lock");
    }

    /// A repository removed and made again at the same path: the process's
    /// cached hold follows the new lock file.
    #[test]
    fn a_recreated_repository_gets_a_fresh_hold() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        std::fs::create_dir(root.join(".muse")).unwrap();
        drop(write_lock(&root, LockMode::Shared).unwrap());
        std::fs::remove_dir_all(root.join(".muse")).unwrap();
        std::fs::create_dir(root.join(".muse")).unwrap();
        let held = write_lock(&root, LockMode::Shared).unwrap();
        // The new lock file is the one locked: an exclusive taker must wait.
        let p = root.join(".muse").join(WRITE_LOCK_NAME);
        assert!(FileLock::acquire(&p, LockMode::Exclusive, Duration::from_millis(30), "t").is_err());
        drop(held);
        FileLock::acquire(&p, LockMode::Exclusive, Duration::from_millis(30), "t").unwrap();
    }

    #[test]
    fn a_waiter_gets_the_lock_when_it_is_released() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("y.lock");
        let a = FileLock::acquire(&p, LockMode::Exclusive, Duration::ZERO, "t").unwrap();
        let p2 = p.clone();
        let t = std::thread::spawn(move || FileLock::acquire(&p2, LockMode::Exclusive, Duration::from_secs(5), "t").is_ok());
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert!(t.join().unwrap());
    }
}
