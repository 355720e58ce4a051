//! Branch refs: invalid names, compare-and-swap conflicts.

mod common;

use common::{new_repo, tree};
use muse_core::batch::Batch;
use muse_core::ids::fake_id;
use muse_core::refs::{
    branch_ref_path, compare_and_swap_branch_ref, delete_branch_ref, list_branches, read_branch_ref,
    validate_branch_name, write_branch_ref, write_head_branch,
};
use muse_core::Error;

fn bad_names() -> Vec<&'static str> {
    vec![
        "..",
        "a..b",
        "../../../../tmp/evil",
        "refs/../../x",
        "-leading-dash",
        "/leading-slash",
        "trailing-slash/",
        "ctrl\x01char",
        "tab\tchar",
        "new\nline",
        "nul\0byte",
        "del\x7f",
        "x.lock",
        "a/b.lock/c",
        "with space",
        "at@{1}",
        "@{",
        "@",
        "",
        ".",
        ".hidden",
        "a/.hidden",
        "a//b",
        "ends.",
        "tilde~1",
        "caret^",
        "colon:x",
        "question?",
        "star*",
        "bracket[",
        "back\\slash",
    ]
}

fn assert_invalid_ref<T: std::fmt::Debug>(what: &str, name: &str, r: muse_core::Result<T>) {
    match r {
        Err(Error::InvalidRefName { .. }) => {}
        other => panic!("{what}({name:?}): expected Err(InvalidRefName), got {other:?}"),
    }
}

#[test]
fn invalid_branch_names_are_rejected_and_nothing_is_written() {
    let (tmp, root) = new_repo(false);
    let id = fake_id("c1");
    write_branch_ref(&root, "main", &id).unwrap();
    let before = tree(tmp.path());
    let long = "x".repeat(256);
    let mut names: Vec<String> = bad_names().into_iter().map(String::from).collect();
    names.push(long);
    for name in &names {
        let name = name.as_str();
        assert_invalid_ref("validate_branch_name", name, validate_branch_name(name));
        assert_invalid_ref("write_branch_ref", name, write_branch_ref(&root, name, &id));
        assert_invalid_ref("cas(None)", name, compare_and_swap_branch_ref(&root, name, None, &id));
        assert_invalid_ref("cas(Some)", name, compare_and_swap_branch_ref(&root, name, Some(&id), &fake_id("c2")));
        assert_invalid_ref("read_branch_ref", name, read_branch_ref(&root, name));
        assert_invalid_ref("branch_ref_path", name, branch_ref_path(&root, name));
        assert_invalid_ref("delete_branch_ref", name, delete_branch_ref(&root, name, None));
        assert_invalid_ref("write_head_branch", name, write_head_branch(&root, name));
        let mut batch = Batch::begin(&root).unwrap();
        assert_invalid_ref("Batch::write_branch_ref", name, batch.write_branch_ref(name, &id));
        assert_invalid_ref("Batch::cas", name, batch.compare_and_swap_branch_ref(name, None, &id));
        batch.abort();
    }
    let mut after = tree(tmp.path());
    after.remove("repo/.muse/tmp/");
    assert_eq!(after, before, "an invalid name wrote something");
    // Nothing escaped the repository either.
    assert!(!tmp.path().join("tmp").exists());
    assert!(!tmp.path().join("x").exists());
    assert_eq!(list_branches(&root).unwrap(), vec![("main".to_string(), id)]);
    assert_eq!(std::fs::read_to_string(root.join(".muse/HEAD")).unwrap(), "ref: refs/heads/main\n");
}

#[test]
fn valid_names_including_nested_ones_round_trip() {
    let (_tmp, root) = new_repo(true);
    let names = ["main", "feature/x", "feature/y/z", "v1.2", "a-b_c", "ü", "x".repeat(200).leak()];
    for (i, name) in names.iter().enumerate() {
        let id = fake_id(&format!("c{i}"));
        write_branch_ref(&root, name, &id).unwrap();
        assert_eq!(read_branch_ref(&root, name).unwrap(), Some(id));
    }
    let listed: Vec<String> = list_branches(&root).unwrap().into_iter().map(|(n, _)| n).collect();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    // No lock file or temp is left next to the refs.
    for f in common::files_under(&root.join(".muse/refs")) {
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!n.ends_with(".lock") && !n.starts_with(".muse-tmp-"), "left behind: {}", f.display());
    }
}

/// `validate_branch_name` accepts names up to 255 bytes, but the ref lock is
/// `<last component>.lock`, which overflows NAME_MAX (255) for a component
/// of 251..=255 bytes: a name the validator calls valid cannot be written.
#[test]
// (was ignored as a bug; fixed)
fn every_name_the_validator_accepts_can_be_written() {
    let (_tmp, root) = new_repo(true);
    for len in [251, 255] {
        assert!(validate_branch_name(&"n".repeat(len)).is_err(), "{len}-byte component accepted");
    }
    for len in [1, 200, 250] {
        let name = "n".repeat(len);
        validate_branch_name(&name).unwrap();
        let id = fake_id(&name);
        let r = write_branch_ref(&root, &name, &id);
        assert!(r.is_ok(), "{len}-byte name accepted by the validator but not writable: {r:?}");
        assert_eq!(read_branch_ref(&root, &name).unwrap(), Some(id));
    }
}

