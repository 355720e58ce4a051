//! The working tree against HEAD: the stage (git's index), status, commit,
//! checkout (SPEC §10: staging follows git).
//!
//! The stage is `.muse/index.msgpack`: a map `{path: blob_id | nil}` of the
//! changes recorded on top of HEAD's manifest (`nil` = remove). `add` records
//! what the working tree holds for the given paths, `commit` applies the
//! stage to HEAD's manifest (every other tracked file carries forward) and
//! empties it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::atomic::{remove_if_present, write_atomic, Replace, MODE_MUTABLE, MUSE_TMP_PREFIX};
use crate::batch::Batch;
use crate::commits::load_commit;
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::operation::{Operation, OperationKind, Phase};
use crate::workdir::WorkDir;
use crate::paths::{muse_dir, validate_rel_path};
use crate::records::{now_iso, read_capped, CommitRecord, SnapshotRecord, MAX_MSGPACK_BYTES};
use crate::refs::{read_branch_ref, read_head, write_head_branch, Head};
use crate::snapshots::read_snapshot;

/// A manifest: POSIX relative path → blob ID, sorted.
pub type Manifest = BTreeMap<String, String>;

/// Path of the stage file.
pub fn index_path(root: &Path) -> PathBuf {
    muse_dir(root).join("index.msgpack")
}

/// The stage: changes recorded on top of HEAD (`None` = remove the path).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    /// `{path: Some(blob_id) | None}`.
    pub entries: BTreeMap<String, Option<String>>,
}

impl Stage {
    /// `base` with the stage applied: borrowed when the stage is empty
    /// (a clean stage costs no copy of HEAD's manifest).
    pub fn view<'a>(&self, base: &'a Manifest) -> std::borrow::Cow<'a, Manifest> {
        if self.entries.is_empty() {
            std::borrow::Cow::Borrowed(base)
        } else {
            std::borrow::Cow::Owned(self.apply_to(base))
        }
    }

    /// `base` with the stage applied.
    pub fn apply_to(&self, base: &Manifest) -> Manifest {
        let mut m = base.clone();
        for (p, v) in &self.entries {
            match v {
                Some(oid) => m.insert(p.clone(), oid.clone()),
                None => m.remove(p),
            };
        }
        m
    }
}

/// Reads the stage (empty when absent).
///
/// # Errors
/// [`Error::Corrupt`] for an undecodable file, [`Error::Io`].
pub fn read_stage(root: &Path) -> Result<Stage> {
    let path = index_path(root);
    let Some(bytes) = read_capped(&path, "index", MAX_MSGPACK_BYTES)? else {
        return Ok(Stage::default());
    };
    let stage: Stage = rmp_serde::from_slice(&bytes).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
    for (p, v) in &stage.entries {
        validate_rel_path(p).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
        if let Some(oid) = v {
            crate::ids::validate_id(oid).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
        }
    }
    Ok(stage)
}

/// Writes the stage atomically (removes the file when empty).
///
/// # Errors
/// [`Error::Io`].
pub fn write_stage(root: &Path, stage: &Stage) -> Result<()> {
    let path = index_path(root);
    if stage.entries.is_empty() {
        return remove_if_present(&path);
    }
    let bytes = rmp_serde::to_vec_named(stage).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let d = durability_for(root, None)?;
    write_atomic(&path, MUSE_TMP_PREFIX, &bytes, MODE_MUTABLE, d, Replace::Overwrite)?;
    Ok(())
}

/// The branch HEAD is on (`None` when detached), HEAD's commit (`None` on an
/// unborn branch), and its manifest (empty when unborn).
///
/// # Errors
/// [`Error::NotFound`] when HEAD's commit or snapshot is missing,
/// [`Error::Corrupt`], [`Error::Io`].
pub fn head_state(root: &Path) -> Result<(Option<String>, Option<String>, Manifest)> {
    let (branch, commit) = match read_head(root)? {
        Head::Branch(b) => {
            let c = read_branch_ref(root, &b)?;
            (Some(b), c)
        }
        Head::Detached(c) => (None, Some(c)),
    };
    let manifest = match &commit {
        Some(c) => commit_manifest(root, c).map_err(|e| match e {
            Error::NotFound { what: "commit", name } => Error::Missing {
                what: "commit",
                id: name,
                referenced_by: match &branch {
                    Some(b) => format!("refs/heads/{b}"),
                    None => "HEAD".into(),
                },
            },
            e => e,
        })?,
        None => Manifest::new(),
    };
    Ok((branch, commit, manifest))
}

/// The manifest of commit `id`.
///
/// # Errors
/// [`Error::NotFound`] for a missing commit; [`Error::Missing`] (an
/// integrity error) when the commit exists but its snapshot does not;
/// [`Error::Corrupt`].
pub fn commit_manifest(root: &Path, id: &str) -> Result<Manifest> {
    let rec = load_commit(root, id)?;
    let snap = read_snapshot(root, &rec.snapshot_id)?.ok_or_else(|| Error::Missing {
        what: "snapshot",
        id: rec.snapshot_id.clone(),
        referenced_by: format!("commit {id}"),
    })?;
    Ok(snap.manifest)
}

/// [`commit_manifest`], or the empty manifest for `None`.
fn manifest_of(root: &Path, id: Option<&str>) -> Result<Manifest> {
    match id {
        Some(c) => commit_manifest(root, c),
        None => Ok(Manifest::new()),
    }
}

/// Refuses to go on while an operation is interrupted (the journal in
/// [`Phase::Applying`]).
fn refuse_if_interrupted(root: &Path) -> Result<Option<Operation>> {
    match crate::operation::read(root)? {
        Some(op) if op.phase == Phase::Applying => Err(Error::InvalidInput(op.describe())),
        other => Ok(other),
    }
}

/// The working tree's manifest (the stat-cached walk of SPEC §5).
///
/// # Errors
/// As [`crate::snapshot::build_snapshot_manifest`].
pub fn worktree_manifest(root: &Path) -> Result<Manifest> {
    crate::snapshot::build_snapshot_manifest(root, &crate::snapshot::WalkOptions::default())
}

