//! Remotes over the local transport (a path): clone, fetch, push, pull,
//! remote-tracking refs, the server-side checks of `receive_pack`
//! (stale expectation, non-fast-forward, lying packs leave the remote
//! byte-identical), concurrent pushers, and the remote configuration.
//! The HTTP transport and `muse serve` are tested in `muse-hub`.

use std::collections::BTreeMap;
use std::path::Path;

use muse_core::commit::CommitOptions;
use muse_core::mpack::{Limits, MPack, MPackBlob};
use muse_core::remote::{FetchOptions, PullOutcome, PushUpdate, RefChange, Transport};
use muse_core::{CommitId, Error, ErrorKind, Repository};

fn write(repo: &Repository, rel: &str, text: &str) {
    let p = repo.workdir().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit(repo: &Repository, msg: &str) -> String {
    repo.add_all().unwrap();
    repo.commit(&CommitOptions { message: msg.into(), author: "tester".into(), ..Default::default() }).unwrap().commit_id
}

fn cid(s: &str) -> CommitId {
    CommitId::parse(s).unwrap()
}

/// Every file under `dir` with its bytes (what "byte-identical" compares).
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let p = e.path();
            if t.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                // Lock files come and go with every ref update.
                if rel.ends_with(".lock") {
                    continue;
                }
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// A "server" repository with two commits on main, and a clone of it.
fn bare(path: &Path) -> Repository {
    let opts = muse_core::repo::InitOptions { bare: true, ..Default::default() };
    Repository::init_with(path, &opts).unwrap()
}

fn server_and_clone(top: &Path) -> (Repository, Repository) {
    let server = bare(&top.join("server"));
    write(&server, "a.txt", "one\n");
    commit(&server, "first");
    write(&server, "b/c.txt", "two\n");
    commit(&server, "second");
    let clone = Repository::clone_from(top.join("server").to_str().unwrap(), &top.join("clone"), None).unwrap();
    (server, clone)
}

#[test]
fn clone_checks_out_the_remote_head_and_tracks_it() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    let tip = server.resolve_head().unwrap().unwrap();
    assert_eq!(clone.resolve_head().unwrap().as_deref(), Some(tip.as_str()));
    assert_eq!(clone.head_branch().unwrap().as_deref(), Some("main"));
    assert_eq!(std::fs::read_to_string(clone.workdir().join("b/c.txt")).unwrap(), "two\n");
    assert!(clone.status().unwrap().is_clean());
    let remotes = clone.remotes().unwrap();
    assert_eq!(remotes.len(), 1);
    assert_eq!(remotes[0].name, "origin");
    assert_eq!(clone.store().remote_refs().unwrap(), vec![("origin/main".to_string(), cid(&tip))]);
    // origin/main is a revision.
    assert_eq!(clone.revparse("origin/main").unwrap(), tip);
    assert_eq!(clone.revparse("origin/main~1").unwrap(), server.revparse("main~1").unwrap());
    // The clone verifies.
    assert!(muse_core::verify::verify_repo(clone.workdir()).unwrap().is_ok());
}

