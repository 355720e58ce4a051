//! The working-tree walker (SPEC §5): `{relative path: blob ID}` of every
//! regular file of a working tree, with the [stat cache](crate::stat_cache).
//!
//! # What is in a manifest
//!
//! * Regular files only. Symlinks, FIFOs, sockets and devices are excluded,
//!   decided from the directory entry's type (`d_type`, or `lstat` where the
//!   filesystem does not give one); such a file is never opened. Files are
//!   opened with `O_NOFOLLOW | O_NONBLOCK` and re-checked with `fstat`, so a
//!   file swapped for a symlink or FIFO mid-walk is skipped, never followed
//!   or blocked on.
//! * `.muse` and `.git` directories (and their NTFS/HFS+ aliases, such as
//!   `.MUSE` or `.git.`; see [`crate::paths::muse_alias_reason`]) are
//!   excluded at every depth: they are repositories, never content, and no
//!   manifest may hold such a path (SPEC §12).
//! * `.museignore` files are honoured with gitignore semantics (negation,
//!   `dir/` patterns, anchored `/x`, `**`), parsed by the `ignore` crate's
//!   gitignore matcher. Each applies to its directory and below; the deepest
//!   file with a matching pattern decides, and nothing inside an ignored
//!   directory can be re-included (as in git). `.museignore` files themselves
//!   are in the manifest. An invalid pattern line is skipped with a
//!   `log::warn!` (after the walk), as git does; an unreadable `.museignore` is an error (its
//!   rules would silently be lost otherwise); a symlinked one is not read (as
//!   git ≥ 2.32). No `.gitignore`, global or parent ignore file is read, and
//!   hidden files are included.
//! * Keys are POSIX paths relative to the root (`/`-separated); values are
//!   blob IDs (`"sha256:"` + 64 hex digits).
//! * **Names that cannot be manifest keys are skipped** with a `log::warn!` (after the walk)
//!   naming the path (lossily): a file or directory name that is not valid
//!   UTF-8, or that contains `\` (rejected by
//!   [`paths::validate_rel_path`](crate::paths::validate_rel_path)). A skipped
//!   directory is skipped whole.
//!
//! # Errors
//!
//! An unreadable file or directory (or `.museignore`) aborts the walk with
//! [`Error::Io`] naming it (other errors than "not found" alike). A file or
//! directory that disappears during the walk, or turns into something else
//! (`ENOENT`, `ENOTDIR`, `ELOOP` on `open`, `lstat` or directory read), is
//! silently left out. Nothing here panics on file-system content.
//!
//! # Cost
//!
//! The tree is listed by a few threads (the caller, and more as directories
//! wait: up to `max(cores, min(4 × cores, 8))`) taking tasks, one per
//! directory (and per 1024 files of a big one), from one shared stack: all
//! cores work, an idle thread sleeps rather than spins, and nothing recurses
//! per directory level on any stack, so depth is bounded only by
//! `PATH_MAX`. When a cache file exists, each regular file costs one
//! `fstatat` relative to its open directory (the cache loads on another core
//! meanwhile; a process that walked the same tree before reuses the cache
//! it kept, see [`StatCache::load_reusing`]). Each stat'ed file is then
//! looked up with one probe of the cache's hash index (no sort: the cache's
//! entries are already in key order, and after a clean walk they are the
//! manifest), and a trusted hit costs nothing more: a warm walk over an unchanged tree reads no file and does not
//! rewrite the cache, nor does one that read a few changed files of a big
//! tree (see [`walk_workdir`]). Cold, the listing stats nothing; the files to read are
//! sorted, then hashed on all cores in 64 KiB chunks with one buffer per
//! worker, so memory does not grow with file size, and come back in key
//! order. Per file there is no allocation beyond its key, and no lock.
//! [`walk_manifest`] returns raw digests (reading them from the stat cache
//! itself, which holds exactly the manifest after a walk); [`walk_workdir`]
//! spells them as IDs.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::ids::{id_from_digest, Digest};
use crate::paths::{muse_dir, stat_cache_path, MUSE_DIR};
use crate::stat_cache::{open_for_hash, Stat, StatCache, MAX_CACHE_BYTES};

/// Name of the per-directory ignore file (gitignore syntax).
pub const IGNORE_FILE: &str = ".museignore";

/// Read size of the hashing loop, in bytes (64 KiB).
const CHUNK: usize = 64 * 1024;

