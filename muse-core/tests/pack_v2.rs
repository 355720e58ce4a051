//! Pack format version 2: zstd and delta entries round-trip, version 1
//! packs stay readable, damaged packs are refused with `Error::Corrupt`
//! and never return wrong data (`muse_core::pack`).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{make_commit, new_repo};
use muse_core::batch::Batch;
use muse_core::ids::blob_id;
use muse_core::object_store::{object_size, open_object, read_object};
use muse_core::pack::{digest_of, packs_dir, Encoding, EntryKind, Pack, PackWriter, MAX_CHAIN_DEPTH};
use muse_core::records::SnapshotRecord;
use muse_core::Error;

/// Source-like text: version `v` of a file of `lines` lines.
fn version(file: usize, v: usize, lines: usize) -> Vec<u8> {
    let mut s = String::new();
    for l in 0..lines {
        // Each version changes a few lines.
        let touched = if l % 37 == v % 37 { v } else { 0 };
        s.push_str(&format!("fn f{file}_{l}(x: u32) -> u32 {{ x * {l} + {touched} }} // line {l}\n"));
    }
    s.into_bytes()
}

/// Bytes no compressor shrinks (a SHA-256 chain).
fn noise(n: usize, seed: u8) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(n + 32);
    let mut h: [u8; 32] = Sha256::digest([seed]).into();
    while out.len() < n {
        out.extend_from_slice(&h);
        h = Sha256::digest(h).into();
    }
    out.truncate(n);
    out
}

fn id_digest(b: &[u8]) -> [u8; 32] {
    digest_of(&blob_id(b)).unwrap()
}

/// Places a pack file into the repository's `packs/` under its own name.
fn install(root: &Path, tmp: &Path, name: &str) -> PathBuf {
    let dir = packs_dir(root);
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join(name);
    std::fs::rename(tmp, &dest).unwrap();
    muse_core::pack::forget(root);
    dest
}

#[test]
fn every_encoding_and_kind_round_trips() {
    let d = tempfile::tempdir().unwrap();
    let mut w = PackWriter::create(&d.path().join("t.pack")).unwrap();
    let mut expect: Vec<(EntryKind, [u8; 32], Vec<u8>, Encoding)> = Vec::new();
    // Raw: incompressible.
    let raw = noise(5000, 1);
    w.append(EntryKind::Object, id_digest(&raw), &raw).unwrap();
    expect.push((EntryKind::Object, id_digest(&raw), raw, Encoding::Raw));
    // Zstd: text without a hint.
    let v0 = version(0, 0, 400);
    w.append(EntryKind::Object, id_digest(&v0), &v0).unwrap();
    expect.push((EntryKind::Object, id_digest(&v0), v0.clone(), Encoding::Zstd));
    // Deltas: versions hinted with the previous one.
    let mut prev = v0;
    for v in 1..5 {
        let b = version(0, v, 400);
        let e = w.append_with_base(EntryKind::Object, id_digest(&b), &b, Some(id_digest(&prev))).unwrap();
        assert_eq!(e.encoding, Encoding::Delta);
        assert_eq!(e.depth, v as u8);
        assert!(e.stored_len < b.len() as u64 / 20, "a small change stores small: {} of {}", e.stored_len, b.len());
        expect.push((EntryKind::Object, id_digest(&b), b.clone(), Encoding::Delta));
        prev = b;
    }
    // A hint that is not in the pack: plain zstd.
    let lone = version(1, 3, 300);
    let e = w.append_with_base(EntryKind::Object, id_digest(&lone), &lone, Some([7u8; 32])).unwrap();
    assert_eq!(e.encoding, Encoding::Zstd);
    expect.push((EntryKind::Object, id_digest(&lone), lone, Encoding::Zstd));
    // Records: a commit (always zstd) and a snapshot.
    let c = make_commit(None, None, "first", 1);
    let cb = rmp_serde::to_vec_named(&c).unwrap();
    let cd = digest_of(&c.commit_id).unwrap();
    w.append(EntryKind::Commit, cd, &cb).unwrap();
    expect.push((EntryKind::Commit, cd, cb, Encoding::Zstd));
    let mut m = std::collections::BTreeMap::new();
    for i in 0..50 {
        m.insert(format!("src/file{i}.rs"), blob_id(format!("{i}").as_bytes()));
    }
    let s = SnapshotRecord::new(m);
    let sb = b"a snapshot record's bytes, repeated; a snapshot record's bytes, repeated".to_vec();
    let sd = digest_of(&s.snapshot_id).unwrap();
    w.append(EntryKind::Snapshot, sd, &sb).unwrap();
    expect.push((EntryKind::Snapshot, sd, sb, Encoding::Zstd));
    // Read back before finishing (the writer decodes its own entries).
    for (k, dg, b, _) in &expect {
        let e = w.get(*k, dg).unwrap();
        assert_eq!(&w.read(&e).unwrap(), b);
    }
    assert_eq!(w.deltas(), 4);
    let (path, _) = w.finish(false).unwrap();
    let pack = Pack::open(&path).unwrap();
    assert_eq!(pack.version(), 2);
    for (k, dg, b, enc) in &expect {
        let e = pack.find(*k, dg).unwrap();
        assert_eq!(e.encoding, *enc, "{k:?}");
        assert_eq!(e.len, b.len() as u64);
        assert_eq!(&pack.read(&e, "item", u64::MAX).unwrap(), b);
        // Over the caller's limit: refused before decoding.
        assert!(matches!(pack.read(&e, "item", e.len - 1), Err(Error::TooLarge { .. })));
    }
    // Reading the chain again in any order (through the base cache).
    for (k, dg, b, _) in expect.iter().rev() {
        let e = pack.find(*k, dg).unwrap();
        assert_eq!(&pack.read(&e, "item", u64::MAX).unwrap(), b);
    }
}

