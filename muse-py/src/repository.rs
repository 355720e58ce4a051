//! `muse.Repository`: the Python face of [`muse_core::Repository`]
//! (SPEC §11), shaped like pygit2's `Repository`, and its result classes
//! (`Commit`, `StatusEntry`, `DiffEntry`, `MergeResult`; for the remotes of
//! SPEC §13: `Remote`, `RefUpdate`, `FetchResult`, `PushResult`,
//! `PullResult`).
//!
//! Only translation lives here: every decision is a call into the core.
//! Every core call that may touch the disk runs with the GIL released
//! (`Python::detach`); errors go through [`crate::convert::IntoPy`], so
//! they are the classes of `muse.core.errors`.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use muse_core::commit::CommitOptions;
use muse_core::merge::MergeOutcome;
use muse_core::records::CommitRecord;
use muse_core::remote::{FetchOptions, FetchReport, PullOutcome, PushReport, RefChange};
use muse_core::repo::InitOptions;

use crate::convert::IntoPy;
use crate::records::PyCommitRecord;

// ---------------------------------------------------------------- Commit

/// One commit, as returned by ``Repository.head``, ``.commit()``,
/// ``.log()`` and ``MergeResult.commit``: an immutable, hashable view
/// (equal when the records are equal; hashed by ``id``).
///
/// A class of its own rather than ``muse.core.commits.CommitRecord``
/// because pygit2's ``Commit`` is a read-only object named by ``.id`` with
/// its parents as one list, while ``CommitRecord`` is the seed contract's
/// mutable storage record (``commit_id``, ``parent_commit_id`` and
/// ``parent2_commit_id``; its constructor computes IDs). The full record,
/// provenance fields included, is one property away: ``.record``.
///
/// Not constructible from Python.
#[pyclass(frozen, name = "Commit", module = "muse")]
pub struct PyCommit {
    inner: CommitRecord,
}

impl PyCommit {
    fn new(inner: CommitRecord) -> Self {
        PyCommit { inner }
    }
}

#[pymethods]
impl PyCommit {
    /// The commit ID, ``"sha256:<64 hex>"``.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.commit_id
    }
    /// The commit message.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    /// The author (``""`` when none was given).
    #[getter]
    fn author(&self) -> &str {
        &self.inner.author
    }
    /// The parent commit IDs, first parent first: ``[]`` for a root
    /// commit, two for a merge commit.
    #[getter]
    fn parents(&self) -> Vec<String> {
        self.inner.parents().map(str::to_string).collect()
    }
    /// The ID of the commit's snapshot, ``"sha256:<64 hex>"``.
    #[getter]
    fn snapshot_id(&self) -> &str {
        &self.inner.snapshot_id
    }
    /// The commit time as a timezone-aware ``datetime.datetime`` (exactly
    /// as ``CommitRecord.committed_at``).
    #[getter]
    fn committed_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Bound::new(py, PyCommitRecord { inner: self.inner.clone() })?.getattr("committed_at")
    }
    /// The branch the commit was made on.
    #[getter]
    fn branch(&self) -> &str {
        &self.inner.branch
    }
    /// A copy of the whole stored record, as a
    /// ``muse.core.commits.CommitRecord`` (changing it changes nothing here).
    #[getter]
    fn record(&self) -> PyCommitRecord {
        PyCommitRecord { inner: self.inner.clone() }
    }
    fn __eq__(&self, other: &Bound<'_, PyCommit>) -> bool {
        other.get().inner == self.inner
    }
    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.commit_id.hash(&mut h);
        h.finish()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<Commit id={} message={} parents={}>",
            repr(py, &self.inner.commit_id)?,
            repr(py, &self.inner.message)?,
            self.parents().into_pyobject(py)?.repr()?
        ))
    }
}

// ---------------------------------------------------------------- StatusEntry

/// One path of ``Repository.status()``: ``index`` is its staged change
/// (HEAD → stage), ``worktree`` its unstaged change (stage → working tree)
/// or ``"untracked"``. Each is ``"added"``, ``"modified"``, ``"deleted"``,
/// ``"untracked"`` or ``None``. A plain value: constructible, comparable,
/// hashable.
#[pyclass(frozen, eq, hash, name = "StatusEntry", module = "muse")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyStatusEntry {
    path: String,
    index: Option<String>,
    worktree: Option<String>,
}

#[pymethods]
impl PyStatusEntry {
    /// ``StatusEntry(path, index=None, worktree=None)``.
    #[new]
    #[pyo3(signature = (path, index=None, worktree=None))]
    fn py_new(path: String, index: Option<String>, worktree: Option<String>) -> Self {
        PyStatusEntry { path, index, worktree }
    }
    /// The repository-relative POSIX path.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }
    /// The staged change: ``"added"``, ``"modified"``, ``"deleted"`` or ``None``.
    #[getter]
    fn index(&self) -> Option<&str> {
        self.index.as_deref()
    }
    /// The unstaged change: ``"modified"``, ``"deleted"``, ``"untracked"`` or ``None``.
    #[getter]
    fn worktree(&self) -> Option<&str> {
        self.worktree.as_deref()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "StatusEntry(path={}, index={}, worktree={})",
            repr(py, &self.path)?,
            opt_repr(py, &self.index)?,
            opt_repr(py, &self.worktree)?
        ))
    }
}

// ---------------------------------------------------------------- DiffEntry

/// One changed path of ``Repository.diff()``: ``status`` is ``"added"``,
/// ``"modified"`` or ``"deleted"`` (old side → new side); ``old_id`` /
/// ``new_id`` are the blob IDs on each side (``None`` on the side where the
/// path does not exist); ``patch`` is the file's unified diff (git's
/// format). A plain value: constructible, comparable, hashable. Equality,
/// hash and repr use the path, status and IDs only: the patch follows from
/// them (and the context size it was made with).
#[pyclass(frozen, name = "DiffEntry", module = "muse")]
#[derive(Clone)]
pub struct PyDiffEntry {
    path: String,
    status: String,
    old_id: Option<String>,
    new_id: Option<String>,
    patch: String,
}

impl PyDiffEntry {
    /// The fields equality and hashing compare (all but the patch).
    fn key(&self) -> (&str, &str, Option<&str>, Option<&str>) {
        (&self.path, &self.status, self.old_id.as_deref(), self.new_id.as_deref())
    }
}