/// Options of [`walk_workdir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkOptions {
    /// Size guard of the stat cache file, in bytes (see
    /// [`StatCache::load`]). Default [`MAX_CACHE_BYTES`].
    pub max_cache_bytes: u64,
    /// Load, use and save the stat cache. When `false` every file is read
    /// and `.muse/cache/` is not touched. Default `true`.
    pub use_cache: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { max_cache_bytes: MAX_CACHE_BYTES, use_cache: true }
    }
}

/// Walks the working tree at `root` (the directory holding `.muse/`) and
/// returns `{relative path: blob ID}` of every regular file (see the module
/// docs for what is included and skipped).
///
/// With `opts.use_cache`: loads the stat cache (`StatCache::load_reusing(root,
/// opts.max_cache_bytes)`), reads only files without a trusted entry, records
/// them, prunes the entries of files no longer present and saves the cache
/// when it changed: always when there was no cache file, else when reading
/// the changed files again would cost more than an eighth of rewriting the
/// file (a few edited files of a big tree are read again by the next walk
/// instead, as git re-reads modified files rather than rewrite its index).
/// An unchanged cache is handed to [`StatCache::keep`] for the next walk of
/// the process. The cache is saved only when `.muse/`
/// exists (the walker never creates `.muse/`, only `.muse/cache/`); a failed
/// save is logged with `log::warn!` and does not fail the walk.
///
/// # Errors
/// [`Error::Io`] naming the path when `root` is missing or not a
/// directory, or a file, directory or `.museignore` under it cannot be read
/// (vanishing mid-walk is not an error: the entry is left out).
pub fn walk_workdir(root: &Path, opts: &WalkOptions) -> Result<BTreeMap<String, String>> {
    Ok(walk_manifest(root, opts)?.iter().map(|(k, d)| (k.to_owned(), id_from_digest(d))).collect())
}

/// A walked manifest: `(key, blob digest)` of every file
/// [`walk_workdir`] would return, in key (byte) order, each key once.
///
/// After a walk with the stat cache, the cache holds exactly one entry per
/// listed file, so the manifest *is* the cache: no second copy of 75k keys
/// is made. Dropping the manifest hands that cache to the next walk of the
/// process ([`StatCache::keep`]).
pub struct WalkedManifest {
    /// The walk's stat cache; it holds the entries when `pairs` is `None`.
    cache: Option<StatCache>,
    /// The entries, when they are not the cache's.
    pairs: Option<Pairs>,
}

impl WalkedManifest {
    /// Number of files.
    pub fn len(&self) -> usize {
        match (&self.pairs, &self.cache) {
            (Some(p), _) => p.len(),
            (None, Some(c)) => c.len(),
            (None, None) => 0,
        }
    }

    /// Whether the tree has no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(key, blob digest)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Digest)> + '_ {
        let pairs = self.pairs.as_deref().map(|p| p.iter().map(|(k, d)| (k.as_str(), d)));
        let cached = self.cache.as_ref().filter(|_| self.pairs.is_none()).map(StatCache::digests);
        pairs.into_iter().flatten().chain(cached.into_iter().flatten())
    }

    /// The entries as owned `(key, digest)` pairs, in key order.
    pub fn into_pairs(mut self) -> Vec<(String, Digest)> {
        match self.pairs.take() {
            Some(p) => p,
            None => self.iter().map(|(k, d)| (k.to_owned(), *d)).collect(),
        }
    }
}

impl Drop for WalkedManifest {
    fn drop(&mut self) {
        if let Some(c) = self.cache.take() {
            c.keep();
        }
    }
}

impl std::fmt::Debug for WalkedManifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalkedManifest").field("len", &self.len()).finish_non_exhaustive()
    }
}

