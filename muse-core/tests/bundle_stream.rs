//! Streaming bundle files (format v2, `muse_core::bundle`): round trips,
//! thin incremental bundles, octopus parents, v1 files, and one test per
//! lie a hostile file can tell — each must end in a clear error, with
//! nothing new under the receiver's `.muse/`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{new_repo, tree, ts};
use muse_core::bundle::{bundle_format, BundleFormat, BUNDLE_FORMAT_VERSION, BUNDLE_MAGIC, CONTEXT_KEEP, CONTEXT_MAX};
use muse_core::ids::{blob_id, digest_from_id, hash_snapshot};
use muse_core::mpack::{encode_mpack, Limits, SnapshotDelta};
use muse_core::pack::{Encoding, EntryKind};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::{CommitId, ErrorKind, Repository};
use sha2::{Digest, Sha256};

type Manifest = BTreeMap<String, String>;

/// One commit of a test history.
#[derive(Clone, Debug)]
struct Made {
    commit: String,
    manifest: Manifest,
}

fn open(root: &Path) -> Repository {
    Repository::open(root).unwrap()
}

/// A text of `lines` lines, line `k` reading `tag k`.
fn text(tag: &str, lines: usize) -> Vec<String> {
    (0..lines).map(|k| format!("{tag} line {k}: some words to make the file realistic\n")).collect()
}

/// Writes a commit on `parents` whose snapshot is `manifest`.
fn commit(repo: &Repository, parents: &[&str], manifest: &Manifest, msg: &str, secs: u32, extra: Option<String>) -> Made {
    let snap = SnapshotRecord::new(manifest.clone());
    repo.write_snapshot(&snap).unwrap();
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: snap.snapshot_id.clone(),
        message: msg.into(),
        committed_at: ts(secs),
        parent_commit_id: parents.first().map(|s| s.to_string()),
        parent2_commit_id: parents.get(1).map(|s| s.to_string()),
        author: "tester".into(),
        ..Default::default()
    };
    if let Some(x) = extra {
        c.metadata.insert("extra_parents".into(), x);
    }
    c.commit_id = c.compute_id();
    repo.write_commit(&c).unwrap();
    Made { commit: c.commit_id, manifest: manifest.clone() }
}

/// `n` commits on `parent` (or a root): commit `i` edits one line of one of
/// three 300-line files, every 4th adds a small file, every 9th removes it.
fn chain(repo: &Repository, parent: Option<&Made>, n: usize, label: &str, start: u32) -> Vec<Made> {
    let mut files: Vec<Vec<String>> = (0..3).map(|f| text(&format!("f{f}"), 300)).collect();
    let mut manifest = parent.map(|p| p.manifest.clone()).unwrap_or_default();
    if let Some(p) = parent {
        for (f, lines) in files.iter_mut().enumerate() {
            if let Some(id) = p.manifest.get(&format!("src/f{f}.txt")) {
                let content = String::from_utf8(repo.read_blob(id).unwrap()).unwrap();
                *lines = content.split_inclusive('\n').map(str::to_string).collect();
            }
        }
    }
    let mut prev = parent.map(|p| p.commit.clone());
    let mut out = Vec::new();
    for i in 0..n {
        let f = i % 3;
        files[f][(i * 31) % 300] = format!("{label} edit {i}\n");
        for (k, lines) in files.iter().enumerate() {
            let id = repo.write_blob(lines.concat().as_bytes()).unwrap().to_string();
            manifest.insert(format!("src/f{k}.txt"), id);
        }
        if i % 4 == 0 {
            let id = repo.write_blob(format!("{label} note {i}\n").as_bytes()).unwrap().to_string();
            manifest.insert(format!("notes/{label}-{i}.txt"), id);
        }
        if i % 9 == 8 {
            manifest.remove(&format!("notes/{label}-{}.txt", i - 8));
        }
        let parents: Vec<&str> = prev.iter().map(String::as_str).collect();
        let made = commit(repo, &parents, &manifest, &format!("{label}-{i}"), start + i as u32, None);
        prev = Some(made.commit.clone());
        out.push(made);
    }
    out
}

fn cid(s: &str) -> CommitId {
    CommitId::parse(s).unwrap()
}

