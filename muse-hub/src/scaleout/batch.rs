//! [`PgS3Batch`]: a write batch of a [`PgS3Store`], stored as one pack
//! object and one PostgreSQL transaction (see the module docs of
//! [`super`]).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use bytes::Bytes;
use muse_core::ids::Digest;
use muse_core::records::{CommitRecord, SnapshotRecord, SnapshotView};
use muse_core::store::{WriteBatch, WriteStats};
use muse_core::{BlobId, Error, Result, SnapshotId};
use object_store::{path::Path as S3Path, MultipartUpload, ObjectStoreExt, PutPayload};

use super::pack::{self, Kind, Loc, PackInfo, SnapshotDelta};
use super::store::PgS3Store;
use super::{Clients, SNAPSHOT_CHECKPOINT};

/// Packs above this size are uploaded in parts.
const MULTIPART_ABOVE: usize = 64 << 20;
/// The part size of a multipart upload.
const PART: usize = 32 << 20;

/// One entry of the pack being built.
#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    id: Digest,
    off: u64,
    len: u32,
    base: Option<Digest>,
    depth: i16,
}

/// Entries collected in memory until [`WriteBatch::commit`]; nothing is
/// visible (or sent anywhere) before. A dropped batch writes nothing.
///
/// The `bool` its `write_*` methods return is "not known to be stored":
/// this batch's own duplicates and entries in the hub's index cache count
/// as stored, without a request per entry. The [`WriteStats`] of
/// [`WriteBatch::commit`] are exact.
pub(crate) struct PgS3Batch<'a> {
    store: &'a PgS3Store,
    buf: Vec<u8>,
    items: Vec<Item>,
    seen: HashMap<(Kind, Digest), usize>,
    dup_blobs: usize,
}

impl<'a> PgS3Batch<'a> {
    pub(crate) fn new(store: &'a PgS3Store) -> PgS3Batch<'a> {
        PgS3Batch {
            store,
            buf: Vec::new(),
            items: Vec::new(),
            seen: HashMap::new(),
            dup_blobs: 0,
        }
    }

    fn push(
        &mut self,
        kind: Kind,
        id: Digest,
        bytes: &[u8],
        base: Option<Digest>,
        depth: i16,
    ) -> Result<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| {
            Error::InvalidInput(format!(
                "{} {} is over 4 GiB",
                kind.what(),
                muse_core::ObjectId(id)
            ))
        })?;
        self.seen.insert((kind, id), self.items.len());
        self.items.push(Item {
            kind,
            id,
            off: self.buf.len() as u64,
            len,
            base,
            depth,
        });
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Adds a snapshot; a delta on `base` when the chain and the change
    /// allow (module docs). `changed`: the paths where the manifest may
    /// differ from `base`'s; `None`: computed from the stored base.
    fn add_snapshot(
        &mut self,
        rec: &SnapshotRecord,
        base: Option<&SnapshotId>,
        changed: Option<&BTreeSet<String>>,
    ) -> Result<bool> {
        muse_core::ids::validate_id(&rec.snapshot_id)?;
        let id = pack::digest(&rec.snapshot_id).expect("validated");
        if self.seen.contains_key(&(Kind::Snapshot, id)) {
            return Ok(false);
        }
        let new = !self.store.known(Kind::Snapshot, &id);
        if let Some(base) = base
            .map(|b| *b.0.as_bytes())
            .filter(|b| *b != id && rec.extra.is_empty())
        {
            if let Some((bytes, depth)) = self.delta(rec, &base, changed)? {
                self.push(Kind::Snapshot, id, &bytes, Some(base), depth)?;
                return Ok(new);
            }
        }
        let bytes = rec.to_msgpack()?;
        self.push(Kind::Snapshot, id, &bytes, None, 0)?;
        Ok(new)
    }

