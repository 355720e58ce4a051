//! Merge base of two commits (SPEC §6), git's "paint down to common"
//! algorithm with a cap.
//!
//! Commits are visited newest first (by `committed_at`, ties in discovery
//! order); each is painted with the side(s) it is reachable from. A commit
//! reachable from both sides is a common ancestor; its ancestors are marked
//! stale and no longer searched. The first common ancestor found is the
//! merge base (git `merge-base` without `--all`). At most
//! `[limits] max_ancestors` distinct commits are read; past that the search
//! fails instead of growing without bound.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use crate::commits::load_commit;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::validate_id;
use crate::records::{parse_iso_seconds, CommitRecord};

const P1: u8 = 1;
const P2: u8 = 2;
const STALE: u8 = 4;
const RESULT: u8 = 8;

struct Node {
    flags: u8,
    parents: Vec<String>,
}

/// The merge base of `a` and `b`, or `None` when they share no ancestor.
/// Reads the cap from `config.toml` (`[limits] max_ancestors`, default
/// 50 000).
///
/// # Errors
/// [`Error::CapExceeded`] naming `max_ancestors` when more commits than the
/// cap would have to be read; [`Error::InvalidId`]; [`Error::NotFound`] for
/// a missing commit; [`Error::Corrupt`]; [`Error::Config`].
pub fn find_merge_base(root: &Path, a: &str, b: &str) -> Result<Option<String>> {
    let cap = Config::read(root)?.max_ancestors;
    find_merge_base_capped(root, a, b, cap)
}

/// [`find_merge_base`] with an explicit cap on the commits read.
///
/// # Errors
/// As [`find_merge_base`].
pub fn find_merge_base_capped(root: &Path, a: &str, b: &str, cap: u64) -> Result<Option<String>> {
    validate_id(a)?;
    validate_id(b)?;
    if a == b {
        load_commit(root, a)?;
        return Ok(Some(a.to_string()));
    }
    let mut nodes: HashMap<String, Node> = HashMap::new();
    // (time, Reverse(seq)): newest first, ties in discovery order.
    let mut heap: BinaryHeap<(i64, Reverse<u64>, String, u8)> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut active = 0usize;

    let load = |id: &str, nodes: &mut HashMap<String, Node>| -> Result<i64> {
        if nodes.len() as u64 >= cap {
            return Err(Error::CapExceeded {
                cap: "max_ancestors",
                detail: format!(
                    "find_merge_base gave up after reading max_ancestors = {cap} commits without settling a merge base"
                ),
            });
        }
        let rec: CommitRecord = load_commit(root, id)?;
        let t = parse_iso_seconds(&rec.committed_at).unwrap_or(0);
        nodes.insert(id.to_string(), Node { flags: 0, parents: rec.parents().map(str::to_string).collect() });
        Ok(t)
    };
    let mut times: HashMap<String, i64> = HashMap::new();
    for (id, flag) in [(a, P1), (b, P2)] {
        let t = load(id, &mut nodes)?;
        times.insert(id.to_string(), t);
        nodes.get_mut(id).expect("loaded").flags |= flag;
        heap.push((t, Reverse(seq), id.to_string(), flag));
        seq += 1;
        active += 1;
    }
    let mut results: Vec<String> = Vec::new();
    while active > 0 {
        let Some((_, _, id, pushed_flags)) = heap.pop() else { break };
        if pushed_flags & STALE == 0 {
            active -= 1;
        }
        let node = nodes.get_mut(&id).expect("queued nodes are loaded");
        let mut flags = node.flags & (P1 | P2 | STALE);
        if flags & (P1 | P2) == (P1 | P2) {
            if node.flags & RESULT == 0 {
                node.flags |= RESULT;
                results.push(id.clone());
            }
            node.flags |= STALE;
            flags |= STALE;
        }
        let parents = node.parents.clone();
        for p in parents {
            if !nodes.contains_key(&p) {
                let t = load(&p, &mut nodes)?;
                times.insert(p.clone(), t);
            }
            let pnode = nodes.get_mut(&p).expect("loaded");
            if pnode.flags & flags == flags {
                continue;
            }
            pnode.flags |= flags;
            let f = pnode.flags & (P1 | P2 | STALE);
            if f & STALE == 0 {
                active += 1;
            }
            heap.push((times[&p], Reverse(seq), p, f));
            seq += 1;
        }
    }
    Ok(results.into_iter().next())
}
