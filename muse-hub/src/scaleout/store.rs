//! [`PgS3Store`]: one hosted repository as a muse-core [`Backend`]: reads
//! through the pack index (PostgreSQL) and pack objects (S3), refs in
//! PostgreSQL. Writes go through [`super::batch`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use muse_core::ids::Digest;
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::store::{Backend, ContentStore, Head, RecordStore, RefEdit, RefStore, WriteBatch};
use muse_core::{BlobId, CommitId, Error, ObjectId, Result, SnapshotId};
use object_store::{path::Path as S3Path, ObjectStoreExt};

use super::batch::PgS3Batch;
use super::pack::{self, Kind, Loc, PackInfo, SnapshotDelta, CHUNK};
use super::{Clients, Shared};

/// Ref kinds in `muse_hub.refs.kind`.
const BRANCH: i8 = b'h' as i8;
const TAG: i8 = b't' as i8;
const REMOTE: i8 = b'r' as i8;

/// HEAD on a branch, as stored in `repos.head` (the file format of SPEC §1).
const HEAD_REF: &str = "ref: refs/heads/";

/// A hosted repository's store in PostgreSQL + S3 (see the module docs of
/// [`super`] for the layout, the verification on read, the snapshot deltas
/// and the ref transactions). Made by [`super::ScaleOutHub::store`] and
/// by [`HubStorage::open`](crate::HubStorage::open) on a
/// [`super::ScaleOutHub`]; cheap to clone (the connections and caches are
/// the hub's). Every method blocks its thread for its requests.
#[derive(Clone)]
pub struct PgS3Store {
    pub(crate) shared: Arc<Shared>,
    pub(crate) repo: i64,
    label: Arc<str>,
}

impl std::fmt::Debug for PgS3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgS3Store")
            .field("repo", &&*self.label)
            .field("repo_id", &self.repo)
            .finish()
    }
}

fn oid(d: Digest) -> ObjectId {
    ObjectId(d)
}

impl PgS3Store {
    pub(crate) fn new(shared: Arc<Shared>, repo: i64, label: String) -> PgS3Store {
        PgS3Store {
            shared,
            repo,
            label: label.into(),
        }
    }

    /// The repository's `owner/name`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The repository's row ID in `muse_hub.repos`.
    pub fn repo_id(&self) -> i64 {
        self.repo
    }

    pub(crate) fn clients(&self) -> Clients {
        self.shared.clients.clone()
    }

    /// True when the cache knows entry `(kind, id)` is stored (no request).
    pub(crate) fn known(&self, kind: Kind, id: &Digest) -> bool {
        self.shared.cache.loc(self.repo, kind, id).is_some()
    }