/// True when `path` is selected by `spec` (`.` or empty selects all; else
/// the path itself or anything below it).
pub fn pathspec_matches(spec: &str, path: &str) -> bool {
    let spec = spec.trim_end_matches('/');
    spec.is_empty() || spec == "." || path == spec || (path.starts_with(spec) && path.as_bytes().get(spec.len()) == Some(&b'/'))
}

/// What [`add`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AddReport {
    /// Paths staged as added or modified.
    pub staged: Vec<String>,
    /// Paths staged as removed.
    pub removed: Vec<String>,
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Bytes of the blobs newly stored.
    pub bytes_written: u64,
}

/// Files [`add`] reads and checks per parallel round (with
/// [`ADD_INLINE_MAX`], at most 32 MiB read ahead).
const ADD_CHUNK: usize = 128;

/// Files up to this size (256 KiB) are read whole by [`add`] and handed to
/// the batch as bytes; larger ones are streamed.
const ADD_INLINE_MAX: u64 = 256 * 1024;

/// What [`read_small`] found.
enum Small {
    /// The object is already stored.
    Stored,
    /// The file's bytes, which hash to the expected ID.
    Bytes(Vec<u8>),
    /// The file's bytes no longer hash to the expected ID.
    Changed,
}

/// Reads the working-tree file `rel` for [`add`] when it is at most
/// [`ADD_INLINE_MAX`] bytes and its object `oid` is not stored yet: `None`
/// when it is larger (or no longer a regular file: the batch's streaming
/// path then reports it).
fn read_small(root: &Path, rel: &str, oid: &str) -> Result<Option<Small>> {
    use std::io::Read;
    if crate::object_store::has_object_known(root, oid)? {
        return Ok(Some(Small::Stored));
    }
    let path = root.join(rel);
    let f = match crate::stat_cache::open_for_hash(&path) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let md = f.metadata().ctx("stat", &path)?;
    if !md.is_file() || md.len() > ADD_INLINE_MAX {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(md.len() as usize);
    f.take(ADD_INLINE_MAX + 1).read_to_end(&mut bytes).ctx("read", &path)?;
    if bytes.len() as u64 > ADD_INLINE_MAX {
        return Ok(None);
    }
    if crate::ids::blob_id(&bytes) != oid {
        return Ok(Some(Small::Changed));
    }
    Ok(Some(Small::Bytes(bytes)))
}

/// Stages what the working tree holds for `pathspecs` (repository-relative;
/// `"."` is everything): new and modified files are stored as blobs and
/// staged, tracked files missing from the working tree are staged as
/// removals (git 2.x `add`). `progress` is called with (done, total) while
/// blobs are stored. The stage is read, changed and written back under the
/// index lock ([`crate::lock::index_lock`]), so concurrent `add`s all land.
///
/// # Errors
/// [`Error::InvalidInput`] for a pathspec that matches nothing or while an
/// operation is interrupted; [`Error::Locked`]; walker and store errors.
pub fn add(root: &Path, pathspecs: &[String], progress: &mut dyn FnMut(usize, usize)) -> Result<AddReport> {
    let _index = crate::lock::index_lock(root)?;
    add_locked(root, pathspecs, progress)
}

/// [`add`] with the index lock held by the caller.
fn add_locked(root: &Path, pathspecs: &[String], progress: &mut dyn FnMut(usize, usize)) -> Result<AddReport> {
    refuse_if_interrupted(root)?;
    // Blobs staged here are reachable only through the stage once it is
    // written: hold the write lock (shared) until then, so that `gc
    // --prune` never sees them unreachable.
    let _writing = crate::lock::write_lock(root, crate::lock::LockMode::Shared)?;
    let (_, _, head) = head_state(root)?;
    let mut stage = read_stage(root)?;
    let staged_view = stage.apply_to(&head);
    let wt = worktree_manifest(root)?;
    for spec in pathspecs {
        let hit = wt.keys().chain(staged_view.keys()).any(|p| pathspec_matches(spec, p));
        if !hit {
            return Err(Error::InvalidInput(format!("pathspec {spec:?} did not match any files")));
        }
    }
    let selected = |p: &str| pathspecs.iter().any(|s| pathspec_matches(s, p));
    let mut report = AddReport::default();
    let mut to_store: Vec<(String, String)> = Vec::new();
    for (p, oid) in &wt {
        if selected(p) && staged_view.get(p) != Some(oid) {
            to_store.push((p.clone(), oid.clone()));
        }
    }
    let removed: Vec<String> =
        staged_view.keys().filter(|p| selected(p) && !wt.contains_key(*p)).cloned().collect();

    let mut batch = Batch::begin(root)?;
    let total = to_store.len();
    let changed = |p: &str| Error::InvalidInput(format!("{p} changed while it was being added; run add again"));
    // Files are read (and checked against the walk's hash) on all cores a
    // chunk at a time; small ones go to the batch's staging writers as
    // bytes, larger ones are streamed by the batch.
    let mut done = 0;
    for chunk in to_store.chunks(ADD_CHUNK) {
        let read: Vec<Result<Option<Small>>> =
            chunk.par_iter().map(|(p, oid)| read_small(root, p, oid)).collect();
        for ((p, oid), r) in chunk.iter().zip(read) {
            let written = match r? {
                Some(Small::Stored) => None,
                Some(Small::Bytes(bytes)) => {
                    if batch.write_verified_object(oid, &bytes)? {
                        Some(bytes.len() as u64)
                    } else {
                        None
                    }
                }
                Some(Small::Changed) => return Err(changed(p)),
                None => {
                    let file = root.join(p);
                    match batch.write_object_from_file(oid, &file) {
                        Ok(true) => Some(std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)),
                        Ok(false) => None,
                        Err(Error::HashMismatch { .. }) => return Err(changed(p)),
                        Err(e) => return Err(e),
                    }
                }
            };
            if let Some(n) = written {
                report.blobs_written += 1;
                report.bytes_written += n;
            }
            stage_entry(&mut stage, &head, p, Some(oid.clone()));
            report.staged.push(p.clone());
            done += 1;
            progress(done, total);
        }
    }
    for p in removed {
        stage_entry(&mut stage, &head, &p, None);
        report.removed.push(p);
    }
    batch.commit()?;
    write_stage(root, &stage)?;
    Ok(report)
}

