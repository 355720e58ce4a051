//! [`Repository`]: the handle every operation goes through (SPEC §11).
//!
//! A repository is a working tree (`root`), the working-copy state beside
//! it in `root/.muse/` (stage, stat cache, operation journal, locks), a
//! store behind the [`crate::store`] traits, and the configuration. It is
//! opened, initialised or discovered once; the porcelain is its methods,
//! one module per concept: [`crate::stage`] (add), [`crate::status`],
//! [`crate::commit`], [`crate::checkout`], [`crate::merge`],
//! [`crate::revision`], [`crate::branch`], [`crate::log`], [`crate::diff`].
//! Shaped like libgit2's `git_repository` and pygit2's `Repository`.
//!
//! ```
//! use muse_core::{commit::CommitOptions, merge::MergeOutcome, Repository};
//! # fn main() -> muse_core::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let repo = Repository::init(dir.path())?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
//! repo.add_all()?;
//! let first = repo.commit(&CommitOptions { message: "first".into(), ..Default::default() })?;
//! repo.create_branch("topic", None)?;
//! repo.checkout("topic", false)?;
//! std::fs::write(dir.path().join("hello.txt"), "hello, topic\n").unwrap();
//! assert_eq!(repo.status()?.entries().len(), 1);
//! repo.commit(&CommitOptions { message: "second".into(), all: true, ..Default::default() })?;
//! repo.checkout("main", false)?;
//! assert!(matches!(repo.merge("topic", "me")?, MergeOutcome::FastForward { .. }));
//! assert_eq!(repo.revparse("HEAD~1")?, first.commit_id);
//! assert_eq!(repo.log("HEAD")?.count(), 2);
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, IoContext, Result};
use crate::ids::{BlobId, CommitId, SnapshotId};
use crate::manifest::Manifest;
use crate::paths::muse_dir;
use crate::atomic::Durability;
use crate::records::{CommitRecord, SnapshotRecord};
use crate::store::{Backend, FsStore, Head, MemStore, RefEdit};

/// An open repository. Cheap to clone (the store is
/// shared); `Send + Sync`, so one handle may serve many threads.
#[derive(Clone)]
pub struct Repository {
    root: PathBuf,
    store: Arc<dyn Backend>,
    progress: Option<Progress>,
}

/// A progress sink: called with what is being done (`"writing files"`),
/// how many items are done and how many there are, from any thread, as
/// long operations go (checkout, merge, reset, stash, cherry-pick). Set
/// with [`Repository::with_progress`]; the CLI draws a bar on a terminal.
pub type Progress = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("root", &self.root).field("store", &self.store.name()).finish()
    }
}

impl Repository {
    /// Opens the repository whose working tree is `path` (the directory
    /// holding `.muse/`; `path` may also be that `.muse` directory), on the
    /// filesystem store.
    ///
    /// # Errors
    /// [`Error::NotARepository`] when `path` holds no `.muse/`;
    /// [`Error::Config`] for an invalid `config.toml`.
    pub fn open(path: impl AsRef<Path>) -> Result<Repository> {
        let mut root = path.as_ref().to_path_buf();
        if root.file_name().is_some_and(|n| n == ".muse") && root.is_dir() {
            root.pop();
            if root.as_os_str().is_empty() {
                root = PathBuf::from(".");
            }
        }
        if !muse_dir(&root).is_dir() {
            return Err(Error::NotARepository { start: root });
        }
        // A configuration that does not parse is refused at open (and again
        // by any call that reads it).
        Config::load(&root)?;
        Ok(Repository { store: Arc::new(FsStore::new(root.clone())), root, progress: None })
    }

    /// Creates a repository at `path` (made if missing) with HEAD on
    /// `main`, and opens it ([`crate::repo::init_repo`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `path` is already inside a repository;
    /// [`Error::Io`].
    pub fn init(path: impl AsRef<Path>) -> Result<Repository> {
        Repository::init_with(path, &crate::repo::InitOptions::default())
    }

    /// [`Repository::init`] with options (default branch, owner).
    ///
    /// # Errors
    /// As [`Repository::init`]; [`Error::InvalidRefName`].
    pub fn init_with(path: impl AsRef<Path>, opts: &crate::repo::InitOptions) -> Result<Repository> {
        crate::repo::init_repo(path.as_ref(), opts)?;
        Repository::open(path)
    }

