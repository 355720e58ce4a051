//! Two `muse serve` servers (in this process, on 127.0.0.1:0) sharing one
//! scale-out hub (PostgreSQL + S3), driven over HTTP by muse-core's client
//! and by raw requests for the presign flow. Needs the services:
//!
//! ```sh
//! eval "$(scripts/hub-services.sh start)"
//! cargo test -p muse-hub --test scaleout_e2e
//! ```
//!
//! Without their environment every test FAILS with a message saying so.
//!
//! Every repository has a unique name (the services are shared across
//! runs), and the tests of this file run one at a time ([`serial`]), so the
//! large push's server-side time is not measured under this file's other
//! tests and the state comparisons of the refusal tests do not see them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use muse_core::mpack::{encode_mpack, MPack, MPackBlob, SnapshotDelta};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::remote::{encode_push, FetchOptions, HttpTransport, PushUpdate, Transport};
use muse_core::store::{MemStore, RefEdit};
use muse_core::{BlobId, CommitId, ErrorKind, Repository, SnapshotId};
use muse_hub::scaleout::{ScaleOutConfig, ScaleOutHub};
use muse_hub::server::{create_token_in, init_repo_in};
use muse_hub::{HubStorage, Scope, ServeConfig, ServerHandle};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use sha2::{Digest, Sha256};

fn config() -> ScaleOutConfig {
    match ScaleOutConfig::from_env() {
        Ok(mut c) => {
            c.scratch_dir = std::env::temp_dir().join(format!("muse-hub-scaleout-e2e-{}", std::process::id()));
            c
        }
        Err(e) => panic!(
            "\n\nthe scale-out tests need PostgreSQL + S3 services: run\n\n    eval \"$(scripts/hub-services.sh start)\"\n\nin this shell first (from the repository root), then run the tests again.\n({e})\n"
        ),
    }
}

/// A server with its own connection to the shared services.
fn server(root: &std::path::Path) -> (ServerHandle, Arc<ScaleOutHub>) {
    let hub = Arc::new(ScaleOutHub::connect(&config()).unwrap());
    let cfg = ServeConfig::new(root, "127.0.0.1:0".parse().unwrap());
    let storage: Arc<dyn HubStorage> = hub.clone();
    (ServerHandle::start(cfg, storage).unwrap(), hub)
}

fn ts(i: usize) -> String {
    format!(
        "2026-02-01T{:02}:{:02}:{:02}.000000+00:00",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    )
}

/// Adds `n` commits of `files` files (one changed per commit) on top of
/// `parent` in `repo`'s store and points `main` at the last; returns it.
fn grow(
    repo: &Repository,
    parent: Option<CommitId>,
    n: usize,
    files: usize,
    label: &str,
    t0: usize,
) -> CommitId {
    let store = repo.store();
    let mut manifest: BTreeMap<String, String> = match parent {
        Some(p) => {
            let c = store.read_commit(&p).unwrap().unwrap();
            store
                .read_snapshot(&SnapshotId::parse(&c.snapshot_id).unwrap())
                .unwrap()
                .unwrap()
                .manifest
        }
        None => BTreeMap::new(),
    };
    let mut b = store.batch().unwrap();
    let mut put = |c: String| {
        let id = BlobId::of(c.as_bytes());
        b.write_blob(&id, c.as_bytes()).unwrap();
        id.to_string()
    };
    if manifest.is_empty() {
        for f in 0..files {
            manifest.insert(
                format!("src/f{f:03}.txt"),
                put(format!("{label} base {f}\n")),
            );
        }
    }
    let mut snaps = Vec::new();
    for i in 0..n {
        manifest.insert(
            format!("src/f{:03}.txt", i % files),
            put(format!("{label} change {i}\n")),
        );
        snaps.push(SnapshotRecord::new(manifest.clone()));
    }
    let mut prev = parent.map(|p| p.to_string());
    for (i, s) in snaps.iter().enumerate() {
        b.write_snapshot(s, None).unwrap();
        let mut c = CommitRecord {
            branch: "main".into(),
            snapshot_id: s.snapshot_id.clone(),
            message: format!("{label} {i}"),
            committed_at: ts(t0 + i),
            parent_commit_id: prev.clone(),
            author: "e2e".into(),
            ..Default::default()
        };
        c.commit_id = c.compute_id();
        b.write_commit(&c).unwrap();
        prev = Some(c.commit_id);
    }
    b.commit().unwrap();
    let tip = CommitId::parse(prev.as_deref().unwrap()).unwrap();
    store
        .transaction(&[RefEdit {
            branch: "main".into(),
            expected: None,
            new: Some(tip),
        }])
        .unwrap();
    tip
}