    /// The index row of `(kind, id)` and its pack, `None` when not stored.
    pub(crate) fn locate(&self, kind: Kind, id: &Digest) -> Result<Option<(Loc, Arc<PackInfo>)>> {
        let cache = &self.shared.cache;
        if let Some(loc) = cache.loc(self.repo, kind, id) {
            if let Some(p) = cache.pack(loc.pack_id) {
                return Ok(Some((loc, p)));
            }
        }
        let c = self.clients();
        let (repo, idv, code) = (self.repo, id.to_vec(), kind.code());
        let row = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached(
                    "SELECT o.pack_id, o.off, o.len, o.base, o.depth, p.key, p.size, p.entries
                     FROM muse_hub.objects o JOIN muse_hub.packs p ON p.pack_id = o.pack_id
                     WHERE o.repo_id = $1 AND o.id = $2 AND o.kind = $3",
                )
                .await
                .map_err(|e| c.pg(e))?;
            let row = db
                .query_opt(&st, &[&repo, &idv, &code])
                .await
                .map_err(|e| c.pg(e))?;
            row.map(|r| -> Result<(Loc, PackInfo)> {
                let loc = row_loc(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))?;
                Ok((
                    loc,
                    PackInfo {
                        key: r.get(5),
                        size: r.get::<_, i64>(6) as u64,
                        entries: r.get(7),
                    },
                ))
            })
            .transpose()
        })?;
        let Some((loc, info)) = row else {
            return Ok(None);
        };
        let info = Arc::new(info);
        cache.put_pack(loc.pack_id, info.clone());
        cache.put_loc(self.repo, kind, *id, loc);
        if cache.should_prefetch(loc.pack_id, info.entries) {
            self.prefetch_index(loc.pack_id)?;
        }
        Ok(Some((loc, info)))
    }

    /// Loads every index row of pack `pack_id` into the cache (one query),
    /// so that reading the rest of the pack needs no more lookups.
    fn prefetch_index(&self, pack_id: i64) -> Result<()> {
        let c = self.clients();
        let repo = self.repo;
        let rows = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached(
                    "SELECT kind, id, off, len, base, depth FROM muse_hub.objects WHERE pack_id = $1 AND repo_id = $2",
                )
                .await
                .map_err(|e| c.pg(e))?;
            let rows = db.query(&st, &[&pack_id, &repo]).await.map_err(|e| c.pg(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let (Some(kind), Some(id)) = (Kind::from_code(r.get(0)), pack::digest_of_slice(r.get::<_, &[u8]>(1))) else {
                    continue;
                };
                out.push((kind, id, row_loc(pack_id, r.get(2), r.get(3), r.get(4), r.get(5))?));
            }
            Ok(out)
        })?;
        self.shared.cache.put_locs(self.repo, rows);
        Ok(())
    }

    fn corrupt(&self, kind: Kind, info: &PackInfo, loc: &Loc, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            what: kind.what(),
            path: PathBuf::from(format!(
                "s3://{}/{}@{}+{}",
                self.shared.clients.bucket, info.key, loc.off, loc.len
            )),
            detail: detail.into(),
        }
    }

    /// The bytes of an entry: from a cached 1 MiB chunk of its pack (read
    /// whole on first use) or, for an entry crossing a chunk boundary, one
    /// ranged GET.
    fn fetch(&self, kind: Kind, loc: &Loc, info: &PackInfo) -> Result<bytes::Bytes> {
        let len = u64::from(loc.len);
        let end = loc
            .off
            .checked_add(len)
            .filter(|&e| e <= info.size)
            .ok_or_else(|| {
                self.corrupt(
                    kind,
                    info,
                    loc,
                    format!(
                        "index row points past the end of its {}-byte pack",
                        info.size
                    ),
                )
            })?;
        if len == 0 {
            return Ok(bytes::Bytes::new());
        }
        let (first, last) = (loc.off / CHUNK, (end - 1) / CHUNK);
        let (range, chunk_no) = if first == last {
            let start = first * CHUNK;
            (start..(start + CHUNK).min(info.size), Some(first))
        } else {
            (loc.off..end, None)
        };
        let cache = &self.shared.cache;
        let data = match chunk_no.and_then(|n| cache.chunk(loc.pack_id, n)) {
            Some(b) => b,
            None => {
                let c = self.clients();
                let key = info.key.clone();
                let r = range.clone();
                let got = self.shared.run(async move {
                    match c.s3.get_range(&S3Path::from(key.as_str()), r).await {
                        Ok(b) => Ok(Ok(b)),
                        Err(object_store::Error::NotFound { .. }) => {
                            Ok(Err("the pack object is missing".to_string()))
                        }
                        Err(e) => Err(c.s3_err("get", &key, e)),
                    }
                })?;
                let b = got.map_err(|detail| self.corrupt(kind, info, loc, detail))?;
                if b.len() as u64 != range.end - range.start {
                    return Err(self.corrupt(
                        kind,
                        info,
                        loc,
                        format!(
                            "pack range {range:?} returned {} bytes: the pack object is truncated",
                            b.len()
                        ),
                    ));
                }
                if let Some(n) = chunk_no {
                    cache.put_chunk(loc.pack_id, n, b.clone());
                }
                b
            }
        };
        let s = (loc.off - range.start) as usize;
        Ok(data.slice(s..s + loc.len as usize))
    }

    /// The index depth of stored snapshot `id` (0 for a full record),
    /// `None` when not stored.
    pub(crate) fn snapshot_depth(&self, id: &Digest) -> Result<Option<i16>> {
        Ok(self.locate(Kind::Snapshot, id)?.map(|(l, _)| l.depth))
    }

    /// Snapshot `id`, rebuilt and verified, shared with the cache.
    pub(crate) fn read_snapshot_arc(&self, id: &Digest) -> Result<Option<Arc<SnapshotRecord>>> {
        let cache = &self.shared.cache;
        if let Some(rec) = cache.manifest(self.repo, id) {
            return Ok(Some(rec));
        }
        // Walk back to a cached or full record, then apply the deltas.
        let mut chain: Vec<(Digest, SnapshotDelta, Loc, Arc<PackInfo>)> = Vec::new();
        let mut cur = *id;
        let base: Arc<SnapshotRecord> = loop {
            if !chain.is_empty() {
                if let Some(rec) = cache.manifest(self.repo, &cur) {
                    break rec;
                }
            }
            let Some((loc, info)) = self.locate(Kind::Snapshot, &cur)? else {
                if let Some((child, _, l, i)) = chain.last() {
                    return Err(self.corrupt(
                        Kind::Snapshot,
                        i,
                        l,
                        format!(
                            "delta of {} names base {} which is not stored",
                            oid(*child),
                            oid(cur)
                        ),
                    ));
                }
                return Ok(None);
            };
            let bytes = self.fetch(Kind::Snapshot, &loc, &info)?;
            let path = PathBuf::from(format!(
                "s3://{}/{}@{}+{}",
                self.shared.clients.bucket, info.key, loc.off, loc.len
            ));
            match loc.base {
                None => {
                    let rec = SnapshotRecord::from_msgpack(&bytes, &path)?;
                    self.verify_snapshot(&rec, &cur, &loc, &info)?;
                    let rec = Arc::new(rec);
                    cache.put_manifest(self.repo, cur, rec.clone());
                    break rec;
                }
                Some(b) => {
                    let d: SnapshotDelta = rmp_serde::from_slice(&bytes).map_err(|e| {
                        self.corrupt(
                            Kind::Snapshot,
                            &info,
                            &loc,
                            format!("bad snapshot delta: {e}"),
                        )
                    })?;
                    if d.v != 1
                        || pack::digest(&d.snapshot_id) != Some(cur)
                        || pack::digest(&d.base) != Some(b)
                    {
                        return Err(self.corrupt(
                            Kind::Snapshot,
                            &info,
                            &loc,
                            format!(
                                "delta entry is not snapshot {} on base {}",
                                oid(cur),
                                oid(b)
                            ),
                        ));
                    }
                    if chain.len() > 100_000 {
                        return Err(self.corrupt(
                            Kind::Snapshot,
                            &info,
                            &loc,
                            "snapshot delta chain does not end",
                        ));
                    }
                    chain.push((cur, d, loc, info));
                    cur = b;
                }
            }
        };
        let mut manifest = base.manifest.clone();
        let mut last = base;
        while let Some((sid, d, loc, info)) = chain.pop() {
            for p in &d.remove {
                manifest.remove(p);
            }
            for (p, b) in d.upsert {
                manifest.insert(p, b);
            }
            let rec = SnapshotRecord {
                snapshot_id: d.snapshot_id,
                manifest: if chain.is_empty() {
                    std::mem::take(&mut manifest)
                } else {
                    manifest.clone()
                },
                created_at: d.created_at,
                extra: Vec::new(),
            };
            self.verify_snapshot(&rec, &sid, &loc, &info)?;
            let rec = Arc::new(rec);
            cache.put_manifest(self.repo, sid, rec.clone());
            last = rec;
        }
        Ok(Some(last))
    }

    fn verify_snapshot(
        &self,
        rec: &SnapshotRecord,
        id: &Digest,
        loc: &Loc,
        info: &PackInfo,
    ) -> Result<()> {
        if pack::digest(&rec.snapshot_id) != Some(*id) {
            return Err(self.corrupt(
                Kind::Snapshot,
                info,
                loc,
                format!(
                    "entry holds snapshot {:?}, not {}",
                    rec.snapshot_id,
                    oid(*id)
                ),
            ));
        }
        let actual = rec.compute_id();
        if actual != rec.snapshot_id {
            return Err(self.corrupt(
                Kind::Snapshot,
                info,
                loc,
                format!(
                    "manifest ({} entries) hashes to {actual}, not to {}",
                    rec.manifest.len(),
                    rec.snapshot_id
                ),
            ));
        }
        Ok(())
    }

    fn ref_value(&self, kind: i8, name: &str) -> Result<Option<CommitId>> {
        let c = self.clients();
        let (repo, name) = (self.repo, name.to_string());
        let row = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached("SELECT target FROM muse_hub.refs WHERE repo_id = $1 AND kind = $2 AND name = $3")
                .await
                .map_err(|e| c.pg(e))?;
            let row = db.query_opt(&st, &[&repo, &kind, &name]).await.map_err(|e| c.pg(e))?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })?;
        row.map(|t| target(&t, &self.label)).transpose()
    }

    fn ref_list(&self, kind: i8) -> Result<Vec<(String, CommitId)>> {
        let c = self.clients();
        let repo = self.repo;
        let rows = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached(
                    "SELECT name, target FROM muse_hub.refs WHERE repo_id = $1 AND kind = $2",
                )
                .await
                .map_err(|e| c.pg(e))?;
            let rows = db.query(&st, &[&repo, &kind]).await.map_err(|e| c.pg(e))?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Vec<u8>>(1)))
                .collect::<Vec<_>>())
        })?;
        let mut out = rows
            .into_iter()
            .map(|(n, t)| Ok((n, target(&t, &self.label)?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn ref_transaction(&self, kind: i8, prefix: &'static str, edits: &[RefEdit]) -> Result<()> {
        if edits.is_empty() {
            return Ok(());
        }
        let c = self.clients();
        let repo = self.repo;
        let edits: Vec<TxEdit> = edits
            .iter()
            .map(|e| TxEdit {
                name: e.branch.clone(),
                expected: e.expected.map(|x| x.map(|c| *c.0.as_bytes())),
                new: e.new.map(|c| *c.0.as_bytes()),
            })
            .collect();
        self.shared
            .run(async move { ref_tx(&c, repo, kind, prefix, &edits).await })
    }
}

/// A ref target column as a commit ID.
fn target(bytes: &[u8], repo: &str) -> Result<CommitId> {
    pack::digest_of_slice(bytes)
        .map(|d| CommitId(ObjectId(d)))
        .ok_or_else(|| Error::Corrupt {
            what: "ref",
            path: PathBuf::from(format!("postgresql muse_hub.refs of {repo}")),
            detail: format!("target is {} bytes, not 32", bytes.len()),
        })
}

/// An index row's columns as a [`Loc`].
fn row_loc(pack_id: i64, off: i64, len: i32, base: Option<Vec<u8>>, depth: i16) -> Result<Loc> {
    let bad = |detail: String| Error::Corrupt {
        what: "pack index row",
        path: PathBuf::from(format!("muse_hub.objects pack {pack_id}")),
        detail,
    };
    let base = match base {
        None => None,
        Some(b) => Some(
            pack::digest_of_slice(&b).ok_or_else(|| bad(format!("base is {} bytes", b.len())))?,
        ),
    };
    if off < 0 || len < 0 {
        return Err(bad(format!("negative offset {off} or length {len}")));
    }
    Ok(Loc {
        pack_id,
        off: off as u64,
        len: len as u32,
        base,
        depth,
    })
}

/// One ref edit, owned (for the request future).
struct TxEdit {
    name: String,
    expected: Option<Option<Digest>>,
    new: Option<Digest>,
}

/// Why one attempt of a ref transaction failed.
enum TxFail {
    /// Deadlock or serialization failure: try again.
    Retry(tokio_postgres::Error),
    Fail(Error),
}

impl From<Error> for TxFail {
    fn from(e: Error) -> Self {
        TxFail::Fail(e)
    }
}

fn classify(c: &Clients, e: tokio_postgres::Error) -> TxFail {
    use tokio_postgres::error::SqlState;
    match e.code() {
        Some(s)
            if *s == SqlState::T_R_DEADLOCK_DETECTED
                || *s == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            TxFail::Retry(e)
        }
        _ => TxFail::Fail(c.pg(e)),
    }
}

fn show(d: &Option<Digest>) -> Option<String> {
    d.map(|d| oid(d).to_string())
}

/// Applies `edits` to refs of `kind` in one transaction, retrying deadlocks.
async fn ref_tx(
    c: &Clients,
    repo: i64,
    kind: i8,
    prefix: &'static str,
    edits: &[TxEdit],
) -> Result<()> {
    let mut attempt = 0u32;
    loop {
        match ref_tx_once(c, repo, kind, prefix, edits).await {
            Ok(()) => return Ok(()),
            Err(TxFail::Fail(e)) => return Err(e),
            Err(TxFail::Retry(e)) => {
                attempt += 1;
                if attempt >= 10 {
                    return Err(c.pg(e));
                }
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 3)).await;
            }
        }
    }
}

