//! Repository discovery, creation, and the startup GC (SPEC §1, §4).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::atomic::{
    try_remove_temp, write_text_atomic, Durability, TempState, MUSE_TMP_PREFIX, STAT_CACHE_TMP_PREFIX,
    STAT_CACHE_TMP_SUFFIX,
};
use crate::error::{Error, IoContext, Result};
use crate::object_store::{list_shards, sweep_object_shard, CLEANUP_MIN_AGE_SECS};
use crate::paths::{cache_dir, muse_dir, staging_dir};
use crate::refs::validate_branch_name;

/// Environment variable that names the repository root and overrides
/// discovery from the working directory.
pub const REPO_ROOT_ENV: &str = "MUSE_REPO_ROOT";

/// Temp prefixes swept from `.muse/` and its record directories, without an
/// age gate (a live writer is protected by its lock).
pub const MUSE_TEMP_PREFIXES: [&str; 2] = [MUSE_TMP_PREFIX, STAT_CACHE_TMP_PREFIX];

/// Directories (relative to `.muse/`; `""` is `.muse/` itself) where
/// `.muse-tmp-*` temps are created and swept: every directory written through
/// [`write_text_atomic`] or a record write.
pub const MUSE_SWEEP_DIRS: [&str; 10] =
    ["", "branches", "commits", "snapshots", "tags", "releases", "refs", "refs/heads", "refs/tags", "cache"];

/// Name of the GC stamp file in `.muse/cache/`: its mtime is the time of the
/// last startup GC that left nothing live behind.
pub use crate::paths::GC_STAMP_NAME;

/// Finds the repository for `start`.
///
/// With `start = Some(dir)`, walks up from `dir` to the first directory that
/// holds `.muse/`. With `None`, uses `$MUSE_REPO_ROOT` when set (it must hold
/// `.muse/`), else walks up from the current directory. Returns the root as
/// reached from `start` (no symlink resolution).
///
/// # Errors
/// [`Error::NotARepository`].
pub fn find_repo(start: Option<&Path>) -> Result<PathBuf> {
    let start: PathBuf = match start {
        Some(s) => s.to_path_buf(),
        None => match std::env::var_os(REPO_ROOT_ENV).filter(|v| !v.is_empty()) {
            Some(root) => {
                let root = PathBuf::from(root);
                return if muse_dir(&root).is_dir() { Ok(root) } else { Err(Error::NotARepository { start: root }) };
            }
            None => std::env::current_dir().ctx("get current directory", Path::new("."))?,
        },
    };
    let abs = if start.is_absolute() {
        start.clone()
    } else {
        std::env::current_dir().ctx("get current directory", Path::new("."))?.join(&start)
    };
    for dir in abs.ancestors() {
        if muse_dir(dir).is_dir() {
            return Ok(if dir == abs { start } else { dir.to_path_buf() });
        }
    }
    Err(Error::NotARepository { start })
}

/// [`find_repo`], then the startup GC ([`startup_gc`]) on the repository
/// found. What every CLI command calls first.
///
/// # Errors
/// [`Error::NotARepository`] (no GC is run then); GC errors are logged, not
/// returned.
pub fn require_repo(start: Option<&Path>) -> Result<PathBuf> {
    let root = find_repo(start)?;
    if let Err(e) = startup_gc(&root) {
        log::warn!("startup GC of {} failed: {e}", root.display());
    }
    Ok(root)
}

/// Options of [`init_repo`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The branch HEAD points at (default `main`).
    pub default_branch: String,
    /// `owner` field of `repo.json`.
    pub owner: String,
    /// Writes `[core] bare = true` (git's `init --bare`): a repository
    /// others push to ([`crate::config::Config::bare`]).
    pub bare: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions { default_branch: "main".into(), owner: String::new(), bare: false }
    }
}

