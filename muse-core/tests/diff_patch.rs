//! Content diffs: git's unified patch format ([`format_patch`],
//! [`Repository::diff_patch`]), the stage-aware diffs, and a round trip
//! through `git apply` of random edits.

use std::path::Path;
use std::process::Command;

use muse_core::commit::CommitOptions;
use muse_core::diff::{filter_paths, format_patch, quote_path, DiffEntry, PatchOptions};
use muse_core::manifest::ChangeKind;
use muse_core::Repository;

fn write(repo: &Repository, rel: &str, bytes: &[u8]) {
    let p = repo.workdir().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn commit(repo: &Repository, msg: &str) -> String {
    repo.add_all().unwrap();
    repo.commit(&CommitOptions { message: msg.into(), author: "tester".into(), ..Default::default() }).unwrap().commit_id
}

fn patch(path: &str, old: Option<&str>, new: Option<&str>) -> String {
    format_patch(path, old.map(str::as_bytes), new.map(str::as_bytes), &PatchOptions::default()).text()
}

fn paths(entries: &[DiffEntry]) -> Vec<(&str, ChangeKind)> {
    entries.iter().map(|e| (e.path.as_str(), e.status)).collect()
}

// ---- exact texts ---------------------------------------------------------

#[test]
fn added_file() {
    assert_eq!(
        patch("dir/new.txt", None, Some("one\ntwo\n")),
        "diff --git a/dir/new.txt b/dir/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/dir/new.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n"
    );
    assert_eq!(
        patch("one.txt", None, Some("only\n")),
        "diff --git a/one.txt b/one.txt\nnew file mode 100644\n--- /dev/null\n+++ b/one.txt\n@@ -0,0 +1 @@\n+only\n"
    );
}

#[test]
fn deleted_file() {
    assert_eq!(
        patch("gone.txt", Some("a\nb\nc\n"), None),
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-a\n-b\n-c\n"
    );
}

#[test]
fn modified_file_with_context_and_two_hunks() {
    let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let new = old.replacen("2\n", "two\n", 1).replace("\n18\n", "\n18\n18b\n");
    assert_eq!(
        patch("n.txt", Some(&old), Some(&new)),
        "diff --git a/n.txt b/n.txt\n--- a/n.txt\n+++ b/n.txt\n\
         @@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
         @@ -16,5 +16,6 @@\n 16\n 17\n 18\n+18b\n 19\n 20\n"
    );
    // -U1, and -U0 (git's `l,0` for an empty side: the line before).
    let p1 = format_patch("n.txt", Some(old.as_bytes()), Some(new.as_bytes()), &PatchOptions { context_lines: 1 }).text();
    assert!(p1.ends_with("@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n@@ -18,2 +18,3 @@\n 18\n+18b\n 19\n"), "{p1}");
    let p0 = format_patch("n.txt", Some(old.as_bytes()), Some(new.as_bytes()), &PatchOptions { context_lines: 0 }).text();
    assert!(p0.ends_with("@@ -2 +2 @@\n-2\n+two\n@@ -18,0 +19 @@\n+18b\n"), "{p0}");
}

#[test]
fn hunks_merge_when_at_most_twice_the_context_apart() {
    // Six unchanged lines between two changes: one hunk with -U3 (git's
    // rule), two with -U2.
    let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
    let new = "1a\n2\n3\n4\n5\n6\n7\n8a\n";
    let p3 = patch("m", Some(old), Some(new));
    assert_eq!(p3.matches("@@ -").count(), 1, "{p3}");
    assert!(p3.contains("@@ -1,8 +1,8 @@\n"), "{p3}");
    let p2 = format_patch("m", Some(old.as_bytes()), Some(new.as_bytes()), &PatchOptions { context_lines: 2 }).text();
    assert!(p2.contains("@@ -1,3 +1,3 @@\n-1\n+1a\n 2\n 3\n@@ -6,3 +6,3 @@\n 6\n 7\n-8\n+8a\n"), "{p2}");
}

#[test]
fn function_name_in_hunk_header() {
    let old = "int x;\nfoo() {\n1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    let new = old.replace("\n5\n", "\nX\n");
    assert_eq!(
        patch("f.c", Some(old), Some(&new)),
        "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -4,7 +4,7 @@ foo() {\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"
    );
}

#[test]
fn no_newline_at_end_of_file() {
    assert_eq!(
        patch("x y.txt", Some("a\nb\n"), Some("a\nc")),
        "diff --git a/x y.txt b/x y.txt\n--- a/x y.txt\t\n+++ b/x y.txt\t\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n"
    );
    assert_eq!(
        patch("t", Some("a\nb"), Some("a\nb\n")),
        "diff --git a/t b/t\n--- a/t\n+++ b/t\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    );
}

#[test]
fn binary_files() {
    let fp = format_patch("b.bin", None, Some(b"\0x"), &PatchOptions::default());
    assert!(fp.binary);
    assert_eq!(fp.line_counts(), None);
    assert_eq!(fp.text(), "diff --git a/b.bin b/b.bin\nnew file mode 100644\nBinary files /dev/null and b/b.bin differ\n");
    let fp = format_patch("b.bin", Some(b"text\n"), Some(b"te\0xt\n"), &PatchOptions::default());
    assert_eq!(fp.text(), "diff --git a/b.bin b/b.bin\nBinary files a/b.bin and b/b.bin differ\n");
    let fp = format_patch("b.bin", Some(b"\0"), None, &PatchOptions::default());
    assert_eq!(fp.text(), "diff --git a/b.bin b/b.bin\ndeleted file mode 100644\nBinary files a/b.bin and /dev/null differ\n");
    // A NUL past git's 8000 bytes does not make a file binary.
    let mut late = vec![b'a'; 8000];
    late.extend_from_slice(b"\0\n");
    assert!(!format_patch("l", Some(b"x\n"), Some(&late), &PatchOptions::default()).binary);
}

#[test]
fn empty_files() {
    assert_eq!(patch("e", None, Some("")), "diff --git a/e b/e\nnew file mode 100644\n");
    assert_eq!(patch("e", Some(""), None), "diff --git a/e b/e\ndeleted file mode 100644\n");
    assert_eq!(patch("e", Some("a\n"), Some("")), "diff --git a/e b/e\n--- a/e\n+++ b/e\n@@ -1 +0,0 @@\n-a\n");
    assert_eq!(patch("e", Some(""), Some("a\n")), "diff --git a/e b/e\n--- a/e\n+++ b/e\n@@ -0,0 +1 @@\n+a\n");
}

#[test]
fn quoted_paths() {
    assert_eq!(quote_path("a/", "x y.txt"), "a/x y.txt");
    assert_eq!(quote_path("a/", "t\u{e9}.txt"), "\"a/t\\303\\251.txt\"");
    assert_eq!(quote_path("b/", "q\"\\\t"), "\"b/q\\\"\\\\\\t\"");
    assert!(patch("t\u{e9}", None, Some("a\n")).starts_with("diff --git \"a/t\\303\\251\" \"b/t\\303\\251\"\n"));
}

#[test]
fn line_counts() {
    let fp = format_patch("c", Some(b"a\nb\nc\n"), Some(b"a\nB\nc\nd\n"), &PatchOptions::default());
    assert_eq!(fp.line_counts(), Some((2, 1)));
}

// ---- the repository ------------------------------------------------------

#[test]
fn repository_patches_and_stage_aware_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    write(&repo, "a.txt", b"one\ntwo\nthree\n");
    write(&repo, "d/b.txt", b"bee\n");
    write(&repo, "gone.txt", b"bye\n");
    let c1 = commit(&repo, "first");
    write(&repo, "a.txt", b"one\n2\nthree\n");
    std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
    write(&repo, "new.txt", b"fresh\n");
    let c2 = commit(&repo, "second");

    let opts = PatchOptions::default();
    let entries = repo.diff(Some(&c1), Some(&c2)).unwrap();
    let texts: Vec<String> = entries.iter().map(|e| repo.diff_patch(e, &opts).unwrap()).collect();
    assert_eq!(
        texts.concat(),
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n\
         diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n\
         diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh\n"
    );
    assert_eq!(paths(&filter_paths(entries.clone(), &["new.txt".into(), "d".into()])), [("new.txt", ChangeKind::Added)]);
    assert_eq!(filter_paths(entries.clone(), &[".".into()]).len(), 3);
    assert_eq!(filter_paths(entries, &[]).len(), 3);

    // Stage one change, leave another in the working tree only: the
    // working-tree side is read from the file (its blob is not stored).
    write(&repo, "a.txt", b"one\n2\nthree\nfour\n");
    repo.add(&["a.txt".into()], &mut |_, _| {}).unwrap();
    write(&repo, "d/b.txt", b"bee\nsting\n");
    write(&repo, "untracked.txt", b"?\n");
    let idx = repo.diff_index().unwrap();
    assert_eq!(paths(&idx), [("d/b.txt", ChangeKind::Modified)]);
    assert!(!repo.has_blob(idx[0].new_id.as_deref().unwrap()).unwrap());
    assert_eq!(
        repo.diff_patch(&idx[0], &opts).unwrap(),
        "diff --git a/d/b.txt b/d/b.txt\n--- a/d/b.txt\n+++ b/d/b.txt\n@@ -1 +1,2 @@\n bee\n+sting\n"
    );
    let cached = repo.diff_cached(None).unwrap();
    assert_eq!(paths(&cached), [("a.txt", ChangeKind::Modified)]);
    assert!(repo.diff_patch(&cached[0], &opts).unwrap().ends_with(" three\n+four\n"));
    assert_eq!(
        paths(&repo.diff_cached(Some(&c1)).unwrap()),
        [("a.txt", ChangeKind::Modified), ("gone.txt", ChangeKind::Deleted), ("new.txt", ChangeKind::Added)]
    );
    // git's `diff HEAD`: both changes, not the untracked file.
    assert_eq!(
        paths(&repo.diff_worktree(None).unwrap()),
        [("a.txt", ChangeKind::Modified), ("d/b.txt", ChangeKind::Modified)]
    );
    // A file that changed after the walk is refused, not mis-diffed.
    write(&repo, "d/b.txt", b"changed again\n");
    assert!(repo.diff_patch(&idx[0], &opts).is_err());
    // An empty index diff once everything is staged.
    std::fs::remove_file(dir.path().join("untracked.txt")).unwrap();
    repo.add_all().unwrap();
    assert!(repo.diff_index().unwrap().is_empty());
}

#[test]
fn unborn_branch_cached_diff() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    write(&repo, "a", b"x\n");
    repo.add_all().unwrap();
    let cached = repo.diff_cached(None).unwrap();
    assert_eq!(paths(&cached), [("a", ChangeKind::Added)]);
    assert!(repo.diff_patch(&cached[0], &PatchOptions::default()).unwrap().ends_with("@@ -0,0 +1 @@\n+x\n"));
}

