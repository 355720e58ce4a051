//! Write batches: many objects and records, one flush barrier (SPEC §4).
//!
//! A [`Batch`] stages every file it is given in a private directory
//! `.muse/tmp/batch-*` (no `fsync` per file), and on [`Batch::commit`]:
//!
//! 1. one filesystem barrier (`syncfs`) makes all staged bytes durable;
//! 2. each staged file is renamed into its final place (never over an
//!    existing one), so no reader ever sees a file whose bytes are not yet
//!    on disk;
//! 3. a second barrier makes the renames durable;
//! 4. only then are the queued ref updates applied, each durable on return,
//!    so a ref never points at something that is not durable.
//!
//! Under `[core] fsync = "off"` both barriers are skipped. A batch that is
//! dropped without `commit` (or whose process dies) leaves nothing visible:
//! its staging directory is removed, by `Drop` or by the next startup GC
//! (the batch holds an `flock` on it while alive).

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::atomic::{sync_filesystem, Durability, MODE_IMMUTABLE};
use crate::commits::prepare_commit;
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::object_store::{has_object, verify_blob};
use crate::paths::{object_path, staging_dir};
use crate::records::{CommitRecord, SnapshotRecord};
use crate::snapshots::{load_snapshot, prepare_snapshot_on, StagedSnapshots};

/// Counts of what a committed batch wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Objects newly stored.
    pub objects_written: usize,
    /// Objects that were already stored (or given twice).
    pub objects_skipped: usize,
    /// Commit records newly stored.
    pub commits_written: usize,
    /// Snapshot records newly stored.
    pub snapshots_written: usize,
    /// Ref updates applied.
    pub refs_updated: usize,
}

enum Kind {
    Object,
    Commit,
    Snapshot,
}

struct Staged {
    staged: PathBuf,
    dest: PathBuf,
    kind: Kind,
}

enum RefUpdate {
    Set { branch: String, id: String },
    Cas { branch: String, expected: Option<String>, id: String },
}

/// A set of writes made durable together; see the module docs.
pub struct Batch {
    root: PathBuf,
    dir: PathBuf,
    _lock: File,
    durability: Durability,
    staged: Vec<Staged>,
    ids: HashSet<String>,
    refs: Vec<RefUpdate>,
    stats: BatchStats,
    done: bool,
    /// Snapshot records staged in this batch: ID → staged file (delta
    /// bases may be among them).
    staged_snapshots: StagedSnapshots,
    /// The last few snapshots staged, `(id, manifest, depth)`, so that a
    /// chain of deltas does not re-read its base.
    recent: VecDeque<(String, std::collections::BTreeMap<String, String>, u32)>,
}

/// How many recently staged manifests a batch keeps for delta bases.
const RECENT_SNAPSHOTS: usize = 4;

impl Batch {
    /// Starts a batch on the repository at `root`.
    ///
    /// # Errors
    /// [`Error::Io`] when the staging directory cannot be made.
    pub fn begin(root: &Path) -> Result<Batch> {
        let base = staging_dir(root);
        std::fs::create_dir_all(&base).ctx("create directory", &base)?;
        let dir = tempfile::Builder::new().prefix("batch-").tempdir_in(&base).ctx("create staging directory in", &base)?.keep();
        let lock = File::open(&dir).ctx("open", &dir)?;
        lock.lock().ctx("lock", &dir)?;
        Ok(Batch {
            root: root.to_path_buf(),
            dir,
            _lock: lock,
            durability: durability_for(root, None)?,
            staged: Vec::new(),
            ids: HashSet::new(),
            refs: Vec::new(),
            stats: BatchStats::default(),
            done: false,
            staged_snapshots: StagedSnapshots::new(),
            recent: VecDeque::new(),
        })
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn stage(&mut self, dest: PathBuf, bytes: &[u8], kind: Kind) -> Result<()> {
        let staged = self.dir.join(self.staged.len().to_string());
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE_IMMUTABLE)
            .open(&staged)
            .ctx("create", &staged)?;
        f.write_all(bytes).ctx("write", &staged)?;
        self.staged.push(Staged { staged, dest, kind });
        Ok(())
    }