/// Creates the SPEC §1 layout under `root` (which is created if missing):
/// `repo.json`, `HEAD` on the default branch, an empty `config.toml`, the
/// write lock's files `gc.lock` and `gc-gate.lock` ([`crate::lock`]),
/// and the `refs/heads`, `commits`, `snapshots`, `objects`, `cache`
/// directories.
///
/// # Errors
/// [`Error::InvalidInput`] when `root` or a parent already holds `.muse/`;
/// [`Error::InvalidRefName`]; [`Error::Io`].
pub fn init_repo(root: &Path, opts: &InitOptions) -> Result<PathBuf> {
    validate_branch_name(&opts.default_branch)?;
    if let Ok(existing) = find_repo(Some(root)) {
        return Err(Error::InvalidInput(format!(
            "{} is already inside a muse repository ({})",
            root.display(),
            existing.display()
        )));
    }
    let dot = muse_dir(root);
    std::fs::create_dir_all(root).ctx("create directory", root)?;
    std::fs::create_dir(&dot).ctx("create directory", &dot)?;
    for sub in ["refs/heads", "commits", "snapshots", "objects", "cache"] {
        let d = dot.join(sub);
        std::fs::create_dir_all(&d).ctx("create directory", &d)?;
    }
    let repo_id = crate::ids::blob_id(
        format!("{}:{:?}:{}", root.display(), SystemTime::now(), std::process::id()).as_bytes(),
    );
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let repo_json = serde_json::json!({
        "repo_id": repo_id,
        "owner": opts.owner,
        "created_at": created,
        "format_version": 1,
        "default_branch": opts.default_branch,
    });
    write_text_atomic(&crate::paths::repo_json_path(root), &format!("{repo_json:#}\n"), Durability::Full)?;
    let bare = if opts.bare { "bare = true\n" } else { "" };
    write_text_atomic(
        &crate::paths::config_toml_path(root),
        &format!("[core]\nfsync = \"full\"\n{bare}\n[limits]\nmax_ancestors = 50000\n"),
        Durability::Full,
    )?;
    write_text_atomic(&crate::paths::head_path(root), &format!("ref: refs/heads/{}\n", opts.default_branch), Durability::Full)?;
    write_stamp(root, &crate::paths::gc_stamp_path(root), SystemTime::UNIX_EPOCH);
    // The write lock's files (never removed), made now so that the first
    // write does not add files to `.muse/`.
    for lock in [crate::paths::write_lock_path(root), crate::paths::write_gate_path(root)] {
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&lock).ctx("create", &lock)?;
    }
    crate::atomic::sync_dir(&dot)?;
    Ok(root.to_path_buf())
}

/// What a GC pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Temps removed.
    pub removed: usize,
    /// Temps kept because a live writer holds them (or too young).
    pub kept_live: usize,
    /// Directories listed.
    pub dirs_listed: usize,
}

impl GcReport {
    fn add(&mut self, s: crate::object_store::Sweep) {
        self.removed += s.removed;
        self.kept_live += s.kept_live;
        self.dirs_listed += 1;
    }
}

/// Removes `.muse-tmp-*` temps from `.muse/` and each of [`MUSE_SWEEP_DIRS`],
/// and `.stat_cache_*.tmp` temps from `.muse/cache/`, with no age gate;
/// temps a live writer holds are kept. Missing directories are skipped.
/// Returns the number removed (0 when `dot_muse` does not exist). Lists
/// every sweep directory; [`startup_gc`] lists only changed ones.
///
/// # Errors
/// [`Error::Io`] for an unreadable directory.
pub fn cleanup_muse_dir_temps(dot_muse: &Path) -> Result<usize> {
    let mut removed = 0;
    for sub in MUSE_SWEEP_DIRS {
        let dir = if sub.is_empty() { dot_muse.to_path_buf() } else { dot_muse.join(sub) };
        removed += sweep_muse_dir(&dir, sub)?.removed;
    }
    for dir in nested_ref_dirs(dot_muse) {
        removed += crate::object_store::sweep_dir(&dir, &[MUSE_TMP_PREFIX], "", None)?.removed;
    }
    Ok(removed)
}