async fn ref_tx_once(
    c: &Clients,
    repo: i64,
    kind: i8,
    prefix: &'static str,
    edits: &[TxEdit],
) -> Result<(), TxFail> {
    let mut db = c.client().await?;
    let tx = db.transaction().await.map_err(|e| classify(c, e))?;
    let mut names: Vec<String> = edits.iter().map(|e| e.name.clone()).collect();
    names.sort();
    names.dedup();
    let lock = tx
        .prepare_cached(
            "SELECT name, target FROM muse_hub.refs WHERE repo_id = $1 AND kind = $2 AND name = ANY($3)
             ORDER BY name FOR UPDATE",
        )
        .await
        .map_err(|e| classify(c, e))?;
    let rows = tx
        .query(&lock, &[&repo, &kind, &names])
        .await
        .map_err(|e| classify(c, e))?;
    let mut current: HashMap<String, Option<Digest>> =
        names.iter().map(|n| (n.clone(), None)).collect();
    for r in rows {
        current.insert(r.get(0), pack::digest_of_slice(r.get::<_, &[u8]>(1)));
    }
    for e in edits {
        if let Some(expected) = &e.expected {
            let actual = current.get(&e.name).copied().flatten();
            if actual != *expected {
                let _ = tx.rollback().await;
                return Err(TxFail::Fail(Error::RefConflict {
                    name: format!("{prefix}{}", e.name),
                    expected: show(expected),
                    actual: show(&actual),
                }));
            }
        }
    }
    let exists_before: HashMap<&str, bool> = current
        .iter()
        .map(|(n, v)| (n.as_str(), v.is_some()))
        .collect();
    let mut state = current.clone();
    for e in edits {
        let present = state.get(&e.name).copied().flatten().is_some();
        match e.new {
            None => {
                if present {
                    tx.execute(
                        "DELETE FROM muse_hub.refs WHERE repo_id = $1 AND kind = $2 AND name = $3",
                        &[&repo, &kind, &e.name],
                    )
                    .await
                    .map_err(|err| classify(c, err))?;
                }
            }
            Some(t) => {
                let t = t.to_vec();
                if present {
                    // Locked by the SELECT above (or written by this transaction).
                    tx.execute(
                        "UPDATE muse_hub.refs SET target = $4 WHERE repo_id = $1 AND kind = $2 AND name = $3",
                        &[&repo, &kind, &e.name, &t],
                    )
                    .await
                    .map_err(|err| classify(c, err))?;
                } else if exists_before.get(e.name.as_str()) == Some(&false) && e.expected.is_some()
                {
                    // Expected absent: another transaction creating it first
                    // is a conflict, not an overwrite.
                    let n = tx
                        .execute(
                            "INSERT INTO muse_hub.refs (repo_id, kind, name, target) VALUES ($1, $2, $3, $4)
                             ON CONFLICT DO NOTHING",
                            &[&repo, &kind, &e.name, &t],
                        )
                        .await
                        .map_err(|err| classify(c, err))?;
                    if n == 0 {
                        // Created by a transaction that committed meanwhile
                        // (visible to this new statement).
                        let actual = tx
                            .query_opt(
                                "SELECT target FROM muse_hub.refs WHERE repo_id = $1 AND kind = $2 AND name = $3",
                                &[&repo, &kind, &e.name],
                            )
                            .await
                            .map_err(|err| classify(c, err))?
                            .and_then(|r| pack::digest_of_slice(r.get::<_, &[u8]>(0)));
                        let _ = tx.rollback().await;
                        return Err(TxFail::Fail(Error::RefConflict {
                            name: format!("{prefix}{}", e.name),
                            expected: None,
                            actual: show(&actual).or_else(|| Some("(created concurrently)".into())),
                        }));
                    }
                } else {
                    tx.execute(
                        "INSERT INTO muse_hub.refs (repo_id, kind, name, target) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (repo_id, kind, name) DO UPDATE SET target = EXCLUDED.target",
                        &[&repo, &kind, &e.name, &t],
                    )
                    .await
                    .map_err(|err| classify(c, err))?;
                }
            }
        }
        state.insert(e.name.clone(), e.new);
    }
    tx.commit().await.map_err(|e| classify(c, e))?;
    Ok(())
}

