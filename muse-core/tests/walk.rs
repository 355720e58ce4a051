//! The working-tree walker and the stat cache (SPEC §5): what a manifest
//! holds, `.museignore`, racy timestamps, pruning, error paths, cache file
//! loading and concurrent saves.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use muse_core::ids::blob_id;
use muse_core::paths::{cache_dir, stat_cache_path};
use muse_core::walk::{build_snapshot_manifest, walk_workdir, WalkOptions};
use muse_core::stat_cache::{LoadStatus, StatCache, CACHE_VERSION, MAX_CACHE_BYTES};
use muse_core::Error;

/// A working tree with `.muse/` (no `cache/`), as the P3 suites build it.
fn work_tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("wt");
    fs::create_dir_all(root.join(".muse")).unwrap();
    (dir, root)
}

fn write(root: &Path, rel: &str, content: &[u8]) -> PathBuf {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    p
}

fn manifest(root: &Path) -> BTreeMap<String, String> {
    build_snapshot_manifest(root, &WalkOptions::default()).unwrap()
}

fn keys(m: &BTreeMap<String, String>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

/// Rewrites `path` in place (same inode) with `content` and puts its mtime
/// back: the stat (ino, size, mtime) is unchanged when the size is.
fn rewrite_keeping_stat(path: &Path, content: &[u8]) {
    let before = fs::symlink_metadata(path).unwrap();
    let mut f = File::options().write(true).truncate(true).open(path).unwrap();
    f.write_all(content).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = fs::symlink_metadata(path).unwrap();
    assert_eq!(
        (before.ino(), before.size(), before.mtime(), before.mtime_nsec()),
        (after.ino(), after.size(), after.mtime(), after.mtime_nsec())
    );
}

fn temps_in(dir: &Path) -> Vec<String> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".stat_cache_"))
            .collect(),
        Err(_) => vec![],
    }
}

fn mtime_ns_of(path: &Path) -> i64 {
    let m = fs::metadata(path).unwrap();
    m.mtime() * 1_000_000_000 + m.mtime_nsec()
}

// ----- what a manifest holds -------------------------------------------------

#[test]
fn manifest_maps_regular_files_to_blob_ids() {
    let (_d, root) = work_tree();
    write(&root, "a.txt", b"alpha");
    write(&root, "empty.py", b"");
    write(&root, "dir/sub/b.bin", &[0u8, 255, 7]);
    write(&root, ".hidden", b"h");
    let m = manifest(&root);
    assert_eq!(keys(&m), [".hidden", "a.txt", "dir/sub/b.bin", "empty.py"]);
    assert_eq!(m["a.txt"], blob_id(b"alpha"));
    assert_eq!(m["empty.py"], blob_id(b""));
    assert_eq!(m["dir/sub/b.bin"], blob_id(&[0u8, 255, 7]));
}

#[test]
fn large_file_is_hashed_across_chunk_boundaries() {
    let (_d, root) = work_tree();
    // 3 MiB + 17 bytes: many 64 KiB chunks and a partial last one.
    let content: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i * 31 % 251) as u8).collect();
    write(&root, "big.bin", &content);
    assert_eq!(manifest(&root)["big.bin"], blob_id(&content));
}

#[test]
fn repository_directories_are_excluded_at_every_depth() {
    let (_d, root) = work_tree();
    write(&root, ".muse/repo.json", b"{}");
    write(&root, ".muse/objects/x", b"x");
    write(&root, "real.py", b"code");
    write(&root, "sub/.muse/left-out", b"k");
    write(&root, ".MUSE/x", b"k");
    write(&root, "a/.Muse./x", b"k");
    write(&root, ".git/config", b"k");
    write(&root, "vendor/lib/.git/HEAD", b"k");
    write(&root, ".museignore.txt", b"kept");
    write(&root, "x.muse", b"kept");
    write(&root, ".github/ci.yml", b"kept");
    let m = manifest(&root);
    assert_eq!(keys(&m), [".github/ci.yml", ".museignore.txt", "real.py", "x.muse"]);
}

#[test]
fn symlinks_and_fifos_are_excluded_without_blocking() {
    let (_d, root) = work_tree();
    write(&root, "real.py", b"real");
    write(&root, "dir/inner.txt", b"inner");
    std::os::unix::fs::symlink(root.join("real.py"), root.join("link.py")).unwrap();
    std::os::unix::fs::symlink(root.join("dir"), root.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("pipe.fifo").as_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    // A walk that opened the FIFO would block forever: run it with a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    let r = root.clone();
    std::thread::spawn(move || tx.send(build_snapshot_manifest(&r, &WalkOptions::default())).unwrap());
    let m = rx.recv_timeout(Duration::from_secs(20)).expect("walk blocked on a FIFO").unwrap();
    assert_eq!(keys(&m), ["dir/inner.txt", "real.py"]);
}

#[test]
fn deep_tree_of_200_levels() {
    let (_d, root) = work_tree();
    let mut dir = root.clone();
    let mut expected = Vec::new();
    let mut rel = String::new();
    for level in 0..200 {
        let name = format!("d{level:03}");
        dir.push(&name);
        rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("f.txt"), format!("level{level}")).unwrap();
        expected.push(format!("{rel}/f.txt"));
    }
    // Run on a small stack: nothing may recurse per level on the caller's stack.
    let r = root.clone();
    let m = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || manifest(&r)).unwrap().join().unwrap();
    assert_eq!(m.len(), 200);
    expected.sort();
    assert_eq!(keys(&m), expected);
    assert!(m.keys().all(|k| !k.contains('\\')));
    assert_eq!(m["d000/f.txt"], blob_id(b"level0"));
}

