//! History walks and merge bases (SPEC §6).

mod common;

use common::{chain, commit, new_repo, set_config};
use muse_core::ids::fake_id;
use muse_core::merge_base::{find_merge_base, find_merge_base_capped};
use muse_core::refs::write_branch_ref;
use muse_core::commits::WalkResult;
use muse_core::records::CommitRecord;
use muse_core::{Error, Repository};

fn get_commits_for_branch(root: &std::path::Path, branch: &str, max: usize) -> muse_core::Result<Vec<CommitRecord>> {
    Repository::open(root).unwrap().first_parent_commits(branch, max)
}

fn walk_commits_between(root: &std::path::Path, tip: &str, base: Option<&str>, max: usize) -> muse_core::Result<WalkResult> {
    Repository::open(root).unwrap().walk_between(tip, base, max)
}

fn ids_of(recs: &[muse_core::records::CommitRecord]) -> Vec<String> {
    recs.iter().map(|r| r.commit_id.clone()).collect()
}

#[test]
fn get_commits_for_branch_is_capped_tip_first_following_parents() {
    let (_tmp, root) = new_repo(true);
    let ids = chain(&root, None, 50, "c", 0);
    write_branch_ref(&root, "main", ids.last().unwrap()).unwrap();
    let got = get_commits_for_branch(&root, "main", 10).unwrap();
    assert_eq!(got.len(), 10);
    let expected: Vec<String> = ids.iter().rev().take(10).cloned().collect();
    assert_eq!(ids_of(&got), expected);
    for pair in got.windows(2) {
        assert_eq!(pair[0].parent_commit_id.as_deref(), Some(pair[1].commit_id.as_str()));
    }
    // Uncapped (0 = default cap) returns the whole chain, root last.
    let all = get_commits_for_branch(&root, "main", 0).unwrap();
    assert_eq!(all.len(), 50);
    assert_eq!(all.last().unwrap().commit_id, ids[0]);
    assert_eq!(all.last().unwrap().parent_commit_id, None);
    // A cap over the depth returns the depth.
    assert_eq!(get_commits_for_branch(&root, "main", 1000).unwrap().len(), 50);
    assert_eq!(get_commits_for_branch(&root, "main", 1).unwrap().len(), 1);
    // An absent branch has no commits; a bad name is an error.
    assert!(get_commits_for_branch(&root, "nope", 10).unwrap().is_empty());
    assert!(matches!(get_commits_for_branch(&root, "bad name", 10), Err(Error::InvalidRefName { .. })));
}

#[test]
fn get_commits_for_branch_follows_first_parents_only_and_reports_a_missing_parent() {
    let (_tmp, root) = new_repo(true);
    let base = chain(&root, None, 3, "base", 0);
    let side = chain(&root, Some(&base[2]), 2, "side", 10);
    let main = chain(&root, Some(&base[2]), 2, "main", 20);
    let merge = commit(&root, Some(&main[1]), Some(&side[1]), "merge", 30);
    write_branch_ref(&root, "main", &merge).unwrap();
    let got = ids_of(&get_commits_for_branch(&root, "main", 0).unwrap());
    let expected = vec![merge.clone(), main[1].clone(), main[0].clone(), base[2].clone(), base[1].clone(), base[0].clone()];
    assert_eq!(got, expected);

    // A dangling parent is NotFound, not a silently short history.
    let orphan = commit(&root, Some(&fake_id("never stored")), None, "orphan", 40);
    write_branch_ref(&root, "orphan", &orphan).unwrap();
    assert!(matches!(get_commits_for_branch(&root, "orphan", 0), Err(Error::NotFound { .. })));
    // ... unless the cap stops before it.
    assert_eq!(get_commits_for_branch(&root, "orphan", 1).unwrap().len(), 1);
    let walked: Vec<_> = Repository::open(&root).unwrap().first_parent_walk(Some(&orphan)).collect();
    assert_eq!(walked.len(), 2);
    assert!(walked[0].is_ok() && walked[1].is_err());
}

#[test]
fn walk_commits_between_returns_exactly_the_commits_after_base() {
    let (_tmp, root) = new_repo(true);
    let ids = chain(&root, None, 30, "c", 0);
    let tip = ids.last().unwrap();
    let base = &ids[12];
    let r = walk_commits_between(&root, tip, Some(base), 1000).unwrap();
    assert!(!r.truncated);
    let expected: Vec<String> = ids[13..].iter().rev().cloned().collect();
    assert_eq!(ids_of(&r.commits), expected);
    // Cap exactly the number of commits: complete, not truncated.
    let r = walk_commits_between(&root, tip, Some(base), 17).unwrap();
    assert_eq!(r.commits.len(), 17);
    assert!(!r.truncated, "nothing was cut");
    // One less: truncated, newest first.
    let r = walk_commits_between(&root, tip, Some(base), 16).unwrap();
    assert!(r.truncated);
    assert_eq!(ids_of(&r.commits), expected[..16].to_vec());
    // tip == base: nothing, not truncated.
    let r = walk_commits_between(&root, base, Some(base), 5).unwrap();
    assert!(r.commits.is_empty() && !r.truncated);
    // No base: the whole chain.
    let r = walk_commits_between(&root, tip, None, 1000).unwrap();
    assert_eq!(r.commits.len(), 30);
    assert!(!r.truncated);
    let r = walk_commits_between(&root, tip, None, 30).unwrap();
    assert!(!r.truncated);
    let r = walk_commits_between(&root, tip, None, 29).unwrap();
    assert!(r.truncated);
    assert_eq!(r.commits.len(), 29);
    // Cap 0 with something to walk is truncated with nothing returned.
    let r = walk_commits_between(&root, tip, None, 0).unwrap();
    assert!(r.truncated && r.commits.is_empty());
}

