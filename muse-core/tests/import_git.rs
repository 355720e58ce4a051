//! `import_git`: a real git history, built with `git` at test time, imported
//! through `git fast-export`, checked with `verify_git_import`, and
//! re-imported incrementally.

mod common;

use std::path::Path;
use std::process::Command;

use common::new_repo;
use muse_core::commits::load_commit;
use muse_core::import_git::{import_git, read_git_map, verify_git_import, ImportOptions};
use muse_core::object_store::read_object;
use muse_core::refs::{list_branches, read_branch_ref};
use muse_core::snapshots::read_snapshot;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T Ester", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05+01:00")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05+01:00")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
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

#[test]
fn imports_a_real_git_history_and_reimports_incrementally() {
    let (tmp, root) = new_repo(true);
    let g = tmp.path().join("git");
    std::fs::create_dir_all(&g).unwrap();
    git(&g, &["init", "-q", "-b", "main"]);
    write(&g, "README.md", b"hello\n");
    write(&g, "src/lib.rs", b"fn a() {}\n");
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    write(&g, "data/blob.bin", &binary);
    let first = commit_all(&g, "first");
    write(&g, "dir with space/ü 日本.txt", "non-ascii ü\n".as_bytes());
    std::os::unix::fs::symlink("README.md", g.join("link")).unwrap();
    commit_all(&g, "second: unicode path and a symlink");
    git(&g, &["mv", "src/lib.rs", "src/main.rs"]);
    commit_all(&g, "rename");
    git(&g, &["rm", "-q", "data/blob.bin"]);
    commit_all(&g, "delete");
    git(&g, &["commit", "-q", "--allow-empty", "-m", "empty"]);
    git(&g, &["checkout", "-q", "-b", "feature", &first]);
    write(&g, "feature.txt", b"feature\n");
    commit_all(&g, "feature work");
    git(&g, &["checkout", "-q", "main"]);
    git(&g, &["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    git(&g, &["tag", "-a", "v1", "-m", "version 1", &first]);
    git(&g, &["tag", "light"]);

    let mut seen = 0;
    let report = import_git(&root, &g, &ImportOptions { chunk_commits: 2, ..ImportOptions::default() }, &mut |n| seen = n).unwrap();
    assert_eq!(report.commits, 7, "{report:?}");
    assert_eq!(seen, 7);
    assert_eq!(report.symlinks_skipped, 1);
    assert_eq!(report.submodules_skipped, 0);
    assert_eq!(report.branches, 2);
    assert_eq!(report.tags, 2);
    assert!(report.blobs_written >= 5);

    let problems = verify_git_import(&root, &g).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let map = read_git_map(&root).unwrap();
    assert_eq!(map.len(), 7);

    // Branch refs point at the mapped tips.
    let main_sha = git(&g, &["rev-parse", "main"]);
    let feature_sha = git(&g, &["rev-parse", "feature"]);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(map[&main_sha].as_str()));
    assert_eq!(read_branch_ref(&root, "feature").unwrap().as_deref(), Some(map[&feature_sha].as_str()));
    assert_eq!(list_branches(&root).unwrap().len(), 2);
    // Tags.
    let v1 = std::fs::read_to_string(root.join(".muse/tags/v1")).unwrap();
    assert_eq!(v1.trim(), map[&first]);
    let light = std::fs::read_to_string(root.join(".muse/tags/light")).unwrap();
    assert_eq!(light.trim(), map[&main_sha]);

    // The merge has both parents, author and time mapped.
    let merge = load_commit(&root, &map[&main_sha]).unwrap();
    assert_eq!(merge.message.trim(), "merge feature");
    assert_eq!(merge.author, "T Ester <t@example.com>");
    assert_eq!(merge.committed_at, "2024-01-02T03:04:05+01:00");
    assert_eq!(merge.metadata["git_oid"], main_sha);
    assert_eq!(merge.parent2_commit_id.as_deref(), Some(map[&feature_sha].as_str()));
    assert_eq!(merge.branch, "main");

    // An old commit's manifest restores the exact bytes, including binary.
    let old = load_commit(&root, &map[&first]).unwrap();
    assert!(old.parent_commit_id.is_none());
    let m = read_snapshot(&root, &old.snapshot_id).unwrap().unwrap().manifest;
    assert_eq!(m.keys().cloned().collect::<Vec<_>>(), vec!["README.md", "data/blob.bin", "src/lib.rs"]);
    assert_eq!(read_object(&root, &m["data/blob.bin"]).unwrap(), binary);
    let tip = read_snapshot(&root, &merge.snapshot_id).unwrap().unwrap().manifest;
    assert!(tip.contains_key("dir with space/ü 日本.txt"));
    assert!(tip.contains_key("src/main.rs") && !tip.contains_key("src/lib.rs"));
    assert!(!tip.contains_key("data/blob.bin") && !tip.contains_key("link"));
    assert_eq!(read_object(&root, &tip["dir with space/ü 日本.txt"]).unwrap(), "non-ascii ü\n".as_bytes());

    // Incremental: two new git commits, only those are imported.
    write(&g, "README.md", b"hello again\n");
    commit_all(&g, "third");
    write(&g, "new.txt", b"new\n");
    let newest = commit_all(&g, "fourth");
    let again = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(again.commits, 2, "{again:?}");
    let map = read_git_map(&root).unwrap();
    assert_eq!(map.len(), 9);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(map[&newest].as_str()));
    let c = load_commit(&root, &map[&newest]).unwrap();
    let parent = load_commit(&root, c.parent_commit_id.as_deref().unwrap()).unwrap();
    assert_eq!(parent.parent_commit_id.as_deref(), Some(map[&main_sha].as_str()));
    assert!(verify_git_import(&root, &g).unwrap().is_empty());

    // Nothing new: nothing imported.
    let none = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(none.commits, 0, "{none:?}");
}