#[pymethods]
impl PyDiffEntry {
    /// ``DiffEntry(path, status, old_id=None, new_id=None, patch="")``.
    #[new]
    #[pyo3(signature = (path, status, old_id=None, new_id=None, patch=String::new()), text_signature = "(path, status, old_id=None, new_id=None, patch='')")]
    fn py_new(path: String, status: String, old_id: Option<String>, new_id: Option<String>, patch: String) -> Self {
        PyDiffEntry { path, status, old_id, new_id, patch }
    }
    /// The repository-relative POSIX path.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }
    /// ``"added"``, ``"modified"`` or ``"deleted"``.
    #[getter]
    fn status(&self) -> &str {
        &self.status
    }
    /// The blob ID on the old side, ``None`` when the path was added.
    #[getter]
    fn old_id(&self) -> Option<&str> {
        self.old_id.as_deref()
    }
    /// The blob ID on the new side, ``None`` when the path was deleted.
    #[getter]
    fn new_id(&self) -> Option<&str> {
        self.new_id.as_deref()
    }
    /// The unified diff of this file (git's ``diff`` format, from
    /// ``diff --git`` to the last hunk line; ``Binary files … differ`` for
    /// a binary file); ``""`` for an entry constructed without one.
    #[getter]
    fn patch(&self) -> &str {
        &self.patch
    }
    fn __eq__(&self, other: &Bound<'_, PyDiffEntry>) -> bool {
        self.key() == other.get().key()
    }
    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.key().hash(&mut h);
        h.finish()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "DiffEntry(path={}, status={}, old_id={}, new_id={})",
            repr(py, &self.path)?,
            repr(py, &self.status)?,
            opt_repr(py, &self.old_id)?,
            opt_repr(py, &self.new_id)?
        ))
    }
}

// ---------------------------------------------------------------- MergeResult

/// What ``Repository.merge()`` did. ``kind`` is one of:
///
/// * ``"up-to-date"``: the other side is already in HEAD; nothing changed.
/// * ``"fast-forward"``: HEAD's branch moved to the other side's commit
///   (``commit``).
/// * ``"merged"``: a merge commit with two parents was made (``commit``).
/// * ``"conflicts"``: both sides changed the paths in ``conflicts``; the
///   working tree holds them with ``<<<<<<<``/``>>>>>>>`` markers and the
///   clean part is staged. Resolve, ``add``, ``commit`` (two parents), or
///   ``merge_abort()``. ``commit`` is ``None``.
///
/// ``conflicts`` is empty unless ``kind == "conflicts"``. Not
/// constructible from Python.
#[pyclass(frozen, name = "MergeResult", module = "muse")]
pub struct PyMergeResult {
    kind: &'static str,
    conflicts: Vec<String>,
    commit: Option<Py<PyCommit>>,
}

#[pymethods]
impl PyMergeResult {
    /// ``"up-to-date"``, ``"fast-forward"``, ``"merged"`` or ``"conflicts"``.
    #[getter]
    fn kind(&self) -> &str {
        self.kind
    }
    /// The conflicting paths, sorted (empty unless ``kind == "conflicts"``).
    #[getter]
    fn conflicts(&self) -> Vec<String> {
        self.conflicts.clone()
    }
    /// The new HEAD commit after ``"fast-forward"`` or ``"merged"``, else ``None``.
    #[getter]
    fn commit(&self, py: Python<'_>) -> Option<Py<PyCommit>> {
        self.commit.as_ref().map(|c| c.clone_ref(py))
    }
    fn __eq__(&self, other: &Bound<'_, PyMergeResult>) -> bool {
        let o = other.get();
        let same_commit = match (&self.commit, &o.commit) {
            (None, None) => true,
            (Some(a), Some(b)) => a.get().inner == b.get().inner,
            _ => false,
        };
        self.kind == o.kind && self.conflicts == o.conflicts && same_commit
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let commit = match &self.commit {
            Some(c) => repr(py, &c.get().inner.commit_id)?,
            None => "None".into(),
        };
        Ok(format!(
            "<MergeResult kind={} conflicts={} commit={commit}>",
            repr(py, self.kind)?,
            self.conflicts.clone().into_pyobject(py)?.repr()?
        ))
    }
}

// ---------------------------------------------------------------- remotes

/// A configured remote (``Repository.remotes``, ``Repository.add_remote``):
/// its ``name`` and ``url`` (an ``http(s)://`` URL of a ``muse serve`` hub,
/// or the absolute path of a repository on this machine). A plain value:
/// constructible, comparable, hashable.
#[pyclass(frozen, eq, hash, name = "Remote", module = "muse")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyRemote {
    name: String,
    url: String,
}

#[pymethods]
impl PyRemote {
    /// ``Remote(name, url)``.
    #[new]
    fn py_new(name: String, url: String) -> Self {
        PyRemote { name, url }
    }
    /// The remote's name (``"origin"``).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    /// The remote's URL or absolute path.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Remote(name={}, url={})", repr(py, &self.name)?, repr(py, &self.url)?))
    }
}

/// One ref of a ``FetchResult`` (``refs``) or ``PushResult``
/// (``updates``): ``name`` is the remote-tracking ref for a fetch
/// (``"origin/main"``) and the remote's branch for a push (``"main"``);
/// ``old`` / ``new`` are commit IDs (``None``: it did not exist / it was
/// deleted); ``change`` is one of
///
/// * ``"new"``: it did not exist;
/// * ``"fast-forward"``: it moved to a descendant of ``old``;
/// * ``"forced"``: a fetch found it rewritten (``new`` does not descend
///   from ``old``); a push sent it with ``force=True``;
/// * ``"up-to-date"``: it did not move (fetch only);
/// * ``"deleted"``: it is gone (a fetch with ``prune=True``).
///
/// A plain value: constructible, comparable, hashable.
#[pyclass(frozen, eq, hash, name = "RefUpdate", module = "muse")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyRefUpdate {
    name: String,
    old: Option<String>,
    new: Option<String>,
    change: String,
}

#[pymethods]
impl PyRefUpdate {
    /// ``RefUpdate(name, old, new, change)``.
    #[new]
    fn py_new(name: String, old: Option<String>, new: Option<String>, change: String) -> Self {
        PyRefUpdate { name, old, new, change }
    }
    /// The ref: ``"origin/main"`` (fetch) or ``"main"`` (push).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    /// The commit ID it pointed at before, ``None`` when it did not exist.
    #[getter(old)]
    fn old_id(&self) -> Option<&str> {
        self.old.as_deref()
    }
    /// The commit ID it points at now, ``None`` when it was deleted.
    #[getter(new)]
    fn new_id(&self) -> Option<&str> {
        self.new.as_deref()
    }
    /// ``"new"``, ``"fast-forward"``, ``"forced"``, ``"up-to-date"`` or ``"deleted"``.
    #[getter]
    fn change(&self) -> &str {
        &self.change
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RefUpdate(name={}, old={}, new={}, change={})",
            repr(py, &self.name)?,
            opt_repr(py, &self.old)?,
            opt_repr(py, &self.new)?,
            repr(py, &self.change)?
        ))
    }
}

/// The word of a fetch's ref change.
fn change_word(c: RefChange) -> &'static str {
    match c {
        RefChange::New => "new",
        RefChange::FastForward => "fast-forward",
        RefChange::Forced => "forced",
        RefChange::UpToDate => "up-to-date",
        RefChange::Deleted => "deleted",
    }
}

/// What ``Repository.fetch()`` did (and ``PullResult.fetch``): every
/// remote-tracking ref of the remote (``refs``, a list of ``RefUpdate``,
/// unchanged ones included) and the counts of what was received and newly
/// stored. Not constructible from Python.
#[pyclass(frozen, name = "FetchResult", module = "muse")]
pub struct PyFetchResult {
    report: FetchReport,
}

