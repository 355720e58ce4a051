//! [`MemStore`]: every blob, record and ref in memory. For tests and for
//! tools that build history without touching disk; it proves that the
//! porcelain depends on the storage traits only. Nothing survives the
//! process; durability barriers are no-ops.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use super::{Backend, ContentStore, Head, RecordStore, RefEdit, RefStore, WriteBatch, WriteStats};
use crate::error::{Error, IoContext, Result};
use crate::ids::{BlobId, CommitId, SnapshotId};
use crate::records::{CommitRecord, SnapshotRecord};

/// The in-memory store. Cheap to clone (clones share the data).
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blobs: RwLock<HashMap<BlobId, Arc<[u8]>>>,
    commits: RwLock<HashMap<CommitId, CommitRecord>>,
    snapshots: RwLock<HashMap<SnapshotId, SnapshotRecord>>,
    refs: Mutex<Refs>,
}

#[derive(Debug)]
struct Refs {
    head: Head,
    branches: BTreeMap<String, CommitId>,
    tags: BTreeMap<String, CommitId>,
    remotes: BTreeMap<String, CommitId>,
    stash: Vec<CommitId>,
}

impl Default for Refs {
    fn default() -> Self {
        Refs { head: Head::Branch("main".into()), branches: BTreeMap::new(), tags: BTreeMap::new(), remotes: BTreeMap::new(), stash: Vec::new() }
    }
}

impl MemStore {
    /// An empty store whose HEAD is the unborn branch `main`.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Number of blobs stored.
    pub fn blob_count(&self) -> usize {
        read(&self.inner.blobs).len()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl ContentStore for MemStore {
    fn has_blob(&self, id: &BlobId) -> Result<bool> {
        Ok(read(&self.inner.blobs).contains_key(id))
    }

    fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        read(&self.inner.blobs)
            .get(id)
            .map(|b| b.to_vec())
            .ok_or_else(|| Error::NotFound { what: "object", name: id.to_string() })
    }

    fn write_blob(&self, content: &[u8]) -> Result<(BlobId, bool)> {
        let id = BlobId::of(content);
        let mut blobs = write(&self.inner.blobs);
        if blobs.contains_key(&id) {
            return Ok((id, false));
        }
        blobs.insert(id, Arc::from(content));
        Ok((id, true))
    }
}

impl RecordStore for MemStore {
    fn read_commit(&self, id: &CommitId) -> Result<Option<CommitRecord>> {
        Ok(read(&self.inner.commits).get(id).cloned())
    }

    fn write_commit(&self, rec: &CommitRecord) -> Result<bool> {
        rec.validate()?;
        let id = CommitId::parse(&rec.commit_id)?;
        let mut commits = write(&self.inner.commits);
        if commits.contains_key(&id) {
            return Ok(false);
        }
        commits.insert(id, rec.clone());
        Ok(true)
    }

    fn read_snapshot(&self, id: &SnapshotId) -> Result<Option<SnapshotRecord>> {
        Ok(read(&self.inner.snapshots).get(id).cloned())
    }

    fn write_snapshot(&self, rec: &SnapshotRecord, _base: Option<&SnapshotId>) -> Result<bool> {
        rec.validate()?;
        let id = SnapshotId::parse(&rec.snapshot_id)?;
        let mut snaps = write(&self.inner.snapshots);
        if snaps.contains_key(&id) {
            return Ok(false);
        }
        snaps.insert(id, rec.clone());
        Ok(true)
    }

    fn commit_ids(&self) -> Result<Vec<CommitId>> {
        Ok(read(&self.inner.commits).keys().copied().collect())
    }

    fn has_commit(&self, id: &CommitId) -> Result<bool> {
        Ok(read(&self.inner.commits).contains_key(id))
    }

    fn has_snapshot(&self, id: &SnapshotId) -> Result<bool> {
        Ok(read(&self.inner.snapshots).contains_key(id))
    }
}

impl RefStore for MemStore {
    fn head(&self) -> Result<Head> {
        Ok(self.inner.refs.lock().unwrap_or_else(|p| p.into_inner()).head.clone())
    }

    fn set_head(&self, head: &Head) -> Result<()> {
        match head {
            Head::Branch(b) => crate::refs::validate_branch_name(b)?,
            Head::Detached(c) => {
                crate::ids::validate_id(c)?;
            }
        }
        self.inner.refs.lock().unwrap_or_else(|p| p.into_inner()).head = head.clone();
        Ok(())
    }

    fn branch(&self, name: &str) -> Result<Option<CommitId>> {
        crate::refs::validate_branch_name(name)?;
        Ok(self.inner.refs.lock().unwrap_or_else(|p| p.into_inner()).branches.get(name).copied())
    }

    fn branches(&self) -> Result<Vec<(String, CommitId)>> {
        let refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(refs.branches.iter().map(|(n, c)| (n.clone(), *c)).collect())
    }

    fn transaction(&self, edits: &[RefEdit]) -> Result<()> {
        for e in edits {
            crate::refs::validate_branch_name(&e.branch)?;
        }
        let mut refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        apply_edits(&mut refs.branches, "refs/heads/", edits)
    }

    fn remote_refs(&self) -> Result<Vec<(String, CommitId)>> {
        let refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(refs.remotes.iter().map(|(n, c)| (n.clone(), *c)).collect())
    }

    fn update_remote_refs(&self, edits: &[RefEdit]) -> Result<()> {
        for e in edits {
            crate::refs::split_remote_ref(&e.branch)?;
        }
        let mut refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        apply_edits(&mut refs.remotes, "refs/remotes/", edits)
    }