#[test]
fn chains_are_cut_at_the_write_depth_and_deep_chains_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut w = PackWriter::create(&d.path().join("t.pack")).unwrap();
    let mut prev: Option<[u8; 32]> = None;
    let mut max = 0;
    for v in 0..120 {
        let b = version(2, v, 200);
        let e = w.append_with_base(EntryKind::Object, id_digest(&b), &b, prev).unwrap();
        max = max.max(e.depth);
        prev = Some(id_digest(&b));
    }
    assert_eq!(max, muse_core::pack::WRITE_CHAIN_DEPTH);
    let (path, _) = w.finish(false).unwrap();
    Pack::open(&path).unwrap();

    // A writer allowed deeper chains makes a pack readers refuse.
    let mut w = PackWriter::create(&d.path().join("deep.pack")).unwrap();
    w.set_max_depth(100);
    let mut prev: Option<[u8; 32]> = None;
    for v in 0..80 {
        let b = version(3, v, 200);
        w.append_with_base(EntryKind::Object, id_digest(&b), &b, prev).unwrap();
        prev = Some(id_digest(&b));
    }
    let (path, _) = w.finish(false).unwrap();
    match Pack::open(&path) {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains(&MAX_CHAIN_DEPTH.to_string()), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// (offset of index entry of `digest`, the index entry bytes) in `bytes`.
fn index_entry(bytes: &[u8], kind: EntryKind, digest: &[u8; 32]) -> usize {
    let n = bytes.len();
    let index_offset = u64::from_le_bytes(bytes[n - 24..n - 16].try_into().unwrap()) as usize;
    let count = u64::from_le_bytes(bytes[n - 16..n - 8].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| index_offset + 56 * i)
        .find(|&at| &bytes[at..at + 32] == digest && bytes[at + 32] == kind as u8)
        .expect("entry in the index")
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A repository with one pack of `versions` versions of one file (a
/// delta chain) plus filler blobs, written through a batch with hints;
/// returns (dir guard, root, pack path, versions).
fn repo_with_chain(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf, Vec<Vec<u8>>) {
    let (dir, root) = new_repo(true);
    let mut b = Batch::begin(&root).unwrap();
    let mut versions = Vec::new();
    let mut prev: Option<String> = None;
    for v in 0..n {
        let body = version(4, v, 300);
        let id = blob_id(&body);
        b.write_object_with_base(&id, &body, prev.as_deref()).unwrap();
        prev = Some(id);
        versions.push(body);
    }
    for i in 0..(muse_core::pack::PACK_MIN_ENTRIES + 5) {
        let body = format!("filler {i}\n").repeat(20).into_bytes();
        b.write_object(&blob_id(&body), &body).unwrap();
    }
    b.commit().unwrap();
    let packs: Vec<PathBuf> = std::fs::read_dir(packs_dir(&root)).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(packs.len(), 1);
    (dir, root, packs[0].clone(), versions)
}

/// Rewrites the (read-only) pack at `path` with `f` applied to its bytes.
fn damage(root: &Path, path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, &bytes).unwrap();
    muse_core::pack::forget(root);
}

fn assert_corrupt<T: std::fmt::Debug>(r: muse_core::Result<T>, hint: &str) {
    match r {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains(hint), "{hint:?} not in {detail:?}"),
        other => panic!("expected Corrupt ({hint}), got {other:?}"),
    }
}

#[test]
fn batch_hints_make_deltas_that_every_reader_decodes() {
    let (_d, root, path, versions) = repo_with_chain(30);
    let pack = Arc::new(Pack::open(&path).unwrap());
    let deltas = pack.entries().iter().filter(|e| e.encoding == Encoding::Delta).count();
    assert_eq!(deltas, 29, "every version after the first is a delta");
    let raw_total: usize = versions.iter().map(Vec::len).sum();
    let stored: u64 = pack.entries_of(EntryKind::Object).iter().map(|e| e.stored_len).sum();
    assert!((stored as usize) < raw_total / 10, "stored {stored} of {raw_total}");
    for v in &versions {
        let id = blob_id(v);
        assert_eq!(&read_object(&root, &id).unwrap(), v);
        assert_eq!(object_size(&root, &id).unwrap(), v.len() as u64);
        let (mut r, _) = open_object(&root, &id).unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(&back, v);
    }
    assert!(muse_core::verify::verify_repo(&root).unwrap().problems.is_empty());
}

#[test]
fn large_zstd_blobs_stream() {
    let (_d, root) = new_repo(true);
    let mut b = Batch::begin(&root).unwrap();
    let big: Vec<u8> = (0..400_000u32).flat_map(|i| format!("{}\n", i % 1000).into_bytes()).collect();
    let big_id = blob_id(&big);
    b.write_object(&big_id, &big).unwrap();
    for i in 0..(muse_core::pack::PACK_MIN_ENTRIES + 1) {
        let body = format!("small {i}").into_bytes();
        b.write_object(&blob_id(&body), &body).unwrap();
    }
    b.commit().unwrap();
    let set = muse_core::pack::refresh(&root);
    let (_, e) = set.find(EntryKind::Object, &digest_of(&big_id).unwrap()).unwrap();
    assert_eq!(e.encoding, Encoding::Zstd);
    assert!(big.len() > 1 << 20 && e.stored_len < e.len / 4);
    let (mut r, _) = open_object(&root, &big_id).unwrap();
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert!(back == big);
}

#[test]
fn version_1_packs_stay_readable() {
    let (_d, root) = new_repo(true);
    let blobs: Vec<Vec<u8>> = (0..5).map(|i| format!("v1 blob {i}\n").repeat(i + 1).into_bytes()).collect();
    // Hand-written version 1: header, raw data, 56-byte entries with 7
    // zero bytes, trailer.
    let mut data = Vec::new();
    data.extend_from_slice(b"MUSEPACK");
    data.extend_from_slice(&1u32.to_le_bytes());
    data.extend_from_slice(&0u32.to_le_bytes());
    let mut entries = Vec::new();
    for b in &blobs {
        entries.push((id_digest(b), data.len() as u64, b.len() as u64));
        data.extend_from_slice(b);
    }
    entries.sort();
    let index_offset = data.len() as u64;
    for (dg, off, len) in &entries {
        data.extend_from_slice(dg);
        data.push(0);
        data.extend_from_slice(&[0u8; 7]);
        data.extend_from_slice(&off.to_le_bytes());
        data.extend_from_slice(&len.to_le_bytes());
    }
    data.extend_from_slice(&index_offset.to_le_bytes());
    data.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    data.extend_from_slice(b"MUSEPEND");
    let tmp = root.join("v1.tmp");
    std::fs::write(&tmp, &data).unwrap();
    let path = install(&root, &tmp, "pack-v1test.pack");
    assert_eq!(Pack::open(&path).unwrap().version(), 1);
    for b in &blobs {
        let id = blob_id(b);
        assert_eq!(&read_object(&root, &id).unwrap(), b);
        assert_eq!(object_size(&root, &id).unwrap(), b.len() as u64);
        let (mut r, _) = open_object(&root, &id).unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(&back, b);
    }
    // A flipped data byte of a v1 entry: never returned as data.
    let victim = blob_id(&blobs[2]);
    damage(&root, &path, |b| {
        let at = index_entry(b, EntryKind::Object, &digest_of(&victim).unwrap());
        let off = u64_at(b, at + 40) as usize;
        b[off] ^= 1;
    });
    assert_corrupt(read_object(&root, &victim), "hashes to");
}

#[test]
fn a_flipped_byte_in_any_delta_or_frame_is_corrupt_never_data() {
    let (_d, root, path, versions) = repo_with_chain(12);
    let original = std::fs::read(&path).unwrap();
    // Every byte of the stored bytes of a few entries, one at a time: a
    // flipped byte is an error or the right bytes (it was in a part zstd
    // ignores), never wrong bytes.
    let mut errors = 0;
    for v in [0usize, 1, 6, 11] {
        let id = blob_id(&versions[v]);
        let at = index_entry(&original, EntryKind::Object, &digest_of(&id).unwrap());
        let (off, len) = (u64_at(&original, at + 40) as usize, u64_at(&original, at + 48) as usize);
        for k in (0..len).step_by(7) {
            damage(&root, &path, |b| {
                b.copy_from_slice(&original);
                b[off + k] ^= 0x20;
            });
            // Every version whose chain goes through the damaged entry.
            for (j, body) in versions.iter().enumerate().skip(v) {
                match read_object(&root, &blob_id(body)) {
                    Ok(got) => assert_eq!(&got, body, "version {j} after flipping byte {k} of version {v}"),
                    Err(Error::Corrupt { .. }) => errors += 1,
                    Err(e) => panic!("expected Corrupt, got {e:?}"),
                }
            }
        }
    }
    assert!(errors > 0);
}

#[test]
fn bad_base_references_depths_and_sizes_are_corrupt() {
    let (_d, root, path, versions) = repo_with_chain(6);
    let original = std::fs::read(&path).unwrap();
    let d = |v: usize| digest_of(&blob_id(&versions[v])).unwrap();
    let later = d(5);
    let top = blob_id(&versions[3]);

    // A base reference naming no entry of the pack.
    damage(&root, &path, |b| {
        let at = index_entry(b, EntryKind::Object, &d(3));
        let off = u64_at(b, at + 40) as usize;
        b[off] ^= 0xff;
    });
    assert_corrupt(read_object(&root, &top), "not in this pack");

    // A base reference naming a later entry (a forward reference).
    damage(&root, &path, |b| {
        b.copy_from_slice(&original);
        let at = index_entry(b, EntryKind::Object, &d(3));
        let off = u64_at(b, at + 40) as usize;
        b[off..off + 32].copy_from_slice(&later);
    });
    assert_corrupt(read_object(&root, &top), "not an earlier");

    // A depth over the reader's limit in the index.
    damage(&root, &path, |b| {
        b.copy_from_slice(&original);
        let at = index_entry(b, EntryKind::Object, &d(3));
        b[at + 34] = MAX_CHAIN_DEPTH + 1;
    });
    assert!(muse_core::pack::refresh(&root).broken().len() == 1);
    assert!(read_object(&root, &top).is_err());
    match Pack::open(&path) {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("deep"), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }

    // A depth not above its base's (a chain that does not shrink).
    damage(&root, &path, |b| {
        b.copy_from_slice(&original);
        let at = index_entry(b, EntryKind::Object, &d(3));
        b[at + 34] = 1;
    });
    assert_corrupt(read_object(&root, &top), "not an earlier, shallower");

    // An index size smaller than the frame declares (the frame would
    // decode to more than the index promised).
    damage(&root, &path, |b| {
        b.copy_from_slice(&original);
        let at = index_entry(b, EntryKind::Object, &d(0));
        b[at + 35..at + 40].copy_from_slice(&10u64.to_le_bytes()[..5]);
    });
    assert_corrupt(read_object(&root, &blob_id(&versions[0])), "declares");
    // ... and every delta on it fails too, never yields data.
    assert!(matches!(read_object(&root, &top), Err(Error::Corrupt { .. })));

    // A declared size over a caller's limit: refused before decoding.
    damage(&root, &path, |b| b.copy_from_slice(&original));
    let set = muse_core::pack::refresh(&root);
    let (p, e) = set.find(EntryKind::Object, &d(2)).unwrap();
    assert!(matches!(p.read(&e, "object", 100), Err(Error::TooLarge { .. })));
    // Undamaged again: everything reads.
    for v in &versions {
        assert_eq!(&read_object(&root, &blob_id(v)).unwrap(), v);
    }
}

/// A linear chain of `n` commit records (each the previous one's child).
fn commit_chain(n: usize) -> Vec<(muse_core::records::CommitRecord, Vec<u8>)> {
    let mut out: Vec<(muse_core::records::CommitRecord, Vec<u8>)> = Vec::new();
    for i in 0..n {
        let parent = out.last().map(|(c, _)| c.commit_id.clone());
        let c = make_commit(parent.as_deref(), None, &format!("change number {i} of the parser"), i as u32);
        let b = c.to_msgpack().unwrap();
        out.push((c, b));
    }
    out
}

#[test]
fn records_are_deltas_on_their_parents_and_every_base_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.pack");
    let mut w = PackWriter::create(&path).unwrap();
    let chain = commit_chain(6);
    let mut prev: Option<[u8; 32]> = None;
    for (c, b) in &chain {
        let dg = digest_of(&c.commit_id).unwrap();
        let e = w.append_with_base(EntryKind::Commit, dg, b, prev).unwrap();
        if prev.is_some() {
            assert_eq!(e.encoding, Encoding::Delta, "a child's record is a delta on its parent's");
            assert!(e.stored_len < b.len() as u64 / 2, "{} of {}", e.stored_len, b.len());
        }
        assert_eq!(&w.read(&e).unwrap(), b);
        prev = Some(dg);
    }
    // A hint of another kind (the blob with that digest) is not a base.
    let blob = version(2, 0, 100);
    w.append(EntryKind::Object, id_digest(&blob), &blob).unwrap();
    let other = make_commit(None, None, "unrelated", 99);
    let ob = other.to_msgpack().unwrap();
    let e = w.append_with_base(EntryKind::Commit, digest_of(&other.commit_id).unwrap(), &ob, Some(id_digest(&blob))).unwrap();
    assert_ne!(e.encoding, Encoding::Delta);
    w.finish(false).unwrap();
    let pack = Pack::open(&path).unwrap();
    for (c, b) in chain.iter().rev() {
        let e = pack.find(EntryKind::Commit, &digest_of(&c.commit_id).unwrap()).unwrap();
        assert_eq!(&pack.read(&e, "commit record", u64::MAX).unwrap(), b);
    }

    // A pack whose base record is stored under a digest its fields do not
    // hash to: the delta on it is corruption, never data.
    let bad_path = d.path().join("bad.pack");
    let mut w = PackWriter::create(&bad_path).unwrap();
    let (c0, b0) = &chain[0];
    let (c1, b1) = &chain[1];
    let mut lying = c0.clone();
    lying.message.push_str(" (altered)");
    let lying_bytes = lying.to_msgpack().unwrap();
    let d0 = digest_of(&c0.commit_id).unwrap();
    w.append(EntryKind::Commit, d0, &lying_bytes).unwrap();
    let e1 = w.append_with_base(EntryKind::Commit, digest_of(&c1.commit_id).unwrap(), b1, Some(d0)).unwrap();
    assert_eq!(e1.encoding, Encoding::Delta);
    w.finish(false).unwrap();
    let pack = Pack::open(&bad_path).unwrap();
    let err = pack.read(&e1, "commit record", u64::MAX).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&c0.commit_id), "{err}");
    let _ = b0;
}

