//! The porcelain through [`Repository`] (SPEC §11): add, commit, status,
//! checkout, merge (clean and conflicting), branches, revisions, diff and
//! log. Every scenario runs twice: on the filesystem store and on the
//! in-memory store, which proves the porcelain depends on the storage
//! traits only.

use std::path::Path;

use muse_core::checkout::CheckoutReport;
use muse_core::commit::CommitOptions;
use muse_core::manifest::ChangeKind;
use muse_core::merge::MergeOutcome;
use muse_core::status::{FileStatus, StatusEntry};
use muse_core::store::{Backend, MemStore, RefEdit};
use muse_core::{CommitId, Error, ErrorKind, Repository};

fn write(repo: &Repository, rel: &str, text: &str) {
    let p = repo.workdir().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read(repo: &Repository, rel: &str) -> String {
    std::fs::read_to_string(repo.workdir().join(rel)).unwrap()
}

fn commit(repo: &Repository, msg: &str) -> String {
    repo.add_all().unwrap();
    repo.commit(&CommitOptions { message: msg.into(), author: "tester".into(), ..Default::default() }).unwrap().commit_id
}

fn entry(path: &str, index: Option<FileStatus>, worktree: Option<FileStatus>) -> StatusEntry {
    StatusEntry { path: path.into(), index, worktree }
}

/// Runs `body` on a fresh repository of each store kind.
macro_rules! on_both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn fs_store() {
                let dir = tempfile::tempdir().unwrap();
                let repo = Repository::init(dir.path()).unwrap();
                assert_eq!(repo.store().name(), "fs");
                ($body)(&repo);
            }

            #[test]
            fn memory_store() {
                let dir = tempfile::tempdir().unwrap();
                let repo = Repository::in_memory(dir.path()).unwrap();
                assert_eq!(repo.store().name(), "memory");
                ($body)(&repo);
                // Nothing of the store reached the disk.
                assert!(!dir.path().join(".muse/objects").exists());
                assert!(!dir.path().join(".muse/commits").exists());
                assert!(!dir.path().join(".muse/refs").exists());
            }
        }
    };
}

on_both_stores!(add_commit_status_log, |repo: &Repository| {
    assert!(repo.head().unwrap().is_none());
    assert_eq!(repo.head_branch().unwrap().as_deref(), Some("main"));
    write(repo, "a.txt", "one\n");
    write(repo, "dir/b.txt", "bee\n");
    let st = repo.status().unwrap();
    assert_eq!(st.untracked, vec!["a.txt".to_string(), "dir/b.txt".to_string()]);
    assert_eq!(
        st.entries(),
        vec![entry("a.txt", None, Some(FileStatus::Untracked)), entry("dir/b.txt", None, Some(FileStatus::Untracked))]
    );
    let report = repo.add(&["a.txt".to_string()], &mut |_, _| {}).unwrap();
    assert_eq!(report.staged, vec!["a.txt".to_string()]);
    assert_eq!(report.blobs_written, 1);
    let st = repo.status().unwrap();
    assert_eq!(
        st.entries(),
        vec![entry("a.txt", Some(FileStatus::Added), None), entry("dir/b.txt", None, Some(FileStatus::Untracked))]
    );
    let c1 = commit(repo, "first");
    assert!(repo.status().unwrap().is_clean());
    assert_eq!(repo.head().unwrap().unwrap().commit_id, c1);
    assert_eq!(repo.branch_target("main").unwrap().as_deref(), Some(c1.as_str()));
    // Nothing staged: refused.
    let err = repo.commit(&CommitOptions { message: "empty".into(), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("nothing to commit"), "{err}");
    write(repo, "a.txt", "two\n");
    let st = repo.status().unwrap();
    assert_eq!(st.entries(), vec![entry("a.txt", None, Some(FileStatus::Modified))]);
    // commit -a stages tracked changes first.
    let c2 = repo.commit(&CommitOptions { message: "second".into(), all: true, ..Default::default() }).unwrap();
    assert_eq!(c2.parent_commit_id.as_deref(), Some(c1.as_str()));
    std::fs::remove_file(repo.workdir().join("dir/b.txt")).unwrap();
    assert_eq!(repo.status().unwrap().entries(), vec![entry("dir/b.txt", None, Some(FileStatus::Deleted))]);
    let c3 = commit(repo, "third");
    let log: Vec<String> = repo.log("HEAD").unwrap().map(|c| c.unwrap().commit_id).collect();
    assert_eq!(log, vec![c3.clone(), c2.commit_id.clone(), c1.clone()]);
    assert_eq!(repo.log("HEAD").unwrap().take(2).count(), 2);
    assert_eq!(repo.commit_manifest(&c3).unwrap().keys().collect::<Vec<_>>(), vec!["a.txt"]);
    assert_eq!(repo.read_blob(&repo.commit_manifest(&c3).unwrap()["a.txt"]).unwrap(), b"two\n");
});

on_both_stores!(branches_checkout_and_revisions, |repo: &Repository| {
    write(repo, "a.txt", "base\n");
    let base = commit(repo, "base");
    assert_eq!(repo.create_branch("feature", None).unwrap(), base);
    let err = repo.create_branch("feature", None).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(matches!(repo.create_branch("HEAD", None), Err(Error::InvalidRefName { .. })));
    let report: CheckoutReport = repo.checkout("feature", false).unwrap();
    assert_eq!(report.written, 0);
    assert_eq!(repo.head_branch().unwrap().as_deref(), Some("feature"));
    write(repo, "a.txt", "feature\n");
    write(repo, "new.txt", "new\n");
    let f1 = commit(repo, "on feature");
    // Dirty tree: checkout refuses and changes nothing.
    write(repo, "a.txt", "dirty\n");
    let err = repo.checkout("main", false).unwrap_err();
    assert!(err.to_string().contains("local changes"), "{err}");
    assert_eq!(read(repo, "a.txt"), "dirty\n");
    repo.checkout("main", true).unwrap();
    assert_eq!(read(repo, "a.txt"), "base\n");
    assert!(!repo.workdir().join("new.txt").exists());
    assert_eq!(repo.branches().unwrap(), vec![("feature".to_string(), f1.clone()), ("main".to_string(), base.clone())]);
    // Revisions.
    assert_eq!(repo.revparse("feature").unwrap(), f1);
    assert_eq!(repo.revparse("feature~1").unwrap(), base);
    assert_eq!(repo.revparse("feature^").unwrap(), base);
    assert_eq!(repo.revparse("feature^0").unwrap(), f1);
    assert_eq!(repo.revparse("HEAD").unwrap(), base);
    assert_eq!(repo.revparse(&f1[7..19]).unwrap(), f1);
    assert_eq!(repo.revparse(&f1).unwrap(), f1);
    assert!(repo.revparse("HEAD~1").unwrap_err().kind() == ErrorKind::NotFound);
    assert!(repo.revparse("nope").unwrap_err().kind() == ErrorKind::NotFound);
    assert!(repo.revparse("feature^3").unwrap_err().kind() == ErrorKind::NotFound);
    assert_eq!(repo.revparse("~1").unwrap_err().kind(), ErrorKind::InvalidInput);
    for bad in ["HEAD~x", "HEAD~1x", "feature^^y"] {
        assert_eq!(repo.revparse(bad).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad}");
    }
    assert_eq!(repo.revparse("feature^^0").unwrap(), base);
    // Detached checkout of a commit.
    repo.checkout(&f1, false).unwrap();
    assert_eq!(repo.head_branch().unwrap(), None);
    assert_eq!(read(repo, "a.txt"), "feature\n");
    repo.checkout("main", false).unwrap();
    assert_eq!(repo.head_branch().unwrap().as_deref(), Some("main"));
    // Diffs.
    let d = repo.diff(Some("main"), Some("feature")).unwrap();
    let got: Vec<(&str, ChangeKind)> = d.iter().map(|e| (e.path.as_str(), e.status)).collect();
    assert_eq!(got, vec![("a.txt", ChangeKind::Modified), ("new.txt", ChangeKind::Added)]);
    assert_eq!(d[1].old_id, None);
    assert_eq!(d[0].new_id.as_deref(), Some(repo.commit_manifest(&f1).unwrap()["a.txt"].as_str()));
    write(repo, "a.txt", "edited\n");
    let d = repo.diff(None, None).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].path.as_str(), d[0].status), ("a.txt", ChangeKind::Modified));
    // Branch deletion rules.
    let err = repo.delete_branch("main", true).unwrap_err();
    assert!(err.to_string().contains("HEAD is on"), "{err}");
    // Not merged into HEAD: refused unless forced (git's -d / -D).
    let err = repo.delete_branch("feature", false).unwrap_err();
    assert!(err.to_string().contains("not fully merged"), "{err}");
    repo.create_branch("behind", Some("HEAD")).unwrap();
    assert_eq!(repo.delete_branch("behind", false).unwrap(), repo.revparse("HEAD").unwrap());
    assert_eq!(repo.delete_branch("feature", true).unwrap(), f1);
    assert!(repo.delete_branch("feature", true).unwrap_err().kind() == ErrorKind::NotFound);
});