#[test]
fn names_that_cannot_be_keys_are_skipped() {
    let (_d, root) = work_tree();
    write(&root, "ok.txt", b"ok");
    let bad_file = root.join(std::ffi::OsStr::from_bytes(b"bad\xff.txt"));
    fs::write(&bad_file, b"x").unwrap();
    let bad_dir = root.join(std::ffi::OsStr::from_bytes(b"dir\xfe"));
    fs::create_dir(&bad_dir).unwrap();
    fs::write(bad_dir.join("inside.txt"), b"y").unwrap();
    write(&root, "back\\slash.txt", b"z");
    let m = manifest(&root);
    assert_eq!(keys(&m), ["ok.txt"]);
    // The cache holds no entry for them either.
    let (c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c.keys().collect::<Vec<_>>(), ["ok.txt"]);
}

#[test]
fn works_without_muse_dir_and_creates_none() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.txt", b"a");
    let m = manifest(d.path());
    assert_eq!(keys(&m), ["a.txt"]);
    assert!(!d.path().join(".muse").exists());
}

#[test]
fn use_cache_false_reads_everything_and_writes_no_cache() {
    let (_d, root) = work_tree();
    write(&root, "a.txt", b"a");
    let opts = WalkOptions { use_cache: false, ..WalkOptions::default() };
    let m = walk_workdir(&root, &opts).unwrap();
    assert_eq!(m["a.txt"], blob_id(b"a"));
    assert!(!cache_dir(&root).exists());
}

#[test]
fn missing_root_is_an_io_error() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope");
    match walk_workdir(&missing, &WalkOptions::default()) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io error, got {other:?}"),
    }
}

// ----- .museignore -------------------------------------------------------------

#[test]
fn museignore_has_gitignore_semantics() {
    let (_d, root) = work_tree();
    write(&root, ".museignore", b"*.log\n!keep.log\nbuild/\n/top.txt\n# comment\n");
    write(&root, "a.log", b"1");
    write(&root, "keep.log", b"2");
    write(&root, "sub/b.log", b"3");
    write(&root, "sub/keep.log", b"4");
    write(&root, "build/out.o", b"5");
    write(&root, "sub/build/out.o", b"6");
    write(&root, "build.txt", b"7"); // `build/` matches directories only
    write(&root, "top.txt", b"8");
    write(&root, "sub/top.txt", b"9"); // `/top.txt` is anchored to the root
    write(&root, "src/main.rs", b"10");
    // A nested .museignore applies to its directory and below.
    write(&root, "src/.museignore", b"*.tmp\n");
    write(&root, "src/x.tmp", b"11");
    write(&root, "y.tmp", b"12");
    let m = manifest(&root);
    assert_eq!(
        keys(&m),
        [
            ".museignore",
            "build.txt",
            "keep.log",
            "src/.museignore",
            "src/main.rs",
            "sub/keep.log",
            "sub/top.txt",
            "y.tmp"
        ]
    );
}

#[test]
fn museignore_invalid_pattern_is_skipped_not_fatal() {
    let (_d, root) = work_tree();
    write(&root, ".museignore", b"a{b\n*.log\n");
    write(&root, "x.log", b"1");
    write(&root, "y.txt", b"2");
    let m = manifest(&root);
    assert_eq!(keys(&m), [".museignore", "y.txt"]);
}

#[test]
fn museignore_file_quirks() {
    let (_d, root) = work_tree();
    // BOM, CRLF line ends, a non-UTF-8 line (skipped, the rest applies).
    write(&root, ".museignore", b"\xef\xbb\xbf*.a\r\n\xff\xfe\n*.b\n");
    write(&root, "x.a", b"1");
    write(&root, "x.b", b"2");
    write(&root, "x.c", b"3");
    // A symlinked .museignore is not read (and, being a symlink, not listed).
    write(&root, "s/rules", b"*.c\n");
    std::os::unix::fs::symlink("rules", root.join("s/.museignore")).unwrap();
    write(&root, "s/y.c", b"4");
    // A FIFO named .museignore is neither read (no blocking) nor listed.
    fs::create_dir(root.join("f")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("f/.museignore").as_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    write(&root, "f/z.c", b"5");
    let (tx, rx) = std::sync::mpsc::channel();
    let r = root.clone();
    std::thread::spawn(move || tx.send(build_snapshot_manifest(&r, &WalkOptions::default())).unwrap());
    let m = rx.recv_timeout(Duration::from_secs(20)).expect("walk blocked on a FIFO").unwrap();
    assert_eq!(keys(&m), [".museignore", "f/z.c", "s/rules", "s/y.c", "x.c"]);
}

#[test]
fn symlinked_root_is_walked() {
    let (d, root) = work_tree();
    write(&root, "a/b.txt", b"b");
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&root, &link).unwrap();
    let m = manifest(&link);
    assert_eq!(keys(&m), ["a/b.txt"]);
    assert_eq!(StatCache::load(&root, MAX_CACHE_BYTES).1, LoadStatus::Loaded);
}

// ----- unreadable and vanishing files ------------------------------------------

/// Whether this process can read a mode-000 file (root can).
fn can_read_mode_000(path: &Path) -> bool {
    File::open(path).is_ok()
}