    /// Stages the object `id` (hash-verified now). Returns `false` when it is
    /// already stored or already in this batch.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::HashMismatch`], [`Error::Io`].
    pub fn write_object(&mut self, id: &str, content: &[u8]) -> Result<bool> {
        verify_blob(id, content)?;
        if self.ids.contains(id) || has_object(&self.root, id)? {
            self.stats.objects_skipped += 1;
            return Ok(false);
        }
        self.stage(object_path(&self.root, id)?, content, Kind::Object)?;
        self.ids.insert(id.to_string());
        Ok(true)
    }

    /// Stages the object `id` by streaming the file at `src` (64 KiB at a
    /// time, never whole in memory) and checking that its bytes hash to
    /// `id`. Returns `false` when the object is already stored or staged.
    ///
    /// # Errors
    /// [`Error::InvalidId`]; [`Error::HashMismatch`] when the file's bytes
    /// (e.g. changed since they were hashed) do not hash to `id` (nothing
    /// staged); [`Error::Io`].
    pub fn write_object_from_file(&mut self, id: &str, src: &Path) -> Result<bool> {
        crate::ids::validate_id(id)?;
        if self.ids.contains(id) || has_object(&self.root, id)? {
            self.stats.objects_skipped += 1;
            return Ok(false);
        }
        let staged = self.dir.join(self.staged.len().to_string());
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE_IMMUTABLE)
            .open(&staged)
            .ctx("create", &staged)?;
        let input = File::open(src).ctx("open", src)?;
        let (actual, _) = crate::ids::blob_id_reader(Tee { inner: input, copy: &mut out })
            .map_err(|e| Error::io("copy", src, e))?;
        if actual != id {
            let _ = std::fs::remove_file(&staged);
            return Err(Error::HashMismatch { what: "object", expected: id.to_string(), actual });
        }
        self.staged.push(Staged { staged, dest: object_path(&self.root, id)?, kind: Kind::Object });
        self.ids.insert(id.to_string());
        Ok(true)
    }

    /// Stages a commit record (verified now). Returns `false` when it is
    /// already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::commits::write_commit`].
    pub fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool> {
        // A stored commit with this (validated) ID is the same record: skip
        // the verification and encoding.
        if self.ids.contains(&rec.commit_id) || crate::paths::commit_path(&self.root, &rec.commit_id)?.exists() {
            return Ok(false);
        }
        let (path, bytes) = prepare_commit(&self.root, rec)?;
        self.stage(path, &bytes, Kind::Commit)?;
        self.ids.insert(rec.commit_id.clone());
        Ok(true)
    }

    /// Stages a snapshot record (verified now) as a full record. Returns
    /// `false` when it is already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::snapshots::write_snapshot`].
    pub fn write_snapshot(&mut self, rec: &SnapshotRecord) -> Result<bool> {
        self.write_snapshot_with_base(rec, None)
    }

    /// Stages a snapshot record (verified now), as a delta against `base`
    /// when possible: `base` may be stored or staged earlier in this batch
    /// (see [`crate::snapshots::write_snapshot_with_base`]). Returns `false`
    /// when it is already stored or already in this batch.
    ///
    /// # Errors
    /// As [`crate::snapshots::write_snapshot_with_base`].
    pub fn write_snapshot_with_base(&mut self, rec: &SnapshotRecord, base: Option<&str>) -> Result<bool> {
        if self.ids.contains(&rec.snapshot_id) || crate::paths::snapshot_path(&self.root, &rec.snapshot_id)?.exists() {
            return Ok(false);
        }
        let mut loaded = None;
        if let Some(b) = base.filter(|b| *b != rec.snapshot_id) {
            crate::ids::validate_id(b)?;
            if let Some(pos) = self.recent.iter().position(|(id, _, _)| id == b) {
                let hit = self.recent.remove(pos).expect("position is valid");
                loaded = Some(hit);
            } else if let Ok(Some(l)) = load_snapshot(&self.root, Some(&self.staged_snapshots), b) {
                // An unreadable base only costs a full record.
                loaded = Some((b.to_string(), l.rec.manifest, l.depth));
            }
        }
        let prepared = prepare_snapshot_on(&self.root, rec, loaded.as_ref().map(|(id, m, d)| (id.as_str(), m, *d)));
        if let Some(l) = loaded {
            self.recent.push_front(l);
        }
        let (path, bytes, depth) = prepared?;
        self.stage(path, &bytes, Kind::Snapshot)?;
        let staged = self.staged.last().expect("just staged").staged.clone();
        self.staged_snapshots.insert(rec.snapshot_id.clone(), staged);
        self.ids.insert(rec.snapshot_id.clone());
        self.recent.push_front((rec.snapshot_id.clone(), rec.manifest.clone(), depth));
        self.recent.truncate(RECENT_SNAPSHOTS);
        Ok(true)
    }

    /// Queues `branch := commit_id`, applied after the barrier.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`] (checked now).
    pub fn write_branch_ref(&mut self, branch: &str, commit_id: &str) -> Result<()> {
        crate::refs::validate_branch_name(branch)?;
        crate::ids::validate_id(commit_id)?;
        self.refs.push(RefUpdate::Set { branch: branch.into(), id: commit_id.into() });
        Ok(())
    }

    /// Queues a compare-and-swap of `branch` from `expected` to `commit_id`,
    /// applied after the barrier; [`Batch::commit`] fails with
    /// [`Error::RefConflict`] if the ref moved (the staged data is then
    /// durable but unreferenced).
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`] (checked now).
    pub fn compare_and_swap_branch_ref(&mut self, branch: &str, expected: Option<&str>, commit_id: &str) -> Result<()> {
        crate::refs::validate_branch_name(branch)?;
        crate::ids::validate_id(commit_id)?;
        if let Some(e) = expected {
            crate::ids::validate_id(e)?;
        }
        self.refs.push(RefUpdate::Cas { branch: branch.into(), expected: expected.map(Into::into), id: commit_id.into() });
        Ok(())
    }

    /// Number of files staged so far.
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    /// True when nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Makes everything durable and visible, then applies the ref updates
    /// (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::RefConflict`] from a queued compare-and-swap.
    pub fn commit(mut self) -> Result<BatchStats> {
        let full = self.durability == Durability::Full;
        if full && !self.staged.is_empty() {
            sync_filesystem(&self.dir)?;
        }
        let staged = std::mem::take(&mut self.staged);
        for s in &staged {
            let dir = s.dest.parent().expect("destination has a directory");
            let renamed = match rename_noreplace(&s.staged, &s.dest) {
                Err(e) if e.is_not_found() => {
                    // The second barrier below makes the new directories durable.
                    std::fs::create_dir_all(dir).ctx("create directory", dir)?;
                    rename_noreplace(&s.staged, &s.dest)?
                }
                other => other?,
            };
            if !renamed {
                let _ = std::fs::remove_file(&s.staged);
            }
            match (&s.kind, renamed) {
                (Kind::Object, true) => self.stats.objects_written += 1,
                (Kind::Object, false) => self.stats.objects_skipped += 1,
                (Kind::Commit, true) => self.stats.commits_written += 1,
                (Kind::Snapshot, true) => self.stats.snapshots_written += 1,
                _ => {}
            }
        }
        if full && !staged.is_empty() {
            sync_filesystem(&self.dir)?;
        }
        self.done = true;
        let _ = std::fs::remove_dir_all(&self.dir);
        for r in std::mem::take(&mut self.refs) {
            match r {
                RefUpdate::Set { branch, id } => crate::refs::write_branch_ref(&self.root, &branch, &id)?,
                RefUpdate::Cas { branch, expected, id } => {
                    crate::refs::compare_and_swap_branch_ref(&self.root, &branch, expected.as_deref(), &id)?
                }
            }
            self.stats.refs_updated += 1;
        }
        Ok(self.stats)
    }

    /// Discards everything staged; nothing becomes visible.
    pub fn abort(mut self) {
        self.cleanup();
    }

    fn cleanup(&mut self) {
        if !self.done {
            self.done = true;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A reader that writes everything it reads to `copy` too.
struct Tee<'a, R> {
    inner: R,
    copy: &'a mut File,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Renames `from` to `to` unless `to` exists; `Ok(false)` when it does.
fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST) => Ok(false),
        Err(e) => Err(Error::io("rename into", to, e.into())),
    }
}