on_both_stores!(merges, |repo: &Repository| {
    write(repo, "a.txt", "a\n");
    write(repo, "b.txt", "b\n");
    let base = commit(repo, "base");
    repo.create_branch("topic", None).unwrap();
    // Fast-forward.
    repo.checkout("topic", false).unwrap();
    write(repo, "b.txt", "b topic\n");
    let t1 = commit(repo, "topic 1");
    repo.checkout("main", false).unwrap();
    assert_eq!(repo.merge("topic", "me").unwrap(), MergeOutcome::FastForward { commit: t1.clone() });
    assert_eq!(read(repo, "b.txt"), "b topic\n");
    assert_eq!(repo.merge("topic", "me").unwrap(), MergeOutcome::UpToDate);
    // Clean three-way merge: each side changes another file.
    repo.checkout("topic", false).unwrap();
    write(repo, "c.txt", "c from topic\n");
    let t2 = commit(repo, "topic 2");
    repo.checkout("main", false).unwrap();
    write(repo, "a.txt", "a main\n");
    let m1 = commit(repo, "main 1");
    let MergeOutcome::Merged { commit: merged } = repo.merge("topic", "me").unwrap() else { panic!("not merged") };
    let rec = repo.find_commit(&merged).unwrap();
    assert_eq!(rec.parent_commit_id.as_deref(), Some(m1.as_str()));
    assert_eq!(rec.parent2_commit_id.as_deref(), Some(t2.as_str()));
    assert_eq!((read(repo, "a.txt"), read(repo, "c.txt")), ("a main\n".to_string(), "c from topic\n".to_string()));
    assert!(repo.status().unwrap().is_clean());
    assert_eq!(repo.merge_base(&m1, &t2).unwrap().as_deref(), Some(t1.as_str()));
    // The log walks both parents, each commit once.
    let log: Vec<String> = repo.log("HEAD").unwrap().map(|c| c.unwrap().commit_id).collect();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0], merged);
    assert!(log.contains(&t2) && log.contains(&m1) && log.contains(&base));
    // Conflict: both sides change a.txt.
    repo.checkout("topic", false).unwrap();
    write(repo, "a.txt", "a topic\n");
    let t3 = commit(repo, "topic 3");
    repo.checkout("main", false).unwrap();
    write(repo, "a.txt", "a main again\n");
    let m2 = commit(repo, "main 2");
    assert_eq!(repo.merge("topic", "me").unwrap(), MergeOutcome::Conflicts { paths: vec!["a.txt".into()] });
    let text = read(repo, "a.txt");
    assert!(text.starts_with("<<<<<<< HEAD\na main again\n||||||| base\n"), "{text}");
    assert!(text.ends_with("=======\na topic\n>>>>>>> topic\n"), "{text}");
    assert!(repo.status().unwrap().operation.is_some());
    // A second merge is refused; abort restores the pre-merge tree.
    assert!(repo.merge("topic", "me").is_err());
    repo.merge_abort().unwrap();
    assert_eq!(read(repo, "a.txt"), "a main again\n");
    assert!(repo.status().unwrap().is_clean());
    assert_eq!(repo.branch_target("main").unwrap().as_deref(), Some(m2.as_str()));
    // Again, then resolve and commit: two parents.
    assert!(matches!(repo.merge("topic", "me").unwrap(), MergeOutcome::Conflicts { .. }));
    let err = repo.commit(&CommitOptions { message: "too early".into(), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("resolve"), "{err}");
    write(repo, "a.txt", "a resolved\n");
    let resolved = commit(repo, "resolve");
    let rec = repo.find_commit(&resolved).unwrap();
    assert_eq!(rec.parent_commit_id.as_deref(), Some(m2.as_str()));
    assert_eq!(rec.parent2_commit_id.as_deref(), Some(t3.as_str()));
    assert!(repo.status().unwrap().operation.is_none());
    assert_eq!(repo.revparse("HEAD^2").unwrap(), t3);
});

