//! `import_git` keeps everything git has: one muse commit per git commit
//! (committer-only differences included), git's exact author, committer,
//! encoding and message bytes, every parent of an octopus merge, annotated
//! tags with their message and tagger (on a commit and on a blob),
//! remote-tracking and other refs; and a re-import never moves a branch
//! holding commits git does not know.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::new_repo;
use muse_core::commits::{list_commit_ids, load_commit};
use muse_core::import_git::{
    git_commit_fields, git_tag_blob_roots, import_git, import_git_with, read_git_map, read_git_tags, split_author,
    verify_git_import, ImportOptions,
};
use muse_core::object_store::read_object;
use muse_core::reachability::find_unreachable;
use muse_core::refs::{list_branches, list_remote_refs, list_tags, read_branch_ref, write_branch_ref};
use muse_core::Repository;

/// Runs git in `dir` with fixed identities and dates, plus `env`.
fn git_env(dir: &Path, args: &[&str], env: &[(&str, &OsStr)], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T Ester", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .env("GIT_AUTHOR_DATE", "1704160800 +0100")
        .env("GIT_COMMITTER_DATE", "1704160800 +0100")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = if let Some(input) = stdin {
        use std::io::Write;
        let mut child = c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    } else {
        c.output().unwrap()
    };
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git_env(dir, args, &[], None)).unwrap().trim().to_string()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn commit_all(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A raw git commit: (headers by name, in order, repeated ones kept;
/// message bytes).
fn raw_commit(g: &Path, sha: &str) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let body = git_env(g, &["cat-file", "commit", sha], &[], None);
    let split = body.windows(2).position(|w| w == b"\n\n").unwrap();
    let headers = body[..split]
        .split(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b" "))
        .map(|l| {
            let sp = l.iter().position(|&b| b == b' ').unwrap();
            (String::from_utf8(l[..sp].to_vec()).unwrap(), l[sp + 1..].to_vec())
        })
        .collect();
    (headers, body[split + 2..].to_vec())
}

fn header<'a>(h: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
}

/// The history of the lossless test: see the body.
struct Fixture {
    g: std::path::PathBuf,
    c1: String,
    same_tree_a: String,
    same_tree_b: String,
    same_tree_c: String,
    latin1: String,
    raw: String,
    octopus: String,
    remote_only: String,
    key_blob_sha: String,
}

