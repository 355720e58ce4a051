//! The file-system monitor: `[core] fsmonitor = "watchman"` (git's
//! `core.fsmonitor` with its `fsmonitor-watchman` hook; jj's
//! `core.fsmonitor = "watchman"`).
//!
//! A clean `status` on a big tree costs one `lstat` per file even with the
//! [stat cache](crate::stat_cache). With the monitor on, the commands that
//! need the working tree (status, add, commit, diff, checkout, merge, stash,
//! restore…) ask the [watchman](https://facebook.github.io/watchman/) daemon
//! which paths changed since the clock saved by the previous command, and
//! look at those paths only.
//!
//! # The state file
//!
//! `.muse/cache/fsmonitor.bin` (binary, private to this module, rewritten
//! atomically like every file under `.muse/`) holds:
//!
//! * the watchman **clock** taken *before* the command that wrote the file
//!   looked at the tree, the canonical root it belongs to, and the socket of
//!   the daemon (so the next command connects without spawning `watchman`);
//! * the **base**: the stage applied to HEAD's manifest (`{path: blob}`,
//!   what status compares the tree with), keyed by HEAD's commit and the
//!   identity of `.muse/index` (inode, size, times) it was computed from;
//! * the **dirty** paths: every path whose working-tree content differs from
//!   the base, with that content's blob digest (or "absent");
//! * the staged changes (HEAD → stage), valid with the base.
//!
//! The working tree is the base overlaid with the dirty paths. A command
//! queries watchman for the paths changed since the clock, re-reads those
//! (a path that is now a directory is listed; paths under a reported path
//! that is no longer a directory are re-read too) and updates the dirty set.
//! A clean `status` therefore reads the file's header (the base stays
//! unread) and asks watchman one question: no walk, no stat cache, no
//! manifest decoding. When HEAD or the stage changed since the base was
//! computed, the base is taken from the stage-view cache
//! (`.muse/cache/stage_view.bin`, [`VIEW_FILE`]) or recomputed from them (no
//! file-system work), and the dirty set is rebuilt against it.
//!
//! This module also implements that stage-view cache: a clean status
//! *without* the monitor uses [`VIEW_FILE`] too, instead of decoding and
//! verifying HEAD's snapshot.
//!
//! # Why this is correct
//!
//! The clock is taken before any file is looked at, and every file looked at
//! afterwards is recorded with what was read. A path watchman does not report
//! since the clock has not changed since then, so what was recorded for it
//! still holds. A change during the command is after the clock, so the next
//! command sees it. Racy timestamps do not matter: nothing is decided from
//! an mtime. Writes to the state file are atomic, and the clock is stored in
//! the same file as what it vouches for, so two commands racing can only
//! leave one self-consistent state.
//!
//! # When the tree is walked instead
//!
//! The full walk (with the stat cache, SPEC §5) runs, and a new state is
//! saved with a clock taken before it, whenever:
//!
//! * watchman is missing, cannot be started or fails (a `log::warn!`
//!   record, target `muse.core.fsmonitor`);
//! * there is no saved clock, or it belongs to another root or state format
//!   (first use, a moved repository; `log::info!`);
//! * watchman reports a *fresh instance* (the daemon restarted or
//!   re-crawled, so it cannot say what changed; `log::info!`);
//! * a `.museignore` file is among the changed paths (what is ignored may
//!   have changed anywhere below it), or more than [`MAX_CHANGED`] paths
//!   changed (`log::info!`).
//!
//! The results are the same as the walk's: the same ignore rules, the same
//! exclusions (symlinks and other non-regular files, `.muse` and `.git`
//! directories, names that are not UTF-8); see [`crate::walk`].
//!
//! The seed contract's path functions (`build_snapshot_manifest(root)`,
//! `walk_workdir`, the `StatCache` API) keep SPEC §5's stat-cache semantics
//! and never consult the monitor.
//!
//! # Configuration
//!
//! `[core] fsmonitor = "watchman"` in `.muse/config.toml` (default `"off"`);
//! the environment variable `MUSE_FSMONITOR=watchman|off` overrides it.
//! Needs the `watchman` command (Debian's `watchman` package, 4.9 or newer)
//! on `PATH`; it starts the daemon on first use. `WATCHMAN_SOCK` names the
//! daemon's socket explicitly.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::FsMonitorMode;
use crate::error::{Error, Result};
use crate::ids::Digest;
use crate::manifest::{ChangeKind, Manifest};
use crate::paths::{cache_dir, index_path, muse_dir};
use crate::walk::{is_ignored, IgnoreNode, IGNORE_FILE};

/// More changed paths than this since the clock: walk the tree instead
/// (re-reading them one by one would be slower than the walk).
pub const MAX_CHANGED: usize = 20_000;

/// Name of the state file in `.muse/cache/`.
pub const STATE_FILE: &str = "fsmonitor.bin";

/// First bytes of the state file (the format's version is the last byte).
const MAGIC: &[u8; 8] = b"MUSEFSM1";

/// The log target of this module's records.
const LOG: &str = "muse.core.fsmonitor";

/// The monitor in force for the repository at `root`: `MUSE_FSMONITOR`
/// when set, else `[core] fsmonitor` of its `config.toml`.
///
/// # Errors
/// [`Error::Config`] for an invalid `config.toml`; [`Error::InvalidInput`]
/// for an invalid `MUSE_FSMONITOR`.
pub fn mode(root: &Path) -> Result<FsMonitorMode> {
    if let Some(v) = std::env::var_os("MUSE_FSMONITOR") {
        let v = v.to_string_lossy();
        return FsMonitorMode::parse(&v)
            .ok_or_else(|| Error::InvalidInput(format!("MUSE_FSMONITOR must be \"watchman\" or \"off\", got {v:?}")));
    }
    Ok(crate::config::Config::load(root)?.fsmonitor)
}

/// Path of the state file of the repository at `root`.
pub fn state_path(root: &Path) -> PathBuf {
    cache_dir(root).join(STATE_FILE)
}

/// What the base was computed from: HEAD's commit (`None`: unborn) and the
/// identity of `.muse/index` (`None`: no file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseKey {
    pub(crate) head: Option<String>,
    pub(crate) index: Option<[i64; 5]>,
}