/// Twenty numbered lines, with `edits` (line number, new text) applied.
fn lines(edits: &[(usize, &str)]) -> String {
    (1..=20)
        .map(|i| edits.iter().find(|(n, _)| *n == i).map_or(format!("line {i}\n"), |(_, t)| format!("{t}\n")))
        .collect()
}

on_both_stores!(line_level_merge, |repo: &Repository| {
    write(repo, "f.txt", &lines(&[]));
    write(repo, "img.bin", "\0base");
    commit(repo, "base");
    repo.create_branch("topic", None).unwrap();
    // Two edits of one file, far apart: merged cleanly (git does too).
    repo.checkout("topic", false).unwrap();
    write(repo, "f.txt", &lines(&[(1, "topic's first line")]));
    commit(repo, "topic: line 1");
    repo.checkout("main", false).unwrap();
    write(repo, "f.txt", &lines(&[(20, "main's last line")]));
    commit(repo, "main: line 20");
    let MergeOutcome::Merged { commit: merged } = repo.merge("topic", "me").unwrap() else { panic!("not merged") };
    let both = lines(&[(1, "topic's first line"), (20, "main's last line")]);
    assert_eq!(read(repo, "f.txt"), both);
    assert!(repo.status().unwrap().is_clean());
    // The merged content is stored: the merge commit checks out anywhere.
    let manifest = repo.commit_manifest(&merged).unwrap();
    assert_eq!(repo.read_blob(&manifest["f.txt"]).unwrap(), both.as_bytes());

    // Overlapping edits: markers around that hunk only, with the base.
    repo.checkout("topic", false).unwrap();
    write(repo, "f.txt", &lines(&[(1, "topic's first line"), (10, "ten from topic")]));
    write(repo, "img.bin", "\0topic");
    let t = commit(repo, "topic: line 10");
    repo.checkout("main", false).unwrap();
    write(repo, "f.txt", &lines(&[(1, "topic's first line"), (10, "ten from main"), (20, "main's last line")]));
    write(repo, "img.bin", "\0main");
    let m = commit(repo, "main: line 10");
    let out = repo.merge("topic", "me").unwrap();
    assert_eq!(out, MergeOutcome::Conflicts { paths: vec!["f.txt".into(), "img.bin".into()] });
    let expected = lines(&[(1, "topic's first line"), (20, "main's last line")]).replace(
        "line 10\n",
        "<<<<<<< HEAD\nten from main\n||||||| base\nline 10\n=======\nten from topic\n>>>>>>> topic\n",
    );
    assert_eq!(read(repo, "f.txt"), expected);
    // A binary file is not merged: ours stays, whole.
    assert_eq!(read(repo, "img.bin"), "\0main");
    // Abort puts the pre-merge files back; resolving records both parents.
    repo.merge_abort().unwrap();
    assert_eq!(read(repo, "f.txt"), lines(&[(1, "topic's first line"), (10, "ten from main"), (20, "main's last line")]));
    assert!(repo.status().unwrap().is_clean());
    assert!(matches!(repo.merge("topic", "me").unwrap(), MergeOutcome::Conflicts { .. }));
    write(repo, "f.txt", &lines(&[(10, "ten, resolved")]));
    let resolved = commit(repo, "resolved");
    let rec = repo.find_commit(&resolved).unwrap();
    assert_eq!((rec.parent_commit_id, rec.parent2_commit_id), (Some(m), Some(t)));
});

on_both_stores!(tags, |repo: &Repository| {
    write(repo, "a.txt", "1\n");
    let c1 = commit(repo, "one");
    write(repo, "a.txt", "2\n");
    let c2 = commit(repo, "two");
    assert!(repo.tags().unwrap().is_empty());
    assert_eq!(repo.create_tag("v1", Some("HEAD~1"), false).unwrap(), c1);
    assert_eq!(repo.create_tag("v2", None, false).unwrap(), c2);
    assert_eq!(repo.tags().unwrap(), vec![("v1".to_string(), c1.clone()), ("v2".to_string(), c2.clone())]);
    // Tags are revisions, with ~ and ^, and win over a branch of the same
    // name (git's ref lookup order).
    assert_eq!(repo.revparse("v2~1").unwrap(), c1);
    repo.create_branch("v1", Some("v2")).unwrap();
    assert_eq!(repo.revparse("v1").unwrap(), c1);
    // An existing tag is refused unless forced; delete returns the commit.
    let e = repo.create_tag("v1", Some("v2"), false).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(repo.create_tag("v1", Some("v2"), true).unwrap(), c2);
    assert_eq!(repo.delete_tag("v1").unwrap(), c2);
    assert_eq!(repo.delete_tag("v1").unwrap_err().kind(), ErrorKind::NotFound);
    assert!(matches!(repo.create_tag("bad name", None, false), Err(Error::InvalidRefName { .. })));
    assert_eq!(repo.revparse("v1").unwrap(), c2, "the branch v1 remains");
});