fn fixture(tmp: &Path) -> Fixture {
    let g = tmp.join("git");
    std::fs::create_dir_all(&g).unwrap();
    git(&g, &["init", "-q", "-b", "main"]);
    write(&g, "a.txt", b"a\n");
    let c1 = commit_all(&g, "first");
    let tree = git(&g, &["rev-parse", "HEAD^{tree}"]);
    // Three commits alike but for the committer: name, then date.
    let ct = |name: &str, date: &str| {
        let out = git_env(
            &g,
            &["commit-tree", &tree, "-p", &c1, "-m", "same"],
            &[("GIT_COMMITTER_NAME", os(name)), ("GIT_COMMITTER_DATE", os(date))],
            None,
        );
        String::from_utf8(out).unwrap().trim().to_string()
    };
    let same_tree_a = ct("Committer One", "1704160800 +0100");
    let same_tree_b = ct("Committer Two", "1704160800 +0100");
    let same_tree_c = ct("Committer One", "1704999999 -0330");
    assert!(same_tree_a != same_tree_b && same_tree_a != same_tree_c);
    git(&g, &["update-ref", "refs/heads/ca", &same_tree_a]);
    git(&g, &["update-ref", "refs/heads/cb", &same_tree_b]);
    git(&g, &["update-ref", "refs/heads/cc", &same_tree_c]);
    // ISO-8859-1 with an `encoding` header: message and author name.
    write(&g, "b.txt", b"b\n");
    git(&g, &["add", "-A"]);
    std::fs::write(tmp.join("msg"), b"caf\xe9 cr\xe8me\n\nbody \xfc\n").unwrap();
    git_env(
        &g,
        &["-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", tmp.join("msg").to_str().unwrap()],
        &[("GIT_AUTHOR_NAME", OsStr::from_bytes(b"J\xf6rg L\xe4nder"))],
        None,
    );
    let latin1 = git(&g, &["rev-parse", "HEAD"]);
    // Bytes that are not UTF-8, without an `encoding` header (written
    // raw: `git commit` would re-encode them).
    let head_tree = git(&g, &["rev-parse", "HEAD^{tree}"]);
    let mut raw_obj = format!("tree {head_tree}\nparent {latin1}\n").into_bytes();
    raw_obj.extend_from_slice(b"author Ra\xffw <r@x> 1704160801 -0000\ncommitter Co\xfe <c@x> 1704160802 +0545\n\nraw \xff\xfe bytes\n");
    let raw = String::from_utf8(git_env(&g, &["hash-object", "-t", "commit", "-w", "--stdin"], &[], Some(&raw_obj)))
        .unwrap()
        .trim()
        .to_string();
    git(&g, &["update-ref", "refs/heads/main", &raw]);
    git(&g, &["reset", "-q", "--hard", "main"]);
    // An octopus merge of 4 parents.
    let base = git(&g, &["rev-parse", "HEAD"]);
    for b in ["x", "y", "z"] {
        git(&g, &["checkout", "-q", "-b", b, &base]);
        write(&g, &format!("{b}.txt"), b.as_bytes());
        commit_all(&g, b);
    }
    git(&g, &["checkout", "-q", "main"]);
    git(&g, &["merge", "-q", "--no-ff", "-m", "octopus", "x", "y", "z"]);
    let octopus = git(&g, &["rev-parse", "HEAD"]);
    // Tags: annotated (with a message), lightweight, and one of a blob.
    git(&g, &["tag", "-a", "v1.0", "-m", "Release 1.0\n\nwith notes", &c1]);
    git(&g, &["tag", "light", &same_tree_b]);
    let key_blob_sha = String::from_utf8(git_env(&g, &["hash-object", "-w", "--stdin"], &[], Some(b"-----KEY-----\n")))
        .unwrap()
        .trim()
        .to_string();
    git(&g, &["tag", "-a", "key-pub", "-m", "the key", &key_blob_sha]);
    // A commit only a remote-tracking ref reaches, and a note.
    write(&g, "r.txt", b"remote\n");
    let remote_only = commit_all(&g, "remote only");
    git(&g, &["update-ref", "refs/remotes/origin/feat", &remote_only]);
    git(&g, &["reset", "-q", "--hard", &octopus]);
    git(&g, &["notes", "add", "-m", "a note", &c1]);
    Fixture { g, c1, same_tree_a, same_tree_b, same_tree_c, latin1, raw, octopus, remote_only, key_blob_sha }
}