#[test]
fn walk_commits_between_follows_both_parents_of_a_merge() {
    let (_tmp, root) = new_repo(true);
    let base = commit(&root, None, None, "base", 0);
    let a = chain(&root, Some(&base), 3, "a", 10);
    let b = chain(&root, Some(&base), 2, "b", 20);
    let m = commit(&root, Some(&a[2]), Some(&b[1]), "merge", 30);
    let r = walk_commits_between(&root, &m, Some(&base), 100).unwrap();
    assert!(!r.truncated);
    let mut got = ids_of(&r.commits);
    assert_eq!(got[0], m, "tip first");
    got.sort();
    let mut expected: Vec<String> = a.iter().chain(b.iter()).cloned().collect();
    expected.push(m.clone());
    expected.sort();
    assert_eq!(got, expected, "each commit after base exactly once");
}

#[test]
fn merge_base_of_a_linear_history_is_the_older_tip() {
    let (_tmp, root) = new_repo(true);
    let ids = chain(&root, None, 20, "c", 0);
    assert_eq!(find_merge_base(&root, &ids[19], &ids[7]).unwrap(), Some(ids[7].clone()));
    assert_eq!(find_merge_base(&root, &ids[7], &ids[19]).unwrap(), Some(ids[7].clone()));
    assert_eq!(find_merge_base(&root, &ids[5], &ids[5]).unwrap(), Some(ids[5].clone()));
    assert_eq!(find_merge_base(&root, &ids[0], &ids[19]).unwrap(), Some(ids[0].clone()));
}

#[test]
fn merge_base_of_a_fork_is_the_fork_point() {
    let (_tmp, root) = new_repo(true);
    let root_c = commit(&root, None, None, "root", 0);
    let a = chain(&root, Some(&root_c), 5, "a", 10);
    let b = chain(&root, Some(&root_c), 8, "b", 20);
    assert_eq!(find_merge_base(&root, &a[4], &b[7]).unwrap(), Some(root_c.clone()));
    assert_eq!(find_merge_base(&root, &b[7], &a[4]).unwrap(), Some(root_c.clone()));
    // Fork further up.
    let trunk = chain(&root, None, 10, "trunk", 100);
    let x = chain(&root, Some(&trunk[6]), 3, "x", 200);
    let y = chain(&root, Some(&trunk[9]), 2, "y", 300);
    assert_eq!(find_merge_base(&root, &x[2], &y[1]).unwrap(), Some(trunk[6].clone()));
}

#[test]
fn merge_base_through_a_merge_commit() {
    let (_tmp, root) = new_repo(true);
    let r = commit(&root, None, None, "root", 0);
    let m = chain(&root, Some(&r), 2, "main", 10);
    let f = chain(&root, Some(&r), 2, "feat", 20);
    // main merges feat (feat is parent2).
    let merge = commit(&root, Some(&m[1]), Some(&f[0]), "merge feat", 30);
    assert_eq!(find_merge_base(&root, &merge, &f[0]).unwrap(), Some(f[0].clone()));
    // feat moved on after the merge: the base is what was merged.
    assert_eq!(find_merge_base(&root, &merge, &f[1]).unwrap(), Some(f[0].clone()));
    assert_eq!(find_merge_base(&root, &f[1], &merge).unwrap(), Some(f[0].clone()));
    // A commit on main after the merge and the old main tip.
    let after = commit(&root, Some(&merge), None, "after", 40);
    assert_eq!(find_merge_base(&root, &after, &m[0]).unwrap(), Some(m[0].clone()));
}

#[test]
fn merge_base_of_disjoint_histories_is_none_within_the_cap_and_an_error_past_it() {
    let (_tmp, root) = new_repo(true);
    let a = chain(&root, None, 30, "a", 0);
    let b = chain(&root, None, 30, "b", 100);
    // Within the default cap: no common ancestor.
    assert_eq!(find_merge_base(&root, &a[29], &b[29]).unwrap(), None);
    // The cap counts distinct commits read: 60 is enough, 59 is not.
    assert_eq!(find_merge_base_capped(&root, &a[29], &b[29], 60).unwrap(), None);
    assert!(matches!(find_merge_base_capped(&root, &a[29], &b[29], 59), Err(Error::CapExceeded { .. })));
    // The cap comes from config.toml.
    set_config(&root, "[core]\nfsync = \"off\"\n\n[limits]\nmax_ancestors = 10\n");
    match find_merge_base(&root, &a[29], &b[29]) {
        Err(e @ Error::CapExceeded { cap, .. }) => {
            assert_eq!(cap, "max_ancestors");
            assert_eq!(e.kind(), muse_core::ErrorKind::Cli);
            let msg = e.to_string();
            assert!(msg.contains("max_ancestors"), "{msg}");
        }
        other => panic!("expected CapExceeded, got {other:?}"),
    }
    set_config(&root, "[limits]\nmax_ancestors = 100\n");
    assert_eq!(find_merge_base(&root, &a[29], &b[29]).unwrap(), None);
    // A bad cap is a config error, not a silent default.
    set_config(&root, "[limits]\nmax_ancestors = 0\n");
    assert!(matches!(find_merge_base(&root, &a[29], &b[29]), Err(Error::Config { .. })));
}