#[test]
fn an_ambiguous_short_id_lists_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    // Commits until two share their first four hex digits.
    let mut seen = std::collections::HashMap::new();
    let mut i = 0;
    let (a, b) = loop {
        write(&repo, "f", &i.to_string());
        let c = commit(&repo, &format!("c{i}"));
        if let Some(prev) = seen.insert(c[7..11].to_string(), c.clone()) {
            break (prev, c);
        }
        i += 1;
    };
    let e = repo.revparse(&a[7..11]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ambiguous") && msg.contains(&a[7..19]) && msg.contains(&b[7..19]), "{msg}");
    // More digits resolve it.
    let n = (0..64).find(|&n| a[7..7 + n] != b[7..7 + n]).unwrap() + 1;
    assert_eq!(repo.revparse(&a[7..7 + n.max(4)]).unwrap(), a);
}

on_both_stores!(reset_restore_rm_mv, |repo: &Repository| {
    use muse_core::reset::{ResetMode, RestoreOptions};
    write(repo, "a.txt", "1\n");
    write(repo, "d/b.txt", "b\n");
    let c1 = commit(repo, "one");
    write(repo, "a.txt", "2\n");
    let c2 = commit(repo, "two");
    // --soft: HEAD moves, the difference shows as staged.
    repo.reset(Some(&c1), ResetMode::Soft).unwrap();
    assert_eq!(repo.revparse("HEAD").unwrap(), c1);
    assert_eq!(repo.status().unwrap().staged, vec![("a.txt".to_string(), ChangeKind::Modified)]);
    // --mixed: the stage empties, the working tree keeps "2".
    repo.reset(Some(&c2), ResetMode::Soft).unwrap();
    repo.reset(Some(&c1), ResetMode::Mixed).unwrap();
    let st = repo.status().unwrap();
    assert!(st.staged.is_empty() && st.unstaged == vec![("a.txt".to_string(), ChangeKind::Modified)]);
    assert_eq!(read(repo, "a.txt"), "2\n");
    // --hard: tracked files rewritten; a staged new file goes, an untracked one stays.
    write(repo, "new.txt", "staged new\n");
    repo.add(&["new.txt".to_string()], &mut |_, _| {}).unwrap();
    write(repo, "untracked.txt", "keep\n");
    repo.reset(Some(&c2), ResetMode::Hard).unwrap();
    assert_eq!(repo.revparse("main").unwrap(), c2);
    assert_eq!(read(repo, "a.txt"), "2\n");
    assert!(!repo.workdir().join("new.txt").exists());
    assert_eq!(read(repo, "untracked.txt"), "keep\n");
    std::fs::remove_file(repo.workdir().join("untracked.txt")).unwrap();
    assert!(repo.status().unwrap().is_clean());

    // restore: the working tree from the stage, the stage from HEAD, or a revision.
    write(repo, "a.txt", "edited\n");
    repo.add_all().unwrap();
    write(repo, "a.txt", "edited again\n");
    let wt = RestoreOptions::default();
    assert_eq!(repo.restore(&["a.txt".into()], &wt).unwrap(), vec!["a.txt".to_string()]);
    assert_eq!(read(repo, "a.txt"), "edited\n");
    repo.restore(&["a.txt".into()], &RestoreOptions { staged: true, ..Default::default() }).unwrap();
    let st = repo.status().unwrap();
    assert!(st.staged.is_empty() && st.unstaged.len() == 1);
    repo.restore(&[".".into()], &RestoreOptions { source: Some(c1.clone()), ..Default::default() }).unwrap();
    assert_eq!(read(repo, "a.txt"), "1\n");
    let e = repo.restore(&["nope".into()], &wt).unwrap_err();
    assert!(e.to_string().contains("did not match"), "{e}");
    repo.restore(&["a.txt".into()], &RestoreOptions { source: Some(c2.clone()), ..Default::default() }).unwrap();
    assert!(repo.status().unwrap().is_clean());

    // rm: refused over local edits, --cached keeps the file, else deleted.
    write(repo, "a.txt", "local edit\n");
    assert!(repo.remove(&["a.txt".into()], false, false).unwrap_err().to_string().contains("local modifications"));
    assert_eq!(repo.remove(&["a.txt".into()], true, false).unwrap(), vec!["a.txt".to_string()]);
    assert_eq!(read(repo, "a.txt"), "local edit\n");
    assert_eq!(repo.status().unwrap().staged, vec![("a.txt".to_string(), ChangeKind::Deleted)]);
    repo.reset(None, ResetMode::Hard).unwrap();
    assert_eq!(repo.remove(&["d".into()], false, false).unwrap(), vec!["d/b.txt".to_string()]);
    assert!(!repo.workdir().join("d").exists());
    repo.reset(None, ResetMode::Hard).unwrap();
    assert_eq!(read(repo, "d/b.txt"), "b\n");

    // mv: a file, and a directory into another directory.
    assert_eq!(repo.rename("a.txt", "z.txt").unwrap(), vec![("a.txt".to_string(), "z.txt".to_string())]);
    assert!(!repo.workdir().join("a.txt").exists() && read(repo, "z.txt") == "2\n");
    std::fs::create_dir_all(repo.workdir().join("e")).unwrap();
    assert_eq!(repo.rename("d", "e").unwrap(), vec![("d/b.txt".to_string(), "e/d/b.txt".to_string())]);
    assert!(repo.rename("z.txt", "e").is_ok());
    assert!(repo.rename("missing", "x").unwrap_err().to_string().contains("not tracked"));
    assert!(matches!(repo.rename("e/z.txt", ".muse/x"), Err(Error::InvalidPath { .. })));
    let c3 = commit(repo, "moved");
    let m = repo.commit_manifest(&c3).unwrap();
    assert_eq!(m.keys().cloned().collect::<Vec<_>>(), vec!["e/d/b.txt".to_string(), "e/z.txt".to_string()]);
});

