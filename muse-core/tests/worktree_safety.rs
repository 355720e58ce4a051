//! Working-tree safety (SPEC §12) at the library level: confinement of
//! checkout and merge writes, the index lock, crash-resumable checkout and
//! merge through the operation journal, integrity errors for missing data,
//! and the checked-out branch updated by a bundle (`update_branch`).

mod common;

use std::path::{Path, PathBuf};

use muse_core::error::{Error, ErrorKind};
use muse_core::operation::{self, Operation, OperationKind, Phase};
use muse_core::refs::read_branch_ref;
use muse_core::checkout::BranchUpdate;
use muse_core::commit::CommitOptions;
use muse_core::merge::MergeOutcome;
use muse_core::Repository;

fn repo(root: &Path) -> Repository {
    Repository::open(root).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn add_all(root: &Path) {
    repo(root).add(&[".".to_string()], &mut |_, _| {}).unwrap();
}

fn commit(root: &Path, msg: &str) -> String {
    add_all(root);
    repo(root).commit(&CommitOptions { message: msg.into(), ..Default::default() }).unwrap().commit_id
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// A repository (fsync off) with an `outside` directory beside it.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (dir, root) = common::new_repo(true);
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    (dir, root, outside)
}

fn assert_empty_dir(d: &Path) {
    let names: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.is_empty(), "{} holds {names:?}", d.display());
}

/// main: a.txt. other: a.txt + link/victim.txt.
fn two_branches(root: &Path) {
    write(root, "a.txt", "a\n");
    commit(root, "one");
    repo(root).checkout_branch("other", true, false).unwrap();
    write(root, "link/victim.txt", "victim\n");
    commit(root, "two");
    repo(root).checkout_branch("main", false, false).unwrap();
    assert!(!root.join("link").exists());
}

#[test]
fn checkout_never_writes_through_a_symlinked_directory() {
    let (_d, root, outside) = setup();
    two_branches(&root);
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let err = repo(&root).checkout_branch("other", false, false).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_empty_dir(&outside);
    assert!(operation::read(&root).unwrap().is_none(), "a refused checkout journals nothing");
    // --force removes the link (never its target) and makes a directory.
    repo(&root).checkout_branch("other", false, true).unwrap();
    assert_empty_dir(&outside);
    assert!(root.join("link").symlink_metadata().unwrap().is_dir());
    assert_eq!(read(&root, "link/victim.txt"), "victim\n");
}

#[test]
fn merge_never_writes_through_a_symlinked_directory() {
    let (_d, root, outside) = setup();
    two_branches(&root);
    write(&root, "b.txt", "main side\n");
    commit(&root, "diverge");
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let err = repo(&root).merge("other", "me").unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_empty_dir(&outside);
    assert!(operation::read(&root).unwrap().is_none());
    std::fs::remove_file(root.join("link")).unwrap();
    assert!(matches!(repo(&root).merge("other", "me").unwrap(), MergeOutcome::Merged { .. }));
    assert_eq!(read(&root, "link/victim.txt"), "victim\n");
}

#[test]
fn a_file_can_become_a_directory_and_back() {
    let (_d, root, _o) = setup();
    write(&root, "x", "file\n");
    commit(&root, "x is a file");
    repo(&root).checkout_branch("dir", true, false).unwrap();
    std::fs::remove_file(root.join("x")).unwrap();
    write(&root, "x/y", "nested\n");
    commit(&root, "x is a directory");
    repo(&root).checkout_branch("main", false, false).unwrap();
    assert_eq!(read(&root, "x"), "file\n");
    repo(&root).checkout_branch("dir", false, false).unwrap();
    assert_eq!(read(&root, "x/y"), "nested\n");
}