#[test]
fn every_git_commit_ref_and_byte_survives() {
    let (tmp, root) = new_repo(true);
    let f = fixture(tmp.path());
    let g = &f.g;
    let report = import_git(&root, g, &ImportOptions { chunk_commits: 3, ..ImportOptions::default() }, &mut |_| {}).unwrap();
    let git_count: usize = git(g, &["rev-list", "--all", "--count"]).parse().unwrap();
    let map = read_git_map(&root).unwrap();
    assert_eq!(report.commits as usize, git_count, "{report:?}");
    assert_eq!(map.len(), git_count);
    // One git commit = one muse commit: no two collapse.
    let muse_ids: std::collections::HashSet<&String> = map.values().collect();
    assert_eq!(muse_ids.len(), git_count);
    assert_eq!(list_commit_ids(&root).unwrap().len(), git_count);
    assert!(verify_git_import(&root, g).unwrap().is_empty());

    // Committer-only differences: distinct IDs, committer kept.
    let a = load_commit(&root, &map[&f.same_tree_a]).unwrap();
    let b = load_commit(&root, &map[&f.same_tree_b]).unwrap();
    let c = load_commit(&root, &map[&f.same_tree_c]).unwrap();
    assert_eq!(a.snapshot_id, b.snapshot_id);
    assert_eq!(a.message, b.message);
    assert_eq!(split_author(&a.author).author, "T Ester <t@example.com>");
    assert_eq!(split_author(&a.author).committer, Some("Committer One <t@example.com> 1704160800 +0100"));
    assert_eq!(split_author(&c.author).committer, Some("Committer One <t@example.com> 1704999999 -0330"));
    // Author == committer: the author field is the author alone.
    let first = load_commit(&root, &map[&f.c1]).unwrap();
    assert_eq!(first.author, "T Ester <t@example.com>");
    assert_eq!(first.committed_at, "2024-01-02T03:00:00+01:00");

    // Every field of every commit round-trips to git's bytes.
    for (sha, id) in &map {
        let rec = load_commit(&root, id).unwrap();
        rec.validate().unwrap();
        let (h, msg) = raw_commit(g, sha);
        let fields = git_commit_fields(&rec).unwrap();
        assert_eq!(fields.author, header(&h, "author").unwrap(), "author of {sha}");
        assert_eq!(fields.committer, header(&h, "committer").unwrap(), "committer of {sha}");
        assert_eq!(fields.encoding.as_deref().map(str::as_bytes), header(&h, "encoding"), "encoding of {sha}");
        assert_eq!(fields.message, msg, "message of {sha}");
        assert_eq!(fields.git_oid.as_deref(), Some(sha.as_str()));
        let git_parents: Vec<&str> =
            h.iter().filter(|(n, _)| n == "parent").map(|(_, v)| map[std::str::from_utf8(v).unwrap()].as_str()).collect();
        assert_eq!(rec.all_parents(), git_parents, "parents of {sha}, in order");
    }
    // The encodings, as stored.
    let l1 = load_commit(&root, &map[&f.latin1]).unwrap();
    assert_eq!(l1.message, "café crème\n\nbody ü\n");
    assert_eq!(split_author(&l1.author).author, "Jörg Länder <t@example.com>");
    assert_eq!(l1.metadata["git_encoding"], "ISO-8859-1");
    assert_eq!(l1.metadata["git_latin1"], "author,message");
    let raw = load_commit(&root, &map[&f.raw]).unwrap();
    assert!(!raw.metadata.contains_key("git_encoding"));
    assert_eq!(raw.metadata["git_latin1"], "committer,author,message");
    assert_eq!(raw.metadata["git_author_date"], "1704160801 -0000");
    // The octopus merge: four parents, all in the identity.
    let oct = load_commit(&root, &map[&f.octopus]).unwrap();
    assert_eq!(oct.all_parents().len(), 4);
    let mut two = oct.clone();
    two.metadata.remove("extra_parents");
    assert_ne!(two.compute_id(), oct.commit_id, "extra parents take part in the ID");

    // Tags: usable as revisions, annotated ones kept with message and tagger.
    let repo = Repository::open(&root).unwrap();
    assert_eq!(repo.revparse("v1.0").unwrap(), map[&f.c1]);
    assert_eq!(repo.revparse("light").unwrap(), map[&f.same_tree_b]);
    let tags: BTreeMap<String, String> = list_tags(&root).unwrap().into_iter().collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    let gt = read_git_tags(&root).unwrap();
    let v1 = &gt["v1.0"];
    assert_eq!(v1.kind, "commit");
    assert_eq!(v1.target, map[&f.c1]);
    assert_eq!(v1.message, "Release 1.0\n\nwith notes\n");
    assert_eq!(v1.tagger.as_deref(), Some("T Ester <t@example.com> 1704160800 +0100"));
    assert_eq!(v1.git_oid, git(g, &["rev-parse", "v1.0"]));
    let key = &gt["key-pub"];
    assert_eq!(key.kind, "blob");
    assert_eq!(read_object(&root, &key.target).unwrap(), b"-----KEY-----\n");
    assert_eq!(git_tag_blob_roots(&root).unwrap(), vec![key.target.clone()]);
    assert!(!f.key_blob_sha.is_empty());

    // Remote-tracking refs and other refs.
    let remotes: HashMap<String, String> = list_remote_refs(&root).unwrap().into_iter().collect();
    assert_eq!(remotes["origin/feat"], map[&f.remote_only]);
    assert_eq!(remotes["git/notes/commits"], map[&git(g, &["rev-parse", "refs/notes/commits"])]);
    assert_eq!(repo.revparse("origin/feat").unwrap(), map[&f.remote_only]);

    // gc: nothing git reaches is unreachable (the tagged blob is a root
    // through `git_tag_blob_roots`, listed by reachability).
    let un = find_unreachable(&root).unwrap();
    assert!(un.commits.is_empty(), "{:?}", un.commits);
    assert!(un.snapshots.is_empty(), "{:?}", un.snapshots);
    assert!(un.objects.iter().all(|o| *o == key.target), "{:?}", un.objects);

    // A bundle of every branch, tag and remote-tracking ref carries every commit.
    let mut want: Vec<String> = list_branches(&root).unwrap().into_iter().map(|(_, c)| c).collect();
    want.extend(tags.values().cloned());
    want.extend(remotes.values().cloned());
    let pack = muse_core::mpack::build_mpack(&root, &want, &[]).unwrap();
    assert_eq!(pack.commits.len(), git_count);

    // Nothing new: nothing imported, nothing moved.
    let again = import_git(&root, g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(again.commits, 0, "{again:?}");
    assert_eq!(read_git_tags(&root).unwrap(), gt);
}

#[test]
fn reimport_never_moves_a_branch_with_local_commits() {
    let (tmp, root) = new_repo(true);
    let g = tmp.path().join("git");
    std::fs::create_dir_all(&g).unwrap();
    git(&g, &["init", "-q", "-b", "main"]);
    write(&g, "a.txt", b"a\n");
    commit_all(&g, "one");
    write(&g, "a.txt", b"b\n");
    let two = commit_all(&g, "two");
    import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    let map = read_git_map(&root).unwrap();
    // A local muse commit on main (not known to git).
    let tip = load_commit(&root, &map[&two]).unwrap();
    let mut local = tip.clone();
    local.message = "local work".into();
    local.parent_commit_id = Some(tip.commit_id.clone());
    local.metadata.clear();
    local.author = "Me <me@x>".into();
    local.commit_id = local.compute_id();
    muse_core::commits::write_commit(&root, &local, None).unwrap();
    write_branch_ref(&root, "main", &local.commit_id).unwrap();
    // Git unchanged: the branch is ahead and stays.
    let same = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(same.commits, 0);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(local.commit_id.as_str()));
    // Git moves on: refused, nothing written.
    write(&g, "a.txt", b"c\n");
    let three = commit_all(&g, "three");
    let before_map = std::fs::read(root.join(".muse/git-map")).unwrap();
    let err = import_git(&root, &g, &ImportOptions::default(), &mut |_| {}).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("main") && text.contains("does not know") && text.contains("--rename-conflicting"), "{text}");
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(local.commit_id.as_str()));
    assert_eq!(std::fs::read(root.join(".muse/git-map")).unwrap(), before_map);
    // The local commit survives gc (it is on main).
    assert!(find_unreachable(&root).unwrap().commits.is_empty());
    // Renamed: git's main arrives as git/main, muse's main stays.
    let r = import_git_with(&root, &g, &ImportOptions::default(), Some("git/"), &mut |_| {}).unwrap();
    assert_eq!(r.commits, 1);
    assert_eq!(r.renamed, vec![("main".to_string(), "git/main".to_string())]);
    let map = read_git_map(&root).unwrap();
    assert_eq!(read_branch_ref(&root, "git/main").unwrap().as_deref(), Some(map[&three].as_str()));
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(local.commit_id.as_str()));
    // A git rewrite (non-fast-forward) of git/main is refused too.
    git(&g, &["reset", "-q", "--hard", "HEAD~1"]);
    write(&g, "a.txt", b"rewritten\n");
    commit_all(&g, "rewritten");
    let err = import_git_with(&root, &g, &ImportOptions::default(), Some("git/"), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("non-fast-forward"), "{err}");
    assert_eq!(read_branch_ref(&root, "git/main").unwrap().as_deref(), Some(map[&three].as_str()));
}

#[test]
fn legacy_two_parent_octopus_ids_still_verify() {
    let mut c = muse_core::records::CommitRecord {
        snapshot_id: muse_core::ids::fake_id("s"),
        parent_commit_id: Some(muse_core::ids::fake_id("p1")),
        parent2_commit_id: Some(muse_core::ids::fake_id("p2")),
        message: "octopus".into(),
        committed_at: "2024-01-02T03:00:00+01:00".into(),
        ..Default::default()
    };
    c.metadata.insert("extra_parents".into(), muse_core::ids::fake_id("p3"));
    c.commit_id = muse_core::ids::hash_commit(
        &[c.parent_commit_id.as_deref().unwrap(), c.parent2_commit_id.as_deref().unwrap()],
        &c.snapshot_id,
        &c.message,
        &c.committed_at,
        &c.author,
    );
    c.validate().unwrap();
    assert!(c.matches_id(&c.commit_id));
    assert_ne!(c.compute_id(), c.commit_id);
    c.commit_id = c.compute_id();
    c.validate().unwrap();
    // A wrong extra parent is caught by the new hash.
    c.metadata.insert("extra_parents".into(), muse_core::ids::fake_id("p4"));
    assert!(c.validate().is_err());
}