    /// The delta entry of `rec` on `base` and its depth, `None` when a
    /// full record is due.
    fn delta(
        &self,
        rec: &SnapshotRecord,
        base: &Digest,
        changed: Option<&BTreeSet<String>>,
    ) -> Result<Option<(Vec<u8>, i16)>> {
        let base_depth = match self.seen.get(&(Kind::Snapshot, *base)) {
            Some(&i) => Some(self.items[i].depth),
            None => self.store.snapshot_depth(base)?,
        };
        let Some(d) = base_depth else { return Ok(None) };
        if d + 1 >= SNAPSHOT_CHECKPOINT {
            return Ok(None);
        }
        let changed: Cow<'_, BTreeSet<String>> = match changed {
            Some(c) => Cow::Borrowed(c),
            None => {
                // Only a stored base can be diffed against.
                let Some(b) = self.store.read_snapshot_arc(base).ok().flatten() else {
                    return Ok(None);
                };
                let mut c: BTreeSet<String> = rec
                    .manifest
                    .iter()
                    .filter(|(p, v)| b.manifest.get(*p) != Some(*v))
                    .map(|(p, _)| p.clone())
                    .collect();
                c.extend(
                    b.manifest
                        .keys()
                        .filter(|p| !rec.manifest.contains_key(*p))
                        .cloned(),
                );
                Cow::Owned(c)
            }
        };
        if changed.len() * 2 > rec.manifest.len() {
            return Ok(None);
        }
        let mut upsert = std::collections::BTreeMap::new();
        let mut remove = Vec::new();
        for p in changed.iter() {
            match rec.manifest.get(p) {
                Some(b) => {
                    upsert.insert(p.clone(), b.clone());
                }
                None => remove.push(p.clone()),
            }
        }
        let d_rec = SnapshotDelta {
            v: 1,
            snapshot_id: rec.snapshot_id.clone(),
            base: muse_core::ObjectId(*base).to_string(),
            upsert,
            remove,
            created_at: rec.created_at.clone(),
        };
        let bytes = rmp_serde::to_vec_named(&d_rec)
            .map_err(|e| Error::InvalidInput(format!("cannot encode snapshot delta: {e}")))?;
        Ok(Some((bytes, d + 1)))
    }
}

