//! git's `verify_path` rules applied to muse (SPEC §12): no stored path has
//! a `.muse` component (or an NTFS/HFS+ alias of it) at any depth, no
//! bundle or git import plants `.git`, no manifest holds a path that is
//! both a file and a directory, and no branch is named `HEAD`, `refs/…` or
//! `-x`. Every refusal of a bundle or an import leaves `.muse/`
//! byte-identical.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::new_repo;
use muse_core::commits::write_commit;
use muse_core::ids::blob_id;
use muse_core::import_git::{import_git, read_git_map, verify_git_import, ImportOptions};
use muse_core::mpack::{apply_mpack, decode_mpack, encode_mpack, Limits, MPack, MPackBlob, SnapshotDelta};
use muse_core::object_store::write_object;
use muse_core::paths::{
    check_no_file_dir_clash, check_no_file_dir_clash_at, git_alias_reason, muse_alias_reason, validate_incoming_path,
    validate_rel_path,
};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::{list_branches, validate_branch_name, write_branch_ref};
use muse_core::snapshots::{read_snapshot, write_snapshot};
use muse_core::Error;

type Manifest = BTreeMap<String, String>;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// The bytes of every file under `.muse/` (and every directory, as an
/// empty marker), except `.muse/tmp/`, `.muse/cache/` and `*.lock` files:
/// what a refused bundle or import must leave exactly as it was.
fn muse_bytes(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let base = root.join(".muse");
    let mut out = BTreeMap::new();
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(&base).unwrap().to_string_lossy().into_owned();
            if rel == "tmp" || rel == "cache" || rel.ends_with(".lock") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Asserts `.muse/` is as `before` was, naming what differs.
fn assert_unchanged(root: &Path, before: &BTreeMap<String, Option<Vec<u8>>>, what: &str) {
    let after = muse_bytes(root);
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<&String> =
        after.iter().filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v)).map(|(k, _)| k).collect();
    assert!(
        added.is_empty() && removed.is_empty() && changed.is_empty(),
        "{what}: .muse/ changed: added {added:?}, removed {removed:?}, changed {changed:?}"
    );
}

fn manifest(entries: &[(&str, &str)]) -> Manifest {
    entries.iter().map(|(p, o)| (p.to_string(), o.to_string())).collect()
}

fn commit_on(snapshot_id: &str, parent: Option<&str>, message: &str) -> CommitRecord {
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: snapshot_id.to_string(),
        message: message.into(),
        committed_at: "2026-01-01T00:00:00+00:00".into(),
        parent_commit_id: parent.map(str::to_string),
        author: "tester".into(),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    c
}

/// A repository with one commit (`ok.txt`, `a`) on `main`; returns the
/// commit and snapshot IDs.
fn repo_with_base() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let (tmp, root) = new_repo(true);
    let oid = blob_id(b"base\n");
    write_object(&root, &oid, b"base\n", None).unwrap();
    let rec = SnapshotRecord::new(manifest(&[("ok.txt", &oid), ("a", &oid)]));
    write_snapshot(&root, &rec, None).unwrap();
    let c = commit_on(&rec.snapshot_id, None, "base");
    write_commit(&root, &c, None).unwrap();
    write_branch_ref(&root, "main", &c.commit_id).unwrap();
    (tmp, root, c.commit_id, rec.snapshot_id)
}

/// A self-contained bundle: one snapshot (parent `None`, the whole
/// manifest `paths` as `delta_upsert`, each path holding a blob of its
/// own), one root commit, and `main` at it. Encoded and decoded, as a file
/// would be.
fn bundle_with_paths(paths: &[&str]) -> MPack {
    let mut blobs = Vec::new();
    let mut m = Manifest::new();
    for p in paths {
        let content = format!("content of {p}\n").into_bytes();
        let id = blob_id(&content);
        m.insert(p.to_string(), id.clone());
        if !blobs.iter().any(|b: &MPackBlob| b.blob_id == id) {
            blobs.push(MPackBlob { blob_id: id, content });
        }
    }
    let snap = SnapshotRecord::new(m.clone());
    let c = commit_on(&snap.snapshot_id, None, "hostile");
    let bundle = MPack {
        commits: vec![c.clone()],
        snapshots: vec![SnapshotDelta {
            snapshot_id: snap.snapshot_id,
            parent_snapshot_id: None,
            delta_upsert: m,
            delta_remove: Vec::new(),
        }],
        blobs,
        branch_heads: [("main".to_string(), c.commit_id)].into_iter().collect(),
        ..Default::default()
    };
    decode_mpack(&encode_mpack(&bundle).unwrap(), &Limits::default()).unwrap()
}