#[test]
fn a_stale_compare_and_swap_is_a_ref_conflict_and_keeps_the_newer_value() {
    let (tmp, root) = new_repo(false);
    let (c1, c2, c3) = (fake_id("c1"), fake_id("c2"), fake_id("c3"));
    compare_and_swap_branch_ref(&root, "main", None, &c1).unwrap();
    let seen = read_branch_ref(&root, "main").unwrap();
    assert_eq!(seen.as_deref(), Some(c1.as_str()));
    // Somebody else moves the ref.
    write_branch_ref(&root, "main", &c2).unwrap();
    let before = tree(tmp.path());
    match compare_and_swap_branch_ref(&root, "main", seen.as_deref(), &c3) {
        Err(Error::RefConflict { name, expected, actual }) => {
            assert_eq!(name, "refs/heads/main");
            assert_eq!(expected.as_deref(), Some(c1.as_str()));
            assert_eq!(actual.as_deref(), Some(c2.as_str()));
        }
        other => panic!("expected RefConflict, got {other:?}"),
    }
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(c2.as_str()));
    // Expecting "absent" on an existing ref fails too.
    match compare_and_swap_branch_ref(&root, "main", None, &c3) {
        Err(Error::RefConflict { expected: None, actual: Some(a), .. }) => assert_eq!(a, c2),
        other => panic!("expected RefConflict, got {other:?}"),
    }
    // Expecting a value on an absent ref fails and creates nothing.
    match compare_and_swap_branch_ref(&root, "other", Some(&c1), &c3) {
        Err(Error::RefConflict { expected: Some(e), actual: None, .. }) => assert_eq!(e, c1),
        other => panic!("expected RefConflict, got {other:?}"),
    }
    assert_eq!(read_branch_ref(&root, "other").unwrap(), None);
    // No lock file, temp or other ref was left by the failed attempts.
    assert_eq!(tree(tmp.path()), before);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(c2.as_str()));
    // The message names both values.
    let msg = compare_and_swap_branch_ref(&root, "main", Some(&c1), &c3).unwrap_err().to_string();
    assert!(msg.contains(&c1) && msg.contains(&c2), "{msg}");
    // And a fresh CAS from the current value succeeds.
    compare_and_swap_branch_ref(&root, "main", Some(&c2), &c3).unwrap();
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(c3.as_str()));
}

#[test]
fn delete_with_a_stale_expectation_is_a_conflict() {
    let (_tmp, root) = new_repo(true);
    let (c1, c2) = (fake_id("c1"), fake_id("c2"));
    write_branch_ref(&root, "topic", &c1).unwrap();
    write_branch_ref(&root, "topic", &c2).unwrap();
    assert!(matches!(delete_branch_ref(&root, "topic", Some(&c1)), Err(Error::RefConflict { .. })));
    assert_eq!(read_branch_ref(&root, "topic").unwrap(), Some(c2.clone()));
    assert!(delete_branch_ref(&root, "topic", Some(&c2)).unwrap());
    assert_eq!(read_branch_ref(&root, "topic").unwrap(), None);
    assert!(!delete_branch_ref(&root, "topic", None).unwrap());
}

#[test]
fn a_ref_file_holding_garbage_is_corrupt_not_absent() {
    let (_tmp, root) = new_repo(true);
    let path = root.join(".muse/refs/heads/main");
    for garbage in [&b"not an id\n"[..], b"", b"sha256:abc\n", b"\xff\xfe\n"] {
        std::fs::write(&path, garbage).unwrap();
        match read_branch_ref(&root, "main") {
            Err(Error::Corrupt { .. }) => {}
            other => panic!("{garbage:?}: expected Corrupt, got {other:?}"),
        }
        // A CAS against a corrupt ref fails rather than overwriting blindly.
        assert!(compare_and_swap_branch_ref(&root, "main", None, &fake_id("x")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }
}

#[test]
fn head_that_escapes_refs_heads_or_holds_garbage_is_corrupt() {
    use muse_core::refs::{read_head, resolve_head, write_head_commit, write_head_detached, Head};
    let (_tmp, root) = new_repo(true);
    let head = root.join(".muse/HEAD");
    assert_eq!(read_head(&root).unwrap(), Head::Branch("main".into()));
    assert_eq!(resolve_head(&root).unwrap(), None, "unborn branch");
    let c = fake_id("c");
    write_head_commit(&root, &c).unwrap();
    assert_eq!(read_branch_ref(&root, "main").unwrap(), Some(c.clone()));
    write_head_detached(&root, &fake_id("d")).unwrap();
    assert_eq!(read_head(&root).unwrap(), Head::Detached(fake_id("d")));
    write_head_commit(&root, &fake_id("e")).unwrap();
    assert_eq!(resolve_head(&root).unwrap(), Some(fake_id("e")));
    assert_eq!(read_branch_ref(&root, "main").unwrap(), Some(c), "a detached HEAD moves alone");
    for bad in [
        "ref: refs/heads/../../../etc/passwd\n",
        "ref: refs/tags/v1\n",
        "ref: refs/heads/\n",
        "ref: refs/heads/a b\n",
        "sha256:1234\n",
        "garbage\n",
        "",
    ] {
        std::fs::write(&head, bad).unwrap();
        assert!(matches!(read_head(&root), Err(Error::Corrupt { .. })), "{bad:?}");
        assert!(matches!(resolve_head(&root), Err(Error::Corrupt { .. })), "{bad:?}");
        // Moving HEAD through a corrupt HEAD fails and leaves it alone.
        assert!(write_head_commit(&root, &fake_id("f")).is_err());
        assert_eq!(std::fs::read_to_string(&head).unwrap(), bad);
    }
}