/// [`walk_workdir`] returning the manifest as raw digests in key order
/// (see [`WalkedManifest`]) instead of a map of ID strings: what a caller that
/// converts every entry anyway (the Python binding) wants.
///
/// # Errors
/// As [`walk_workdir`].
pub fn walk_manifest(root: &Path, opts: &WalkOptions) -> Result<WalkedManifest> {
    let md = std::fs::metadata(root).ctx("stat", root)?;
    if !md.is_dir() {
        return Err(Error::io("walk", root, io::Error::from(io::ErrorKind::NotADirectory)));
    }
    // Files are `lstat`ed while listing only when there is a cache to
    // compare with. The cache loads on one core while the tree is listed.
    let stat_files = opts.use_cache && std::fs::symlink_metadata(stat_cache_path(root)).is_ok();
    let (mut cache, listed) = join_beside(
        "muse-cache",
        || opts.use_cache.then(|| StatCache::load_reusing(root, opts.max_cache_bytes).0),
        || list_tree(root, stat_files),
    );
    let Listed { mut to_read, stated } = listed?;

    // Stat'ed files are looked up as they were listed, one index probe
    // each: sorting them first costs more than the probes, and a clean
    // walk never needs them in order (its manifest is the cache's entries,
    // in key order). `seen` marks the entries of listed files.
    let mut seen = Vec::new();
    if let Some(c) = cache.as_ref() {
        seen = vec![false; c.len()];
    }
    let mut key = String::new();
    for dir in &stated {
        for (name, stat) in dir.iter() {
            key.clear();
            key.push_str(&dir.prefix);
            key.push_str(name);
            if !cache.as_ref().is_some_and(|c| c.lookup_seen(&key, stat, 0, &mut seen)) {
                to_read.push(key.clone());
            }
        }
    }
    drop(stated);

    let mut stamp_tmp = None;
    // Files read that the cache does not hold: without a cache, every one;
    // with one, those it could not record (normally none).
    let mut outside_cache: Pairs = Vec::new();
    // What the walk read, for the decision to rewrite the cache file.
    let (mut read_files, mut read_bytes) = (0usize, 0u64);
    if !to_read.is_empty() {
        let mut stamp = i64::MIN;
        if let Some(c) = cache.as_mut() {
            let (tmp, s) = c.read_stamp();
            stamp_tmp = tmp;
            stamp = s;
            c.reserve(to_read.len());
        }
        // In key order: the files are recorded in the cache in order (it
        // stays sorted for the next lookup) and come back sorted. Read in
        // chunks, each recorded before the next is read, so the digests of
        // a whole cold tree never sit in memory beside the cache.
        to_read.par_sort_unstable();
        let mut files = to_read.into_iter();
        loop {
            let chunk: Vec<String> = files.by_ref().take(READ_CHUNK_FILES).collect();
            if chunk.is_empty() {
                break;
            }
            let read = hash_files(root, chunk)?.into_iter().flatten();
            let Some(c) = cache.as_mut() else {
                outside_cache.extend(read.map(|(rel, _, digest)| (rel, digest)));
                continue;
            };
            for (rel, stat, digest) in read {
                read_files += 1;
                read_bytes = read_bytes.saturating_add(stat.size);
                match c.apply(&rel, stat, &digest, stamp, 0) {
                    Some(i) => {
                        if let Some(s) = seen.get_mut(i) {
                            *s = true;
                        }
                    }
                    None => outside_cache.push((rel, digest)),
                }
            }
        }
    }

    let Some(mut c) = cache else {
        // Keys are unique (one per listed file) and `to_read` was sorted.
        debug_assert!(outside_cache.is_sorted_by(|a, b| a.0 < b.0));
        return Ok(WalkedManifest { cache: None, pairs: Some(outside_cache) });
    };
    // Entries of files no longer listed (or vanished before being read)
    // are stale.
    let pruned = c.prune_unseen(&seen);
    if c.is_dirty() && c.has_file() && !worth_saving(c.len(), read_files, read_bytes, pruned) {
        log::debug!("stat cache: {read_files} file(s) read, {pruned} gone: not worth rewriting {} entries", c.len());
    } else if c.is_dirty() {
        if muse_dir(root).is_dir() {
            if let Err(e) = c.save_into(stamp_tmp) {
                log::warn!("stat cache not saved: {e}");
            }
        } else {
            log::debug!("{} has no {MUSE_DIR}/: stat cache not saved", root.display());
        }
    }
    c.sort_entries();
    if outside_cache.is_empty() {
        // One entry per listed file (hits, and files read): the cache is
        // the manifest.
        return Ok(WalkedManifest { cache: Some(c), pairs: None });
    }
    // Some file read could not be recorded (the cache's 4 GiB of keys are
    // full): the manifest is the cache's entries plus those.
    let mut pairs: Pairs = c.digests().map(|(k, d)| (k.to_owned(), *d)).collect();
    pairs.extend(outside_cache);
    pairs.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(WalkedManifest { cache: Some(c), pairs: Some(pairs) })
}

/// Runs `side` on a scoped thread named `name` while the calling thread
/// runs `main`, and returns both results (`rayon::join` without a pool:
/// nothing spins, no pool starts). When no thread can be started, `side`
/// runs first on the calling thread; a panic in `side` resumes here.
pub(crate) fn join_beside<A: Send, B>(
    name: &str,
    side: impl Fn() -> A + Sync,
    main: impl FnOnce() -> B,
) -> (A, B) {
    let side = &side;
    std::thread::scope(|s| match std::thread::Builder::new().name(name.into()).spawn_scoped(s, side) {
        Ok(h) => {
            let b = main();
            (h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), b)
        }
        Err(e) => {
            log::debug!("no thread for {name}: {e}");
            let a = side();
            (a, main())
        }
    })
}

