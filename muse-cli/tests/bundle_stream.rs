//! `muse bundle create|apply|verify` with streaming (v2) bundle files: a
//! round trip with `--update-refs`, an incremental bundle with `--have`,
//! `verify`, and hostile files refused with `muse:` errors, no ref moved.

use std::path::Path;
use std::process::{Command, Output};

fn muse(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muse"))
        .args(args)
        .current_dir(cwd)
        .env_remove("MUSE_REPO_ROOT")
        .env("MUSE_AUTHOR", "Tester <t@example.com>")
        .output()
        .unwrap()
}

fn ok(cwd: &Path, args: &[&str]) -> String {
    let o = muse(cwd, args);
    assert!(o.status.success(), "{args:?}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(cwd: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(cwd, args)).unwrap()
}

fn new_repo(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    ok(root, &["init"]);
    std::fs::write(root.join(".muse/config.toml"), "[core]\nfsync = \"off\"\n").unwrap();
}

fn commit(root: &Path, files: &[(&str, String)], msg: &str) {
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
    ok(root, &["add", "."]);
    ok(root, &["commit", "-m", msg]);
}

fn big_text(tag: &str) -> String {
    (0..500).map(|i| format!("{tag} line {i}: the quick brown fox jumps over the lazy dog\n")).collect()
}

fn heads(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join(".muse/refs/heads"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn create_apply_verify_round_trip_and_incremental() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    new_repo(&src);
    commit(&src, &[("a.txt", big_text("v1")), ("dir/b.txt", "b\n".into())], "first");
    commit(&src, &[("a.txt", big_text("v1").replace("line 7:", "line seven:"))], "second");
    let file = tmp.path().join("main.bundle");
    let f = file.to_str().unwrap();
    let made = json(&src, &["bundle", "create", f, "main", "--json"]);
    assert_eq!(made["format_version"], 2);
    assert_eq!(made["commits"], 2);
    assert_eq!(made["blob_deltas"], 1, "{made}");
    assert_eq!(made["bytes"].as_u64().unwrap(), std::fs::metadata(&file).unwrap().len());
    assert_eq!(&std::fs::read(&file).unwrap()[..8], b"MUSEBNDL");

    // verify in an empty repository: ok, complete history.
    let dst = tmp.path().join("dst");
    new_repo(&dst);
    let out = ok(&dst, &["bundle", "verify", f]);
    assert!(out.contains("is okay") && out.contains("complete history"), "{out}");
    assert_eq!(heads(&dst), Vec::<String>::new(), "verify wrote nothing");

    // apply: first contact takes the branch and checks it out.
    let r = json(&dst, &["bundle", "apply", f, "--json"]);
    assert_eq!(r["commits_written"], 2);
    assert_eq!(r["refs_updated"], serde_json::json!(["main"]));
    assert_eq!(std::fs::read_to_string(dst.join("a.txt")).unwrap(), big_text("v1").replace("line 7:", "line seven:"));
    ok(&dst, &["verify"]);

    // incremental, thin: --have the old tip.
    commit(&src, &[("a.txt", big_text("v2"))], "third");
    let inc = tmp.path().join("inc.bundle");
    let i = inc.to_str().unwrap();
    let made = json(&src, &["bundle", "create", i, "main", "--have", "main~1", "--json"]);
    assert_eq!(made["commits"], 1);
    assert_eq!(made["prerequisites"].as_array().unwrap().len(), 1);
    let other = tmp.path().join("other");
    new_repo(&other);
    let o = muse(&other, &["bundle", "verify", i]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lacks these prerequisite commits"), "{o:?}");
    let o = muse(&other, &["bundle", "apply", i, "--update-refs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(heads(&other).is_empty());
    let r = json(&dst, &["bundle", "apply", i, "--update-refs", "--json"]);
    assert_eq!((r["commits_written"].as_u64(), r["refs_updated"].clone()), (Some(1), serde_json::json!(["main"])));
    ok(&dst, &["checkout", "main", "--force"]);
    assert_eq!(std::fs::read_to_string(dst.join("a.txt")).unwrap(), big_text("v2"));
}

#[test]
fn hostile_files_are_refused_and_move_no_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    new_repo(&src);
    commit(&src, &[("a.txt", big_text("x"))], "first");
    let good = tmp.path().join("good.bundle");
    ok(&src, &["bundle", "create", good.to_str().unwrap(), "main"]);
    let wire = std::fs::read(&good).unwrap();
    let dst = tmp.path().join("dst");
    new_repo(&dst);
    let refused = |data: &[u8], needle: &str| {
        let p = tmp.path().join("bad.bundle");
        std::fs::write(&p, data).unwrap();
        let o = muse(&dst, &["bundle", "apply", p.to_str().unwrap(), "--update-refs", "--json"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && o.stdout.is_empty(), "{needle}: {o:?}");
        assert!(err.starts_with("muse:") && err.contains(needle), "{needle}: {err}");
        assert!(heads(&dst).is_empty(), "{needle}");
        assert_eq!(std::fs::read_dir(dst.join(".muse/commits")).unwrap().count(), 0, "{needle}");
    };
    refused(&wire[..wire.len() / 2], "truncated");
    let mut flipped = wire.clone();
    let n = flipped.len();
    flipped[n - 20] ^= 1; // inside the end frame's hash
    refused(&flipped, "SHA-256");
    // The blob frame (first after the header): its content.
    let hlen = u32::from_be_bytes(wire[13..17].try_into().unwrap()) as usize;
    let blob_at = 12 + 5 + hlen;
    let mut tampered = wire.clone();
    tampered[blob_at + 5 + 40] ^= 0x20;
    refused(&tampered, "blob sha256:");
    refused(b"MUSEBNDL\0\0\0\x07", "unsupported bundle format version 7");
    // A v1 file over the 4 GiB limit: refused by its size, unread (sparse).
    let big = tmp.path().join("big.mpack");
    std::fs::File::create(&big).unwrap().set_len((4 << 30) + 1).unwrap();
    let o = muse(&dst, &["bundle", "apply", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("over the limit"));
    // A missing file.
    let o = muse(&dst, &["bundle", "apply", "nope.bundle"]);
    assert_eq!(o.status.code(), Some(1));
    // The good one applies.
    let r = json(&dst, &["bundle", "apply", good.to_str().unwrap(), "--json"]);
    assert_eq!(r["commits_written"], 1);
}