#[test]
fn octopus_merge_keeps_two_parents_and_records_the_rest() {
    let (tmp, root) = new_repo(true);
    let g = tmp.path().join("git");
    std::fs::create_dir_all(&g).unwrap();
    git(&g, &["init", "-q", "-b", "main"]);
    write(&g, "a", b"a\n");
    let base = commit_all(&g, "base");
    for b in ["x", "y", "z"] {
        git(&g, &["checkout", "-q", "-b", b, &base]);
        write(&g, b, b.as_bytes());
        commit_all(&g, b);
    }
    git(&g, &["checkout", "-q", "main"]);
    git(&g, &["merge", "-q", "-m", "octopus", "x", "y", "z"]);
    let report = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.commits, 5);
    let map = read_git_map(&root).unwrap();
    let tip = load_commit(&root, &map[&git(&g, &["rev-parse", "main"])]).unwrap();
    assert_eq!(tip.parent_commit_id.as_deref(), Some(map[&git(&g, &["rev-parse", "main^1"])].as_str()));
    assert_eq!(tip.parent2_commit_id.as_deref(), Some(map[&git(&g, &["rev-parse", "main^2"])].as_str()));
    assert_eq!(tip.metadata["extra_parents"], map[&git(&g, &["rev-parse", "main^3"])]);
    assert!(verify_git_import(&root, &g).unwrap().is_empty());
}