/// Applies `bundle`, expecting a refusal whose message holds every one of
/// `needles`, and `.muse/` byte-identical.
fn assert_bundle_refused(root: &Path, bundle: &MPack, needles: &[&str]) {
    let before = muse_bytes(root);
    let branches = list_branches(root).unwrap();
    let e = apply_mpack(root, bundle, &Limits::default()).expect_err("hostile bundle applied");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} does not name {n:?}");
    }
    assert_unchanged(root, &before, &msg);
    assert_eq!(list_branches(root).unwrap(), branches);
}

// ---------------------------------------------------------------------------
// validator tables
// ---------------------------------------------------------------------------

#[test]
fn validate_rel_path_refuses_muse_and_its_aliases_at_any_depth() {
    let good = [
        "a",
        "x.muse",
        "muse",
        ".mused",
        ".museignore",
        "sub/.museignore",
        "a/x.muse/b",
        "muse~2/x",
        "muse~/x",
        ".muse~1",
        " .muse",
        "a/.mu/se",
        ".git/config", // .git is fine in a working tree (validate_incoming_path refuses it)
        "git~1/x",
        "ü/.mü.se",
        "dir with space/f.txt",
    ];
    for p in good {
        validate_rel_path(p).unwrap_or_else(|e| panic!("{p:?} refused: {e}"));
    }
    // (path, a word of the rule)
    let bad: &[(&str, &str)] = &[
        (".muse", "'.muse'"),
        (".muse/HEAD", "'.muse'"),
        ("sub/.muse/HEAD", "'.muse'"),
        ("a/b/c/.muse", "'.muse'"),
        (".MUSE/HEAD", "letter case"),
        ("a/.Muse/config.toml", "letter case"),
        (".muse./x", "NTFS"),
        (".muse /x", "NTFS"),
        ("x/.muse. . ./y", "NTFS"),
        (".muse::$INDEX_ALLOCATION/x", "NTFS"),
        ("muse~1/x", "8.3"),
        ("MUSE~1", "8.3"),
        ("sub/Muse~1./x", "8.3"),
        (".mu\u{200c}se/x", "HFS+"),
        ("\u{200d}.muse/x", "HFS+"),
        ("a/.muse\u{200e}/x", "HFS+"),
        (".m\u{200f}u\u{202a}s\u{202e}e/x", "HFS+"),
        (".\u{206a}muse\u{206f}/x", "HFS+"),
        ("\u{feff}.MUSE./x", "HFS+"),
    ];
    for (p, rule) in bad {
        match validate_rel_path(p) {
            Err(Error::InvalidPath { path, reason }) => {
                assert_eq!(&path, p);
                assert!(reason.contains(rule), "{p:?}: {reason:?} does not say {rule:?}");
                let shown = Error::InvalidPath { path: path.clone(), reason }.to_string();
                assert!(shown.contains(&format!("{p:?}")), "{shown}");
            }
            other => panic!("{p:?}: expected InvalidPath, got {other:?}"),
        }
        // Anything refused for working trees is refused from outside too.
        assert!(validate_incoming_path(p).is_err(), "{p:?}");
    }
    // The component helpers agree.
    assert!(muse_alias_reason(".MuSe.").is_some());
    assert!(muse_alias_reason(".museignore").is_none());
    assert!(git_alias_reason(".muse").is_none());
}

#[test]
fn validate_incoming_path_also_refuses_git_and_its_aliases() {
    for p in [".gitignore", ".gitmodules", ".github/workflows/ci.yml", "git", "x.git", ".gitx/y", "git~2/x", "a/b"] {
        validate_incoming_path(p).unwrap_or_else(|e| panic!("{p:?} refused: {e}"));
    }
    let bad: &[(&str, &str)] = &[
        (".git", "'.git'"),
        (".git/config", "'.git'"),
        ("x/.GIT/hooks/post-checkout", "letter case"),
        ("a/.Git/HEAD", "letter case"),
        (".git./config", "NTFS"),
        (".git /config", "NTFS"),
        (".git::$INDEX_ALLOCATION/config", "NTFS"),
        ("git~1/config", "8.3"),
        ("GIT~1", "8.3"),
        (".g\u{200c}it/config", "HFS+"),
        ("\u{feff}.git/hooks/x", "HFS+"),
        ("sub/.muse/HEAD", "'.muse'"),
    ];
    for (p, rule) in bad {
        match validate_incoming_path(p) {
            Err(Error::InvalidPath { path, reason }) => {
                assert_eq!(&path, p);
                assert!(reason.contains(rule), "{p:?}: {reason:?} does not say {rule:?}");
            }
            other => panic!("{p:?}: expected InvalidPath, got {other:?}"),
        }
    }
}