/// The tests of this file one at a time (a failed test does not stop the
/// others: the lock's poison is ignored).
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// `<owner>/<label>-<pid>-<nanos>`: a repository name no other run uses.
fn unique_slug(owner: &str, label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{owner}/{label}-{}-{nanos}", std::process::id())
}

fn client() -> (tempfile::TempDir, Repository) {
    let d = tempfile::tempdir().unwrap();
    let r = Repository::with_store(d.path(), Arc::new(MemStore::new())).unwrap();
    (d, r)
}

#[test]
fn push_to_one_server_fetch_from_the_other_race_and_presign() {
    let _serial = serial();
    let (root_a, root_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, hub_a) = server(root_a.path());
    let (b, _hub_b) = server(root_b.path());
    let slug = unique_slug("e2e", "repo");
    init_repo_in(&*hub_a, &slug, false).unwrap();
    let token = create_token_in(&*hub_a, &slug, Scope::Write).unwrap();
    let t = |s: &ServerHandle| HttpTransport::new(&s.url(&slug), Some(token.clone())).unwrap();

    // Push 50 commits to server A.
    let (_d1, x) = client();
    let tip = grow(&x, None, 50, 40, "x", 0);
    let report = x
        .push_with("origin", &mut t(&a), &["main".into()], false)
        .unwrap();
    assert_eq!(report.commits_written, 50);

    // Server B sees it: refs, and a fetch into a new client.
    assert_eq!(
        t(&b).list_refs().unwrap().branch_heads.get("main"),
        Some(&tip)
    );
    let (_d2, y) = client();
    let f = y
        .fetch_with("origin", &mut t(&b), &FetchOptions::default())
        .unwrap();
    assert_eq!(f.commits_written, 50);
    assert!(y.store().has_commit(&tip).unwrap());
    y.store()
        .transaction(&[RefEdit {
            branch: "main".into(),
            expected: None,
            new: Some(tip),
        }])
        .unwrap();

    // X pushes to A while Y pushes to B, both on top of `tip`: one wins.
    let cx = grow(&x, Some(tip), 3, 40, "race-x", 100);
    let cy = grow(&y, Some(tip), 3, 40, "race-y", 200);
    let (ta, tb) = (t(&a), t(&b));
    let hx = std::thread::spawn(move || {
        let mut ta = ta;
        x.push_with("origin", &mut ta, &["main".into()], false)
            .map(|_| ())
            .map_err(|e| e.kind())
    });
    let hy = std::thread::spawn(move || {
        let mut tb = tb;
        y.push_with("origin", &mut tb, &["main".into()], false)
            .map(|_| ())
            .map_err(|e| e.kind())
    });
    let (rx, ry) = (hx.join().unwrap(), hy.join().unwrap());
    eprintln!("racing pushes: via A {rx:?}, via B {ry:?}");
    let winner = match (&rx, &ry) {
        (Ok(()), Err(ErrorKind::Conflict)) => cx,
        (Err(ErrorKind::Conflict), Ok(())) => cy,
        other => panic!("exactly one push must win, the other be rejected: {other:?}"),
    };
    assert_eq!(
        t(&a).list_refs().unwrap().branch_heads.get("main"),
        Some(&winner)
    );
    assert_eq!(
        t(&b).list_refs().unwrap().branch_heads.get("main"),
        Some(&winner)
    );

    // The seeds' large-push flow through A with S3's presigned URL, the
    // result read through B.
    let (_d3, z) = client();
    z.fetch_with("origin", &mut t(&b), &FetchOptions::default())
        .unwrap();
    let z_tip = grow(&z, Some(winner), 5, 40, "presign", 300);
    let pack = z.build_mpack(&[z_tip], &[winner]).unwrap();
    let wire = encode_mpack(&pack).unwrap();
    let key = format!("sha256:{}", hex(&Sha256::digest(&wire)));
    let http = ureq::Agent::new_with_defaults();
    let auth = format!("Bearer {token}");
    let answer: serde_json::Value = http
        .post(&format!("{}/push/mpack-presign", a.url(&slug)))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(serde_json::json!({"mpack_key": key, "size_bytes": wire.len()}).to_string())
        .unwrap()
        .body_mut()
        .read_to_string()
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap();
    let url = answer["upload_url"].as_str().unwrap().to_string();
    let endpoint = std::env::var("MUSE_HUB_S3_ENDPOINT").unwrap();
    assert!(
        url.starts_with(endpoint.trim_end_matches('/')),
        "a presigned S3 URL, not the server's: {url}"
    );
    let put = http.put(&url).send(&wire[..]).unwrap();
    assert_eq!(put.status(), 200);
    let counts: serde_json::Value = http
        .post(&format!("{}/push/unpack-mpack", a.url(&slug)))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(
            serde_json::json!({"mpack_key": key, "branch": "main", "head": z_tip.to_string()})
                .to_string(),
        )
        .unwrap()
        .body_mut()
        .read_to_string()
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap();
    assert_eq!(counts["commits_written"], 5, "{counts}");
    assert_eq!(
        t(&b).list_refs().unwrap().branch_heads.get("main"),
        Some(&z_tip)
    );
    let (owner, name) = slug.split_once('/').unwrap();
    assert_eq!(
        hub_a.get_upload(owner, name, &key, 1 << 30).unwrap(),
        None,
        "the upload was removed after unpacking"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Raw HTTP and the hub's state, read directly from the services.
// ---------------------------------------------------------------------------

/// A raw request: (status, WWW-Authenticate, body); statuses are answers,
/// not errors.
fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    ct: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, Option<String>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        b = b.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(c) = ct {
        b = b.header("Content-Type", c);
    }
    let req = b
        .body(body.map(<[u8]>::to_vec).unwrap_or_default())
        .unwrap();
    let mut resp = agent
        .run(req)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    (status, www, body)
}

/// The JSON `error` of a refusal (and checks that there is one).
fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field: {v}"))
        .to_string()
}