/// Records `value` for `path` in the stage, dropping the entry when it
/// equals HEAD.
fn stage_entry(stage: &mut Stage, head: &Manifest, path: &str, value: Option<String>) {
    if head.get(path) == value.as_ref() {
        stage.entries.remove(path);
    } else {
        stage.entries.insert(path.to_string(), value);
    }
}

/// Kind of a change between two manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Only in the newer side.
    Added,
    /// In both, different blobs.
    Modified,
    /// Only in the older side.
    Deleted,
}

impl ChangeKind {
    /// `A`, `M` or `D` (git's `--name-status` letters).
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'M',
            ChangeKind::Deleted => 'D',
        }
    }
    /// `added`, `modified` or `deleted`.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// The changes from `old` to `new`, sorted by path: one merge pass over
/// the two sorted maps.
pub fn diff_manifests(old: &Manifest, new: &Manifest) -> Vec<(String, ChangeKind)> {
    diff_sorted(old.iter().map(|(k, v)| (k.as_str(), v)), new.iter().map(|(k, v)| (k.as_str(), v)), |a, b| a == b)
}

/// [`diff_manifests`] over two `(path, value)` sequences sorted by path
/// (each path once), whose values `same` compares.
fn diff_sorted<'a, 'b, A, B>(
    old: impl Iterator<Item = (&'a str, A)>,
    new: impl Iterator<Item = (&'b str, B)>,
    mut same: impl FnMut(&A, &B) -> bool,
) -> Vec<(String, ChangeKind)> {
    use std::cmp::Ordering;
    let mut out = Vec::new();
    let (mut a, mut b) = (old.peekable(), new.peekable());
    loop {
        let ord = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match ord {
            Ordering::Less => {
                let (p, _) = a.next().expect("peeked");
                out.push((p.to_owned(), ChangeKind::Deleted));
            }
            Ordering::Greater => {
                let (p, _) = b.next().expect("peeked");
                out.push((p.to_owned(), ChangeKind::Added));
            }
            Ordering::Equal => {
                let ((p, x), (_, y)) = (a.next().expect("peeked"), b.next().expect("peeked"));
                if !same(&x, &y) {
                    out.push((p.to_owned(), ChangeKind::Modified));
                }
            }
        }
    }
    out
}

/// The state of the working tree against HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The branch HEAD is on (`None` when detached).
    pub branch: Option<String>,
    /// HEAD's commit (`None` on an unborn branch).
    pub head: Option<String>,
    /// Staged changes (HEAD → stage).
    pub staged: Vec<(String, ChangeKind)>,
    /// Changes of tracked files not staged (stage → working tree); never
    /// `Added`.
    pub unstaged: Vec<(String, ChangeKind)>,
    /// Files in the working tree that are neither in HEAD nor staged.
    pub untracked: Vec<String>,
    /// The checkout or merge in progress (interrupted, or a merge waiting
    /// for its conflicts to be resolved), from `.muse/OPERATION`.
    pub operation: Option<Operation>,
}

impl Status {
    /// True when nothing is staged, modified, deleted or untracked.
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty() && self.untracked.is_empty()
    }
}

/// Computes [`Status`].
///
/// # Errors
/// Walker and store errors.
pub fn status(root: &Path) -> Result<Status> {
    // HEAD's manifest and the stage are read while the working tree is
    // walked: a big manifest's decoding and verification overlap the walk.
    let (head_side, wt) = rayon::join(
        || -> Result<_> {
            let (branch, head, head_manifest) = head_state(root)?;
            Ok((branch, head, head_manifest, read_stage(root)?))
        },
        || crate::snapshot::walk_manifest(root, &crate::snapshot::WalkOptions::default()),
    );
    let (branch, head, head_manifest, stage) = head_side?;
    let wt = wt?;
    let staged_view = stage.view(&head_manifest);
    let staged = diff_manifests(&head_manifest, &staged_view);
    let mut unstaged = Vec::new();
    let mut untracked = Vec::new();
    // The walk's raw digests against the stage's IDs: no ID string is
    // made per file.
    let mut buf = [0u8; crate::ids::ID_LEN];
    let tracked = staged_view.iter().map(|(k, v)| (k.as_str(), v));
    for (p, kind) in diff_sorted(tracked, wt.iter(), |id, d| **id == crate::ids::write_id(d, &mut buf)) {
        match kind {
            ChangeKind::Added => untracked.push(p),
            k => unstaged.push((p, k)),
        }
    }
    let operation = crate::operation::read(root)?;
    Ok(Status { branch, head, staged, unstaged, untracked, operation })
}

/// Options of [`commit`].
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Commit message.
    pub message: String,
    /// Author.
    pub author: String,
    /// Stage every change of tracked files first (`commit -a`).
    pub all: bool,
    /// Allow a commit that changes nothing.
    pub allow_empty: bool,
    /// Provenance fields.
    pub agent_id: String,
    /// Provenance fields.
    pub model_id: String,
    /// Provenance fields.
    pub toolchain_id: String,
    /// Provenance fields.
    pub prompt_hash: String,
}

