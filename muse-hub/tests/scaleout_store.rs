//! The scale-out store (`muse_hub::scaleout`) against real services:
//! PostgreSQL and an S3-compatible store (Garage). Start them first:
//!
//! ```sh
//! eval "$(scripts/hub-services.sh start)"
//! cargo test --release -p muse-hub --test scaleout_store -- --nocapture
//! ```
//!
//! Without the environment those print, every test FAILS (never skips)
//! with a message saying so. Each test works in its own new repository, so
//! the tests run in parallel and again on the same services.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use muse_core::mpack::{Limits, MPack};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::store::{Backend, ContentStore, Head, MemStore, RecordStore, RefEdit, RefStore};
use muse_core::{BlobId, CommitId, Error, Repository, SnapshotId};
use muse_hub::scaleout::{PgS3Store, ScaleOutConfig, ScaleOutHub};
use muse_hub::HubStorage;

fn config() -> ScaleOutConfig {
    match ScaleOutConfig::from_env() {
        Ok(mut c) => {
            c.scratch_dir = std::env::temp_dir().join(format!("muse-hub-scaleout-test-{}", std::process::id()));
            c
        }
        Err(e) => panic!(
            "\n\nthe scale-out tests need PostgreSQL + S3 services: run\n\n    eval \"$(scripts/hub-services.sh start)\"\n\nin this shell first (from the repository root), then run the tests again.\n({e})\n"
        ),
    }
}

/// A new connection to the services (a second "server" when called twice).
fn hub() -> ScaleOutHub {
    ScaleOutHub::connect(&config()).expect("connect to the scale-out services")
}

/// A new hosted repository with a unique name.
fn new_repo(hub: &ScaleOutHub, label: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("{label}-{}-{nanos}", std::process::id());
    hub.create_repo("tests", &name, false).unwrap();
    ("tests".to_string(), name)
}

fn ts(i: usize) -> String {
    format!(
        "2026-01-{:02}T{:02}:{:02}:{:02}.000000+00:00",
        1 + i / 86_400,
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    )
}

fn commit_rec(parent: Option<&str>, snapshot_id: &str, message: &str, i: usize) -> CommitRecord {
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: snapshot_id.to_string(),
        message: message.into(),
        committed_at: ts(i),
        parent_commit_id: parent.map(str::to_string),
        author: "tester".into(),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    c
}

fn fake(label: &str) -> CommitId {
    CommitId::parse(&muse_core::ids::fake_id(label)).unwrap()
}

fn is_corrupt<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Corrupt { .. }))
}

/// A runtime and a PostgreSQL connection for poking at the services
/// directly (the corruption tests).
struct Direct {
    rt: tokio::runtime::Runtime,
    db: tokio_postgres::Client,
    s3: object_store::aws::AmazonS3,
}

impl Direct {
    fn new() -> Direct {
        let c = config();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&c.database_url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
        });
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&c.s3_endpoint)
            .with_bucket_name(&c.s3_bucket)
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key)
            .with_region(&c.region)
            .with_allow_http(true)
            .build()
            .unwrap();
        Direct { rt, db, s3 }
    }

    /// `(pack key, offset, length)` of an entry.
    fn locate(&self, store: &PgS3Store, id: &[u8; 32]) -> (String, i64, i32) {
        self.rt.block_on(async {
            let r = self
                .db
                .query_one(
                    "SELECT p.key, o.off, o.len FROM muse_hub.objects o JOIN muse_hub.packs p USING (pack_id)
                     WHERE o.repo_id = $1 AND o.id = $2",
                    &[&store.repo_id(), &id.to_vec()],
                )
                .await
                .unwrap();
            (r.get(0), r.get(1), r.get(2))
        })
    }

    fn exec(&self, sql: &str, store: &PgS3Store, id: &[u8; 32]) {
        self.rt.block_on(async {
            self.db
                .execute(sql, &[&store.repo_id(), &id.to_vec()])
                .await
                .unwrap()
        });
    }

    fn get(&self, key: &str) -> Vec<u8> {
        use object_store::ObjectStoreExt;
        self.rt.block_on(async {
            self.s3
                .get(&key.into())
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        })
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        use object_store::ObjectStoreExt;
        self.rt
            .block_on(async { self.s3.put(&key.into(), bytes.into()).await.unwrap() });
    }

    fn delete(&self, key: &str) {
        use object_store::ObjectStoreExt;
        self.rt
            .block_on(async { self.s3.delete(&key.into()).await.unwrap() });
    }
}

