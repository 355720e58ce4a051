//! Concurrent writers (threads and processes) never lose a compare-and-swap
//! update, never tear a ref, and never corrupt the store (SPEC §4).

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};

use common::{make_commit, new_repo};
use muse_core::commits::{read_commit, write_commit};
use muse_core::ids::{blob_id, fake_id, is_valid_id};
use muse_core::object_store::{read_object, write_object};
use muse_core::refs::{compare_and_swap_branch_ref, read_branch_ref, write_branch_ref};
use muse_core::Error;

const CHILD_ENV: &str = "MUSE_TEST_CAS_CHILD";

fn counter_ids(n: usize) -> (Vec<String>, HashMap<String, usize>) {
    let ids: Vec<String> = (0..=n).map(|i| fake_id(&format!("n{i}"))).collect();
    let index = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
    (ids, index)
}

/// Performs `count` successful increments of the counter held in `branch`,
/// retrying on conflicts. Returns the number of conflicts met.
fn increment(root: &Path, branch: &str, count: usize, ids: &[String], index: &HashMap<String, usize>) -> usize {
    let mut done = 0;
    let mut conflicts = 0;
    while done < count {
        let cur = read_branch_ref(root, branch).unwrap().expect("counter ref exists");
        let i = index[&cur];
        match compare_and_swap_branch_ref(root, branch, Some(&cur), &ids[i + 1]) {
            Ok(()) => done += 1,
            Err(Error::RefConflict { .. }) => conflicts += 1,
            Err(e) => panic!("CAS failed: {e}"),
        }
    }
    conflicts
}

#[test]
fn cas_increments_from_eight_threads_lose_no_update() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 1_000;
    let (_tmp, root) = new_repo(true);
    let (ids, index) = counter_ids(THREADS * PER_THREAD);
    let (ids, index) = (Arc::new(ids), Arc::new(index));
    compare_and_swap_branch_ref(&root, "counter", None, &ids[0]).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, ids, index, barrier) = (root.clone(), ids.clone(), index.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                increment(&root, "counter", PER_THREAD, &ids, &index)
            })
        })
        .collect();
    let conflicts: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!("{} increments, {conflicts} conflicts retried", THREADS * PER_THREAD);
    assert_eq!(
        read_branch_ref(&root, "counter").unwrap().as_deref(),
        Some(ids[THREADS * PER_THREAD].as_str()),
        "an update was lost ({conflicts} conflicts retried)"
    );
    // No lock file or temp is left behind.
    let left: Vec<_> = std::fs::read_dir(root.join(".muse/refs/heads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["counter".to_string()]);
}

/// Child mode of the cross-process test: increments, then prints DONE.
fn cas_child(spec: &str) {
    let mut parts = spec.split('|');
    let root = Path::new(parts.next().unwrap()).to_path_buf();
    let count: usize = parts.next().unwrap().parse().unwrap();
    let total: usize = parts.next().unwrap().parse().unwrap();
    let (ids, index) = counter_ids(total);
    increment(&root, "counter", count, &ids, &index);
    // libtest has already printed "test <name> ... " without a newline.
    println!("\nMUSE_CHILD_DONE");
}

#[test]
fn cas_increments_from_several_processes_lose_no_update() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        cas_child(&spec);
        return;
    }
    const PROCS: usize = 2;
    const THREADS: usize = 2;
    const EACH: usize = 400;
    let total = (PROCS + THREADS) * EACH;
    let (_tmp, root) = new_repo(true);
    let (ids, index) = counter_ids(total);
    compare_and_swap_branch_ref(&root, "counter", None, &ids[0]).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "cas_increments_from_several_processes_lose_no_update", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, format!("{}|{EACH}|{total}", root.display()))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let (ids, index) = (Arc::new(ids), Arc::new(index));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, ids, index) = (root.clone(), ids.clone(), index.clone());
            std::thread::spawn(move || increment(&root, "counter", EACH, &ids, &index))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for mut child in children {
        // Read to the end: closing the pipe early would make the child's
        // harness fail on a broken pipe.
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let done = out.contains("MUSE_CHILD_DONE");
        let status = child.wait().unwrap();
        assert!(status.success() && done, "child failed: {status}");
    }
    assert_eq!(read_branch_ref(&root, "counter").unwrap().as_deref(), Some(ids[total].as_str()));
}

#[test]
fn concurrent_plain_writes_are_last_write_wins_and_never_torn() {
    const WRITERS: usize = 4;
    const WRITES: usize = 300;
    let (_tmp, root) = new_repo(true);
    let all: Vec<String> = (0..WRITERS * WRITES).map(|i| fake_id(&format!("w{i}"))).collect();
    let all = Arc::new(all);
    write_branch_ref(&root, "main", &all[0]).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (root, all, stop) = (root.clone(), all.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                    let v = read_branch_ref(&root, "main").expect("a reader saw a torn or missing ref");
                    let v = v.expect("the ref never disappears");
                    assert!(all.contains(&v), "read a value nobody wrote: {v}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (root, all) = (root.clone(), all.clone());
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    write_branch_ref(&root, "main", &all[w * WRITES + i]).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    // The final value is the last write of one of the writers.
    let last = read_branch_ref(&root, "main").unwrap().unwrap();
    let finals: Vec<&String> = (0..WRITERS).map(|w| &all[w * WRITES + WRITES - 1]).collect();
    assert!(finals.contains(&&last), "final value {last} is not any writer's last write");
}

#[test]
fn concurrent_writes_of_one_object_store_it_exactly_once() {
    const THREADS: usize = 8;
    let (_tmp, root) = new_repo(true);
    for round in 0..20 {
        let content: Arc<Vec<u8>> = Arc::new(format!("shared object {round}").repeat(5000).into_bytes());
        let id = Arc::new(blob_id(&content));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (root, content, id, barrier) = (root.clone(), content.clone(), id.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    write_object(&root, &id, &content, None).unwrap()
                })
            })
            .collect();
        let written = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
        assert_eq!(written, 1, "round {round}: exactly one writer reports a new object");
        assert_eq!(read_object(&root, &id).unwrap(), *content);
    }
    // No temp is left in any shard.
    assert!(common::temps_under(&root.join(".muse/objects"), ".obj-tmp-").is_empty());
}

#[test]
fn concurrent_writes_of_one_commit_store_it_exactly_once() {
    const THREADS: usize = 8;
    let (_tmp, root) = new_repo(true);
    for round in 0..20 {
        let rec = Arc::new(make_commit(None, None, &format!("round {round}"), round));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (root, rec, barrier) = (root.clone(), rec.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    write_commit(&root, &rec, None).unwrap()
                })
            })
            .collect();
        let written = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
        assert_eq!(written, 1, "round {round}");
        assert_eq!(read_commit(&root, &rec.commit_id).unwrap().as_ref(), Some(&*rec));
    }
    assert!(common::temps_under(&root.join(".muse/commits"), ".muse-tmp-").is_empty());
    assert!(is_valid_id(&fake_id("sanity")));
}