/// Records the stage on top of HEAD: the new snapshot is HEAD's manifest
/// with the stage applied; snapshot and commit are written in one batch,
/// then the branch moves by compare-and-swap from the commit it was read
/// at, then the stage is emptied.
///
/// Runs under the index lock. A merge waiting for its conflicts is
/// concluded (two parents, the journal removed).
///
/// # Errors
/// [`Error::InvalidInput`] "nothing to commit" (unless `allow_empty`) or
/// while an operation is interrupted; [`Error::RefConflict`] when the
/// branch moved meanwhile; [`Error::Locked`]; store errors.
pub fn commit(root: &Path, opts: &CommitOptions) -> Result<CommitRecord> {
    let _index = crate::lock::index_lock(root)?;
    let op = refuse_if_interrupted(root)?;
    if opts.all {
        let st = status(root)?;
        let tracked: Vec<String> = st.unstaged.iter().map(|(p, _)| p.clone()).collect();
        if !tracked.is_empty() {
            add_locked(root, &tracked, &mut |_, _| {})?;
        }
    }
    let (branch, head, head_manifest) = head_state(root)?;
    let stage = read_stage(root)?;
    let manifest = stage.apply_to(&head_manifest);
    let merge_head = read_merge_head(root)?;
    if merge_head.is_some() {
        let wt = worktree_manifest(root)?;
        let unresolved: Vec<&String> = manifest.iter().filter(|(p, o)| wt.get(*p) != Some(*o)).map(|(p, _)| p).collect();
        if !unresolved.is_empty() && !opts.all {
            let names: Vec<&str> = unresolved.iter().map(|s| s.as_str()).collect();
            return Err(Error::InvalidInput(format!(
                "merge in progress: resolve and add these paths first: {}",
                names.join(", ")
            )));
        }
    }
    if manifest == head_manifest && head.is_some() && !opts.allow_empty && merge_head.is_none() {
        return Err(Error::InvalidInput("nothing to commit (use add, or --allow-empty)".into()));
    }
    if manifest.is_empty() && head.is_none() && !opts.allow_empty {
        return Err(Error::InvalidInput("nothing to commit (use add, or --allow-empty)".into()));
    }
    let snap = SnapshotRecord::new(manifest);
    let mut rec = CommitRecord {
        branch: branch.clone().unwrap_or_default(),
        snapshot_id: snap.snapshot_id.clone(),
        message: opts.message.clone(),
        committed_at: now_iso(),
        parent_commit_id: head.clone(),
        parent2_commit_id: merge_head.clone(),
        author: opts.author.clone(),
        agent_id: opts.agent_id.clone(),
        model_id: opts.model_id.clone(),
        toolchain_id: opts.toolchain_id.clone(),
        prompt_hash: opts.prompt_hash.clone(),
        ..Default::default()
    };
    rec.commit_id = rec.compute_id();
    // Stored as a delta on the parent's snapshot (SPEC §3).
    let base_snapshot = match &head {
        Some(h) => Some(load_commit(root, h)?.snapshot_id),
        None => None,
    };
    let mut batch = Batch::begin(root)?;
    batch.write_snapshot_with_base(&snap, base_snapshot.as_deref())?;
    batch.write_commit(&rec)?;
    match &branch {
        Some(b) => batch.compare_and_swap_branch_ref(b, head.as_deref(), &rec.commit_id)?,
        None => {}
    }
    batch.commit()?;
    if branch.is_none() {
        crate::refs::write_head_detached(root, &rec.commit_id)?;
    }
    write_stage(root, &Stage::default())?;
    if merge_head.is_some() {
        std::fs::remove_file(merge_head_path(root)).ctx("remove", &merge_head_path(root))?;
    }
    if op.is_some() {
        crate::operation::clear(root)?;
    }
    Ok(rec)
}

/// What [`checkout`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckoutReport {
    /// Files written.
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// An interrupted operation (its target) that this call finished first.
    pub resumed: Option<String>,
}

/// The paths of `to` that going from `from` writes (all of `to` with
/// `rewrite_all`).
fn paths_to_write<'a>(from: &'a Manifest, to: &'a Manifest, rewrite_all: bool) -> impl Iterator<Item = &'a str> + 'a {
    to.iter().filter(move |(p, oid)| rewrite_all || from.get(*p) != Some(*oid)).map(|(p, _)| p.as_str())
}

/// Refuses (changing nothing) when a symlink, an untracked file or a
/// directory stands where going from `from` to `to` must write: git's
/// "beyond a symbolic link" and "untracked working tree file would be
/// overwritten" rules, checked before anything is touched.
fn check_obstacles(wd: &WorkDir, from: &Manifest, to: &Manifest, extra: &[String], what: &str) -> Result<()> {
    let will_remove = |p: &str| from.contains_key(p) && !to.contains_key(p);
    let paths = paths_to_write(from, to, false).chain(extra.iter().map(String::as_str));
    let mut obstacles = wd.obstacles(paths, &will_remove)?;
    // A directory where a file goes is fine when it holds tracked files
    // that the operation removes first (`to` holds none below it).
    obstacles.retain(|o| {
        o.kind != crate::workdir::ObstacleKind::Directory || {
            let dir = format!("{}/", o.path);
            from.range(dir.clone()..).next().is_none_or(|(k, _)| !k.starts_with(&dir))
        }
    });
    if obstacles.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = obstacles.iter().take(10).map(|o| o.to_string()).collect();
    let more = if obstacles.len() > 10 { format!(" (and {} more)", obstacles.len() - 10) } else { String::new() };
    Err(Error::InvalidInput(format!(
        "{what} would write beyond a symbolic link or over an untracked file or directory, so nothing was changed: {}{more}; move them away{}",
        list.join("; "),
        if what == "checkout" { " or use --force" } else { "" }
    )))
}

