//! A writer killed with SIGKILL mid-write leaves no readable partial file;
//! its temps are swept by the GC, never while the writer is alive (SPEC §4).
//!
//! The test binary re-executes itself as the writer: the child runs the same
//! test with an environment variable set, writes in a loop, announces on
//! stdout that it is under way (holding one half-written temp of its own),
//! and is then SIGKILLed by the parent (`Child::kill`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use common::{files_under, make_commit, new_repo, set_mtime};
use muse_core::atomic::{create_locked_temp, write_text_atomic, Durability, MODE_IMMUTABLE, MODE_MUTABLE, MUSE_TMP_PREFIX, OBJ_TMP_PREFIX};
use muse_core::commits::{get_all_commits, has_commit, list_commit_ids, read_commit, write_commit};
use muse_core::ids::blob_id;
use muse_core::object_store::{cleanup_stale_object_temps, read_object, write_object};
use muse_core::refs::{read_branch_ref, write_branch_ref};
use muse_core::repo::{cleanup_muse_dir_temps, is_temp_name, startup_gc};

const OBJ_CHILD_ENV: &str = "MUSE_TEST_CHILD_OBJECTS";
const REC_CHILD_ENV: &str = "MUSE_TEST_CHILD_RECORDS";
const READY: &str = "MUSE_CHILD_READY ";
const OBJ_SIZE: usize = 256 * 1024;
/// The child never writes more than this many items (in case nobody kills it).
const CHILD_CAP: usize = 1_000;