impl ContentStore for PgS3Store {
    fn has_blob(&self, id: &BlobId) -> Result<bool> {
        Ok(self.locate(Kind::Blob, id.0.as_bytes())?.is_some())
    }

    fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let d = id.0.as_bytes();
        let Some((loc, info)) = self.locate(Kind::Blob, d)? else {
            return Err(Error::NotFound {
                what: "object",
                name: id.to_string(),
            });
        };
        let bytes = self.fetch(Kind::Blob, &loc, &info)?;
        let actual = BlobId::of(&bytes);
        if actual != *id {
            return Err(self.corrupt(
                Kind::Blob,
                &info,
                &loc,
                format!("bytes hash to {actual}, not to {id}"),
            ));
        }
        Ok(bytes.to_vec())
    }

    fn write_blob(&self, content: &[u8]) -> Result<(BlobId, bool)> {
        let id = BlobId::of(content);
        if self.known(Kind::Blob, id.0.as_bytes()) {
            return Ok((id, false));
        }
        // The batch's commit asks the index whether it is stored.
        let mut b = PgS3Batch::new(self);
        b.write_verified_blob(&id, content)?;
        let stats = Box::new(b).commit()?;
        Ok((id, stats.blobs_written > 0))
    }
}

impl RecordStore for PgS3Store {
    fn read_commit(&self, id: &CommitId) -> Result<Option<CommitRecord>> {
        let d = id.0.as_bytes();
        if let Some(rec) = self.shared.cache.commit(self.repo, d) {
            return Ok(Some(rec));
        }
        let Some((loc, info)) = self.locate(Kind::Commit, d)? else {
            return Ok(None);
        };
        let bytes = self.fetch(Kind::Commit, &loc, &info)?;
        let path = PathBuf::from(format!(
            "s3://{}/{}@{}+{}",
            self.shared.clients.bucket, info.key, loc.off, loc.len
        ));
        let rec = CommitRecord::from_msgpack(&bytes, &path)?;
        if pack::digest(&rec.commit_id) != Some(*d) {
            return Err(self.corrupt(
                Kind::Commit,
                &info,
                &loc,
                format!("entry holds commit {:?}, not {id}", rec.commit_id),
            ));
        }
        rec.validate()
            .map_err(|e| self.corrupt(Kind::Commit, &info, &loc, e.to_string()))?;
        self.shared.cache.put_commit(self.repo, *d, rec.clone());
        Ok(Some(rec))
    }

