//! [`FsStore`]: the on-disk store of SPEC §1 (loose objects and records,
//! packs, refs as files) behind the storage traits. The format is the one
//! the path-based modules ([`crate::object_store`], [`crate::commits`],
//! [`crate::snapshots`], [`crate::refs`], [`crate::batch`]) read and write;
//! this type is their one entry point for the porcelain.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Backend, ContentStore, Head, RecordStore, RefEdit, RefStore, WriteBatch, WriteStats};
use crate::atomic::Durability;
use crate::batch::Batch;
use crate::error::Result;
use crate::ids::{BlobId, CommitId, SnapshotId};
use crate::records::{CommitRecord, SnapshotRecord, SnapshotView};

/// The filesystem store of the repository whose working tree is `root`
/// (data under `root/.muse/`).
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    /// `None`: the repository's `[core] fsync` setting (SPEC §4).
    durability: Option<Durability>,
}

impl FsStore {
    /// The store of the repository at `root` (not checked: see
    /// [`crate::Repository::open`]), writing with the durability of the
    /// repository's configuration.
    pub fn new(root: impl Into<PathBuf>) -> FsStore {
        FsStore { root: root.into(), durability: None }
    }

    /// This store writing blobs, records and refs with `durability` instead
    /// of the configured policy ([`Durability::Deferred`]: no fsync; the
    /// caller makes the data durable, e.g. with a later batch or `sync`).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> FsStore {
        self.durability = Some(durability);
        self
    }

    /// The repository root (the directory holding `.muse/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The durability override, `None` for the configured policy.
    pub fn durability(&self) -> Option<Durability> {
        self.durability
    }
}

fn commit_id(s: String) -> Result<CommitId> {
    CommitId::parse(&s)
}

impl ContentStore for FsStore {
    fn has_blob(&self, id: &BlobId) -> Result<bool> {
        crate::object_store::has_object(&self.root, &id.to_string())
    }

    fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        crate::object_store::read_object(&self.root, &id.to_string())
    }

    fn open_blob(&self, id: &BlobId) -> Result<Box<dyn Read + Send>> {
        Ok(crate::object_store::open_object(&self.root, &id.to_string())?.0)
    }

    fn write_blob(&self, content: &[u8]) -> Result<(BlobId, bool)> {
        let id = BlobId::of(content);
        let new = crate::object_store::write_object(&self.root, &id.to_string(), content, self.durability)?;
        Ok((id, new))
    }

    fn write_blob_as(&self, id: &BlobId, content: &[u8]) -> Result<bool> {
        crate::object_store::write_object(&self.root, &id.to_string(), content, self.durability)
    }
}

impl RecordStore for FsStore {
    fn read_commit(&self, id: &CommitId) -> Result<Option<CommitRecord>> {
        crate::commits::read_commit(&self.root, &id.to_string())
    }

    fn write_commit(&self, rec: &CommitRecord) -> Result<bool> {
        crate::commits::write_commit(&self.root, rec, self.durability)
    }

    fn read_snapshot(&self, id: &SnapshotId) -> Result<Option<SnapshotRecord>> {
        crate::snapshots::read_snapshot(&self.root, &id.to_string())
    }

    fn write_snapshot(&self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool> {
        let base = base.map(ToString::to_string);
        crate::snapshots::write_snapshot_with_base(&self.root, rec, base.as_deref(), self.durability)
    }

    fn commit_ids(&self) -> Result<Vec<CommitId>> {
        crate::commits::list_commit_ids(&self.root)?.into_iter().map(commit_id).collect()
    }

    fn has_commit(&self, id: &CommitId) -> Result<bool> {
        crate::commits::has_commit(&self.root, &id.to_string())
    }

    fn has_snapshot(&self, id: &SnapshotId) -> Result<bool> {
        crate::snapshots::has_snapshot(&self.root, &id.to_string())
    }
}

impl RefStore for FsStore {
    fn head(&self) -> Result<Head> {
        crate::refs::read_head(&self.root)
    }

    fn set_head(&self, head: &Head) -> Result<()> {
        match head {
            Head::Branch(b) => crate::refs::write_head_branch(&self.root, b),
            Head::Detached(c) => crate::refs::write_head_detached(&self.root, c),
        }
    }

    fn branch(&self, name: &str) -> Result<Option<CommitId>> {
        crate::refs::read_branch_ref(&self.root, name)?.map(commit_id).transpose()
    }

    fn branches(&self) -> Result<Vec<(String, CommitId)>> {
        crate::refs::list_branches(&self.root)?.into_iter().map(|(n, c)| Ok((n, commit_id(c)?))).collect()
    }