// ---- round trip through `git apply` ---------------------------------------

/// A tiny xorshift64 generator (fixed seed: reproducible).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random edit of `lines`: lines replaced, inserted and deleted from a
/// small vocabulary (repeated lines make the diff ambiguous), and now and
/// then the last newline dropped or added.
fn random_file(rng: &mut XorShift, len: usize) -> Vec<String> {
    const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "}", "", "fn main() {"];
    (0..len).map(|i| format!("{} {}", WORDS[rng.below(WORDS.len())], if rng.below(3) == 0 { i } else { 0 })).collect()
}

fn edit(rng: &mut XorShift, lines: &[String]) -> Vec<String> {
    let mut out = lines.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len() + 1);
        match rng.below(3) {
            0 if at < out.len() => out[at] = format!("changed {}", rng.below(100)),
            1 if at < out.len() => {
                let n = 1 + rng.below(3).min(out.len() - at - 1);
                out.drain(at..at + n);
            }
            _ => {
                for k in 0..1 + rng.below(3) {
                    out.insert(at, format!("new {k} {}", rng.below(100)));
                }
            }
        }
    }
    out
}

fn join(lines: &[String], final_newline: bool) -> Vec<u8> {
    let mut s = lines.join("\n");
    if final_newline && !lines.is_empty() {
        s.push('\n');
    }
    s.into_bytes()
}

