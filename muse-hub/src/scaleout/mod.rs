//! The scale-out tier (SPEC §13): hosted repositories whose blobs and
//! records live in S3-compatible object storage and whose refs and metadata
//! live in PostgreSQL, so that several `muse serve` processes share one hub.
//!
//! [`ScaleOutHub`] implements [`HubStorage`]; [`ScaleOutHub::open`] hands
//! out a [`muse_core::Repository`] over a [`PgS3Store`], a muse-core
//! [`Backend`](muse_core::store::Backend), so every porcelain call
//! (`receive_pack`, `upload_pack`, `apply_mpack`, `build_mpack`) runs on it
//! unchanged. Services for development and tests: `scripts/hub-services.sh
//! start` (PostgreSQL + Garage on loopback, printing the environment that
//! [`ScaleOutConfig::from_env`] reads).
//!
//! # Where things live
//!
//! **PostgreSQL**, schema `muse_hub` (created at connect with `CREATE …
//! IF NOT EXISTS` under an advisory lock, so servers starting together do
//! not race):
//!
//! | table | rows |
//! |---|---|
//! | `repos` | `repo_id`, `owner`, `name`, `public`, `head` (`"ref: refs/heads/<b>"` or a commit ID), `stash` (commit digests, newest first) |
//! | `tokens` | `(repo_id, token_sha256)` → `scope` (`read`/`write`); only the SHA-256 of a token is stored |
//! | `refs` | `(repo_id, kind, name)` → 32-byte commit digest; kind `h` branch, `t` tag, `r` remote-tracking (`<remote>/<branch>`) |
//! | `packs` | `pack_id`, `repo_id`, S3 `key`, `size`, `entries` |
//! | `objects` | the pack index: `(repo_id, id, kind)` → `pack_id`, `off`, `len`, `base`, `depth`; kind `b` blob, `c` commit, `s` snapshot |
//!
//! **S3** (the bucket of [`ScaleOutConfig::s3_bucket`]):
//!
//! * `repos/<repo_id>/packs/<time>-<random>.pack`: one object per committed
//!   [`WriteBatch`](muse_core::store::WriteBatch), the entries
//!   concatenated without framing (the index gives offset and length): a
//!   blob's raw bytes, a commit record's msgpack (SPEC §3), a snapshot's
//!   full record msgpack or a delta (below);
//! * `uploads/<owner>/<name>/<hex>`: MPacks of the presign → PUT →
//!   unpack flow, under their key `sha256:<hex>` without the prefix
//!   ([`HubStorage::presign_upload`] signs a PUT URL to it, valid for
//!   [`PRESIGN_EXPIRY`]; the size is not bound by the signature: the server
//!   reads at most its limit and checks the hash when it unpacks).
//!
//! # Writes
//!
//! A batch collects everything in memory, then at commit: one PostgreSQL
//! query drops the entries already stored, **one** S3 PUT stores the pack
//! (multipart above 64 MiB), and **one** PostgreSQL transaction inserts the
//! pack row and every index row (`INSERT … SELECT FROM unnest(…) ON
//! CONFLICT DO NOTHING RETURNING`, the returned rows giving the exact
//! [`WriteStats`](muse_core::store::WriteStats)). An entry becomes visible
//! only when its index row commits, after its bytes are in S3, so a ref
//! (moved after the batch) never points at data that is not stored. A
//! pack whose transaction fails is left unreferenced in S3 (no index row
//! names it; a GC of packs without a `packs` row removes it). Per-call
//! writes (`write_blob`, `write_commit`, `write_snapshot`) are batches of
//! one.
//!
//! Snapshots are stored as deltas on their base (the paths of
//! `write_snapshot_delta`'s `changed` set: upserts and removals, with the
//! record's `created_at`) with a full checkpoint whenever the chain would
//! reach [`SNAPSHOT_CHECKPOINT`] deltas, when the delta would touch more
//! than half the manifest, when the base is unknown, or when the record
//! carries unknown keys. So C commits of F files cost
//! O(C × changes + C / 32 × F) bytes instead of O(C × F), and a cold read
//! applies at most 31 deltas.
//!
//! # Reads
//!
//! An index lookup in PostgreSQL (one query; on the first miss in a pack,
//! the whole pack's index is loaded into the cache when the pack has at
//! most 50,000 entries), then a ranged GET from S3 through a cache of
//! 1 MiB aligned pack chunks (128 MiB at most). Everything read is verified: a blob's bytes
//! hash to its ID, a commit record recomputes to its ID, a snapshot's
//! (rebuilt) manifest hashes to its ID; anything else is
//! [`muse_core::Error::Corrupt`], never wrong data. Caches (bounded LRUs,
//! shared by every repository of one hub): index rows, pack chunks, decoded
//! commits, rebuilt manifests. Stored data is immutable, so the caches
//! never serve stale content; refs are never cached.
//!
//! # Refs
//!
//! [`RefStore::transaction`](muse_core::store::RefStore::transaction) is
//! one PostgreSQL transaction: `SELECT … ORDER BY name FOR UPDATE` of the
//! named refs, every expectation checked, then all writes (an expected-
//! absent ref is created with `INSERT … ON CONFLICT DO NOTHING`, so a
//! concurrent creator makes it a conflict), or a rollback and
//! [`muse_core::Error::RefConflict`] naming the first mismatch. Deadlocks
//! and serialization failures are retried. Tags, remote-tracking refs, the
//! stash (`repos.stash … FOR UPDATE`) and HEAD work the same way, so any
//! number of servers sharing the database never lose a ref update.
//!
//! # Threads and the runtime
//!
//! The storage traits are synchronous. A [`ScaleOutHub`] owns a small
//! multi-threaded tokio runtime (two workers) that runs every PostgreSQL
//! and S3 request; a trait call spawns its request there and waits on a
//! channel. No call path uses `block_on`, so a call never panics whatever
//! thread makes it, and the hub's runtime always makes progress. A call
//! blocks its thread for the request's duration, so an async server must
//! make it from a blocking thread (`spawn_blocking`), as `muse serve` does.
//! Dropping the hub shuts its runtime down in the background (allowed from
//! async code too).
//!
//! # Limits
//!
//! PostgreSQL is reached without TLS (loopback or a private network); S3
//! over `http://` or `https://` (rustls with the ring provider). Presigned
//! upload URLs name [`ScaleOutConfig::s3_endpoint`], which clients must
//! be able to reach. Deleting repositories and garbage-collecting packs are
//! not implemented here.