/// Switches to `branch`: the working tree is made to match its commit
/// (files written through [`WorkDir`], never beyond a symlink; files
/// tracked only by the old commit removed) and HEAD points at it. With
/// `create`, the branch is made at HEAD's commit first (`checkout -b`).
///
/// Refuses (nothing changed) when the stage is not empty, a tracked file
/// has uncommitted changes, an untracked file would be overwritten, or a
/// symlink or file stands where a directory must go — unless `force`,
/// which rewrites every file and replaces such obstacles (a link is
/// removed, never followed). The intent is journaled first
/// ([`crate::operation`]): after a crash, running the same checkout again
/// finishes it, and any other checkout first finishes it. Runs under the
/// index lock.
///
/// # Errors
/// [`Error::NotFound`] for an unknown branch; [`Error::InvalidInput`] for a
/// dirty tree, an obstacle, an existing branch with `create`, or a merge
/// in progress; [`Error::Locked`]; store errors ([`Error::Missing`] for a
/// missing commit, snapshot or blob).
pub fn checkout(root: &Path, branch: &str, create: bool, force: bool) -> Result<CheckoutReport> {
    crate::refs::validate_branch_name(branch)?;
    let _index = crate::lock::index_lock(root)?;
    let mut resumed = None;
    match crate::operation::read(root)? {
        Some(op) if op.kind == OperationKind::Checkout => {
            let mut report = apply_checkout(root, &op)?;
            report.resumed = Some(op.target.clone());
            if op.branch.as_deref() == Some(branch) && !create && !force {
                return Ok(report);
            }
            resumed = report.resumed;
        }
        Some(op) if !force => return Err(Error::InvalidInput(op.describe())),
        _ => {}
    }
    let st = status(root)?;
    let (_, head, head_manifest) = head_state(root)?;
    if create {
        if read_branch_ref(root, branch)?.is_some() {
            return Err(Error::InvalidInput(format!("a branch named {branch:?} already exists")));
        }
        if let Some(h) = &head {
            crate::refs::compare_and_swap_branch_ref(root, branch, None, h)?;
        }
        write_head_branch(root, branch)?;
        return Ok(CheckoutReport { resumed, ..Default::default() });
    }
    let target = read_branch_ref(root, branch)?
        .ok_or_else(|| Error::NotFound { what: "branch", name: branch.to_string() })?;
    if !force && (!st.staged.is_empty() || !st.unstaged.is_empty()) {
        let mut paths: Vec<&str> = st.staged.iter().chain(st.unstaged.iter()).map(|(p, _)| p.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        return Err(Error::InvalidInput(format!(
            "your local changes would be lost by checkout; commit them or use --force: {}",
            paths.join(", ")
        )));
    }
    let target_manifest = commit_manifest(root, &target)?;
    for p in target_manifest.keys() {
        validate_rel_path(p)?;
    }
    let untracked: BTreeSet<&String> = st.untracked.iter().collect();
    let clobbered: Vec<&str> = target_manifest.keys().filter(|p| untracked.contains(p)).map(String::as_str).collect();
    if !force && !clobbered.is_empty() {
        return Err(Error::InvalidInput(format!(
            "untracked files would be overwritten by checkout; move them or use --force: {}",
            clobbered.join(", ")
        )));
    }
    if !force {
        check_obstacles(&WorkDir::open(root)?, &head_manifest, &target_manifest, &[], "checkout")?;
    }
    let op = Operation::checkout(branch, head, target, false, force);
    crate::operation::write(root, &op)?;
    let mut report = apply_checkout(root, &op)?;
    report.resumed = resumed;
    Ok(report)
}

/// Carries out a journaled checkout (first run or resume): the tree goes
/// from `op.from` to `op.to`, the stage is emptied, HEAD (or, with
/// `move_branch`, the branch) is set, then the journal is removed. Every
/// step is idempotent.
fn apply_checkout(root: &Path, op: &Operation) -> Result<CheckoutReport> {
    let to = op.to.as_deref().ok_or_else(|| Error::InvalidInput("checkout journal without a target".into()))?;
    let from_m = manifest_of(root, op.from.as_deref())?;
    let to_m = commit_manifest(root, to)?;
    let report = update_worktree(root, &from_m, &to_m, op.force, op.force)?;
    write_stage(root, &Stage::default())?;
    if let Some(b) = &op.branch {
        if op.move_branch {
            move_branch(root, b, op.from.as_deref(), to)?;
        } else {
            write_head_branch(root, b)?;
        }
    }
    if op.force {
        remove_if_present(&merge_head_path(root))?;
    }
    crate::operation::clear(root)?;
    Ok(report)
}

/// Moves `branch` from `from` to `to` by compare-and-swap; already at `to`
/// is fine (a resumed operation).
fn move_branch(root: &Path, branch: &str, from: Option<&str>, to: &str) -> Result<()> {
    if read_branch_ref(root, branch)?.as_deref() == Some(to) {
        return Ok(());
    }
    crate::refs::compare_and_swap_branch_ref(root, branch, from, to)?;
    Ok(())
}

/// What [`update_branch`] did to one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchUpdate {
    /// The branch did not exist and was created.
    Created,
    /// The branch was already there.
    UpToDate,
    /// The branch moved forward (and, when checked out, the working tree
    /// with it: git's `receive.denyCurrentBranch=updateInstead`).
    FastForwarded,
    /// Not moved: the new commit does not descend from the branch's.
    NotFastForward,
    /// Not moved: the branch is checked out and the working tree or stage
    /// has changes, or an operation is in progress (the reason).
    Refused(String),
}

/// Moves `branch` to `new` when that is a fast-forward (or creates it):
/// the rule of `bundle apply --update-refs`. When `branch` is the one HEAD
/// is on, the working tree is updated too, journaled like a checkout, but
/// only when the tree and stage are clean; otherwise the branch is left
/// where it was and the reason returned. An interrupted checkout (such as
/// an earlier update killed mid-way) is finished first. Runs under the
/// index lock.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::Locked`], store errors.
pub fn update_branch(root: &Path, branch: &str, new: &str) -> Result<BranchUpdate> {
    crate::refs::validate_branch_name(branch)?;
    let _index = crate::lock::index_lock(root)?;
    // An interrupted checkout (possibly an earlier update of this very
    // branch, killed mid-way) is finished first, as `muse checkout` would.
    if let Some(op) = crate::operation::read(root)? {
        if op.kind == OperationKind::Checkout {
            apply_checkout(root, &op)?;
        }
    }
    let cur = read_branch_ref(root, branch)?;
    let checked_out = matches!(read_head(root)?, Head::Branch(b) if b == branch);
    if cur.as_deref() == Some(new) {
        return Ok(BranchUpdate::UpToDate);
    }
    if let Some(c) = &cur {
        let base = crate::merge_base::find_merge_base(root, c, new)?;
        if base.as_deref() != Some(c.as_str()) {
            return Ok(BranchUpdate::NotFastForward);
        }
    }
    if !checked_out {
        crate::refs::compare_and_swap_branch_ref(root, branch, cur.as_deref(), new)?;
        return Ok(if cur.is_none() { BranchUpdate::Created } else { BranchUpdate::FastForwarded });
    }
    if let Some(op) = crate::operation::read(root)? {
        return Ok(BranchUpdate::Refused(format!("it is checked out and {}", op.describe())));
    }
    let st = status(root)?;
    if !st.staged.is_empty() || !st.unstaged.is_empty() {
        return Ok(BranchUpdate::Refused(
            "it is checked out and the working tree or stage has local changes (commit or discard them, then apply again)".into(),
        ));
    }
    let from_m = manifest_of(root, cur.as_deref())?;
    let to_m = commit_manifest(root, new)?;
    let untracked: BTreeSet<&String> = st.untracked.iter().collect();
    if let Some(p) = to_m.keys().find(|p| untracked.contains(p)) {
        return Ok(BranchUpdate::Refused(format!("it is checked out and the untracked file {p} would be overwritten")));
    }
    if let Err(e) = check_obstacles(&WorkDir::open(root)?, &from_m, &to_m, &[], "the update") {
        return Ok(BranchUpdate::Refused(format!("it is checked out and {e}")));
    }
    let op = Operation::checkout(branch, cur.clone(), new.to_string(), true, false);
    crate::operation::write(root, &op)?;
    apply_checkout(root, &op)?;
    Ok(if cur.is_none() { BranchUpdate::Created } else { BranchUpdate::FastForwarded })
}