#[test]
fn clone_into_a_non_empty_directory_is_refused_and_a_failed_clone_leaves_nothing() {
    let top = tempfile::tempdir().unwrap();
    let (_server, _clone) = server_and_clone(top.path());
    let e = Repository::clone_from(top.path().join("server").to_str().unwrap(), &top.path().join("clone"), None).unwrap_err();
    assert!(e.to_string().contains("not an empty directory"), "{e}");
    let e = Repository::clone_from(top.path().join("nowhere").to_str().unwrap(), &top.path().join("c2"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotARepository, "{e}");
    assert!(!top.path().join("c2").exists());
    let e = Repository::clone_from("ftp://x/y", &top.path().join("c3"), None).unwrap_err();
    assert!(e.to_string().contains("unsupported remote URL"), "{e}");
    assert!(!top.path().join("c3").exists());
}

#[test]
fn fetch_receives_new_commits_and_reports_ref_changes() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    let old = server.resolve_head().unwrap().unwrap();
    write(&server, "a.txt", "one\nmore\n");
    let new = commit(&server, "third");
    server.create_branch("topic", None).unwrap();
    let r = clone.fetch("origin", &FetchOptions::default()).unwrap();
    assert_eq!(r.commits_written, 1);
    assert_eq!(r.blobs_written, 1);
    let by: BTreeMap<_, _> = r.refs.iter().map(|x| (x.name.as_str(), x)).collect();
    assert_eq!(by["origin/main"].change, RefChange::FastForward);
    assert_eq!(by["origin/main"].old, Some(cid(&old)));
    assert_eq!(by["origin/topic"].change, RefChange::New);
    // Local branch and working tree untouched.
    assert_eq!(clone.resolve_head().unwrap().as_deref(), Some(old.as_str()));
    assert_eq!(clone.revparse("origin/main").unwrap(), new);
    // A second fetch receives nothing.
    let r = clone.fetch("origin", &FetchOptions::default()).unwrap();
    assert_eq!(r.commits_written, 0);
    assert!(r.refs.iter().all(|x| x.change == RefChange::UpToDate));
    // --prune removes the tracking ref of a deleted branch.
    server.delete_branch("topic", false).unwrap();
    let r = clone.fetch("origin", &FetchOptions { prune: false }).unwrap();
    assert!(r.refs.iter().all(|x| x.change != RefChange::Deleted));
    assert!(clone.revparse("origin/topic").is_ok());
    let r = clone.fetch("origin", &FetchOptions { prune: true }).unwrap();
    assert!(r.refs.iter().any(|x| x.name == "origin/topic" && x.change == RefChange::Deleted));
    assert!(clone.revparse("origin/topic").is_err());
}

#[test]
fn push_fast_forward_then_non_fast_forward_is_refused_unless_forced() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    write(&clone, "a.txt", "clone edit\n");
    let mine = commit(&clone, "from the clone");
    let r = clone.push("origin", &[], false).unwrap();
    assert_eq!(r.updates.len(), 1);
    assert_eq!(r.commits_written, 1);
    assert_eq!(server.branch_target("main").unwrap().as_deref(), Some(mine.as_str()));
    assert_eq!(clone.revparse("origin/main").unwrap(), mine);
    // Nothing to push: no update.
    assert!(clone.push("origin", &[], false).unwrap().updates.is_empty());

    // The server moves on; the clone rewrites its own history.
    write(&server, "s.txt", "server\n");
    let theirs = commit(&server, "server side");
    clone.reset(Some(&format!("{mine}~1")), muse_core::reset::ResetMode::Hard).unwrap();
    write(&clone, "x.txt", "diverged\n");
    let diverged = commit(&clone, "diverged");
    let before = snapshot_dir(&top.path().join("server/.muse"));
    let e = clone.push("origin", &[], false).unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e}");
    assert!(e.to_string().contains("fetch first") || e.to_string().contains("non-fast-forward"), "{e}");
    assert_eq!(snapshot_dir(&top.path().join("server/.muse")), before, "a refused push wrote something");
    // After a fetch the clone knows the remote commit: still not a fast-forward.
    clone.fetch("origin", &FetchOptions::default()).unwrap();
    let e = clone.push("origin", &[], false).unwrap_err();
    assert!(e.to_string().contains("non-fast-forward"), "{e}");
    // --force moves it.
    clone.push("origin", &[], true).unwrap();
    assert_eq!(server.branch_target("main").unwrap().as_deref(), Some(diverged.as_str()));
    let _ = theirs;
}