#[test]
fn file_dir_clashes_are_found_in_sorted_paths_and_at_one_path() {
    check_no_file_dir_clash(["a", "a b/c", "a-b/c", "a.txt", "ab/c", "b/c/d", "b/e"]).unwrap();
    for (paths, file, under) in [
        (vec!["a", "a/b"], "a", "a/b"),
        (vec!["a", "a b", "a-x", "a.txt", "a/b"], "a", "a/b"),
        (vec!["d/x", "d/x.y", "d/x/z/w"], "d/x", "d/x/z/w"),
    ] {
        let e = check_no_file_dir_clash(paths.iter().copied()).unwrap_err().to_string();
        assert!(e.contains(&format!("{file:?}")) && e.contains(&format!("{under:?}")), "{e}");
    }
    // 100k paths: linear, and the clash at the very end is found.
    let mut big: Vec<String> = (0..100_000).map(|i| format!("d{:03}/f{i:06}.txt", i % 500)).collect();
    big.sort();
    check_no_file_dir_clash(big.iter().map(String::as_str)).unwrap();
    big.push("zz".into());
    big.push("zz/y".into());
    assert!(check_no_file_dir_clash(big.iter().map(String::as_str)).is_err());

    let m = manifest(&[("a", "1"), ("a.txt", "1"), ("b/c", "1")]);
    assert!(check_no_file_dir_clash_at(&m, "a/b").unwrap_err().to_string().contains("\"a\""));
    assert!(check_no_file_dir_clash_at(&m, "b").unwrap_err().to_string().contains("\"b/c\""));
    check_no_file_dir_clash_at(&m, "b/d").unwrap();
}

// ---------------------------------------------------------------------------
// write_snapshot
// ---------------------------------------------------------------------------

#[test]
fn write_snapshot_refuses_reserved_paths_and_clashes() {
    let (_tmp, root, _, _) = repo_with_base();
    let oid = blob_id(b"base\n");
    let before = muse_bytes(&root);
    for paths in [
        vec!["a", "a/b"],
        vec!["a", "a.txt", "a/b/c"],
        vec!["ok", "sub/.muse/HEAD"],
        vec![".MUSE/x"],
        vec!["muse~1/x"],
        vec![".mu\u{200c}se/x"],
    ] {
        let rec = SnapshotRecord::new(paths.iter().map(|p| (p.to_string(), oid.clone())).collect());
        let e = write_snapshot(&root, &rec, None).expect_err("refused");
        let last = paths.last().unwrap();
        assert!(e.to_string().contains(&format!("{last:?}")), "{e} does not name {last:?}");
        assert!(rec.validate().is_err());
        assert!(read_snapshot(&root, &rec.snapshot_id).unwrap().is_none());
    }
    assert_unchanged(&root, &before, "write_snapshot");
    // A clash names both paths.
    let rec = SnapshotRecord::new(manifest(&[("a", &oid), ("a/b", &oid)]));
    let e = write_snapshot(&root, &rec, None).unwrap_err().to_string();
    assert!(e.contains("\"a\"") && e.contains("\"a/b\""), "{e}");
    // `.git` is a working-tree name like any other.
    let rec = SnapshotRecord::new(manifest(&[(".git/config", &oid)]));
    assert!(write_snapshot(&root, &rec, None).unwrap());
}

// ---------------------------------------------------------------------------
// bundles
// ---------------------------------------------------------------------------

#[test]
fn bundles_with_reserved_paths_are_refused_and_write_nothing() {
    let (_tmp, root, _, _) = repo_with_base();
    for p in [
        "sub/.muse/HEAD",
        ".MUSE/HEAD",
        "a/.Muse/config.toml",
        ".muse./x",
        "muse~1/x",
        ".mu\u{200c}se/x",
        ".git/config",
        "x/.GIT/hooks/post-checkout",
        ".git /config",
        "git~1/config",
        "\u{feff}.git/config",
    ] {
        let bundle = bundle_with_paths(&["fine.txt", p]);
        assert_bundle_refused(&root, &bundle, &["delta_upsert", &format!("{p:?}")]);
    }
}

#[test]
fn a_bundle_removing_a_reserved_path_is_refused() {
    let (_tmp, root, _, base_snap) = repo_with_base();
    let oid = blob_id(b"base\n");
    // The rebuilt manifest would be fine; the path itself is not.
    let m = manifest(&[("a", &oid), ("new.txt", &oid), ("ok.txt", &oid)]);
    let snap = SnapshotRecord::new(m);
    let bundle = MPack {
        snapshots: vec![SnapshotDelta {
            snapshot_id: snap.snapshot_id,
            parent_snapshot_id: Some(base_snap),
            delta_upsert: manifest(&[("new.txt", &oid)]),
            delta_remove: vec![".git/config".into()],
        }],
        ..Default::default()
    };
    assert_bundle_refused(&root, &bundle, &["delta_remove", "\".git/config\""]);
}

