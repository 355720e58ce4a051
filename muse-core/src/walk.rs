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
//! The tree is listed by rayon tasks, one per directory (and per 1024 files
//! of a big one), taken from work-stealing queues: all cores work, and
//! nothing recurses per directory level on any stack, so depth is bounded
//! only by `PATH_MAX`. When a cache file exists, each regular file costs one
//! `fstatat` relative to its open directory (the cache loads on another core
//! meanwhile; a process that walked the same tree before reuses the cache
//! it kept, see [`StatCache::load_reusing`]). Each stat'ed file is then
//! looked up with one probe of the cache's hash index (no sort: the cache's
//! entries are already in key order, and after a clean walk they are the
//! manifest), and a trusted hit costs nothing more: a warm walk over an unchanged tree reads no file and does not
//! rewrite the cache. Cold, the listing stats nothing; the files to read are
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
use std::sync::{Arc, Mutex};

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
/// when (and only when) it changed, then hands it to
/// [`StatCache::keep`] for the next walk of the process. The cache is saved only when `.muse/`
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
    let (listed, mut cache) = rayon::join(
        || list_tree(root, stat_files),
        || opts.use_cache.then(|| StatCache::load_reusing(root, opts.max_cache_bytes).0),
    );
    let Listed { mut to_read, stated } = listed?;

    // Stat'ed files are looked up as they were listed, one index probe
    // each: sorting them first costs more than the probes, and a clean
    // walk never needs them in order (its manifest is the cache's entries,
    // in key order). `seen` marks the entries of listed files.
    let mut seen = Vec::new();
    match cache.as_ref() {
        Some(c) => {
            seen = vec![false; c.len()];
            to_read.extend(c.lookup_unsorted(stated, 0, &mut seen));
        }
        None => to_read.extend(stated.into_iter().map(|(rel, _)| rel)),
    }

    let mut stamp_tmp = None;
    // Files read that the cache does not hold: without a cache, every one;
    // with one, those it could not record (normally none).
    let mut outside_cache: Pairs = Vec::new();
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
    c.prune_unseen(&seen);
    if c.is_dirty() {
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

/// What the listing found (per directory or chunk, then merged).
#[derive(Default)]
struct Listed {
    /// Files to read (no cache to compare with).
    to_read: Vec<String>,
    /// Files stat'ed, to look up in the cache.
    stated: Vec<(String, Stat)>,
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

/// State shared by the listing tasks.
struct Listing<'a> {
    root: &'a Path,
    stat_files: bool,
    /// One batch per directory (or chunk): one lock per directory, none per file.
    sink: Mutex<Vec<Listed>>,
    error: Mutex<Option<Error>>,
    failed: AtomicBool,
    /// Warnings of the listing tasks, logged by the calling thread once the
    /// tasks are done (a log record may reach Python through `pyo3-log`:
    /// nothing calls into Python from inside the walk).
    warnings: Mutex<Vec<String>>,
}

impl Listing<'_> {
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
    }

    fn deliver(&self, found: Listed) {
        if !found.is_empty() {
            if let Ok(mut sink) = self.sink.lock() {
                sink.push(found);
            }
        }
    }

    /// Path of the directory with key prefix `prefix` (`""` or `"a/b/"`).
    fn dir_path(&self, prefix: &str) -> PathBuf {
        match prefix.strip_suffix('/') {
            Some(p) => self.root.join(p),
            None => self.root.to_path_buf(),
        }
    }
}

/// Environment variable that sets the number of listing threads
/// ([`listing_pool`]); unset or invalid: the default.
pub const WALK_THREADS_ENV: &str = "MUSE_WALK_THREADS";

/// The thread pool that lists the tree: `readdir` and one `lstat` per
/// file, work that waits on the kernel (and on the disk when the inode
/// cache is cold) more than it computes. Like git's preloaded index (up to
/// 20 threads of `lstat` whatever the core count), it runs more threads
/// than cores: `max(cores, min(4 × cores, 8))`, or `$MUSE_WALK_THREADS`
/// (1 to 64). On a machine whose cores are busy with other work the
/// listing then keeps its share of CPU time instead of waiting behind it;
/// on an idle machine the extra threads cost their creation (about
/// 20 µs each, once per process). Hashing stays on rayon's global pool
/// (one thread per core: it is CPU-bound). `None` when the pool cannot be
/// built (the global pool lists instead).
fn listing_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let n = std::env::var(WALK_THREADS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=64).contains(n))
            .unwrap_or_else(|| cores.max((4 * cores).min(8)));
        rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("muse-list-{i}")).build().ok()
    })
    .as_ref()
}