impl BaseKey {
    /// The key of the repository's current HEAD commit `head` and its index
    /// file as it is now. Taken *before* reading the stage, so that a stage
    /// rewritten in between makes the key stale rather than wrong.
    pub(crate) fn current(root: &Path, head: Option<String>) -> BaseKey {
        use std::os::unix::fs::MetadataExt;
        let index = std::fs::symlink_metadata(index_path(root)).ok().map(|m| {
            [m.ino() as i64, m.size() as i64, m.mtime() * 1_000_000_000 + m.mtime_nsec(), m.ctime() * 1_000_000_000 + m.ctime_nsec(), m.dev() as i64]
        });
        BaseKey { head, index }
    }
}

/// A path whose working-tree content differs from the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dirty {
    /// Its content in the tree (`None`: absent).
    pub(crate) wt: Option<Digest>,
    /// Whether the base has it (tracked: modified or deleted) or not
    /// (untracked).
    pub(crate) in_base: bool,
}

/// The saved knowledge of the working tree (see the module docs).
pub(crate) struct State {
    root: String,
    sock: String,
    clock: String,
    base_key: Option<BaseKey>,
    staged: Vec<(String, ChangeKind)>,
    dirty: BTreeMap<String, Dirty>,
    /// Loaded on first use: a clean status never reads it.
    base: Option<Base>,
    /// The state file, positioned at the base section, until it is read.
    file: Option<std::fs::File>,
    changed: bool,
}

/// The base manifest: sorted `(path, digest)`, either still in the bytes of
/// the state file (found by binary search, never decoded whole) or owned.
enum Base {
    /// The section as read (the count at byte `ends_at - 4` of `bytes`,
    /// then `n` little-endian `u32` key ends from byte `ends_at`, then `n`
    /// digests),
    /// and the keys after it moved out of the same buffer into `keys`
    /// (valid UTF-8, each end on a character boundary and the keys strictly
    /// increasing: checked once, at [`Base::parse`]). Nothing else is
    /// copied, and [`Base::write`] copies the section back whole.
    Raw { bytes: Vec<u8>, ends_at: usize, n: usize, keys: String },
    Owned(Vec<(String, Digest)>),
}

impl Base {
    fn len(&self) -> usize {
        match self {
            Base::Raw { n, .. } => *n,
            Base::Owned(v) => v.len(),
        }
    }

    /// Entry `i` (`i < len()`; bounds checked at load).
    fn at(&self, i: usize) -> (&str, &Digest) {
        match self {
            Base::Owned(v) => (v[i].0.as_str(), &v[i].1),
            Base::Raw { bytes, ends_at, n, keys, .. } => {
                let end = |i: usize| raw_u32(bytes, ends_at + 4 * i);
                let start = if i == 0 { 0 } else { end(i - 1) };
                // Checked at parse: in bounds, on character boundaries.
                let key = keys.get(start..end(i)).unwrap_or("");
                let at = ends_at + 4 * n + 32 * i;
                let d: &Digest = bytes.get(at..at + 32).and_then(|d| d.try_into().ok()).unwrap_or(&[0; 32]);
                (key, d)
            }
        }
    }

    /// Index of the first entry whose key is `>= key`.
    fn lower_bound(&self, key: &str) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.at(mid).0 < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn get(&self, key: &str) -> Option<&Digest> {
        let i = self.lower_bound(key);
        (i < self.len()).then(|| self.at(i)).filter(|(k, _)| *k == key).map(|(_, d)| d)
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Digest)> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Keys under the directory `dir` (`"a/b"` → every `"a/b/…"`).
    fn keys_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        let start = self.lower_bound(&prefix);
        (start..self.len()).map(|i| self.at(i).0).take_while(move |k| k.starts_with(&prefix))
    }

    /// Parses the base section, which starts at byte `at` of `bytes` and
    /// runs to its end; `None` when it is malformed. The keys move into a
    /// string of their own; the ends and digests are read in place.
    fn parse(mut bytes: Vec<u8>, at: usize) -> Option<Base> {
        let mut r = Reader { b: &bytes, at };
        let n = r.u32()?;
        let ends_at = r.at;
        r.take(n.checked_mul(36)?)?; // the ends and the digests
        let keys_at = r.at;
        let keys = String::from_utf8(bytes.split_off(keys_at)).ok()?;
        let mut prev_end = 0usize;
        let mut prev_key = "";
        for i in 0..n {
            let e = raw_u32(&bytes, ends_at + 4 * i);
            let key = keys.get(prev_end..e)?; // in bounds, on char boundaries
            if !prev_key.is_empty() && prev_key >= key {
                return None; // not strictly sorted
            }
            prev_key = key;
            prev_end = e;
        }
        if prev_end != keys.len() {
            return None;
        }
        Some(Base::Raw { bytes, ends_at, n, keys })
    }

    /// Appends the base section.
    fn write(&self, w: &mut Vec<u8>) {
        if let Base::Raw { bytes, ends_at, keys, .. } = self {
            // As it was read (checked then), from its count on.
            w.extend_from_slice(&bytes[ends_at - 4..]);
            w.extend_from_slice(keys.as_bytes());
            return;
        }
        put_u32(w, self.len());
        let mut end = 0usize;
        for (k, _) in self.iter() {
            end += k.len();
            put_u32(w, end);
        }
        for (_, d) in self.iter() {
            w.extend_from_slice(d);
        }
        for (k, _) in self.iter() {
            w.extend_from_slice(k.as_bytes());
        }
    }
}

/// The little-endian `u32` at byte `at` of `b` (0 past the end: callers
/// check bounds first), as a `usize`.
fn raw_u32(b: &[u8], at: usize) -> usize {
    b.get(at..at + 4).and_then(|x| x.try_into().ok()).map_or(0, |x| u32::from_le_bytes(x) as usize)
}

/// What [`refresh`] found.
pub(crate) enum Refreshed {
    /// The monitor is off (`None`) or could not tell what changed: walk the
    /// tree, then (when `Some`) save what it found with
    /// [`Pending::save_walk`] or [`Pending::save_status`].
    Walk(Option<Pending>),
    /// The working tree is known from the monitor.
    Known(Box<State>),
}