#[test]
fn blobs_commits_snapshots_round_trip_through_batches_and_calls() {
    let hub = hub();
    let (owner, name) = new_repo(&hub, "roundtrip");
    let store = hub.store(&owner, &name).unwrap();

    // A batch: blobs (one twice), a full snapshot, a delta on it, commits.
    let blobs: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("blob {i}\n").repeat(i + 1).into_bytes())
        .collect();
    let ids: Vec<BlobId> = blobs.iter().map(|b| BlobId::of(b)).collect();
    let m1: BTreeMap<String, String> = (0..10)
        .map(|i| (format!("src/f{i}.txt"), ids[i].to_string()))
        .collect();
    let mut m2 = m1.clone();
    m2.insert("src/f3.txt".into(), ids[15].to_string());
    m2.remove("src/f4.txt");
    m2.insert("new/g.txt".into(), ids[16].to_string());
    let s1 = SnapshotRecord::new(m1.clone());
    let s2 = SnapshotRecord::new(m2.clone());
    let c1 = commit_rec(None, &s1.snapshot_id, "one", 1);
    let c2 = commit_rec(Some(&c1.commit_id), &s2.snapshot_id, "two", 2);
    let s1_id = SnapshotId::parse(&s1.snapshot_id).unwrap();
    let s2_id = SnapshotId::parse(&s2.snapshot_id).unwrap();

    let mut b = store.batch().unwrap();
    for (id, content) in ids.iter().zip(&blobs).take(18) {
        assert!(b.write_blob(id, content).unwrap());
    }
    assert!(
        !b.write_blob(&ids[0], &blobs[0]).unwrap(),
        "a duplicate in the batch is not new"
    );
    assert!(matches!(
        b.write_blob(&ids[1], b"not it"),
        Err(Error::HashMismatch { .. })
    ));
    assert!(b.write_snapshot(&s1, None).unwrap());
    let changed: BTreeSet<String> = ["src/f3.txt", "src/f4.txt", "new/g.txt"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(b.write_snapshot_delta(&s2, Some(&s1_id), &changed).unwrap());
    assert!(b.write_commit(&c1).unwrap());
    assert!(b.write_commit(&c2).unwrap());
    // Nothing is visible before commit.
    assert!(!store.has_blob(&ids[0]).unwrap());
    let stats = b.commit().unwrap();
    assert_eq!(
        (
            stats.blobs_written,
            stats.blobs_skipped,
            stats.commits_written,
            stats.snapshots_written
        ),
        (18, 1, 2, 2)
    );

    // Read back through a second connection (cold caches).
    let hub2 = hub2_same(&hub);
    let cold = hub2.store(&owner, &name).unwrap();
    for (id, content) in ids.iter().zip(&blobs).take(18) {
        assert_eq!(&cold.read_blob(id).unwrap(), content);
        assert!(cold.has_blob(id).unwrap());
    }
    assert!(matches!(
        cold.read_blob(&ids[19]),
        Err(Error::NotFound { .. })
    ));
    assert!(!cold.has_blob(&ids[19]).unwrap());
    let r2 = cold.read_snapshot(&s2_id).unwrap().unwrap();
    assert_eq!(r2.manifest, m2);
    assert_eq!(r2.snapshot_id, s2.snapshot_id);
    assert_eq!(cold.read_snapshot(&s1_id).unwrap().unwrap().manifest, m1);
    assert_eq!(
        cold.read_commit(&CommitId::parse(&c2.commit_id).unwrap())
            .unwrap()
            .unwrap(),
        c2
    );
    assert!(cold
        .has_commit(&CommitId::parse(&c1.commit_id).unwrap())
        .unwrap());
    assert!(cold.has_snapshot(&s1_id).unwrap());
    assert_eq!(cold.read_commit(&fake("absent")).unwrap(), None);
    let mut all = cold.commit_ids().unwrap();
    all.sort();
    let mut want = vec![
        CommitId::parse(&c1.commit_id).unwrap(),
        CommitId::parse(&c2.commit_id).unwrap(),
    ];
    want.sort();
    assert_eq!(all, want);

    // The same batch again stores nothing new.
    let mut b = store.batch().unwrap();
    for (id, content) in ids.iter().zip(&blobs).take(18) {
        b.write_blob(id, content).unwrap();
    }
    b.write_snapshot(&s1, None).unwrap();
    b.write_commit(&c1).unwrap();
    let stats = b.commit().unwrap();
    assert_eq!(
        (
            stats.blobs_written,
            stats.blobs_skipped,
            stats.commits_written,
            stats.snapshots_written
        ),
        (0, 18, 0, 0)
    );

    // Per-call writes.
    assert_eq!(store.write_blob(&blobs[18]).unwrap(), (ids[18], true));
    assert_eq!(store.write_blob(&blobs[18]).unwrap(), (ids[18], false));
    let mut m3 = m2.clone();
    m3.insert("src/f0.txt".into(), ids[18].to_string());
    let s3 = SnapshotRecord::new(m3.clone());
    assert!(
        store.write_snapshot(&s3, Some(&s2_id)).unwrap(),
        "stored as a delta on s2"
    );
    assert!(!store.write_snapshot(&s3, Some(&s2_id)).unwrap());
    let c3 = commit_rec(Some(&c2.commit_id), &s3.snapshot_id, "three", 3);
    assert!(store.write_commit(&c3).unwrap());
    assert!(!store.write_commit(&c3).unwrap());
    let mut bad = c3.clone();
    bad.message = "tampered".into();
    assert!(
        store.write_commit(&bad).is_err(),
        "a record whose ID does not verify is refused"
    );
    let mut bad_snap = s3.clone();
    bad_snap.manifest.insert("x".into(), ids[0].to_string());
    assert!(store.write_snapshot(&bad_snap, None).is_err());
    hub2.clear_caches();
    assert_eq!(
        cold.read_snapshot(&SnapshotId::parse(&s3.snapshot_id).unwrap())
            .unwrap()
            .unwrap()
            .manifest,
        m3
    );
    assert_eq!(cold.read_blob(&ids[18]).unwrap(), blobs[18]);
}

