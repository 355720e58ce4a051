//! Pack entries, the snapshot delta format, and the read caches.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use muse_core::ids::Digest;
use muse_core::records::{CommitRecord, SnapshotRecord};
use serde::{Deserialize, Serialize};

/// What an index row describes (`objects.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Blob,
    Commit,
    Snapshot,
}

impl Kind {
    /// The `"char"` stored in PostgreSQL.
    pub(crate) fn code(self) -> i8 {
        (match self {
            Kind::Blob => b'b',
            Kind::Commit => b'c',
            Kind::Snapshot => b's',
        }) as i8
    }

    pub(crate) fn from_code(c: i8) -> Option<Kind> {
        match c as u8 {
            b'b' => Some(Kind::Blob),
            b'c' => Some(Kind::Commit),
            b's' => Some(Kind::Snapshot),
            _ => None,
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Kind::Blob => "object",
            Kind::Commit => "commit record",
            Kind::Snapshot => "snapshot record",
        }
    }
}

/// Where an entry is: an index row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) pack_id: i64,
    pub(crate) off: u64,
    pub(crate) len: u32,
    /// The base snapshot of a delta entry; `None` for a full entry.
    pub(crate) base: Option<Digest>,
    /// Deltas between this entry and a full one (0 for full entries).
    pub(crate) depth: i16,
}

/// A pack object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackInfo {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) entries: i32,
}

/// A snapshot stored as a change of its base: msgpack map with string keys
/// `{v: 1, snapshot_id, base, upsert: {path: blob_id}, remove: [path],
/// created_at}`. The rebuilt manifest must hash to `snapshot_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotDelta {
    pub(crate) v: u8,
    pub(crate) snapshot_id: String,
    pub(crate) base: String,
    pub(crate) upsert: BTreeMap<String, String>,
    pub(crate) remove: Vec<String>,
    pub(crate) created_at: String,
}

/// Aligned pack ranges kept in memory, in bytes.
pub(crate) const CHUNK: u64 = 1 << 20;
/// Pack chunks cached (×[`CHUNK`] bytes at most).
const CHUNK_CACHE: usize = 128;
/// Index rows cached.
const INDEX_CACHE: usize = 262_144;
/// Decoded commit records cached.
const COMMIT_CACHE: usize = 32_768;
/// Rebuilt manifests cached, in manifest entries all together.
const MANIFEST_BUDGET: usize = 500_000;
/// A pack's whole index is loaded on its first miss when it has at most
/// this many entries.
pub(crate) const PREFETCH_MAX: i32 = 50_000;

type RepoKey = (i64, Kind, Digest);

/// The read caches of a hub (see the module docs of [`super`]). Every
/// lock is held only for a map operation, never across a request.
pub(crate) struct Caches {
    index: Mutex<LruCache<RepoKey, Loc>>,
    packs: Mutex<LruCache<i64, Arc<PackInfo>>>,
    /// Packs whose whole index was loaded.
    prefetched: Mutex<LruCache<i64, ()>>,
    chunks: Mutex<LruCache<(i64, u64), bytes::Bytes>>,
    commits: Mutex<LruCache<(i64, Digest), CommitRecord>>,
    manifests: Mutex<ManifestLru>,
}

pub(crate) struct ManifestLru {
    lru: LruCache<(i64, Digest), Arc<SnapshotRecord>>,
    entries: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn cap(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("non-zero capacity")
}

impl Caches {
    pub(crate) fn new() -> Caches {
        Caches {
            index: Mutex::new(LruCache::new(cap(INDEX_CACHE))),
            packs: Mutex::new(LruCache::new(cap(65_536))),
            prefetched: Mutex::new(LruCache::new(cap(4_096))),
            chunks: Mutex::new(LruCache::new(cap(CHUNK_CACHE))),
            commits: Mutex::new(LruCache::new(cap(COMMIT_CACHE))),
            manifests: Mutex::new(ManifestLru {
                lru: LruCache::unbounded(),
                entries: 0,
            }),
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.index).clear();
        lock(&self.packs).clear();
        lock(&self.prefetched).clear();
        lock(&self.chunks).clear();
        lock(&self.commits).clear();
        let mut m = lock(&self.manifests);
        m.lru.clear();
        m.entries = 0;
    }

    pub(crate) fn loc(&self, repo: i64, kind: Kind, id: &Digest) -> Option<Loc> {
        lock(&self.index).get(&(repo, kind, *id)).copied()
    }

    pub(crate) fn put_loc(&self, repo: i64, kind: Kind, id: Digest, loc: Loc) {
        lock(&self.index).put((repo, kind, id), loc);
    }

    pub(crate) fn put_locs(&self, repo: i64, rows: impl IntoIterator<Item = (Kind, Digest, Loc)>) {
        let mut index = lock(&self.index);
        for (kind, id, loc) in rows {
            index.put((repo, kind, id), loc);
        }
    }

    pub(crate) fn pack(&self, pack_id: i64) -> Option<Arc<PackInfo>> {
        lock(&self.packs).get(&pack_id).cloned()
    }

    pub(crate) fn put_pack(&self, pack_id: i64, info: Arc<PackInfo>) {
        lock(&self.packs).put(pack_id, info);
    }

    /// True when the caller should load pack `pack_id`'s whole index (and
    /// marks it as loaded).
    pub(crate) fn should_prefetch(&self, pack_id: i64, entries: i32) -> bool {
        if entries > PREFETCH_MAX || entries <= 1 {
            return false;
        }
        lock(&self.prefetched).put(pack_id, ()).is_none()
    }

    pub(crate) fn chunk(&self, pack_id: i64, n: u64) -> Option<bytes::Bytes> {
        lock(&self.chunks).get(&(pack_id, n)).cloned()
    }

    pub(crate) fn put_chunk(&self, pack_id: i64, n: u64, b: bytes::Bytes) {
        lock(&self.chunks).put((pack_id, n), b);
    }

    pub(crate) fn commit(&self, repo: i64, id: &Digest) -> Option<CommitRecord> {
        lock(&self.commits).get(&(repo, *id)).cloned()
    }

    pub(crate) fn put_commit(&self, repo: i64, id: Digest, rec: CommitRecord) {
        lock(&self.commits).put((repo, id), rec);
    }

    pub(crate) fn manifest(&self, repo: i64, id: &Digest) -> Option<Arc<SnapshotRecord>> {
        lock(&self.manifests).lru.get(&(repo, *id)).cloned()
    }

    pub(crate) fn put_manifest(&self, repo: i64, id: Digest, rec: Arc<SnapshotRecord>) {
        let n = rec.manifest.len().max(1);
        if n > MANIFEST_BUDGET / 4 {
            return;
        }
        let mut m = lock(&self.manifests);
        if let Some(old) = m.lru.put((repo, id), rec) {
            m.entries -= old.manifest.len().max(1);
        }
        m.entries += n;
        while m.entries > MANIFEST_BUDGET {
            match m.lru.pop_lru() {
                Some((_, old)) => m.entries -= old.manifest.len().max(1),
                None => break,
            }
        }
    }
}

/// The digest of an ID string the caller validated (`sha256:<64 hex>`).
pub(crate) fn digest(id: &str) -> Option<Digest> {
    muse_core::ids::digest_from_id(id)
}

/// `bytes` as a 32-byte digest.
pub(crate) fn digest_of_slice(bytes: &[u8]) -> Option<Digest> {
    bytes.try_into().ok()
}