/// A clock taken before a full walk, to be saved with its result.
pub(crate) struct Pending {
    root: String,
    sock: String,
    clock: String,
}

/// Asks the monitor what changed in the working tree at `root` and applies
/// it to the saved state (see the module docs for when it answers
/// [`Refreshed::Walk`]).
///
/// # Errors
/// [`Error::Config`]/[`Error::InvalidInput`] for a bad setting; I/O errors
/// reading a changed file. A monitor that fails is not an error (the tree is
/// walked).
pub(crate) fn refresh(root: &Path) -> Result<Refreshed> {
    if mode(root)? == FsMonitorMode::Off || !muse_dir(root).is_dir() {
        return Ok(Refreshed::Walk(None));
    }
    let canon = match std::fs::canonicalize(root) {
        Ok(p) => p,
        Err(e) => return Err(Error::io("resolve", root, e)),
    };
    let canon_s = canon.to_string_lossy().into_owned();
    let state = match load(root) {
        Ok(Some(s)) if s.root == canon_s => Some(s),
        Ok(Some(_)) => {
            log::info!(target: LOG, "fsmonitor: the saved clock belongs to another root; walking the tree");
            None
        }
        Ok(None) => {
            log::info!(target: LOG, "fsmonitor: no saved clock yet; walking the tree");
            None
        }
        Err(e) => {
            log::warn!(target: LOG, "fsmonitor: state file not usable ({e}); walking the tree");
            None
        }
    };
    let wm = match watchman::Watchman::connect(&canon, state.as_ref().map(|s| s.sock.as_str())) {
        Ok(w) => w,
        Err(e) => {
            log::warn!(target: LOG, "fsmonitor: watchman unavailable ({e}); walking the tree");
            return Ok(Refreshed::Walk(None));
        }
    };
    let Some(mut state) = state else {
        return Ok(match wm.clock() {
            Ok(clock) => Refreshed::Walk(Some(Pending { root: canon_s, sock: wm.sock.clone(), clock })),
            Err(e) => {
                log::warn!(target: LOG, "fsmonitor: watchman clock failed ({e}); walking the tree");
                Refreshed::Walk(None)
            }
        });
    };
    let (clock, names) = match wm.changes_since(&state.clock) {
        Ok(r) => r,
        Err(e) => {
            log::warn!(target: LOG, "fsmonitor: watchman query failed ({e}); walking the tree");
            return Ok(Refreshed::Walk(None));
        }
    };
    let pending = Pending { root: canon_s, sock: wm.sock.clone(), clock: clock.clone() };
    let Some(names) = names else {
        log::info!(target: LOG, "fsmonitor: watchman reports a fresh instance; walking the tree");
        return Ok(Refreshed::Walk(Some(pending)));
    };
    if names.len() > MAX_CHANGED {
        log::info!(target: LOG, "fsmonitor: {} paths changed; walking the tree", names.len());
        return Ok(Refreshed::Walk(Some(pending)));
    }
    let mut keys = Vec::with_capacity(names.len());
    for n in &names {
        let Some(k) = n.to_str() else { continue }; // not UTF-8: never a key
        if k.rsplit('/').next() == Some(IGNORE_FILE) {
            log::info!(target: LOG, "fsmonitor: {k} changed; walking the tree");
            return Ok(Refreshed::Walk(Some(pending)));
        }
        keys.push(k.to_string());
    }
    state.apply(root, keys)?;
    if state.sock != wm.sock {
        state.sock = wm.sock.clone();
        state.changed = true;
    }
    // A clean status with nothing reported writes nothing; once something
    // was reported (even a change that left every digest as it was), the
    // clock advances so that it is not reported again.
    if !names.is_empty() || state.changed {
        state.clock = clock;
        state.changed = true;
    }
    Ok(Refreshed::Known(Box::new(state)))
}

impl Pending {
    /// Saves the state after a full walk that found `wt` (the working tree)
    /// when the base is not known: every file is "dirty" against an empty
    /// base, and the next status computes the base.
    pub(crate) fn save_walk(self, root: &Path, wt: &Manifest) {
        let dirty = wt.iter().filter_map(|(k, v)| Some((k.clone(), Dirty { wt: Some(digest_of(v)?), in_base: false }))).collect();
        self.save(root, None, Vec::new(), dirty, Vec::new());
    }

    /// Saves the state after a full status: `base` is the stage applied to
    /// HEAD (computed for `key`), `staged` the HEAD → stage changes, and
    /// `dirty` the paths whose working-tree content (`None`: absent) differs
    /// from `base`.
    pub(crate) fn save_status(
        self,
        root: &Path,
        key: BaseKey,
        base: &Manifest,
        staged: Vec<(String, ChangeKind)>,
        dirty: BTreeMap<String, Option<Digest>>,
    ) {
        let dirty = dirty.into_iter().map(|(k, wt)| {
            let in_base = base.contains_key(&k);
            (k, Dirty { wt, in_base })
        });
        let dirty = dirty.collect();
        let base = base.iter().filter_map(|(k, v)| Some((k.clone(), digest_of(v)?))).collect();
        self.save(root, Some(key), staged, dirty, base);
    }

    fn save(
        self,
        root: &Path,
        base_key: Option<BaseKey>,
        staged: Vec<(String, ChangeKind)>,
        dirty: BTreeMap<String, Dirty>,
        base: Vec<(String, Digest)>,
    ) {
        let mut st = State {
            root: self.root,
            sock: self.sock,
            clock: self.clock,
            base_key,
            staged,
            dirty,
            base: Some(Base::Owned(base)),
            file: None,
            changed: true,
        };
        st.save(root);
    }
}

/// The blob digest of an ID string (`None` for a malformed one, which the
/// manifests given here never hold).
pub(crate) fn digest_of(id: &str) -> Option<Digest> {
    let (_, hex) = crate::ids::split_id(id).ok()?;
    crate::ids::digest_from_hex(hex.as_bytes().try_into().ok()?)
}

impl State {
    /// The base key the state was computed for.
    pub(crate) fn base_key(&self) -> Option<&BaseKey> {
        self.base_key.as_ref()
    }