/// A second connection with the first one's configuration.
fn hub2_same(_first: &ScaleOutHub) -> ScaleOutHub {
    hub()
}

#[test]
fn corrupt_index_rows_and_objects_are_detected() {
    let hub = hub();
    let (owner, name) = new_repo(&hub, "corrupt");
    let store = hub.store(&owner, &name).unwrap();
    let blob = b"precious bytes\n".repeat(10);
    let blob2 = b"other bytes\n".repeat(10);
    let bid = BlobId::of(&blob);
    let bid2 = BlobId::of(&blob2);
    let m: BTreeMap<String, String> = [
        ("a.txt".to_string(), bid.to_string()),
        ("b.txt".to_string(), bid2.to_string()),
    ]
    .into();
    let s = SnapshotRecord::new(m);
    let c = commit_rec(None, &s.snapshot_id, "message to damage", 7);
    let mut b = store.batch().unwrap();
    b.write_blob(&bid, &blob).unwrap();
    b.write_blob(&bid2, &blob2).unwrap();
    b.write_snapshot(&s, None).unwrap();
    b.write_commit(&c).unwrap();
    b.commit().unwrap();
    let sid = SnapshotId::parse(&s.snapshot_id).unwrap();
    let cid = CommitId::parse(&c.commit_id).unwrap();
    let direct = Direct::new();

    // 1. An index row pointing one byte off.
    direct.exec(
        "UPDATE muse_hub.objects SET off = off + 1, len = len - 1 WHERE repo_id = $1 AND id = $2",
        &store,
        bid.0.as_bytes(),
    );
    let cold = hub2_same(&hub);
    let st = cold.store(&owner, &name).unwrap();
    let e = st.read_blob(&bid);
    assert!(is_corrupt(&e), "{e:?}");
    // ... and past the end of its pack.
    direct.exec(
        "UPDATE muse_hub.objects SET len = 100000000 WHERE repo_id = $1 AND id = $2",
        &store,
        bid.0.as_bytes(),
    );
    cold.clear_caches();
    let e = st.read_blob(&bid);
    assert!(is_corrupt(&e), "{e:?}");
    // A commit row pointing at the blob's bytes.
    let (_, boff, blen) = direct.locate(&store, bid2.0.as_bytes());
    direct.rt.block_on(async {
        direct
            .db
            .execute(
                "UPDATE muse_hub.objects SET off = $3, len = $4 WHERE repo_id = $1 AND id = $2",
                &[&store.repo_id(), &cid.0.as_bytes().to_vec(), &boff, &blen],
            )
            .await
            .unwrap()
    });
    cold.clear_caches();
    assert!(is_corrupt(&st.read_commit(&cid)));

    // 2. Damaged bytes in the pack object: every entry kind is caught.
    let fresh = hub2_same(&hub);
    let (owner2, name2) = new_repo(&fresh, "corrupt2");
    let st2 = fresh.store(&owner2, &name2).unwrap();
    let mut b = st2.batch().unwrap();
    b.write_blob(&bid, &blob).unwrap();
    b.write_blob(&bid2, &blob2).unwrap();
    b.write_snapshot(&s, None).unwrap();
    b.write_commit(&c).unwrap();
    b.commit().unwrap();
    let (key, _, _) = direct.locate(&st2, bid.0.as_bytes());
    let mut bytes = direct.get(&key);
    for id in [bid.0.as_bytes(), sid.0.as_bytes(), cid.0.as_bytes()] {
        let (_, off, len) = direct.locate(&st2, id);
        // The middle byte of the entry: in a commit, inside the message.
        let i = (off + i64::from(len) / 2) as usize;
        bytes[i] ^= 0x01;
    }
    direct.put(&key, bytes);
    let cold = hub2_same(&hub);
    let st2c = cold.store(&owner2, &name2).unwrap();
    let e = st2c.read_blob(&bid);
    assert!(is_corrupt(&e), "{e:?}");
    let e = st2c.read_snapshot(&sid);
    assert!(is_corrupt(&e), "{e:?}");
    let e = st2c.read_commit(&cid);
    assert!(is_corrupt(&e), "{e:?}");
    assert_eq!(
        st2c.read_blob(&bid2).unwrap(),
        blob2,
        "undamaged entries still read"
    );

    // 3. The pack object gone.
    direct.delete(&key);
    cold.clear_caches();
    let e = st2c.read_blob(&bid2);
    assert!(is_corrupt(&e), "{e:?}");
}

