//! `muse import-git` as a program: a re-import after local commits is
//! refused with exit 1 and moves nothing (the local commits survive `gc
//! --prune`); `--rename-conflicting` imports git's side under another
//! name; a fast-forward of the checked-out branch updates a clean working
//! tree and is refused when it is dirty; tags are revisions.

use std::path::Path;
use std::process::{Command, Output};

fn muse(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muse"))
        .current_dir(root)
        .env("MUSE_REPO_ROOT", root)
        .env("MUSE_AUTHOR", "Me <me@x>")
        .env_remove("MUSE_HUB_DATABASE_URL")
        .args(args)
        .output()
        .unwrap()
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = muse(root, args);
    assert!(o.status.success(), "muse {args:?}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T Ester", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn git_commit(g: &Path, file: &str, content: &str) -> String {
    std::fs::write(g.join(file), content).unwrap();
    git(g, &["add", "-A"]);
    git(g, &["commit", "-q", "-m", &format!("{file} = {content}")]);
    git(g, &["rev-parse", "HEAD"])
}

fn branch_tip(root: &Path, b: &str) -> String {
    std::fs::read_to_string(root.join(".muse/refs/heads").join(b)).unwrap().trim().to_string()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("git");
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&g).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    git(&g, &["init", "-q", "-b", "master"]);
    git_commit(&g, "a.txt", "1");
    git_commit(&g, "b.txt", "1");
    git(&g, &["tag", "-a", "v2.0", "-m", "version two"]);
    ok(&root, &["init"]);
    ok(&root, &["import-git", g.to_str().unwrap()]);
    (tmp, g, root)
}

#[test]
fn reimport_after_local_commits_is_refused_then_renamed() {
    let (_tmp, g, root) = setup();
    // Tags are revisions.
    let log = ok(&root, &["log", "v2.0"]);
    assert!(log.contains("b.txt = 1"), "{log}");
    ok(&root, &["show", "v2.0"]);
    // Three local commits on master.
    for i in 0..3 {
        std::fs::write(root.join("local.txt"), format!("local {i}")).unwrap();
        ok(&root, &["add", "local.txt"]);
        ok(&root, &["commit", "-m", &format!("local {i}")]);
    }
    let local_tip = branch_tip(&root, "master");
    // Six new git commits.
    for i in 0..6 {
        git_commit(&g, "a.txt", &format!("git {i}"));
    }
    let o = muse(&root, &["import-git", g.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("master") && err.contains("--rename-conflicting"), "{err}");
    assert_eq!(branch_tip(&root, "master"), local_tip);
    ok(&root, &["gc", "--prune", "--grace", "0"]);
    let log = ok(&root, &["log"]);
    assert!(log.contains("local 2") && log.contains("local 0"), "{log}");
    // Renamed: git's master arrives as git/master.
    let out = ok(&root, &["import-git", "--json", "--rename-conflicting", "git/", g.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["commits"], 6, "{v}");
    assert_eq!(v["renamed"][0]["muse"], "git/master");
    assert_eq!(branch_tip(&root, "master"), local_tip);
    let log = ok(&root, &["log", "git/master"]);
    assert!(log.contains("a.txt = git 5"), "{log}");
    ok(&root, &["gc", "--prune", "--grace", "0"]);
    assert!(ok(&root, &["log"]).contains("local 2"));
}

#[test]
fn fast_forward_updates_a_clean_tree_and_refuses_a_dirty_one() {
    let (_tmp, g, root) = setup();
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "1");
    git_commit(&g, "a.txt", "2");
    let out = ok(&root, &["import-git", g.to_str().unwrap()]);
    assert!(out.contains("fast-forwarded"), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "2", "the working tree follows the branch");
    assert!(ok(&root, &["status"]).contains("clean") || !ok(&root, &["status", "--json"]).contains("a.txt"));
    // Dirty: refused, nothing moved.
    let before = branch_tip(&root, "master");
    std::fs::write(root.join("a.txt"), "my edit").unwrap();
    git_commit(&g, "a.txt", "3");
    let o = muse(&root, &["import-git", g.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("checked out"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(branch_tip(&root, "master"), before);
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "my edit");
}