    /// The staged changes (valid with [`State::base_key`]).
    pub(crate) fn staged(&self) -> &[(String, ChangeKind)] {
        &self.staged
    }

    /// The base, read from the state file on first use.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] for a malformed base section.
    fn base(&mut self) -> Result<&Base> {
        if self.base.is_none() {
            let mut bytes = Vec::new();
            if let Some(mut f) = self.file.take() {
                use std::io::Read;
                f.read_to_end(&mut bytes).map_err(|e| Error::io("read", "fsmonitor state", e))?;
            }
            let base = if bytes.is_empty() { Some(Base::Owned(Vec::new())) } else { Base::parse(bytes, 0) };
            self.base = Some(base.ok_or_else(|| Error::corrupt("fsmonitor state", "base", "not in the expected format"))?);
        }
        Ok(self.base.get_or_insert_with(|| Base::Owned(Vec::new())))
    }

    /// The working tree as `(path, digest)` in key order.
    ///
    /// # Errors
    /// As [`State::base`].
    pub(crate) fn worktree_pairs(&mut self) -> Result<Vec<(String, Digest)>> {
        self.base()?;
        let (Some(base), dirty) = (&self.base, &self.dirty) else { return Ok(Vec::new()) };
        let mut out = Vec::with_capacity(base.len() + dirty.len());
        let mut b = base.iter().peekable();
        let mut d = dirty.iter().peekable();
        loop {
            let take_base = match (b.peek(), d.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((bk, _)), Some((dk, _))) => {
                    if *bk == dk.as_str() {
                        b.next(); // the dirty entry decides
                        false
                    } else {
                        *bk < dk.as_str()
                    }
                }
            };
            if take_base {
                if let Some((k, dg)) = b.next() {
                    out.push((k.to_string(), *dg));
                }
            } else if let Some((k, e)) = d.next() {
                if let Some(dg) = e.wt {
                    out.push((k.clone(), dg));
                }
            }
        }
        Ok(out)
    }

    /// The working tree as a manifest of ID strings.
    ///
    /// # Errors
    /// As [`State::base`].
    pub(crate) fn worktree_manifest(&mut self) -> Result<Manifest> {
        Ok(self.worktree_pairs()?.into_iter().map(|(k, d)| (k, crate::ids::id_from_digest(&d))).collect())
    }

    /// Recomputes the dirty set against a new base (`new_base`: the stage
    /// applied to HEAD for `key`, `(path, digest)` in key order) without
    /// looking at the tree.
    ///
    /// # Errors
    /// As [`State::base`].
    pub(crate) fn rebase(&mut self, key: BaseKey, new_base: Vec<(String, Digest)>, staged: Vec<(String, ChangeKind)>) -> Result<()> {
        let wt = self.worktree_pairs()?;
        let mut dirty = BTreeMap::new();
        let (mut i, mut j) = (0, 0);
        loop {
            match (wt.get(i), new_base.get(j)) {
                (None, None) => break,
                (Some(w), Some(b)) if w.0 == b.0 => {
                    if w.1 != b.1 {
                        dirty.insert(w.0.clone(), Dirty { wt: Some(w.1), in_base: true });
                    }
                    i += 1;
                    j += 1;
                }
                (Some(w), Some(b)) if w.0 < b.0 => {
                    dirty.insert(w.0.clone(), Dirty { wt: Some(w.1), in_base: false });
                    i += 1;
                }
                (Some(w), None) => {
                    dirty.insert(w.0.clone(), Dirty { wt: Some(w.1), in_base: false });
                    i += 1;
                }
                (_, Some(b)) => {
                    dirty.insert(b.0.clone(), Dirty { wt: None, in_base: true });
                    j += 1;
                }
            }
        }
        self.dirty = dirty;
        self.base = Some(Base::Owned(new_base));
        self.file = None;
        self.base_key = Some(key);
        self.staged = staged;
        self.changed = true;
        Ok(())
    }

    /// Unstaged changes (stage → working tree) and untracked files, in key
    /// order. Reads only the dirty set.
    pub(crate) fn changes(&self) -> (Vec<(String, ChangeKind)>, Vec<String>) {
        let mut unstaged = Vec::new();
        let mut untracked = Vec::new();
        for (p, e) in &self.dirty {
            match (e.in_base, e.wt) {
                (true, Some(_)) => unstaged.push((p.clone(), ChangeKind::Modified)),
                (true, None) => unstaged.push((p.clone(), ChangeKind::Deleted)),
                (false, Some(_)) => untracked.push(p.clone()),
                (false, None) => {}
            }
        }
        (unstaged, untracked)
    }

    /// Re-reads the reported `keys` (and what lies under those that are, or
    /// were, directories) and updates the dirty set.
    fn apply(&mut self, root: &Path, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.base()?;
        let Some(base) = &self.base else { return Ok(()) };
        let mut check: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut probe = Probe::new(root);
        for k in keys {
            if crate::paths::validate_rel_path(&k).is_err() {
                continue;
            }
            // Paths below a reported one that is (or was) a directory.
            check.extend(base.keys_under(&k).map(str::to_string));
            let prefix = format!("{k}/");
            check.extend(self.dirty.range(prefix.clone()..).map(|(p, _)| p).take_while(|p| p.starts_with(&prefix)).cloned());
            if probe.is_dir(&k) {
                probe.list_dir(&k, &mut check)?;
            }
            check.insert(k);
        }
        let mut buf = vec![0u8; 64 * 1024];
        for p in check {
            let wt = probe.read(&p, &mut buf)?;
            let in_base = base.get(&p);
            let old = self.dirty.get(&p).copied();
            let new = match (wt, in_base) {
                (None, None) => None,
                (Some(w), Some(b)) if w == *b => None,
                (wt, b) => Some(Dirty { wt, in_base: b.is_some() }),
            };
            if old != new {
                match new {
                    Some(e) => self.dirty.insert(p, e),
                    None => self.dirty.remove(&p),
                };
                self.changed = true;
            }
        }
        Ok(())
    }

    /// Writes the state file when something changed (a failure is logged:
    /// the state is a cache).
    pub(crate) fn save(&mut self, root: &Path) {
        if !self.changed {
            return;
        }
        if let Err(e) = self.base() {
            log::warn!(target: LOG, "fsmonitor: state not saved: {e}");
            return;
        }
        let Some(base) = &self.base else { return };
        let mut h = Vec::with_capacity(256 + self.dirty.len() * 80);
        put_str(&mut h, &self.root);
        put_str(&mut h, &self.sock);
        put_str(&mut h, &self.clock);
        match &self.base_key {
            None => h.push(0),
            Some(k) => {
                h.push(1);
                put_key(&mut h, k);
            }
        }
        put_staged(&mut h, &self.staged);
        put_u32(&mut h, self.dirty.len());
        for (p, e) in &self.dirty {
            put_str(&mut h, p);
            h.push(u8::from(e.wt.is_some()) | (u8::from(e.in_base) << 1));
            if let Some(d) = e.wt {
                h.extend_from_slice(&d);
            }
        }
        let mut w = Vec::with_capacity(16 + h.len() + base.len() * 72);
        w.extend_from_slice(MAGIC);
        w.extend_from_slice(&(h.len() as u64).to_le_bytes());
        w.extend_from_slice(&h);
        base.write(&mut w);
        if w.len() > u32::MAX as usize {
            log::warn!(target: LOG, "fsmonitor: state too large to save");
            return;
        }
        let dir = cache_dir(root);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            log::warn!(target: LOG, "fsmonitor: state not saved: {e}");
            return;
        }
        if let Err(e) = crate::atomic::write_atomic(
            &state_path(root),
            crate::atomic::MUSE_TMP_PREFIX,
            &w,
            crate::atomic::MODE_MUTABLE,
            crate::atomic::Durability::Deferred,
            crate::atomic::Replace::Overwrite,
        ) {
            log::warn!(target: LOG, "fsmonitor: state not saved: {e}");
            return;
        }
        self.changed = false;
    }
}

