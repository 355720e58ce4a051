//! The hub as real processes, in both storage tiers: two `muse serve`
//! processes share one hub (the same `--root` for the embedded tier; the
//! same PostgreSQL + S3 bucket for the scale-out tier) while 4 clients
//! each make 25 commits and push to one branch through either server with
//! fetch-merge-retry: all 100 commits end up reachable. A `muse push`
//! SIGKILLed at moments spread over its run leaves the hub consistent and
//! the retried push succeeds. Pushes without a token or with a read token
//! are refused and change no ref.
//!
//! The scale-out tests need the services of `scripts/hub-services.sh
//! start` (its exported variables); without them they FAIL, saying so:
//! they are never skipped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use muse_core::commit::CommitOptions;
use muse_core::remote::PullOutcome;
use muse_core::{Error, Repository};

const SCALEOUT_VARS: [&str; 6] =
    ["MUSE_HUB_DATABASE_URL", "MUSE_HUB_S3_ENDPOINT", "MUSE_HUB_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tier {
    Embedded,
    ScaleOut,
}

fn muse_cmd(tier: Tier) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_muse"));
    if tier == Tier::Embedded {
        c.env_remove("MUSE_HUB_DATABASE_URL");
    } else {
        let missing: Vec<&str> = SCALEOUT_VARS.iter().copied().filter(|v| std::env::var(v).map(|x| x.is_empty()).unwrap_or(true)).collect();
        assert!(
            missing.is_empty(),
            "the scale-out tier needs its services: run `eval \"$(scripts/hub-services.sh start)\"` first (missing: {missing:?})"
        );
    }
    c.env_remove("MUSE_TOKEN");
    c
}

/// A `muse serve` process, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(tier: Tier, root: &Path) -> Server {
    use std::io::BufRead;
    let mut child = muse_cmd(tier)
        .args(["serve", "--root", root.to_str().unwrap(), "--listen", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("serve said {line:?}: {e}"));
    Server { child, url: v["url"].as_str().unwrap().to_string() }
}

/// A new hosted repository (unique name: the scale-out hub is shared by
/// every run) and a write and a read token.
fn hosted(tier: Tier, root: &Path, tag: &str) -> (String, String, String) {
    let slug = format!("t{}/{tag}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let r = root.to_str().unwrap();
    let o = muse_cmd(tier).args(["serve", "init-repo", "--root", r, &slug]).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let tok = |scope: &str| {
        let o = muse_cmd(tier).args(["serve", "token", "--root", r, "--repo", &slug, "--scope", scope]).output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout).unwrap().lines().last().unwrap().to_string()
    };
    let w = tok("write");
    let rd = tok("read");
    (slug, w, rd)
}

