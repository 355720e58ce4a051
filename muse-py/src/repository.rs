//! `muse.Repository`: the Python face of [`muse_core::Repository`]
//! (SPEC §11), shaped like pygit2's `Repository`, and its result classes
//! (`Commit`, `StatusEntry`, `DiffEntry`, `MergeResult`).
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
    /// ``repo.json``.
    ///
    /// Raises ``InvalidInputError`` when ``path`` is already inside a
    /// repository, ``InvalidRefNameError`` for a bad branch name,
    /// ``MuseIOError``.
    #[staticmethod]
    #[pyo3(signature = (path, default_branch="main", owner=""))]
    fn init(py: Python<'_>, path: PathBuf, default_branch: &str, owner: &str) -> PyResult<Self> {
        let opts = InitOptions { default_branch: default_branch.into(), owner: owner.into() };
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
    Ok(())
}
