//! `muse serve`, embedded tier, end to end over loopback: a server started
//! in this process on 127.0.0.1:0, muse-core's HTTP client
//! (`clone_from`, `fetch`, `push`, `pull`, `HttpTransport`) and raw HTTP
//! (ureq) against it.
//!
//! Tokens reach the client the way a user's do: through the credentials
//! file (`MUSE_CREDENTIALS`, set once for this test binary), one entry
//! per repository URL; a test that needs an explicit token (or none)
//! builds an `HttpTransport` itself.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use muse_core::commit::CommitOptions;
use muse_core::mpack::{encode_mpack, MPack, MPackBlob, SnapshotDelta};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::remote::{encode_push, FetchOptions, HttpTransport, PullOutcome, PushUpdate, Transport};
use muse_core::{BlobId, CommitId, Error, Repository, SnapshotId};
use muse_hub::fs_hub::to_hex;
use muse_hub::server::upload_signature;
use muse_hub::{create_token, init_repo, FsHub, Scope, ServeConfig, ServerHandle};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

static SETUP: Once = Once::new();
static CREDS: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Points `MUSE_CREDENTIALS` at this binary's credentials file (once,
/// before any test reads the environment) and clears `MUSE_TOKEN`.
fn setup() {
    SETUP.call_once(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("muse-hub-embedded-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials.toml");
        std::fs::write(&file, "").unwrap();
        // Every test calls setup() first, so nothing reads the environment
        // while it changes.
        std::env::set_var("MUSE_CREDENTIALS", &file);
        std::env::remove_var("MUSE_TOKEN");
        *CREDS.lock().unwrap() = Some(file);
    });
}

/// Adds a credentials entry: `token` for URLs starting with `url`.
fn add_credential(url: &str, token: &str) {
    let guard = CREDS.lock().unwrap();
    let file = guard.as_ref().unwrap();
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(&format!("[[credential]]\nurl = \"{url}\"\ntoken = \"{token}\"\n\n"));
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// A hub in a temp dir, served on 127.0.0.1:0.
struct Hub {
    _dir: tempfile::TempDir,
    root: PathBuf,
    server: ServerHandle,
    agent: ureq::Agent,
}

impl Hub {
    fn start() -> Hub {
        Hub::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut ServeConfig)) -> Hub {
        setup();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("hub");
        let storage = Arc::new(FsHub::open(&root).unwrap());
        let mut cfg = ServeConfig::new(root.clone(), "127.0.0.1:0".parse().unwrap());
        tweak(&mut cfg);
        let server = ServerHandle::start(cfg, storage).unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Hub { _dir: dir, root, server, agent }
    }

    fn url(&self, slug: &str) -> String {
        self.server.url(slug)
    }

    /// Creates `slug` and returns (write token, read token); the write
    /// token goes to the credentials file for the repository's URL.
    fn repo(&self, slug: &str, public: bool) -> (String, String) {
        let (w, r) = self.repo_without_credential(slug, public);
        add_credential(&self.url(slug), &w);
        (w, r)
    }

    /// [`Self::repo`] without the credentials entry (the client sends no
    /// token unless given one).
    fn repo_without_credential(&self, slug: &str, public: bool) -> (String, String) {
        init_repo(&self.root, slug, public).unwrap();
        let w = create_token(&self.root, slug, Scope::Write).unwrap();
        let r = create_token(&self.root, slug, Scope::Read).unwrap();
        (w, r)
    }

    fn hosted(&self, slug: &str) -> Repository {
        Repository::open(self.root.join(slug)).unwrap()
    }

    fn branch(&self, slug: &str, b: &str) -> Option<CommitId> {
        self.hosted(slug).store().branch(b).unwrap()
    }

    /// A raw request: (status, headers' WWW-Authenticate, body).
    fn call(&self, method: &str, url: &str, token: Option<&str>, ct: Option<&str>, body: Option<&[u8]>) -> (u16, Option<String>, Vec<u8>) {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        if let Some(t) = token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(c) = ct {
            b = b.header("Content-Type", c);
        }
        let req = b.body(body.map(<[u8]>::to_vec).unwrap_or_default()).unwrap();
        let mut resp = self.agent.run(req).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let www = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
        (status, www, body)
    }
}

/// The JSON `error` of a refusal (and checks that there is one).
fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or_else(|| panic!("no error field: {v}")).to_string()
}