fn msgpack(v: &serde_json::Value) -> Vec<u8> {
    rmp_serde::to_vec_named(v).unwrap()
}

/// Connections of the test's own to PostgreSQL and S3 (not the hub's), to
/// read what the hub stored.
struct Direct {
    rt: tokio::runtime::Runtime,
    db: tokio_postgres::Client,
    s3: object_store::aws::AmazonS3,
}

/// Everything of one hosted repository that a push could change.
#[derive(Debug, PartialEq, Eq)]
struct HubState {
    /// `(key, size)` of every object in the bucket, sorted, except those
    /// under another repository's prefixes (`repos/<other id>/…`,
    /// `uploads/<other owner>/<other name>/…`), which other tests and runs
    /// may be writing meanwhile. Anything else, in this repository's
    /// prefixes or outside the layout, is kept.
    objects: Vec<(String, u64)>,
    /// Table → the repository's rows (`SELECT t::text … ORDER BY 1`), for
    /// every table of schema `muse_hub`.
    rows: BTreeMap<String, Vec<String>>,
    /// `GET refs`, as advertised.
    refs: serde_json::Value,
}

impl Direct {
    fn new() -> Direct {
        let c = config();
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&c.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL (MUSE_HUB_DATABASE_URL)");
            tokio::spawn(conn);
            client
        });
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(c.s3_endpoint.trim_end_matches('/'))
            .with_bucket_name(&c.s3_bucket)
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key)
            .with_region(&c.region)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap();
        Direct { rt, db, s3 }
    }

    /// Every object of the bucket (all pages), as `(key, size)`, sorted.
    fn bucket(&self) -> Vec<(String, u64)> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut page_token = None;
            loop {
                let opts = PaginatedListOptions {
                    page_token: page_token.take(),
                    ..Default::default()
                };
                let page = self
                    .s3
                    .list_paginated(None, opts)
                    .await
                    .expect("list the bucket");
                out.extend(
                    page.result
                        .objects
                        .into_iter()
                        .map(|m| (m.location.to_string(), m.size)),
                );
                match page.page_token {
                    Some(t) => page_token = Some(t),
                    None => break,
                }
            }
            out.sort();
            out
        })
    }

    /// The repository's rows in every table of schema `muse_hub` (each
    /// must have a `repo_id` column), as text, sorted.
    fn rows(&self, repo_id: i64) -> BTreeMap<String, Vec<String>> {
        self.rt.block_on(async {
            let tables = self
                .db
                .query(
                    "SELECT t.table_name::text, bool_or(c.column_name = 'repo_id')
                       FROM information_schema.tables t
                       JOIN information_schema.columns c USING (table_schema, table_name)
                      WHERE t.table_schema = 'muse_hub' AND t.table_type = 'BASE TABLE'
                      GROUP BY 1 ORDER BY 1",
                    &[],
                )
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for t in tables {
                let (table, has_repo_id): (String, bool) = (t.get(0), t.get(1));
                assert!(
                    has_repo_id,
                    "table muse_hub.{table} has no repo_id column: extend HubState to compare it"
                );
                let q = format!(
                    "SELECT t::text FROM muse_hub.\"{}\" t WHERE t.repo_id = $1 ORDER BY 1",
                    table.replace('"', "\"\"")
                );
                let rows = self.db.query(&q, &[&repo_id]).await.unwrap();
                out.insert(table, rows.iter().map(|r| r.get::<_, String>(0)).collect());
            }
            out
        })
    }

    /// The state of hosted repository `slug` (`repo_id`) on the hub served
    /// at `url`; `token` reads its refs.
    fn state(&self, slug: &str, repo_id: i64, url: &str, token: &str) -> HubState {
        let (owner, name) = slug.split_once('/').unwrap();
        let ours_upload = format!("uploads/{owner}/{name}/");
        let objects = self
            .bucket()
            .into_iter()
            .filter(|(k, _)| {
                if let Some(rest) = k.strip_prefix("repos/") {
                    return rest.split('/').next() == Some(repo_id.to_string().as_str());
                }
                if k.starts_with("uploads/") {
                    return k.starts_with(&ours_upload);
                }
                true
            })
            .collect();
        let (status, _, body) = call("GET", &format!("{url}/refs"), Some(token), None, None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        HubState {
            objects,
            rows: self.rows(repo_id),
            refs: serde_json::from_slice(&body).unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------
// The presign → PUT → unpack flow at the seed's dimensions.
// ---------------------------------------------------------------------------

/// The seed's history (`test_mpack_delta_e2e.py`) in `repo`: `commits`
/// commits of `files` files, `changed` changed per commit, blobs of `size`
/// bytes; `main` points at the tip, which is returned.
fn seed_history(
    repo: &Repository,
    files: usize,
    commits: usize,
    changed: usize,
    size: usize,
) -> CommitId {
    let store = repo.store();
    let mut batch = store.batch().unwrap();
    let base: BTreeMap<String, String> = (0..files)
        .map(|i| {
            let mut c = format!("base-{i:06}").into_bytes();
            c.resize(c.len() + size, b'x');
            let id = BlobId::of(&c);
            batch.write_blob(&id, &c).unwrap();
            (format!("src/file_{i:04}.py"), id.to_string())
        })
        .collect();
    let mut parent: Option<String> = None;
    let mut prev_snap: Option<SnapshotId> = None;
    for i in 0..commits {
        let mut m = base.clone();
        for j in 0..changed {
            let mut c = format!("commit-{i:05}-file-{j}").into_bytes();
            c.resize(c.len() + size, b'y');
            let id = BlobId::of(&c);
            batch.write_blob(&id, &c).unwrap();
            m.insert(
                format!("src/file_{:04}.py", (i * changed + j) % files),
                id.to_string(),
            );
        }
        let snap = SnapshotRecord::new(m);
        batch.write_snapshot(&snap, prev_snap.as_ref()).unwrap();
        let mut c = CommitRecord {
            branch: "main".into(),
            snapshot_id: snap.snapshot_id.clone(),
            message: format!("commit-{i:05}"),
            committed_at: format!("2026-01-01T{:02}:{:02}:00+00:00", i / 60, i % 60),
            parent_commit_id: parent.clone(),
            author: "gabriel".into(),
            ..Default::default()
        };
        c.commit_id = c.compute_id();
        batch.write_commit(&c).unwrap();
        prev_snap = Some(SnapshotId::parse(&snap.snapshot_id).unwrap());
        parent = Some(c.commit_id);
    }
    batch.commit().unwrap();
    let tip = CommitId::parse(&parent.unwrap()).unwrap();
    repo.set_branch("main", &tip.to_string()).unwrap();
    tip
}

#[test]
fn presign_put_unpack_at_the_seed_dimensions() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let (srv, hub) = server(root.path());
    let slug = unique_slug("gabriel", "mpack-delta-e2e");
    init_repo_in(&*hub, &slug, true).unwrap();
    let w = create_token_in(&*hub, &slug, Scope::Write).unwrap();
    let url = srv.url(&slug);

    let t = Instant::now();
    let (_d, local) = client();
    let head = seed_history(&local, 700, 1031, 5, 512);
    let pack = local.build_mpack(&[head], &[]).unwrap();
    assert_eq!(pack.commits.len(), 1031);
    assert_eq!(pack.snapshots.len(), 1031);
    let wire = encode_mpack(&pack).unwrap();
    let key = format!("sha256:{}", hex(&Sha256::digest(&wire)));
    eprintln!(
        "seed history built and encoded in {:?} ({} KiB on the wire)",
        t.elapsed(),
        wire.len() / 1024
    );

    // presign (msgpack, as the seed sends it): S3's URL, not the server's.
    let t_server = Instant::now();
    let body = msgpack(&serde_json::json!({"mpack_key": key, "size_bytes": wire.len()}));
    let (status, _, resp) = call(
        "POST",
        &format!("{url}/push/mpack-presign"),
        Some(&w),
        Some("application/x-msgpack"),
        Some(&body),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let presigned: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let upload_url = presigned["upload_url"].as_str().unwrap().to_string();
    let t_presign = Instant::now();
    let endpoint = config().s3_endpoint;
    assert!(
        upload_url.starts_with(endpoint.trim_end_matches('/')),
        "a presigned S3 URL (endpoint {endpoint}): {upload_url}"
    );
    assert!(
        !upload_url.starts_with(&format!("http://{}", srv.addr())),
        "the server's own upload URL: {upload_url}"
    );
    assert!(upload_url.contains("X-Amz-Signature="), "{upload_url}");

    // PUT to S3, no token (the URL carries the signature); not timed.
    let (status, _, resp) = call("PUT", &upload_url, None, None, Some(&wire));
    assert!(
        status == 200 || status == 204,
        "{status}: {}",
        String::from_utf8_lossy(&resp)
    );
    let t_put = Instant::now();

    // unpack
    let body = msgpack(&serde_json::json!({"mpack_key": key, "branch": "main", "head": head}));
    let (status, _, resp) = call(
        "POST",
        &format!("{url}/push/unpack-mpack"),
        Some(&w),
        Some("application/x-msgpack"),
        Some(&body),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let result: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let t_unpack = Instant::now();

    // refs (anonymously: the repository is public, as in the seed)
    let (status, _, resp) = call("GET", &format!("{url}/refs"), None, None, None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let refs: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let t_done = Instant::now();

    let (presign_t, put_t, unpack_t, refs_t) = (
        t_presign - t_server,
        t_put - t_presign,
        t_unpack - t_put,
        t_done - t_unpack,
    );
    let server = presign_t + unpack_t + refs_t;
    eprintln!(
        "\n scale-out tier: 1031 commits × 700 files × 5 changed/commit, 512-byte blobs\n mpack wire: {} KiB\n server total: {:.0} ms (presign {:.0} ms, unpack {:.0} ms, refs {:.0} ms; PUT to S3 {:.0} ms not counted)\n",
        wire.len() / 1024,
        server.as_secs_f64() * 1e3,
        presign_t.as_secs_f64() * 1e3,
        unpack_t.as_secs_f64() * 1e3,
        refs_t.as_secs_f64() * 1e3,
        put_t.as_secs_f64() * 1e3,
    );
    assert_eq!(refs["branch_heads"]["main"], head.to_string(), "{refs}");
    assert_eq!(result["commits_written"], 1031, "{result}");
    assert_eq!(result["snapshots_written"], 1031, "{result}");
    assert_eq!(result["blobs_written"], 700 + 1031 * 5, "{result}");
    assert_eq!(result["branch"], "main");
    assert_eq!(result["head"], head.to_string());
    assert!(
        server < Duration::from_secs(10),
        "server pipeline took {server:?} (gate: 10 s)"
    );

    // The upload is gone once applied; unpacking the key again is a 404.
    let (owner, name) = slug.split_once('/').unwrap();
    assert_eq!(hub.get_upload(owner, name, &key, 1 << 30).unwrap(), None);
    let (status, _, _) = call(
        "POST",
        &format!("{url}/push/unpack-mpack"),
        Some(&w),
        Some("application/x-msgpack"),
        Some(&body),
    );
    assert_eq!(status, 404);
    // The history reads back from the hub (cold caches).
    hub.clear_caches();
    let hosted = hub.open(owner, name).unwrap();
    assert_eq!(hosted.log("main").unwrap().count(), 1031);
    assert_eq!(
        hosted.commit_manifest(&head.to_string()).unwrap(),
        local.commit_manifest(&head.to_string()).unwrap()
    );
}

// ---------------------------------------------------------------------------
// Refused pushes leave the hub unchanged.
// ---------------------------------------------------------------------------

/// A hosted repository with a base history pushed, the client that pushed
/// it, and one more commit on top (not pushed).
struct Target {
    /// Serves the repository for the test's duration.
    _srv: ServerHandle,
    hub: Arc<ScaleOutHub>,
    direct: Direct,
    slug: String,
    url: String,
    repo_id: i64,
    write: String,
    read: String,
    local: Repository,
    base: CommitId,
    next: CommitId,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn target(label: &str) -> Target {
    let root = tempfile::tempdir().unwrap();
    let (srv, hub) = server(root.path());
    let direct = Direct::new();
    let slug = unique_slug("mallory", label);
    init_repo_in(&*hub, &slug, false).unwrap();
    let write = create_token_in(&*hub, &slug, Scope::Write).unwrap();
    let read = create_token_in(&*hub, &slug, Scope::Read).unwrap();
    let url = srv.url(&slug);
    let (owner, name) = slug.split_once('/').unwrap();
    let repo_id = hub.store(owner, name).unwrap().repo_id();
    let (d, local) = client();
    let base = grow(&local, None, 3, 4, label, 0);
    let mut t = HttpTransport::new(&url, Some(write.clone())).unwrap();
    let report = local
        .push_with("origin", &mut t, &["main".into()], false)
        .unwrap();
    assert_eq!(report.commits_written, 3);
    let next = grow(&local, Some(base), 1, 4, &format!("{label}-next"), 10);
    Target {
        _srv: srv,
        hub,
        direct,
        slug,
        url,
        repo_id,
        write,
        read,
        local,
        base,
        next,
        _dirs: (root, d),
    }
}

impl Target {
    fn state(&self) -> HubState {
        self.direct
            .state(&self.slug, self.repo_id, &self.url, &self.write)
    }

    /// The honest pack of `next` on top of `base`.
    fn honest(&self) -> MPack {
        let p = self.local.build_mpack(&[self.next], &[self.base]).unwrap();
        assert_eq!(p.commits.len(), 1);
        assert_eq!(p.snapshots.len(), 1);
        assert!(!p.blobs.is_empty());
        p
    }

    /// The push body moving main from base to `new`.
    fn body(&self, pack: &MPack, new: CommitId) -> Vec<u8> {
        let updates = vec![PushUpdate {
            branch: "main".into(),
            old: Some(self.base),
            new: Some(new),
            force: false,
        }];
        encode_push(pack, &updates).unwrap()
    }

    /// `POST {url}/push` of `body` with `token`: (status, WWW-Authenticate,
    /// the error message).
    fn push(&self, token: Option<&str>, body: &[u8]) -> (u16, Option<String>, String) {
        let (status, www, resp) = call(
            "POST",
            &format!("{}/push", self.url),
            token,
            Some("application/x-muse-push"),
            Some(body),
        );
        (status, www, error_of(&resp))
    }

    /// Pushes `pack` (main: base → `new`) with the write token; asserts a
    /// 422 or 400 whose message contains `needle`, and the hub unchanged.
    fn assert_refused(&self, what: &str, pack: &MPack, new: CommitId, needle: &str) {
        let before = self.state();
        let (status, _, msg) = self.push(Some(&self.write), &self.body(pack, new));
        eprintln!("{what}: refused ({status}): {msg}");
        assert!(
            status == 422 || status == 400,
            "{what}: status {status}: {msg}"
        );
        assert!(msg.contains(needle), "{what}: {needle:?} not in {msg:?}");
        assert_eq!(
            self.state(),
            before,
            "{what}: a refused push changed the hub"
        );
    }

    /// A pack for a commit on top of base whose snapshot adds `path`
    /// (every ID honest).
    fn forged_path_pack(&self, path: &str) -> (MPack, CommitId) {
        let base_rec = self.local.find_commit(&self.base.to_string()).unwrap();
        let mut manifest: BTreeMap<String, String> =
            self.local.commit_manifest(&self.base.to_string()).unwrap();
        let content = b"planted\n".to_vec();
        let blob = BlobId::of(&content).to_string();
        manifest.insert(path.to_string(), blob.clone());
        let snap = SnapshotRecord::new(manifest);
        let mut c = CommitRecord {
            branch: "main".into(),
            snapshot_id: snap.snapshot_id.clone(),
            message: "evil".into(),
            committed_at: "2026-01-02T00:00:00+00:00".into(),
            parent_commit_id: Some(self.base.to_string()),
            author: "m".into(),
            ..Default::default()
        };
        c.commit_id = c.compute_id();
        let id = CommitId::parse(&c.commit_id).unwrap();
        let pack = MPack {
            commits: vec![c],
            snapshots: vec![SnapshotDelta {
                snapshot_id: snap.snapshot_id.clone(),
                parent_snapshot_id: Some(base_rec.snapshot_id.clone()),
                delta_upsert: BTreeMap::from([(path.to_string(), blob.clone())]),
                delta_remove: vec![],
            }],
            blobs: vec![MPackBlob {
                blob_id: blob,
                content,
            }],
            ..Default::default()
        };
        (pack, id)
    }

    /// The honest push goes through afterwards, and changes what
    /// [`Self::state`] compares (so the comparisons above could see a write).
    fn honest_push_goes_through(&self, before: &HubState) {
        let (status, _, resp) = call(
            "POST",
            &format!("{}/push", self.url),
            Some(&self.write),
            Some("application/x-muse-push"),
            Some(&self.body(&self.honest(), self.next)),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
        let report: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        assert_eq!(report["commits_written"], 1, "{report}");
        let after = self.state();
        assert_eq!(
            after.refs["branch_heads"]["main"],
            self.next.to_string(),
            "{:?}",
            after.refs
        );
        assert_ne!(
            after.objects, before.objects,
            "the honest push stored no pack"
        );
        assert_ne!(after.rows["objects"], before.rows["objects"]);
        assert_ne!(after.rows["packs"], before.rows["packs"]);
        assert_ne!(after.rows["refs"], before.rows["refs"]);
        let (owner, name) = self.slug.split_once('/').unwrap();
        self.hub.clear_caches();
        let hosted = self.hub.open(owner, name).unwrap();
        assert_eq!(hosted.store().branch("main").unwrap(), Some(self.next));
        assert_eq!(hosted.log("main").unwrap().count(), 4);
    }
}

#[test]
fn lying_pushes_are_refused_and_leave_the_hub_unchanged() {
    let _serial = serial();
    let s = target("liar");
    let start = s.state();
    // What the comparison covers: the base push's pack and index rows.
    assert!(
        start
            .objects
            .iter()
            .any(|(k, _)| k.starts_with(&format!("repos/{}/packs/", s.repo_id))),
        "{:?}",
        start.objects
    );
    for t in ["repos", "tokens", "refs", "packs", "objects"] {
        assert!(
            !start.rows[t].is_empty(),
            "no rows in muse_hub.{t}: {:?}",
            start.rows
        );
    }
    assert_eq!(start.refs["branch_heads"]["main"], s.base.to_string());
    let honest = s.honest();

    // A blob whose content does not hash to its ID.
    let mut p = honest.clone();
    p.blobs[0].content.extend_from_slice(b"tampered");
    let id = p.blobs[0].blob_id.clone();
    s.assert_refused("blob not hashing to its ID", &p, s.next, &id);

    // A commit whose commit_id lies.
    let mut p = honest.clone();
    p.commits[0].message = "not what was hashed".into();
    s.assert_refused("commit_id that lies", &p, s.next, "commit");

    // Snapshot delta paths that escape or name .muse/ (IDs all honest);
    // the first two are the brief's, the others more of the kind.
    for path in [
        "../x",
        ".muse/x",
        "dir/../../x",
        "/etc/passwd",
        "a/.MUSE/config.toml",
    ] {
        let (p, id) = s.forged_path_pack(path);
        s.assert_refused(&format!("snapshot path {path:?}"), &p, id, "path");
    }

    // A snapshot delta that does not hash to its snapshot_id.
    let mut p = honest.clone();
    p.snapshots[0]
        .delta_upsert
        .insert("extra.txt".into(), p.blobs[0].blob_id.clone());
    s.assert_refused("snapshot_id that lies", &p, s.next, "snapshot");

    assert_eq!(s.state(), start);
    s.honest_push_goes_through(&start);
}

#[test]
fn pushes_without_a_write_token_are_refused_and_leave_the_hub_unchanged() {
    let _serial = serial();
    let s = target("noauth");
    let start = s.state();
    let body = s.body(&s.honest(), s.next);

    // No token: 401 with a Bearer challenge.
    let (status, www, msg) = s.push(None, &body);
    eprintln!("no token: {status}: {msg}");
    assert_eq!(status, 401, "{msg}");
    assert_eq!(www.as_deref(), Some("Bearer realm=\"muse\""));
    assert!(msg.contains("authentication required"), "{msg}");
    assert_eq!(s.state(), start, "a push without a token changed the hub");

    // A read token: 403.
    let (status, _, msg) = s.push(Some(&s.read), &body);
    eprintln!("read token: {status}: {msg}");
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("needs write"), "{msg}");
    assert_eq!(s.state(), start, "a push with a read token changed the hub");

    // The presign → unpack flow needs write too.
    let presign =
        serde_json::json!({"mpack_key": format!("sha256:{}", "0".repeat(64)), "size_bytes": 1});
    let unpack = serde_json::json!({"mpack_key": format!("sha256:{}", "0".repeat(64)), "branch": "main", "head": s.next});
    for (route, json) in [("mpack-presign", &presign), ("unpack-mpack", &unpack)] {
        let u = format!("{}/push/{route}", s.url);
        let j = json.to_string();
        let (status, _, _) = call(
            "POST",
            &u,
            None,
            Some("application/json"),
            Some(j.as_bytes()),
        );
        assert_eq!(status, 401, "{route} without a token");
        let (status, _, _) = call(
            "POST",
            &u,
            Some(&s.read),
            Some("application/json"),
            Some(j.as_bytes()),
        );
        assert_eq!(status, 403, "{route} with a read token");
    }
    assert_eq!(s.state(), start, "a refused presign/unpack changed the hub");

    s.honest_push_goes_through(&start);
}