/// Whether a walk that read `read_files` files (`read_bytes` in all) and
/// found `pruned` entries gone should rewrite a cache file of `entries`
/// entries. Not rewriting is always correct (the file's entries of those
/// files no longer match their stat, so the next walk reads them again); it
/// is the cheaper choice when reading them again costs less than an eighth
/// of the rewrite, which writes every entry (~270 bytes each, the JSON file
/// and its mirror). Costs in entry writes: a file read ~20 (open, read,
/// hash: ~10 µs), a KiB of content ~1, a stale entry ~1 (it is loaded and
/// pruned again). So editing 10 files of a 75,000-file tree does not
/// rewrite 20 MB of cache on every `status` (git does not rewrite its index
/// for modified files either), while a cold walk, or one that read many
/// files, does.
fn worth_saving(entries: usize, read_files: usize, read_bytes: u64, pruned: usize) -> bool {
    let again = (read_files as u64).saturating_mul(20).saturating_add(read_bytes / 1024).saturating_add(pruned as u64);
    again.saturating_mul(8) > entries as u64
}

/// The manifest of the working tree at `root`: the same as
/// [`walk_workdir`] (this is the name the snapshot code calls).
///
/// # Errors
/// As [`walk_workdir`].
pub fn build_snapshot_manifest(root: &Path, opts: &WalkOptions) -> Result<BTreeMap<String, String>> {
    walk_workdir(root, opts)
}

/// `(key, blob digest)` pairs.
type Pairs = Vec<(String, Digest)>;

/// What the listing found (per listing thread, then merged).
#[derive(Default)]
struct Listed {
    /// Files to read (no cache to compare with).
    to_read: Vec<String>,
    /// Files stat'ed, to look up in the cache: one record per directory
    /// (or chunk of one), made at its final size and never copied.
    stated: Vec<Stated>,
}

/// The files of one directory (or chunk of one) and their stat: the names
/// back to back in one string, so that listing a file allocates nothing of
/// its own.
struct Stated {
    /// The directory's key prefix (`""` or `"a/b/"`).
    prefix: String,
    /// The directory's entry names as listed (others among them too),
    /// shared by the chunks of a big directory.
    names: Arc<String>,
    /// Per file: where its name is in `names`, and its stat.
    files: Vec<(u32, u32, Stat)>,
}

impl Stated {
    /// `(name, stat)` of each file.
    fn iter(&self) -> impl Iterator<Item = (&str, &Stat)> + '_ {
        self.files.iter().map(|(start, end, st)| (&self.names[*start as usize..*end as usize], st))
    }
}

/// Files of a directory to `lstat`: where each name is in `names` (the
/// directory's entry names back to back), with its stat when the listing
/// already has it (no `d_type`).
struct ToStat {
    prefix: String,
    names: Arc<String>,
    files: Vec<(u32, u32, Option<Stat>)>,
}

impl Listed {
    fn is_empty(&self) -> bool {
        self.to_read.is_empty() && self.stated.is_empty()
    }
}

/// Files read (hashed on all cores) per chunk of a walk's reads.
const READ_CHUNK_FILES: usize = 8192;

/// Directories with more regular files than this are stat'ed in parallel
/// chunks of this size.
const FILES_PER_TASK: usize = 1024;
/// Bytes of the buffer each directory is read into (`getdents64`).
const DIR_BUF_BYTES: usize = 32 * 1024;

/// The `.museignore` rules in force in a directory: its own file's matcher
/// and the chain of its ancestors' (only directories that have a
/// `.museignore` add a link).
pub(crate) struct IgnoreNode {
    /// Length of the directory's key prefix (`"a/b/"` → 4): matchers see
    /// paths relative to their own directory.
    pub(crate) prefix_len: usize,
    pub(crate) matcher: Gitignore,
    pub(crate) parent: Option<Arc<IgnoreNode>>,
}

/// gitignore precedence: the deepest `.museignore` with a matching pattern
/// decides (its last matching pattern, `!` re-including); none → kept.
pub(crate) fn is_ignored(mut node: Option<&Arc<IgnoreNode>>, rel: &str, is_dir: bool) -> bool {
    while let Some(n) = node {
        let m = n.matcher.matched(&rel[n.prefix_len..], is_dir);
        if m.is_ignore() {
            return true;
        }
        if m.is_whitelist() {
            return false;
        }
        node = n.parent.as_ref();
    }
    false
}