on_both_stores!(cherry_pick_and_revert, |repo: &Repository| {
    write(repo, "f.txt", &lines(&[]));
    commit(repo, "base");
    repo.create_branch("topic", None).unwrap();
    repo.checkout("topic", false).unwrap();
    write(repo, "f.txt", &lines(&[(2, "two on topic")]));
    let t1 = commit(repo, "topic: line 2");
    write(repo, "f.txt", &lines(&[(2, "two on topic"), (19, "nineteen on topic")]));
    write(repo, "new.txt", "added on topic\n");
    let t2 = commit(repo, "topic: line 19 and new.txt");
    repo.checkout("main", false).unwrap();
    write(repo, "f.txt", &lines(&[(10, "ten on main")]));
    let m1 = commit(repo, "main: line 10");
    // Only t2's change comes over (not t1's line 2), as one new commit.
    let MergeOutcome::Merged { commit: picked } = repo.cherry_pick(&t2).unwrap() else { panic!("not picked") };
    let rec = repo.find_commit(&picked).unwrap();
    assert_eq!((rec.parent_commit_id.as_deref(), rec.parent2_commit_id.as_deref()), (Some(m1.as_str()), None));
    assert_eq!((rec.message.as_str(), rec.author.as_str()), ("topic: line 19 and new.txt", "tester"));
    assert_eq!(read(repo, "f.txt"), lines(&[(10, "ten on main"), (19, "nineteen on topic")]));
    assert_eq!(read(repo, "new.txt"), "added on topic\n");
    // Picking it again changes nothing.
    assert_eq!(repo.cherry_pick(&t2).unwrap(), MergeOutcome::UpToDate);
    // Revert undoes it: a new commit, the message says so.
    let MergeOutcome::Merged { commit: reverted } = repo.revert(&picked, "me").unwrap() else { panic!("not reverted") };
    let rec = repo.find_commit(&reverted).unwrap();
    assert!(rec.message.starts_with("Revert \"topic: line 19 and new.txt\""), "{}", rec.message);
    assert_eq!(read(repo, "f.txt"), lines(&[(10, "ten on main")]));
    assert!(!repo.workdir().join("new.txt").exists());
    assert!(repo.status().unwrap().is_clean());

    // A conflicting pick stops; --abort goes back; --continue commits.
    write(repo, "f.txt", &lines(&[(2, "two on main"), (10, "ten on main")]));
    let m2 = commit(repo, "main: line 2");
    let out = repo.cherry_pick(&t1).unwrap();
    assert_eq!(out, MergeOutcome::Conflicts { paths: vec!["f.txt".into()] });
    assert!(read(repo, "f.txt").contains("<<<<<<< HEAD\ntwo on main\n||||||| base\nline 2\n=======\ntwo on topic\n>>>>>>> "));
    let op = repo.status().unwrap().operation.unwrap();
    assert!(op.describe().starts_with("cherry-picking"), "{}", op.describe());
    assert!(repo.merge("topic", "me").is_err(), "one operation at a time");
    repo.merge_abort().unwrap();
    assert_eq!(read(repo, "f.txt"), lines(&[(2, "two on main"), (10, "ten on main")]));
    assert!(repo.status().unwrap().is_clean());
    assert!(matches!(repo.cherry_pick(&t1).unwrap(), MergeOutcome::Conflicts { .. }));
    assert!(repo.pick_continue().unwrap_err().to_string().contains("resolve"), "unresolved");
    write(repo, "f.txt", &lines(&[(2, "two, both"), (10, "ten on main")]));
    repo.add_all().unwrap();
    let done = repo.pick_continue().unwrap();
    assert_eq!((done.message.as_str(), done.parent_commit_id.as_deref(), done.parent2_commit_id), ("topic: line 2", Some(m2.as_str()), None));
    assert!(repo.status().unwrap().operation.is_none());
    assert!(repo.pick_continue().is_err());
});

on_both_stores!(log_first_parent_and_paths, |repo: &Repository| {
    use muse_core::log::LogOptions;
    write(repo, "a.txt", "1\n");
    write(repo, "d/b.txt", "b\n");
    commit(repo, "base");
    repo.create_branch("topic", None).unwrap();
    repo.checkout("topic", false).unwrap();
    write(repo, "d/b.txt", "b topic\n");
    commit(repo, "topic: d/b");
    repo.checkout("main", false).unwrap();
    write(repo, "a.txt", "2\n");
    commit(repo, "main: a");
    repo.merge("topic", "me").unwrap();
    let msgs = |opts: &LogOptions| -> Vec<String> {
        repo.log_with("HEAD", opts).unwrap().map(|c| c.unwrap().message).collect()
    };
    let all = msgs(&LogOptions::default());
    assert_eq!(all.len(), 4);
    let fp = msgs(&LogOptions { first_parent: true, ..Default::default() });
    assert_eq!(fp.len(), 3);
    assert!(!fp.contains(&"topic: d/b".to_string()));
    // Paths: only the commits that changed them (the merge took topic's d/b as is).
    assert_eq!(msgs(&LogOptions { paths: vec!["d".into()], ..Default::default() }), vec!["topic: d/b", "base"]);
    assert_eq!(msgs(&LogOptions { paths: vec!["a.txt".into()], ..Default::default() }), vec!["main: a", "base"]);
});