#[test]
fn unreadable_file_and_directory() {
    let d = tempfile::tempdir().unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = d.path().join("wt");
    fs::create_dir_all(root.join(".muse")).unwrap();
    write(&root, "ok.txt", b"ok");
    let secret = write(&root, "secret.txt", b"secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let locked_dir = root.join("locked");
    fs::create_dir(&locked_dir).unwrap();
    fs::write(locked_dir.join("in.txt"), b"in").unwrap();
    fs::set_permissions(&locked_dir, fs::Permissions::from_mode(0o000)).unwrap();

    if can_read_mode_000(&secret) {
        // Root: permissions do not stop reads, so the files are simply there.
        let m = manifest(&root);
        assert_eq!(keys(&m), ["locked/in.txt", "ok.txt", "secret.txt"]);
        let ig = write(&root, "sub/.museignore", b"*.log\n");
        write(&root, "sub/x.log", b"x");
        fs::set_permissions(&ig, fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(keys(&manifest(&root)), ["locked/in.txt", "ok.txt", "secret.txt", "sub/.museignore"]);
        fs::remove_dir_all(root.join("sub")).unwrap();
        assert_eq!(m["secret.txt"], blob_id(b"secret"));
        // And as an unprivileged user the walk fails naming the path: run
        // the check in a child process with dropped privileges.
        if Path::new("/usr/bin/setpriv").exists() {
            // The child cannot write `.muse/cache/`, which must not matter.
            let out = std::process::Command::new("/usr/bin/setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", "unreadable_child", "--ignored", "--nocapture"])
                .env("MUSE_TEST_UNREADABLE_ROOT", &root)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "unprivileged child failed:\n{text}");
            assert!(text.contains("1 passed"), "child ran no test:\n{text}");
        }
    } else {
        unreadable_checks(&root);
    }
}

/// Run by `unreadable_file_and_directory` as an unprivileged user.
#[test]
#[ignore = "run by unreadable_file_and_directory as an unprivileged child"]
fn unreadable_child() {
    let Some(root) = std::env::var_os("MUSE_TEST_UNREADABLE_ROOT").map(PathBuf::from) else {
        eprintln!("unreadable_child: nothing to do outside unreadable_file_and_directory");
        return;
    };
    assert!(!can_read_mode_000(&root.join("secret.txt")), "child is privileged");
    unreadable_checks(&root);
}

fn unreadable_checks(root: &Path) {
    // Both the file and the directory are unreadable; the error names one of them.
    match walk_workdir(root, &WalkOptions::default()) {
        Err(Error::Io { path, source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
            assert!(path == root.join("secret.txt") || path == root.join("locked"), "{path:?}");
        }
        other => panic!("expected Io error, got {other:?}"),
    }
    // With only the directory unreadable, the error names the directory.
    let tmp = tempfile::tempdir().unwrap();
    let r2 = tmp.path().join("wt");
    write(&r2, "ok.txt", b"ok");
    fs::create_dir(r2.join("locked")).unwrap();
    fs::set_permissions(r2.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    match walk_workdir(&r2, &WalkOptions::default()) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("locked"), "{e}"),
        other => panic!("expected Io error, got {other:?}"),
    }
    // An unreadable .museignore is an error too (its rules would be lost).
    let r3 = tmp.path().join("wt3");
    write(&r3, "ok.txt", b"ok");
    let ig = write(&r3, "sub/.museignore", b"*.log\n");
    fs::set_permissions(&ig, fs::Permissions::from_mode(0o000)).unwrap();
    match walk_workdir(&r3, &WalkOptions::default()) {
        Err(Error::Io { path, .. }) => assert_eq!(path, ig),
        other => panic!("expected Io error, got {other:?}"),
    }
}

#[test]
fn files_vanishing_during_walks_never_fail_the_walk() {
    let (_d, root) = work_tree();
    for i in 0..200 {
        write(&root, &format!("stable/f{i}.txt"), b"s");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let dir = root.join(format!("churn/d{}", n % 4));
                let _ = fs::create_dir_all(&dir);
                for i in 0..20 {
                    let _ = fs::write(dir.join(format!("f{i}")), b"c");
                }
                let _ = fs::remove_dir_all(&dir);
                n += 1;
            }
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    let mut walks = 0;
    while std::time::Instant::now() < deadline {
        let m = manifest(&root);
        assert_eq!(m.keys().filter(|k| k.starts_with("stable/")).count(), 200);
        walks += 1;
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert!(walks > 2);
}

// ----- the cache through walks -----------------------------------------------

/// A walk starts from the cache the previous walk of the process kept
/// (`StatCache::load_reusing`) only while the cache file is unchanged: a
/// file rewritten in place (same inode, same size) or renamed over is read
/// again.
#[test]
fn a_kept_cache_gives_way_to_a_changed_cache_file() {
    let (_d, root) = work_tree();
    let a = write(&root, "a.txt", b"hello");
    set_mtime(&a, SystemTime::now() - Duration::from_secs(60)); // not racy
    assert_eq!(manifest(&root)["a.txt"], blob_id(b"hello")); // cold: saved and kept
    assert_eq!(manifest(&root)["a.txt"], blob_id(b"hello")); // warm
    let path = stat_cache_path(&root);
    let text = fs::read_to_string(&path).unwrap();
    let forged = text.replace(&blob_id(b"hello"), &blob_id(b"forged"));
    assert_eq!(forged.len(), text.len());
    // In place: same inode and size; only the ctime (and mtime) move, so
    // step past one tick of the filesystem's coarse clock first.
    std::thread::sleep(Duration::from_millis(30));
    let ino = fs::metadata(&path).unwrap().ino();
    fs::write(&path, &forged).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().ino(), ino);
    // The forged entry's stat matches and it is not racy: it is trusted,
    // which shows the file was read again.
    assert_eq!(manifest(&root)["a.txt"], blob_id(b"forged"));
    // Renamed over (a new inode), as another process saves.
    let tmp = root.join(".muse/cache/other");
    fs::write(&tmp, &text).unwrap();
    fs::rename(&tmp, &path).unwrap();
    assert_eq!(manifest(&root)["a.txt"], blob_id(b"hello"));
}