/// Every file and directory under `dir` with the SHA-256 of each file's
/// bytes: equal before and after means nothing was written.
fn tree_hash(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, to_hex(&Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A new local repository (fsync off) with one remote, `origin` = `url`.
fn local_repo(dir: &Path, url: &str) -> Repository {
    let repo = Repository::init(dir).unwrap();
    std::fs::write(dir.join(".muse/config.toml"), "[core]\nfsync = \"off\"\n").unwrap();
    let repo = Repository::open(repo.workdir()).unwrap();
    repo.add_remote("origin", url).unwrap();
    repo
}

/// Writes `files` into the working tree and commits them.
fn commit(repo: &Repository, files: &[(&str, &str)], message: &str, author: &str) -> CommitId {
    for (p, c) in files {
        let path = repo.workdir().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
    repo.add_all().unwrap();
    let rec = repo.commit(&CommitOptions { message: message.into(), author: author.into(), ..Default::default() }).unwrap();
    CommitId::parse(&rec.commit_id).unwrap()
}

fn main_branch() -> Vec<String> {
    vec!["main".to_string()]
}

fn log_ids(repo: &Repository, rev: &str) -> HashSet<String> {
    repo.log(rev).unwrap().map(|c| c.unwrap().commit_id).collect()
}

// ---------------------------------------------------------------------------
// Clone, fetch, push, pull.
// ---------------------------------------------------------------------------

#[test]
fn clone_fetch_push_pull_through_the_server() {
    let hub = Hub::start();
    hub.repo("alice/proj", false);
    let url = hub.url("alice/proj");
    let tmp = tempfile::tempdir().unwrap();

    // An empty hosted repository clones to an empty repository on main.
    let empty = Repository::clone_from(&url, &tmp.path().join("empty"), None).unwrap();
    assert_eq!(empty.head_branch().unwrap().as_deref(), Some("main"));
    assert!(empty.branches().unwrap().is_empty());

    // A pushes the first history.
    let a = local_repo(&tmp.path().join("a"), &url);
    let c1 = commit(&a, &[("README.md", "hello\n"), ("src/lib.rs", "fn a() {}\n")], "first", "alice");
    let c2 = commit(&a, &[("src/lib.rs", "fn a() {}\nfn b() {}\n")], "second", "alice");
    let report = a.push("origin", &main_branch(), false).unwrap();
    assert_eq!(report.commits_written, 2);
    assert_eq!(report.updates, vec![PushUpdate { branch: "main".into(), old: None, new: Some(c2), force: false }]);
    assert_eq!(hub.branch("alice/proj", "main"), Some(c2));
    assert!(hub.hosted("alice/proj").verify().unwrap().is_ok());
    // The remote-tracking ref records the push.
    assert_eq!(a.store().remote_refs().unwrap(), vec![("origin/main".to_string(), c2)]);
    // Pushing again sends nothing.
    assert_eq!(a.push("origin", &main_branch(), false).unwrap().commits_written, 0);

    // B clones: the files are there.
    let bdir = tmp.path().join("b");
    let b = Repository::clone_from(&url, &bdir, None).unwrap();
    assert_eq!(b.head_branch().unwrap().as_deref(), Some("main"));
    assert_eq!(b.store().branch("main").unwrap(), Some(c2));
    assert_eq!(std::fs::read_to_string(bdir.join("src/lib.rs")).unwrap(), "fn a() {}\nfn b() {}\n");
    assert_eq!(log_ids(&b, "main"), HashSet::from([c1.to_string(), c2.to_string()]));

    // A moves on; B fetches (remote-tracking ref only), then pulls (fast-forward).
    let c3 = commit(&a, &[("docs/guide.md", "# guide\n")], "third", "alice");
    a.push("origin", &main_branch(), false).unwrap();
    let fetched = b.fetch("origin", &FetchOptions::default()).unwrap();
    assert_eq!(fetched.commits_written, 1);
    assert_eq!(b.store().branch("main").unwrap(), Some(c2), "fetch moved a local branch");
    assert_eq!(b.store().remote_refs().unwrap(), vec![("origin/main".to_string(), c3)]);
    let (_, outcome) = b.pull("origin", Some("main"), "bob").unwrap();
    assert_eq!(outcome, PullOutcome::FastForward { commit: c3 });
    assert_eq!(std::fs::read_to_string(bdir.join("docs/guide.md")).unwrap(), "# guide\n");

    // Both change different files: B's push is refused until it pulls (a merge).
    let c4 = commit(&a, &[("a.txt", "from a\n")], "a4", "alice");
    a.push("origin", &main_branch(), false).unwrap();
    let c5 = commit(&b, &[("b.txt", "from b\n")], "b5", "bob");
    let err = b.push("origin", &main_branch(), false).unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert_eq!(hub.branch("alice/proj", "main"), Some(c4));
    let (_, outcome) = b.pull("origin", Some("main"), "bob").unwrap();
    let PullOutcome::Merged { commit: merge } = outcome else { panic!("expected a merge, got {outcome:?}") };
    b.push("origin", &main_branch(), false).unwrap();
    assert_eq!(hub.branch("alice/proj", "main"), Some(merge));
    let (_, outcome) = a.pull("origin", Some("main"), "alice").unwrap();
    assert_eq!(outcome, PullOutcome::FastForward { commit: merge });
    assert_eq!(log_ids(&a, "main"), log_ids(&hub.hosted("alice/proj"), "main"));
    assert!(log_ids(&a, "main").contains(&c5.to_string()));
    assert_eq!(std::fs::read_to_string(a.workdir().join("b.txt")).unwrap(), "from b\n");
    assert!(hub.hosted("alice/proj").verify().unwrap().is_ok());
}

#[test]
fn non_fast_forward_is_refused_unless_forced() {
    let hub = Hub::start();
    let (w, _) = hub.repo("alice/nff", false);
    let url = hub.url("alice/nff");
    let tmp = tempfile::tempdir().unwrap();
    let a = local_repo(&tmp.path().join("a"), &url);
    let base = commit(&a, &[("f", "base\n")], "base", "alice");
    a.push("origin", &main_branch(), false).unwrap();
    let b = Repository::clone_from(&url, &tmp.path().join("b"), None).unwrap();
    let a2 = commit(&a, &[("f", "a\n")], "a2", "alice");
    a.push("origin", &main_branch(), false).unwrap();
    let b2 = commit(&b, &[("f", "b\n")], "b2", "bob");

    // The server's own check: a push whose `old` is the hub's value but
    // whose commit does not descend from it.
    let pack = b.build_mpack(&[b2], &[base]).unwrap();
    let mut t = HttpTransport::new(&url, Some(w.clone())).unwrap();
    let up = |force| vec![PushUpdate { branch: "main".into(), old: Some(a2), new: Some(b2), force }];
    let before = tree_hash(&hub.root);
    let err = t.push_pack(&pack, &up(false)).unwrap_err();
    let Error::Rejected { name, reason } = &err else { panic!("expected Rejected, got {err}") };
    assert_eq!(name, "refs/heads/main");
    assert!(reason.contains("non-fast-forward"), "{reason}");
    assert_eq!(tree_hash(&hub.root), before, "a refused push wrote something");
    // A stale `old` (compare-and-swap) is refused, even forced.
    let stale = vec![PushUpdate { branch: "main".into(), old: Some(base), new: Some(b2), force: true }];
    assert!(matches!(t.push_pack(&pack, &stale), Err(Error::Rejected { .. })));
    assert_eq!(hub.branch("alice/nff", "main"), Some(a2));
    // The raw answer: 409 and the message the client parses.
    let body = encode_push(&pack, &up(false)).unwrap();
    let (status, _, resp) = hub.call("POST", &format!("{url}/push"), Some(&w), Some("application/x-muse-push"), Some(&body));
    assert_eq!(status, 409);
    assert!(error_of(&resp).starts_with("rejected refs/heads/main: "), "{}", error_of(&resp));

    // The client refuses before sending; --force goes through.
    assert!(matches!(b.push("origin", &main_branch(), false), Err(Error::Rejected { .. })));
    let report = b.push("origin", &main_branch(), true).unwrap();
    assert_eq!(report.updates[0].new, Some(b2));
    assert_eq!(hub.branch("alice/nff", "main"), Some(b2));
}

// ---------------------------------------------------------------------------
// Authentication.
// ---------------------------------------------------------------------------

#[test]
fn pushes_without_a_write_token_are_refused_and_write_nothing() {
    let hub = Hub::start();
    let (w, r) = hub.repo("alice/auth", false);
    let url = hub.url("alice/auth");
    let tmp = tempfile::tempdir().unwrap();
    let a = local_repo(&tmp.path().join("a"), &url);
    let c1 = commit(&a, &[("f", "one\n")], "one", "alice");
    let pack = a.build_mpack(&[c1], &[]).unwrap();
    let updates = vec![PushUpdate { branch: "main".into(), old: None, new: Some(c1), force: false }];
    let body = encode_push(&pack, &updates).unwrap();
    hub.repo("alice/other", false);
    let other = create_token(&hub.root, "alice/other", Scope::Write).unwrap();
    let before = tree_hash(&hub.root);

    // No token: 401 with a Bearer challenge.
    let mut anon = HttpTransport::new(&url, None).unwrap();
    let err = anon.push_pack(&pack, &updates).unwrap_err();
    assert!(matches!(err, Error::Remote { status: Some(401), .. }), "{err}");
    let (status, www, resp) = hub.call("POST", &format!("{url}/push"), None, Some("application/x-muse-push"), Some(&body));
    assert_eq!(status, 401);
    assert_eq!(www.as_deref(), Some("Bearer realm=\"muse\""));
    assert!(error_of(&resp).contains("authentication required"));

    // A read token: 403.
    let mut reader = HttpTransport::new(&url, Some(r.clone())).unwrap();
    let err = reader.push_pack(&pack, &updates).unwrap_err();
    assert!(matches!(err, Error::Remote { status: Some(403), .. }), "{err}");
    assert!(err.to_string().contains("needs write"), "{err}");
    // The presign/unpack flow needs write too.
    let presign = serde_json::to_vec(&serde_json::json!({"mpack_key": format!("sha256:{}", "0".repeat(64)), "size_bytes": 1})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&r), Some("application/json"), Some(&presign));
    assert_eq!(status, 403);
    let (status, _, _) = hub.call("POST", &format!("{url}/push/mpack-presign"), None, Some("application/json"), Some(&presign));
    assert_eq!(status, 401);
    let unpack = serde_json::to_vec(&serde_json::json!({"mpack_key": format!("sha256:{}", "0".repeat(64)), "branch": "main", "head": c1})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&r), Some("application/json"), Some(&unpack));
    assert_eq!(status, 403);
    // A token of another repository, a made-up token: 404 (a private
    // repository is not revealed).
    let (status, _, _) = hub.call("POST", &format!("{url}/push"), Some(&other), Some("application/x-muse-push"), Some(&body));
    assert_eq!(status, 404);
    let (status, _, _) = hub.call("POST", &format!("{url}/push"), Some("muse_0000"), Some("application/x-muse-push"), Some(&body));
    assert_eq!(status, 404);
    // A malformed Authorization header: 401.
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{url}/push"))
        .header("Authorization", "Basic YWxpY2U6c2VjcmV0")
        .body(body.clone())
        .unwrap();
    assert_eq!(hub.agent.run(req).unwrap().status().as_u16(), 401);

    assert_eq!(tree_hash(&hub.root), before, "a refused push wrote something");
    assert_eq!(hub.branch("alice/auth", "main"), None);

    // The write token is accepted (and reading with the read token works).
    let mut writer = HttpTransport::new(&url, Some(w)).unwrap();
    writer.push_pack(&pack, &updates).unwrap();
    assert_eq!(reader.list_refs().unwrap().branch_heads.get("main"), Some(&c1));
    let fetched = reader.fetch_pack(&[c1], &[]).unwrap();
    assert_eq!(fetched.commits.len(), 1);
}

#[test]
fn anonymous_reads_public_yes_private_no() {
    let hub = Hub::start();
    let (pw, _) = hub.repo_without_credential("alice/public", true);
    let (w, r) = hub.repo_without_credential("alice/private", false);
    let tmp = tempfile::tempdir().unwrap();
    for (slug, token) in [("alice/public", &pw), ("alice/private", &w)] {
        let a = local_repo(&tmp.path().join(slug.replace('/', "-")), &hub.url(slug));
        commit(&a, &[("f", slug)], "first", "alice");
        let mut t = HttpTransport::new(&hub.url(slug), Some(token.clone())).unwrap();
        a.push_with("origin", &mut t, &main_branch(), false).unwrap();
    }
    let public = hub.url("alice/public");
    let private = hub.url("alice/private");

    // Public: refs, fetch and clone without a token; pushing still needs one.
    let (status, _, body) = hub.call("GET", &format!("{public}/refs"), None, None, None);
    assert_eq!(status, 200);
    let refs: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(refs["head"], "main");
    assert!(refs["branch_heads"]["main"].as_str().unwrap().starts_with("sha256:"));
    let mut anon = HttpTransport::new(&public, None).unwrap();
    let refs = anon.list_refs().unwrap();
    let pack = anon.fetch_pack(&[refs.branch_heads["main"]], &[]).unwrap();
    assert_eq!(pack.commits.len(), 1);
    let cloned = Repository::clone_from(&public, &tmp.path().join("anon-clone"), None).unwrap();
    assert_eq!(std::fs::read_to_string(cloned.workdir().join("f")).unwrap(), "alice/public");
    let (status, www, _) = hub.call("POST", &format!("{public}/push"), None, Some("application/x-muse-push"), Some(&[0, 0, 0, 2, b'{', b'}']));
    assert_eq!((status, www.is_some()), (401, true));
    // A bad token on a public repository is refused, not ignored.
    let (status, _, _) = hub.call("GET", &format!("{public}/refs"), Some("muse_bad"), None, None);
    assert_eq!(status, 401);

    // Private: 401 anonymously, the same answer as a repository that does not exist.
    let (status, www, body) = hub.call("GET", &format!("{private}/refs"), None, None, None);
    assert_eq!((status, www.is_some()), (401, true));
    let (status2, _, body2) = hub.call("GET", &format!("{}/refs", hub.url("alice/nothing")), None, None, None);
    assert_eq!(status2, 401);
    assert_eq!(error_of(&body).replace("alice/private", "X"), error_of(&body2).replace("alice/nothing", "X"));
    let fetch = serde_json::to_vec(&serde_json::json!({"want": [], "have": []})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{private}/fetch"), None, Some("application/json"), Some(&fetch));
    assert_eq!(status, 401);
    let err = Repository::clone_from(&private, &tmp.path().join("anon-private"), None).unwrap_err();
    assert!(matches!(err, Error::Remote { status: Some(401), .. }), "{err}");
    assert!(!tmp.path().join("anon-private").exists(), "a failed clone left its directory");
    // With the read token: served. An unknown repository with a token: 404.
    let (status, _, _) = hub.call("GET", &format!("{private}/refs"), Some(&r), None, None);
    assert_eq!(status, 200);
    let (status, _, body) = hub.call("GET", &format!("{}/refs", hub.url("alice/nothing")), Some(&r), None, None);
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("not found"));
    // Names that are not valid, and unknown routes: 404 JSON.
    for path in ["/.hub/x/refs", "/alice/.muse/refs", "/alice/x", "/"] {
        let (status, _, body) = hub.call("GET", &format!("http://{}{path}", hub.server.addr()), Some(&r), None, None);
        assert_eq!(status, 404, "{path}");
        error_of(&body);
    }
    // The clone with the token from the credentials file works.
    add_credential(&private, &r);
    let c = Repository::clone_from(&private, &tmp.path().join("private-clone"), None).unwrap();
    assert_eq!(std::fs::read_to_string(c.workdir().join("f")).unwrap(), "alice/private");
}

// ---------------------------------------------------------------------------
// Lying pushes.
// ---------------------------------------------------------------------------

/// A hub repository with one commit, a local clone, and a pack for one new
/// commit on top (plus what it needs to forge variants).
struct LieSetup {
    hub: Hub,
    url: String,
    token: String,
    base: CommitId,
    local: Repository,
    _tmp: tempfile::TempDir,
}

fn lie_setup() -> LieSetup {
    let hub = Hub::start();
    let (w, _) = hub.repo("mallory/target", false);
    let url = hub.url("mallory/target");
    let tmp = tempfile::tempdir().unwrap();
    let local = local_repo(&tmp.path().join("a"), &url);
    let base = commit(&local, &[("ok.txt", "fine\n"), ("dir/x.txt", "x\n")], "base", "m");
    local.push("origin", &main_branch(), false).unwrap();
    LieSetup { hub, url, token: w, base, local, _tmp: tmp }
}

impl LieSetup {
    /// Pushes `pack` moving main from base to `new`; asserts it is refused
    /// with a 4xx whose message contains `needle`, and that the hub's
    /// directory is byte-identical afterwards.
    fn assert_refused(&self, pack: &MPack, new: CommitId, needle: &str) {
        let before = tree_hash(&self.hub.root);
        let updates = vec![PushUpdate { branch: "main".into(), old: Some(self.base), new: Some(new), force: false }];
        let body = encode_push(pack, &updates).unwrap();
        let (status, _, resp) =
            self.hub.call("POST", &format!("{}/push", self.url), Some(&self.token), Some("application/x-muse-push"), Some(&body));
        let msg = error_of(&resp);
        eprintln!("refused ({status}): {msg}");
        assert!(status == 422 || status == 400, "status {status}: {msg}");
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
        assert!(!msg.contains(&self.hub.root.to_string_lossy().into_owned()), "server path in {msg}");
        assert_eq!(tree_hash(&self.hub.root), before, "a refused push changed the hub ({needle})");
        assert_eq!(self.hub.branch("mallory/target", "main"), Some(self.base));
    }

    /// A pack for a commit on top of base whose snapshot adds `path`.
    fn forged_path_pack(&self, path: &str) -> (MPack, CommitId) {
        let base_rec = self.local.find_commit(&self.base.to_string()).unwrap();
        let mut manifest: BTreeMap<String, String> = self.local.commit_manifest(&self.base.to_string()).unwrap();
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
            blobs: vec![MPackBlob { blob_id: blob, content }],
            ..Default::default()
        };
        (pack, id)
    }
}