/// State shared by the listing threads.
struct Listing<'a> {
    root: &'a Path,
    stat_files: bool,
    /// The work stack, with the count of busy and started threads.
    queue: Mutex<Queue>,
    /// Signalled when tasks are pushed, and when the last busy thread
    /// finds the stack empty (everyone stops).
    wake: Condvar,
    max_threads: usize,
    /// What each thread found, delivered once when it stops.
    sink: Mutex<Listed>,
    error: Mutex<Option<Error>>,
    failed: AtomicBool,
    /// Warnings of the listing threads, logged by the calling thread once
    /// they are done (a log record may reach Python through `pyo3-log`:
    /// nothing calls into Python from inside the walk).
    warnings: Mutex<Vec<String>>,
}

/// Environment variable that sets the number of listing threads
/// ([`listing_threads`]); unset or invalid: the default.
pub const WALK_THREADS_ENV: &str = "MUSE_WALK_THREADS";

/// How many threads may list the tree: `readdir` and one `lstat` per file,
/// work that waits on the kernel (and on the disk when the inode cache is
/// cold) more than it computes. Like git's preloaded index (up to 20
/// threads of `lstat` whatever the core count), it may run more threads
/// than cores: `max(cores, min(4 × cores, 8))`, or `$MUSE_WALK_THREADS` (1
/// to 64). On a machine whose cores are busy with other work the listing
/// then keeps its share of CPU time instead of waiting behind it.
fn listing_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        std::env::var(WALK_THREADS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=64).contains(n))
            .unwrap_or_else(|| cores.max((4 * cores).min(8)))
    })
}

/// A unit of listing work.
enum Task {
    /// List the directory with this key prefix (`""` or `"a/b/"`), under
    /// these ignore rules.
    Dir(String, Option<Arc<IgnoreNode>>),
    /// `lstat` these files relative to this open directory: a chunk of a
    /// big directory.
    Stat(Arc<OwnedFd>, ToStat),
}

/// The work stack of the listing threads (last in, first out: depth first,
/// as a recursive walk goes).
struct Queue {
    tasks: Vec<Task>,
    /// Threads running a task.
    busy: usize,
    /// Threads started, the calling thread included.
    threads: usize,
}

/// Lists the tree on up to [`listing_threads`] threads: the calling one,
/// and scoped threads started while tasks wait and every started thread is
/// busy (a small tree is listed by the calling thread alone). Directories
/// and chunks of big directories are taken from one shared stack, so
/// nothing recurses per directory level on any stack (depth is bounded only
/// by `PATH_MAX`), and an idle thread sleeps on a condition variable: it
/// never spins. Returns every regular file that is not ignored: stat'ed
/// (when `stat_files`) for a lookup in the cache, else to read.
fn list_tree(root: &Path, stat_files: bool) -> Result<Listed> {
    let listing = Listing {
        root,
        stat_files,
        queue: Mutex::new(Queue { tasks: vec![Task::Dir(String::new(), None)], busy: 0, threads: 1 }),
        wake: Condvar::new(),
        max_threads: listing_threads(),
        sink: Mutex::new(Listed::default()),
        error: Mutex::new(None),
        failed: AtomicBool::new(false),
        warnings: Mutex::new(Vec::new()),
    };
    // The scope returns once every started thread has stopped, which each
    // does only when the stack is empty and no thread is busy (or the
    // listing failed).
    std::thread::scope(|s| listing.work(s));
    for w in listing.warnings.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default() {
        log::warn!("{w}");
    }
    if let Some(e) = listing.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(listing.sink.into_inner().unwrap_or_else(|p| p.into_inner()))
}