    fn transaction(&self, edits: &[RefEdit]) -> Result<()> {
        let strings: Vec<(String, Option<Option<String>>, Option<String>)> = edits
            .iter()
            .map(|e| {
                (e.branch.clone(), e.expected.map(|x| x.map(|c| c.to_string())), e.new.map(|c| c.to_string()))
            })
            .collect();
        let updates: Vec<crate::refs::RefUpdate<'_>> = strings
            .iter()
            .map(|(b, e, n)| (b.as_str(), e.as_ref().map(|x| x.as_deref()), n.as_deref()))
            .collect();
        crate::refs::transaction(&self.root, &updates)
    }

    fn remote_refs(&self) -> Result<Vec<(String, CommitId)>> {
        crate::refs::list_remote_refs(&self.root)?.into_iter().map(|(n, c)| Ok((n, commit_id(c)?))).collect()
    }

    fn update_remote_refs(&self, edits: &[RefEdit]) -> Result<()> {
        let strings: Vec<(String, Option<Option<String>>, Option<String>)> = edits
            .iter()
            .map(|e| (e.branch.clone(), e.expected.map(|x| x.map(|c| c.to_string())), e.new.map(|c| c.to_string())))
            .collect();
        let updates: Vec<crate::refs::RefUpdate<'_>> = strings
            .iter()
            .map(|(b, e, n)| (b.as_str(), e.as_ref().map(|x| x.as_deref()), n.as_deref()))
            .collect();
        crate::refs::update_remote_refs(&self.root, &updates)
    }

    fn tag(&self, name: &str) -> Result<Option<CommitId>> {
        crate::refs::read_tag(&self.root, name)?.map(commit_id).transpose()
    }

    fn tags(&self) -> Result<Vec<(String, CommitId)>> {
        crate::refs::list_tags(&self.root)?.into_iter().map(|(n, c)| Ok((n, commit_id(c)?))).collect()
    }

    fn update_tag(&self, name: &str, expected: Option<Option<CommitId>>, new: Option<CommitId>) -> Result<()> {
        let expected = expected.map(|e| e.map(|c| c.to_string()));
        let new = new.map(|c| c.to_string());
        crate::refs::update_tag(&self.root, name, expected.as_ref().map(|e| e.as_deref()), new.as_deref())
    }

    fn stash(&self) -> Result<Vec<CommitId>> {
        crate::refs::read_stash(&self.root)?.into_iter().map(commit_id).collect()
    }

    fn update_stash(&self, expected: &[CommitId], new: &[CommitId]) -> Result<()> {
        let s = |ids: &[CommitId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>();
        crate::refs::update_stash(&self.root, &s(expected), &s(new))
    }
}

/// A [`Batch`] as a [`WriteBatch`].
struct FsBatch(Batch);

impl WriteBatch for FsBatch {
    fn write_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        self.0.write_object(&id.to_string(), content)
    }

    fn write_verified_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        self.0.write_verified_object(&id.to_string(), content)
    }

    fn write_blob_with_base(&mut self, id: &BlobId, content: &[u8], base: Option<&BlobId>) -> Result<bool> {
        let base = base.map(ToString::to_string);
        self.0.write_object_with_base(&id.to_string(), content, base.as_deref())
    }

    fn write_verified_blob_frame(
        &mut self,
        id: &BlobId,
        content: &[u8],
        base: Option<&BlobId>,
        frame: &[u8],
    ) -> Result<bool> {
        self.0.write_verified_object_frame(&id.to_string(), content, base.map(|b| *b.0.as_bytes()), frame)
    }

    fn write_blob_from_file(&mut self, id: &BlobId, path: &Path) -> Result<bool> {
        self.0.write_object_from_file(&id.to_string(), path)
    }

    fn write_snapshot(&mut self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool> {
        let base = base.map(ToString::to_string);
        self.0.write_snapshot_with_base(rec, base.as_deref())
    }

    fn write_snapshot_delta(
        &mut self,
        rec: &dyn SnapshotView,
        base: Option<&SnapshotId>,
        changed: &BTreeSet<String>,
    ) -> Result<bool> {
        let base = base.map(ToString::to_string);
        self.0.write_computed_snapshot(rec, base.as_deref(), changed)
    }

    fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool> {
        self.0.write_commit(rec)
    }

    fn commit(self: Box<Self>) -> Result<WriteStats> {
        let s = self.0.commit()?;
        Ok(WriteStats {
            blobs_written: s.objects_written,
            blobs_skipped: s.objects_skipped,
            commits_written: s.commits_written,
            snapshots_written: s.snapshots_written,
        })
    }
}

impl Backend for FsStore {
    fn name(&self) -> &'static str {
        "fs"
    }

    fn batch(&self) -> Result<Box<dyn WriteBatch + '_>> {
        Ok(Box::new(FsBatch(Batch::begin(&self.root)?)))
    }

    fn has_blob_cached(&self, id: &BlobId) -> Result<bool> {
        crate::object_store::has_object_known(&self.root, &id.to_string())
    }

    fn as_fs(&self) -> Option<&FsStore> {
        Some(self)
    }

    fn clear_caches(&self) {
        crate::pack::forget(&self.root);
        crate::object_store::forget_shards(&self.root);
    }
}