/// Exits the child when the parent closes its stdin (the parent died or gave
/// up), so that no writer outlives the test.
fn exit_when_parent_goes() {
    std::thread::spawn(|| {
        let mut buf = [0u8; 1];
        loop {
            match std::io::stdin().read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
}

fn announce(paths: &[&Path]) {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut out = std::io::stdout().lock();
    // libtest has already printed "test <name> ... " without a newline.
    writeln!(out, "\n{READY}{}", list.join("|")).unwrap();
    out.flush().unwrap();
}

fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn object_content(i: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..OBJ_SIZE).map(|j| (j.wrapping_mul(31) ^ i) as u8).collect();
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v
}

fn spawn_child(test_name: &str, env: &str, root: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(env, root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout up to its READY line; returns the paths it held.
fn wait_ready(child: &mut Child) -> Vec<PathBuf> {
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once(READY) {
            return rest.split('|').map(PathBuf::from).collect();
        }
    }
    let status = child.wait().unwrap();
    panic!("child exited before it was ready: {status}");
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL on unix
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "child was not killed by SIGKILL: {status}");
}

// ---------------------------------------------------------------- objects

fn object_writer_child(root: &Path) -> ! {
    exit_when_parent_goes();
    // One temp held half-written for the whole run: a write in progress.
    let held_id = blob_id(&object_content(usize::MAX));
    let shard = muse_core::object_store::object_path(root, &held_id).unwrap().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&shard).unwrap();
    let mut held = create_locked_temp(&shard, OBJ_TMP_PREFIX, "", MODE_IMMUTABLE).unwrap();
    held.write_all(&object_content(usize::MAX)[..OBJ_SIZE / 2]).unwrap();
    for i in 0..CHILD_CAP {
        let c = object_content(i);
        assert!(write_object(root, &blob_id(&c), &c, None).unwrap());
        if i == 10 {
            announce(&[held.path()]);
        }
    }
    park_forever()
}

fn object_files(root: &Path) -> (Vec<(String, PathBuf)>, Vec<PathBuf>) {
    let mut objects = Vec::new();
    let mut temps = Vec::new();
    for f in files_under(&root.join(".muse/objects/sha256")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if is_temp_name(&name) {
            temps.push(f);
        } else {
            let shard = f.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
            objects.push((format!("sha256:{shard}{name}"), f));
        }
    }
    (objects, temps)
}

#[test]
fn sigkilled_object_writer_leaves_no_readable_partial_object() {
    if let Ok(root) = std::env::var(OBJ_CHILD_ENV) {
        object_writer_child(Path::new(&root));
    }
    let (_tmp, root) = new_repo(false);
    let mut child = spawn_child("sigkilled_object_writer_leaves_no_readable_partial_object", OBJ_CHILD_ENV, &root);
    let held = wait_ready(&mut child);
    assert_eq!(held.len(), 1);
    let held = &held[0];

    // While the writer lives, no GC entry point removes its temp, however
    // old it looks, even with the age gate off.
    set_mtime(held, UNIX_EPOCH);
    cleanup_stale_object_temps(&root, Some(Duration::ZERO)).unwrap();
    cleanup_stale_object_temps(&root, None).unwrap();
    startup_gc(&root).unwrap();
    assert!(held.exists(), "a live writer's temp was removed");

    kill(child);
    // Undo the backdating: the dead writer's temp is young again.
    set_mtime(held, std::time::SystemTime::now());

    let (objects, temps) = object_files(&root);
    assert!(objects.len() >= 11, "only {} objects written", objects.len());
    for (id, path) in &objects {
        let data = read_object(&root, id).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(data.len(), OBJ_SIZE, "{id}");
    }
    assert!(temps.contains(held), "the dead writer's temp is there: {temps:?}");
    for t in &temps {
        assert!(t.file_name().unwrap().to_string_lossy().starts_with(OBJ_TMP_PREFIX), "{}", t.display());
    }

    // Young unlocked object temps are kept by the age gate ...
    startup_gc(&root).unwrap();
    assert!(held.exists(), "object temps younger than 60 s are kept");
    // ... and removed once older than it.
    for t in &temps {
        if t.exists() {
            set_mtime(t, UNIX_EPOCH);
        }
    }
    let removed = cleanup_stale_object_temps(&root, None).unwrap();
    assert!(removed >= 1 && removed <= temps.len(), "removed {removed} of {}", temps.len());
    let (objects_after, temps_after) = object_files(&root);
    assert!(temps_after.is_empty(), "temps left: {temps_after:?}");
    assert_eq!(objects_after.len(), objects.len(), "the GC removed an object");

    // The interrupted write can simply be done again.
    let c = object_content(usize::MAX);
    assert!(write_object(&root, &blob_id(&c), &c, None).unwrap());
    assert_eq!(read_object(&root, &blob_id(&c)).unwrap(), c);
}

// ---------------------------------------------------------------- records

fn notes_text(i: usize) -> String {
    format!("version {i}\n{}\nend {i}\n", "x".repeat(64 * 1024 + i))
}

fn record_writer_child(root: &Path) -> ! {
    exit_when_parent_goes();
    let dot = root.join(".muse");
    let mut held_commit = create_locked_temp(&dot.join("commits"), MUSE_TMP_PREFIX, "", MODE_IMMUTABLE).unwrap();
    held_commit.write_all(b"\x8f\xa9commit_id").unwrap(); // a record cut short
    let mut held_text = create_locked_temp(&dot, MUSE_TMP_PREFIX, "", MODE_MUTABLE).unwrap();
    held_text.write_all(b"version 999\nxxxx").unwrap();
    let mut parent: Option<String> = None;
    for i in 0..CHILD_CAP {
        let rec = make_commit(parent.as_deref(), None, &format!("crash {i}"), (i % 86_000) as u32);
        assert!(write_commit(root, &rec, None).unwrap());
        write_text_atomic(&dot.join("notes.txt"), &notes_text(i), Durability::Full).unwrap();
        write_branch_ref(root, "main", &rec.commit_id).unwrap();
        parent = Some(rec.commit_id);
        if i == 10 {
            announce(&[held_commit.path(), held_text.path()]);
        }
    }
    park_forever()
}

#[test]
fn sigkilled_record_writer_leaves_no_partial_record_ref_or_text() {
    if let Ok(root) = std::env::var(REC_CHILD_ENV) {
        record_writer_child(Path::new(&root));
    }
    let (_tmp, root) = new_repo(false);
    let dot = root.join(".muse");
    let mut child = spawn_child("sigkilled_record_writer_leaves_no_partial_record_ref_or_text", REC_CHILD_ENV, &root);
    let held = wait_ready(&mut child);
    assert_eq!(held.len(), 2);

    // `.muse-tmp-` temps have no age gate; only the writer's lock protects them.
    cleanup_muse_dir_temps(&dot).unwrap();
    let live = startup_gc(&root).unwrap();
    assert!(live.kept_live >= 2, "{live:?}");
    for h in &held {
        assert!(h.exists(), "a live writer's temp was removed: {}", h.display());
    }

    kill(child);

    // Every record file is whole and verifies.
    let ids = list_commit_ids(&root).unwrap();
    assert!(ids.len() >= 11, "only {} commits", ids.len());
    for id in &ids {
        assert!(read_commit(&root, id).unwrap().is_some(), "{id}");
    }
    assert_eq!(get_all_commits(&root).unwrap().len(), ids.len());
    // The text file is one whole version.
    let text = std::fs::read_to_string(dot.join("notes.txt")).unwrap();
    let n: usize = text.lines().next().unwrap().strip_prefix("version ").unwrap().parse().unwrap();
    assert_eq!(text, notes_text(n), "torn notes.txt");
    // The ref is whole and points at a stored commit.
    let tip = read_branch_ref(&root, "main").unwrap().expect("main was written");
    assert!(has_commit(&root, &tip).unwrap(), "ref points at a commit that is not stored");

    // The dead writer's temps (and any other it left) all go, with no age gate.
    let temps_before: Vec<PathBuf> = files_under(&dot)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(MUSE_TMP_PREFIX))
        .collect();
    for h in &held {
        assert!(temps_before.contains(h));
    }
    let report = startup_gc(&root).unwrap();
    assert_eq!(report.removed, temps_before.len(), "{report:?}");
    assert_eq!(report.kept_live, 0, "{report:?}");
    let left: Vec<PathBuf> =
        files_under(&dot).into_iter().filter(|p| is_temp_name(&p.file_name().unwrap().to_string_lossy())).collect();
    assert!(left.is_empty(), "temps left: {left:?}");
    assert_eq!(list_commit_ids(&root).unwrap(), ids, "the GC removed a record");

    // A lock file the killed writer may have left does not block the next writer.
    let next = make_commit(Some(&tip), None, "after the crash", 86_100);
    write_commit(&root, &next, None).unwrap();
    write_branch_ref(&root, "main", &next.commit_id).unwrap();
    assert_eq!(read_branch_ref(&root, "main").unwrap(), Some(next.commit_id));
}