/// Every commit, snapshot and blob of `made` reads back from `dst` exactly
/// as from `src`.
fn assert_same(src: &Repository, dst: &Repository, made: &[Made]) {
    for m in made {
        assert_eq!(dst.read_commit(&m.commit).unwrap(), src.read_commit(&m.commit).unwrap());
        let snap = dst.commit_manifest(&m.commit).unwrap();
        assert_eq!(snap, m.manifest);
        for oid in m.manifest.values() {
            assert_eq!(dst.read_blob(oid).unwrap(), src.read_blob(oid).unwrap(), "blob {oid}");
        }
    }
}

/// A source repository with a 40-commit chain on `main`.
fn source() -> (tempfile::TempDir, PathBuf, Vec<Made>) {
    let (dir, root) = new_repo(true);
    let repo = open(&root);
    let made = chain(&repo, None, 40, "a", 0);
    repo.set_branch("main", &made.last().unwrap().commit).unwrap();
    (dir, root, made)
}

#[test]
fn round_trip_then_a_thin_incremental_bundle() {
    let (dir, a, mut made) = source();
    let src = open(&a);
    let file = dir.path().join("full.bundle");
    let tip1 = made.last().unwrap().commit.clone();
    let st = src.create_bundle(&file, &[cid(&tip1)], &[]).unwrap();
    assert_eq!(bundle_format(&file).unwrap(), BundleFormat::StreamV2);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), st.bytes);
    assert_eq!(st.commits, 40);
    assert!(st.prerequisites.is_empty());
    assert_eq!(st.branch_heads, [("main".to_string(), tip1.clone())].into());
    assert!(st.blob_deltas * 2 > st.blobs, "most blobs are deltas: {st:?}");
    // Far smaller than the raw content (3 x 300 lines per commit).
    assert!(st.bytes < 60_000, "{st:?}");

    let (_d2, b) = new_repo(true);
    let dst = open(&b);
    let stats = dst.apply_bundle(&file, &Limits::default()).unwrap();
    assert_eq!(stats.commits_written, 40);
    assert_eq!(stats.snapshots_written, 40);
    assert_eq!(stats.branch_heads, [("main".to_string(), tip1.clone())].into());
    assert_same(&src, &dst, &made);
    // Applying it again writes nothing.
    let again = dst.apply_bundle(&file, &Limits::default()).unwrap();
    assert_eq!((again.commits_written, again.snapshots_written, again.blobs_written), (0, 0, 0));

    // Incremental: 10 more commits, thin against what B has.
    let more = chain(&src, made.last(), 10, "b", 1000);
    let inc = dir.path().join("inc.bundle");
    let tip2 = more.last().unwrap().commit.clone();
    let st2 = src.create_bundle(&inc, &[cid(&tip2)], &[cid(&tip1)]).unwrap();
    assert_eq!(st2.commits, 10);
    assert_eq!(st2.prerequisites, vec![tip1.clone()]);
    // Each commit rewrites one of three files; the first edit of each file
    // is a delta against the blob B has (thin): every blob is a delta
    // except the new small notes.
    let notes = (0..10).filter(|i| i % 4 == 0).count();
    assert_eq!(st2.blob_deltas, st2.blobs - notes, "{st2:?}");
    assert!(st2.bytes < 12_000, "{st2:?}");

    // A receiver without the prerequisite refuses it, unchanged.
    let (_d3, c) = new_repo(true);
    let before = tree(&c.join(".muse"));
    let e = open(&c).apply_bundle(&inc, &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("lacks these prerequisite commits") && e.to_string().contains(&tip1), "{e}");
    assert_eq!(tree(&c.join(".muse")), before);
    let e = open(&c).verify_bundle(&inc, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("prerequisite"), "{e}");

    // B takes it.
    let info = dst.verify_bundle(&inc, &Limits::default()).unwrap();
    assert_eq!((info.version, info.commits, info.prerequisites.clone()), (2, 10, vec![tip1.clone()]));
    let stats = dst.apply_bundle(&inc, &Limits::default()).unwrap();
    assert_eq!(stats.commits_written, 10);
    made.extend(more);
    assert_same(&src, &dst, &made);
}