/// Directories below `refs/heads/`, `refs/tags/` and `refs/remotes/`
/// (branches named like `feature/x` live there, remote-tracking refs in
/// `refs/remotes/<remote>/`, and so do their ref temps). Small: one per
/// branch namespace and remote.
fn nested_ref_dirs(dot_muse: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = ["refs/heads", "refs/tags", "refs/remotes"].iter().map(|s| dot_muse.join(s)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for entry in rd.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(entry.path());
                stack.push(entry.path());
            }
        }
    }
    out
}

fn sweep_muse_dir(dir: &Path, sub: &str) -> Result<crate::object_store::Sweep> {
    if sub == "cache" {
        let a = crate::object_store::sweep_dir(dir, &[STAT_CACHE_TMP_PREFIX], STAT_CACHE_TMP_SUFFIX, None)?;
        let b = crate::object_store::sweep_dir(dir, &[MUSE_TMP_PREFIX], "", None)?;
        Ok(crate::object_store::Sweep { removed: a.removed + b.removed, kept_live: a.kept_live + b.kept_live })
    } else {
        crate::object_store::sweep_dir(dir, &[MUSE_TMP_PREFIX], "", None)
    }
}

/// Removes abandoned write-batch staging directories under `.muse/tmp/`:
///
/// * `batch-*`: those whose `flock` no live batch holds (a batch locks its
///   directory before giving it that name, see [`crate::batch`]);
/// * `.new-batch-*` (a batch between `mkdir` and lock): only when unlocked
///   *and* older than [`CLEANUP_MIN_AGE_SECS`] (left by a process killed in
///   between); a younger one counts as live;
/// * a file (a repack's new pack, `repack-*.pack`, locked right after it
///   is created): removed only when unlocked *and* older than
///   [`CLEANUP_MIN_AGE_SECS`].
fn sweep_staging(root: &Path) -> Result<crate::object_store::Sweep> {
    let mut sweep = crate::object_store::Sweep::default();
    let dir = staging_dir(root);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sweep),
        Err(e) => return Err(Error::io("list", &dir, e)),
    };
    let min_age = Duration::from_secs(CLEANUP_MIN_AGE_SECS);
    for entry in rd {
        let entry = entry.ctx("list", &dir)?;
        let path = entry.path();
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            // A file here is a repack's new pack: created, then locked, so a
            // young one counts as live (a sweep between the two must not
            // delete it).
            match try_remove_temp(&path, Some(min_age))? {
                TempState::Removed => sweep.removed += 1,
                TempState::Live => sweep.kept_live += 1,
                TempState::Vanished => {}
            }
            continue;
        }
        let new = entry.file_name().as_encoded_bytes().starts_with(crate::batch::NEW_BATCH_PREFIX.as_bytes());
        match try_remove_staging_dir(&path, new.then_some(min_age))? {
            TempState::Removed => {
                log::warn!("removed abandoned write batch {}", path.display());
                sweep.removed += 1;
            }
            TempState::Live => sweep.kept_live += 1,
            TempState::Vanished => {}
        }
    }
    Ok(sweep)
}

/// Removes the staging directory `path` unless a live batch holds its lock
/// (or, with `min_age`, it is younger than that).
fn try_remove_staging_dir(path: &Path, min_age: Option<Duration>) -> Result<TempState> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TempState::Vanished),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let meta = f.metadata().ctx("stat", path)?;
    if let Some(age) = min_age {
        let young = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_none_or(|elapsed| elapsed < age);
        if young {
            return Ok(TempState::Live);
        }
    }
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(TempState::Live),
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
    }
    // Holding the lock: the name must still be the inode we locked (a
    // `.new-batch-` directory is renamed once its batch has locked it).
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.ino() == meta.ino() && m.dev() == meta.dev() => {}
        Ok(_) => return Ok(TempState::Live),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TempState::Vanished),
        Err(e) => return Err(Error::io("stat", path, e)),
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(TempState::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TempState::Vanished),
        Err(e) => Err(Error::io("remove staging directory", path, e)),
    }
}