/// Path of the merge-state file: the commit being merged while a merge has
/// conflicts (git's `MERGE_HEAD`).
pub fn merge_head_path(root: &Path) -> PathBuf {
    muse_dir(root).join("MERGE_HEAD")
}

/// The commit being merged, when a conflicted merge is in progress.
///
/// # Errors
/// [`Error::Corrupt`] for a malformed file, [`Error::Io`].
pub fn read_merge_head(root: &Path) -> Result<Option<String>> {
    let path = merge_head_path(root);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let id = t.trim().to_string();
            crate::ids::validate_id(&id).map_err(|e| Error::corrupt("MERGE_HEAD", &path, e.to_string()))?;
            Ok(Some(id))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

/// Outcome of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The other branch is already contained in HEAD.
    UpToDate,
    /// HEAD's branch moved forward to the other branch's commit.
    FastForward {
        /// The new HEAD commit.
        commit: String,
    },
    /// A merge commit was made (two parents).
    Merged {
        /// The merge commit.
        commit: String,
    },
    /// Both sides changed these paths differently. The working tree holds
    /// the merged result with conflict markers in these files, the clean
    /// part of the merge is staged, and `.muse/MERGE_HEAD` names the other
    /// commit: resolve, `add`, `commit` (which records both parents), or
    /// [`merge_abort`].
    Conflicts {
        /// The conflicting paths, sorted.
        paths: Vec<String>,
    },
}

/// The file-level three-way merge of `ours` and `theirs` over `base`: a
/// path changed on one side only takes that side; changed on both sides
/// to different content is a conflict (the merged manifest then holds
/// ours, or theirs where ours removed it). Deterministic, so a resumed or
/// aborted merge recomputes exactly what the first run wrote.
fn plan_merge(root: &Path, base: Option<&str>, ours_m: &Manifest, theirs: &str) -> Result<(Manifest, Vec<String>)> {
    let theirs_m = commit_manifest(root, theirs)?;
    let base_m = manifest_of(root, base)?;
    let mut merged = Manifest::new();
    let mut conflicts = Vec::new();
    let paths: BTreeSet<&String> = ours_m.keys().chain(theirs_m.keys()).chain(base_m.keys()).collect();
    for p in paths {
        let (b, o, t) = (base_m.get(p), ours_m.get(p), theirs_m.get(p));
        let pick = if o == t {
            o
        } else if o == b {
            t
        } else if t == b {
            o
        } else {
            conflicts.push(p.clone());
            o.or(t)
        };
        if let Some(oid) = pick {
            merged.insert(p.clone(), oid.clone());
        }
    }
    Ok((merged, conflicts))
}

/// Merges `branch` into HEAD's branch (SPEC §10): a fast-forward when HEAD
/// is an ancestor, else a file-level three-way merge against
/// [`crate::merge_base::find_merge_base`] (see [`plan_merge`]). Refuses a
/// dirty tree, a detached HEAD, a merge in progress, and (changing
/// nothing) untracked files, symlinks or directories where the merge must
/// write. The intent is journaled first ([`crate::operation`]); after a
/// crash `merge --abort` undoes it and the same `merge` finishes it. Runs
/// under the index lock.
///
/// # Errors
/// [`Error::InvalidInput`] (dirty tree, merge in progress or interrupted,
/// no commits, obstacles), [`Error::NotFound`] (unknown branch),
/// [`Error::CapExceeded`], [`Error::Locked`], store errors.
pub fn merge(root: &Path, branch: &str, author: &str) -> Result<MergeOutcome> {
    let _index = crate::lock::index_lock(root)?;
    if let Some(op) = crate::operation::read(root)? {
        if op.kind == OperationKind::Merge && op.phase == Phase::Applying && op.target == branch {
            return apply_merge(root, op, author);
        }
        return Err(Error::InvalidInput(op.describe()));
    }
    if read_merge_head(root)?.is_some() {
        return Err(Error::InvalidInput("a merge is in progress; commit it or run merge --abort".into()));
    }
    let st = status(root)?;
    if !st.staged.is_empty() || !st.unstaged.is_empty() {
        return Err(Error::InvalidInput("your local changes would be overwritten by merge; commit them first".into()));
    }
    let (Some(current), Some(ours)) = (st.branch.clone(), st.head.clone()) else {
        return Err(Error::InvalidInput("merge needs HEAD on a branch with at least one commit".into()));
    };
    let theirs = read_branch_ref(root, branch)?.ok_or_else(|| Error::NotFound { what: "branch", name: branch.to_string() })?;
    let base = crate::merge_base::find_merge_base(root, &ours, &theirs)?;
    if base.as_deref() == Some(theirs.as_str()) || ours == theirs {
        return Ok(MergeOutcome::UpToDate);
    }
    let ours_m = commit_manifest(root, &ours)?;
    let fast_forward = base.as_deref() == Some(ours.as_str());
    let (merged, conflicts) = if fast_forward {
        (commit_manifest(root, &theirs)?, Vec::new())
    } else {
        plan_merge(root, base.as_deref(), &ours_m, &theirs)?
    };
    for p in merged.keys() {
        validate_rel_path(p)?;
    }
    let untracked: BTreeSet<&String> = st.untracked.iter().collect();
    let clobbered: Vec<&str> =
        merged.keys().filter(|p| untracked.contains(p) && !ours_m.contains_key(*p)).map(String::as_str).collect();
    if !clobbered.is_empty() {
        return Err(Error::InvalidInput(format!(
            "untracked files would be overwritten by merge; move them first: {}",
            clobbered.join(", ")
        )));
    }
    check_obstacles(&WorkDir::open(root)?, &ours_m, &merged, &conflicts, "merge")?;
    // The merge commit is unreachable until the journal names it: hold the
    // write lock (shared) so that `gc --prune` cannot run in between.
    let _writing = crate::lock::write_lock(root, crate::lock::LockMode::Shared)?;
    let to = if fast_forward {
        Some(theirs.clone())
    } else if conflicts.is_empty() {
        let snap = SnapshotRecord::new(merged);
        let mut rec = CommitRecord {
            branch: current.clone(),
            snapshot_id: snap.snapshot_id.clone(),
            message: format!("Merge branch '{branch}' into {current}"),
            committed_at: now_iso(),
            parent_commit_id: Some(ours.clone()),
            parent2_commit_id: Some(theirs.clone()),
            author: author.to_string(),
            ..Default::default()
        };
        rec.commit_id = rec.compute_id();
        // Stored as a delta on the first parent's snapshot (SPEC §3).
        let base_snapshot = load_commit(root, &ours)?.snapshot_id;
        let mut batch = Batch::begin(root)?;
        batch.write_snapshot_with_base(&snap, Some(&base_snapshot))?;
        batch.write_commit(&rec)?;
        batch.commit()?;
        Some(rec.commit_id)
    } else {
        None
    };
    let op = Operation::merge(branch, current, ours, to, theirs);
    crate::operation::write(root, &op)?;
    drop(_writing);
    apply_merge(root, op, author)
}

