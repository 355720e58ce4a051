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

use std::collections::BTreeMap;
use std::sync::Arc;

use muse_core::mpack::encode_mpack;
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::remote::{FetchOptions, HttpTransport, Transport};
use muse_core::store::{MemStore, RefEdit};
use muse_core::{BlobId, CommitId, ErrorKind, Repository, SnapshotId};
use muse_hub::scaleout::{ScaleOutConfig, ScaleOutHub};
use muse_hub::server::{create_token_in, init_repo_in};
use muse_hub::{HubStorage, Scope, ServeConfig, ServerHandle};
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

fn client() -> (tempfile::TempDir, Repository) {
    let d = tempfile::tempdir().unwrap();
    let r = Repository::with_store(d.path(), Arc::new(MemStore::new())).unwrap();
    (d, r)
}

#[test]
fn push_to_one_server_fetch_from_the_other_race_and_presign() {
    let (root_a, root_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, hub_a) = server(root_a.path());
    let (b, _hub_b) = server(root_b.path());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let slug = format!("e2e/repo-{}-{nanos}", std::process::id());
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