impl WriteBatch for PgS3Batch<'_> {
    fn write_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        let actual = BlobId::of(content);
        if actual != *id {
            return Err(Error::HashMismatch {
                what: "object",
                expected: id.to_string(),
                actual: actual.to_string(),
            });
        }
        self.write_verified_blob(id, content)
    }

    fn write_verified_blob(&mut self, id: &BlobId, content: &[u8]) -> Result<bool> {
        let d = *id.0.as_bytes();
        if self.seen.contains_key(&(Kind::Blob, d)) {
            self.dup_blobs += 1;
            return Ok(false);
        }
        self.push(Kind::Blob, d, content, None, 0)?;
        Ok(!self.store.known(Kind::Blob, &d))
    }

    fn write_blob_from_file(&mut self, id: &BlobId, path: &Path) -> Result<bool> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        self.write_blob(id, &bytes)
    }

    fn write_snapshot(&mut self, rec: &SnapshotRecord, base: Option<&SnapshotId>) -> Result<bool> {
        rec.validate()?;
        self.add_snapshot(rec, base, None)
    }

    /// Trusts the caller's `snapshot_id` and `changed` set, as the trait
    /// allows (a lie would be caught on read: the rebuilt manifest would
    /// not hash to its ID).
    fn write_snapshot_delta(
        &mut self,
        rec: &dyn SnapshotView,
        base: Option<&SnapshotId>,
        changed: &BTreeSet<String>,
    ) -> Result<bool> {
        self.add_snapshot(&rec.to_record(), base, Some(changed))
    }

    fn write_commit(&mut self, rec: &CommitRecord) -> Result<bool> {
        rec.validate()?;
        let id = pack::digest(&rec.commit_id).expect("validated");
        if self.seen.contains_key(&(Kind::Commit, id)) {
            return Ok(false);
        }
        let new = !self.store.known(Kind::Commit, &id);
        let bytes = rec.to_msgpack()?;
        self.push(Kind::Commit, id, &bytes, None, 0)?;
        Ok(new)
    }

    fn commit(self: Box<Self>) -> Result<WriteStats> {
        let PgS3Batch {
            store,
            buf,
            items,
            dup_blobs,
            ..
        } = *self;
        let mut stats = WriteStats {
            blobs_skipped: dup_blobs,
            ..WriteStats::default()
        };
        if items.is_empty() {
            return Ok(stats);
        }
        let shared = &store.shared;
        let repo = store.repo;

        // 1. What is stored already (one query) is left out of the pack.
        let t0 = std::time::Instant::now();
        let c = store.clients();
        let ids: Vec<Vec<u8>> = items
            .iter()
            .map(|i| i.id.to_vec())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let existing: HashMap<(Kind, Digest), i16> = shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached("SELECT id, kind, depth FROM muse_hub.objects WHERE repo_id = $1 AND id = ANY($2)")
                .await
                .map_err(|e| c.pg(e))?;
            let rows = db.query(&st, &[&repo, &ids]).await.map_err(|e| c.pg(e))?;
            Ok(rows
                .iter()
                .filter_map(|r| Some(((Kind::from_code(r.get(1))?, pack::digest_of_slice(r.get::<_, &[u8]>(0))?), r.get::<_, i16>(2))))
                .collect())
        })?;
        let (buf, items) = if existing.is_empty() {
            (buf, items)
        } else {
            let mut kept_depth: HashMap<Digest, i16> = HashMap::new();
            let mut nbuf = Vec::with_capacity(buf.len());
            let mut nitems = Vec::with_capacity(items.len());
            for mut it in items {
                if existing.contains_key(&(it.kind, it.id)) {
                    if it.kind == Kind::Blob {
                        stats.blobs_skipped += 1;
                    }
                    continue;
                }
                // A delta's depth follows its base as actually stored.
                if let Some(b) = it.base {
                    if let Some(d) = kept_depth
                        .get(&b)
                        .copied()
                        .or_else(|| existing.get(&(Kind::Snapshot, b)).copied())
                    {
                        it.depth = d.saturating_add(1);
                    }
                }
                let start = it.off as usize;
                it.off = nbuf.len() as u64;
                nbuf.extend_from_slice(&buf[start..start + it.len as usize]);
                if it.kind == Kind::Snapshot {
                    kept_depth.insert(it.id, it.depth);
                }
                nitems.push(it);
            }
            (nbuf, nitems)
        };
        if items.is_empty() {
            return Ok(stats);
        }

        // 2. One pack object, then one transaction for its index rows.
        let key = pack_key(repo)?;
        let size = buf.len() as u64;
        let entries = items.len() as i32;
        let c = store.clients();
        let rows = items.clone();
        let k = key.clone();
        let t1 = std::time::Instant::now();
        let (pack_id, inserted) =
            shared.run(async move { store_pack(&c, repo, &k, Bytes::from(buf), &rows).await })?;
        log::debug!(
            "{}: pack {key}: {entries} entries, {size} bytes, {} new; existing check {:?}, PUT + index {:?}",
            store.label(),
            inserted.len(),
            t1 - t0,
            t1.elapsed()
        );

        // 3. Exact counts from the rows this transaction inserted.
        let inserted: HashSet<(Kind, Digest)> = inserted.into_iter().collect();
        let mut locs = Vec::with_capacity(inserted.len());
        for it in &items {
            let new = inserted.contains(&(it.kind, it.id));
            match (it.kind, new) {
                (Kind::Blob, true) => stats.blobs_written += 1,
                (Kind::Blob, false) => stats.blobs_skipped += 1,
                (Kind::Commit, true) => stats.commits_written += 1,
                (Kind::Snapshot, true) => stats.snapshots_written += 1,
                _ => {}
            }
            if new {
                locs.push((
                    it.kind,
                    it.id,
                    Loc {
                        pack_id,
                        off: it.off,
                        len: it.len,
                        base: it.base,
                        depth: it.depth,
                    },
                ));
            }
        }
        if !locs.is_empty() {
            shared.cache.put_pack(
                pack_id,
                std::sync::Arc::new(PackInfo { key, size, entries }),
            );
            shared.cache.put_locs(repo, locs);
        }
        Ok(stats)
    }
}

/// `repos/<repo_id>/packs/<unix ms>-<16 random hex>.pack`.
fn pack_key(repo: i64) -> Result<String> {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| {
        Error::io(
            "random pack name",
            "getrandom",
            std::io::Error::other(e.to_string()),
        )
    })?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("repos/{repo}/packs/{ms:013}-{hex}.pack"))
}