#[test]
fn octopus_parents_travel_and_side_branches_use_the_window() {
    let (dir, root) = new_repo(true);
    let repo = open(&root);
    let base = chain(&repo, None, 3, "base", 0);
    let x = chain(&repo, base.last(), 12, "x", 100);
    let y = chain(&repo, base.last(), 2, "y", 200);
    let z = chain(&repo, base.last(), 2, "z", 300);
    let mut m = x.last().unwrap().manifest.clone();
    m.insert("merged.txt".into(), repo.write_blob(b"octopus\n").unwrap().to_string());
    let tip = commit(
        &repo,
        &[&x.last().unwrap().commit, &y.last().unwrap().commit],
        &m,
        "octopus",
        400,
        Some(z.last().unwrap().commit.clone()),
    );
    let file = dir.path().join("o.bundle");
    let st = repo.create_bundle(&file, &[cid(&tip.commit)], &[]).unwrap();
    assert_eq!(st.commits, 3 + 12 + 2 + 2 + 1, "the octopus's third parent line is in the bundle");
    let (_d2, b) = new_repo(true);
    let dst = open(&b);
    dst.apply_bundle(&file, &Limits::default()).unwrap();
    let mut all: Vec<Made> = base.into_iter().chain(x).chain(y).chain(z).collect();
    all.push(tip);
    assert_same(&repo, &dst, &all);
}

#[test]
fn a_v1_mpack_file_still_applies() {
    let (dir, a, made) = source();
    let src = open(&a);
    let tip = made.last().unwrap().commit.clone();
    let m = src.build_mpack(&[cid(&tip)], &[]).unwrap();
    let file = dir.path().join("v1.mpack");
    std::fs::write(&file, encode_mpack(&m).unwrap()).unwrap();
    assert_eq!(bundle_format(&file).unwrap(), BundleFormat::MPackV1);
    let (_d2, b) = new_repo(true);
    let dst = open(&b);
    assert_eq!(dst.verify_bundle(&file, &Limits::default()).unwrap().version, 1);
    assert_eq!(dst.apply_bundle(&file, &Limits::default()).unwrap().commits_written, 40);
    assert_same(&src, &dst, &made);
    // A v1 file over max_bundle_bytes is refused by its size.
    let (_d3, c) = new_repo(true);
    let small = Limits { max_bundle_bytes: 100, ..Limits::default() };
    let e = open(&c).apply_bundle(&file, &small).unwrap_err();
    assert!(e.to_string().contains("over the limit"), "{e}");
}

#[test]
fn a_failed_create_leaves_no_file_under_the_final_name() {
    let (dir, a, _made) = source();
    let file = dir.path().join("x.bundle");
    let e = open(&a).create_bundle(&file, &[cid(&format!("sha256:{}", "ab".repeat(32)))], &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!file.exists());
    assert_no_bundle_temps(dir.path(), "");
}

/// No `.muse-bundle-*` temporary file is left in `dir` (`what` names the case).
fn assert_no_bundle_temps(dir: &Path, what: &str) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".muse-bundle-"))
        .collect();
    assert!(leftovers.is_empty(), "{what}: temporary files left: {leftovers:?}");
}

/// A file of the source's store is missing: a blob only the tip has (read
/// on the thread that makes the frames, after the walk queued it) or the
/// tip's commit record (the walk notices first). `create` fails naming it
/// and leaves no file, temporary or final.
#[test]
fn a_blob_or_commit_missing_at_the_source_fails_create_with_no_file() {
    for what in ["blob", "commit"] {
        let (dir, a, made) = source();
        let last = made.last().unwrap();
        let (name, victim) = match what {
            "blob" => {
                let oid = last.manifest.values().find(|o| !made[..made.len() - 1].iter().any(|m| m.manifest.values().any(|x| x == *o))).unwrap();
                let hex = &oid["sha256:".len()..];
                (oid.clone(), a.join(".muse/objects/sha256").join(&hex[..2]).join(&hex[2..]))
            }
            _ => {
                let hex = &last.commit["sha256:".len()..];
                (last.commit.clone(), a.join(".muse/commits").join(format!("{hex}.msgpack")))
            }
        };
        assert!(victim.is_file(), "{what} stored loose at {}", victim.display());
        let file = dir.path().join("x.bundle");
        let repo = open(&a);
        std::fs::remove_file(&victim).unwrap();
        let e = match repo.create_bundle(&file, &[cid(&last.commit)], &[]) {
            Err(e) => e,
            Ok(s) => panic!("{what}: create succeeded without {name}: {s:?}"),
        };
        assert!(e.to_string().contains(&name["sha256:".len()..]), "{what}: {e}");
        assert!(!file.exists(), "{what}");
        assert_no_bundle_temps(dir.path(), what);
    }
}