#[test]
fn bundles_with_file_dir_clashes_are_refused_and_write_nothing() {
    let (_tmp, root, _, base_snap) = repo_with_base();
    // In one manifest.
    assert_bundle_refused(&root, &bundle_with_paths(&["a", "a/b"]), &["\"a\"", "\"a/b\""]);
    assert_bundle_refused(&root, &bundle_with_paths(&["x", "x-y", "x.txt", "x/y/z"]), &["\"x\"", "\"x/y/z\""]);
    // Rebuilt: a delta adding `a/b` on a stored snapshot holding the file `a`.
    let content = b"under a\n".to_vec();
    let id = blob_id(&content);
    let oid = blob_id(b"base\n");
    let rebuilt = manifest(&[("a", &oid), ("a/b", &id), ("ok.txt", &oid)]);
    let snap = SnapshotRecord::new(rebuilt);
    let bundle = MPack {
        snapshots: vec![SnapshotDelta {
            snapshot_id: snap.snapshot_id,
            parent_snapshot_id: Some(base_snap),
            delta_upsert: manifest(&[("a/b", &id)]),
            delta_remove: Vec::new(),
        }],
        blobs: vec![MPackBlob { blob_id: id, content }],
        ..Default::default()
    };
    assert_bundle_refused(&root, &bundle, &["\"a\"", "\"a/b\""]);
}

#[test]
fn bundles_with_reserved_branch_names_are_refused() {
    let (_tmp, root, base, _) = repo_with_base();
    for name in ["HEAD", "refs/heads/x", "refs/x", "-x"] {
        let bundle =
            MPack { branch_heads: [(name.to_string(), base.clone())].into_iter().collect(), ..Default::default() };
        assert_bundle_refused(&root, &bundle, &["branch_heads", &format!("{name:?}")]);
    }
    // The same bundle with a fine name is accepted (the refusal is the name).
    let bundle = MPack { branch_heads: [("x".to_string(), base.clone())].into_iter().collect(), ..Default::default() };
    assert_eq!(apply_mpack(&root, &bundle, &Limits::default()).unwrap().branch_heads["x"], base);
}