#[test]
fn pull_fast_forwards_and_merges() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    write(&server, "a.txt", "one\nserver\n");
    let s1 = commit(&server, "server 1");
    let (_, out) = clone.pull("origin", None, "me").unwrap();
    assert_eq!(out, PullOutcome::FastForward { commit: cid(&s1) });
    assert_eq!(std::fs::read_to_string(clone.workdir().join("a.txt")).unwrap(), "one\nserver\n");
    // Both sides edit different lines of one file: a line-level merge.
    write(&server, "a.txt", "ONE\nserver\n");
    commit(&server, "server 2");
    write(&clone, "a.txt", "one\nserver\nclone\n");
    commit(&clone, "clone 1");
    let (_, out) = clone.pull("origin", None, "me").unwrap();
    let PullOutcome::Merged { commit: m } = out else { panic!("{out:?}") };
    assert_eq!(std::fs::read_to_string(clone.workdir().join("a.txt")).unwrap(), "ONE\nserver\nclone\n");
    clone.push("origin", &[], false).unwrap();
    assert_eq!(server.branch_target("main").unwrap(), Some(m.to_string()));
    assert_eq!(clone.pull("origin", None, "me").unwrap().1, PullOutcome::UpToDate);
}

#[test]
fn receive_pack_refuses_stale_expectations_and_lies_and_writes_nothing() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    let head = cid(&server.resolve_head().unwrap().unwrap());
    write(&clone, "n.txt", "new\n");
    let mine = cid(&commit(&clone, "mine"));
    let good = clone.build_mpack(&[mine], &[head]).unwrap();
    let dot = top.path().join("server/.muse");
    let before = snapshot_dir(&dot);
    let upd = |old: Option<CommitId>, new: CommitId| vec![PushUpdate { branch: "main".into(), old, new: Some(new), force: false }];
    let limits = Limits::default();

    // A stale expectation (the client read another value).
    let e = server.receive_pack(&good, &upd(None, mine), &limits).unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e}");
    // A blob whose bytes do not hash to its ID.
    let mut lie = good.clone();
    lie.blobs[0].content = b"something else".to_vec();
    let e = server.receive_pack(&lie, &upd(Some(head), mine), &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    // A commit whose ID lies.
    let mut lie = good.clone();
    lie.commits[0].message = "changed after hashing".into();
    let e = server.receive_pack(&lie, &upd(Some(head), mine), &limits).unwrap_err();
    assert!(e.kind() == ErrorKind::Integrity || e.kind() == ErrorKind::InvalidInput, "{e}");
    // A path escape, and a path into .muse.
    for bad in ["../x", ".muse/HEAD", "a/.MUSE/x"] {
        let mut lie = good.clone();
        let content = b"evil".to_vec();
        let bid = muse_core::ids::blob_id(&content);
        lie.blobs.push(MPackBlob { blob_id: bid.clone(), content });
        lie.snapshots[0].delta_upsert.insert(bad.to_string(), bid);
        let e = server.receive_pack(&lie, &upd(Some(head), mine), &limits).unwrap_err();
        assert!(e.kind() == ErrorKind::InvalidInput || e.kind() == ErrorKind::Integrity, "{bad}: {e}");
    }
    // A new commit that is in neither the pack nor the store.
    let e = server.receive_pack(&MPack::default(), &upd(Some(head), mine), &limits).unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e}");
    // The same branch twice.
    let mut two = upd(Some(head), mine);
    two.extend(upd(Some(head), mine));
    assert!(server.receive_pack(&good, &two, &limits).is_err());
    // A bad branch name.
    let bad = vec![PushUpdate { branch: "../x".into(), old: None, new: Some(mine), force: false }];
    assert_eq!(server.receive_pack(&good, &bad, &limits).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(snapshot_dir(&dot), before, "a refused push changed the remote");

    // The honest push lands.
    let r = server.receive_pack(&good, &upd(Some(head), mine), &limits).unwrap();
    assert_eq!(r.commits_written, 1);
    // Sending it again (a retry after a client was killed once the first
    // attempt was sent) succeeds and stores nothing, although `old` is stale.
    let dot_before = snapshot_dir(&dot);
    let r = server.receive_pack(&good, &upd(Some(head), mine), &limits).unwrap();
    assert_eq!((r.commits_written, r.blobs_written, r.updates.len()), (0, 0, 1));
    assert_eq!(snapshot_dir(&dot), dot_before);
    assert_eq!(server.branch_target("main").unwrap(), Some(mine.to_string()));
    assert!(muse_core::verify::verify_repo(server.workdir()).unwrap().is_ok());
}

