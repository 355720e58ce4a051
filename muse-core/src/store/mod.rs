//! Storage behind traits (SPEC §11): content (blobs), records (commits and
//! snapshots) and refs (branches and HEAD, with compare-and-swap and
//! multi-ref transactions), plus a write batch with one durability barrier.
//!
//! Anchors: gitoxide's `gix-odb` `Find`/`Write` traits, jj's `Backend`,
//! libgit2's `git_odb_backend`. Two implementations live beside the traits:
//! [`FsStore`] (the on-disk layout of SPEC §1: loose files and packs, the
//! default) and [`MemStore`] (everything in memory: tests, and the proof
//! that the porcelain in [`crate::repository`] depends on the traits only).
//! The hub's object-storage backend plugs in here.

mod fs;
mod memory;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

pub use fs::FsStore;
pub use memory::MemStore;

use crate::error::Result;
use crate::ids::{BlobId, CommitId, SnapshotId};
use crate::records::{CommitRecord, SnapshotRecord, SnapshotView};
pub use crate::refs::Head;

/// Blobs: content addressed by the sha256 of their bytes.
pub trait ContentStore: Send + Sync {
    /// True when blob `id` is stored.
    ///
    /// # Errors
    /// [`crate::Error::Io`] and backend failures.
    fn has_blob(&self, id: &BlobId) -> Result<bool>;

    /// The bytes of blob `id`, hash-verified.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when absent, [`crate::Error::Corrupt`]
    /// when the stored bytes do not hash to `id`.
    fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>>;