impl<'a> Listing<'a> {
    fn warn(&self, msg: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(msg);
        }
    }

    fn fail(&self, e: Error) {
        self.failed.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
        // Sleeping threads wake up and stop.
        let _guard = self.queue.lock();
        self.wake.notify_all();
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs tasks until the stack is empty with no thread busy (more work
    /// can then never appear) or the listing failed; then hands what this
    /// thread found to the sink.
    fn work<'scope, 'env>(&'scope self, scope: &'scope std::thread::Scope<'scope, 'env>) {
        let mut found = Listed::default();
        let mut q = self.lock_queue();
        loop {
            if self.failed.load(Ordering::Relaxed) {
                break;
            }
            if let Some(task) = q.tasks.pop() {
                q.busy += 1;
                drop(q);
                let pushed = match task {
                    Task::Dir(prefix, ignore) => self.list_dir(prefix, ignore, &mut found),
                    Task::Stat(dir, files) => {
                        self.stat_files(&dir, files, &mut found);
                        Vec::new()
                    }
                };
                q = self.lock_queue();
                q.busy -= 1;
                if !pushed.is_empty() {
                    let n = pushed.len();
                    q.tasks.extend(pushed);
                    // This thread takes one task, sleeping threads take
                    // what they can, and threads start for the rest (up
                    // to the limit).
                    let idle = q.threads - q.busy - 1;
                    if idle > 0 {
                        if n > 1 {
                            self.wake.notify_all()
                        } else {
                            self.wake.notify_one()
                        }
                    }
                    for _ in 0..(n - 1).saturating_sub(idle).min(self.max_threads.saturating_sub(q.threads)) {
                        match std::thread::Builder::new().name("muse-list".into()).spawn_scoped(scope, || self.work(scope)) {
                            Ok(_) => q.threads += 1,
                            Err(e) => {
                                log::debug!("no extra listing thread: {e}");
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            if q.busy == 0 {
                // Nothing queued, nobody listing: done.
                self.wake.notify_all();
                break;
            }
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        drop(q);
        if !found.is_empty() {
            let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            sink.to_read.append(&mut found.to_read);
            sink.stated.append(&mut found.stated);
        }
    }

    /// Path of the directory with key prefix `prefix` (`""` or `"a/b/"`).
    fn dir_path(&self, prefix: &str) -> PathBuf {
        match prefix.strip_suffix('/') {
            Some(p) => self.root.join(p),
            None => self.root.to_path_buf(),
        }
    }

    /// Lists the directory with key prefix `prefix` into `found`; returns
    /// the tasks it makes (its subdirectories, and chunks of its files when
    /// it has more than [`FILES_PER_TASK`]).
    fn list_dir(&self, prefix: String, ignore: Option<Arc<IgnoreNode>>, found: &mut Listed) -> Vec<Task> {
        use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
        let mut tasks = Vec::new();
        let is_root = prefix.is_empty();
        let dir_path = self.dir_path(&prefix);
        // The root may be a symlink to a directory; nothing below it is followed.
        let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if !is_root {
            flags |= OFlags::NOFOLLOW;
        }
        let fd = match rustix::fs::open(&dir_path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if !is_root && vanished(e) => return tasks,
            Err(e) => {
                self.fail(Error::io("open directory", &dir_path, e.into()));
                return tasks;
            }
        };
        // One 32 KiB `getdents64` buffer: a directory of a few hundred
        // entries is read in one call plus the one that sees its end
        // (rustix's `Dir` starts at 768 bytes and grows, ~4 calls and 3
        // reallocations per directory of 100 files).
        let mut buf: Vec<u8> = Vec::with_capacity(DIR_BUF_BYTES);
        let mut raw = RawDir::new(&fd, buf.spare_capacity_mut());

        // Read every entry first: the directory's `.museignore` must be
        // known before any of them is matched. Names go back to back into
        // one string: a file costs no allocation of its own.
        let mut names = String::new();
        let mut entries: Vec<(u32, u32, FileType)> = Vec::new();
        let mut has_ignore_file = false;
        while let Some(ent) = raw.next() {
            let ent = match ent {
                Ok(ent) => ent,
                Err(e) if vanished(e) => return tasks, // directory removed or replaced
                Err(e) => {
                    self.fail(Error::io("read directory", &dir_path, e.into()));
                    return tasks;
                }
            };
            let name = ent.file_name().to_bytes();
            if name == b"." || name == b".." || (is_root && name == MUSE_DIR.as_bytes()) {
                continue;
            }
            let Some(name) = key_name(name, &dir_path, self) else { continue };
            let ft = ent.file_type();
            if name == IGNORE_FILE && matches!(ft, FileType::RegularFile | FileType::Unknown) {
                has_ignore_file = true;
            }
            let start = names.len();
            names.push_str(name);
            let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(names.len())) else {
                self.fail(Error::io("read directory", &dir_path, io::Error::other("over 4 GiB of names")));
                return tasks;
            };
            entries.push((start, end, ft));
        }
        drop(buf);

        let ignore = if has_ignore_file {
            match load_ignore_file(&dir_path, &mut |m| self.warn(m)) {
                Ok(Some(matcher)) => Some(Arc::new(IgnoreNode { prefix_len: prefix.len(), matcher, parent: ignore })),
                Ok(None) => ignore,
                Err(e) => {
                    self.fail(e);
                    return tasks;
                }
            }
        } else {
            ignore
        };

        // The key of an entry, for the ignore rules (only where there are
        // rules) and for errors.
        let mut rel = String::new();
        fn key_in<'b>(buf: &'b mut String, prefix: &str, name: &str) -> &'b str {
            buf.clear();
            buf.push_str(prefix);
            buf.push_str(name);
            buf
        }
        let mut files = Vec::new();
        for (start, end, mut ft) in entries {
            let name = &names[start as usize..end as usize];
            let mut stat = None;
            if ft == FileType::Unknown {
                // No `d_type` from this filesystem: ask `lstat`.
                match rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => {
                        ft = FileType::from_raw_mode(st.st_mode as _);
                        stat = Some(stat_of(&st));
                    }
                    Err(e) if vanished(e) => continue,
                    Err(e) => {
                        self.fail(Error::io("stat", self.root.join(key_in(&mut rel, &prefix, name)), e.into()));
                        return tasks;
                    }
                }
            }
            match ft {
                FileType::Directory if ignore.is_none() || !is_ignored(ignore.as_ref(), key_in(&mut rel, &prefix, name), true) => {
                    let mut sub = String::with_capacity(prefix.len() + name.len() + 1);
                    sub.push_str(&prefix);
                    sub.push_str(name);
                    sub.push('/');
                    tasks.push(Task::Dir(sub, ignore.clone()));
                }
                FileType::RegularFile if ignore.is_none() || !is_ignored(ignore.as_ref(), key_in(&mut rel, &prefix, name), false) => {
                    files.push((start, end, stat))
                }
                _ => {} // ignored, or a symlink, FIFO, socket, device
            }
        }

        if !self.stat_files {
            found.to_read.extend(files.iter().map(|&(s, e, _)| format!("{prefix}{}", &names[s as usize..e as usize])));
            return tasks;
        }
        // Big directories are stat'ed in parallel chunks sharing the fd
        // and the names.
        let dir = Arc::new(fd);
        let names = Arc::new(names);
        while files.len() > FILES_PER_TASK {
            let chunk = files.split_off(files.len() - FILES_PER_TASK);
            tasks.push(Task::Stat(Arc::clone(&dir), ToStat { prefix: prefix.clone(), names: Arc::clone(&names), files: chunk }));
        }
        self.stat_files(&dir, ToStat { prefix, names, files }, found);
        tasks
    }

    /// `lstat`s the files of `todo` relative to `dirfd` and adds them to
    /// `found` with their stat (the names are shared, not copied).
    fn stat_files(&self, dirfd: &OwnedFd, todo: ToStat, found: &mut Listed) {
        use rustix::fs::{AtFlags, FileType};
        let ToStat { prefix, names, files } = todo;
        let mut stated = Vec::with_capacity(files.len());
        for (start, end, stat) in files {
            let name = &names[start as usize..end as usize];
            let stat = match stat {
                Some(s) => s,
                None => match rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::RegularFile => stat_of(&st),
                    Ok(_) => continue, // replaced by a non-regular file
                    Err(e) if vanished(e) => continue,
                    Err(e) => return self.fail(Error::io("stat", self.root.join(format!("{prefix}{name}")), e.into())),
                },
            };
            stated.push((start, end, stat));
        }
        found.stated.push(Stated { prefix, names, files: stated });
    }
}

/// Whether an `open`/`stat` error means the entry vanished or changed type
/// under us (skipped silently).
fn vanished(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    e == Errno::NOENT || e == Errno::NOTDIR || e == Errno::LOOP
}

/// [`vanished`] for a `std::io::Error`.
fn io_vanished(e: &io::Error) -> bool {
    e.raw_os_error().is_some_and(|n| vanished(rustix::io::Errno::from_raw_os_error(n)))
}

/// The cache's view of a raw `stat` (field types vary across targets).
#[allow(clippy::unnecessary_cast)]
fn stat_of(st: &rustix::fs::Stat) -> Stat {
    let mtime_ns = (st.st_mtime as i64).saturating_mul(1_000_000_000).saturating_add(st.st_mtime_nsec as i64);
    Stat { ino: st.st_ino as u64, size: st.st_size as u64, mtime_ns }
}

/// The name of an entry as a key segment, or `None` (with a warning) when it
/// cannot be one: not UTF-8, or containing `\`.
fn key_name<'a>(name: &'a [u8], dir_path: &Path, w: &Listing<'_>) -> Option<&'a str> {
    match std::str::from_utf8(name) {
        // Another repository's directory (`.muse`, `.git` or an alias of
        // either, at any depth) is never part of this tree: muse could not
        // store such a path (git's verify_path rule), and git leaves nested
        // repositories out the same way.
        Ok(n) if crate::paths::muse_alias_reason(n).is_some() || crate::paths::git_alias_reason(n).is_some() => {
            log::debug!("leaving out {}: a repository directory", dir_path.join(n).display());
            None
        }
        Ok(n) if !n.contains('\\') => Some(n),
        Ok(_) => {
            w.warn(format!("skipping {}: name contains '\\'", dir_path.join(OsStr::from_bytes(name)).display()));
            None
        }
        Err(_) => {
            w.warn(format!("skipping {}: name is not valid UTF-8", dir_path.join(OsStr::from_bytes(name)).display()));
            None
        }
    }
}

/// Parses `<dir>/.museignore` (opened like any file to hash: never through
/// a symlink, never blocking on a FIFO). Invalid pattern lines, and lines
/// that are not UTF-8, are skipped with a warning (as git skips bad
/// patterns); an unreadable file is an error (its rules would be lost); a
/// vanished or non-regular one is `None`.
pub(crate) fn load_ignore_file(dir_path: &Path, warn: &mut dyn FnMut(String)) -> Result<Option<Gitignore>> {
    let path = dir_path.join(IGNORE_FILE);
    let mut f = match open_for_hash(&path) {
        Ok(f) => f,
        Err(e) if io_vanished(&e) => return Ok(None),
        Err(e) => return Err(Error::io("read ignore file", &path, e)),
    };
    if !f.metadata().ctx("stat", &path)?.is_file() {
        return Ok(None);
    }
    let mut text = Vec::new();
    f.read_to_end(&mut text).ctx("read ignore file", &path)?;
    // Matchers are given key-relative paths; an absolute root can never be a
    // prefix of one, so the crate's own prefix stripping never fires.
    let abs_dir = std::path::absolute(dir_path).unwrap_or_else(|_| dir_path.to_path_buf());
    let mut builder = GitignoreBuilder::new(&abs_dir);
    let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&text);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(line) => {
                if let Err(e) = builder.add_line(Some(path.clone()), line) {
                    warn(format!("{}:{}: {e}", path.display(), i + 1));
                }
            }
            Err(_) => warn(format!("{}:{}: not valid UTF-8, line skipped", path.display(), i + 1)),
        }
    }
    match builder.build() {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            warn(format!("{}: {e}", path.display()));
            Ok(None)
        }
    }
}