#[test]
fn concurrent_adds_all_land() {
    let (_d, root, _o) = setup();
    write(&root, "seed", "s\n");
    commit(&root, "seed");
    let threads: Vec<_> = (0..8)
        .map(|k| {
            let root = root.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let rel = format!("f_{k}_{i}.txt");
                    write(&root, &rel, &format!("{k} {i}\n"));
                    repo(&root).add(&[rel], &mut |_, _| {}).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let st = repo(&root).status().unwrap();
    assert_eq!(st.staged.len(), 200, "{:?}", st.staged.len());
}

#[test]
fn an_interrupted_checkout_is_finished_by_running_it_again() {
    let (_d, root, _o) = setup();
    for i in 0..50 {
        write(&root, &format!("f{i}.txt"), &format!("main {i}\n"));
    }
    let main = commit(&root, "main");
    repo(&root).checkout_branch("b2", true, false).unwrap();
    for i in 0..50 {
        write(&root, &format!("f{i}.txt"), &format!("b2 {i}\n"));
    }
    write(&root, "new/only-b2.txt", "new\n");
    let b2 = commit(&root, "b2");
    repo(&root).checkout_branch("main", false, false).unwrap();
    // The state a SIGKILL mid-checkout leaves: the journal, half the files.
    let op = Operation {
        kind: OperationKind::Checkout,
        target: "b2".into(),
        branch: Some("b2".into()),
        from: Some(main.clone()),
        to: Some(b2.clone()),
        theirs: None,
        conflicts: vec![],
        move_branch: false,
        force: false,
        phase: Phase::Applying,
        message: None,
        author: None,
    };
    operation::write(&root, &op).unwrap();
    for i in 0..25 {
        write(&root, &format!("f{i}.txt"), &format!("b2 {i}\n"));
    }
    let st = repo(&root).status().unwrap();
    assert_eq!(st.operation.as_ref().map(|o| o.kind), Some(OperationKind::Checkout));
    // Other stage-changing commands refuse, naming the way out.
    let err = repo(&root).add(&[".".to_string()], &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("muse checkout b2"), "{err}");
    let report = repo(&root).checkout_branch("b2", false, false).unwrap();
    assert_eq!(report.resumed.as_deref(), Some("b2"));
    let st = repo(&root).status().unwrap();
    assert!(st.is_clean() && st.operation.is_none(), "{st:?}");
    assert_eq!(st.branch.as_deref(), Some("b2"));
    assert_eq!(read(&root, "f49.txt"), "b2 49\n");
    assert_eq!(read(&root, "new/only-b2.txt"), "new\n");
}

/// main and topic each change different files of a common base, and both
/// change `both.txt` (a conflict).
fn diverged(root: &Path) -> (String, String) {
    for i in 0..20 {
        write(root, &format!("f{i}.txt"), &format!("base {i}\n"));
    }
    write(root, "both.txt", "base\n");
    commit(root, "base");
    repo(root).checkout_branch("topic", true, false).unwrap();
    for i in 0..10 {
        write(root, &format!("f{i}.txt"), &format!("topic {i}\n"));
    }
    write(root, "both.txt", "topic\n");
    write(root, "added/by-topic.txt", "t\n");
    let topic = commit(root, "topic");
    repo(root).checkout_branch("main", false, false).unwrap();
    write(root, "f15.txt", "main 15\n");
    write(root, "both.txt", "main\n");
    let main = commit(root, "main");
    (main, topic)
}

#[test]
fn an_interrupted_merge_is_aborted_back_to_head() {
    let (_d, root, _o) = setup();
    let (main, topic) = diverged(&root);
    let op = Operation {
        kind: OperationKind::Merge,
        target: "topic".into(),
        branch: Some("main".into()),
        from: Some(main.clone()),
        to: None,
        theirs: Some(topic.clone()),
        conflicts: vec![],
        move_branch: true,
        force: false,
        phase: Phase::Applying,
        message: None,
        author: None,
    };
    operation::write(&root, &op).unwrap();
    // Half of what the merge writes.
    for i in 0..5 {
        write(&root, &format!("f{i}.txt"), &format!("topic {i}\n"));
    }
    write(&root, "added/by-topic.txt", "t\n");
    let err = repo(&root).commit(&CommitOptions { message: "x".into(), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("merge --abort"), "{err}");
    repo(&root).merge_abort().unwrap();
    let st = repo(&root).status().unwrap();
    assert!(st.is_clean() && st.operation.is_none(), "{st:?}");
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(main.as_str()));
    assert_eq!(read(&root, "f0.txt"), "base 0\n");
    assert!(!root.join("added").exists());
}

#[test]
fn an_interrupted_merge_is_finished_by_running_it_again() {
    let (_d, root, _o) = setup();
    let (main, topic) = diverged(&root);
    let op = Operation {
        kind: OperationKind::Merge,
        target: "topic".into(),
        branch: Some("main".into()),
        from: Some(main),
        to: None,
        theirs: Some(topic),
        conflicts: vec![],
        move_branch: true,
        force: false,
        phase: Phase::Applying,
        message: None,
        author: None,
    };
    operation::write(&root, &op).unwrap();
    write(&root, "f0.txt", "topic 0\n");
    let out = repo(&root).merge("topic", "me").unwrap();
    assert_eq!(out, MergeOutcome::Conflicts { paths: vec!["both.txt".into()] });
    assert_eq!(read(&root, "f9.txt"), "topic 9\n");
    let st = repo(&root).status().unwrap();
    assert_eq!(st.operation.as_ref().map(|o| o.phase), Some(Phase::Conflicts));
    // Resolve and commit: two parents, the journal gone.
    write(&root, "both.txt", "resolved\n");
    add_all(&root);
    let rec = repo(&root).commit(&CommitOptions { message: "merged".into(), ..Default::default() }).unwrap();
    assert!(rec.parent2_commit_id.is_some());
    assert!(operation::read(&root).unwrap().is_none());
}

#[test]
fn a_conflicted_merge_aborts_exactly() {
    let (_d, root, _o) = setup();
    let (main, _topic) = diverged(&root);
    write(&root, "untracked-keep.txt", "mine\n");
    assert!(matches!(repo(&root).merge("topic", "me").unwrap(), MergeOutcome::Conflicts { .. }));
    assert!(read(&root, "both.txt").contains("<<<<<<<"));
    repo(&root).merge_abort().unwrap();
    assert_eq!(read(&root, "both.txt"), "main\n");
    assert_eq!(read(&root, "untracked-keep.txt"), "mine\n");
    let st = repo(&root).status().unwrap();
    assert!(st.staged.is_empty() && st.unstaged.is_empty() && st.operation.is_none());
    assert_eq!(st.head.as_deref(), Some(main.as_str()));
    assert!(repo(&root).merge_abort().is_err(), "nothing left to abort");
}

#[test]
fn a_missing_snapshot_of_head_is_an_integrity_error() {
    let (_d, root, _o) = setup();
    write(&root, "a", "a\n");
    let c = commit(&root, "one");
    let rec = muse_core::commits::load_commit(&root, &c).unwrap();
    let snap = muse_core::paths::snapshot_path(&root, &rec.snapshot_id).unwrap();
    std::fs::remove_file(&snap).unwrap();
    let err = repo(&root).status().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(matches!(&err, Error::Missing { id, .. } if *id == rec.snapshot_id), "{err}");
    // A branch ref naming a missing commit, likewise.
    let (_d2, root2, _o2) = setup();
    muse_core::refs::write_branch_ref(&root2, "main", &muse_core::ids::fake_id("gone")).unwrap();
    let err = repo(&root2).status().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("refs/heads/main"), "{err}");
}

#[test]
fn a_bundle_update_of_the_checked_out_branch_carries_a_clean_tree_or_refuses() {
    let (_d, root, _o) = setup();
    write(&root, "a", "1\n");
    let one = commit(&root, "one");
    write(&root, "b", "2\n");
    let two = commit(&root, "two");
    // Put main back at `one` (as if `two` had arrived from elsewhere).
    repo(&root).checkout_branch("side", true, false).unwrap();
    muse_core::refs::write_branch_ref(&root, "main", &one).unwrap();
    repo(&root).checkout_branch("main", false, true).unwrap();
    assert!(!root.join("b").exists());
    // Dirty: refused, nothing moves.
    write(&root, "a", "local edit\n");
    assert!(matches!(repo(&root).update_branch("main", &two).unwrap(), BranchUpdate::Refused(_)));
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(one.as_str()));
    // Clean: the branch and the files move together.
    write(&root, "a", "1\n");
    assert_eq!(repo(&root).update_branch("main", &two).unwrap(), BranchUpdate::FastForwarded);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(two.as_str()));
    assert_eq!(read(&root, "b"), "2\n");
    assert!(repo(&root).status().unwrap().is_clean());
    // Not a fast-forward: refused.
    assert_eq!(repo(&root).update_branch("main", &one).unwrap(), BranchUpdate::NotFastForward);
    assert_eq!(repo(&root).update_branch("main", &two).unwrap(), BranchUpdate::UpToDate);
}

#[test]
fn a_held_index_lock_makes_commands_wait_then_fail_naming_it() {
    let (_d, root, _o) = setup();
    common::set_config(&root, "[core]\nfsync = \"off\"\nlock_timeout = 0.2\n");
    write(&root, "a", "a\n");
    let held = muse_core::lock::index_lock(&root).unwrap();
    let err = repo(&root).add(&["a".to_string()], &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("index.lock"), "{err}");
    drop(held);
    repo(&root).add(&["a".to_string()], &mut |_, _| {}).unwrap();
}