/// The conflict-marker file for `p`: ours and theirs in git's markers.
fn conflict_body(root: &Path, ours: Option<&String>, theirs: Option<&String>, label: &str) -> Result<Vec<u8>> {
    let read = |oid: Option<&String>| -> Result<Vec<u8>> {
        match oid {
            Some(o) => crate::object_store::read_object(root, o),
            None => Ok(Vec::new()),
        }
    };
    let (o, t) = (read(ours)?, read(theirs)?);
    let mut body = Vec::with_capacity(o.len() + t.len() + 64);
    body.extend_from_slice(b"<<<<<<< ours\n");
    body.extend_from_slice(&o);
    if !o.is_empty() && !o.ends_with(b"\n") {
        body.push(b'\n');
    }
    body.extend_from_slice(b"=======\n");
    body.extend_from_slice(&t);
    if !t.is_empty() && !t.ends_with(b"\n") {
        body.push(b'\n');
    }
    body.extend_from_slice(format!(">>>>>>> {label}\n").as_bytes());
    Ok(body)
}

/// Carries out a journaled merge (first run or resume). With a target
/// commit (fast-forward or merge commit): the tree goes there, the branch
/// moves, the journal is removed. With conflicts: the clean part and the
/// conflict markers are written, the clean part staged, `MERGE_HEAD` set,
/// and the journal kept in [`Phase::Conflicts`].
fn apply_merge(root: &Path, mut op: Operation, _author: &str) -> Result<MergeOutcome> {
    let (Some(ours), Some(theirs), Some(branch)) = (op.from.clone(), op.theirs.clone(), op.branch.clone()) else {
        return Err(Error::InvalidInput("merge journal without its commits".into()));
    };
    let ours_m = commit_manifest(root, &ours)?;
    if let Some(to) = op.to.clone() {
        let to_m = commit_manifest(root, &to)?;
        update_worktree(root, &ours_m, &to_m, false, false)?;
        move_branch(root, &branch, Some(&ours), &to)?;
        write_stage(root, &Stage::default())?;
        crate::operation::clear(root)?;
        return Ok(if to == theirs { MergeOutcome::FastForward { commit: to } } else { MergeOutcome::Merged { commit: to } });
    }
    let base = crate::merge_base::find_merge_base(root, &ours, &theirs)?;
    let (merged, conflicts) = plan_merge(root, base.as_deref(), &ours_m, &theirs)?;
    update_worktree(root, &ours_m, &merged, false, false)?;
    let theirs_m = commit_manifest(root, &theirs)?;
    let wd = WorkDir::open(root)?;
    for p in &conflicts {
        let body = conflict_body(root, ours_m.get(p), theirs_m.get(p), &op.target)?;
        wd.write_bytes(p, &body, false)?;
    }
    let conflicted: BTreeSet<&String> = conflicts.iter().collect();
    let mut stage = Stage::default();
    for (p, kind) in diff_manifests(&ours_m, &merged) {
        if conflicted.contains(&p) {
            continue;
        }
        let v = if kind == ChangeKind::Deleted { None } else { merged.get(&p).cloned() };
        stage.entries.insert(p, v);
    }
    write_stage(root, &stage)?;
    let d = durability_for(root, None)?;
    write_atomic(&merge_head_path(root), MUSE_TMP_PREFIX, format!("{theirs}\n").as_bytes(), MODE_MUTABLE, d, Replace::Overwrite)?;
    op.phase = Phase::Conflicts;
    op.conflicts = conflicts.clone();
    crate::operation::write(root, &op)?;
    Ok(MergeOutcome::Conflicts { paths: conflicts })
}