    fn tag(&self, name: &str) -> Result<Option<CommitId>> {
        crate::refs::validate_branch_name(name)?;
        Ok(self.inner.refs.lock().unwrap_or_else(|p| p.into_inner()).tags.get(name).copied())
    }

    fn tags(&self) -> Result<Vec<(String, CommitId)>> {
        let refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(refs.tags.iter().map(|(n, c)| (n.clone(), *c)).collect())
    }

    fn update_tag(&self, name: &str, expected: Option<Option<CommitId>>, new: Option<CommitId>) -> Result<()> {
        crate::refs::validate_branch_name(name)?;
        let mut refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        let actual = refs.tags.get(name).copied();
        if let Some(expected) = expected {
            if actual != expected {
                return Err(Error::RefConflict {
                    name: format!("refs/tags/{name}"),
                    expected: expected.map(|c| c.to_string()),
                    actual: actual.map(|c| c.to_string()),
                });
            }
        }
        match new {
            Some(c) => refs.tags.insert(name.to_string(), c),
            None => refs.tags.remove(name),
        };
        Ok(())
    }

    fn stash(&self) -> Result<Vec<CommitId>> {
        Ok(self.inner.refs.lock().unwrap_or_else(|p| p.into_inner()).stash.clone())
    }

    fn update_stash(&self, expected: &[CommitId], new: &[CommitId]) -> Result<()> {
        let mut refs = self.inner.refs.lock().unwrap_or_else(|p| p.into_inner());
        if refs.stash != expected {
            return Err(Error::RefConflict {
                name: "refs/stash".into(),
                expected: expected.first().map(ToString::to_string),
                actual: refs.stash.first().map(ToString::to_string),
            });
        }
        refs.stash = new.to_vec();
        Ok(())
    }
}

/// Writes held until [`WriteBatch::commit`].
struct MemBatch<'a> {
    store: &'a MemStore,
    blobs: HashMap<BlobId, Arc<[u8]>>,
    snapshots: Vec<SnapshotRecord>,
    commits: Vec<CommitRecord>,
    /// Blobs found stored (or added twice) when added.
    skipped: usize,
}

impl WriteBatch for MemBatch<'_> {
    fn write_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        let actual = BlobId::of(content);
        if actual != *id {
            return Err(Error::HashMismatch { what: "object", expected: id.to_string(), actual: actual.to_string() });
        }
        self.write_verified_blob(id, content)
    }

    fn write_verified_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        if self.store.has_blob(id)? || self.blobs.contains_key(id) {
            self.skipped += 1;
            return Ok(false);
        }
        self.blobs.insert(*id, Arc::from(content));
        Ok(true)
    }

    fn write_blob_from_file(&mut self, id: &BlobId, path: &Path) -> Result<bool> {
        let bytes = std::fs::read(path).ctx("read", path)?;
        self.write_blob(id, &bytes)
    }

    fn write_snapshot(&mut self, rec: &SnapshotRecord, _base: Option<&SnapshotId>) -> Result<bool> {
        rec.validate()?;
        let new = !read(&self.store.inner.snapshots).contains_key(&SnapshotId::parse(&rec.snapshot_id)?);
        self.snapshots.push(rec.clone());
        Ok(new)
    }

    fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool> {
        rec.validate()?;
        let new = !read(&self.store.inner.commits).contains_key(&CommitId::parse(&rec.commit_id)?);
        self.commits.push(rec.clone());
        Ok(new)
    }

    fn commit(self: Box<Self>) -> Result<WriteStats> {
        let mut stats = WriteStats { blobs_skipped: self.skipped, ..WriteStats::default() };
        {
            let mut blobs = write(&self.store.inner.blobs);
            for (id, b) in self.blobs {
                match blobs.entry(id) {
                    Entry::Vacant(v) => {
                        v.insert(b);
                        stats.blobs_written += 1;
                    }
                    Entry::Occupied(_) => stats.blobs_skipped += 1,
                }
            }
        }
        // Validated when added: stored as they are.
        let mut snaps = write(&self.store.inner.snapshots);
        for s in self.snapshots {
            if let Entry::Vacant(v) = snaps.entry(SnapshotId::parse(&s.snapshot_id)?) {
                v.insert(s);
                stats.snapshots_written += 1;
            }
        }
        drop(snaps);
        let mut commits = write(&self.store.inner.commits);
        for c in self.commits {
            if let Entry::Vacant(v) = commits.entry(CommitId::parse(&c.commit_id)?) {
                v.insert(c);
                stats.commits_written += 1;
            }
        }
        Ok(stats)
    }
}

impl Backend for MemStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn batch(&self) -> Result<Box<dyn WriteBatch + '_>> {
        Ok(Box::new(MemBatch { store: self, blobs: HashMap::new(), snapshots: Vec::new(), commits: Vec::new(), skipped: 0 }))
    }
}

/// Checks every edit's expectation against `map`, then applies them all
/// (nothing changes when one does not hold).
fn apply_edits(map: &mut BTreeMap<String, CommitId>, prefix: &str, edits: &[RefEdit]) -> Result<()> {
    for e in edits {
        if let Some(expected) = &e.expected {
            let actual = map.get(&e.branch).copied();
            if actual != *expected {
                return Err(Error::RefConflict {
                    name: format!("{prefix}{}", e.branch),
                    expected: expected.map(|c| c.to_string()),
                    actual: actual.map(|c| c.to_string()),
                });
            }
        }
    }
    for e in edits {
        match e.new {
            Some(c) => map.insert(e.branch.clone(), c),
            None => map.remove(&e.branch),
        };
    }
    Ok(())
}