#[test]
fn merge_base_of_a_missing_commit_is_not_found() {
    let (_tmp, root) = new_repo(true);
    let a = commit(&root, None, None, "a", 0);
    assert!(matches!(find_merge_base(&root, &a, &fake_id("absent")), Err(Error::NotFound { .. })));
    assert!(matches!(find_merge_base(&root, &fake_id("absent"), &fake_id("absent")), Err(Error::NotFound { .. })));
}

/// A tiny deterministic PRNG (no dev-dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Ancestors of `i` (inclusive) in a DAG given as parent lists.
fn ancestors(parents: &[Vec<usize>], i: usize) -> std::collections::HashSet<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![i];
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(parents[n].iter().copied());
        }
    }
    seen
}

/// The best common ancestors of `a` and `b`: common ancestors that are not
/// an ancestor of another common ancestor (git's definition of a merge base).
fn best_common_ancestors(parents: &[Vec<usize>], a: usize, b: usize) -> Vec<usize> {
    let aa = ancestors(parents, a);
    let bb = ancestors(parents, b);
    let common: Vec<usize> = aa.intersection(&bb).copied().collect();
    common
        .iter()
        .copied()
        .filter(|&c| !common.iter().any(|&d| d != c && ancestors(parents, d).contains(&c)))
        .collect()
}

/// Random DAGs with merges and several roots; commit times strictly
/// increase from parents to children (one second apart).
#[test]
fn merge_base_is_a_best_common_ancestor_on_random_histories() {
    let (_tmp, root) = new_repo(true);
    let mut rng = Lcg(0x5eed);
    for dag in 0..8 {
        let n = 40;
        let mut parents: Vec<Vec<usize>> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for i in 0..n {
            let mut ps = Vec::new();
            if i > 0 && rng.below(12) != 0 {
                ps.push(rng.below(i));
                if rng.below(3) == 0 {
                    let p2 = rng.below(i);
                    if p2 != ps[0] {
                        ps.push(p2);
                    }
                }
            }
            let id = commit(
                &root,
                ps.first().map(|&p| ids[p].as_str()),
                ps.get(1).map(|&p| ids[p].as_str()),
                &format!("dag{dag}-{i}"),
                (dag * 100 + i) as u32,
            );
            parents.push(ps);
            ids.push(id);
        }
        for _ in 0..40 {
            let (a, b) = (rng.below(n), rng.below(n));
            let best = best_common_ancestors(&parents, a, b);
            let got = find_merge_base(&root, &ids[a], &ids[b]).unwrap();
            match got {
                None => assert!(best.is_empty(), "dag {dag}: {a},{b}: None but best = {best:?}"),
                Some(id) => {
                    let idx = ids.iter().position(|x| *x == id).unwrap();
                    assert!(best.contains(&idx), "dag {dag}: {a},{b}: got {idx}, best = {best:?}");
                }
            }
        }
    }
}

/// `c <- d <- A`, and `B` = merge(c, e) with `e <- d`: the best common
/// ancestor of A and B is d (c is an ancestor of d). Built with commit
/// times in one and the same second (microseconds apart, as Python's
/// `isoformat()` writes them), the merge base must still be d.
#[test]
// (was ignored as a bug; fixed)
fn merge_base_within_one_second_is_not_an_ancestor_of_a_better_base() {
    let (_tmp, root) = new_repo(true);
    let at = |us: u32| format!("2026-01-01T00:00:00.{us:06}+00:00");
    let mk = |p1: Option<&str>, p2: Option<&str>, msg: &str, us: u32| {
        let mut rec = common::make_commit(p1, p2, msg, 0);
        rec.committed_at = at(us);
        rec.commit_id = rec.compute_id();
        muse_core::commits::write_commit(&root, &rec, None).unwrap();
        rec.commit_id
    };
    let c = mk(None, None, "c", 1);
    let d = mk(Some(&c), None, "d", 2);
    let e = mk(Some(&d), None, "e", 3);
    let a = mk(Some(&d), None, "A", 4);
    let b = mk(Some(&c), Some(&e), "B", 5);
    let got = find_merge_base(&root, &a, &b).unwrap();
    assert_eq!(got.as_deref(), Some(d.as_str()), "c = {c}, d = {d}");
}