fn mtime_of(meta: &std::fs::Metadata) -> (i64, i64) {
    (meta.mtime(), meta.mtime_nsec())
}

/// The startup GC (SPEC §4): removes temps left by killed processes from
/// every family, keeping those a live writer holds:
///
/// * `.muse-tmp-*` in `.muse/` and [`MUSE_SWEEP_DIRS`], `.stat_cache_*.tmp`
///   in `.muse/cache/` (no age gate);
/// * `.obj-tmp-*` and `.restore-tmp-*` in object shards (older than
///   [`CLEANUP_MIN_AGE_SECS`]);
/// * abandoned batch staging directories in `.muse/tmp/` (never one a live
///   batch uses: a batch names its directory `batch-*` only once it holds
///   its lock; `.muse/tmp/` itself is never removed here).
///
/// It never removes stored data (that is `gc --prune`,
/// [`crate::reachability::prune`]).
///
/// **Cost.** A directory is listed only when its mtime is not older than the
/// last pass that left nothing live behind (recorded as the mtime of
/// `.muse/cache/gc_stamp`); creating or renaming a file in a directory
/// updates its mtime, so no temp can appear unseen. On an unchanged store
/// the pass is one `stat` per shard directory (≤ 256) plus a few more,
/// whatever the number of objects.
///
/// # Errors
/// [`Error::Io`].
pub fn startup_gc(root: &Path) -> Result<GcReport> {
    let dot = muse_dir(root);
    let mut report = GcReport::default();
    if !dot.is_dir() {
        return Ok(report);
    }
    let stamp_path = crate::paths::gc_stamp_path(root);
    let last = std::fs::metadata(&stamp_path).ok().map(|m| mtime_of(&m));
    if last.is_none() {
        // Create the stamp before listing, so that creating it does not make
        // `cache/` look changed to the next pass.
        write_stamp(root, &stamp_path, SystemTime::UNIX_EPOCH);
    }
    // One second of margin covers the coarse clock that stamps directories.
    let pass_start = SystemTime::now() - Duration::from_secs(1);
    let changed = |dir: &Path| -> bool {
        match (std::fs::metadata(dir), last) {
            (Ok(m), Some(l)) => mtime_of(&m) >= l,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        }
    };
    for sub in MUSE_SWEEP_DIRS {
        let dir = if sub.is_empty() { dot.clone() } else { dot.join(sub) };
        if changed(&dir) {
            report.add(sweep_muse_dir(&dir, sub)?);
        }
    }
    for dir in nested_ref_dirs(&dot) {
        if changed(&dir) {
            report.add(crate::object_store::sweep_dir(&dir, &[MUSE_TMP_PREFIX], "", None)?);
        }
    }
    let min_age = Duration::from_secs(CLEANUP_MIN_AGE_SECS);
    for shard in list_shards(root)? {
        if changed(&shard) {
            report.add(sweep_object_shard(&shard, min_age)?);
        }
    }
    if changed(&staging_dir(root)) {
        report.add(sweep_staging(root)?);
    }
    if report.kept_live == 0 && report.dirs_listed > 0 {
        write_stamp(root, &stamp_path, pass_start);
    }
    Ok(report)
}

fn write_stamp(root: &Path, stamp_path: &Path, when: SystemTime) {
    let res = (|| -> std::io::Result<()> {
        let f = match std::fs::OpenOptions::new().write(true).open(stamp_path) {
            Ok(f) => f,
            Err(_) => {
                std::fs::create_dir_all(cache_dir(root))?;
                std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(stamp_path)?
            }
        };
        f.set_modified(when)
    })();
    if let Err(e) = res {
        log::debug!("could not write GC stamp {}: {e}", stamp_path.display());
    }
}

/// True when `name` is a file name the GC treats as a temp.
pub fn is_temp_name(name: &str) -> bool {
    crate::atomic::TEMP_PREFIXES.iter().any(|p| name.starts_with(p))
}