#[test]
fn push_wire_form_round_trips_and_refuses_garbage() {
    let top = tempfile::tempdir().unwrap();
    let (server, _clone) = server_and_clone(top.path());
    let head = cid(&server.resolve_head().unwrap().unwrap());
    let pack = server.build_mpack(&[head], &[]).unwrap();
    let ups = vec![PushUpdate { branch: "main".into(), old: None, new: Some(head), force: true }];
    let bytes = muse_core::remote::encode_push(&pack, &ups).unwrap();
    let (p2, u2) = muse_core::remote::decode_push(&bytes, &Limits::default()).unwrap();
    assert_eq!(p2, pack);
    assert_eq!(u2, ups);
    let l = Limits::default();
    for bad in [&b""[..], &[0, 0, 0, 9, b'{'][..], &[0xff, 0xff, 0xff, 0xff][..], &[0, 0, 0, 2, b'{', b'}'][..]] {
        assert!(muse_core::remote::decode_push(bad, &l).is_err(), "{bad:?}");
    }
    // A malformed commit ID in an update.
    let text = br#"{"updates":[{"branch":"main","old":null,"new":"sha256:xyz"}]}"#;
    let mut b = (text.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(text);
    let e = muse_core::remote::decode_push(&b, &l).unwrap_err();
    assert!(e.to_string().contains("invalid ID"), "{e}");
}

#[test]
fn four_clients_pushing_to_one_branch_lose_no_commit() {
    let top = tempfile::tempdir().unwrap();
    let server = bare(&top.path().join("server"));
    write(&server, "base.txt", "base\n");
    commit(&server, "base");
    let url = top.path().join("server").to_string_lossy().into_owned();
    let mut handles = Vec::new();
    for w in 0..4 {
        let url = url.clone();
        let dir = top.path().join(format!("c{w}"));
        handles.push(std::thread::spawn(move || {
            let repo = Repository::clone_from(&url, &dir, None).unwrap();
            let mut mine = Vec::new();
            for i in 0..25 {
                write(&repo, &format!("w{w}/f{i}.txt"), &format!("{w} {i}\n"));
                mine.push(commit(&repo, &format!("w{w} c{i}")));
                loop {
                    match repo.push("origin", &[], false) {
                        Ok(_) => break,
                        Err(Error::Rejected { .. }) => {
                            let (_, out) = repo.pull("origin", None, "w").unwrap();
                            assert!(!matches!(out, PullOutcome::Conflicts { .. }), "{out:?}");
                        }
                        Err(e) => panic!("worker {w}: {e}"),
                    }
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    assert_eq!(all.len(), 100);
    let tip = server.branch_target("main").unwrap().unwrap();
    let reachable: std::collections::HashSet<String> =
        server.log(&tip).unwrap().map(|c| c.unwrap().commit_id).collect();
    for c in &all {
        assert!(reachable.contains(c), "commit {c} was lost");
    }
    assert!(muse_core::verify::verify_repo(server.workdir()).unwrap().is_ok());
}

#[test]
fn remote_configuration() {
    let top = tempfile::tempdir().unwrap();
    let repo = Repository::init(top.path().join("r")).unwrap();
    repo.add_remote("origin", "http://127.0.0.1:8700/alice/x/").unwrap();
    repo.add_remote("up", top.path().join("other").to_str().unwrap()).unwrap();
    let rs = repo.remotes().unwrap();
    assert_eq!(rs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["origin", "up"]);
    assert_eq!(rs[0].url, "http://127.0.0.1:8700/alice/x");
    assert!(repo.add_remote("origin", "/x").unwrap_err().to_string().contains("already exists"));
    for bad in ["a/b", "-x", "", "a b", "x.lock"] {
        assert!(repo.add_remote(bad, "/x").is_err(), "{bad:?} accepted");
    }
    assert!(repo.add_remote("s3", "s3://bucket/x").is_err());
    // The config stays a valid config for every other command.
    muse_core::config::Config::read(repo.workdir()).unwrap();
    repo.remove_remote("up").unwrap();
    assert_eq!(repo.remotes().unwrap().len(), 1);
    assert_eq!(repo.remove_remote("up").unwrap_err().kind(), ErrorKind::NotFound);
    // Fetch from an unknown remote, and from a remote that is gone.
    assert_eq!(repo.fetch("nope", &FetchOptions::default()).unwrap_err().kind(), ErrorKind::NotFound);
    repo.add_remote("gone", top.path().join("gone").to_str().unwrap()).unwrap();
    assert_eq!(repo.fetch("gone", &FetchOptions::default()).unwrap_err().kind(), ErrorKind::NotARepository);
}

#[test]
fn gc_keeps_what_only_a_remote_tracking_ref_reaches() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    write(&server, "later.txt", "later\n");
    let later = commit(&server, "later");
    clone.fetch("origin", &FetchOptions::default()).unwrap();
    // Only origin/main reaches `later` in the clone.
    muse_core::reachability::prune_unreachable(clone.workdir(), std::time::Duration::ZERO).unwrap();
    assert!(clone.find_commit(&later).is_ok(), "gc pruned a commit a remote-tracking ref reaches");
    assert!(muse_core::verify::verify_repo(clone.workdir()).unwrap().is_ok());
}

/// A transport that counts requests, over another transport: fetch asks
/// for a bundle only when something is missing.
struct Counting<T: Transport> {
    inner: T,
    fetches: usize,
}

impl<T: Transport> Transport for Counting<T> {
    fn url(&self) -> &str {
        self.inner.url()
    }
    fn list_refs(&mut self) -> muse_core::Result<muse_core::remote::RemoteRefs> {
        self.inner.list_refs()
    }
    fn fetch_pack(&mut self, want: &[CommitId], have: &[CommitId]) -> muse_core::Result<MPack> {
        self.fetches += 1;
        self.inner.fetch_pack(want, have)
    }
    fn push_pack(&mut self, pack: &MPack, updates: &[PushUpdate]) -> muse_core::Result<muse_core::remote::PushReport> {
        self.inner.push_pack(pack, updates)
    }
}

#[test]
fn an_up_to_date_fetch_asks_for_no_bundle_and_sends_only_the_new_commits() {
    let top = tempfile::tempdir().unwrap();
    let (server, clone) = server_and_clone(top.path());
    let mut t = Counting { inner: muse_core::remote::LocalTransport::open(server.workdir()).unwrap(), fetches: 0 };
    clone.fetch_with("origin", &mut t, &FetchOptions::default()).unwrap();
    assert_eq!(t.fetches, 0);
    write(&server, "z.txt", "z\n");
    commit(&server, "z");
    let r = clone.fetch_with("origin", &mut t, &FetchOptions::default()).unwrap();
    assert_eq!(t.fetches, 1);
    assert_eq!(r.commits_written, 1, "the negotiation sent more than the new commit");
}

#[test]
fn a_push_to_the_checked_out_branch_of_a_non_bare_repository_is_refused() {
    let top = tempfile::tempdir().unwrap();
    let server = Repository::init(top.path().join("server")).unwrap();
    write(&server, "a.txt", "one\n");
    commit(&server, "first");
    let clone = Repository::clone_from(top.path().join("server").to_str().unwrap(), &top.path().join("clone"), None).unwrap();
    write(&clone, "a.txt", "two\n");
    let mine = commit(&clone, "second");
    let before = snapshot_dir(&top.path().join("server/.muse"));
    let e = clone.push("origin", &[], false).unwrap_err();
    assert!(e.to_string().contains("checked-out branch"), "{e}");
    assert_eq!(snapshot_dir(&top.path().join("server/.muse")), before);
    // Another branch is fine, and so is main once the remote is bare.
    clone.create_branch("topic", None).unwrap();
    clone.push("origin", &["topic".to_string()], false).unwrap();
    assert_eq!(server.branch_target("topic").unwrap().as_deref(), Some(mine.as_str()));
    muse_core::config::set(server.workdir(), "core.bare", Some("true")).unwrap();
    clone.push("origin", &[], false).unwrap();
    assert_eq!(server.branch_target("main").unwrap().as_deref(), Some(mine.as_str()));
}
