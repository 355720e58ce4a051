//! Fuzz target: `decode_mpack` then `apply_mpack` into a fresh repository.
//!
//! Properties checked on every input:
//! * neither call panics (any panic is a crash);
//! * a decoded bundle re-encodes stably (`encode(decode(encode(m))) ==
//!   encode(m)`);
//! * a refused bundle leaves no commit, snapshot or object behind;
//! * an accepted bundle applied a second time writes nothing.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use muse_core::mpack::{apply_mpack, decode_mpack, encode_mpack, Limits};

/// Small limits, so that inputs claiming huge sizes fail fast.
fn limits() -> Limits {
    Limits {
        max_bundle_bytes: 1 << 20,
        max_blob_bytes: 64 << 10,
        max_entries: 10_000,
        max_depth: 32,
        max_rebuilt_entries: 1_000_000,
    }
}

/// A minimal repository layout (like the seed suites' `_make_repo`), fsync off.
fn make_repo(root: &Path) {
    let dot = root.join(".muse");
    for d in ["refs/heads", "commits", "snapshots", "objects"] {
        std::fs::create_dir_all(dot.join(d)).unwrap();
    }
    std::fs::write(dot.join("repo.json"), "{\"repo_id\":\"fuzz\",\"owner\":\"fuzz\"}").unwrap();
    std::fs::write(dot.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(dot.join("config.toml"), "[core]\nfsync = \"off\"\n").unwrap();
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            count_files(&e.path())
        } else {
            1
        }
    })
    .sum()
}

fuzz_target!(|data: &[u8]| {
    let Ok(m) = decode_mpack(data, &limits()) else { return };

    let once = encode_mpack(&m).expect("encode a decoded bundle");
    let back = decode_mpack(&once, &Limits::default()).expect("decode a re-encoded bundle");
    assert_eq!(encode_mpack(&back).expect("encode again"), once, "unstable round trip");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    make_repo(root);
    match apply_mpack(root, &m, &limits()) {
        Ok(_) => {
            let again = apply_mpack(root, &m, &limits()).expect("second apply of an accepted bundle");
            assert_eq!(
                (again.commits_written, again.snapshots_written, again.blobs_written),
                (0, 0, 0),
                "second apply wrote something"
            );
        }
        Err(_) => {
            let dot = root.join(".muse");
            let left: usize =
                ["commits", "snapshots", "objects", "refs"].iter().map(|d| count_files(&dot.join(d))).sum();
            assert_eq!(left, 0, "a refused bundle left files behind");
        }
    }
});