    fn write_commit(&self, rec: &CommitRecord) -> Result<bool> {
        rec.validate()?;
        let mut b = PgS3Batch::new(self);
        b.write_commit(rec)?;
        Ok(Box::new(b).commit()?.commits_written > 0)
    }

    fn read_snapshot(&self, id: &SnapshotId) -> Result<Option<SnapshotRecord>> {
        Ok(self
            .read_snapshot_arc(id.0.as_bytes())?
            .map(|r| (*r).clone()))
    }

    fn write_snapshot(&self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool> {
        let mut b = PgS3Batch::new(self);
        b.write_snapshot(rec, base)?;
        Ok(Box::new(b).commit()?.snapshots_written > 0)
    }

    fn commit_ids(&self) -> Result<Vec<CommitId>> {
        let c = self.clients();
        let (repo, code) = (self.repo, Kind::Commit.code());
        let rows = self.shared.run(async move {
            let db = c.client().await?;
            let rows = db
                .query(
                    "SELECT id FROM muse_hub.objects WHERE repo_id = $1 AND kind = $2",
                    &[&repo, &code],
                )
                .await
                .map_err(|e| c.pg(e))?;
            Ok(rows
                .into_iter()
                .map(|r| r.get::<_, Vec<u8>>(0))
                .collect::<Vec<_>>())
        })?;
        Ok(rows
            .iter()
            .filter_map(|b| pack::digest_of_slice(b))
            .map(|d| CommitId(ObjectId(d)))
            .collect())
    }

    /// True when the index has the commit (the record is verified when read).
    fn has_commit(&self, id: &CommitId) -> Result<bool> {
        if self
            .shared
            .cache
            .commit(self.repo, id.0.as_bytes())
            .is_some()
        {
            return Ok(true);
        }
        Ok(self.locate(Kind::Commit, id.0.as_bytes())?.is_some())
    }

    /// True when the index has the snapshot (verified when read).
    fn has_snapshot(&self, id: &SnapshotId) -> Result<bool> {
        Ok(self.locate(Kind::Snapshot, id.0.as_bytes())?.is_some())
    }
}

impl RefStore for PgS3Store {
    fn head(&self) -> Result<Head> {
        let repo = self.repo;
        let c = self.clients();
        let head: String = self.shared.run(async move {
            let db = c.client().await?;
            let row = db
                .query_one(
                    "SELECT head FROM muse_hub.repos WHERE repo_id = $1",
                    &[&repo],
                )
                .await
                .map_err(|e| c.pg(e))?;
            Ok(row.get::<_, String>(0))
        })?;
        let bad = |detail: &str| Error::Corrupt {
            what: "HEAD",
            path: PathBuf::from(format!("postgresql muse_hub.repos of {}", self.label)),
            detail: format!("{detail}: {head:?}"),
        };
        if let Some(b) = head.strip_prefix(HEAD_REF) {
            muse_core::refs::validate_branch_name(b).map_err(|_| bad("bad branch name"))?;
            Ok(Head::Branch(b.to_string()))
        } else if muse_core::ids::is_valid_id(&head) {
            Ok(Head::Detached(head))
        } else {
            Err(bad("neither a branch nor a commit ID"))
        }
    }