/// A `git fast-import` stream: 300 commits on `main` over 120 files
/// (2 changed per commit, a file deleted every 10th, a directory every
/// 75th), a branch forked from commit 5 (read back from the store, a few
/// chunks later) and one from commit 150 merged at 260.
fn long_history_stream() -> Vec<u8> {
    let mut out = Vec::new();
    let mut mark = 0u32;
    let mut commit = |out: &mut Vec<u8>, refname: &str, from: Option<u32>, merge: Option<u32>, ops: &[String], msg: &str| {
        mark += 1;
        let ts = 1_700_000_000 + mark;
        out.extend_from_slice(
            format!(
                "commit refs/heads/{refname}\nmark :{mark}\nauthor T <t@e> {ts} +0000\ncommitter T <t@e> {ts} +0000\ndata {}\n{msg}\n",
                msg.len()
            )
            .as_bytes(),
        );
        if let Some(f) = from {
            out.extend_from_slice(format!("from :{f}\n").as_bytes());
        }
        if let Some(m) = merge {
            out.extend_from_slice(format!("merge :{m}\n").as_bytes());
        }
        for op in ops {
            out.extend_from_slice(op.as_bytes());
        }
        out.push(b'\n');
        mark
    };
    let file = |p: &str, content: &str| format!("M 100644 inline {p}\ndata {}\n{content}\n", content.len());
    let path = |i: usize| format!("d{}/f{i:03}.txt", i % 6);
    let mut main_marks = Vec::new();
    let init: Vec<String> = (0..120).map(|i| file(&path(i), &format!("base {i}"))).collect();
    let mut prev = commit(&mut out, "main", None, None, &init, "root");
    main_marks.push(prev);
    let mut side_tip = None;
    for c in 1..300usize {
        let mut ops: Vec<String> = (0..2).map(|j| file(&path((c * 7 + j * 31) % 120), &format!("c{c} j{j}"))).collect();
        if c % 10 == 0 {
            ops.push(format!("D {}\n", path((c * 13) % 120)));
        }
        if c % 75 == 0 {
            ops.push(format!("D d{}\n", c % 6));
        }
        let merge = if c == 260 { side_tip } else { None };
        prev = commit(&mut out, "main", Some(prev), merge, &ops, &format!("main {c}"));
        main_marks.push(prev);
        if c == 150 {
            let mut s = prev;
            for k in 0..20 {
                s = commit(&mut out, "side", Some(s), None, &[file(&format!("side/s{k}.txt"), "s")], &format!("side {k}"));
            }
            side_tip = Some(s);
        }
    }
    let mut old = main_marks[5];
    for k in 0..5 {
        old = commit(&mut out, "old", Some(old), None, &[file(&path(k), "old branch")], &format!("old {k}"));
    }
    out
}

#[test]
fn a_long_branchy_history_imports_exactly_as_skip_deltas() {
    let (tmp, root) = new_repo(true);
    let g = tmp.path().join("git");
    let out = Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&g).output().unwrap();
    assert!(out.status.success());
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&g)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&long_history_stream()).unwrap();
    assert!(child.wait().unwrap().success());

    // Two manifests at hand: the side branches' forks and merges read
    // their first parent's manifest back from the store.
    let opts = ImportOptions { chunk_commits: 64, manifest_cache: 2 };
    let report = import_git(&root, &g, &opts, &mut |_| {}).unwrap();
    assert_eq!(report.commits, 300 + 20 + 5, "{report:?}");
    assert_eq!(verify_git_import(&root, &g).unwrap(), Vec::<String>::new());
    // Every manifest at hand (the default): the same commits, to the ID.
    let (_tmp2, root2) = new_repo(true);
    let again = import_git(&root2, &g, &ImportOptions { chunk_commits: 64, ..ImportOptions::default() }, &mut |_| {}).unwrap();
    assert_eq!(again.commits, report.commits);
    assert_eq!(read_git_map(&root2).unwrap(), read_git_map(&root).unwrap());
    // Stored as deltas: a few full records (the root, and where a delta
    // spanning 64 commits of changes would outgrow a 120-file manifest),
    // and every read follows few bases.
    let (mut full, mut all) = (0, 0);
    for id in muse_core::snapshots::list_snapshot_ids(&root).unwrap() {
        let bases = muse_core::snapshots::snapshot_bases(&root, &id).unwrap();
        assert!(bases.len() <= 10, "{id}: {} bases", bases.len());
        full += bases.is_empty() as usize;
        all += 1;
    }
    assert_eq!(all, 325);
    assert!(full * 20 <= all, "{full} full records");
    assert!(muse_core::verify::verify_repo(&root).unwrap().is_ok());
}