#[pymethods]
impl PyFetchResult {
    /// The remote's name (``"origin"``).
    #[getter]
    fn remote(&self) -> &str {
        &self.report.remote
    }
    /// The remote's URL or path.
    #[getter]
    fn url(&self) -> &str {
        &self.report.url
    }
    /// The branch the remote's HEAD names, ``None`` when it is detached.
    #[getter]
    fn head(&self) -> Option<&str> {
        self.report.head.as_deref()
    }
    /// Every remote-tracking ref of the remote and how it changed
    /// (``RefUpdate``; ``name`` is ``"<remote>/<branch>"``).
    #[getter]
    fn refs(&self) -> Vec<PyRefUpdate> {
        self.report
            .refs
            .iter()
            .map(|r| PyRefUpdate {
                name: r.name.clone(),
                old: r.old.map(|c| c.to_string()),
                new: r.new.map(|c| c.to_string()),
                change: change_word(r.change).to_string(),
            })
            .collect()
    }
    /// Commits received and newly stored.
    #[getter]
    fn commits_written(&self) -> usize {
        self.report.commits_written
    }
    /// Snapshots received and newly stored.
    #[getter]
    fn snapshots_written(&self) -> usize {
        self.report.snapshots_written
    }
    /// Blobs received and newly stored.
    #[getter]
    fn blobs_written(&self) -> usize {
        self.report.blobs_written
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let changed = self.report.refs.iter().filter(|r| r.change != RefChange::UpToDate).count();
        Ok(format!(
            "<FetchResult remote={} refs={} changed={changed} commits_written={}>",
            repr(py, &self.report.remote)?,
            self.report.refs.len(),
            self.report.commits_written
        ))
    }
}

/// What ``Repository.push()`` did: the remote branches it moved
/// (``updates``, a list of ``RefUpdate``; empty when every branch was
/// already there) and the counts of what the remote newly stored. A push
/// is all or nothing: when one branch is refused, ``RejectedError`` is
/// raised and nothing moved. Not constructible from Python.
#[pyclass(frozen, name = "PushResult", module = "muse")]
pub struct PyPushResult {
    report: PushReport,
}

#[pymethods]
impl PyPushResult {
    /// The remote branches moved (``RefUpdate``; ``name`` is the branch,
    /// ``change`` ``"new"``, ``"fast-forward"``, ``"forced"`` (sent with
    /// ``force=True``) or ``"deleted"``).
    #[getter]
    fn updates(&self) -> Vec<PyRefUpdate> {
        self.report
            .updates
            .iter()
            .map(|u| {
                let change = match (&u.old, &u.new) {
                    (None, _) => "new",
                    (_, None) => "deleted",
                    _ if u.force => "forced",
                    _ => "fast-forward",
                };
                PyRefUpdate {
                    name: u.branch.clone(),
                    old: u.old.map(|c| c.to_string()),
                    new: u.new.map(|c| c.to_string()),
                    change: change.to_string(),
                }
            })
            .collect()
    }
    /// Commit records newly stored on the remote.
    #[getter]
    fn commits_written(&self) -> usize {
        self.report.commits_written
    }
    /// Snapshot records newly stored on the remote.
    #[getter]
    fn snapshots_written(&self) -> usize {
        self.report.snapshots_written
    }
    /// Blobs newly stored on the remote.
    #[getter]
    fn blobs_written(&self) -> usize {
        self.report.blobs_written
    }
    /// Blobs sent that the remote already had.
    #[getter]
    fn blobs_skipped(&self) -> usize {
        self.report.blobs_skipped
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let branches: Vec<String> = self.report.updates.iter().map(|u| u.branch.clone()).collect();
        Ok(format!(
            "<PushResult updates={} commits_written={} blobs_written={}>",
            branches.into_pyobject(py)?.repr()?,
            self.report.commits_written,
            self.report.blobs_written
        ))
    }
}

/// What ``Repository.pull()`` did: the fetch (``fetch``, a
/// ``FetchResult``), then the merge of the remote branch into HEAD's
/// branch, shaped like ``MergeResult``. ``kind`` is one of:
///
/// * ``"up-to-date"``: HEAD already contains the remote branch.
/// * ``"fast-forward"``: HEAD's branch moved to the remote branch's commit
///   (``commit``); also on an unborn branch, which starts there.
/// * ``"merged"``: a merge commit was made (``commit``).
/// * ``"conflicts"``: the merge stopped on the paths in ``conflicts``, as
///   ``Repository.merge()`` does: resolve, ``add``, ``commit``, or
///   ``merge_abort()``. ``commit`` is ``None``.
///
/// ``paths`` is the same list as ``conflicts`` (the core's name). Not
/// constructible from Python.
#[pyclass(frozen, name = "PullResult", module = "muse")]
pub struct PyPullResult {
    kind: &'static str,
    conflicts: Vec<String>,
    commit: Option<Py<PyCommit>>,
    fetch: Py<PyFetchResult>,
}

#[pymethods]
impl PyPullResult {
    /// ``"up-to-date"``, ``"fast-forward"``, ``"merged"`` or ``"conflicts"``.
    #[getter]
    fn kind(&self) -> &str {
        self.kind
    }
    /// The new HEAD commit after ``"fast-forward"`` or ``"merged"``, else ``None``.
    #[getter]
    fn commit(&self, py: Python<'_>) -> Option<Py<PyCommit>> {
        self.commit.as_ref().map(|c| c.clone_ref(py))
    }
    /// The conflicting paths, sorted (empty unless ``kind == "conflicts"``).
    #[getter]
    fn conflicts(&self) -> Vec<String> {
        self.conflicts.clone()
    }
    /// The same list as ``conflicts``.
    #[getter]
    fn paths(&self) -> Vec<String> {
        self.conflicts.clone()
    }
    /// What the fetch before the merge did.
    #[getter]
    fn fetch(&self, py: Python<'_>) -> Py<PyFetchResult> {
        self.fetch.clone_ref(py)
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let commit = match &self.commit {
            Some(c) => repr(py, &c.get().inner.commit_id)?,
            None => "None".into(),
        };
        Ok(format!(
            "<PullResult kind={} conflicts={} commit={commit}>",
            repr(py, self.kind)?,
            self.conflicts.clone().into_pyobject(py)?.repr()?
        ))
    }
}