    /// A reader over blob `id`'s bytes (not verified: callers that stream
    /// hash as they copy). The default reads the blob whole.
    ///
    /// # Errors
    /// As [`Self::read_blob`].
    fn open_blob(&self, id: &BlobId) -> Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(self.read_blob(id)?)))
    }

    /// Stores `content`; returns its ID and whether it was new. Durable on
    /// return under the store's durability policy.
    ///
    /// # Errors
    /// Backend failures.
    fn write_blob(&self, content: &[u8]) -> Result<(BlobId, bool)>;

    /// Stores `content` as blob `id` after checking that it hashes to `id`;
    /// returns whether it was new.
    ///
    /// # Errors
    /// [`crate::Error::HashMismatch`] (nothing stored); backend failures.
    fn write_blob_as(&self, id: &BlobId, content: &[u8]) -> Result<bool> {
        let actual = BlobId::of(content);
        if actual != *id {
            return Err(crate::Error::HashMismatch {
                what: "object",
                expected: id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(self.write_blob(content)?.1)
    }
}

/// Commit and snapshot records (SPEC §3).
pub trait RecordStore: Send + Sync {
    /// The commit `id`, `None` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`] for a present-but-corrupt record.
    fn read_commit(&self, id: &CommitId) -> Result<Option<CommitRecord>>;

    /// Stores `rec` after checking that it hashes to its `commit_id`;
    /// returns whether it was new.
    ///
    /// # Errors
    /// [`crate::Error::HashMismatch`] / [`crate::Error::InvalidInput`] for
    /// an inconsistent record; backend failures.
    fn write_commit(&self, rec: &CommitRecord) -> Result<bool>;

    /// The snapshot `id` (always the full manifest), `None` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`].
    fn read_snapshot(&self, id: &SnapshotId) -> Result<Option<SnapshotRecord>>;

    /// Stores `rec` (the backend may store it as a delta on `base`); returns
    /// whether it was new.
    ///
    /// # Errors
    /// A manifest that does not hash to `snapshot_id`; backend failures.
    fn write_snapshot(&self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool>;

    /// Every stored commit ID (unordered).
    ///
    /// # Errors
    /// Backend failures.
    fn commit_ids(&self) -> Result<Vec<CommitId>>;

    /// True when commit `id` is stored. The default reads the record.
    ///
    /// # Errors
    /// As [`Self::read_commit`].
    fn has_commit(&self, id: &CommitId) -> Result<bool> {
        Ok(self.read_commit(id)?.is_some())
    }

    /// True when snapshot `id` is stored. The default reads the record.
    ///
    /// # Errors
    /// As [`Self::read_snapshot`].
    fn has_snapshot(&self, id: &SnapshotId) -> Result<bool> {
        Ok(self.read_snapshot(id)?.is_some())
    }
}

/// One change of a [`RefStore::transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEdit {
    /// Branch name (validated by [`crate::refs::validate_branch_name`]).
    pub branch: String,
    /// What the branch must point at for the edit to apply: `None` = any
    /// value, `Some(None)` = the branch must not exist, `Some(Some(id))` =
    /// it must point at `id` (compare-and-swap).
    pub expected: Option<Option<CommitId>>,
    /// The new value; `None` deletes the branch.
    pub new: Option<CommitId>,
}

/// Branches and HEAD.
pub trait RefStore: Send + Sync {
    /// What HEAD points at (a missing HEAD reads as branch `main`).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`].
    fn head(&self) -> Result<Head>;

    /// Points HEAD at a branch (which need not exist) or a commit.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRefName`], backend failures.
    fn set_head(&self, head: &Head) -> Result<()>;

    /// The commit branch `name` points at, `None` when it does not exist.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRefName`], [`crate::Error::Corrupt`].
    fn branch(&self, name: &str) -> Result<Option<CommitId>>;

    /// Every branch as `(name, commit)`, sorted by name.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], backend failures.
    fn branches(&self) -> Result<Vec<(String, CommitId)>>;

    /// Applies every edit or none: each branch's expectation is checked
    /// with all the edited refs locked, then all are written.
    ///
    /// # Errors
    /// [`crate::Error::RefConflict`] naming the first ref whose value is not
    /// the expected one (nothing written); [`crate::Error::InvalidRefName`].
    fn transaction(&self, edits: &[RefEdit]) -> Result<()>;

    /// Every remote-tracking ref as `(<remote>/<branch>, commit)`, sorted
    /// by name (git's `refs/remotes/`).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], backend failures.
    fn remote_refs(&self) -> Result<Vec<(String, CommitId)>>;

    /// Applies every edit of remote-tracking refs or none, as
    /// [`Self::transaction`]; [`RefEdit::branch`] is `<remote>/<branch>`.
    ///
    /// # Errors
    /// As [`Self::transaction`].
    fn update_remote_refs(&self, edits: &[RefEdit]) -> Result<()>;

    /// The commit tag `name` points at, `None` when there is no such tag.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRefName`], [`crate::Error::Corrupt`].
    fn tag(&self, name: &str) -> Result<Option<CommitId>>;

    /// Every tag as `(name, commit)`, sorted by name.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], backend failures.
    fn tags(&self) -> Result<Vec<(String, CommitId)>>;

    /// Creates, moves or deletes tag `name`: it must currently be
    /// `expected` (as [`RefEdit::expected`]) and becomes `new` (`None`:
    /// deleted).
    ///
    /// # Errors
    /// [`crate::Error::RefConflict`] (nothing written);
    /// [`crate::Error::InvalidRefName`].
    fn update_tag(&self, name: &str, expected: Option<Option<CommitId>>, new: Option<CommitId>) -> Result<()>;

    /// The stash entries (commits), newest first.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], backend failures.
    fn stash(&self) -> Result<Vec<CommitId>>;

    /// Replaces the stash entries with `new` if they are still `expected`.
    ///
    /// # Errors
    /// [`crate::Error::RefConflict`] (nothing written), backend failures.
    fn update_stash(&self, expected: &[CommitId], new: &[CommitId]) -> Result<()>;
}

/// Writes collected and made durable together by [`WriteBatch::commit`]
/// (SPEC §4: one flush barrier for a bulk write). Nothing written to a batch
/// is visible to readers before `commit`; a dropped batch writes nothing
/// durable.
pub trait WriteBatch {
    /// Adds blob `id` with `content`; returns whether it is new.
    ///
    /// # Errors
    /// [`crate::Error::HashMismatch`] when `content` does not hash to `id`.
    fn write_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool>;

    /// Adds blob `id` streamed from the file at `path`, verifying the hash.
    ///
    /// # Errors
    /// [`crate::Error::HashMismatch`] when the file no longer hashes to
    /// `id`; [`crate::Error::Io`].
    fn write_blob_from_file(&mut self, id: &BlobId, path: &Path) -> Result<bool>;

    /// As [`Self::write_blob`] for `content` the caller has already hashed
    /// to `id` (not hashed again where the backend can skip it).
    ///
    /// # Errors
    /// Backend failures.
    fn write_verified_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        self.write_blob(id, content)
    }

    /// As [`Self::write_blob`], with a delta base hint: `base` is a blob
    /// `content` is likely similar to (the previous version of the same
    /// path). Backends that store deltas may store the blob as a delta on
    /// it (the filesystem store does, inside a pack: see
    /// [`crate::batch::Batch::write_object_with_base`]); the default ignores
    /// the hint.
    ///
    /// # Errors
    /// As [`Self::write_blob`].
    fn write_blob_with_base(&mut self, id: &BlobId, content: &[u8], base: Option<&BlobId>) -> Result<bool> {
        let _ = base;
        self.write_blob(id, content)
    }

    /// As [`Self::write_blob_with_base`] for `content` the caller has
    /// already hashed to `id`, given with `frame`: a [`crate::zdelta`]
    /// frame that decodes to exactly `content` (with `base`'s content as
    /// prefix when `base` is given, else alone), as a bundle carries it.
    /// Backends that store zdelta frames may keep `frame` as it is instead
    /// of compressing `content` again (the filesystem store does inside a
    /// pack when `base` is in the same pack: git's `index-pack` keeps the
    /// received deltas); the default ignores `frame`. A frame that does
    /// not decode to `content` is the caller's bug, found as
    /// [`crate::Error::Corrupt`] when the blob is read (every read verifies).
    ///
    /// # Errors
    /// As [`Self::write_blob`].
    fn write_verified_blob_frame(
        &mut self,
        id: &BlobId,
        content: &[u8],
        base: Option<&BlobId>,
        frame: &[u8],
    ) -> Result<bool> {
        let _ = frame;
        self.write_blob_with_base(id, content, base)
    }

    /// Adds a snapshot (stored as a delta on `base` where the backend can).
    ///
    /// # Errors
    /// As [`RecordStore::write_snapshot`].
    fn write_snapshot(&mut self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool>;

    /// Adds a snapshot whose `snapshot_id` the caller computed from its
    /// manifest (or verified: an applied bundle's rebuilt manifests) and
    /// whose manifest differs from `base`'s at most in the paths of
    /// `changed`. `rec` is a [`SnapshotRecord`] or another
    /// [`SnapshotView`] of one (`bundle apply` hands over its persistent
    /// maps). Backends that store deltas use `changed` instead of comparing
    /// manifests, skip hashing again, and look up only the changed paths
    /// (the whole record is built only for a full record); the default is
    /// [`Self::write_snapshot`] of the whole record.
    ///
    /// # Errors
    /// As [`Self::write_snapshot`].
    fn write_snapshot_delta(
        &mut self,
        rec: &dyn SnapshotView,
        base: Option<&SnapshotId>,
        changed: &BTreeSet<String>,
    ) -> Result<bool> {
        let _ = changed;
        self.write_snapshot(&rec.to_record(), base)
    }

    /// Adds a commit.
    ///
    /// # Errors
    /// As [`RecordStore::write_commit`].
    fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool>;

    /// Makes everything added durable and visible; returns what was new.
    ///
    /// # Errors
    /// Backend failures (then nothing the batch added is referenced).
    fn commit(self: Box<Self>) -> Result<WriteStats>;
}

/// What a committed [`WriteBatch`] stored. Counts reflect the moment of the
/// commit: an item another writer stored first counts as skipped (blobs) or
/// not at all (records).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Blobs that were already stored (or added twice).
    pub blobs_skipped: usize,
    /// Commit records newly stored.
    pub commits_written: usize,
    /// Snapshot records newly stored.
    pub snapshots_written: usize,
}

/// A whole store: the three traits, write batches and caches. A
/// [`crate::Repository`] holds one as `Arc<dyn Backend>`.
pub trait Backend: ContentStore + RecordStore + RefStore {
    /// A short name for messages (`"fs"`, `"memory"`).
    fn name(&self) -> &'static str;

    /// Starts a write batch.
    ///
    /// # Errors
    /// Backend failures ([`crate::Error::Locked`] for the filesystem store
    /// while `gc --prune` runs).
    fn batch(&self) -> Result<Box<dyn WriteBatch + '_>>;

    /// True when blob `id` is stored, allowing a false "absent" for data a
    /// concurrent writer added a moment ago (costs only a duplicate write).
    /// Defaults to [`ContentStore::has_blob`].
    ///
    /// # Errors
    /// As [`ContentStore::has_blob`].
    fn has_blob_cached(&self, id: &BlobId) -> Result<bool> {
        self.has_blob(id)
    }

    /// This store as the filesystem store, for the operations that exist
    /// only on the on-disk format (fsck, gc, git import, restoring a blob to
    /// a file); `None` for every other backend.
    fn as_fs(&self) -> Option<&FsStore> {
        None
    }

    /// Drops in-memory caches (pack listings, known directories, config),
    /// for callers that changed the store behind the handle's back.
    fn clear_caches(&self) {}
}