on_both_stores!(stash_push_apply_pop_drop, |repo: &Repository| {
    write(repo, "f.txt", &lines(&[]));
    write(repo, "g.txt", "gee\n");
    commit(repo, "base");
    assert_eq!(repo.stash_push(None).unwrap(), None, "nothing to stash");
    // Local changes: one staged, one not, one staged new file; an untracked file stays.
    write(repo, "f.txt", &lines(&[(3, "three, local")]));
    write(repo, "g.txt", "gee, staged\n");
    write(repo, "new.txt", "new, staged\n");
    repo.add(&["g.txt".into(), "new.txt".into()], &mut |_, _| {}).unwrap();
    write(repo, "untracked.txt", "stays\n");
    let w = repo.stash_push(Some("my work")).unwrap().unwrap();
    assert_eq!(read(repo, "f.txt"), lines(&[]));
    assert_eq!(read(repo, "g.txt"), "gee\n");
    assert!(!repo.workdir().join("new.txt").exists());
    assert_eq!(read(repo, "untracked.txt"), "stays\n");
    let st = repo.status().unwrap();
    assert!(st.staged.is_empty() && st.unstaged.is_empty());
    let list = repo.stash_list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].commit.as_str(), list[0].message.as_str()), (w.as_str(), "On main: my work"));
    // Meanwhile HEAD moves on, touching another line of f.txt.
    write(repo, "f.txt", &lines(&[(18, "eighteen, committed")]));
    commit(repo, "more");
    // pop: merged line by line with HEAD; the entry is dropped.
    assert!(matches!(repo.stash_pop(0).unwrap(), MergeOutcome::Merged { .. }));
    assert_eq!(read(repo, "f.txt"), lines(&[(3, "three, local"), (18, "eighteen, committed")]));
    assert_eq!(read(repo, "g.txt"), "gee, staged\n");
    assert_eq!(read(repo, "new.txt"), "new, staged\n");
    assert!(repo.stash_list().unwrap().is_empty());
    // A conflicting apply keeps the entry; drop removes it.
    repo.stash_push(None).unwrap().unwrap();
    write(repo, "f.txt", &lines(&[(3, "three, other"), (18, "eighteen, committed")]));
    commit(repo, "conflicting");
    assert_eq!(repo.stash_pop(0).unwrap(), MergeOutcome::Conflicts { paths: vec!["f.txt".into()] });
    assert!(read(repo, "f.txt").contains("<<<<<<< HEAD\nthree, other\n"));
    assert_eq!(repo.stash_list().unwrap().len(), 1);
    assert!(repo.stash_apply(0).is_err(), "the tree has the conflicted changes");
    repo.reset(None, muse_core::reset::ResetMode::Hard).unwrap();
    repo.stash_drop(0).unwrap();
    assert!(repo.stash_list().unwrap().is_empty());
    assert_eq!(repo.stash_drop(0).unwrap_err().kind(), ErrorKind::NotFound);
});

on_both_stores!(ref_transactions, |repo: &Repository| {
    write(repo, "a.txt", "a\n");
    let c1 = CommitId::parse(&commit(repo, "one")).unwrap();
    write(repo, "a.txt", "b\n");
    let c2 = CommitId::parse(&commit(repo, "two")).unwrap();
    let store: &dyn Backend = repo.store();
    let edit = |b: &str, expected: Option<Option<CommitId>>, new: Option<CommitId>| RefEdit { branch: b.into(), expected, new };
    // All or nothing: the second expectation fails, so x is not created.
    let err = store.transaction(&[edit("x", Some(None), Some(c1)), edit("main", Some(Some(c1)), Some(c1))]).unwrap_err();
    assert!(matches!(err, Error::RefConflict { .. }), "{err}");
    assert_eq!(store.branch("x").unwrap(), None);
    store.transaction(&[edit("x", Some(None), Some(c1)), edit("main", Some(Some(c2)), Some(c1))]).unwrap();
    assert_eq!(store.branch("x").unwrap(), Some(c1));
    assert_eq!(store.branch("main").unwrap(), Some(c1));
    store.transaction(&[edit("x", None, None)]).unwrap();
    assert_eq!(store.branch("x").unwrap(), None);
});

#[test]
fn open_discover_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Repository::open(dir.path()), Err(Error::NotARepository { .. })));
    let repo = Repository::init(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    let found = Repository::discover(Some(&dir.path().join("sub/deeper"))).unwrap();
    assert_eq!(found.workdir(), repo.workdir());
    let via_dot = Repository::open(dir.path().join(".muse")).unwrap();
    assert_eq!(via_dot.workdir(), repo.workdir());
    assert!(Repository::init(dir.path()).is_err());
    assert!(matches!(repo.read_blob("sha256:zz"), Err(Error::InvalidId { .. })));
    assert!(repo.find_commit(&muse_core::ids::fake_id("x")).unwrap_err().kind() == ErrorKind::NotFound);
}

#[test]
fn stores_share_one_seam() {
    // A MemStore handed in by the caller is the one the repository uses.
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::new();
    let repo = Repository::with_store(dir.path(), std::sync::Arc::new(store.clone())).unwrap();
    write(&repo, "f", "x");
    commit(&repo, "one");
    assert_eq!(store.blob_count(), 1);
    assert!(Path::new(&dir.path().join(".muse")).is_dir());
}