/// PUTs the pack, then inserts its row and its index rows in one
/// transaction; returns the pack's ID and the `(kind, id)` rows inserted
/// (the others were stored concurrently by another writer). A pack none of
/// whose rows were inserted is removed again.
async fn store_pack(
    c: &Clients,
    repo: i64,
    key: &str,
    buf: Bytes,
    items: &[Item],
) -> Result<(i64, Vec<(Kind, Digest)>)> {
    let path = S3Path::from(key);
    let size = buf.len() as i64;
    if buf.len() <= MULTIPART_ABOVE {
        c.s3.put(&path, PutPayload::from(buf))
            .await
            .map_err(|e| c.s3_err("put", key, e))?;
    } else {
        let mut up =
            c.s3.put_multipart(&path)
                .await
                .map_err(|e| c.s3_err("put", key, e))?;
        let mut off = 0;
        while off < buf.len() {
            let end = (off + PART).min(buf.len());
            if let Err(e) = up.put_part(PutPayload::from(buf.slice(off..end))).await {
                let _ = up.abort().await;
                return Err(c.s3_err("put part", key, e));
            }
            off = end;
        }
        up.complete()
            .await
            .map_err(|e| c.s3_err("complete upload", key, e))?;
    }

    let kinds: Vec<i8> = items.iter().map(|i| i.kind.code()).collect();
    let ids: Vec<Vec<u8>> = items.iter().map(|i| i.id.to_vec()).collect();
    let offs: Vec<i64> = items.iter().map(|i| i.off as i64).collect();
    let lens: Vec<i32> = items.iter().map(|i| i.len as i32).collect();
    let bases: Vec<Option<Vec<u8>>> = items.iter().map(|i| i.base.map(|b| b.to_vec())).collect();
    let depths: Vec<i16> = items.iter().map(|i| i.depth).collect();
    let entries = items.len() as i32;

    // Set once COMMIT is sent: from then on the outcome may be unknown, and
    // the pack must stay (its rows may be committed).
    let mut committing = false;
    let result: Result<(i64, Vec<(Kind, Digest)>)> = async {
        let mut db = c.client().await?;
        let tx = db.transaction().await.map_err(|e| c.pg(e))?;
        let pack_id: i64 = tx
            .query_one(
                "INSERT INTO muse_hub.packs (repo_id, key, size, entries) VALUES ($1, $2, $3, $4) RETURNING pack_id",
                &[&repo, &key, &size, &entries],
            )
            .await
            .map_err(|e| c.pg(e))?
            .get(0);
        let rows = tx
            .query(
                r#"INSERT INTO muse_hub.objects (repo_id, id, kind, pack_id, off, len, base, depth)
                   SELECT $1, t.id, t.kind, $2, t.off, t.len, t.base, t.depth
                   FROM unnest($3::bytea[], $4::"char"[], $5::int8[], $6::int4[], $7::bytea[], $8::int2[])
                        AS t(id, kind, off, len, base, depth)
                   ON CONFLICT DO NOTHING
                   RETURNING kind, id"#,
                &[&repo, &pack_id, &ids, &kinds, &offs, &lens, &bases, &depths],
            )
            .await
            .map_err(|e| c.pg(e))?;
        let inserted: Vec<(Kind, Digest)> = rows
            .iter()
            .filter_map(|r| Some((Kind::from_code(r.get(0))?, pack::digest_of_slice(r.get::<_, &[u8]>(1))?)))
            .collect();
        if inserted.is_empty() {
            // Every entry was stored concurrently: nothing refers to this pack.
            tx.rollback().await.map_err(|e| c.pg(e))?;
        } else {
            committing = true;
            tx.commit().await.map_err(|e| c.pg(e))?;
        }
        Ok((pack_id, inserted))
    }
    .await;
    match result {
        Ok((id, inserted)) => {
            if inserted.is_empty() {
                let _ = c.s3.delete(&path).await;
            }
            Ok((id, inserted))
        }
        Err(e) => {
            if !committing {
                // Unreferenced: best effort removal (a pack GC would find
                // packs without a `packs` row too).
                let _ = c.s3.delete(&path).await;
            }
            Err(e)
        }
    }
}