/// A URL argument: a ``str``, or a path-like object (a local remote).
fn url_arg(url: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = url.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    let p: PathBuf = url.extract()?;
    Ok(p.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------- log iterator

/// The iterator ``Repository.log()`` returns: yields ``Commit`` objects,
/// newest first (the core's history walk, read one commit per ``next()``
/// without the GIL). Raises ``MissingDataError`` from ``__next__`` when a
/// commit of the history is not stored (the iteration then ends).
#[pyclass(frozen, name = "CommitIterator", module = "muse")]
pub struct PyCommitIterator {
    walk: Mutex<std::iter::Take<muse_core::log::Log>>,
}

#[pymethods]
impl PyCommitIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyCommit>> {
        let next = py.detach(|| self.walk.lock().unwrap_or_else(|p| p.into_inner()).next());
        match next {
            None => Ok(None),
            Some(r) => Ok(Some(PyCommit::new(r.py()?))),
        }
    }
    fn __repr__(&self) -> String {
        "<muse.CommitIterator>".into()
    }
}

// ---------------------------------------------------------------- Repository

/// A muse repository (SPEC §11), shaped like pygit2's ``Repository``.
///
/// ``Repository(path)`` opens the repository whose working tree is
/// ``path`` (the directory holding ``.muse/``, or that ``.muse``
/// directory); ``Repository.init(path)`` creates one and
/// ``Repository.discover(path)`` finds the one containing ``path``. The
/// handle is cheap and thread-safe; every method that touches the disk
/// releases the GIL.
///
/// Errors are the classes of ``muse.core.errors``: ``NotARepositoryError``
/// when ``path`` holds no ``.muse/``, ``CorruptRecordError`` /
/// ``MuseCLIError`` for an invalid ``config.toml``.
#[pyclass(frozen, name = "Repository", module = "muse")]
pub struct PyRepository {
    inner: muse_core::Repository,
}

impl PyRepository {
    fn root(&self) -> PathBuf {
        self.inner.workdir().to_path_buf()
    }

    /// Runs a three-way operation (merge, cherry-pick, revert) without the
    /// GIL and shapes its outcome as a ``MergeResult``.
    fn three_way(
        &self,
        py: Python<'_>,
        run: impl FnOnce(&muse_core::Repository) -> muse_core::Result<MergeOutcome> + Send,
    ) -> PyResult<PyMergeResult> {
        let (outcome, record) = py
            .detach(|| -> muse_core::Result<_> {
                let outcome = run(&self.inner)?;
                let record = match &outcome {
                    MergeOutcome::FastForward { commit } | MergeOutcome::Merged { commit } => Some(self.inner.find_commit(commit)?),
                    MergeOutcome::UpToDate | MergeOutcome::Conflicts { .. } => None,
                };
                Ok((outcome, record))
            })
            .py()?;
        let kind = outcome.word();
        let conflicts = match outcome {
            MergeOutcome::Conflicts { paths } => paths,
            _ => Vec::new(),
        };
        let commit = record.map(|r| Py::new(py, PyCommit::new(r))).transpose()?;
        Ok(PyMergeResult { kind, conflicts, commit })
    }
}

/// A path or a list of paths as a list of paths.
fn one_or_many(paths: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = paths.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    paths.extract()
}

#[pymethods]
impl PyRepository {
    /// Opens the repository at ``path``.
    ///
    /// Raises ``NotARepositoryError`` when ``path`` holds no ``.muse/``.
    #[new]
    fn py_new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| muse_core::Repository::open(&path)).py()?;
        Ok(PyRepository { inner })
    }

    /// Creates a repository at ``path`` (made if missing) with HEAD on
    /// ``default_branch`` (``"main"``), and opens it. ``owner`` goes into
    /// ``repo.json``. ``bare=True`` writes ``[core] bare = true`` (git's
    /// ``init --bare``): a repository others push to, whose checked-out
    /// branch a push may move.
    ///
    /// Raises ``InvalidInputError`` when ``path`` is already inside a
    /// repository, ``InvalidRefNameError`` for a bad branch name,
    /// ``MuseIOError``.
    #[staticmethod]
    #[pyo3(signature = (path, default_branch="main", owner="", *, bare=false))]
    fn init(py: Python<'_>, path: PathBuf, default_branch: &str, owner: &str, bare: bool) -> PyResult<Self> {
        let opts = InitOptions { default_branch: default_branch.into(), owner: owner.into(), bare };
        let inner = py.detach(|| muse_core::Repository::init_with(&path, &opts)).py()?;
        Ok(PyRepository { inner })
    }

    /// Opens the repository containing ``path``: the first directory at or
    /// above it that holds ``.muse/``. ``path=None`` starts at
    /// ``$MUSE_REPO_ROOT`` if set, else the current directory.
    ///
    /// Raises ``NotARepositoryError`` when there is none.
    #[staticmethod]
    #[pyo3(signature = (path=None))]
    fn discover(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let inner = py.detach(|| muse_core::Repository::discover(path.as_deref())).py()?;
        Ok(PyRepository { inner })
    }

    /// The repository's ``.muse`` directory (``pathlib.Path``; pygit2's
    /// ``path`` is its ``.git`` directory likewise).
    #[getter]
    fn path(&self) -> PathBuf {
        muse_core::paths::muse_dir(self.inner.workdir())
    }

    /// The working tree's root, the directory holding ``.muse/``
    /// (``pathlib.Path``).
    #[getter]
    fn workdir(&self) -> PathBuf {
        self.root()
    }

    /// HEAD's commit as a ``Commit``, ``None`` on an unborn branch.
    ///
    /// Raises ``MissingDataError`` when HEAD names a commit that is not
    /// stored.
    #[getter]
    fn head(&self, py: Python<'_>) -> PyResult<Option<PyCommit>> {
        Ok(py.detach(|| self.inner.head()).py()?.map(PyCommit::new))
    }

    /// The branch HEAD is on (``str``), ``None`` when HEAD is detached.
    #[getter]
    fn head_branch(&self, py: Python<'_>) -> PyResult<Option<String>> {
        py.detach(|| self.inner.head_branch()).py()
    }

    /// Every branch name, sorted (``list[str]``).
    #[getter]
    fn branches(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let b = py.detach(|| self.inner.branches()).py()?;
        Ok(b.into_iter().map(|(name, _)| name).collect())
    }

    /// Creates branch ``name`` at revision ``start`` (``None``: HEAD's
    /// commit); returns the commit ID it points at. Does not switch to it.
    ///
    /// Raises ``InvalidRefNameError``; ``InvalidInputError`` when the branch
    /// exists or HEAD has no commit yet; ``NotFoundError`` for an unknown
    /// ``start``.
    #[pyo3(signature = (name, start=None))]
    fn create_branch(&self, py: Python<'_>, name: &str, start: Option<&str>) -> PyResult<String> {
        py.detach(|| self.inner.create_branch(name, start)).py()
    }

    /// Deletes branch ``name``; returns the commit ID it pointed at. A
    /// branch whose commit HEAD does not contain is refused unless
    /// ``force`` (git's ``branch -d`` / ``-D``).
    ///
    /// Raises ``InvalidInputError`` for the branch HEAD is on or an
    /// unmerged branch without ``force``, ``NotFoundError`` when it does
    /// not exist.
    #[pyo3(signature = (name, force=false))]
    fn delete_branch(&self, py: Python<'_>, name: &str, force: bool) -> PyResult<String> {
        py.detach(|| self.inner.delete_branch(name, force)).py()
    }

    /// Stages what the working tree holds for ``paths`` (one pathspec or a
    /// list; repository-relative, ``"."`` is everything): new and modified
    /// files are stored and staged, tracked files missing from the working
    /// tree are staged as removals.
    ///
    /// Raises ``InvalidInputError`` for a pathspec that matches nothing,
    /// ``LockedError`` when the index lock stays held.
    fn add(&self, py: Python<'_>, paths: &Bound<'_, PyAny>) -> PyResult<()> {
        let specs = one_or_many(paths)?;
        py.detach(|| self.inner.add(&specs, &mut |_, _| {})).py().map(|_| ())
    }

    /// Stages every change of the working tree (``add(".")``).
    ///
    /// Raises as ``add``.
    fn add_all(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.add_all()).py().map(|_| ())
    }

    /// Records the stage on top of HEAD and returns the new ``Commit``. A
    /// merge stopped on conflicts is concluded (two parents). ``all=True``
    /// stages every change of tracked files first (``commit -a``);
    /// ``allow_empty=True`` allows a commit that changes nothing.
    ///
    /// Raises ``InvalidInputError`` ("nothing to commit", or while an
    /// operation is interrupted), ``RefConflictError`` when the branch moved
    /// meanwhile, ``LockedError``.
    #[pyo3(signature = (message, author="", *, all=false, allow_empty=false))]
    fn commit(&self, py: Python<'_>, message: &str, author: &str, all: bool, allow_empty: bool) -> PyResult<PyCommit> {
        let opts = CommitOptions { message: message.into(), author: author.into(), all, allow_empty, ..Default::default() };
        Ok(PyCommit::new(py.detach(|| self.inner.commit(&opts)).py()?))
    }

    /// The state of the working tree and the stage against HEAD: one
    /// ``StatusEntry`` per changed or untracked path, sorted by path (empty
    /// when clean).
    fn status(&self, py: Python<'_>) -> PyResult<Vec<PyStatusEntry>> {
        let st = py.detach(|| self.inner.status()).py()?;
        Ok(st
            .entries()
            .into_iter()
            .map(|e| PyStatusEntry {
                path: e.path,
                index: e.index.map(|s| s.word().to_string()),
                worktree: e.worktree.map(|s| s.word().to_string()),
            })
            .collect())
    }

    /// The changes from revision ``a`` to revision ``b`` as ``DiffEntry``
    /// objects sorted by path, each with its unified ``patch``
    /// (``context_lines`` unchanged lines around each change). ``b=None``
    /// is the working tree, ``a=None`` is HEAD's commit: ``diff()`` is
    /// git's ``diff HEAD``. With ``cached=True`` the new side is the index
    /// (HEAD with the stage applied) and the old side ``a`` (default HEAD):
    /// git's ``diff --cached [a]``; ``b`` must then be ``None``.
    ///
    /// Raises ``NotFoundError`` for an unknown revision, ``ValueError``
    /// (``InvalidInputError``) for ``cached=True`` with ``b``.
    #[pyo3(signature = (a=None, b=None, *, context_lines=3, cached=false))]
    fn diff(
        &self,
        py: Python<'_>,
        a: Option<&str>,
        b: Option<&str>,
        context_lines: usize,
        cached: bool,
    ) -> PyResult<Vec<PyDiffEntry>> {
        let opts = muse_core::diff::PatchOptions { context_lines };
        let d = py
            .detach(|| -> muse_core::Result<Vec<PyDiffEntry>> {
                let entries = match (cached, b) {
                    (true, Some(_)) => {
                        return Err(muse_core::Error::InvalidInput("diff(cached=True) takes no revision b".into()))
                    }
                    (true, None) => self.inner.diff_cached(a)?,
                    (false, _) => self.inner.diff(a, b)?,
                };
                entries
                    .into_iter()
                    .map(|e| {
                        let patch = self.inner.diff_patch(&e, &opts)?;
                        Ok(PyDiffEntry {
                            path: e.path,
                            status: e.status.word().to_string(),
                            old_id: e.old_id,
                            new_id: e.new_id,
                            patch,
                        })
                    })
                    .collect()
            })
            .py()?;
        Ok(d)
    }

    /// Checks out ``rev``: a branch name switches HEAD to that branch, any
    /// other revision detaches HEAD at its commit; the working tree is
    /// made to match. Refuses (changing nothing) a non-empty stage,
    /// uncommitted changes of tracked files, or untracked files in the
    /// way, unless ``force=True``.
    ///
    /// Raises ``NotFoundError`` for an unknown revision,
    /// ``InvalidInputError`` for a dirty tree or a merge in progress,
    /// ``LockedError``.
    #[pyo3(signature = (rev, force=false))]
    fn checkout(&self, py: Python<'_>, rev: &str, force: bool) -> PyResult<()> {
        py.detach(|| self.inner.checkout(rev, force)).py().map(|_| ())
    }

    /// Merges ``rev`` (a branch, or any revision) into HEAD's branch: a
    /// fast-forward when possible, else a three-way merge, text files
    /// line by line (conflict markers around overlapping edits only).
    /// Returns a ``MergeResult``; conflicts are a result, not an error.
    ///
    /// Raises ``InvalidInputError`` (dirty tree, detached HEAD, no commits,
    /// a merge in progress, untracked files in the way), ``NotFoundError``
    /// for an unknown ``rev``, ``LockedError``.
    #[pyo3(signature = (rev, author=""))]
    fn merge(&self, py: Python<'_>, rev: &str, author: &str) -> PyResult<PyMergeResult> {
        self.three_way(py, |r| r.merge(rev, author))
    }

    /// Applies the change commit ``rev`` made (against its first parent)
    /// on top of HEAD as a new commit with its message and author (git's
    /// ``cherry-pick``), merging line by line. Returns a ``MergeResult``:
    /// ``kind`` ``"merged"`` (``.commit`` the new commit), ``"conflicts"``
    /// (resolve, ``add``, then ``pick_continue()``, or ``merge_abort()``),
    /// or ``"up-to-date"`` when HEAD already has the change.
    ///
    /// Raises ``InvalidInputError`` (dirty tree, detached HEAD, a merge
    /// commit, an operation in progress), ``NotFoundError``.
    fn cherry_pick(&self, py: Python<'_>, rev: &str) -> PyResult<PyMergeResult> {
        self.three_way(py, |r| r.cherry_pick(rev))
    }

    /// Undoes the change commit ``rev`` made, on top of HEAD, as a new
    /// commit by ``author`` (git's ``revert``). As ``cherry_pick``.
    #[pyo3(signature = (rev, author=""))]
    fn revert(&self, py: Python<'_>, rev: &str, author: &str) -> PyResult<PyMergeResult> {
        self.three_way(py, |r| r.revert(rev, author))
    }

    /// Puts the local changes to tracked files aside as a stash entry and
    /// resets the stage and tree to HEAD (git's ``stash push``; untracked
    /// files stay). Returns the entry's commit ID, ``None`` when there was
    /// nothing to stash.
    #[pyo3(signature = (message=None))]
    fn stash(&self, py: Python<'_>, message: Option<&str>) -> PyResult<Option<String>> {
        py.detach(|| self.inner.stash_push(message)).py()
    }

    /// The stash entries, newest first: ``[(index, commit_id, message)]``.
    fn stash_list(&self, py: Python<'_>) -> PyResult<Vec<(usize, String, String)>> {
        let list = py.detach(|| self.inner.stash_list()).py()?;
        Ok(list.into_iter().map(|e| (e.index, e.commit, e.message)).collect())
    }

    /// Re-applies stash entry ``index`` to the working tree, merged line by
    /// line with HEAD (``MergeResult`` ``"merged"`` or ``"conflicts"``);
    /// the entry is kept.
    ///
    /// Raises ``NotFoundError`` (no such entry), ``InvalidInputError``
    /// (local changes).
    #[pyo3(signature = (index=0))]
    fn stash_apply(&self, py: Python<'_>, index: usize) -> PyResult<PyMergeResult> {
        self.three_way(py, |r| r.stash_apply(index))
    }

    /// ``stash_apply``, then drops the entry unless it conflicted.
    #[pyo3(signature = (index=0))]
    fn stash_pop(&self, py: Python<'_>, index: usize) -> PyResult<PyMergeResult> {
        self.three_way(py, |r| r.stash_pop(index))
    }

    /// Removes stash entry ``index``; returns its commit ID.
    ///
    /// Raises ``NotFoundError``.
    #[pyo3(signature = (index=0))]
    fn stash_drop(&self, py: Python<'_>, index: usize) -> PyResult<String> {
        py.detach(|| self.inner.stash_drop(index)).py()
    }

    /// Concludes a cherry-pick or revert stopped on conflicts (resolved and
    /// added): commits with the recorded message; returns the ``Commit``.
    ///
    /// Raises ``InvalidInputError`` when none waits or paths are unresolved.
    fn pick_continue(&self, py: Python<'_>) -> PyResult<PyCommit> {
        py.detach(|| self.inner.pick_continue()).py().map(PyCommit::new)
    }

    /// The tags, sorted: ``[(name, commit_id)]``.
    #[getter]
    fn tags(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        py.detach(|| self.inner.tags()).py()
    }

    /// Creates tag ``name`` at revision ``target`` (default HEAD); returns
    /// the commit ID. An existing tag is refused unless ``force``.
    ///
    /// Raises ``InvalidRefNameError``, ``InvalidInputError`` (exists),
    /// ``NotFoundError``.
    #[pyo3(signature = (name, target=None, force=false))]
    fn create_tag(&self, py: Python<'_>, name: &str, target: Option<&str>, force: bool) -> PyResult<String> {
        py.detach(|| self.inner.create_tag(name, target, force)).py()
    }

    /// Deletes tag ``name``; returns the commit ID it named.
    ///
    /// Raises ``NotFoundError``.
    fn delete_tag(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        py.detach(|| self.inner.delete_tag(name)).py()
    }

    /// Moves HEAD's branch to revision ``rev`` (default HEAD) (git's
    /// ``reset``): ``mode`` ``"soft"`` keeps the stage's content,
    /// ``"mixed"`` (default) empties the stage, ``"hard"`` also rewrites
    /// every tracked file (local changes to them are lost). Returns the
    /// commit ID HEAD now names.
    ///
    /// Raises ``ValueError`` for another mode, ``InvalidInputError`` (a
    /// soft reset during a merge), ``NotFoundError``.
    #[pyo3(signature = (rev=None, mode="mixed"))]
    fn reset(&self, py: Python<'_>, rev: Option<&str>, mode: &str) -> PyResult<String> {
        use muse_core::reset::ResetMode;
        let mode = match mode {
            "soft" => ResetMode::Soft,
            "mixed" => ResetMode::Mixed,
            "hard" => ResetMode::Hard,
            m => return Err(pyo3::exceptions::PyValueError::new_err(format!("mode must be soft, mixed or hard, not {m:?}"))),
        };
        py.detach(|| self.inner.reset(rev, mode)).py().map(|(id, _)| id)
    }

    /// Restores ``paths`` (paths or directories; ``"."`` everything)
    /// (git's ``restore``): with ``staged``, unstages them (their staged
    /// content becomes ``source``'s, default HEAD); with ``worktree``
    /// (the default without ``staged``), rewrites the files from
    /// ``source`` (default: the stage). Returns the paths restored.
    ///
    /// Raises ``InvalidInputError`` for a path matching nothing tracked.
    #[pyo3(signature = (paths, *, staged=false, worktree=false, source=None))]
    fn restore(&self, py: Python<'_>, paths: Vec<String>, staged: bool, worktree: bool, source: Option<String>) -> PyResult<Vec<String>> {
        let opts = muse_core::reset::RestoreOptions { source, staged, worktree };
        py.detach(|| self.inner.restore(&paths, &opts)).py()
    }

    /// Stops tracking ``paths`` and deletes them unless ``cached`` (git's
    /// ``rm``); returns the paths removed. Files with local or staged-only
    /// edits are refused unless ``force``.
    ///
    /// Raises ``InvalidInputError``.
    #[pyo3(signature = (paths, *, cached=false, force=false))]
    fn remove(&self, py: Python<'_>, paths: Vec<String>, cached: bool, force: bool) -> PyResult<Vec<String>> {
        py.detach(|| self.inner.remove(&paths, cached, force)).py()
    }

    /// Moves the tracked file or directory ``source`` to ``destination``
    /// (into it when it is an existing directory) (git's ``mv``); returns
    /// ``[(old, new)]`` per file moved.
    ///
    /// Raises ``InvalidInputError`` (not tracked, destination exists),
    /// ``InvalidPathError``.
    fn move_path(&self, py: Python<'_>, source: &str, destination: &str) -> PyResult<Vec<(String, String)>> {
        py.detach(|| self.inner.rename(source, destination)).py()
    }

    /// What commit ``rev`` changed (git's ``show``): its ``Commit`` and the
    /// ``DiffEntry`` list (with patches) against its first parent.
    ///
    /// Raises ``NotFoundError``.
    #[pyo3(signature = (rev="HEAD", context_lines=3))]
    fn show(&self, py: Python<'_>, rev: &str, context_lines: usize) -> PyResult<(PyCommit, Vec<PyDiffEntry>)> {
        let opts = muse_core::diff::PatchOptions { context_lines };
        let (rec, entries) = py
            .detach(|| -> muse_core::Result<_> {
                let (rec, changes) = self.inner.commit_changes(rev)?;
                let mut out = Vec::with_capacity(changes.len());
                for c in changes {
                    let patch = self.inner.diff_patch(&c, &opts)?;
                    out.push((c, patch));
                }
                Ok((rec, out))
            })
            .py()?;
        let entries = entries
            .into_iter()
            .map(|(e, patch)| PyDiffEntry { path: e.path, status: e.status.word().to_string(), old_id: e.old_id, new_id: e.new_id, patch })
            .collect();
        Ok((PyCommit::new(rec), entries))
    }

    /// Abandons the merge in progress: the files, the branch and the stage
    /// go back to where they were before ``merge()``.
    ///
    /// Raises ``InvalidInputError`` when no merge is in progress.
    fn merge_abort(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.merge_abort()).py()
    }

    /// The commits reachable from ``rev``, newest first (each once, every
    /// parent followed; only first parents with ``first_parent``), as an
    /// iterator of ``Commit``; at most ``max_count`` of them; with
    /// ``paths``, only the commits that change them. An unborn HEAD yields
    /// nothing.
    ///
    /// Raises ``NotFoundError`` for an unknown ``rev`` (here, not on the
    /// first ``next()``).
    #[pyo3(signature = (rev="HEAD", max_count=None, *, first_parent=false, paths=None))]
    fn log(&self, py: Python<'_>, rev: &str, max_count: Option<usize>, first_parent: bool, paths: Option<Vec<String>>) -> PyResult<PyCommitIterator> {
        let opts = muse_core::log::LogOptions { first_parent, paths: paths.unwrap_or_default() };
        let walk = py.detach(|| self.inner.log_with(rev, &opts)).py()?;
        Ok(PyCommitIterator { walk: Mutex::new(walk.take(max_count.unwrap_or(usize::MAX))) })
    }

    /// Resolves revision ``spec`` to a commit ID: ``HEAD``/``@``, a branch,
    /// a full ID, a hex prefix of at least 4 digits, with ``~n`` / ``^n``
    /// suffixes (``main~2^2``).
    ///
    /// Raises ``NotFoundError`` for a name that matches nothing,
    /// ``InvalidInputError`` for an ambiguous prefix or a malformed suffix.
    fn revparse(&self, py: Python<'_>, spec: &str) -> PyResult<String> {
        py.detach(|| self.inner.revparse(spec)).py()
    }

    /// Clones the repository at ``url`` into the new directory ``path``
    /// (git's ``clone``; pygit2's ``clone_repository``) and opens it:
    /// remote ``origin`` is ``url``, every remote branch becomes a
    /// remote-tracking ref (``origin/<branch>``), and the remote's HEAD
    /// branch (or ``branch``) is created and checked out. ``url`` is an
    /// ``http(s)://`` URL of a ``muse serve`` hub, ``file://`` + a path, or
    /// a path (``str`` or path-like). A remote without commits gives an
    /// empty repository on its HEAD branch. On failure the directory is
    /// removed if this call created it.
    ///
    /// Raises ``InvalidInputError`` (``path`` exists and is not empty, an
    /// unsupported URL scheme), ``NotARepositoryError`` (a local path
    /// that is not a repository), ``NotFoundError`` (a ``branch`` the
    /// remote lacks), ``RemoteError`` (the remote could not be reached or
    /// answered with an error).
    #[staticmethod]
    #[pyo3(name = "clone", signature = (url, path, branch=None))]
    fn clone_repository(py: Python<'_>, url: &Bound<'_, PyAny>, path: PathBuf, branch: Option<String>) -> PyResult<Self> {
        let url = url_arg(url)?;
        let inner = py.detach(|| muse_core::Repository::clone_from(&url, &path, branch.as_deref())).py()?;
        Ok(PyRepository { inner })
    }

    /// The configured remotes, sorted by name, as a list of ``Remote``
    /// (``[remote.<name>] url`` in ``.muse/config.toml``). pygit2's
    /// ``repo.remotes`` is a collection object; this is a plain list, and
    /// ``add_remote`` / ``remove_remote`` change it.
    #[getter]
    fn remotes(&self, py: Python<'_>) -> PyResult<Vec<PyRemote>> {
        let list = py.detach(|| self.inner.remotes()).py()?;
        Ok(list.into_iter().map(|r| PyRemote { name: r.name, url: r.url }).collect())
    }

    /// Adds remote ``name`` with ``url`` (git's ``remote add``; pygit2's
    /// ``remotes.create``) and returns it as stored: a path (``str`` or
    /// path-like) is made absolute.
    ///
    /// Raises ``InvalidRefNameError`` for a bad name, ``InvalidInputError``
    /// when it exists or the URL is empty or has an unsupported scheme.
    fn add_remote(&self, py: Python<'_>, name: &str, url: &Bound<'_, PyAny>) -> PyResult<PyRemote> {
        let url = url_arg(url)?;
        let remote = py
            .detach(|| -> muse_core::Result<_> {
                self.inner.add_remote(name, &url)?;
                let stored = self.inner.remotes()?.into_iter().find(|r| r.name == name);
                Ok(stored.map(|r| r.url).unwrap_or(url))
            })
            .py()?;
        Ok(PyRemote { name: name.to_string(), url: remote })
    }

    /// Removes remote ``name`` and its remote-tracking refs (git's
    /// ``remote remove``).
    ///
    /// Raises ``NotFoundError`` when there is no such remote.
    fn remove_remote(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        py.detach(|| self.inner.remove_remote(name)).py()
    }

    /// Fetches from the configured remote ``remote`` (git's ``fetch``):
    /// receives the commits this repository lacks (every hash verified)
    /// and sets the remote-tracking refs ``<remote>/<branch>`` to the
    /// remote's branches. Moves no local branch and touches no working
    /// tree. ``prune=True`` also removes the remote-tracking refs of
    /// branches gone from the remote. Returns a ``FetchResult``.
    ///
    /// Raises ``NotFoundError`` (no such remote), ``RemoteError``,
    /// ``NotARepositoryError`` (a local remote that is gone),
    /// ``IntegrityError`` subclasses (a bundle that does not verify:
    /// nothing is stored then).
    #[pyo3(signature = (remote="origin", prune=false))]
    fn fetch(&self, py: Python<'_>, remote: &str, prune: bool) -> PyResult<PyFetchResult> {
        let report = py.detach(|| self.inner.fetch(remote, &FetchOptions { prune })).py()?;
        Ok(PyFetchResult { report })
    }

    /// Pushes local branches to the configured remote ``remote`` (git's
    /// ``push --atomic``): ``branches`` is a branch name or a list of them
    /// (``None``: HEAD's branch). Each remote branch must be an ancestor of
    /// the local one unless ``force=True``; all move or none does.
    /// Afterwards the remote-tracking refs record the new values. Returns a
    /// ``PushResult``.
    ///
    /// Raises ``RejectedError`` (not a fast-forward, the remote branch
    /// moved since it was read, the checked-out branch of a remote that is
    /// not bare), ``NotFoundError`` (unknown local branch or remote),
    /// ``InvalidInputError`` (detached HEAD and no branch given),
    /// ``RemoteError``.
    #[pyo3(signature = (remote="origin", branches=None, force=false))]
    fn push(&self, py: Python<'_>, remote: &str, branches: Option<&Bound<'_, PyAny>>, force: bool) -> PyResult<PyPushResult> {
        let branches = match branches {
            Some(b) => one_or_many(b)?,
            None => Vec::new(),
        };
        let report = py.detach(|| self.inner.push(remote, &branches, force)).py()?;
        Ok(PyPushResult { report })
    }

    /// Fetches from ``remote``, then merges its branch ``branch`` (default:
    /// the name of HEAD's branch), i.e. the remote-tracking ref
    /// ``<remote>/<branch>``, into HEAD's branch (git's ``pull``): a
    /// fast-forward when possible, else a merge commit by ``author``, under
    /// ``merge()``'s rules (refused on a dirty tree). An unborn branch
    /// starts at the remote's commit. Returns a ``PullResult``; conflicts
    /// are a result, not an error.
    ///
    /// Raises as ``fetch()`` and ``merge()``; ``NotFoundError`` when the
    /// remote has no such branch, ``InvalidInputError`` on a detached HEAD.
    #[pyo3(signature = (remote="origin", branch=None, author=""))]
    fn pull(&self, py: Python<'_>, remote: &str, branch: Option<&str>, author: &str) -> PyResult<PyPullResult> {
        let (report, outcome, record) = py
            .detach(|| -> muse_core::Result<_> {
                let (report, outcome) = self.inner.pull(remote, branch, author)?;
                let record = match &outcome {
                    PullOutcome::FastForward { commit } | PullOutcome::Merged { commit } => {
                        Some(self.inner.find_commit(&commit.to_string())?)
                    }
                    PullOutcome::UpToDate | PullOutcome::Conflicts { .. } => None,
                };
                Ok((report, outcome, record))
            })
            .py()?;
        let (kind, conflicts) = match outcome {
            PullOutcome::UpToDate => ("up-to-date", Vec::new()),
            PullOutcome::FastForward { .. } => ("fast-forward", Vec::new()),
            PullOutcome::Merged { .. } => ("merged", Vec::new()),
            PullOutcome::Conflicts { paths } => ("conflicts", paths),
        };
        let commit = record.map(|r| Py::new(py, PyCommit::new(r))).transpose()?;
        let fetch = Py::new(py, PyFetchResult { report })?;
        Ok(PyPullResult { kind, conflicts, commit, fetch })
    }

    /// The bytes of the stored blob ``id`` (``"sha256:<hex>"``),
    /// hash-verified.
    ///
    /// Raises ``InvalidIdError``, ``NotFoundError``, ``CorruptRecordError``.
    fn read_object<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyBytes>> {
        let data = py.detach(|| self.inner.read_blob(id)).py()?;
        Ok(PyBytes::new(py, &data))
    }

    /// Stores ``data`` as a blob; returns its ID (``"sha256:<hex>"``).
    fn write_object(&self, py: Python<'_>, data: &[u8]) -> PyResult<String> {
        py.detach(|| self.inner.write_blob(data)).py().map(|id| id.to_string())
    }

    /// The MPack bundle (a dict, as ``muse.core.mpack.build_mpack``) of
    /// what the commits ``want`` reach and the commits ``have`` do not.
    ///
    /// Raises ``NotFoundError`` / ``MissingDataError`` for unknown or
    /// incomplete history.
    #[pyo3(signature = (want, have=Vec::new()))]
    fn build_mpack<'py>(&self, py: Python<'py>, want: Vec<String>, have: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
        crate::mpack::build(py, &self.inner, &want, &have)
    }

    /// Verifies and stores an MPack bundle (a dict or its wire bytes), as
    /// ``muse.core.mpack.apply_mpack``; returns the counts dict
    /// (``commits_written``, ``snapshots_written``, ``blobs_written``,
    /// ``blobs_skipped``, ``branch_heads``). Moves no branch.
    ///
    /// Raises ``IntegrityError`` subclasses for a bundle that does not
    /// verify (nothing is stored then).
    fn apply_mpack<'py>(&self, py: Python<'py>, mpack: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        crate::mpack::apply(py, &self.inner, mpack)
    }

    /// Writes a bundle *file* (the streaming, compressed format of ``muse
    /// bundle create``; not the in-memory MPack dict of ``build_mpack``) at
    /// ``path`` with what the revisions ``want`` reach and the revisions
    /// ``have`` do not (a thin bundle: the boundary commits are its
    /// ``prerequisites``, which the receiver must have). The file is
    /// written under a temporary name beside ``path`` and renamed into
    /// place when complete. Returns a dict: ``file``, ``bytes``,
    /// ``commits``, ``snapshots``, ``blobs``, ``blob_deltas``,
    /// ``blobs_reused`` (copied from a pack as stored), ``prerequisites``
    /// (commit IDs), ``branch_heads`` (``{branch: commit_id}`` of the local
    /// branches at the ``want`` tips).
    ///
    /// Raises ``NotFoundError`` for a revision that does not resolve,
    /// ``MissingDataError`` for incomplete history, ``OSError`` when the
    /// file cannot be written.
    #[pyo3(signature = (path, want, have=Vec::new()))]
    fn create_bundle<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
        want: Vec<String>,
        have: Vec<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let st = py
            .detach(|| -> muse_core::Result<_> {
                let ids = |revs: &[String]| -> muse_core::Result<Vec<muse_core::CommitId>> {
                    revs.iter().map(|r| muse_core::CommitId::parse(&self.inner.revparse(r)?)).collect()
                };
                let (want, have) = (ids(&want)?, ids(&have)?);
                self.inner.create_bundle(&path, &want, &have)
            })
            .py()?;
        let d = PyDict::new(py);
        d.set_item("file", path)?;
        d.set_item("bytes", st.bytes)?;
        d.set_item("commits", st.commits)?;
        d.set_item("snapshots", st.snapshots)?;
        d.set_item("blobs", st.blobs)?;
        d.set_item("blob_deltas", st.blob_deltas)?;
        d.set_item("blobs_reused", st.blobs_reused)?;
        d.set_item("prerequisites", st.prerequisites)?;
        d.set_item("branch_heads", st.branch_heads)?;
        Ok(d)
    }

    /// Verifies and stores the bundle file at ``path`` (format v2, or a v1
    /// MPack file), treating it as hostile exactly as ``apply_mpack``
    /// does: every blob, manifest and commit is verified before anything
    /// becomes visible, and on any failure nothing is stored. Moves no
    /// branch. Returns the counts dict of ``apply_mpack``
    /// (``commits_written``, ``snapshots_written``, ``blobs_written``,
    /// ``blobs_skipped``, ``branch_heads``).
    ///
    /// Raises ``NotFoundError`` when the repository lacks a prerequisite
    /// commit, ``IntegrityError`` subclasses for a file that does not
    /// verify (the error names the first bad entry and its byte offset),
    /// ``OSError`` when it cannot be read.
    fn apply_bundle<'py>(&self, py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let st = py.detach(|| self.inner.apply_bundle(&path, &muse_core::mpack::Limits::default())).py()?;
        crate::mpack::stats_dict(py, &st)
    }

    /// Verifies the bundle file at ``path`` as ``apply_bundle`` would,
    /// storing nothing; returns ``version``, ``commits``, ``snapshots``,
    /// ``blobs``, ``prerequisites``, ``branch_heads``.
    ///
    /// Raises as ``apply_bundle``.
    fn verify_bundle<'py>(&self, py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let info = py.detach(|| self.inner.verify_bundle(&path, &muse_core::mpack::Limits::default())).py()?;
        let d = PyDict::new(py);
        d.set_item("version", info.version)?;
        d.set_item("commits", info.commits)?;
        d.set_item("snapshots", info.snapshots)?;
        d.set_item("blobs", info.blobs)?;
        d.set_item("prerequisites", info.prerequisites)?;
        d.set_item("branch_heads", info.branch_heads)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Repository({})", self.root().into_pyobject(py)?.str()?.repr()?))
    }
}

/// Python's `repr()` of a string.
fn repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_string())
}

/// Python's `repr()` of an optional string.
fn opt_repr(py: Python<'_>, v: &Option<String>) -> PyResult<String> {
    match v {
        Some(s) => repr(py, s),
        None => Ok("None".into()),
    }
}

/// Adds `Repository` and its result classes to the module.
pub fn add_to(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRepository>()?;
    m.add_class::<PyCommit>()?;
    m.add_class::<PyStatusEntry>()?;
    m.add_class::<PyDiffEntry>()?;
    m.add_class::<PyMergeResult>()?;
    m.add_class::<PyCommitIterator>()?;
    m.add_class::<PyRemote>()?;
    m.add_class::<PyRefUpdate>()?;
    m.add_class::<PyFetchResult>()?;
    m.add_class::<PyPushResult>()?;
    m.add_class::<PyPullResult>()?;
    Ok(())
}