fn put_u32(w: &mut Vec<u8>, n: usize) {
    w.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len());
    w.extend_from_slice(s.as_bytes());
}

/// A [`BaseKey`]: HEAD's commit (`""`: unborn), then the index stamp.
fn put_key(w: &mut Vec<u8>, k: &BaseKey) {
    put_str(w, k.head.as_deref().unwrap_or(""));
    match k.index {
        None => w.push(0),
        Some(a) => {
            w.push(1);
            for x in a {
                w.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

/// The staged changes: a count, then `(path, kind)` each.
fn put_staged(w: &mut Vec<u8>, staged: &[(String, ChangeKind)]) {
    put_u32(w, staged.len());
    for (p, k) in staged {
        put_str(w, p);
        w.push(match k {
            ChangeKind::Added => 0,
            ChangeKind::Modified => 1,
            ChangeKind::Deleted => 2,
        });
    }
}

/// A bounds-checked reader of the state file.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn digest(&mut self) -> Option<Digest> {
        self.take(32)?.try_into().ok()
    }
    /// What [`put_key`] wrote after the head: the index stamp.
    fn index_stamp(&mut self) -> Option<Option<[i64; 5]>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some([self.i64()?, self.i64()?, self.i64()?, self.i64()?, self.i64()?])),
            _ => None,
        }
    }
    /// What [`put_staged`] wrote.
    fn staged(&mut self) -> Option<Vec<(String, ChangeKind)>> {
        let n = self.u32()?;
        let mut staged = Vec::with_capacity(n.min(self.b.len()));
        for _ in 0..n {
            let p = self.str()?.to_string();
            let k = match self.u8()? {
                0 => ChangeKind::Added,
                1 => ChangeKind::Modified,
                2 => ChangeKind::Deleted,
                _ => return None,
            };
            staged.push((p, k));
        }
        Some(staged)
    }
}

/// Largest header accepted (the dirty set of a tree of ~10M files).
const MAX_HEADER: u64 = 1 << 30;

/// Reads the state file's header (the base stays unread until needed):
/// `Ok(None)` when there is none.
///
/// # Errors
/// [`Error::Io`], or [`Error::Corrupt`] for a file not in this format.
fn load(root: &Path) -> Result<Option<State>> {
    use std::io::Read;
    let path = state_path(root);
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let bad = || Error::corrupt("fsmonitor state", &path, "not in the expected format");
    let mut head = [0u8; 16];
    f.read_exact(&mut head).map_err(|_| bad())?;
    if &head[..8] != MAGIC {
        return Err(bad());
    }
    let len = u64::from_le_bytes(head[8..].try_into().map_err(|_| bad())?);
    if len > MAX_HEADER {
        return Err(bad());
    }
    let mut h = vec![0u8; len as usize];
    f.read_exact(&mut h).map_err(|_| bad())?;
    let mut st = parse_header(&h).ok_or_else(bad)?;
    st.file = Some(f);
    Ok(Some(st))
}

fn parse_header(b: &[u8]) -> Option<State> {
    let mut r = Reader { b, at: 0 };
    let root = r.str()?.to_string();
    let sock = r.str()?.to_string();
    let clock = r.str()?.to_string();
    let base_key = match r.u8()? {
        0 => None,
        1 => {
            let head = r.str()?;
            let head = (!head.is_empty()).then(|| head.to_string());
            let index = r.index_stamp()?;
            Some(BaseKey { head, index })
        }
        _ => return None,
    };
    let staged = r.staged()?;
    let n = r.u32()?;
    let mut dirty = BTreeMap::new();
    for _ in 0..n {
        let p = r.str()?.to_string();
        let flags = r.u8()?;
        if flags > 3 {
            return None;
        }
        let wt = if flags & 1 == 1 { Some(r.digest()?) } else { None };
        dirty.insert(p, Dirty { wt, in_base: flags & 2 == 2 });
    }
    (r.at == b.len()).then_some(())?;
    Some(State { root, sock, clock, base_key, staged, dirty, base: None, file: None, changed: false })
}

/// First bytes of the stage-view cache file.
const VIEW_MAGIC: &[u8; 8] = b"MUSEVIEW";

/// Name of the stage-view cache in `.muse/cache/`.
pub const VIEW_FILE: &str = "stage_view.bin";