#[test]
fn ref_transactions_compare_and_swap_all_or_nothing() {
    let hub = hub();
    let (owner, name) = new_repo(&hub, "refs");
    let store = hub.store(&owner, &name).unwrap();
    let (a, b, c) = (fake("a"), fake("b"), fake("c"));
    let edit = |br: &str, expected: Option<Option<CommitId>>, new: Option<CommitId>| RefEdit {
        branch: br.into(),
        expected,
        new,
    };

    assert_eq!(store.head().unwrap(), Head::Branch("main".into()));
    assert_eq!(store.branch("main").unwrap(), None);
    store
        .transaction(&[
            edit("main", Some(None), Some(a)),
            edit("dev", None, Some(b)),
        ])
        .unwrap();
    assert_eq!(
        store.branches().unwrap(),
        vec![("dev".to_string(), b), ("main".to_string(), a)]
    );
    // Must-not-exist on an existing ref.
    let e = store
        .transaction(&[edit("main", Some(None), Some(b))])
        .unwrap_err();
    assert!(
        matches!(&e, Error::RefConflict { name, .. } if name == "refs/heads/main"),
        "{e}"
    );
    // One good and one bad expectation: nothing written, the bad one named.
    let e = store
        .transaction(&[
            edit("main", Some(Some(a)), Some(c)),
            edit("dev", Some(Some(a)), Some(c)),
        ])
        .unwrap_err();
    assert!(
        matches!(&e, Error::RefConflict { name, expected, actual }
        if name == "refs/heads/dev" && expected.as_deref() == Some(a.to_string().as_str()) && actual.as_deref() == Some(b.to_string().as_str())),
        "{e}"
    );
    assert_eq!(store.branch("main").unwrap(), Some(a));
    assert_eq!(store.branch("dev").unwrap(), Some(b));
    // CAS that holds, and delete.
    store
        .transaction(&[
            edit("main", Some(Some(a)), Some(c)),
            edit("dev", Some(Some(b)), None),
        ])
        .unwrap();
    assert_eq!(store.branches().unwrap(), vec![("main".to_string(), c)]);
    assert!(matches!(
        store.transaction(&[edit("bad..name", None, Some(a))]),
        Err(Error::InvalidRefName { .. })
    ));

    // HEAD.
    store.set_head(&Head::Detached(a.to_string())).unwrap();
    assert_eq!(store.head().unwrap(), Head::Detached(a.to_string()));
    store.set_head(&Head::Branch("dev".into())).unwrap();
    assert_eq!(store.head().unwrap(), Head::Branch("dev".into()));

    // Tags.
    store.update_tag("v1", Some(None), Some(a)).unwrap();
    assert!(matches!(
        store.update_tag("v1", Some(None), Some(b)),
        Err(Error::RefConflict { .. })
    ));
    store.update_tag("v1", Some(Some(a)), Some(b)).unwrap();
    assert_eq!(store.tag("v1").unwrap(), Some(b));
    assert_eq!(store.tags().unwrap(), vec![("v1".to_string(), b)]);
    store.update_tag("v1", None, None).unwrap();
    assert_eq!(store.tag("v1").unwrap(), None);

    // Remote-tracking refs.
    store
        .update_remote_refs(&[
            edit("origin/main", None, Some(a)),
            edit("origin/dev", Some(None), Some(b)),
        ])
        .unwrap();
    assert_eq!(
        store.remote_refs().unwrap(),
        vec![
            ("origin/dev".to_string(), b),
            ("origin/main".to_string(), a)
        ]
    );
    assert!(store
        .update_remote_refs(&[edit("nobranch", None, Some(a))])
        .is_err());

    // Stash.
    assert_eq!(store.stash().unwrap(), Vec::<CommitId>::new());
    store.update_stash(&[], &[a, b]).unwrap();
    assert_eq!(store.stash().unwrap(), vec![a, b]);
    assert!(matches!(
        store.update_stash(&[a], &[]),
        Err(Error::RefConflict { .. })
    ));
    store.update_stash(&[a, b], &[b]).unwrap();
    assert_eq!(store.stash().unwrap(), vec![b]);
}