#[test]
fn racy_rewrite_with_same_stat_is_detected() {
    let (_d, root) = work_tree();
    // The file's mtime is not older than the cache file will be: racily clean.
    let f = write(&root, "racy.txt", b"AAAA");
    set_mtime(&f, SystemTime::now() + Duration::from_secs(3600));
    let m1 = manifest(&root);
    assert_eq!(m1["racy.txt"], blob_id(b"AAAA"));
    assert!(stat_cache_path(&root).is_file());
    // Same inode, same size, same mtime, new content.
    rewrite_keeping_stat(&f, b"BBBB");
    let m2 = manifest(&root);
    assert_eq!(m2["racy.txt"], blob_id(b"BBBB"), "racy entry trusted");
    let (c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c.get("racy.txt").unwrap().object_hash, blob_id(b"BBBB"));
}

#[test]
fn old_unchanged_files_are_trusted_and_changed_ones_rehashed() {
    let (_d, root) = work_tree();
    let past = SystemTime::now() - Duration::from_secs(60);
    for i in 0..20 {
        let f = write(&root, &format!("f{i:02}.txt"), format!("content {i}").as_bytes());
        set_mtime(&f, past);
    }
    let m1 = manifest(&root);
    // A rewrite with another size is a miss whatever the timestamps.
    let f = root.join("f03.txt");
    fs::write(&f, b"changed, and longer").unwrap();
    set_mtime(&f, past);
    let m2 = manifest(&root);
    for (k, v) in &m2 {
        if k == "f03.txt" {
            assert_eq!(v, &blob_id(b"changed, and longer"));
        } else {
            assert_eq!(v, &m1[k]);
        }
    }
}

#[test]
fn warm_walk_reads_nothing_and_does_not_rewrite_the_cache() {
    let (_d, root) = work_tree();
    let past = SystemTime::now() - Duration::from_secs(60);
    for i in 0..50 {
        let f = write(&root, &format!("d{}/f{i}.txt", i % 5), format!("c{i}").as_bytes());
        set_mtime(&f, past);
    }
    let m1 = manifest(&root);
    let cache = stat_cache_path(&root);
    let before = fs::metadata(&cache).unwrap();
    // Make the content unreadable-by-content: a changed file with the same
    // stat would be found only by reading. The warm walk must not read, so it
    // keeps the cached (old) hash for a same-stat rewrite of a trusted entry.
    rewrite_keeping_stat(&root.join("d0/f0.txt"), b"X1");
    let m2 = manifest(&root);
    assert_eq!(m1, m2, "warm walk read a trusted file");
    let after = fs::metadata(&cache).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.mtime_nsec(), before.size()),
        (after.ino(), after.mtime(), after.mtime_nsec(), after.size())
    );
    assert!(temps_in(&cache_dir(&root)).is_empty());
}

#[test]
fn racy_entries_verified_unchanged_do_not_rewrite_the_cache() {
    let (_d, root) = work_tree();
    // Freshly written files: some or all may be racily clean on the next walk.
    for i in 0..30 {
        write(&root, &format!("f{i}.txt"), format!("c{i}").as_bytes());
    }
    let m1 = manifest(&root);
    let cache = stat_cache_path(&root);
    let before = fs::metadata(&cache).unwrap();
    let m2 = manifest(&root);
    assert_eq!(m1, m2);
    let after = fs::metadata(&cache).unwrap();
    assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()));
    assert!(temps_in(&cache_dir(&root)).is_empty());
}

#[test]
fn stale_entries_are_pruned_after_a_walk() {
    let (_d, root) = work_tree();
    write(&root, "keep.py", b"keep");
    let gone = write(&root, "delete_me.py", b"bye");
    write(&root, "dir/also_gone.py", b"x");
    walk_workdir(&root, &WalkOptions::default()).unwrap();
    let (c, st) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(st, LoadStatus::Loaded);
    assert_eq!(c.len(), 3);
    fs::remove_file(gone).unwrap();
    fs::remove_dir_all(root.join("dir")).unwrap();
    walk_workdir(&root, &WalkOptions::default()).unwrap();
    let (c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c.keys().collect::<Vec<_>>(), ["keep.py"]);
}