#[test]
fn the_configuration_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    assert_eq!(repo.config().unwrap().max_ancestors, muse_core::config::DEFAULT_MAX_ANCESTORS);
    // A change made after the handle was opened applies to the next call,
    // as git reads its configuration per command...
    std::fs::write(dir.path().join(".muse/config.toml"), "[limits]\nmax_ancestors = 7\n").unwrap();
    assert_eq!(repo.config().unwrap().max_ancestors, 7);
    write(&repo, "a", "1");
    let c = commit(&repo, "one");
    assert_eq!(repo.merge_base(&c, &c).unwrap(), Some(c.clone()));
    // ...and a file that does not parse is an error of every call that
    // reads it, and of opening.
    std::fs::write(dir.path().join(".muse/config.toml"), "[limits]\nmax_ancestors = -1\n").unwrap();
    assert!(matches!(repo.config(), Err(Error::Config { .. })));
    assert!(matches!(repo.merge_base(&c, &c), Err(Error::Config { .. })));
    assert!(matches!(Repository::open(dir.path()), Err(Error::Config { .. })));
    repo.clear_caches();
    std::fs::write(dir.path().join(".muse/config.toml"), "").unwrap();
    assert_eq!(repo.config().unwrap().max_ancestors, muse_core::config::DEFAULT_MAX_ANCESTORS);
}

#[test]
fn log_reports_a_missing_parent_as_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    write(&repo, "a", "1");
    let c1 = commit(&repo, "one");
    write(&repo, "a", "2");
    let c2 = commit(&repo, "two");
    std::fs::remove_file(dir.path().join(".muse/commits").join(format!("{}.msgpack", &c1[7..]))).unwrap();
    let mut log = repo.log("HEAD").unwrap();
    assert_eq!(log.next().unwrap().unwrap().commit_id, c2);
    let err = log.next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains(&c1) && err.to_string().contains(&c2), "{err}");
    assert!(log.next().is_none());
}

on_both_stores!(create_commit_from_parts, |repo: &Repository| {
    use muse_core::commit::NewCommit;
    write(repo, "a", "1");
    let c1 = commit(repo, "one");
    repo.create_branch("side", None).unwrap();
    write(repo, "a", "2");
    let c2 = commit(repo, "two");
    let snap = repo.find_commit(&c2).unwrap().snapshot_id;
    let parents = [c2.as_str(), c1.as_str()];
    let merge = repo
        .create_commit(&NewCommit { branch: "main", snapshot_id: &snap, message: "merge", author: "me", parents: &parents })
        .unwrap();
    assert_eq!(merge.parent_commit_id.as_deref(), Some(c2.as_str()));
    assert_eq!(merge.parent2_commit_id.as_deref(), Some(c1.as_str()));
    assert_eq!(repo.find_commit(&merge.commit_id).unwrap(), merge);
    // No ref moved.
    assert_eq!(repo.branch_target("main").unwrap().as_deref(), Some(c2.as_str()));
    let missing = muse_core::ids::fake_id("nope");
    let err = repo
        .create_commit(&NewCommit { branch: "main", snapshot_id: &snap, message: "m", author: "", parents: &[missing.as_str()] })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { what: "parent commit", .. }), "{err}");
    let err = repo
        .create_commit(&NewCommit { branch: "main", snapshot_id: &missing, message: "m", author: "", parents: &[] })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { what: "snapshot", .. }), "{err}");
    let three = [c1.as_str(), c2.as_str(), c1.as_str()];
    let err = repo
        .create_commit(&NewCommit { branch: "main", snapshot_id: &snap, message: "m", author: "", parents: &three })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
});