mod batch;
mod pack;
mod schema;
mod store;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use muse_core::{Error, Repository, Result};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::signer::Signer;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};

pub use store::PgS3Store;

use crate::storage::{HubStorage, RepoInfo, Scope};

/// A snapshot chain gets a full checkpoint instead of its
/// `SNAPSHOT_CHECKPOINT`-th delta (reads apply at most this many minus one
/// deltas to a full record).
pub const SNAPSHOT_CHECKPOINT: i16 = 32;

/// How long a presigned upload URL is valid: 15 minutes.
pub const PRESIGN_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// Where the scale-out tier's services are and how to reach them.
#[derive(Clone, PartialEq, Eq)]
pub struct ScaleOutConfig {
    /// PostgreSQL URL, `postgres://user:password@host:port/database`
    /// (`MUSE_HUB_DATABASE_URL`).
    pub database_url: String,
    /// S3 endpoint URL, `http://127.0.0.1:3900` (`MUSE_HUB_S3_ENDPOINT`);
    /// path-style requests are used (no virtual-hosted buckets).
    pub s3_endpoint: String,
    /// The bucket (`MUSE_HUB_S3_BUCKET`).
    pub s3_bucket: String,
    /// S3 access key ID (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// S3 secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
    /// S3 region name (`AWS_REGION`; Garage's is `garage`).
    pub region: String,
    /// Local directory under which [`ScaleOutHub::open`] places each
    /// repository's working-copy state (`<scratch_dir>/<owner>/<name>/.muse`:
    /// config, locks; no objects). `MUSE_HUB_SCRATCH_DIR`, default
    /// `$TMPDIR/muse-hub-scratch`.
    pub scratch_dir: PathBuf,
}

impl std::fmt::Debug for ScaleOutConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScaleOutConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_bucket", &self.s3_bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("scratch_dir", &self.scratch_dir)
            .finish()
    }
}

/// The environment variables [`ScaleOutConfig::from_env`] requires.
pub const ENV_VARS: [&str; 6] = [
    "MUSE_HUB_DATABASE_URL",
    "MUSE_HUB_S3_ENDPOINT",
    "MUSE_HUB_S3_BUCKET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
];