#[test]
fn reserved_branch_names_are_refused_everywhere() {
    let (_tmp, root, base, _) = repo_with_base();
    let before = muse_bytes(&root);
    for name in ["HEAD", "refs/heads/x", "refs/tags/v1", "-x", "--force"] {
        assert!(matches!(validate_branch_name(name), Err(Error::InvalidRefName { .. })), "{name}");
        assert!(matches!(write_branch_ref(&root, name, &base), Err(Error::InvalidRefName { .. })), "{name}");
    }
    assert_unchanged(&root, &before, "write_branch_ref");
    for name in ["head", "x/HEAD", "HEADS", "refs", "my/refs/x"] {
        validate_branch_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// git import
// ---------------------------------------------------------------------------

fn git_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T Ester", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05+01:00")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05+01:00")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args, None)
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn commit_all(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A git work tree with `n` ordinary commits on `main`.
fn git_repo(parent: &Path, n: usize) -> std::path::PathBuf {
    let g = parent.join("git");
    std::fs::create_dir_all(&g).unwrap();
    git(&g, &["init", "-q", "-b", "main"]);
    for i in 0..n {
        write(&g, &format!("f{i}.txt"), format!("{i}\n").as_bytes());
        commit_all(&g, &format!("c{i}"));
    }
    g
}

/// Imports `g` (one commit per chunk, so that without the pre-scan the
/// good commits before the hostile one would be committed), expecting a
/// refusal naming `needle` and `.muse/` byte-identical.
fn assert_import_refused(root: &Path, g: &Path, needle: &str) {
    let before = muse_bytes(root);
    let e =
        import_git(root, g, &ImportOptions { chunk_commits: 1, ..ImportOptions::default() }, &mut |_| {}).expect_err("hostile import succeeded");
    let msg = e.to_string();
    assert!(msg.contains(needle), "error {msg:?} does not name {needle:?}");
    assert_unchanged(root, &before, &msg);
}

#[test]
fn git_import_of_muse_paths_is_refused_and_writes_nothing() {
    for (path, shown) in [("sub/.muse/HEAD", "sub/.muse"), (".MUSE/x", ".MUSE"), ("a/.Muse/config.toml", "a/.Muse")] {
        let (tmp, root) = new_repo(true);
        let g = git_repo(tmp.path(), 3);
        write(&g, path, b"planted\n");
        commit_all(&g, "hostile");
        write(&g, "later.txt", b"later\n");
        commit_all(&g, "after");
        assert_import_refused(&root, &g, &format!("{shown:?}"));
    }
}

#[test]
fn git_import_of_git_paths_is_refused_and_writes_nothing() {
    // `git add` refuses `.git` components; fast-import writes them.
    for (path, shown) in [
        (".git/config", ".git"),
        ("x/.GIT/hooks/post-checkout", "x/.GIT"),
        ("git~1/config", "git~1"),
        (".git./config", ".git."),
        (".g\u{200c}it/config", ".g\u{200c}it"),
    ] {
        let (tmp, root) = new_repo(true);
        let g = git_repo(tmp.path(), 2);
        let stream = format!(
            "commit refs/heads/main\ncommitter T <t@e> 1700000000 +0000\ndata 7\nhostile\nfrom refs/heads/main^0\n\
             M 100644 inline {path}\ndata 8\nplanted\n\n"
        );
        git_in(&g, &["fast-import", "--quiet", "--force"], Some(stream.as_bytes()));
        assert!(git(&g, &["-c", "core.quotepath=false", "ls-tree", "-r", "--name-only", "main"]).contains(path));
        assert_import_refused(&root, &g, &format!("{shown:?}"));
    }
}

#[test]
fn git_import_of_a_file_dir_clash_is_refused_and_writes_nothing() {
    let (tmp, root) = new_repo(true);
    let g = git_repo(tmp.path(), 2);
    let blob = git_in(&g, &["hash-object", "-w", "--stdin"], Some(b"x\n"));
    let sub = git_in(&g, &["mktree"], Some(format!("100644 blob {blob}\tb\n").as_bytes()));
    let top = git_in(&g, &["mktree"], Some(format!("100644 blob {blob}\ta\n040000 tree {sub}\ta\n").as_bytes()));
    let parent = git(&g, &["rev-parse", "main"]);
    let c = git(&g, &["commit-tree", &top, "-p", &parent, "-m", "clash"]);
    git(&g, &["update-ref", "refs/heads/main", &c]);
    assert_import_refused(&root, &g, "\"a\"");
}

#[test]
fn an_incremental_git_import_of_a_hostile_commit_writes_nothing() {
    let (tmp, root) = new_repo(true);
    let g = git_repo(tmp.path(), 2);
    let report = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.commits, 2);
    let map = read_git_map(&root).unwrap();
    write(&g, "deep/er/.muse/refs/heads/main", b"planted\n");
    commit_all(&g, "hostile");
    assert_import_refused(&root, &g, "deep/er/.muse");
    assert_eq!(read_git_map(&root).unwrap(), map);
}

#[test]
fn git_branches_muse_refuses_are_imported_as_history_only() {
    let (tmp, root) = new_repo(true);
    let g = git_repo(tmp.path(), 2);
    let tip = git(&g, &["rev-parse", "main"]);
    git(&g, &["update-ref", "refs/heads/HEAD", &tip]);
    git(&g, &["update-ref", "refs/heads/refs/heads/x", &tip]);
    import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    let names: Vec<String> = list_branches(&root).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["main"]);
}

#[test]
fn a_file_turned_into_a_directory_imports_exactly() {
    // fast-export writes `M a/b` before `D a` for this commit; the `D` is
    // the old file's and must not delete the new directory.
    let (tmp, root) = new_repo(true);
    let g = git_repo(tmp.path(), 0);
    write(&g, "a", b"file\n");
    write(&g, "link-target", b"t\n");
    std::os::unix::fs::symlink("link-target", g.join("l")).unwrap();
    commit_all(&g, "file a, symlink l");
    std::fs::remove_file(g.join("a")).unwrap();
    std::fs::remove_file(g.join("l")).unwrap();
    write(&g, "a/b", b"under a\n");
    write(&g, "a.c", b"beside a\n");
    write(&g, "l/inside", b"under l\n");
    commit_all(&g, "a and l are directories");
    import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(verify_git_import(&root, &g).unwrap(), Vec::<String>::new());
    let tip = muse_core::refs::read_branch_ref(&root, "main").unwrap().unwrap();
    let c = muse_core::commits::load_commit(&root, &tip).unwrap();
    let m = read_snapshot(&root, &c.snapshot_id).unwrap().unwrap().manifest;
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a.c", "a/b", "l/inside", "link-target"]);
}