#[test]
fn lying_pushes_are_refused_and_write_nothing() {
    let s = lie_setup();
    let next = commit(&s.local, &[("ok.txt", "changed\n"), ("new.txt", "new\n")], "next", "m");
    let honest = s.local.build_mpack(&[next], &[s.base]).unwrap();
    assert_eq!(honest.commits.len(), 1);
    assert!(!honest.blobs.is_empty());

    // 1. A blob whose content does not hash to its ID.
    let mut p = honest.clone();
    p.blobs[0].content.extend_from_slice(b"tampered");
    s.assert_refused(&p, next, &p.blobs[0].blob_id.clone());

    // 2. A commit whose commit_id lies.
    let mut p = honest.clone();
    p.commits[0].message = "not what was hashed".into();
    s.assert_refused(&p, next, "commit");

    // 3. Snapshot paths that escape or reach into .muse/ (IDs all honest).
    for path in ["../x", ".muse/x", "dir/../../x", "/etc/passwd", "a/.MUSE/config.toml"] {
        let (p, id) = s.forged_path_pack(path);
        s.assert_refused(&p, id, "path");
    }

    // 4. A snapshot delta that does not hash to its snapshot_id.
    let mut p = honest.clone();
    p.snapshots[0].delta_upsert.insert("extra.txt".into(), p.blobs[0].blob_id.clone());
    s.assert_refused(&p, next, "snapshot");

    // 5. A push naming a commit the pack does not carry (and the hub lacks).
    let mut p = honest.clone();
    p.commits.clear();
    let before = tree_hash(&s.hub.root);
    let mut t = HttpTransport::new(&s.url, Some(s.token.clone())).unwrap();
    let up = vec![PushUpdate { branch: "main".into(), old: Some(s.base), new: Some(next), force: false }];
    assert!(t.push_pack(&p, &up).is_err());
    assert_eq!(tree_hash(&s.hub.root), before);

    // 6. A body that is not a push at all, and a truncated one.
    let body = encode_push(&honest, &up).unwrap();
    for bad in [&b"garbage"[..], &body[..body.len() / 2], &[0u8, 0, 0, 200][..]] {
        let (status, _, resp) = s.hub.call("POST", &format!("{}/push", s.url), Some(&s.token), Some("application/x-muse-push"), Some(bad));
        assert!(status == 400 || status == 422, "{status}");
        error_of(&resp);
    }
    assert_eq!(tree_hash(&s.hub.root), before);

    // The honest pack still goes through afterwards.
    let report = t.push_pack(&honest, &up).unwrap();
    assert_eq!(report.commits_written, 1);
    assert_eq!(s.hub.branch("mallory/target", "main"), Some(next));
    assert!(s.hub.hosted("mallory/target").verify().unwrap().is_ok());
}