#[test]
fn newly_ignored_files_are_pruned_from_the_cache() {
    let (_d, root) = work_tree();
    write(&root, "a.txt", b"a");
    write(&root, "b.log", b"b");
    manifest(&root);
    write(&root, ".museignore", b"*.log\n");
    let m = manifest(&root);
    assert_eq!(keys(&m), [".museignore", "a.txt"]);
    let (c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert!(!c.contains("b.log"));
}

#[test]
fn oversized_cache_is_ignored_by_the_walk() {
    let (_d, root) = work_tree();
    let a = write(&root, "a.txt", b"a");
    set_mtime(&a, SystemTime::now() - Duration::from_secs(60)); // not racy
    manifest(&root);
    // Make the cache lie about a.txt: a walk that trusts it says so.
    let p = stat_cache_path(&root);
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    v["entries"]["a.txt"]["object_hash"] = blob_id(b"lie").into();
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(manifest(&root)["a.txt"], blob_id(b"lie"), "the cache is used under the limit");
    // Over the limit, the cache is discarded unread: every file is hashed.
    let opts = WalkOptions { max_cache_bytes: 10, ..WalkOptions::default() };
    assert_eq!(walk_workdir(&root, &opts).unwrap()["a.txt"], blob_id(b"a"));
}

#[test]
fn a_directory_replaced_by_a_file_is_left_out_not_an_error() {
    // ENOTDIR: a walk that listed `d/` and then opens `d/f` after `d` became
    // a file. Simulated with a path under a regular file.
    let (_d, root) = work_tree();
    write(&root, "keep.txt", b"k");
    write(&root, "d", b"now a file");
    let m = manifest(&root);
    assert_eq!(keys(&m), ["d", "keep.txt"]);
    assert_eq!(muse_core::walk::hash_file(&root.join("d/f")).unwrap(), None);
}

// ----- StatCache directly ------------------------------------------------------

#[test]
fn cache_file_format_is_json_v3() {
    let (_d, root) = work_tree();
    let f = write(&root, "b.py", b"world");
    let (mut c, st) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(st, LoadStatus::Absent);
    assert_eq!(c.get_object_hash(&root, &f).unwrap(), blob_id(b"world"));
    assert!(c.is_dirty());
    c.save().unwrap();
    assert!(!c.is_dirty());
    let v: serde_json::Value = serde_json::from_slice(&fs::read(stat_cache_path(&root)).unwrap()).unwrap();
    assert_eq!(v["version"], CACHE_VERSION);
    let e = &v["entries"]["b.py"];
    let md = fs::metadata(&f).unwrap();
    assert_eq!(e["ino"], md.ino());
    assert_eq!(e["size"], 5);
    assert_eq!(e["mtime_ns"], md.mtime() * 1_000_000_000 + md.mtime_nsec());
    assert!((e["mtime"].as_f64().unwrap() - md.mtime() as f64).abs() < 1.0);
    assert_eq!(e["object_hash"], blob_id(b"world"));
    assert_eq!(v["entries"].as_object().unwrap().len(), 1);
    assert!(!stat_cache_path(&root).with_extension("json.tmp").exists());
    assert!(temps_in(&cache_dir(&root)).is_empty());
}

#[test]
fn unchanged_file_is_a_hit_even_when_racy() {
    let (_d, root) = work_tree();
    let f = write(&root, "stable.py", b"unchanged");
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    let h1 = c.get_object_hash(&root, &f).unwrap();
    c.save().unwrap();
    let (mut c2, st) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(st, LoadStatus::Loaded);
    c2.set_dirty(false);
    assert_eq!(c2.get_object_hash(&root, &f).unwrap(), h1);
    assert!(!c2.is_dirty());
}

#[test]
fn racy_entry_survives_save_and_reload() {
    let (_d, root) = work_tree();
    let f = write(&root, "r.txt", b"one!");
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    c.get_object_hash(&root, &f).unwrap();
    c.save().unwrap();
    // The file was hashed within the racy window, so the saved cache file's
    // mtime is not newer than the file's: it stays racy after reload.
    assert!(mtime_ns_of(&stat_cache_path(&root)) <= mtime_ns_of(&f));
    rewrite_keeping_stat(&f, b"two!");
    let (mut c2, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c2.get_object_hash(&root, &f).unwrap(), blob_id(b"two!"));
    assert!(c2.is_dirty());
    // Within one instance too.
    rewrite_keeping_stat(&f, b"3333");
    assert_eq!(c2.get_object_hash(&root, &f).unwrap(), blob_id(b"3333"));
}

#[test]
fn old_entry_is_a_hit_without_reading() {
    let (_d, root) = work_tree();
    let f = write(&root, "old.txt", b"aaaa");
    set_mtime(&f, SystemTime::now() - Duration::from_secs(60));
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    c.get_object_hash(&root, &f).unwrap();
    c.save().unwrap();
    // A same-stat rewrite of a trusted entry is not seen: proof of no read.
    rewrite_keeping_stat(&f, b"bbbb");
    let (mut c2, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c2.get_object_hash(&root, &f).unwrap(), blob_id(b"aaaa"));
    assert!(!c2.is_dirty());
}

#[test]
fn replaced_inode_with_same_size_and_mtime_is_a_miss() {
    let (_d, root) = work_tree();
    let f = write(&root, "data.bin", &[b'A'; 64]);
    set_mtime(&f, SystemTime::now() - Duration::from_secs(60));
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    let ha = c.get_object_hash(&root, &f).unwrap();
    c.save().unwrap();
    let old = fs::metadata(&f).unwrap();
    let tmp = write(&root, "tmp.bin", &[b'B'; 64]);
    fs::rename(&tmp, &f).unwrap();
    set_mtime(&f, old.modified().unwrap());
    let new = fs::metadata(&f).unwrap();
    assert_ne!(old.ino(), new.ino());
    let (mut c2, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    let hb = c2.get_object_hash(&root, &f).unwrap();
    assert_ne!(ha, hb);
    assert_eq!(hb, blob_id(&[b'B'; 64]));
}

#[test]
fn get_cached_uses_caller_stat_with_microsecond_tolerance() {
    let (_d, root) = work_tree();
    let f = write(&root, "tricky.py", b"old_content_pad");
    set_mtime(&f, SystemTime::now() - Duration::from_secs(60));
    let md = fs::metadata(&f).unwrap();
    let exact = md.mtime() * 1_000_000_000 + md.mtime_nsec();
    // What a float seconds value gives back.
    let float_ns = ((exact as f64 / 1e9) * 1e9) as i64;
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    let h = c.get_cached("tricky.py", &f, float_ns, md.size(), md.ino()).unwrap();
    assert_eq!(h, blob_id(b"old_content_pad"));
    c.save().unwrap();
    let (mut c2, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c2.get("tricky.py").unwrap().ino, md.ino());
    // Within 1 µs: a hit.
    assert_eq!(c2.get_cached("tricky.py", &f, float_ns + 400, md.size(), md.ino()).unwrap(), h);
    assert!(!c2.is_dirty());
    // Another inode: a miss, same content hash, dirty.
    assert_eq!(c2.get_cached("tricky.py", &f, float_ns, md.size(), md.ino() + 999_999).unwrap(), h);
    assert!(c2.is_dirty());
    // 1 µs apart: a miss.
    c2.set_dirty(false);
    c2.get_cached("tricky.py", &f, float_ns + 5_000, md.size(), md.ino() + 999_999).unwrap();
    assert!(c2.is_dirty());
    assert!(matches!(c2.get_cached("../x", &f, 0, 0, 0), Err(Error::InvalidPath { .. })));
}

#[test]
fn get_object_hash_rejects_non_regular_and_outside_paths() {
    let (_d, root) = work_tree();
    let f = write(&root, "a.txt", b"a");
    std::os::unix::fs::symlink(&f, root.join("l")).unwrap();
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert!(matches!(c.get_object_hash(&root, &root.join("l")), Err(Error::InvalidPath { .. })));
    assert!(matches!(c.get_object_hash(&root, Path::new("/etc/hostname")), Err(Error::InvalidPath { .. })));
    assert!(matches!(c.get_object_hash(&root, &root.join("missing")), Err(Error::Io { .. })));
    assert!(c.is_empty());
}

#[test]
fn prune_removes_rejected_entries() {
    let (_d, root) = work_tree();
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    for n in ["a", "b", "c"] {
        let f = write(&root, n, n.as_bytes());
        c.get_object_hash(&root, &f).unwrap();
    }
    c.set_dirty(false);
    assert_eq!(c.prune(|k| k != "b"), 1);
    assert!(c.is_dirty());
    c.set_dirty(false);
    assert_eq!(c.prune(|_| true), 0);
    assert!(!c.is_dirty());
    let mut k: Vec<_> = c.keys().map(str::to_owned).collect();
    k.sort();
    assert_eq!(k, ["a", "c"]);
}

#[test]
fn bad_cache_files_load_empty_with_their_status() {
    let (_d, root) = work_tree();
    fs::create_dir_all(cache_dir(&root)).unwrap();
    let p = stat_cache_path(&root);
    let h = blob_id(b"x");
    type Case = (Vec<u8>, fn(&LoadStatus) -> bool);
    let cases: Vec<Case> = vec![
        (b"\xff\x00garbage\xde\xad".to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
        (br#"{"version": 99, "entries": {}}"#.to_vec(), |s| *s == LoadStatus::WrongVersion(99)),
        (br#"{"version": 2, "entries": {"a": [1, 2]}}"#.to_vec(), |s| *s == LoadStatus::WrongVersion(2)),
        (br#"{"entries": {}}"#.to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
        (br#"{"version": 3}"#.to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
        (br#"{"version": 3, "entries": {"a": {"ino": 1}}}"#.to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
        (
            br#"{"version": 3, "entries": {"a": {"ino": 1, "size": 1, "mtime_ns": 1, "object_hash": "sha256:../x"}}}"#
                .to_vec(),
            |s| matches!(s, LoadStatus::Corrupt(_)),
        ),
        (br#"{"version": 3, "entries": {}} trailing"#.to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
        (b"\x82\xa7version\x02".to_vec(), |s| matches!(s, LoadStatus::Corrupt(_))),
    ];
    for (bytes, ok) in cases {
        fs::write(&p, &bytes).unwrap();
        let (c, st) = StatCache::load(&root, MAX_CACHE_BYTES);
        assert!(ok(&st), "{:?} gave {st:?}", String::from_utf8_lossy(&bytes));
        assert!(c.is_empty() && !c.is_dirty());
    }
    // A good one, with the float "mtime" ignored and fields in any order.
    let good = format!(
        r#"{{"entries": {{"a": {{"object_hash": "{h}", "mtime": 1.5, "mtime_ns": 1500000000, "size": 1, "ino": 7}}}}, "version": 3}}"#
    );
    fs::write(&p, &good).unwrap();
    let (c, st) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(st, LoadStatus::Loaded);
    assert_eq!(c.get("a").unwrap().mtime_ns, 1_500_000_000);
    assert_eq!(c.get("a").unwrap().ino, 7);
    // A directory in place of the file.
    fs::remove_file(&p).unwrap();
    fs::create_dir(&p).unwrap();
    assert!(matches!(StatCache::load(&root, MAX_CACHE_BYTES).1, LoadStatus::Corrupt(_)));
}

#[test]
fn size_guard_is_decided_from_metadata() {
    let (_d, root) = work_tree();
    let f = write(&root, "z.py", &[b'z'; 1000]);
    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    c.get_object_hash(&root, &f).unwrap();
    c.save().unwrap();
    let p = stat_cache_path(&root);
    let size = fs::metadata(&p).unwrap().len();
    let (c, st) = StatCache::load(&root, size - 1);
    assert_eq!(st, LoadStatus::TooLarge { size, limit: size - 1 });
    assert!(c.is_empty());
    let (c, st) = StatCache::load(&root, size);
    assert_eq!(st, LoadStatus::Loaded);
    assert_eq!(c.len(), 1);
    // Decided without reading: a mode-000 file gives TooLarge, not Corrupt
    // (for non-root; root can read anyway, which must give TooLarge too).
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    assert_eq!(StatCache::load(&root, size - 1).1, LoadStatus::TooLarge { size, limit: size - 1 });
    // A sparse 1 GiB file is rejected instantly.
    fs::remove_file(&p).unwrap();
    File::create(&p).unwrap().set_len(1 << 30).unwrap();
    let t = std::time::Instant::now();
    assert_eq!(
        StatCache::load(&root, MAX_CACHE_BYTES).1,
        LoadStatus::TooLarge { size: 1 << 30, limit: MAX_CACHE_BYTES }
    );
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn save_creates_cache_dir_but_not_muse_dir() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "a.txt", b"a");
    let (mut c, _) = StatCache::load(d.path(), MAX_CACHE_BYTES);
    c.get_object_hash(d.path(), &f).unwrap();
    match c.save() {
        Err(Error::Io { path, .. }) => assert_eq!(path, cache_dir(d.path())),
        other => panic!("expected Io error, got {other:?}"),
    }
    assert!(!d.path().join(".muse").exists());
    fs::create_dir(d.path().join(".muse")).unwrap();
    c.save().unwrap();
    assert_eq!(StatCache::load(d.path(), MAX_CACHE_BYTES).1, LoadStatus::Loaded);
}

#[test]
fn twenty_threads_saving_concurrently_leave_no_temp() {
    let (_d, root) = work_tree();
    fs::create_dir_all(cache_dir(&root)).unwrap();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || -> Result<(), Error> {
                let f = write(&root, &format!("thread_{i}.py"), format!("content {i}").as_bytes());
                for _ in 0..5 {
                    let (mut c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
                    c.get_object_hash(&root, &f)?;
                    c.save()?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert!(temps_in(&cache_dir(&root)).is_empty());
    let (c, st) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(st, LoadStatus::Loaded);
    assert!(!c.is_empty());
}

#[test]
fn concurrent_walks_agree() {
    let (_d, root) = work_tree();
    for i in 0..300 {
        write(&root, &format!("d{}/f{i}.txt", i % 7), format!("{i}").as_bytes());
    }
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || (0..3).map(|_| manifest(&root)).collect::<Vec<_>>())
        })
        .collect();
    let all: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(all.iter().all(|m| m == &all[0] && m.len() == 300));
    assert!(temps_in(&cache_dir(&root)).is_empty());
    assert_eq!(StatCache::load(&root, MAX_CACHE_BYTES).0.len(), 300);
}

/// `walk_manifest` serves the manifest from the walk's stat cache: after
/// each kind of change (edit, new file, new directory, removed file and
/// directory) it equals a walk that reads every file without a cache, in
/// key order, and the saved cache holds exactly its keys.
#[test]
fn walk_manifest_is_the_cache_and_follows_every_change() {
    use muse_core::ids::id_from_digest;
    use muse_core::walk::walk_manifest;
    let (_d, root) = work_tree();
    for i in 0..40 {
        write(&root, &format!("d{}/f{i:02}.txt", i % 4), format!("v1 {i}").as_bytes());
    }
    let old = SystemTime::now() - Duration::from_secs(30);
    let check = |step: &str| {
        for f in walkdir_files(&root) {
            set_mtime(&f, old); // not racy: every file is a cache hit next time
        }
        let truth = walk_workdir(&root, &WalkOptions { use_cache: false, ..Default::default() }).unwrap();
        for pass in ["first", "second"] {
            let m = walk_manifest(&root, &WalkOptions::default()).unwrap();
            assert_eq!(m.len(), truth.len(), "{step}, {pass} walk");
            let got: Vec<(String, String)> = m.iter().map(|(k, d)| (k.to_owned(), id_from_digest(d))).collect();
            let want: Vec<(String, String)> = truth.clone().into_iter().collect();
            assert_eq!(got, want, "{step}, {pass} walk");
            drop(m); // hands the cache to the next walk
            let (cache, status) = StatCache::load(&root, MAX_CACHE_BYTES);
            assert_eq!(status, LoadStatus::Loaded);
            let mut cached: Vec<&str> = cache.keys().collect();
            cached.sort_unstable();
            assert_eq!(cached, keys(&truth), "{step}: the cache holds exactly the manifest's keys");
        }
    };
    check("cold");
    write(&root, "d1/f01.txt", b"edited, and longer than before");
    check("edit");
    write(&root, "d2/new.txt", b"new");
    write(&root, "e/sub/deep.txt", b"deep");
    check("new file and directory");
    fs::remove_file(root.join("d3/f03.txt")).unwrap();
    fs::remove_dir_all(root.join("d0")).unwrap();
    check("removed file and directory");
    assert_eq!(walk_manifest(&root, &WalkOptions::default()).unwrap().into_pairs().len(), 40 - 10 - 1 + 2);
}

/// Every regular file under `root` outside `.muse/`.
fn walkdir_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() && e.file_name() != ".muse" {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

// ----- big directories (stat'ed in chunks of 1,024 on several threads) -----

#[test]
fn big_directories_are_walked_in_chunks_like_a_cold_walk() {
    let (_d, root) = work_tree();
    // 2,600 files in one directory: three chunks of the listing, with a
    // `.museignore` among them and subdirectories beside them.
    for i in 0..2600 {
        write(&root, &format!("big/f{i:04}.txt"), format!("file {i}\n").as_bytes());
    }
    write(&root, "big/.museignore", b"*.log\nsub2/\n");
    write(&root, "big/skip.log", b"ignored\n");
    write(&root, "big/sub1/a.txt", b"a\n");
    write(&root, "big/sub2/b.txt", b"ignored dir\n");
    write(&root, "top.txt", b"top\n");
    let cold = |root: &Path| walk_workdir(root, &WalkOptions { use_cache: false, ..WalkOptions::default() }).unwrap();

    let first = manifest(&root);
    assert_eq!(first, cold(&root));
    assert_eq!(first.len(), 2600 + 3); // the files, .museignore, sub1/a.txt, top.txt
    assert!(!first.contains_key("big/skip.log") && !first.contains_key("big/sub2/b.txt"));
    assert!(stat_cache_path(&root).exists());

    // Warm: the same answer from the cache.
    assert_eq!(manifest(&root), first);

    // Changes in the first, middle and last chunk, a deletion, a new file
    // and a new subdirectory: each is seen by the warm walk.
    std::thread::sleep(Duration::from_millis(20));
    write(&root, "big/f0000.txt", b"changed first, a longer content\n");
    write(&root, "big/f1300.txt", b"changed middle, a longer content\n");
    write(&root, "big/f2599.txt", b"changed last, a longer content\n");
    fs::remove_file(root.join("big/f0500.txt")).unwrap();
    write(&root, "big/new.txt", b"new\n");
    write(&root, "big/sub3/c.txt", b"c\n");
    let warm = manifest(&root);
    assert_eq!(warm, cold(&root));
    assert_eq!(warm["big/f0000.txt"], blob_id(b"changed first, a longer content\n"));
    assert_eq!(warm["big/f2599.txt"], blob_id(b"changed last, a longer content\n"));
    assert!(!warm.contains_key("big/f0500.txt"));
    assert!(warm.contains_key("big/new.txt") && warm.contains_key("big/sub3/c.txt"));
    assert_eq!(warm.len(), first.len() + 1);
}

#[test]
fn walks_agree_whatever_the_number_of_listing_threads() {
    // Many small directories at several depths: listed by the calling
    // thread alone, or by more threads started as directories wait.
    let (_d, root) = work_tree();
    for a in 0..12 {
        for b in 0..6 {
            for f in 0..5 {
                write(&root, &format!("a{a}/b{b}/f{f}"), format!("{a} {b} {f}").as_bytes());
            }
        }
        write(&root, &format!("a{a}/top"), b"x");
    }
    let m = manifest(&root);
    assert_eq!(m.len(), 12 * 6 * 5 + 12);
    // The process-wide thread count is read once; a walk run on a thread
    // of a small stack still lists on the listing threads.
    let r = root.clone();
    let again = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || manifest(&r)).unwrap().join().unwrap();
    assert_eq!(again, m);
    assert_eq!(walk_workdir(&root, &WalkOptions { use_cache: false, ..WalkOptions::default() }).unwrap(), m);
}

#[test]
fn a_few_changed_files_of_a_big_tree_do_not_rewrite_the_cache_but_many_do() {
    let (_d, root) = work_tree();
    for i in 0..400 {
        write(&root, &format!("d{}/f{i:03}.txt", i % 10), format!("file {i}\n").as_bytes());
    }
    // Past the clock tick of the writes: the saved entries are not racy
    // (racy ones are read again on every walk, and then rewritten).
    std::thread::sleep(Duration::from_millis(50));
    let first = manifest(&root);
    let cache = stat_cache_path(&root);
    let identity = |p: &Path| {
        let m = fs::metadata(p).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec(), m.size())
    };
    let saved = identity(&cache);
    let cold = |root: &Path| walk_workdir(root, &WalkOptions { use_cache: false, ..WalkOptions::default() }).unwrap();

    // One edit and one deletion: seen, and the cache file is left as it was.
    std::thread::sleep(Duration::from_millis(20));
    write(&root, "d3/f003.txt", b"edited, and longer than before\n");
    fs::remove_file(root.join("d4/f004.txt")).unwrap();
    for _ in 0..2 {
        let m = manifest(&root);
        assert_eq!(m, cold(&root));
        assert_eq!(m["d3/f003.txt"], blob_id(b"edited, and longer than before\n"));
        assert!(!m.contains_key("d4/f004.txt"));
        assert_eq!(m.len(), first.len() - 1);
        assert_eq!(identity(&cache), saved, "a few changes must not rewrite the cache file");
    }
    // The file it kept still loads, with the old entries (the next walk
    // reads the edited file again because its stat no longer matches).
    let (c, status) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert!(matches!(status, LoadStatus::Loaded));
    assert_eq!(c.len(), 400);

    // Many edits: the cache is rewritten and then holds exactly the tree.
    for i in (1..400).step_by(4) {
        write(&root, &format!("d{}/f{i:03}.txt", i % 10), format!("edited {i}, longer\n").as_bytes());
    }
    let m = manifest(&root);
    assert_eq!(m, cold(&root));
    assert_ne!(identity(&cache), saved, "100 re-read files must rewrite the cache file");
    let (c, _) = StatCache::load(&root, MAX_CACHE_BYTES);
    assert_eq!(c.len(), 399);
}