fn write(repo: &Repository, rel: &str, text: &str) {
    let p = repo.workdir().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit(repo: &Repository, msg: &str) -> String {
    repo.add_all().unwrap();
    repo.commit(&CommitOptions { message: msg.into(), author: "t".into(), ..Default::default() }).unwrap().commit_id
}

/// The hub's branches as the server advertises them.
fn hub_refs(url: &str, token: &str) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(format!("{url}/refs")).header("Authorization", format!("Bearer {token}")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap()
}

/// The tests of this file change `MUSE_TOKEN` of the process (the client
/// API reads its token there): one at a time.
static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn two_servers_four_clients(tier: Tier) {
    let _env = env_lock();
    let tmp = tempfile::tempdir().unwrap();
    // The embedded tier: both processes on one root. The scale-out tier:
    // each its own scratch root, sharing PostgreSQL and the bucket.
    let (r1, r2) = match tier {
        Tier::Embedded => (tmp.path().join("hub"), tmp.path().join("hub")),
        Tier::ScaleOut => (tmp.path().join("s1"), tmp.path().join("s2")),
    };
    let (slug, wtok, _) = hosted(tier, &r1, "four");
    let s1 = serve(tier, &r1);
    let s2 = serve(tier, &r2);
    let urls = [format!("{}/{slug}", s1.url), format!("{}/{slug}", s2.url)];
    // The first commit, pushed through server 1.
    std::env::set_var("MUSE_TOKEN", &wtok);
    let seed = Repository::init(tmp.path().join("seed")).unwrap();
    write(&seed, "base.txt", "base\n");
    commit(&seed, "base");
    seed.add_remote("origin", &urls[0]).unwrap();
    seed.push("origin", &[], false).unwrap();

    let mut handles = Vec::new();
    for w in 0..4 {
        let url = urls[w % 2].clone();
        let dir = tmp.path().join(format!("c{w}"));
        handles.push(std::thread::spawn(move || {
            let repo = Repository::clone_from(&url, &dir, None).unwrap();
            let mut mine = Vec::new();
            let mut retries = 0;
            for i in 0..25 {
                write(&repo, &format!("w{w}/f{i}.txt"), &format!("{w} {i}\n"));
                mine.push(commit(&repo, &format!("w{w} c{i}")));
                loop {
                    match repo.push("origin", &[], false) {
                        Ok(_) => break,
                        Err(Error::Rejected { .. }) => {
                            retries += 1;
                            let (_, out) = repo.pull("origin", None, "w").unwrap();
                            assert!(!matches!(out, PullOutcome::Conflicts { .. }), "{out:?}");
                        }
                        Err(e) => panic!("client {w}: {e}"),
                    }
                }
            }
            (mine, retries)
        }));
    }
    let mut all = Vec::new();
    let mut retries = 0;
    for h in handles {
        let (m, r) = h.join().unwrap();
        all.extend(m);
        retries += r;
    }
    assert_eq!(all.len(), 100);
    // Everything is reachable from the hub's main, seen through either server.
    for (i, url) in urls.iter().enumerate() {
        let check = Repository::clone_from(url, &tmp.path().join(format!("check{i}")), None).unwrap();
        let tip = check.resolve_head().unwrap().unwrap();
        let reachable: std::collections::HashSet<String> = check.log(&tip).unwrap().map(|c| c.unwrap().commit_id).collect();
        for c in &all {
            assert!(reachable.contains(c), "{tier:?}: commit {c} lost");
        }
        assert!(muse_core::verify::verify_repo(check.workdir()).unwrap().is_ok());
    }
    std::env::remove_var("MUSE_TOKEN");
    eprintln!("{tier:?}: 100 commits from 4 clients through 2 servers, {retries} rejected pushes retried");
}

fn killed_push_then_retry(tier: Tier) {
    let _env = env_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub");
    let (slug, wtok, rtok) = hosted(tier, &root, "kill");
    let s = serve(tier, &root);
    let url = format!("{}/{slug}", s.url);
    // A local history big enough that a push takes a while.
    let local = Repository::init(tmp.path().join("local")).unwrap();
    for i in 0..40 {
        for j in 0..25 {
            write(&local, &format!("d{j}/f{i}.bin"), &format!("{i}-{j}-{}\n", "x".repeat(4000 + i * j)));
        }
        commit(&local, &format!("c{i}"));
    }
    local.add_remote("origin", &url).unwrap();
    let tip = local.resolve_head().unwrap().unwrap();
    let t0 = Instant::now();
    let push = || {
        muse_cmd(tier)
            .args(["push", "origin"])
            .current_dir(local.workdir())
            .env("MUSE_TOKEN", &wtok)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // SIGKILL after 1 ms, then after delays growing by 1.7x, until a push
    // finishes by itself: kills land in every phase of the push (refs,
    // bundle building, sending, the server storing it).
    let mut delay = Duration::from_millis(1);
    let mut kills = 0;
    loop {
        let mut c = push();
        std::thread::sleep(delay);
        let done = c.try_wait().unwrap();
        if let Some(st) = done {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut c.stderr.take().unwrap(), &mut err).unwrap();
            assert!(st.success(), "push failed on its own after {kills} kills: {st:?}: {err}");
            break;
        }
        let _ = c.kill(); // SIGKILL
        let _ = c.wait();
        kills += 1;
        // The hub is consistent: its main is absent or a commit that a
        // fresh clone can check out and verify.
        let refs = hub_refs(&url, &rtok);
        if let Some(id) = refs["branch_heads"]["main"].as_str() {
            assert_eq!(id, tip, "a killed push moved main somewhere else");
        }
        delay = delay.mul_f64(1.7);
        assert!(t0.elapsed() < Duration::from_secs(300), "the push never finished");
    }
    // Retrying (already done above when the last attempt finished) leaves
    // main at the tip; a clone verifies.
    let refs = hub_refs(&url, &rtok);
    assert_eq!(refs["branch_heads"]["main"].as_str(), Some(tip.as_str()));
    std::env::set_var("MUSE_TOKEN", &rtok);
    let c = Repository::clone_from(&url, &tmp.path().join("clone"), None).unwrap();
    std::env::remove_var("MUSE_TOKEN");
    assert_eq!(c.resolve_head().unwrap().as_deref(), Some(tip.as_str()));
    assert!(muse_core::verify::verify_repo(c.workdir()).unwrap().is_ok());
    eprintln!("{tier:?}: {kills} SIGKILLed pushes, then a push that finished");
}

fn refused_without_the_write_scope(tier: Tier) {
    let _env = env_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub");
    let (slug, wtok, rtok) = hosted(tier, &root, "auth");
    let s = serve(tier, &root);
    let url = format!("{}/{slug}", s.url);
    let local = Repository::init(tmp.path().join("local")).unwrap();
    write(&local, "a.txt", "a\n");
    commit(&local, "a");
    local.add_remote("origin", &url).unwrap();
    for (token, status) in [(None, 401u16), (Some(rtok.as_str()), 403)] {
        let mut c = muse_cmd(tier);
        c.args(["push", "origin"]).current_dir(local.workdir());
        if let Some(t) = token {
            c.env("MUSE_TOKEN", t);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("HTTP {status}")), "{status}: {err}");
        assert!(hub_refs(&url, &wtok)["branch_heads"].as_object().unwrap().is_empty(), "a refused push moved a ref");
    }
    let o = muse_cmd(tier).args(["push", "origin"]).current_dir(local.workdir()).env("MUSE_TOKEN", &wtok).output().unwrap();
    assert!(o.status.success(), "{o:?}");
}

#[test]
fn embedded_two_servers_four_clients() {
    two_servers_four_clients(Tier::Embedded);
}

#[test]
fn scaleout_two_servers_four_clients() {
    two_servers_four_clients(Tier::ScaleOut);
}

#[test]
fn embedded_killed_push_then_retry() {
    killed_push_then_retry(Tier::Embedded);
}

#[test]
fn scaleout_killed_push_then_retry() {
    killed_push_then_retry(Tier::ScaleOut);
}

#[test]
fn embedded_refused_without_the_write_scope() {
    refused_without_the_write_scope(Tier::Embedded);
}

#[test]
fn scaleout_refused_without_the_write_scope() {
    refused_without_the_write_scope(Tier::ScaleOut);
}