/// The stage applied to HEAD's manifest (what `status` compares the working
/// tree with) and the HEAD → stage changes, cached for [`BaseKey`] `key` in
/// `.muse/cache/stage_view.bin`: a clean status reads ~70 bytes per file of
/// binary instead of decoding and verifying HEAD's snapshot record. Written
/// by [`save_view`] whenever status had to compute it; a file for another
/// key, or malformed, is ignored (it is a cache).
pub(crate) struct View {
    base: Base,
    staged: Vec<(String, ChangeKind)>,
}

impl View {
    /// `(path, blob digest)` in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Digest)> + '_ {
        self.base.iter()
    }

    /// The HEAD → stage changes.
    pub(crate) fn staged(&self) -> &[(String, ChangeKind)] {
        &self.staged
    }

    /// The view as owned `(path, digest)` pairs in key order.
    pub(crate) fn into_pairs(self) -> Vec<(String, Digest)> {
        self.base.iter().map(|(k, d)| (k.to_string(), *d)).collect()
    }

    /// The view as a manifest of ID strings.
    pub(crate) fn to_manifest(&self) -> Manifest {
        self.base.iter().map(|(k, d)| (k.to_string(), crate::ids::id_from_digest(d))).collect()
    }
}

/// The cached view for `key`, if there is one.
pub(crate) fn load_view(root: &Path, key: &BaseKey) -> Option<View> {
    let bytes = std::fs::read(cache_dir(root).join(VIEW_FILE)).ok()?;
    let mut r = Reader { b: &bytes, at: 0 };
    if r.take(8)? != VIEW_MAGIC {
        return None;
    }
    let head = r.str()?;
    let index = r.index_stamp()?;
    if head != key.head.as_deref().unwrap_or("") || index != key.index {
        return None;
    }
    let staged = r.staged()?;
    let at = r.at;
    let base = Base::parse(bytes, at)?;
    Some(View { base, staged })
}

/// Saves the view `view` (stage over HEAD) and `staged` for `key` (a
/// failure is logged: it is a cache).
pub(crate) fn save_view(root: &Path, key: &BaseKey, view: &Manifest, staged: &[(String, ChangeKind)]) {
    if !muse_dir(root).is_dir() {
        return;
    }
    let base = Base::Owned(view.iter().filter_map(|(k, v)| Some((k.clone(), digest_of(v)?))).collect());
    let mut w = Vec::with_capacity(64 + base.len() * 72);
    w.extend_from_slice(VIEW_MAGIC);
    put_key(&mut w, key);
    put_staged(&mut w, staged);
    base.write(&mut w);
    if w.len() > u32::MAX as usize {
        return;
    }
    let dir = cache_dir(root);
    let written = std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e)).and_then(|_| {
        crate::atomic::write_atomic(
            &dir.join(VIEW_FILE),
            crate::atomic::MUSE_TMP_PREFIX,
            &w,
            crate::atomic::MODE_MUTABLE,
            crate::atomic::Durability::Deferred,
            crate::atomic::Replace::Overwrite,
        )
    });
    if let Err(e) = written {
        log::warn!("stage view cache not saved: {e}");
    }
}

/// Reads single paths of the working tree with the walk's rules.
struct Probe<'a> {
    root: &'a Path,
    /// Per directory key (`""`, `"a/b"`): its `.museignore` chain, or
    /// `None` when the directory is ignored, missing, or not a real
    /// directory (a symlink, a file).
    dirs: std::collections::HashMap<String, Option<Option<Arc<IgnoreNode>>>>,
}