#[test]
fn batched_commit_reads_decode_raw_zstd_and_delta_records() {
    let (_tmp, root) = new_repo(false);
    // A pack whose commit records are delta, zstd and raw entries.
    let tmp = root.join(".muse/r.pack");
    let mut w = PackWriter::create(&tmp).unwrap();
    let chain = commit_chain(30);
    let mut encodings = std::collections::HashSet::new();
    let mut prev: Option<[u8; 32]> = None;
    for (i, (c, b)) in chain.iter().enumerate() {
        let dg = digest_of(&c.commit_id).unwrap();
        let hint = if i % 3 == 0 { None } else { prev };
        let e = w.append_with_base(EntryKind::Commit, dg, b, hint).unwrap();
        encodings.insert(e.encoding);
        prev = Some(dg);
    }
    // A record of mostly random hex (raw when compression does not help).
    let mut noisy = make_commit(None, None, &blob_id(&noise(64, 9)), 77);
    noisy.metadata.insert("noise".into(), blob_id(&noise(64, 3)));
    noisy.commit_id = noisy.compute_id();
    let nb = noisy.to_msgpack().unwrap();
    w.append(EntryKind::Commit, digest_of(&noisy.commit_id).unwrap(), &nb).unwrap();
    let (p, name) = w.finish(false).unwrap();
    install(&root, &p, &name);
    let pack = Pack::open(&packs_dir(&root).join(&name)).unwrap();
    for (c, _) in &chain {
        encodings.insert(pack.find(EntryKind::Commit, &digest_of(&c.commit_id).unwrap()).unwrap().encoding);
    }
    encodings.insert(pack.find(EntryKind::Commit, &digest_of(&noisy.commit_id).unwrap()).unwrap().encoding);
    assert!(encodings.contains(&Encoding::Delta) && encodings.len() >= 2, "{encodings:?}");
    let mut ids: Vec<String> = chain.iter().map(|(c, _)| c.commit_id.clone()).collect();
    ids.push(noisy.commit_id.clone());
    let got = muse_core::commits::read_commits_opt(&root, &ids).unwrap();
    for (id, rec) in ids.iter().zip(&got) {
        assert_eq!(&rec.as_ref().expect("found").commit_id, id);
    }
}