/// Abandons a merge — one stopped on conflicts, or one interrupted
/// mid-way: every file the merge could have written goes back to the
/// pre-merge commit (files it added are removed), the branch goes back if
/// it had moved, the stage is emptied and the merge state removed. Runs
/// under the index lock.
///
/// # Errors
/// [`Error::InvalidInput`] when no merge is in progress; [`Error::Locked`];
/// store errors.
pub fn merge_abort(root: &Path) -> Result<()> {
    let _index = crate::lock::index_lock(root)?;
    match crate::operation::read(root)? {
        Some(op) if op.kind == OperationKind::Merge => {
            let (Some(ours), Some(theirs), Some(branch)) = (op.from.clone(), op.theirs.clone(), op.branch.clone()) else {
                return Err(Error::InvalidInput("merge journal without its commits".into()));
            };
            let ours_m = commit_manifest(root, &ours)?;
            let mut touched: BTreeSet<String> = BTreeSet::new();
            match &op.to {
                Some(to) => touched.extend(diff_manifests(&ours_m, &commit_manifest(root, to)?).into_iter().map(|(p, _)| p)),
                None => {
                    let base = crate::merge_base::find_merge_base(root, &ours, &theirs)?;
                    let (merged, conflicts) = plan_merge(root, base.as_deref(), &ours_m, &theirs)?;
                    touched.extend(diff_manifests(&ours_m, &merged).into_iter().map(|(p, _)| p));
                    touched.extend(conflicts);
                }
            }
            let wd = WorkDir::open(root)?;
            for p in &touched {
                match ours_m.get(p) {
                    Some(oid) => {
                        wd.write_blob(root, p, oid, false)?;
                    }
                    None => {
                        wd.remove_file(p)?;
                    }
                }
            }
            if let Some(to) = &op.to {
                if read_branch_ref(root, &branch)?.as_deref() == Some(to.as_str()) {
                    crate::refs::compare_and_swap_branch_ref(root, &branch, Some(to), &ours)?;
                }
            }
            write_stage(root, &Stage::default())?;
            remove_if_present(&merge_head_path(root))?;
            crate::operation::clear(root)
        }
        Some(op) => Err(Error::InvalidInput(format!("there is no merge to abort; {}", op.describe()))),
        None => merge_abort_unjournaled(root),
    }
}

/// [`merge_abort`] for a conflicted merge left by a muse without the
/// operation journal: `MERGE_HEAD` only.
fn merge_abort_unjournaled(root: &Path) -> Result<()> {
    if read_merge_head(root)?.is_none() {
        return Err(Error::InvalidInput("there is no merge to abort".into()));
    }
    let (_, _, head_m) = head_state(root)?;
    let wt = worktree_manifest(root)?;
    let stage = read_stage(root)?;
    // Files the merge wrote: everything that differs from HEAD and is either
    // tracked by HEAD or was staged by the merge.
    let touched: Manifest = wt
        .iter()
        .filter(|(p, oid)| head_m.get(*p) != Some(*oid) && (head_m.contains_key(*p) || stage.entries.contains_key(*p)))
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect();
    let mut current = head_m.clone();
    for (p, o) in &touched {
        current.insert(p.clone(), o.clone());
    }
    for p in head_m.keys() {
        if !wt.contains_key(p) {
            current.remove(p);
        }
    }
    update_worktree(root, &current, &head_m, false, false)?;
    write_stage(root, &Stage::default())?;
    std::fs::remove_file(merge_head_path(root)).ctx("remove", &merge_head_path(root))
}

/// Makes the working tree go from `from` to `to` through a [`WorkDir`]:
/// files only in `from` are removed first (so a file can become a
/// directory), then files whose blob differs (every file of `to` with
/// `rewrite_all`) are written; `replace_obstacles` removes a symlink or
/// file in the way (`--force`). Working-tree files need no fsync (as in
/// git). Idempotent: running it again after a crash finishes the job.
fn update_worktree(
    root: &Path,
    from: &Manifest,
    to: &Manifest,
    rewrite_all: bool,
    replace_obstacles: bool,
) -> Result<CheckoutReport> {
    let wd = WorkDir::open(root)?;
    let mut report = CheckoutReport::default();
    for p in from.keys() {
        if !to.contains_key(p) && wd.remove_file(p)? {
            report.removed += 1;
        }
    }
    // Written on all cores, a run of neighbouring paths (mostly one
    // directory: the manifest is sorted) per task, each task with its own
    // directory handle.
    let paths: Vec<&str> = paths_to_write(from, to, rewrite_all).collect();
    let written: Vec<Result<usize>> = paths
        .par_chunks(WRITE_CHUNK)
        .map(|chunk| {
            let wd = WorkDir::open(root)?;
            for p in chunk {
                wd.write_blob(root, p, &to[*p], replace_obstacles)?;
            }
            Ok(chunk.len())
        })
        .collect();
    for n in written {
        report.written += n?;
    }
    Ok(report)
}

/// Paths per parallel task of [`update_worktree`].
const WRITE_CHUNK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> Manifest {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The definition: every path of either side, looked up in both.
    fn naive(old: &Manifest, new: &Manifest) -> Vec<(String, ChangeKind)> {
        let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let mut out = Vec::new();
        for p in paths {
            match (old.get(p), new.get(p)) {
                (None, Some(_)) => out.push((p.clone(), ChangeKind::Added)),
                (Some(_), None) => out.push((p.clone(), ChangeKind::Deleted)),
                (Some(a), Some(b)) if a != b => out.push((p.clone(), ChangeKind::Modified)),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn diff_manifests_is_the_sorted_union_of_changes() {
        let cases = [
            (m(&[]), m(&[])),
            (m(&[("a", "1")]), m(&[])),
            (m(&[]), m(&[("a", "1")])),
            (m(&[("a", "1"), ("b", "2"), ("d", "4")]), m(&[("b", "3"), ("c", "3"), ("d", "4"), ("e", "5")])),
            (m(&[("a/b", "1"), ("a.b", "2"), ("z", "9")]), m(&[("a/b", "1"), ("a-b", "2"), ("z", "8")])),
        ];
        for (old, new) in &cases {
            assert_eq!(diff_manifests(old, new), naive(old, new), "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn an_empty_stage_borrows_and_a_stage_applies() {
        let head = m(&[("a", "1"), ("b", "2")]);
        let empty = Stage::default();
        assert!(matches!(empty.view(&head), std::borrow::Cow::Borrowed(_)));
        let mut stage = Stage::default();
        stage.entries.insert("a".into(), None);
        stage.entries.insert("c".into(), Some("3".into()));
        assert_eq!(*stage.view(&head), m(&[("b", "2"), ("c", "3")]));
    }
}