/// A whole-history bundle (no `have`) from a repacked store reads every
/// packed commit up front: commits the wanted tips do not reach (a side
/// branch) are read but not sent, and wanting both tips sends both.
#[test]
fn a_whole_history_bundle_from_packs_sends_only_what_its_tips_reach() {
    let (dir, a, made) = source();
    let src = open(&a);
    let side = chain(&src, Some(&made[10]), 5, "s", 100);
    src.set_branch("side", &side.last().unwrap().commit).unwrap();
    src.gc(&muse_core::reachability::GcOptions::default()).unwrap();
    let packed_commits = muse_core::pack::refresh(&a)
        .packs()
        .iter()
        .flat_map(|p| p.entries().to_vec())
        .filter(|e| e.kind == EntryKind::Commit)
        .count();
    assert_eq!(packed_commits, 45, "the repack packed every commit");
    let main_tip = made.last().unwrap().commit.clone();
    let side_tip = side.last().unwrap().commit.clone();
    for (want, expect) in [(vec![main_tip.clone()], 40), (vec![main_tip, side_tip], 45)] {
        let file = dir.path().join(format!("w{}.bundle", want.len()));
        let want: Vec<CommitId> = want.iter().map(|c| cid(c)).collect();
        let st = src.create_bundle(&file, &want, &[]).unwrap();
        assert_eq!(st.commits, expect, "{st:?}");
        let (_d2, b) = new_repo(true);
        let dst = open(&b);
        let stats = dst.apply_bundle(&file, &Limits::default()).unwrap();
        assert_eq!(stats.commits_written, expect);
        assert_same(&src, &dst, &made);
        if expect == 45 {
            assert_same(&src, &dst, &side);
        } else {
            assert!(dst.read_commit(&side[0].commit).unwrap().is_none(), "a side commit was sent");
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile files
// ---------------------------------------------------------------------------

/// A small good bundle (8 commits) and its frames' offsets by kind.
fn good_bundle() -> (tempfile::TempDir, PathBuf, Vec<(u8, usize, usize)>) {
    let (dir, root) = new_repo(true);
    let repo = open(&root);
    let made = chain(&repo, None, 8, "g", 0);
    let file = dir.path().join("good.bundle");
    repo.create_bundle(&file, &[cid(&made.last().unwrap().commit)], &[]).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    (dir, file, frames(&bytes))
}

/// (kind, offset of the kind byte, payload length) of every frame.
fn frames(bytes: &[u8]) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 12;
    while pos < bytes.len() {
        let len = u32::from_be_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
        out.push((bytes[pos], pos, len));
        pos += 5 + len;
    }
    out
}

/// Asserts `bytes` as a bundle file is refused by `apply_bundle` into a
/// fresh repository with an error containing `needle`, and that nothing
/// under `.muse/` changed. Returns the message.
fn refused(bytes: &[u8], needle: &str) -> String {
    let (dir, root) = new_repo(true);
    let file = dir.path().join("bad.bundle");
    std::fs::write(&file, bytes).unwrap();
    let before = tree(&root.join(".muse"));
    let repo = open(&root);
    let e = repo.apply_bundle(&file, &Limits::default()).expect_err("a lying bundle was accepted");
    let msg = e.to_string();
    assert!(msg.contains(needle), "error {msg:?} does not mention {needle:?}");
    assert_eq!(tree(&root.join(".muse")), before, "a refused bundle changed .muse/ ({msg})");
    assert!(repo.branches().unwrap().is_empty());
    let v = repo.verify_bundle(&file, &Limits::default()).expect_err("verify accepted a lying bundle");
    assert!(v.to_string().contains(needle), "verify: {v}");
    msg
}

#[test]
fn truncated_at_many_offsets() {
    let (_d, file, _) = good_bundle();
    let bytes = std::fs::read(&file).unwrap();
    let mut cuts: Vec<usize> = (0..40).collect();
    cuts.extend((40..bytes.len()).step_by(97));
    cuts.push(bytes.len() - 1);
    for cut in cuts {
        let (dir, root) = new_repo(true);
        let p = dir.path().join("t.bundle");
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let before = tree(&root.join(".muse"));
        let e = open(&root).apply_bundle(&p, &Limits::default()).expect_err("a truncated bundle was accepted");
        let msg = e.to_string();
        // Under 8 bytes there is no magic: read as a v1 MPack map.
        assert!(
            msg.contains("truncated") || (cut < 8 && msg.contains("MPack")),
            "cut at {cut}: {msg}"
        );
        assert_eq!(tree(&root.join(".muse")), before, "cut at {cut}");
    }
    // Extra bytes after the end frame.
    let mut longer = bytes.clone();
    longer.push(0);
    refused(&longer, "bytes after the end frame");
}

#[test]
fn flipped_bytes_in_each_kind_of_frame_name_the_entry() {
    let (_d, file, frames) = good_bundle();
    let bytes = std::fs::read(&file).unwrap();
    let first = |k: u8| *frames.iter().find(|f| f.0 == k).unwrap();
    // A blob frame: a byte in its compressed content.
    let (_, at, len) = first(b'B');
    let mut b = bytes.clone();
    b[at + 5 + 33 + len.saturating_sub(33) / 2] ^= 0x5a;
    let msg = refused(&b, "blob sha256:");
    assert!(msg.contains(&format!("frame at byte {at}")), "{msg}");
    // Its ID.
    let mut b = bytes.clone();
    b[at + 5 + 3] ^= 1;
    refused(&b, "content hashes to");
    // A snapshot frame, a commit frame: the zstd frame is damaged or
    // decodes to something that fails its own check.
    for kind in [b'S', b'C'] {
        let (_, at, len) = first(kind);
        let mut b = bytes.clone();
        b[at + 5 + len - 2] ^= 0x40;
        let msg = refused(&b, &format!("frame at byte {at}"));
        assert!(msg.contains(if kind == b'S' { "snapshot" } else { "commit" }), "{msg}");
    }
    // The end hash itself.
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 1] ^= 1;
    refused(&b, "SHA-256 of the file does not match");
    // The end counts (the end frame's own bytes are outside its hash).
    let (_, at, _) = first(b'E');
    let mut b = bytes.clone();
    b[at + 5 + 7] ^= 1;
    refused(&b, "end frame counts 9 commits, 8 snapshots, 12 blobs; the file has 8, 8, 12");
}

#[test]
fn a_frame_declaring_a_huge_size_fails_fast() {
    let (_d, file, frames) = good_bundle();
    let bytes = std::fs::read(&file).unwrap();
    for kind in [b'H', b'S', b'C', b'E'] {
        let (_, at, _) = *frames.iter().find(|f| f.0 == kind).unwrap();
        let mut b = bytes.clone();
        b[at + 1..at + 5].copy_from_slice(&u32::MAX.to_be_bytes());
        refused(&b, "over the limit");
    }
    // A blob frame declaring 1 GiB: under the default limit, over the
    // file's remaining bytes (nothing that size is allocated: truncated).
    let (_, at, _) = *frames.iter().find(|f| f.0 == b'B').unwrap();
    let mut b = bytes.clone();
    b[at + 1..at + 5].copy_from_slice(&(1u32 << 30).to_be_bytes());
    let small = Limits { max_blob_bytes: 1 << 20, ..Limits::default() };
    let (dir, root) = new_repo(true);
    let p = dir.path().join("huge.bundle");
    std::fs::write(&p, &b).unwrap();
    let e = open(&root).apply_bundle(&p, &small).unwrap_err().to_string();
    assert!(e.contains("over the limit"), "{e}");
    refused(&b, "truncated");
    // An unknown frame kind, a wrong version.
    let mut b = bytes.clone();
    b[at] = b'Z';
    refused(&b, "unknown frame kind 0x5a");
    let mut b = bytes.clone();
    b[11] = 9;
    refused(&b, "unsupported bundle format version 9");
}

/// Writes a v2 file frame by frame (the documented format), with a correct
/// end frame.
struct Forge {
    bytes: Vec<u8>,
    counts: [u64; 3],
    /// The record context (module docs of `muse_core::bundle`).
    ctx: Vec<u8>,
}

impl Forge {
    fn new(prerequisites: &[&str], heads: &[(&str, &str)]) -> Forge {
        let mut f = Forge { bytes: BUNDLE_MAGIC.to_vec(), counts: [0; 3], ctx: Vec::new() };
        f.bytes.extend_from_slice(&BUNDLE_FORMAT_VERSION.to_be_bytes());
        let mut h = BTreeMap::new();
        h.insert("prerequisites", rmpv::Value::Array(prerequisites.iter().map(|p| (*p).into()).collect()));
        h.insert(
            "branch_heads",
            rmpv::Value::Map(heads.iter().map(|(b, c)| ((*b).into(), (*c).into())).collect()),
        );
        let hb = rmp_serde::to_vec_named(&h).unwrap();
        f.frame(b'H', &hb);
        f
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) {
        self.bytes.push(kind);
        self.bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(payload);
    }

    fn blob(&mut self, content: &[u8], base: Option<&[u8]>) -> String {
        let id = blob_id(content);
        let mut p = digest_from_id(&id).unwrap().to_vec();
        match base {
            None => p.push(0),
            Some(b) => {
                p.push(1);
                p.extend_from_slice(&digest_from_id(&blob_id(b)).unwrap());
            }
        }
        p.extend(muse_core::zdelta::compress(content, base, 3).unwrap());
        self.frame(b'B', &p);
        self.counts[2] += 1;
        self.context(id.as_bytes());
        id
    }

    fn context(&mut self, bytes: &[u8]) {
        self.ctx.extend_from_slice(bytes);
        if self.ctx.len() > CONTEXT_MAX {
            self.ctx.drain(..self.ctx.len() - CONTEXT_KEEP);
        }
    }

    fn record(&mut self, kind: u8, raw: &[u8]) {
        let prefix = (!self.ctx.is_empty()).then_some(self.ctx.as_slice());
        let z = muse_core::zdelta::compress(raw, prefix, 3).unwrap();
        self.frame(kind, &z);
        self.context(raw);
    }

    fn snapshot(&mut self, d: &SnapshotDelta) {
        self.record(b'S', &rmp_serde::to_vec(d).unwrap());
        self.counts[1] += 1;
    }

    fn commit(&mut self, c: &CommitRecord) {
        self.record(b'C', &c.to_msgpack().unwrap());
        self.counts[0] += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let mut end = Vec::new();
        for c in self.counts {
            end.extend_from_slice(&c.to_be_bytes());
        }
        end.extend_from_slice(&Sha256::digest(&self.bytes));
        self.frame(b'E', &end);
        self.bytes
    }
}

fn forged_commit(sid: &str, parent: Option<&str>, secs: u32) -> CommitRecord {
    let mut c = CommitRecord {
        snapshot_id: sid.to_string(),
        message: "forged".into(),
        committed_at: ts(secs),
        author: "mallory".into(),
        parent_commit_id: parent.map(str::to_string),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    c
}

/// A consistent one-commit forged bundle of `files` (every hash right).
fn forge_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut f = Forge::new(&[], &[]);
    let mut m = Manifest::new();
    for (p, c) in files {
        let id = f.blob(c, None);
        m.insert(p.to_string(), id);
    }
    let sid = hash_snapshot(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    f.snapshot(&SnapshotDelta { snapshot_id: sid.clone(), parent_snapshot_id: None, delta_upsert: m, delta_remove: vec![] });
    let c = forged_commit(&sid, None, 1);
    f.commit(&c);
    f.finish()
}

#[test]
fn forged_bundles_the_reader_accepts_when_honest() {
    // The forge itself is right: an honest forged file applies.
    let bytes = forge_files(&[("ok.txt", b"fine\n")]);
    let (dir, root) = new_repo(true);
    let p = dir.path().join("ok.bundle");
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(open(&root).apply_bundle(&p, &Limits::default()).unwrap().commits_written, 1);
}

#[test]
fn hostile_paths_in_a_snapshot_delta() {
    for path in ["../x", ".muse/HEAD", "a/.git/config", "/abs", "a//b"] {
        refused(&forge_files(&[(path, b"evil\n")]), &format!("delta_upsert path {path:?}"));
    }
    // A path both a file and a directory.
    refused(&forge_files(&[("a", b"1"), ("a/b", b"2")]), "a/b");
}

#[test]
fn a_blob_whose_delta_base_is_missing() {
    let mut f = Forge::new(&[], &[]);
    let base = b"the base nobody has\n".repeat(20);
    f.blob(b"the target\n", Some(&base));
    let msg = refused(&f.finish(), "is neither earlier in the bundle nor in the repository");
    assert!(msg.contains(&format!("delta base {}", blob_id(&base))), "{msg}");
}

#[test]
fn a_snapshot_naming_a_missing_blob_or_parent() {
    let mut f = Forge::new(&[], &[]);
    let ghost = blob_id(b"ghost");
    let m: Manifest = [("g.txt".to_string(), ghost.clone())].into();
    let sid = hash_snapshot(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    f.snapshot(&SnapshotDelta { snapshot_id: sid, parent_snapshot_id: None, delta_upsert: m, delta_remove: vec![] });
    refused(&f.finish(), &format!("blob {ghost} of path \"g.txt\" is neither earlier"));

    let mut f = Forge::new(&[], &[]);
    let parent = blob_id(b"no such snapshot");
    f.snapshot(&SnapshotDelta {
        snapshot_id: hash_snapshot(std::iter::empty()),
        parent_snapshot_id: Some(parent.clone()),
        ..Default::default()
    });
    refused(&f.finish(), &format!("parent snapshot {parent} is neither"));
}

#[test]
fn a_snapshot_that_does_not_hash_to_its_id() {
    let mut f = Forge::new(&[], &[]);
    let id = f.blob(b"x\n", None);
    f.snapshot(&SnapshotDelta {
        snapshot_id: blob_id(b"wrong"),
        parent_snapshot_id: None,
        delta_upsert: [("x.txt".to_string(), id)].into(),
        delta_remove: vec![],
    });
    refused(&f.finish(), "rebuilt manifest (1 entries) hashes to");
}

#[test]
fn commits_out_of_order_and_other_commit_lies() {
    let mut f = Forge::new(&[], &[]);
    let sid = hash_snapshot(std::iter::empty());
    f.snapshot(&SnapshotDelta { snapshot_id: sid.clone(), ..Default::default() });
    let parent = forged_commit(&sid, None, 1);
    let child = forged_commit(&sid, Some(&parent.commit_id), 2);
    f.commit(&child);
    f.commit(&parent);
    let msg = refused(&f.finish(), &format!("parent {} is neither earlier", parent.commit_id));
    assert!(msg.contains(&child.commit_id), "{msg}");

    // A commit whose ID does not verify.
    let mut f = Forge::new(&[], &[]);
    f.snapshot(&SnapshotDelta { snapshot_id: sid.clone(), ..Default::default() });
    let mut c = forged_commit(&sid, None, 1);
    c.message = "changed after hashing".into();
    f.commit(&c);
    refused(&f.finish(), &c.commit_id);

    // A commit whose snapshot is nowhere.
    let mut f = Forge::new(&[], &[]);
    let c = forged_commit(&blob_id(b"no snapshot"), None, 1);
    f.commit(&c);
    refused(&f.finish(), "is neither earlier in the bundle nor in the repository");

    // The same commit twice; a branch head at a commit that is nowhere.
    let mut f = Forge::new(&[], &[]);
    f.snapshot(&SnapshotDelta { snapshot_id: sid.clone(), ..Default::default() });
    let c = forged_commit(&sid, None, 1);
    f.commit(&c);
    f.commit(&c);
    refused(&f.finish(), "listed twice");
    let ghost = forged_commit(&sid, None, 9).commit_id;
    let mut f = Forge::new(&[], &[("main", ghost.as_str())]);
    f.snapshot(&SnapshotDelta { snapshot_id: sid.clone(), ..Default::default() });
    f.commit(&forged_commit(&sid, None, 1));
    refused(&f.finish(), "branch_heads[\"main\"]");
    let mut f = Forge::new(&[], &[("../evil", parent.commit_id.as_str())]);
    f.snapshot(&SnapshotDelta { snapshot_id: sid, ..Default::default() });
    f.commit(&parent);
    refused(&f.finish(), "branch_heads[\"../evil\"]");
}

#[test]
fn a_snapshot_parent_outside_the_window_is_refused() {
    // Ten snapshots in a row, the last one's parent is the first.
    let mut f = Forge::new(&[], &[]);
    let id = f.blob(b"x\n", None);
    let mut first = None;
    let mut m = Manifest::new();
    for i in 0..10 {
        let prev = m.clone();
        m.insert(format!("f{i}.txt"), id.clone());
        let sid = hash_snapshot(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let parent = if i == 0 { None } else { Some(hash_snapshot(prev.iter().map(|(k, v)| (k.as_str(), v.as_str())))) };
        f.snapshot(&SnapshotDelta {
            snapshot_id: sid.clone(),
            parent_snapshot_id: parent,
            delta_upsert: [(format!("f{i}.txt"), id.clone())].into(),
            delta_remove: vec![],
        });
        first.get_or_insert(sid);
    }
    let first = first.unwrap();
    let first_m: Manifest = [("f0.txt".to_string(), id.clone())].into();
    let mut target = first_m.clone();
    target.insert("late.txt".into(), id.clone());
    f.snapshot(&SnapshotDelta {
        snapshot_id: hash_snapshot(target.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        parent_snapshot_id: Some(first.clone()),
        delta_upsert: [("late.txt".to_string(), id)].into(),
        delta_remove: vec![],
    });
    refused(&f.finish(), &format!("parent snapshot {first} is an earlier frame neither in the last 8 snapshots nor kept"));
}

#[test]
fn not_a_bundle_and_a_missing_file() {
    refused(b"MUSEBNDX whatever", "MPack");
    let (dir, root) = new_repo(true);
    let e = open(&root).apply_bundle(&dir.path().join("nope.bundle"), &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
}

/// The pack entries of `root`'s blobs stored as `encoding`.
fn packed_blobs(root: &Path, encoding: Encoding) -> usize {
    muse_core::pack::refresh(root)
        .packs()
        .iter()
        .flat_map(|p| p.entries().to_vec())
        .filter(|e| e.kind == EntryKind::Object && e.encoding == encoding)
        .count()
}

/// The pack entries of `root`'s blobs stored as deltas.
fn packed_blob_deltas(root: &Path) -> usize {
    packed_blobs(root, Encoding::Delta)
}

#[test]
fn packed_blobs_travel_as_stored_and_the_receiver_keeps_the_deltas() {
    let (dir, a, made) = source();
    let src = open(&a);
    // One pack, most blobs deltas on their previous version.
    let rep = src.gc(&muse_core::reachability::GcOptions::default()).unwrap();
    // (40 edits of 3 files, 10 small notes stored raw)
    assert!(packed_blob_deltas(&a) >= 35, "the repack stored deltas: {rep:?}");
    let file = dir.path().join("reused.bundle");
    let tip = made.last().unwrap().commit.clone();
    let st = src.create_bundle(&file, &[cid(&tip)], &[]).unwrap();
    // Every blob frame is a pack entry copied as it was (git's pack reuse),
    // but for the entries stored raw.
    assert_eq!(st.blobs_reused, st.blobs - packed_blobs(&a, Encoding::Raw), "{st:?}");
    assert!(st.blobs_reused > 35, "{st:?}");
    assert!(st.blob_deltas * 2 > st.blobs, "{st:?}");

    // The receiver verifies each copied frame and keeps it as its delta.
    let (_d2, b) = new_repo(true);
    let dst = open(&b);
    let stats = dst.apply_bundle(&file, &Limits::default()).unwrap();
    assert_eq!(stats.commits_written, 40);
    assert_same(&src, &dst, &made);
    assert!(packed_blob_deltas(&b) >= st.blob_deltas * 9 / 10, "{} deltas kept of {st:?}", packed_blob_deltas(&b));
    let report = dst.verify().unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
}

#[test]
fn a_corrupt_pack_entry_copied_into_a_bundle_is_refused_by_the_receiver() {
    let (dir, a, made) = source();
    let src = open(&a);
    src.gc(&muse_core::reachability::GcOptions::default()).unwrap();
    // Damage one delta entry's frame in the source's pack (a disk error).
    let set = muse_core::pack::refresh(&a);
    let pack = &set.packs()[0];
    let e = pack
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Object && e.encoding == Encoding::Delta)
        .max_by_key(|e| e.stored_len)
        .copied()
        .unwrap();
    let path = pack.path().to_path_buf();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = (e.offset + 32 + e.stored_len.saturating_sub(32) / 2) as usize;
    bytes[at] ^= 0x5a;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    muse_core::pack::forget(&a);

    // create copies the stored bytes without decoding them ...
    let file = dir.path().join("damaged.bundle");
    let tip = made.last().unwrap().commit.clone();
    let st = open(&a).create_bundle(&file, &[cid(&tip)], &[]).unwrap();
    assert_eq!(st.blobs_reused, st.blobs - packed_blobs(&a, Encoding::Raw));
    // ... and the receiver refuses the blob, with nothing written.
    let (_d2, b) = new_repo(true);
    let before = tree(&b.join(".muse"));
    let err = open(&b).apply_bundle(&file, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains(&e.id()) || err.to_string().contains("blob sha256:"), "{err}");
    assert_eq!(tree(&b.join(".muse")), before);
}