/// Hashes the files `rels` (keys under `root`) on all cores: one slot per
/// file, `None` for a file that vanished or became non-regular.
fn hash_files(root: &Path, rels: Vec<String>) -> Result<Vec<Option<(String, Stat, Digest)>>> {
    // Collected straight into one vector of exactly `rels.len()` slots
    // (`None`: vanished); the first error is kept aside and returned.
    let error = Mutex::new(None);
    let out: Vec<Option<(String, Stat, Digest)>> = rels
        .into_par_iter()
        .map_init(
            || vec![0u8; CHUNK],
            |buf, rel| match hash_one(&root.join(&rel), buf) {
                Ok(found) => found.map(|(stat, digest)| (rel, stat, digest)),
                Err(e) => {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    None
                }
            },
        )
        .collect();
    match error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The blob ID of the file at `path`, read in fixed chunks (as the walk
/// hashes; `git hash-object` for muse): `Ok(None)` when it does not exist,
/// is not a regular file, or a component of its path is not a directory
/// (`ENOENT`, `ENOTDIR`, `ELOOP`), as for a file that vanishes mid-walk.
///
/// # Errors
/// [`Error::Io`] naming the path when it cannot be opened or read.
pub fn hash_file(path: &Path) -> Result<Option<String>> {
    let mut buf = vec![0u8; 64 * 1024];
    Ok(hash_one(path, &mut buf)?.map(|(_, d)| id_from_digest(&d)))
}

/// Hashes one file with `buf`; `None` when it vanished or is no longer a
/// regular file. The stat returned is the `fstat` of the opened file, taken
/// before reading.
pub(crate) fn hash_one(path: &Path, buf: &mut [u8]) -> Result<Option<(Stat, Digest)>> {
    let mut f = match open_for_hash(path) {
        Ok(f) => f,
        Err(e) if io_vanished(&e) => return Ok(None),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let md = f.metadata().ctx("stat", path)?;
    if !md.is_file() {
        return Ok(None);
    }
    let (digest, _) =
        crate::ids::hash_stream(&mut f, buf, &mut |_| Ok(())).map_err(|e| Error::io("read", path, e.into_inner()))?;
    Ok(Some((Stat::of(&md), digest)))
}