/// Bundles move history between any two backends: the filesystem store to
/// the in-memory store and back, incrementally, with the same counts and
/// the same refusal of a bundle whose history the receiver lacks.
#[test]
fn bundles_cross_between_stores() {
    use muse_core::mpack::Limits;
    let (d1, d2, d3) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fs_a = Repository::init(d1.path()).unwrap();
    let mem = Repository::in_memory(d2.path()).unwrap();
    let fs_b = Repository::init(d3.path()).unwrap();
    write(&fs_a, "a.txt", "one\n");
    write(&fs_a, "d/b.txt", "bee\n");
    let c1: CommitId = commit(&fs_a, "first").parse().unwrap();
    write(&fs_a, "a.txt", "two\n");
    std::fs::remove_file(fs_a.workdir().join("d/b.txt")).unwrap();
    let c2: CommitId = commit(&fs_a, "second").parse().unwrap();

    // Whole history into memory.
    let full = fs_a.build_mpack(&[c2], &[]).unwrap();
    assert_eq!((full.commits.len(), full.blobs.len()), (2, 3));
    assert_eq!(full.branch_heads.get("main"), Some(&c2.to_string()));
    let limits = Limits::default();
    let st = mem.apply_mpack(&full, &limits).unwrap();
    assert_eq!((st.commits_written, st.snapshots_written, st.blobs_written, st.blobs_skipped), (2, 2, 3, 0));
    assert!(mem.store().has_commit(&c1).unwrap() && mem.store().has_commit(&c2).unwrap());
    assert_eq!(mem.read_blob(&full.blobs[0].blob_id).unwrap(), full.blobs[0].content);
    // Applying again stores nothing new.
    let again = mem.apply_mpack(&full, &limits).unwrap();
    assert_eq!((again.commits_written, again.blobs_written, again.blobs_skipped), (0, 0, 3));

    // From memory onward, incrementally: the second commit alone does not
    // apply to a repository without the first...
    let incremental = mem.build_mpack(&[c2], &[c1]).unwrap();
    assert_eq!(incremental.commits.len(), 1);
    let e = fs_b.apply_mpack(&incremental, &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    assert!(e.to_string().contains("neither"), "{e}");
    assert!(!fs_b.store().has_commit(&c2).unwrap());
    // ...and does after the first.
    fs_b.apply_mpack(&mem.build_mpack(&[c1], &[]).unwrap(), &limits).unwrap();
    let st = fs_b.apply_mpack(&incremental, &limits).unwrap();
    assert_eq!((st.commits_written, st.snapshots_written), (1, 1));
    // The received history is whole on disk: fsck-clean, and its tree checks out.
    assert!(muse_core::verify::verify_repo(fs_b.workdir()).unwrap().is_ok());
    fs_b.compare_and_swap_branch("main", None, &c2.to_string()).unwrap();
    fs_b.checkout("main", true).unwrap();
    assert_eq!(read(&fs_b, "a.txt"), "two\n");
    assert!(!fs_b.workdir().join("d/b.txt").exists());
    // And, once its branch moves too, the in-memory store's bundle equals
    // the filesystem's.
    assert!(mem.build_mpack(&[c2], &[]).unwrap().branch_heads.is_empty());
    mem.compare_and_swap_branch("main", None, &c2.to_string()).unwrap();
    assert_eq!(mem.build_mpack(&[c2], &[]).unwrap(), full);
}

/// The operations of the on-disk format refuse another store by name
/// instead of reaching for a directory the store does not use; the record
/// and ref calls behave the same on both stores.
#[test]
fn filesystem_only_operations_name_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Repository::in_memory(dir.path()).unwrap();
    let e = mem.verify().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("\"memory\""), "{e}");
    assert!(mem.find_unreachable().is_err());
    assert!(mem.startup_gc().is_err());
    let opts = muse_core::import_git::ImportOptions::default();
    assert!(mem.import_git(dir.path(), &opts, &mut |_| {}).unwrap_err().to_string().contains("import-git"));
    assert_eq!(mem.with_durability(muse_core::atomic::Durability::Deferred).store().name(), "memory");

    let fs_dir = tempfile::tempdir().unwrap();
    for repo in [Repository::init(fs_dir.path()).unwrap(), mem] {
        let fast = repo.with_durability(muse_core::atomic::Durability::Deferred);
        let id = muse_core::ids::blob_id(b"payload");
        assert!(fast.write_blob_as(&id, b"payload").unwrap());
        assert!(!repo.write_blob_as(&id, b"payload").unwrap());
        assert!(repo.has_blob(&id).unwrap());
        let e = repo.write_blob_as(&muse_core::ids::blob_id(b"other"), b"payload").unwrap_err();
        assert!(matches!(e, Error::HashMismatch { .. }), "{e}");
        // Raw refs: set, delete with and without an expectation.
        write(&repo, "f", "x");
        let c = commit(&repo, "one");
        repo.set_branch("side", &c).unwrap();
        assert_eq!(repo.branch_target("side").unwrap(), Some(c.clone()));
        let wrong = muse_core::ids::fake_id("elsewhere");
        assert!(matches!(repo.delete_branch_ref("side", Some(&wrong)), Err(Error::RefConflict { .. })));
        assert!(repo.delete_branch_ref("side", Some(&c)).unwrap());
        assert!(!repo.delete_branch_ref("side", None).unwrap());
        assert!(matches!(repo.delete_branch_ref("side", Some(&c)), Err(Error::RefConflict { .. })));
        assert_eq!(repo.resolve_head().unwrap(), Some(c.clone()));
        assert_eq!(repo.commit_ids().unwrap(), vec![c.clone()]);
        assert_eq!(repo.first_parent_commits("main", 0).unwrap().len(), 1);
        assert_eq!(repo.walk_between(&c, None, 10).unwrap().commits.len(), 1);
    }
}

/// `gc --prune` keeps stashed work: the entries are roots until dropped.
#[test]
fn prune_keeps_the_stash() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    write(&repo, "f.txt", "one\n");
    commit(&repo, "one");
    write(&repo, "f.txt", "stashed edit\n");
    let w = repo.stash_push(None).unwrap().unwrap();
    let (unreachable, _) = repo.prune_unreachable(std::time::Duration::ZERO).unwrap();
    assert!(!unreachable.commits.contains(&w), "the stash entry is reachable");
    assert!(matches!(repo.stash_pop(0).unwrap(), MergeOutcome::Merged { .. }));
    assert_eq!(read(&repo, "f.txt"), "stashed edit\n");
    // Dropped, it is garbage.
    repo.stash_push(None).unwrap().unwrap();
    let dropped = repo.stash_drop(0).unwrap();
    let (unreachable, _) = repo.prune_unreachable(std::time::Duration::ZERO).unwrap();
    assert!(unreachable.commits.contains(&dropped));
}

/// Long operations report progress to the handle's sink: the files a
/// checkout writes, ending at the total.
#[test]
fn checkout_reports_progress() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    for i in 0..300 {
        write(&repo, &format!("d/f{i}.txt"), "one\n");
    }
    commit(&repo, "one");
    repo.create_branch("two", None).unwrap();
    repo.checkout("two", false).unwrap();
    for i in 0..300 {
        write(&repo, &format!("d/f{i}.txt"), "two\n");
    }
    commit(&repo, "two");
    let seen: Arc<Mutex<Vec<(String, u64, u64)>>> = Arc::default();
    let sink = seen.clone();
    let watched = repo.with_progress(Arc::new(move |what: &str, done, total| {
        sink.lock().unwrap().push((what.to_string(), done, total));
    }));
    watched.checkout("main", false).unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|(w, d, t)| w == "writing files" && *t == 300 && d <= t));
    assert_eq!(seen.iter().map(|s| s.1).max(), Some(300));
}

/// A tracked file that a `.museignore` pattern matches is stashed with its
/// edits, not dropped (git never ignores tracked files).
#[test]
fn stash_keeps_edits_of_a_tracked_file_the_ignore_rules_match() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    write(&repo, "a.log", "one\n");
    write(&repo, "b.txt", "bee\n");
    commit(&repo, "one");
    write(&repo, ".museignore", "*.log\n");
    write(&repo, "a.log", "edited\n");
    repo.stash_push(None).unwrap().unwrap();
    assert_eq!(read(&repo, "a.log"), "one\n");
    let w = repo.stash_list().unwrap()[0].commit.clone();
    let m = repo.commit_manifest(&w).unwrap();
    assert_eq!(repo.read_blob(&m["a.log"]).unwrap(), b"edited\n");
}