/// Lists the tree on the listing pool ([`listing_pool`]: rayon tasks, one
/// per directory, taken from work-stealing queues: no recursion on any
/// stack). Returns every regular file that is not ignored: stat'ed (when
/// `stat_files`) for a lookup in the cache, else to read.
fn list_tree(root: &Path, stat_files: bool) -> Result<Listed> {
    let listing = Listing {
        root,
        stat_files,
        sink: Mutex::new(Vec::new()),
        error: Mutex::new(None),
        failed: AtomicBool::new(false),
        warnings: Mutex::new(Vec::new()),
    };
    match listing_pool() {
        Some(pool) => pool.scope(|s| list_dir(&listing, s, String::new(), None)),
        None => rayon::scope(|s| list_dir(&listing, s, String::new(), None)),
    }
    for w in listing.warnings.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default() {
        log::warn!("{w}");
    }
    if let Some(e) = listing.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let parts = listing.sink.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = Listed {
        to_read: Vec::with_capacity(parts.iter().map(|b| b.to_read.len()).sum()),
        stated: Vec::with_capacity(parts.iter().map(|b| b.stated.len()).sum()),
    };
    for b in parts {
        out.to_read.extend(b.to_read);
        out.stated.extend(b.stated);
    }
    Ok(out)
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

/// Lists the directory with key prefix `prefix`, spawning a task per
/// subdirectory.
fn list_dir<'s>(w: &'s Listing<'s>, scope: &rayon::Scope<'s>, prefix: String, ignore: Option<Arc<IgnoreNode>>) {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
    if w.failed.load(Ordering::Relaxed) {
        return;
    }
    let is_root = prefix.is_empty();
    let dir_path = w.dir_path(&prefix);
    // The root may be a symlink to a directory; nothing below it is followed.
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !is_root {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(&dir_path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if !is_root && vanished(e) => return,
        Err(e) => return w.fail(Error::io("open directory", &dir_path, e.into())),
    };
    // One 32 KiB `getdents64` buffer: a directory of a few hundred entries
    // is read in one call plus the one that sees its end (rustix's `Dir`
    // starts at 768 bytes and grows, ~4 calls and 3 reallocations per
    // directory of 100 files).
    let mut buf: Vec<u8> = Vec::with_capacity(DIR_BUF_BYTES);
    let mut raw = RawDir::new(&fd, buf.spare_capacity_mut());

    // Read every entry first: the directory's `.museignore` must be known
    // before any of them is matched.
    let mut entries: Vec<(String, FileType)> = Vec::new();
    let mut has_ignore_file = false;
    while let Some(ent) = raw.next() {
        let ent = match ent {
            Ok(ent) => ent,
            Err(e) if vanished(e) => return, // directory removed or replaced
            Err(e) => return w.fail(Error::io("read directory", &dir_path, e.into())),
        };
        let name = ent.file_name().to_bytes();
        if name == b"." || name == b".." || (is_root && name == MUSE_DIR.as_bytes()) {
            continue;
        }
        let Some(name) = key_name(name, &dir_path, w) else { continue };
        let ft = ent.file_type();
        if name == IGNORE_FILE && matches!(ft, FileType::RegularFile | FileType::Unknown) {
            has_ignore_file = true;
        }
        let mut rel = String::with_capacity(prefix.len() + name.len());
        rel.push_str(&prefix);
        rel.push_str(name);
        entries.push((rel, ft));
    }
    drop(buf);
    let dir = Arc::new(fd);
    let dirfd = &*dir;

    let ignore = if has_ignore_file {
        match load_ignore_file(&dir_path, &mut |m| w.warn(m)) {
            Ok(Some(matcher)) => Some(Arc::new(IgnoreNode { prefix_len: prefix.len(), matcher, parent: ignore })),
            Ok(None) => ignore,
            Err(e) => return w.fail(e),
        }
    } else {
        ignore
    };

    let mut files: Vec<(String, Option<Stat>)> = Vec::new();
    for (rel, mut ft) in entries {
        let mut stat = None;
        if ft == FileType::Unknown {
            // No `d_type` from this filesystem: ask `lstat`.
            match rustix::fs::statat(dirfd, &rel[prefix.len()..], AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => {
                    ft = FileType::from_raw_mode(st.st_mode as _);
                    stat = Some(stat_of(&st));
                }
                Err(e) if vanished(e) => continue,
                Err(e) => return w.fail(Error::io("stat", w.root.join(&rel), e.into())),
            }
        }
        match ft {
            FileType::Directory if !is_ignored(ignore.as_ref(), &rel, true) => {
                let mut sub = rel;
                sub.push('/');
                let ig = ignore.clone();
                scope.spawn(move |s| list_dir(w, s, sub, ig));
            }
            FileType::RegularFile if !is_ignored(ignore.as_ref(), &rel, false) => files.push((rel, stat)),
            _ => {} // ignored, or a symlink, FIFO, socket, device
        }
    }

    if !w.stat_files {
        w.deliver(Listed { to_read: files.into_iter().map(|(rel, _)| rel).collect(), ..Listed::default() });
        return;
    }
    // Big directories are stat'ed in parallel chunks sharing the fd.
    let plen = prefix.len();
    while files.len() > FILES_PER_TASK {
        let chunk = files.split_off(files.len() - FILES_PER_TASK);
        let dir = Arc::clone(&dir);
        scope.spawn(move |_| stat_files(w, &dir, plen, chunk));
    }
    stat_files(w, &dir, plen, files);
}

/// `lstat`s `files` (keys whose names start at byte `plen`) relative to
/// `dir` and delivers them with their stat.
fn stat_files(w: &Listing<'_>, dirfd: &std::os::fd::OwnedFd, plen: usize, files: Vec<(String, Option<Stat>)>) {
    use rustix::fs::{AtFlags, FileType};
    if w.failed.load(Ordering::Relaxed) {
        return;
    }
    let mut out = Listed { stated: Vec::with_capacity(files.len()), ..Listed::default() };
    for (rel, stat) in files {
        let stat = match stat {
            Some(s) => s,
            None => match rustix::fs::statat(dirfd, &rel[plen..], AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::RegularFile => stat_of(&st),
                Ok(_) => continue, // replaced by a non-regular file
                Err(e) if vanished(e) => continue,
                Err(e) => return w.fail(Error::io("stat", w.root.join(&rel), e.into())),
            },
        };
        out.stated.push((rel, stat));
    }
    w.deliver(out);
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