fn git_apply(dir: &Path, patch: &[u8], unidiff_zero: bool) {
    std::fs::write(dir.join("the.patch"), patch).unwrap();
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(["apply", "--whitespace=nowarn"]);
    if unidiff_zero {
        cmd.arg("--unidiff-zero");
    }
    let out = cmd.arg("the.patch").output().expect("git runs");
    assert!(out.status.success(), "git apply failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(patch));
    std::fs::remove_file(dir.join("the.patch")).unwrap();
}

#[test]
fn random_edits_round_trip_through_git_apply() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..60 {
        let len = 1 + rng.below(40);
        let old_lines = random_file(&mut rng, len);
        let new_lines = edit(&mut rng, &old_lines);
        let old = join(&old_lines, rng.below(4) != 0);
        let new = join(&new_lines, rng.below(4) != 0);
        if old == new {
            continue;
        }
        let ctx = [0, 1, 3, 5][round % 4];
        let fp = format_patch("dir/file name.txt", Some(&old), Some(&new), &PatchOptions { context_lines: ctx });
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        let file = dir.path().join("dir/file name.txt");
        std::fs::write(&file, &old).unwrap();
        git_apply(dir.path(), &fp.bytes, ctx == 0);
        assert_eq!(std::fs::read(&file).unwrap(), new, "round {round}, context {ctx}:\n{}", fp.text());
    }
}

#[test]
fn added_deleted_and_empty_files_round_trip_through_git_apply() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PatchOptions::default();
    let mut all = Vec::new();
    all.extend(format_patch("new.txt", None, Some(b"a\nb"), &opts).bytes);
    all.extend(format_patch("empty", None, Some(b""), &opts).bytes);
    git_apply(dir.path(), &all, false);
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"a\nb");
    assert_eq!(std::fs::read(dir.path().join("empty")).unwrap(), b"");
    let mut all = Vec::new();
    all.extend(format_patch("new.txt", Some(b"a\nb"), None, &opts).bytes);
    all.extend(format_patch("empty", Some(b""), None, &opts).bytes);
    git_apply(dir.path(), &all, false);
    assert!(!dir.path().join("new.txt").exists());
    assert!(!dir.path().join("empty").exists());
}