    /// Finds the repository containing `start` (walking up to the first
    /// directory holding `.muse/`; `None`: `$MUSE_REPO_ROOT`, else the
    /// current directory; [`crate::repo::find_repo`]) and opens it.
    ///
    /// # Errors
    /// [`Error::NotARepository`]; as [`Repository::open`].
    pub fn discover(start: Option<&Path>) -> Result<Repository> {
        Repository::open(crate::repo::find_repo(start)?)
    }

    /// A repository whose working tree is `root` and whose store is
    /// `store` (for example a [`MemStore`]). The working-copy state (stage,
    /// stat cache, journal, locks) lives in `root/.muse/`, made if missing.
    ///
    /// # Errors
    /// [`Error::Io`] when `root/.muse` cannot be made; [`Error::Config`].
    pub fn with_store(root: impl Into<PathBuf>, store: Arc<dyn Backend>) -> Result<Repository> {
        let root = root.into();
        let dot = muse_dir(&root);
        std::fs::create_dir_all(&dot).ctx("create directory", &dot)?;
        Config::load(&root)?;
        Ok(Repository { root, store, progress: None })
    }

    /// [`Repository::with_store`] with a new, empty [`MemStore`].
    ///
    /// # Errors
    /// As [`Repository::with_store`].
    pub fn in_memory(root: impl Into<PathBuf>) -> Result<Repository> {
        Repository::with_store(root, Arc::new(MemStore::new()))
    }

    /// This repository reporting the progress of long operations to
    /// `progress` ([`Progress`]).
    #[must_use]
    pub fn with_progress(&self, progress: Progress) -> Repository {
        Repository { progress: Some(progress), ..self.clone() }
    }

    /// Reports progress to the sink, if any.
    pub(crate) fn report_progress(&self, what: &str, done: u64, total: u64) {
        if let Some(p) = &self.progress {
            p(what, done, total);
        }
    }

    /// The working tree's root (the directory holding `.muse/`).
    pub fn workdir(&self) -> &Path {
        &self.root
    }

    /// The store.
    pub fn store(&self) -> &dyn Backend {
        &*self.store
    }

    /// The store, shared.
    pub fn store_arc(&self) -> Arc<dyn Backend> {
        self.store.clone()
    }

    /// The configuration (`.muse/config.toml`), as the file is now: a
    /// change made after the handle was opened applies to the next call,
    /// as git reads its configuration per command (revalidated with one
    /// `stat`; [`crate::config::Config::load`]).
    ///
    /// # Errors
    /// [`Error::Config`] for a file that does not parse; [`Error::Io`].
    pub fn config(&self) -> Result<Arc<Config>> {
        Config::load(&self.root)
    }

    /// Drops every cache this repository's data sits in: the store's (pack
    /// listing, known shard directories), the kept stat cache of the
    /// working tree, and the cached configuration (after another process or
    /// a tool changed the repository behind the handle in a way a file
    /// stamp cannot show, or to bound a long-lived process's memory).
    pub fn clear_caches(&self) {
        self.store.clear_caches();
        crate::stat_cache::StatCache::forget(&self.root);
        crate::config::forget(&self.root);
    }

    /// This repository writing blobs, records and refs with `durability`
    /// instead of its configured policy (SPEC §4; the filesystem store: a
    /// caller that makes many writes durable together, as the seed
    /// contract's `durable=False` does). Other stores are returned as they
    /// are.
    #[must_use]
    pub fn with_durability(&self, durability: Durability) -> Repository {
        let mut repo = self.clone();
        if let Some(fs) = self.store.as_fs() {
            repo.store = Arc::new(fs.clone().with_durability(durability));
        }
        repo
    }

    /// The filesystem store, for operations that exist only on the on-disk
    /// format (`what` names the operation for the error).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for any other store.
    pub fn fs_store(&self, what: &str) -> Result<&FsStore> {
        self.store.as_fs().ok_or_else(|| {
            Error::InvalidInput(format!(
                "{what} works on the filesystem store; this repository's store is {:?}",
                self.store.name()
            ))
        })
    }

    /// Removes the temporary files crashed writers left in `.muse/` (the
    /// startup pass of SPEC §4, [`crate::repo::startup_gc`]; git's `gc
    /// --auto` for temps). Filesystem store only.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::InvalidInput`] on another store.
    pub fn startup_gc(&self) -> Result<crate::repo::GcReport> {
        crate::repo::startup_gc(self.fs_store("startup gc")?.root())
    }

    /// Removes object temps older than `min_age` (default: one hour)
    /// ([`crate::object_store::cleanup_stale_object_temps`]); returns how
    /// many. Filesystem store only.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::InvalidInput`] on another store.
    pub fn cleanup_stale_object_temps(&self, min_age: Option<std::time::Duration>) -> Result<usize> {
        crate::object_store::cleanup_stale_object_temps(self.fs_store("cleaning object temps")?.root(), min_age)
    }