#[test]
fn request_size_limits_answer_413() {
    let hub = Hub::start_with(|c| {
        c.max_body_bytes = 4096;
        c.max_json_bytes = 256;
    });
    let (w, _) = hub.repo("alice/small", false);
    let url = hub.url("alice/small");
    let before = tree_hash(&hub.root);
    let big = vec![0u8; 5000];
    let (status, _, resp) = hub.call("POST", &format!("{url}/push"), Some(&w), Some("application/x-muse-push"), Some(&big));
    assert_eq!(status, 413);
    assert!(error_of(&resp).contains("over the limit"));
    let fetch = serde_json::to_vec(&serde_json::json!({"want": vec![format!("sha256:{}", "a".repeat(64)); 10]})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/fetch"), Some(&w), Some("application/json"), Some(&fetch));
    assert_eq!(status, 413);
    let presign = serde_json::to_vec(&serde_json::json!({"mpack_key": format!("sha256:{}", "a".repeat(64)), "size_bytes": 5000})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&w), Some("application/json"), Some(&presign));
    assert_eq!(status, 413);
    assert_eq!(tree_hash(&hub.root), before);
    // The server is still answering.
    let (status, _, _) = hub.call("GET", &format!("{url}/refs"), Some(&w), None, None);
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------
// Concurrency.
// ---------------------------------------------------------------------------

#[test]
fn four_clients_push_25_commits_each_with_pull_and_retry() {
    let hub = Hub::start();
    hub.repo("team/shared", false);
    let url = hub.url("team/shared");
    let tmp = tempfile::tempdir().unwrap();
    let seed = local_repo(&tmp.path().join("seed"), &url);
    commit(&seed, &[("README.md", "shared\n")], "root", "seed");
    seed.push("origin", &main_branch(), false).unwrap();

    let threads: Vec<_> = (0..4)
        .map(|k| {
            let url = url.clone();
            let dir = tmp.path().join(format!("client{k}"));
            std::thread::spawn(move || {
                let repo = Repository::clone_from(&url, &dir, None).unwrap();
                muse_core::config::set(repo.workdir(), "core.fsync", Some("off")).unwrap();
                let repo = Repository::open(repo.workdir()).unwrap();
                let author = format!("client{k}");
                let (mut mine, mut rejections) = (Vec::new(), 0usize);
                for i in 0..25 {
                    let path = format!("c{k}/f{i:02}.txt");
                    mine.push(commit(&repo, &[(path.as_str(), &format!("{k} {i}\n"))], &format!("c{k}-{i}"), &author));
                    let mut attempts = 0;
                    loop {
                        match repo.push("origin", &main_branch(), false) {
                            Ok(_) => break,
                            Err(Error::Rejected { .. }) => {
                                rejections += 1;
                                attempts += 1;
                                assert!(attempts < 200, "client {k} never got its push in");
                                let (_, outcome) = repo.pull("origin", Some("main"), &author).unwrap();
                                assert!(!matches!(outcome, PullOutcome::Conflicts { .. }), "{outcome:?}");
                            }
                            Err(e) => panic!("client {k}: push failed: {e}"),
                        }
                    }
                }
                (mine, rejections)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut rejections = 0;
    for t in threads {
        let (mine, r) = t.join().unwrap();
        all.extend(mine);
        rejections += r;
    }
    assert_eq!(all.len(), 100);
    let hosted = hub.hosted("team/shared");
    let reachable = log_ids(&hosted, "main");
    let missing: Vec<_> = all.iter().filter(|c| !reachable.contains(&c.to_string())).collect();
    assert!(missing.is_empty(), "{} commits not reachable from the hub's main: {missing:?}", missing.len());
    assert!(hosted.verify().unwrap().is_ok());
    // Every client's files are in the hub's main.
    let tip = hosted.store().branch("main").unwrap().unwrap();
    let paths: BTreeSet<String> = hosted.commit_manifest(&tip.to_string()).unwrap().into_keys().collect();
    for k in 0..4 {
        for i in 0..25 {
            assert!(paths.contains(&format!("c{k}/f{i:02}.txt")));
        }
    }
    eprintln!("4 clients × 25 commits: {rejections} rejected pushes retried after a pull");
}

// ---------------------------------------------------------------------------
// The presign → PUT → unpack flow.
// ---------------------------------------------------------------------------

/// The seed's history (`test_mpack_delta_e2e.py`): `commits` commits of
/// `files` files, `changed` changed per commit, blobs of `size` bytes.
/// Returns the repository and the tip.
fn seed_history(dir: &Path, files: usize, commits: usize, changed: usize, size: usize) -> (Repository, CommitId) {
    let repo = Repository::init(dir).unwrap();
    std::fs::write(dir.join(".muse/config.toml"), "[core]\nfsync = \"off\"\n").unwrap();
    let repo = Repository::open(repo.workdir()).unwrap();
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
            m.insert(format!("src/file_{:04}.py", (i * changed + j) % files), id.to_string());
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
    (repo, tip)
}

fn msgpack(v: &serde_json::Value) -> Vec<u8> {
    rmp_serde::to_vec_named(v).unwrap()
}

#[test]
fn presign_put_unpack_at_the_seed_dimensions() {
    let hub = Hub::start();
    let (w, r) = hub.repo("gabriel/mpack-delta-e2e", true);
    let url = hub.url("gabriel/mpack-delta-e2e");
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (local, head) = seed_history(&tmp.path().join("local"), 700, 1031, 5, 512);
    let pack = local.build_mpack(&[head], &[]).unwrap();
    assert_eq!(pack.snapshots.len(), 1031);
    let wire = encode_mpack(&pack).unwrap();
    let key = format!("sha256:{}", to_hex(&Sha256::digest(&wire)));
    eprintln!("seed history built and encoded in {:?} ({} KiB on the wire)", t.elapsed(), wire.len() / 1024);

    // presign (msgpack, as the seed sends it)
    let t_server = Instant::now();
    let body = msgpack(&serde_json::json!({"mpack_key": key, "size_bytes": wire.len()}));
    let (status, _, resp) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&w), Some("application/x-msgpack"), Some(&body));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let presigned: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let upload_url = presigned["upload_url"].as_str().unwrap().to_string();
    let t_presign = Instant::now();

    // PUT, no token (the URL carries the signature)
    let (status, _, resp) = hub.call("PUT", &upload_url, None, None, Some(&wire));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let t_put = Instant::now();

    // unpack
    let body = msgpack(&serde_json::json!({"mpack_key": key, "branch": "main", "head": head}));
    let (status, _, resp) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/x-msgpack"), Some(&body));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let result: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let t_unpack = Instant::now();

    // refs
    let (status, _, resp) = hub.call("GET", &format!("{url}/refs"), None, None, None);
    assert_eq!(status, 200);
    let refs: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let t_done = Instant::now();

    assert_eq!(refs["branch_heads"]["main"], head.to_string());
    assert_eq!(result["commits_written"], 1031, "{result}");
    assert_eq!(result["snapshots_written"], 1031, "{result}");
    assert_eq!(result["blobs_written"], 700 + 1031 * 5, "{result}");
    assert_eq!(result["branch"], "main");
    assert_eq!(result["head"], head.to_string());
    let server = (t_presign - t_server) + (t_unpack - t_put) + (t_done - t_unpack);
    eprintln!(
        "\n 1031 commits × 700 files × 5 changed/commit\n mpack wire: {} KiB\n server total: {:.0} ms (presign {:.0} ms, unpack {:.0} ms, refs {:.0} ms; PUT {:.0} ms not counted)",
        wire.len() / 1024,
        server.as_secs_f64() * 1e3,
        (t_presign - t_server).as_secs_f64() * 1e3,
        (t_unpack - t_put).as_secs_f64() * 1e3,
        (t_done - t_unpack).as_secs_f64() * 1e3,
        (t_put - t_presign).as_secs_f64() * 1e3,
    );
    assert!(server < Duration::from_secs(10), "server pipeline took {server:?}");

    // The upload is gone once applied; the hub verifies; a clone has the tip.
    assert!(!hub.root.join(".hub/uploads/gabriel/mpack-delta-e2e").join(&key[7..]).exists());
    let hosted = hub.hosted("gabriel/mpack-delta-e2e");
    assert_eq!(hosted.log("main").unwrap().count(), 1031);
    // Unpacking the same key again: the upload is gone, 404.
    let (status, _, _) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/x-msgpack"), Some(&body));
    assert_eq!(status, 404);
    // A read token still cannot presign.
    let body = msgpack(&serde_json::json!({"mpack_key": key, "size_bytes": wire.len()}));
    let (status, _, _) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&r), Some("application/x-msgpack"), Some(&body));
    assert_eq!(status, 403);
}

#[test]
fn upload_urls_refuse_bad_signatures_expiry_and_wrong_content() {
    let hub = Hub::start();
    let (w, _) = hub.repo("alice/up", false);
    let url = hub.url("alice/up");
    let tmp = tempfile::tempdir().unwrap();
    let local = local_repo(&tmp.path().join("a"), &url);
    let c1 = commit(&local, &[("f.txt", "one\n")], "one", "alice");
    let wire = encode_mpack(&local.build_mpack(&[c1], &[]).unwrap()).unwrap();
    let hex = to_hex(&Sha256::digest(&wire));
    let key = format!("sha256:{hex}");
    let uploads = hub.root.join(".hub/uploads/alice/up");

    // JSON body accepted as well as msgpack.
    let body = serde_json::to_vec(&serde_json::json!({"mpack_key": key, "size_bytes": wire.len()})).unwrap();
    let (status, _, resp) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&w), Some("application/json"), Some(&body));
    assert_eq!(status, 200);
    let presigned: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let good = presigned["upload_url"].as_str().unwrap().to_string();
    assert!(good.starts_with(&format!("{url}/push/uploads/{hex}?")), "{good}");
    let expires = presigned["expires_at"].as_u64().unwrap();
    assert!(good.contains(&format!("expires={expires}")));
    let before = tree_hash(&hub.root);

    // A bad signature, a changed size or expiry, another repository's path: 403.
    let sig_pos = good.find("sig=").unwrap() + 4;
    let mut bad_sig = good.clone();
    let flipped = if &good[sig_pos..sig_pos + 1] == "0" { "1" } else { "0" };
    bad_sig.replace_range(sig_pos..sig_pos + 1, flipped);
    let tampered = [
        bad_sig,
        good.replace(&format!("expires={expires}"), &format!("expires={}", expires + 3600)),
        good.replace(&format!("size={}", wire.len()), &format!("size={}", wire.len() + 1)),
        good.replace("/alice/up/", "/alice/other/"),
        good.split('?').next().unwrap().to_string(),
        good.replace(&hex, &"0".repeat(64)),
    ];
    for u in &tampered {
        let (status, _, resp) = hub.call("PUT", u, None, None, Some(&wire));
        assert!(status == 403 || status == 404, "{status} for {u}");
        error_of(&resp);
    }
    // Expired: a correctly signed URL whose time has passed.
    let secret: [u8; 32] = std::fs::read(hub.root.join(".hub/secret")).unwrap().try_into().unwrap();
    let past = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 10;
    let sig = upload_signature(&secret, "alice", "up", &hex, wire.len() as u64, past);
    let expired = format!("{url}/push/uploads/{hex}?size={}&expires={past}&sig={sig}", wire.len());
    let (status, _, resp) = hub.call("PUT", &expired, None, None, Some(&wire));
    assert_eq!(status, 403);
    assert!(error_of(&resp).contains("expired"));
    // The right URL with the wrong bytes: same size, other content → 422;
    // longer → 413; shorter → 400.
    let mut other = wire.clone();
    *other.last_mut().unwrap() ^= 1;
    let (status, _, resp) = hub.call("PUT", &good, None, None, Some(&other));
    assert_eq!(status, 422);
    assert!(error_of(&resp).contains("hashes to"));
    let mut longer = wire.clone();
    longer.push(0);
    assert_eq!(hub.call("PUT", &good, None, None, Some(&longer)).0, 413);
    assert_eq!(hub.call("PUT", &good, None, None, Some(&wire[..wire.len() - 1])).0, 400);
    assert_eq!(tree_hash(&hub.root), before, "a refused upload wrote something");
    assert!(!uploads.join(&hex).exists());

    // Unpacking an upload that never arrived: 404; a bad key: 400.
    let unpack = serde_json::to_vec(&serde_json::json!({"mpack_key": key, "branch": "main", "head": c1})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/json"), Some(&unpack));
    assert_eq!(status, 404);
    let bad_key = serde_json::to_vec(&serde_json::json!({"mpack_key": "sha256:../../x", "branch": "main", "head": c1})).unwrap();
    let (status, _, _) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/json"), Some(&bad_key));
    assert_eq!(status, 400);
    assert_eq!(tree_hash(&hub.root), before);

    // The good PUT, then unpack: the branch is created.
    let (status, _, _) = hub.call("PUT", &good, None, None, Some(&wire));
    assert_eq!(status, 200);
    assert!(uploads.join(&hex).is_file());
    let (status, _, resp) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/json"), Some(&unpack));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(hub.branch("alice/up", "main"), Some(c1));
    assert!(!uploads.join(&hex).exists());

    // A non-fast-forward through unpack is refused (409) unless forced.
    let side = tmp.path().join("side");
    let s = local_repo(&side, &url);
    let s1 = commit(&s, &[("g.txt", "side\n")], "side", "alice");
    let wire = encode_mpack(&s.build_mpack(&[s1], &[]).unwrap()).unwrap();
    let key = format!("sha256:{}", to_hex(&Sha256::digest(&wire)));
    let body = serde_json::to_vec(&serde_json::json!({"mpack_key": key, "size_bytes": wire.len()})).unwrap();
    let (_, _, resp) = hub.call("POST", &format!("{url}/push/mpack-presign"), Some(&w), Some("application/json"), Some(&body));
    let put_url = serde_json::from_slice::<serde_json::Value>(&resp).unwrap()["upload_url"].as_str().unwrap().to_string();
    assert_eq!(hub.call("PUT", &put_url, None, None, Some(&wire)).0, 200);
    let unpack = serde_json::json!({"mpack_key": key, "branch": "main", "head": s1});
    let (status, _, resp) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/json"), Some(&serde_json::to_vec(&unpack).unwrap()));
    assert_eq!(status, 409);
    assert!(error_of(&resp).starts_with("rejected refs/heads/main: "));
    assert_eq!(hub.branch("alice/up", "main"), Some(c1));
    let mut forced = unpack.clone();
    forced["force"] = serde_json::json!(true);
    let (status, _, _) = hub.call("POST", &format!("{url}/push/unpack-mpack"), Some(&w), Some("application/json"), Some(&serde_json::to_vec(&forced).unwrap()));
    assert_eq!(status, 200);
    assert_eq!(hub.branch("alice/up", "main"), Some(s1));
}

#[test]
fn tokens_are_stored_hashed_and_names_are_checked() {
    setup();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub");
    init_repo(&root, "alice/proj", false).unwrap();
    assert!(init_repo(&root, "alice/proj", false).is_err(), "created twice");
    for bad in ["alice", "../x/y", "alice/..", ".hub/x", "alice/.muse", "a/b/c", "alice/x y"] {
        assert!(init_repo(&root, bad, false).is_err(), "{bad:?} accepted");
    }
    let t = create_token(&root, "alice/proj", Scope::Write).unwrap();
    assert!(t.starts_with("muse_") && t.len() == 69, "{t}");
    assert!(create_token(&root, "alice/nope", Scope::Read).is_err());
    // Nowhere under the hub is the token itself.
    for (path, _) in tree_hash(&root) {
        let p = root.join(&path);
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()), "token in {path}");
        }
    }
    let stored = std::fs::read_to_string(root.join(".hub/tokens/alice/proj.json")).unwrap();
    assert!(stored.contains(&to_hex(&Sha256::digest(t.as_bytes()))));
}