impl<'a> Probe<'a> {
    fn new(root: &'a Path) -> Probe<'a> {
        Probe { root, dirs: std::collections::HashMap::new() }
    }

    /// The ignore chain in force inside directory `dir` (a key, `""` for the
    /// root); `None` when `dir` is not a real, non-ignored directory of the
    /// tree.
    fn dir(&mut self, dir: &str) -> Result<Option<Option<Arc<IgnoreNode>>>> {
        if let Some(v) = self.dirs.get(dir) {
            return Ok(v.clone());
        }
        let v = if dir.is_empty() {
            self.node_for(dir, None)?
        } else {
            let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
            match self.dir(parent)? {
                None => None,
                Some(chain) => {
                    let real = std::fs::symlink_metadata(self.root.join(dir)).map(|m| m.is_dir()).unwrap_or(false);
                    if !real || excluded_name(name) || is_ignored(chain.as_ref(), dir, true) {
                        None
                    } else {
                        self.node_for(dir, chain)?
                    }
                }
            }
        };
        self.dirs.insert(dir.to_string(), v.clone());
        Ok(v)
    }

    fn node_for(&self, dir: &str, parent: Option<Arc<IgnoreNode>>) -> Result<Option<Option<Arc<IgnoreNode>>>> {
        let path = if dir.is_empty() { self.root.to_path_buf() } else { self.root.join(dir) };
        let mut warnings = Vec::new();
        let m = crate::walk::load_ignore_file(&path, &mut |w| warnings.push(w))?;
        for w in warnings {
            log::warn!("{w}");
        }
        let prefix_len = if dir.is_empty() { 0 } else { dir.len() + 1 };
        Ok(Some(match m {
            Some(matcher) => Some(Arc::new(IgnoreNode { prefix_len, matcher, parent })),
            None => parent,
        }))
    }

    /// Whether `key` is a real directory of the tree (not ignored).
    fn is_dir(&mut self, key: &str) -> bool {
        std::fs::symlink_metadata(self.root.join(key)).map(|m| m.is_dir()).unwrap_or(false)
            && matches!(self.dir(key), Ok(Some(_)))
    }

    /// Adds every file key under directory `dir` (recursively, with the
    /// walk's rules) to `out`.
    fn list_dir(&mut self, dir: &str, out: &mut std::collections::BTreeSet<String>) -> Result<()> {
        let mut stack = vec![dir.to_string()];
        while let Some(d) = stack.pop() {
            let Some(chain) = self.dir(&d)? else { continue };
            let path = self.root.join(&d);
            let rd = match std::fs::read_dir(&path) {
                Ok(rd) => rd,
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(Error::io("read directory", &path, e)),
            };
            for ent in rd {
                let ent = ent.map_err(|e| Error::io("read directory", &path, e))?;
                let Some(name) = ent.file_name().to_str().map(str::to_string) else { continue };
                if excluded_name(&name) || name.contains('\\') {
                    continue;
                }
                let key = format!("{d}/{name}");
                match ent.file_type() {
                    Ok(t) if t.is_dir() && !is_ignored(chain.as_ref(), &key, true) => stack.push(key),
                    Ok(t) if t.is_file() => {
                        out.insert(key);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The digest of file `key` as the walk would record it: `None` when it
    /// is absent, not a regular file, ignored, or below something that is
    /// not a real directory.
    fn read(&mut self, key: &str, buf: &mut [u8]) -> Result<Option<Digest>> {
        let (parent, name) = key.rsplit_once('/').unwrap_or(("", key));
        if excluded_name(name) || name.contains('\\') {
            return Ok(None);
        }
        let Some(chain) = self.dir(parent)? else { return Ok(None) };
        if is_ignored(chain.as_ref(), key, false) {
            return Ok(None);
        }
        Ok(crate::walk::hash_one(&self.root.join(key), buf)?.map(|(_, d)| d))
    }
}

/// Names the walk leaves out at any depth: `.muse`, `.git` and their
/// aliases.
fn excluded_name(name: &str) -> bool {
    crate::paths::muse_alias_reason(name).is_some() || crate::paths::git_alias_reason(name).is_some()
}

#[cfg(feature = "watchman")]
mod watchman {
    //! The watchman client (the `watchman_client` crate on a one-thread
    //! tokio runtime).

    use std::path::{Path, PathBuf};

    use watchman_client::expr::{DirNameTerm, Expr, NameTerm};
    use watchman_client::prelude::*;

    pub(super) struct Watchman {
        rt: tokio::runtime::Runtime,
        client: Client,
        root: ResolvedRoot,
        /// The daemon's socket.
        pub(super) sock: String,
    }

    /// `WATCHMAN_SOCK`, when set and not empty.
    fn sock_from_env() -> Option<String> {
        std::env::var_os("WATCHMAN_SOCK").filter(|s| !s.is_empty()).map(|s| s.to_string_lossy().into_owned())
    }

    /// The socket: `WATCHMAN_SOCK`, else `watchman get-sockname` (which
    /// starts the daemon when it is not running).
    fn discover() -> Result<String, String> {
        if let Some(s) = sock_from_env() {
            return Ok(s);
        }
        let out = std::process::Command::new("watchman")
            .args(["--output-encoding", "json", "--no-pretty", "get-sockname"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run watchman: {e}"))?;
        if !out.status.success() {
            return Err(format!("watchman get-sockname: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("watchman get-sockname: {e}"))?;
        v.get("sockname").and_then(|s| s.as_str()).map(str::to_string).ok_or_else(|| {
            format!("watchman get-sockname: {}", v.get("error").and_then(|e| e.as_str()).unwrap_or("no sockname"))
        })
    }

    impl Watchman {
        /// Connects (to `hint` first, the socket the last command used) and
        /// watches `root`.
        pub(super) fn connect(root: &Path, hint: Option<&str>) -> Result<Watchman, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("runtime: {e}"))?;
            let try_sock = |sock: &str| {
                rt.block_on(async {
                    let client = Connector::new().unix_domain_socket(sock).connect().await.map_err(|e| e.to_string())?;
                    let canon = CanonicalPath::with_canonicalized_path(root.to_path_buf());
                    let resolved = client.resolve_root(canon).await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((client, resolved))
                })
            };
            let hinted = hint
                .filter(|h| !h.is_empty() && sock_from_env().is_none())
                .and_then(|h| try_sock(h).ok().map(|c| (c, h.to_string())));
            let ((client, root), sock) = match hinted {
                Some(c) => c,
                None => {
                    let sock = discover()?;
                    (try_sock(&sock)?, sock)
                }
            };
            Ok(Watchman { rt, client, root, sock })
        }

        /// The current clock (after a sync with the file system).
        pub(super) fn clock(&self) -> Result<String, String> {
            match self.rt.block_on(self.client.clock(&self.root, SyncTimeout::Default)).map_err(|e| e.to_string())? {
                ClockSpec::StringClock(s) => Ok(s),
                other => Err(format!("unexpected clock {other:?}")),
            }
        }

        /// `(clock now, paths changed since `since`)`; `None` paths for a
        /// fresh instance. Paths are relative to the root; `.muse` is left
        /// out.
        pub(super) fn changes_since(&self, since: &str) -> Result<(String, Option<Vec<PathBuf>>), String> {
            let muse = PathBuf::from(crate::paths::MUSE_DIR);
            let expr = Expr::Not(Box::new(Expr::Any(vec![
                Expr::Name(NameTerm { paths: vec![muse.clone()], wholename: true }),
                Expr::DirName(DirNameTerm { path: muse, depth: None }),
            ])));
            let q: QueryResult<NameOnly> = self
                .rt
                .block_on(self.client.query(
                    &self.root,
                    QueryRequestCommon {
                        since: Some(Clock::Spec(ClockSpec::StringClock(since.to_string()))),
                        expression: Some(expr),
                        empty_on_fresh_instance: true,
                        ..Default::default()
                    },
                ))
                .map_err(|e| e.to_string())?;
            let clock = match q.clock {
                Clock::Spec(ClockSpec::StringClock(s)) => s,
                other => return Err(format!("unexpected clock {other:?}")),
            };
            if q.is_fresh_instance {
                return Ok((clock, None));
            }
            Ok((clock, Some(q.files.unwrap_or_default().into_iter().map(|f| f.name.into_inner()).collect())))
        }
    }
}

#[cfg(not(feature = "watchman"))]
mod watchman {
    //! Built without the `watchman` feature: the monitor is never available.
    use std::path::{Path, PathBuf};

    pub(super) struct Watchman {
        pub(super) sock: String,
    }

    impl Watchman {
        pub(super) fn connect(_root: &Path, _hint: Option<&str>) -> Result<Watchman, String> {
            Err("muse was built without the `watchman` feature".into())
        }
        pub(super) fn clock(&self) -> Result<String, String> {
            Err(String::new())
        }
        pub(super) fn changes_since(&self, _since: &str) -> Result<(String, Option<Vec<PathBuf>>), String> {
            Err(String::new())
        }
    }
}

/// The working tree's manifest for a command: from the monitor when it can
/// tell, else the stat-cached walk (saving a new state when the monitor is
/// on).
///
/// # Errors
/// As [`crate::walk::walk_workdir`].
pub(crate) fn worktree_manifest(root: &Path) -> Result<Manifest> {
    match refresh(root)? {
        Refreshed::Known(mut st) => {
            let m = st.worktree_manifest()?;
            st.save(root);
            Ok(m)
        }
        Refreshed::Walk(pending) => {
            let m = crate::walk::build_snapshot_manifest(root, &crate::walk::WalkOptions::default())?;
            if let Some(p) = pending {
                p.save_walk(root, &m);
            }
            Ok(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> Digest {
        [b; 32]
    }

    #[test]
    fn base_section_round_trips_and_finds_keys() {
        let owned = Base::Owned(vec![("a".into(), d(1)), ("a/b".into(), d(2)), ("a/c/é".into(), d(3)), ("b".into(), d(4))]);
        let mut w = Vec::new();
        owned.write(&mut w);
        let raw = Base::parse(w, 0).expect("parses");
        assert_eq!(raw.len(), 4);
        assert_eq!(raw.get("a/c/é"), Some(&d(3)));
        assert_eq!(raw.get("a/c"), None);
        assert_eq!(raw.keys_under("a").collect::<Vec<_>>(), ["a/b", "a/c/é"]);
        assert_eq!(raw.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>(), ["a", "a/b", "a/c/é", "b"]);
    }

    #[test]
    fn malformed_base_sections_are_refused() {
        let unsorted = Base::Owned(vec![("b".into(), d(1)), ("a".into(), d(2))]);
        let mut w = Vec::new();
        unsorted.write(&mut w);
        assert!(Base::parse(w.clone(), 0).is_none(), "unsorted");
        let dup = Base::Owned(vec![("a".into(), d(1)), ("a".into(), d(2))]);
        let mut w2 = Vec::new();
        dup.write(&mut w2);
        assert!(Base::parse(w2, 0).is_none(), "duplicate");
        let ok = Base::Owned(vec![("z".into(), d(1)), ("é".into(), d(2))]);
        let mut w3 = Vec::new();
        ok.write(&mut w3);
        for cut in 0..w3.len() {
            assert!(Base::parse(w3[..cut].to_vec(), 0).is_none(), "truncated at {cut}");
            // The same section behind a header of 3 bytes.
            let mut behind = vec![7u8; 3];
            behind.extend_from_slice(&w3[..cut]);
            assert!(Base::parse(behind, 3).is_none(), "truncated at {cut} behind a header");
        }
        // An end offset inside a multi-byte character.
        let mut bad = w3.clone();
        bad[8] = 2; // the second key would end at byte 2 of "zé"
        assert_eq!(&bad[4..8], &1u32.to_le_bytes());
        assert!(Base::parse(bad, 0).is_none());
        let mut behind = vec![7u8; 3];
        behind.extend_from_slice(&w3);
        let raw = Base::parse(behind, 3).expect("parses behind a header");
        assert_eq!(raw.iter().map(|(k, d)| (k.to_string(), *d)).collect::<Vec<_>>(), [("z".to_string(), d(1)), ("é".to_string(), d(2))]);
        assert!(Base::parse(w3, 0).is_some());
    }

    #[test]
    fn header_round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".muse")).unwrap();
        let p = Pending { root: "/r".into(), sock: "/s".into(), clock: "c:1:2".into() };
        let mut base = Manifest::new();
        base.insert("a.txt".into(), crate::ids::id_from_digest(&d(1)));
        base.insert("b.txt".into(), crate::ids::id_from_digest(&d(2)));
        let mut dirty = BTreeMap::new();
        dirty.insert("a.txt".to_string(), Some(d(9)));
        dirty.insert("b.txt".to_string(), None);
        dirty.insert("new.txt".to_string(), Some(d(7)));
        let key = BaseKey { head: Some("sha256:x".into()), index: Some([1, 2, 3, 4, 5]) };
        p.save_status(root, key.clone(), &base, vec![("b.txt".into(), ChangeKind::Added)], dirty);
        let mut st = load(root).unwrap().expect("saved");
        assert_eq!((st.root.as_str(), st.sock.as_str(), st.clock.as_str()), ("/r", "/s", "c:1:2"));
        assert_eq!(st.base_key(), Some(&key));
        assert_eq!(st.staged(), &[("b.txt".to_string(), ChangeKind::Added)]);
        let (unstaged, untracked) = st.changes();
        assert_eq!(unstaged, vec![("a.txt".to_string(), ChangeKind::Modified), ("b.txt".to_string(), ChangeKind::Deleted)]);
        assert_eq!(untracked, vec!["new.txt".to_string()]);
        assert_eq!(st.worktree_pairs().unwrap(), vec![("a.txt".to_string(), d(9)), ("new.txt".to_string(), d(7))]);
        // Rebased onto a base that has the tree's content: nothing is dirty
        // but what differs.
        let mut nb = Manifest::new();
        nb.insert("a.txt".into(), crate::ids::id_from_digest(&d(9)));
        nb.insert("c.txt".into(), crate::ids::id_from_digest(&d(3)));
        let nb = nb.iter().map(|(k, v)| (k.clone(), digest_of(v).unwrap())).collect();
        st.rebase(BaseKey { head: None, index: None }, nb, Vec::new()).unwrap();
        let (unstaged, untracked) = st.changes();
        assert_eq!(unstaged, vec![("c.txt".to_string(), ChangeKind::Deleted)]);
        assert_eq!(untracked, vec!["new.txt".to_string()]);
        for junk in [&b""[..], b"MUSEFSM1", b"MUSEFSM1\xff\xff\xff\xff\xff\xff\xff\xff", b"NOTMUSE!\0\0\0\0\0\0\0\0"] {
            std::fs::write(state_path(root), junk).unwrap();
            assert!(load(root).is_err(), "{junk:?}");
        }
    }
}
