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
//!   A thread that already holds the write lock shared (a batch inside a
//!   porcelain command that took it first) does not queue at the gate: it
//!   would wait for a prune that waits for it.
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
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
use crate::paths::muse_dir;

/// Default bounded wait for a repository lock (`[core] lock_timeout`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// File name of the index lock in `.muse/`.
pub const INDEX_LOCK_NAME: &str = "index.lock";
/// File name of the write lock in `.muse/`.
pub const WRITE_LOCK_NAME: &str = "gc.lock";
/// File name of the write lock's gate in `.muse/` (see the module docs).
pub const WRITE_GATE_NAME: &str = "gc-gate.lock";

/// The longest a shared taker of the write lock waits at its gate before
/// going ahead of a waiting exclusive taker anyway (it then waits for the
/// lock itself, as always): long enough for the holders a prune waits for
/// to finish a typical batch, short enough to bound the stall of a writer
/// that keeps the prune waiting from another thread of its process.
pub const GATE_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Write locks this thread holds shared (see the module docs).
    static SHARED_WRITE_HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

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
    _file: File,
    path: PathBuf,
    mode: LockMode,
    /// The write lock's gate, held with an exclusive write lock (dropped
    /// after `_file`: the lock is released first).
    _gate: Option<Box<FileLock>>,
    /// A shared write lock counted in `SHARED_WRITE_HELD` (decremented on
    /// drop; a lock dropped on another thread than it was taken on leaves
    /// that thread bypassing the gate, which only costs fairness).
    counted: bool,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if self.counted {
            SHARED_WRITE_HELD.with(|h| h.set(h.get().saturating_sub(1)));
        }
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
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx("open lock file", path)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let r = match mode {
                LockMode::Shared => file.try_lock_shared(),
                LockMode::Exclusive => file.try_lock(),
            };
            match r {
                Ok(()) => {
                    return Ok(FileLock { _file: file, path: path.to_path_buf(), mode, _gate: None, counted: false })
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
            let waited = start.elapsed();
            if waited >= timeout {
                let holders = holders_of(&file);
                return Err(Error::Locked {
                    what,
                    path: path.to_path_buf(),
                    holders,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
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
    FileLock::acquire(&muse_dir(root).join(INDEX_LOCK_NAME), LockMode::Exclusive, lock_timeout(root), "index lock")
}

/// Takes the write lock (`.muse/gc.lock`) in `mode` with the configured
/// wait: shared for writers, exclusive for `gc --prune`; through its gate
/// (see the module docs). Taking it shared again on a thread that holds it
/// never waits for a waiting exclusive taker.
///
/// # Errors
/// As [`FileLock::acquire`].
pub fn write_lock(root: &Path, mode: LockMode) -> Result<FileLock> {
    let dot = muse_dir(root);
    let timeout = lock_timeout(root);
    let gate = dot.join(WRITE_GATE_NAME);
    match mode {
        LockMode::Shared => {
            if SHARED_WRITE_HELD.with(std::cell::Cell::get) == 0 {
                match FileLock::acquire(&gate, LockMode::Shared, GATE_WAIT.min(timeout), "write lock") {
                    Ok(pass) => drop(pass),
                    Err(Error::Locked { .. }) => log::debug!("a prune waits for the write lock; going ahead of it"),
                    Err(e) => return Err(e),
                }
            }
            let mut lock = FileLock::acquire(&dot.join(WRITE_LOCK_NAME), mode, timeout, "write lock")?;
            lock.counted = true;
            SHARED_WRITE_HELD.with(|h| h.set(h.get() + 1));
            Ok(lock)
        }
        LockMode::Exclusive => {
            let start = Instant::now();
            let gate = FileLock::acquire(&gate, LockMode::Exclusive, timeout, "write lock")?;
            let rest = timeout.saturating_sub(start.elapsed());
            let mut lock = FileLock::acquire(&dot.join(WRITE_LOCK_NAME), mode, rest, "write lock")?;
            lock._gate = Some(Box::new(gate));
            Ok(lock)
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

    /// The write lock's gate: a waiting exclusive taker is not overtaken by
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
