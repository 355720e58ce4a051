//! Helpers shared by the integration tests (each test binary includes this
//! module with `mod common;`).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use muse_core::commits::write_commit;
use muse_core::ids::fake_id;
use muse_core::records::CommitRecord;
use muse_core::repo::{init_repo, InitOptions};

/// A fresh repository made by `init_repo` in a temp dir. With `fsync_off`,
/// `config.toml` gets `[core] fsync = "off"` (for tests doing many writes).
pub fn new_repo(fsync_off: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    init_repo(&root, &InitOptions::default()).unwrap();
    if fsync_off {
        set_config(&root, "[core]\nfsync = \"off\"\n");
    }
    (dir, root)
}

/// Replaces `.muse/config.toml`.
pub fn set_config(root: &Path, text: &str) {
    std::fs::write(root.join(".muse/config.toml"), text).unwrap();
}

/// Every path under `dir`, relative, directories with a trailing `/`, files
/// with their size (`name=size`). Used to prove that a failed call wrote
/// nothing.
pub fn tree(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.insert(format!("{rel}/"));
                walk(base, &p, out);
            } else {
                let len = std::fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
                out.insert(format!("{rel}={len}"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Every file (not directory) under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Files under `dir` (recursively) whose name starts with `prefix`.
pub fn temps_under(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

/// `"2026-01-01T00:00:00+00:00"` plus `secs` seconds (under one day).
pub fn ts(secs: u32) -> String {
    assert!(secs < 86_400);
    format!("2026-01-01T{:02}:{:02}:{:02}+00:00", secs / 3600, (secs / 60) % 60, secs % 60)
}

/// A valid commit record (its ID computed) with the given parents.
pub fn make_commit(parent: Option<&str>, parent2: Option<&str>, message: &str, secs: u32) -> CommitRecord {
    let mut rec = CommitRecord {
        branch: "main".into(),
        snapshot_id: fake_id(&format!("snap-{message}")),
        message: message.into(),
        committed_at: ts(secs),
        parent_commit_id: parent.map(str::to_string),
        parent2_commit_id: parent2.map(str::to_string),
        author: "tester".into(),
        ..Default::default()
    };
    rec.commit_id = rec.compute_id();
    rec
}

/// Writes a commit and returns its ID.
pub fn commit(root: &Path, parent: Option<&str>, parent2: Option<&str>, message: &str, secs: u32) -> String {
    let rec = make_commit(parent, parent2, message, secs);
    assert!(write_commit(root, &rec, None).unwrap());
    rec.commit_id
}

/// Writes a linear chain of `n` commits (oldest first) on top of `parent`,
/// with timestamps starting at `start_secs`; returns their IDs oldest first.
pub fn chain(root: &Path, parent: Option<&str>, n: usize, label: &str, start_secs: u32) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut prev = parent.map(str::to_string);
    for i in 0..n {
        let id = commit(root, prev.as_deref(), None, &format!("{label}-{i}"), start_secs + i as u32);
        prev = Some(id.clone());
        ids.push(id);
    }
    ids
}

/// Sets the mtime of `path` (file or directory) to `when`.
pub fn set_mtime(path: &Path, when: SystemTime) {
    File::open(path).unwrap().set_modified(when).unwrap();
}

/// Moves the mtime of `path` back by `by`.
pub fn shift_mtime_back(path: &Path, by: Duration) {
    let m = std::fs::metadata(path).unwrap().modified().unwrap();
    set_mtime(path, m - by);
}

/// Moves back, by `by`, the mtime of `dir` and of every directory and file
/// under it: "the repository was left alone for `by`".
pub fn age_tree(dir: &Path, by: Duration) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_type().unwrap().is_file() {
                shift_mtime_back(&e.path(), by);
            }
        }
        // After the entries: touching files does not change the directory's
        // mtime, but be explicit about the order anyway.
        shift_mtime_back(&d, by);
    }
}

/// Makes a (read-only) record or object file writable again.
pub fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}