    fn set_head(&self, head: &Head) -> Result<()> {
        let value = match head {
            Head::Branch(b) => {
                muse_core::refs::validate_branch_name(b)?;
                format!("{HEAD_REF}{b}")
            }
            Head::Detached(c) => {
                muse_core::ids::validate_id(c)?;
                c.clone()
            }
        };
        let repo = self.repo;
        let c = self.clients();
        self.shared.run(async move {
            let db = c.client().await?;
            db.execute(
                "UPDATE muse_hub.repos SET head = $2 WHERE repo_id = $1",
                &[&repo, &value],
            )
            .await
            .map_err(|e| c.pg(e))?;
            Ok(())
        })
    }

    fn branch(&self, name: &str) -> Result<Option<CommitId>> {
        muse_core::refs::validate_branch_name(name)?;
        self.ref_value(BRANCH, name)
    }

    fn branches(&self) -> Result<Vec<(String, CommitId)>> {
        self.ref_list(BRANCH)
    }

    fn transaction(&self, edits: &[RefEdit]) -> Result<()> {
        for e in edits {
            muse_core::refs::validate_branch_name(&e.branch)?;
        }
        self.ref_transaction(BRANCH, "refs/heads/", edits)
    }

    fn remote_refs(&self) -> Result<Vec<(String, CommitId)>> {
        self.ref_list(REMOTE)
    }