#[test]
fn two_servers_racing_compare_and_swap_lose_no_update() {
    const THREADS_PER_SERVER: usize = 4;
    const UPDATES: usize = 25;
    let total = 2 * THREADS_PER_SERVER * UPDATES;
    let first = hub();
    let (owner, name) = new_repo(&first, "race");
    let servers = [Arc::new(first), Arc::new(hub())];
    let values: Vec<CommitId> = (0..=total).map(|k| fake(&format!("counter {k}"))).collect();
    let index: Arc<HashMap<CommitId, usize>> =
        Arc::new(values.iter().enumerate().map(|(k, v)| (*v, k)).collect());
    let values = Arc::new(values);
    servers[0]
        .store(&owner, &name)
        .unwrap()
        .transaction(&[RefEdit {
            branch: "main".into(),
            expected: Some(None),
            new: Some(values[0]),
        }])
        .unwrap();

    let t = Instant::now();
    let mut threads = Vec::new();
    for server in &servers {
        for _ in 0..THREADS_PER_SERVER {
            let store = server.store(&owner, &name).unwrap();
            let (values, index) = (values.clone(), index.clone());
            threads.push(std::thread::spawn(move || {
                let (mut done, mut conflicts) = (0, 0);
                while done < UPDATES {
                    let cur = store.branch("main").unwrap().unwrap();
                    let k = index[&cur];
                    let edit = RefEdit {
                        branch: "main".into(),
                        expected: Some(Some(cur)),
                        new: Some(values[k + 1]),
                    };
                    match store.transaction(&[edit]) {
                        Ok(()) => done += 1,
                        Err(Error::RefConflict { .. }) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                conflicts
            }));
        }
    }
    let conflicts: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let end = servers[1]
        .store(&owner, &name)
        .unwrap()
        .branch("main")
        .unwrap()
        .unwrap();
    eprintln!(
        "CAS race: {total} updates by {} threads on 2 servers in {:?} ({conflicts} conflicts retried)",
        2 * THREADS_PER_SERVER,
        t.elapsed()
    );
    assert_eq!(
        index[&end], total,
        "every successful compare-and-swap moved the ref by exactly one: none lost"
    );
}

#[test]
fn calls_work_from_async_contexts_without_block_on() {
    let hub = Arc::new(hub());
    let (owner, name) = new_repo(&hub, "async");
    // Inside a current-thread runtime's task and a blocking-pool thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = hub.clone();
    let (o, n) = (owner.clone(), name.clone());
    rt.block_on(async move {
        let store = h.store(&o, &n).unwrap();
        assert_eq!(store.branches().unwrap(), vec![]);
        let s2 = store.clone();
        tokio::task::spawn_blocking(move || s2.write_blob(b"from spawn_blocking").unwrap())
            .await
            .unwrap();
        assert!(store.has_blob(&BlobId::of(b"from spawn_blocking")).unwrap());
    });
    // Dropping the hub inside async code does not panic either.
    let rt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt2.block_on(async move { drop(hub) });
}

/// The seed dimensions: 1,031 commits × 700 files, 5 changed per commit
/// (blobs of ~530 bytes), built in a MemStore repository, applied to the
/// scale-out store, then built back.
#[test]
fn seed_sized_push_applies_fast_and_builds_back_identically() {
    let (files, commits, changed, size) = (700usize, 1031usize, 5usize, 512usize);
    let src_dir = tempfile::tempdir().unwrap();
    let mem = MemStore::new();
    let t = Instant::now();
    let mut b = mem.batch().unwrap();
    let mut put = |c: Vec<u8>| {
        let id = BlobId::of(&c);
        b.write_verified_blob(&id, &c).unwrap();
        id.to_string()
    };
    let base: BTreeMap<String, String> = (0..files)
        .map(|i| {
            let mut c = format!("base-{i:06}").into_bytes();
            c.resize(c.len() + size, b'x');
            (format!("src/file_{i:04}.py"), put(c))
        })
        .collect();
    let mut manifests = Vec::with_capacity(commits);
    for i in 0..commits {
        let mut m = base.clone();
        for j in 0..changed {
            let mut c = format!("commit-{i:05}-file-{j}").into_bytes();
            c.resize(c.len() + size, b'y');
            m.insert(
                format!("src/file_{:04}.py", (i * changed + j) % files),
                put(c),
            );
        }
        manifests.push(m);
    }
    let mut parent: Option<String> = None;
    let mut prev_snap: Option<SnapshotId> = None;
    for (i, m) in manifests.into_iter().enumerate() {
        let s = SnapshotRecord::new(m);
        b.write_snapshot(&s, prev_snap.as_ref()).unwrap();
        let c = commit_rec(
            parent.as_deref(),
            &s.snapshot_id,
            &format!("commit-{i:05}"),
            i,
        );
        b.write_commit(&c).unwrap();
        prev_snap = Some(SnapshotId::parse(&s.snapshot_id).unwrap());
        parent = Some(c.commit_id);
    }
    b.commit().unwrap();
    let tip = CommitId::parse(parent.as_deref().unwrap()).unwrap();
    let src = Repository::with_store(src_dir.path(), Arc::new(mem)).unwrap();
    let t_history = t.elapsed();
    let t = Instant::now();
    let pack: MPack = src.build_mpack(&[tip], &[]).unwrap();
    let t_src_build = t.elapsed();
    eprintln!(
        "source history in a MemStore: {} commits, {} snapshots, {} blobs, written in {t_history:?}; build_mpack {t_src_build:?}",
        pack.commits.len(),
        pack.snapshots.len(),
        pack.blobs.len(),
    );
    assert_eq!(
        (pack.commits.len(), pack.snapshots.len()),
        (commits, commits)
    );

    // The same apply into an empty MemStore, for reference.
    let mem_dir = tempfile::tempdir().unwrap();
    let mem_repo = Repository::in_memory(mem_dir.path()).unwrap();
    let t = Instant::now();
    mem_repo.apply_mpack(&pack, &Limits::default()).unwrap();
    let t_mem = t.elapsed();

    // The batch's commit logs its storage time (existing check, PUT +
    // index transaction) at debug level: print it.
    StderrLog::install();
    let hub = hub();
    let (owner, name) = new_repo(&hub, "seed");
    let repo = hub.open(&owner, &name).unwrap();
    let t = Instant::now();
    let stats = repo.apply_mpack(&pack, &Limits::default()).unwrap();
    let t_apply = t.elapsed();
    repo.store()
        .transaction(&[RefEdit {
            branch: "main".into(),
            expected: Some(None),
            new: Some(tip),
        }])
        .unwrap();
    eprintln!(
        "apply_mpack to PostgreSQL + S3: {t_apply:?} ({} commits, {} snapshots, {} blobs written, {} skipped; \
         verification included); the same apply to a MemStore: {t_mem:?}",
        stats.commits_written, stats.snapshots_written, stats.blobs_written, stats.blobs_skipped,
    );
    assert_eq!(
        (stats.commits_written, stats.snapshots_written),
        (commits, commits)
    );
    assert_eq!(stats.blobs_written + stats.blobs_skipped, pack.blobs.len());
    assert_eq!(stats.blobs_written, pack.blobs.len());
    assert!(t_apply.as_secs_f64() < 10.0, "apply took {t_apply:?}");

    // Applying the same bundle again writes nothing.
    let t = Instant::now();
    let again = repo.apply_mpack(&pack, &Limits::default()).unwrap();
    eprintln!("apply again (all present): {:?}", t.elapsed());
    assert_eq!(
        (
            again.commits_written,
            again.snapshots_written,
            again.blobs_written
        ),
        (0, 0, 0)
    );

    // Built back by another server (cold caches): the same bundle.
    let other = ScaleOutHub::connect(&config()).unwrap();
    let back_repo = other.open(&owner, &name).unwrap();
    assert_eq!(back_repo.store().branch("main").unwrap(), Some(tip));
    let t = Instant::now();
    let back = back_repo.build_mpack(&[tip], &[]).unwrap();
    let t_cold = t.elapsed();
    let t = Instant::now();
    let back2 = back_repo.build_mpack(&[tip], &[]).unwrap();
    let t_warm = t.elapsed();
    eprintln!("build_mpack from PostgreSQL + S3: cold {t_cold:?}, warm {t_warm:?}");
    let ids = |m: &MPack| -> (Vec<String>, Vec<String>) {
        (
            m.commits.iter().map(|c| c.commit_id.clone()).collect(),
            m.snapshots.iter().map(|s| s.snapshot_id.clone()).collect(),
        )
    };
    assert_eq!(ids(&back), ids(&pack));
    assert_eq!(back.commits, pack.commits);
    assert_eq!(back.snapshots, pack.snapshots);
    let blob_ids = |m: &MPack| {
        m.blobs
            .iter()
            .map(|b| b.blob_id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(blob_ids(&back), blob_ids(&pack));
    assert_eq!(back, back2);

    // Where it went: one pack object, a few MB.
    let direct = Direct::new();
    let (packs, bytes): (i64, i64) = direct.rt.block_on(async {
        let r = direct
            .db
            .query_one("SELECT count(*), coalesce(sum(size), 0)::int8 FROM muse_hub.packs WHERE repo_id = $1", &[&back_repo_store_id(&other, &owner, &name)])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    });
    eprintln!("stored as {packs} pack object(s), {bytes} bytes");
    assert_eq!(packs, 1);
}

fn back_repo_store_id(hub: &ScaleOutHub, owner: &str, name: &str) -> i64 {
    hub.store(owner, name).unwrap().repo_id()
}

#[test]
fn hub_storage_repos_tokens_and_uploads() {
    let hub = hub();
    let (owner, name) = new_repo(&hub, "hubapi");
    assert!(matches!(
        hub.create_repo(&owner, &name, false),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        hub.repo(&owner, &name).unwrap().map(|r| r.public),
        Some(false)
    );
    assert_eq!(hub.repo(&owner, "never-created").unwrap(), None);
    assert!(matches!(
        hub.open(&owner, "never-created"),
        Err(Error::NotFound { .. })
    ));
    assert!(hub.create_repo("a/b", "c", true).is_err());

    let t1 = [1u8; 32];
    let t2 = [2u8; 32];
    hub.add_token(&owner, &name, muse_hub::Scope::Read, &t1)
        .unwrap();
    assert_eq!(
        hub.token_scope(&owner, &name, &t1).unwrap(),
        Some(muse_hub::Scope::Read)
    );
    hub.add_token(&owner, &name, muse_hub::Scope::Write, &t1)
        .unwrap();
    assert_eq!(
        hub.token_scope(&owner, &name, &t1).unwrap(),
        Some(muse_hub::Scope::Write)
    );
    assert_eq!(hub.token_scope(&owner, &name, &t2).unwrap(), None);
    assert_eq!(hub.token_scope(&owner, "never-created", &t1).unwrap(), None);

    // Uploads: server-side put/get/delete, and a presigned PUT by a plain
    // HTTP client.
    hub.put_upload(&owner, &name, "k1", b"mpack bytes").unwrap();
    assert_eq!(
        hub.get_upload(&owner, &name, "k1", 100).unwrap().as_deref(),
        Some(&b"mpack bytes"[..])
    );
    assert!(matches!(
        hub.get_upload(&owner, &name, "k1", 3),
        Err(Error::TooLarge { .. })
    ));
    hub.delete_upload(&owner, &name, "k1").unwrap();
    assert_eq!(hub.get_upload(&owner, &name, "k1", 100).unwrap(), None);
    hub.delete_upload(&owner, &name, "k1").unwrap();
    assert!(hub.put_upload(&owner, &name, "../escape", b"x").is_err());

    // The server's keys are `sha256:<hex>`: stored under `<hex>`.
    let hex = "0123456789abcdef".repeat(4);
    let key = format!("sha256:{hex}");
    let url = hub
        .presign_upload(&owner, &name, &key, 14)
        .unwrap()
        .expect("S3 presigns");
    assert!(
        url.contains(&format!("uploads/{owner}/{name}/{hex}?")),
        "{url}"
    );
    let agent = ureq::Agent::new_with_defaults();
    let resp = agent.put(&url).send(&b"presigned body"[..]).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        hub.get_upload(&owner, &name, &key, 1 << 20)
            .unwrap()
            .as_deref(),
        Some(&b"presigned body"[..])
    );
    hub.delete_upload(&owner, &name, &key).unwrap();
    assert_eq!(hub.get_upload(&owner, &name, &key, 1 << 20).unwrap(), None);
}

/// Prints `muse_hub` debug records to stderr (the batch's storage timings).
struct StderrLog;

impl StderrLog {
    fn install() {
        static LOG: StderrLog = StderrLog;
        if log::set_logger(&LOG).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
}

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("muse_hub::scaleout")
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("[{}] {}", r.target(), r.args());
        }
    }

    fn flush(&self) {}
}