impl ScaleOutConfig {
    /// The configuration from the environment: [`ENV_VARS`] (as printed by
    /// `scripts/hub-services.sh start`), and `MUSE_HUB_SCRATCH_DIR`
    /// (optional).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming every variable that is unset or empty.
    pub fn from_env() -> Result<ScaleOutConfig> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let missing: Vec<&str> = ENV_VARS
            .iter()
            .copied()
            .filter(|k| get(k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the scale-out hub needs {}: run `eval \"$(scripts/hub-services.sh start)\"` (local PostgreSQL + Garage) or point them at your services",
                missing.join(", ")
            )));
        }
        let v = |k: &str| get(k).expect("checked above");
        Ok(ScaleOutConfig {
            database_url: v("MUSE_HUB_DATABASE_URL"),
            s3_endpoint: v("MUSE_HUB_S3_ENDPOINT"),
            s3_bucket: v("MUSE_HUB_S3_BUCKET"),
            access_key_id: v("AWS_ACCESS_KEY_ID"),
            secret_access_key: v("AWS_SECRET_ACCESS_KEY"),
            region: v("AWS_REGION"),
            scratch_dir: get("MUSE_HUB_SCRATCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("muse-hub-scratch")),
        })
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db` (for
/// messages).
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The connections every repository of a hub shares; cloned into each
/// request future (all fields are cheap handles).
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) pool: deadpool_postgres::Pool,
    pub(crate) s3: Arc<AmazonS3>,
    pub(crate) bucket: Arc<str>,
    /// The database URL without its password (for messages).
    pub(crate) db_label: Arc<str>,
}

/// A PostgreSQL failure as the core's error.
pub(crate) fn pg_err(label: &str, e: tokio_postgres::Error) -> Error {
    Error::Io {
        op: "postgresql",
        path: PathBuf::from(label),
        source: std::io::Error::other(e),
    }
}

impl Clients {
    pub(crate) fn pg(&self, e: tokio_postgres::Error) -> Error {
        pg_err(&self.db_label, e)
    }

    pub(crate) fn pool_err(&self, e: deadpool_postgres::PoolError) -> Error {
        Error::Io {
            op: "postgresql connect",
            path: PathBuf::from(&*self.db_label),
            source: std::io::Error::other(e),
        }
    }

    pub(crate) fn s3_err(&self, op: &'static str, key: &str, e: object_store::Error) -> Error {
        Error::Io {
            op,
            path: PathBuf::from(format!("s3://{}/{key}", self.bucket)),
            source: std::io::Error::other(e),
        }
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| self.pool_err(e))
    }
}

/// What a hub shares between its repositories: the runtime its requests
/// run on, the connections, the caches.
pub(crate) struct Shared {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pub(crate) clients: Clients,
    pub(crate) cache: pack::Caches,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Never blocks (dropping a runtime inside async code would panic).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    /// Runs `fut` on the hub's runtime and waits for its result (see the
    /// module docs: no `block_on`, callable from any thread).
    pub(crate) fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| Error::Io {
            op: "scale-out request",
            path: PathBuf::from(&*self.clients.db_label),
            source: std::io::Error::other("the hub's runtime stopped or the request panicked"),
        })?
    }
}

/// The scale-out hub: repositories, tokens and uploads in PostgreSQL + S3
/// (the module docs). Cheap to share (`Arc`); every method blocks its
/// thread for its requests.
pub struct ScaleOutHub {
    shared: Arc<Shared>,
    scratch_dir: PathBuf,
    /// `(owner, name)` → `repo_id` (repositories are never renamed or
    /// deleted by this tier).
    repo_ids: Mutex<HashMap<(String, String), i64>>,
    /// Scratch directories made bare already.
    scratch_ready: Mutex<std::collections::HashSet<PathBuf>>,
}

impl std::fmt::Debug for ScaleOutHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScaleOutHub")
            .field("database", &&*self.shared.clients.db_label)
            .field("bucket", &&*self.shared.clients.bucket)
            .finish()
    }
}

impl ScaleOutHub {
    /// Connects to PostgreSQL and S3 as `config` says, creates the schema
    /// if missing, and checks that the bucket answers.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed URL or S3 setting;
    /// [`Error::Io`] when PostgreSQL or S3 cannot be reached or refuse
    /// (wrong password, missing bucket, wrong keys).
    pub fn connect(config: &ScaleOutConfig) -> Result<ScaleOutHub> {
        // reqwest's rustls has no provider compiled in: install ring's once
        // per process (an error means one is installed already). ring is
        // already in the build (ureq's TLS); aws-lc-rs, rustls' post-quantum
        // default, would add a large C build for an S3 endpoint that is
        // usually plain HTTP on a private network.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("muse-hub-scaleout")
            .enable_all()
            .build()
            .map_err(|e| Error::io("start the scale-out runtime", "tokio", e))?;
        let handle = runtime.handle().clone();

        let db_label: Arc<str> = redact_url(&config.database_url).into();
        let pg_config: tokio_postgres::Config = config.database_url.parse().map_err(|e| {
            Error::InvalidInput(format!(
                "MUSE_HUB_DATABASE_URL {db_label:?} is not a PostgreSQL URL: {e}"
            ))
        })?;
        let manager = deadpool_postgres::Manager::from_config(
            pg_config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::InvalidInput(format!("PostgreSQL pool for {db_label}: {e}")))?;

        let s3 = AmazonS3Builder::new()
            .with_endpoint(config.s3_endpoint.trim_end_matches('/'))
            .with_bucket_name(&config.s3_bucket)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_region(&config.region)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "S3 settings (endpoint {}): {e}",
                    config.s3_endpoint
                ))
            })?;

        let clients = Clients {
            pool,
            s3: Arc::new(s3),
            bucket: config.s3_bucket.as_str().into(),
            db_label,
        };
        let shared = Arc::new(Shared {
            runtime: Some(runtime),
            handle,
            clients,
            cache: pack::Caches::new(),
        });
        let c = shared.clients.clone();
        shared.run(async move {
            schema::migrate(&c).await?;
            // The bucket must answer a listing (missing bucket, wrong keys).
            let probe = object_store::path::Path::from("muse-hub-probe");
            c.s3.list_with_delimiter(Some(&probe))
                .await
                .map_err(|e| c.s3_err("list", "muse-hub-probe/", e))?;
            Ok(())
        })?;
        Ok(ScaleOutHub {
            shared,
            scratch_dir: config.scratch_dir.clone(),
            repo_ids: Mutex::new(HashMap::new()),
            scratch_ready: Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// [`ScaleOutHub::connect`] with [`ScaleOutConfig::from_env`].
    ///
    /// # Errors
    /// As both.
    pub fn from_env() -> Result<ScaleOutHub> {
        ScaleOutHub::connect(&ScaleOutConfig::from_env()?)
    }

    /// The store of hosted repository `owner/name` (what [`Self::open`]
    /// wraps in a [`Repository`]).
    ///
    /// # Errors
    /// [`Error::NotFound`] when not hosted; [`Error::InvalidInput`] for a
    /// bad name; backend failures.
    pub fn store(&self, owner: &str, name: &str) -> Result<PgS3Store> {
        let id = self.repo_id(owner, name)?.ok_or_else(|| Error::NotFound {
            what: "repository",
            name: format!("{owner}/{name}"),
        })?;
        Ok(PgS3Store::new(
            self.shared.clone(),
            id,
            format!("{owner}/{name}"),
        ))
    }

    /// Drops every cache of this hub (index rows, pack chunks, records):
    /// the next reads go to PostgreSQL and S3.
    pub fn clear_caches(&self) {
        self.shared.cache.clear();
    }

    fn repo_id(&self, owner: &str, name: &str) -> Result<Option<i64>> {
        validate_repo_name(owner, name)?;
        let key = (owner.to_string(), name.to_string());
        if let Some(id) = self
            .repo_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(*id));
        }
        let c = self.shared.clients.clone();
        let (o, n) = key.clone();
        let id = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached("SELECT repo_id FROM muse_hub.repos WHERE owner = $1 AND name = $2")
                .await
                .map_err(|e| c.pg(e))?;
            let row = db.query_opt(&st, &[&o, &n]).await.map_err(|e| c.pg(e))?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })?;
        if let Some(id) = id {
            self.repo_ids
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, id);
        }
        Ok(id)
    }

    fn require_repo(&self, owner: &str, name: &str) -> Result<i64> {
        self.repo_id(owner, name)?.ok_or_else(|| Error::NotFound {
            what: "repository",
            name: format!("{owner}/{name}"),
        })
    }

    /// `uploads/<owner>/<name>/<key>`; a key `sha256:<hex>` (the server's
    /// `mpack_key`) is stored as `<hex>`.
    fn upload_path(owner: &str, name: &str, key: &str) -> Result<object_store::path::Path> {
        validate_repo_name(owner, name)?;
        let key = key.strip_prefix("sha256:").unwrap_or(key);
        validate_upload_key(key)?;
        Ok(object_store::path::Path::from(format!(
            "uploads/{owner}/{name}/{key}"
        )))
    }
}

/// A repository owner or name: 1 to 100 of `A-Z a-z 0-9 - _ .`, not
/// starting with `.`.
///
/// # Errors
/// [`Error::InvalidInput`].
pub fn validate_repo_name(owner: &str, name: &str) -> Result<()> {
    for (what, s) in [("owner", owner), ("repository name", name)] {
        let ok = !s.is_empty()
            && s.len() <= 100
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(Error::InvalidInput(format!(
                "invalid {what} {:?}: use 1-100 of A-Z a-z 0-9 - _ . (not starting with .)",
                s.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// An upload key: 1 to 128 of `A-Z a-z 0-9 - _ .`, not starting with `.`.
fn validate_upload_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid upload key {:?}: use 1-128 of A-Z a-z 0-9 - _ .",
            key.chars().take(128).collect::<String>()
        )))
    }
}

fn scope_str(s: Scope) -> &'static str {
    match s {
        Scope::Read => "read",
        Scope::Write => "write",
    }
}

impl HubStorage for ScaleOutHub {
    fn create_repo(&self, owner: &str, name: &str, public: bool) -> Result<RepoInfo> {
        validate_repo_name(owner, name)?;
        let c = self.shared.clients.clone();
        let (o, n) = (owner.to_string(), name.to_string());
        let id = self.shared.run(async move {
            let db = c.client().await?;
            let row = db
                .query_opt(
                    "INSERT INTO muse_hub.repos (owner, name, public) VALUES ($1, $2, $3)
                     ON CONFLICT (owner, name) DO NOTHING RETURNING repo_id",
                    &[&o, &n, &public],
                )
                .await
                .map_err(|e| c.pg(e))?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })?;
        let Some(id) = id else {
            return Err(Error::InvalidInput(format!(
                "repository {owner}/{name} already exists"
            )));
        };
        self.repo_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((owner.to_string(), name.to_string()), id);
        Ok(RepoInfo {
            owner: owner.to_string(),
            name: name.to_string(),
            public,
        })
    }

    fn repo(&self, owner: &str, name: &str) -> Result<Option<RepoInfo>> {
        validate_repo_name(owner, name)?;
        let c = self.shared.clients.clone();
        let (o, n) = (owner.to_string(), name.to_string());
        let public = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached("SELECT public FROM muse_hub.repos WHERE owner = $1 AND name = $2")
                .await
                .map_err(|e| c.pg(e))?;
            let row = db.query_opt(&st, &[&o, &n]).await.map_err(|e| c.pg(e))?;
            Ok(row.map(|r| r.get::<_, bool>(0)))
        })?;
        Ok(public.map(|public| RepoInfo {
            owner: owner.to_string(),
            name: name.to_string(),
            public,
        }))
    }

    /// A [`Repository`] over [`Self::store`] whose working-copy directory
    /// is `<scratch_dir>/<owner>/<name>` (its `.muse/config.toml` says
    /// `[core] bare = true`, so pushes may move any branch, HEAD's too).
    fn open(&self, owner: &str, name: &str) -> Result<Repository> {
        let store = self.store(owner, name)?;
        let root = self.scratch_dir.join(owner).join(name);
        let mut ready = self.scratch_ready.lock().unwrap_or_else(|p| p.into_inner());
        if !ready.contains(&root) {
            let dot = root.join(".muse");
            std::fs::create_dir_all(&dot).map_err(|e| Error::io("create directory", &dot, e))?;
            if muse_core::config::get(&root, "core.bare")?.as_deref() != Some("true") {
                muse_core::config::set(&root, "core.bare", Some("true"))?;
            }
            ready.insert(root.clone());
        }
        drop(ready);
        Repository::with_store(root, Arc::new(store))
    }

    fn add_token(
        &self,
        owner: &str,
        name: &str,
        scope: Scope,
        token_sha256: &[u8; 32],
    ) -> Result<()> {
        let id = self.require_repo(owner, name)?;
        let c = self.shared.clients.clone();
        let hash = token_sha256.to_vec();
        self.shared.run(async move {
            let db = c.client().await?;
            db.execute(
                "INSERT INTO muse_hub.tokens (repo_id, token_sha256, scope) VALUES ($1, $2, $3)
                 ON CONFLICT (repo_id, token_sha256) DO UPDATE SET scope = EXCLUDED.scope",
                &[&id, &hash, &scope_str(scope)],
            )
            .await
            .map_err(|e| c.pg(e))?;
            Ok(())
        })
    }

    fn token_scope(
        &self,
        owner: &str,
        name: &str,
        token_sha256: &[u8; 32],
    ) -> Result<Option<Scope>> {
        let Some(id) = self.repo_id(owner, name)? else {
            return Ok(None);
        };
        let c = self.shared.clients.clone();
        let hash = token_sha256.to_vec();
        let scope = self.shared.run(async move {
            let db = c.client().await?;
            let st = db
                .prepare_cached(
                    "SELECT scope FROM muse_hub.tokens WHERE repo_id = $1 AND token_sha256 = $2",
                )
                .await
                .map_err(|e| c.pg(e))?;
            let row = db
                .query_opt(&st, &[&id, &hash])
                .await
                .map_err(|e| c.pg(e))?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })?;
        Ok(match scope.as_deref() {
            Some("write") => Some(Scope::Write),
            Some("read") => Some(Scope::Read),
            _ => None,
        })
    }

    fn presign_upload(
        &self,
        owner: &str,
        name: &str,
        key: &str,
        _size: u64,
    ) -> Result<Option<String>> {
        self.require_repo(owner, name)?;
        let path = Self::upload_path(owner, name, key)?;
        let c = self.shared.clients.clone();
        let url = self.shared.run(async move {
            c.s3.signed_url(object_store::signer::Method::PUT, &path, PRESIGN_EXPIRY)
                .await
                .map_err(|e| c.s3_err("presign", path.as_ref(), e))
        })?;
        Ok(Some(url.to_string()))
    }

    fn put_upload(&self, owner: &str, name: &str, key: &str, bytes: &[u8]) -> Result<()> {
        self.require_repo(owner, name)?;
        let path = Self::upload_path(owner, name, key)?;
        let c = self.shared.clients.clone();
        let payload = PutPayload::from(bytes::Bytes::copy_from_slice(bytes));
        self.shared.run(async move {
            c.s3.put(&path, payload)
                .await
                .map_err(|e| c.s3_err("put", path.as_ref(), e))?;
            Ok(())
        })
    }

    fn get_upload(
        &self,
        owner: &str,
        name: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>> {
        self.require_repo(owner, name)?;
        let path = Self::upload_path(owner, name, key)?;
        let c = self.shared.clients.clone();
        self.shared.run(async move {
            let got = match c.s3.get_opts(&path, GetOptions::default()).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(c.s3_err("get", path.as_ref(), e)),
            };
            if got.meta.size > max_bytes {
                return Err(Error::TooLarge {
                    what: "uploaded MPack",
                    path: PathBuf::from(format!("s3://{}/{path}", c.bucket)),
                    size: got.meta.size,
                    limit: max_bytes,
                });
            }
            let bytes = got
                .bytes()
                .await
                .map_err(|e| c.s3_err("get", path.as_ref(), e))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn delete_upload(&self, owner: &str, name: &str, key: &str) -> Result<()> {
        self.require_repo(owner, name)?;
        let path = Self::upload_path(owner, name, key)?;
        let c = self.shared.clients.clone();
        self.shared.run(async move {
            match c.s3.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(c.s3_err("delete", path.as_ref(), e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_and_names_checked() {
        assert_eq!(
            redact_url("postgres://u:secret@127.0.0.1:5/db"),
            "postgres://u@127.0.0.1:5/db"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/db"),
            "postgres://127.0.0.1/db"
        );
        assert!(validate_repo_name("alice", "repo-1.x").is_ok());
        for (o, n) in [
            ("", "a"),
            ("a", ""),
            ("a/b", "c"),
            ("a", ".."),
            ("a", ".hidden"),
            ("a", "sp ace"),
        ] {
            assert!(validate_repo_name(o, n).is_err(), "{o}/{n}");
        }
        assert!(validate_upload_key("0123abcd.mpack").is_ok());
        assert!(validate_upload_key("../x").is_err());
    }
}