    fn update_remote_refs(&self, edits: &[RefEdit]) -> Result<()> {
        for e in edits {
            muse_core::refs::split_remote_ref(&e.branch)?;
        }
        self.ref_transaction(REMOTE, "refs/remotes/", edits)
    }

    fn tag(&self, name: &str) -> Result<Option<CommitId>> {
        muse_core::refs::validate_branch_name(name)?;
        self.ref_value(TAG, name)
    }

    fn tags(&self) -> Result<Vec<(String, CommitId)>> {
        self.ref_list(TAG)
    }

    fn update_tag(
        &self,
        name: &str,
        expected: Option<Option<CommitId>>,
        new: Option<CommitId>,
    ) -> Result<()> {
        muse_core::refs::validate_branch_name(name)?;
        self.ref_transaction(
            TAG,
            "refs/tags/",
            &[RefEdit {
                branch: name.to_string(),
                expected,
                new,
            }],
        )
    }

    fn stash(&self) -> Result<Vec<CommitId>> {
        let repo = self.repo;
        let c = self.clients();
        let rows: Vec<Vec<u8>> = self.shared.run(async move {
            let db = c.client().await?;
            let row = db
                .query_one(
                    "SELECT stash FROM muse_hub.repos WHERE repo_id = $1",
                    &[&repo],
                )
                .await
                .map_err(|e| c.pg(e))?;
            Ok(row.get::<_, Vec<Vec<u8>>>(0))
        })?;
        rows.iter().map(|t| target(t, &self.label)).collect()
    }