    // ---- objects and records -------------------------------------------

    /// The bytes of blob `id` (`"sha256:<hex>"`), hash-verified.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::NotFound`], [`Error::Corrupt`].
    pub fn read_blob(&self, id: &str) -> Result<Vec<u8>> {
        self.store.read_blob(&BlobId::parse(id)?)
    }

    /// Stores `content` as a blob; returns its ID.
    ///
    /// # Errors
    /// Store errors.
    pub fn write_blob(&self, content: &[u8]) -> Result<BlobId> {
        Ok(self.store.write_blob(content)?.0)
    }

    /// True when blob `id` is stored.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; store errors.
    pub fn has_blob(&self, id: &str) -> Result<bool> {
        self.store.has_blob(&BlobId::parse(id)?)
    }

    /// Stores `content` as blob `id` (which it must hash to); returns
    /// whether it was new.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::HashMismatch`] (nothing stored);
    /// store errors.
    pub fn write_blob_as(&self, id: &str, content: &[u8]) -> Result<bool> {
        self.store.write_blob_as(&BlobId::parse(id)?, content)
    }

    /// Writes blob `id` to the file `dest` (any path: a caller's export, not
    /// a working-tree checkout, which goes through [`Self::checkout`]),
    /// atomically, mode 0755 when `executable`; returns the bytes written.
    /// Filesystem store only ([`crate::object_store::restore_object`]).
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::NotFound`], [`Error::Corrupt`] (the
    /// copy does not hash to `id`; nothing left at `dest`), [`Error::Io`];
    /// [`Error::InvalidInput`] on another store.
    pub fn restore_blob(&self, id: &str, dest: &Path, executable: bool) -> Result<u64> {
        let fs = self.fs_store("restoring a blob to a file")?;
        crate::object_store::restore_object(fs.root(), id, dest, executable, fs.durability())
    }

    /// True when commit `id` is stored.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; store errors.
    pub fn has_commit(&self, id: &str) -> Result<bool> {
        self.store.has_commit(&CommitId::parse(id)?)
    }

    /// True when snapshot `id` is stored.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; store errors.
    pub fn has_snapshot(&self, id: &str) -> Result<bool> {
        self.store.has_snapshot(&SnapshotId::parse(id)?)
    }

    /// The commit `id`, `None` when it is not stored.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::Corrupt`].
    pub fn read_commit(&self, id: &str) -> Result<Option<CommitRecord>> {
        self.store.read_commit(&CommitId::parse(id)?)
    }

    /// Stores the commit record `rec` (its fields must hash to its
    /// `commit_id`; parents and snapshot are not required to be stored);
    /// returns whether it was new. [`Self::create_commit`] builds one.
    ///
    /// # Errors
    /// [`Error::HashMismatch`] / [`Error::InvalidInput`]; store errors.
    pub fn write_commit(&self, rec: &CommitRecord) -> Result<bool> {
        self.store.write_commit(rec)
    }

    /// The snapshot `id` (its full manifest), `None` when not stored.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::Corrupt`].
    pub fn read_snapshot(&self, id: &str) -> Result<Option<SnapshotRecord>> {
        self.store.read_snapshot(&SnapshotId::parse(id)?)
    }

    /// Stores the snapshot record `rec` (its manifest must hash to its
    /// `snapshot_id`); returns whether it was new.
    ///
    /// # Errors
    /// [`Error::HashMismatch`] / [`Error::InvalidPath`]; store errors.
    pub fn write_snapshot(&self, rec: &SnapshotRecord) -> Result<bool> {
        self.store.write_snapshot(rec, None)
    }

    /// Every stored commit ID, sorted.
    ///
    /// # Errors
    /// Store errors.
    pub fn commit_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.store.commit_ids()?.iter().map(ToString::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The commit `id`.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::NotFound`] when absent;
    /// [`Error::Corrupt`].
    pub fn find_commit(&self, id: &str) -> Result<CommitRecord> {
        self.store
            .read_commit(&CommitId::parse(id)?)?
            .ok_or_else(|| Error::NotFound { what: "commit", name: id.to_string() })
    }

    /// The manifest (path → blob ID) of commit `id`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing commit; [`Error::Missing`] (an
    /// integrity error) when the commit exists but its snapshot does not;
    /// [`Error::Corrupt`].
    pub fn commit_manifest(&self, id: &str) -> Result<Manifest> {
        let rec = self.find_commit(id)?;
        let snap = self.store.read_snapshot(&SnapshotId::parse(&rec.snapshot_id)?)?.ok_or_else(|| Error::Missing {
            what: "snapshot",
            id: rec.snapshot_id.clone(),
            referenced_by: format!("commit {id}"),
        })?;
        Ok(snap.manifest)
    }

    /// [`Self::commit_manifest`], or the empty manifest for `None`.
    pub(crate) fn manifest_of(&self, id: Option<&str>) -> Result<Manifest> {
        match id {
            Some(c) => self.commit_manifest(c),
            None => Ok(Manifest::new()),
        }
    }

    // ---- refs -------------------------------------------------------------

    /// What HEAD points at.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn head_ref(&self) -> Result<Head> {
        self.store.head()
    }

    /// The branch HEAD is on, `None` when detached.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn head_branch(&self) -> Result<Option<String>> {
        Ok(match self.store.head()? {
            Head::Branch(b) => Some(b),
            Head::Detached(_) => None,
        })
    }

    /// HEAD's commit, `None` on an unborn branch.
    ///
    /// # Errors
    /// [`Error::Missing`] when HEAD names a commit that is not stored;
    /// [`Error::Corrupt`].
    pub fn head(&self) -> Result<Option<CommitRecord>> {
        let (branch, id) = self.head_ids()?;
        match id {
            None => Ok(None),
            Some(id) => self.find_commit(&id).map(Some).map_err(|e| missing_head(e, branch.as_deref())),
        }
    }

    /// HEAD's commit: the current branch's tip, or the detached commit;
    /// `None` on an unborn branch.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn resolve_head(&self) -> Result<Option<String>> {
        Ok(self.head_ids()?.1)
    }

    /// Points branch `name` at commit `id` whatever it pointed at (made if
    /// missing). [`Self::compare_and_swap_branch`] is the safe move.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`]; store errors.
    pub fn set_branch(&self, name: &str, id: &str) -> Result<()> {
        let new = Some(CommitId::parse(id)?);
        self.store.transaction(&[RefEdit { branch: name.to_string(), expected: None, new }])
    }

    /// Deletes branch `name` (no porcelain rules: see
    /// [`Self::delete_branch`]); with `expected`, only if it points there.
    /// Returns whether it existed.
    ///
    /// # Errors
    /// [`Error::RefConflict`] when `expected` is given and the branch
    /// points elsewhere or is absent; [`Error::InvalidRefName`].
    pub fn delete_branch_ref(&self, name: &str, expected: Option<&str>) -> Result<bool> {
        let expected = expected.map(CommitId::parse).transpose()?;
        loop {
            let actual = self.store.branch(name)?;
            if expected.is_some() && actual != expected {
                return Err(Error::RefConflict {
                    name: format!("refs/heads/{name}"),
                    expected: expected.map(|c| c.to_string()),
                    actual: actual.map(|c| c.to_string()),
                });
            }
            let Some(actual) = actual else { return Ok(false) };
            let edit = RefEdit { branch: name.to_string(), expected: Some(Some(actual)), new: None };
            match self.store.transaction(&[edit]) {
                // Moved in between without an expectation: delete what it is now.
                Err(Error::RefConflict { .. }) if expected.is_none() => continue,
                r => return r.map(|()| true),
            }
        }
    }

    /// Moves HEAD's commit to `id`: the current branch when HEAD is on one
    /// (made if unborn), else the detached HEAD (git's `update-ref HEAD`).
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::Corrupt`]; store errors.
    pub fn set_head_commit(&self, id: &str) -> Result<()> {
        match self.store.head()? {
            Head::Branch(b) => self.set_branch(&b, id),
            Head::Detached(_) => self.set_head_detached(id),
        }
    }

    /// The branch HEAD is on and HEAD's commit ID.
    pub(crate) fn head_ids(&self) -> Result<(Option<String>, Option<String>)> {
        Ok(match self.store.head()? {
            Head::Branch(b) => {
                let c = self.branch_target(&b)?;
                (Some(b), c)
            }
            Head::Detached(c) => (None, Some(c)),
        })
    }

    /// The branch HEAD is on (`None` when detached), HEAD's commit (`None`
    /// on an unborn branch), and its manifest (empty when unborn).
    ///
    /// # Errors
    /// [`Error::Missing`] when HEAD's commit or snapshot is missing,
    /// [`Error::Corrupt`].
    pub fn head_state(&self) -> Result<(Option<String>, Option<String>, Manifest)> {
        let (branch, commit) = self.head_ids()?;
        let manifest = self.head_manifest_of(branch.as_deref(), commit.as_deref())?;
        Ok((branch, commit, manifest))
    }

    /// The manifest of `commit` that HEAD (on `branch`) resolved to; empty
    /// for an unborn branch. A missing commit is reported as missing from
    /// the branch (or HEAD).
    pub(crate) fn head_manifest_of(&self, branch: Option<&str>, commit: Option<&str>) -> Result<Manifest> {
        match commit {
            Some(c) => self.commit_manifest(c).map_err(|e| missing_head(e, branch)),
            None => Ok(Manifest::new()),
        }
    }

    /// The commit branch `name` points at, `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::Corrupt`].
    pub fn branch_target(&self, name: &str) -> Result<Option<String>> {
        Ok(self.store.branch(name)?.map(|c| c.to_string()))
    }

    /// Every branch as `(name, commit ID)`, sorted by name.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn branches(&self) -> Result<Vec<(String, String)>> {
        Ok(self.store.branches()?.into_iter().map(|(n, c)| (n, c.to_string())).collect())
    }

    /// Moves `branch` from `expected` (`None`: must not exist) to `new`.
    ///
    /// # Errors
    /// [`Error::RefConflict`], [`Error::InvalidId`], [`Error::InvalidRefName`].
    pub fn compare_and_swap_branch(&self, branch: &str, expected: Option<&str>, new: &str) -> Result<()> {
        let expected = expected.map(CommitId::parse).transpose()?;
        self.store.transaction(&[RefEdit { branch: branch.to_string(), expected: Some(expected), new: Some(CommitId::parse(new)?) }])
    }

    /// Points HEAD at `branch` (which need not exist yet).
    ///
    /// # Errors
    /// [`Error::InvalidRefName`].
    pub fn set_head_branch(&self, branch: &str) -> Result<()> {
        self.store.set_head(&Head::Branch(branch.to_string()))
    }

    /// Detaches HEAD at commit `id`.
    ///
    /// # Errors
    /// [`Error::InvalidId`].
    pub fn set_head_detached(&self, id: &str) -> Result<()> {
        CommitId::parse(id)?;
        self.store.set_head(&Head::Detached(id.to_string()))
    }

    /// The merge base of commits `a` and `b` (git's, with the
    /// `[limits] max_ancestors` cap of SPEC §6).
    ///
    /// # Errors
    /// [`Error::CapExceeded`], [`Error::NotFound`], [`Error::InvalidId`];
    /// [`Error::Config`] when `config.toml` does not parse.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>> {
        crate::merge_base::merge_base_in(&*self.store, a, b, self.config()?.max_ancestors)
    }

    /// The repository's default branch: `default_branch` of
    /// `.muse/repo.json`, else `main` (also when the file is missing or does
    /// not parse).
    pub fn default_branch(&self) -> String {
        std::fs::read_to_string(crate::paths::repo_json_path(&self.root))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("default_branch").and_then(|b| b.as_str()).map(str::to_string))
            .unwrap_or_else(|| "main".into())
    }

    /// How many commits `a` is ahead of and behind `b`: the commits
    /// reachable from each and not from their merge base
    /// ([`crate::commits::walk_between_with`]), each count capped at `cap`.
    ///
    /// # Errors
    /// As [`Self::merge_base`].
    pub fn ahead_behind(&self, a: &str, b: &str, cap: usize) -> Result<(usize, usize)> {
        let base = self.merge_base(a, b)?;
        let count = |tip: &str| -> Result<usize> {
            Ok(crate::commits::walk_between_with(&mut |id| self.find_commit(id), tip, base.as_deref(), cap)?.commits.len())
        };
        Ok((count(a)?, count(b)?))
    }

    /// The shared write lock of the filesystem store ([`crate::lock`]):
    /// held by the porcelain while data it wrote is reachable only from
    /// state it has not yet written, so `gc --prune` cannot remove it.
    pub(crate) fn write_lock(&self) -> Result<crate::lock::FileLock> {
        crate::lock::write_lock(&self.root, crate::lock::LockMode::Shared)
    }
}

/// Maps a missing commit or snapshot reached from HEAD to
/// [`Error::Missing`] naming the ref.
fn missing_head(e: Error, branch: Option<&str>) -> Error {
    let referenced_by = match branch {
        Some(b) => format!("refs/heads/{b}"),
        None => "HEAD".into(),
    };
    match e {
        Error::NotFound { what: "commit", name } => Error::Missing { what: "commit", id: name, referenced_by },
        e => e,
    }
}