    fn update_stash(&self, expected: &[CommitId], new: &[CommitId]) -> Result<()> {
        let repo = self.repo;
        let expected: Vec<Vec<u8>> = expected.iter().map(|c| c.0.as_bytes().to_vec()).collect();
        let new: Vec<Vec<u8>> = new.iter().map(|c| c.0.as_bytes().to_vec()).collect();
        let c = self.clients();
        self.shared.run(async move {
            let mut db = c.client().await?;
            let tx = db.transaction().await.map_err(|e| c.pg(e))?;
            let row = tx
                .query_one(
                    "SELECT stash FROM muse_hub.repos WHERE repo_id = $1 FOR UPDATE",
                    &[&repo],
                )
                .await
                .map_err(|e| c.pg(e))?;
            let actual: Vec<Vec<u8>> = row.get(0);
            if actual != expected {
                let _ = tx.rollback().await;
                let first = |v: &[Vec<u8>]| {
                    v.first()
                        .and_then(|b| pack::digest_of_slice(b))
                        .map(|d| oid(d).to_string())
                };
                return Err(Error::RefConflict {
                    name: "refs/stash".into(),
                    expected: first(&expected),
                    actual: first(&actual),
                });
            }
            tx.execute(
                "UPDATE muse_hub.repos SET stash = $2 WHERE repo_id = $1",
                &[&repo, &new],
            )
            .await
            .map_err(|e| c.pg(e))?;
            tx.commit().await.map_err(|e| c.pg(e))?;
            Ok(())
        })
    }
}

impl Backend for PgS3Store {
    fn name(&self) -> &'static str {
        "pg+s3"
    }

    fn batch(&self) -> Result<Box<dyn WriteBatch + '_>> {
        Ok(Box::new(PgS3Batch::new(self)))
    }

    /// A cache hit, else [`ContentStore::has_blob`].
    fn has_blob_cached(&self, id: &BlobId) -> Result<bool> {
        if self.known(Kind::Blob, id.0.as_bytes()) {
            return Ok(true);
        }
        self.has_blob(id)
    }

    fn clear_caches(&self) {
        self.shared.cache.clear();
    }
}
