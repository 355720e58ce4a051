//! Merge base of two commits (SPEC §6), git's "paint down to common"
//! algorithm with a cap.
//!
//! Commits are visited newest first (by `committed_at`, ties in discovery
//! order); each is painted with the side(s) it is reachable from. A commit
//! reachable from both sides is a common ancestor; its ancestors are marked
//! stale and no longer searched. Candidates that are ancestors of other
//! candidates are dropped (git's `remove_redundant`); the newest remaining
//! one is the merge base (git `merge-base` without `--all`). At most
//! `[limits] max_ancestors` distinct commits are read; past that the search
//! fails instead of growing without bound.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::{validate_id, CommitId};
use crate::records::{parse_iso_micros, CommitRecord};
use crate::store::{FsStore, RecordStore};

const P1: u8 = 1;
const P2: u8 = 2;
const STALE: u8 = 4;
const RESULT: u8 = 8;

struct Node {
    flags: u8,
    time: i64,
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
    merge_base_in(&FsStore::new(root), a, b, cap)
}

/// [`find_merge_base_capped`] over any [`RecordStore`]: what
/// [`crate::Repository::merge_base`] runs.
///
/// # Errors
/// As [`find_merge_base`].
pub fn merge_base_in(records: &dyn RecordStore, a: &str, b: &str, cap: u64) -> Result<Option<String>> {
    validate_id(a)?;
    validate_id(b)?;
    if a == b {
        load(records, a)?;
        return Ok(Some(a.to_string()));
    }
    let mut graph = Graph { records, cap, nodes: HashMap::new() };
    // (time, Reverse(seq)): newest first, ties in discovery order.
    let mut heap: BinaryHeap<(i64, Reverse<u64>, String, u8)> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut active = 0usize;
    for (id, flag) in [(a, P1), (b, P2)] {
        let t = graph.node(id)?.time;
        graph.nodes.get_mut(id).expect("loaded").flags |= flag;
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
        let node = graph.nodes.get_mut(&id).expect("queued nodes are loaded");
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
            let t = graph.node(&p)?.time;
            let pnode = graph.nodes.get_mut(&p).expect("loaded");
            if pnode.flags & flags == flags {
                continue;
            }
            pnode.flags |= flags;
            let f = pnode.flags & (P1 | P2 | STALE);
            if f & STALE == 0 {
                active += 1;
            }
            heap.push((t, Reverse(seq), p, f));
            seq += 1;
        }
    }
    if results.len() <= 1 {
        return Ok(results.pop());
    }
    // git's remove_redundant: drop every candidate that is an ancestor of
    // another candidate; of the rest, the newest wins.
    let mut best: Option<(i64, String)> = None;
    for x in &results {
        let mut redundant = false;
        for y in &results {
            if x != y && graph.is_ancestor(x, y)? {
                redundant = true;
                break;
            }
        }
        if !redundant {
            let t = graph.node(x)?.time;
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, x.clone()));
            }
        }
    }
    Ok(best.map(|(_, id)| id))
}

/// Commit `id` from `records`.
///
/// # Errors
/// [`Error::NotFound`] when absent.
fn load(records: &dyn RecordStore, id: &str) -> Result<CommitRecord> {
    records
        .read_commit(&CommitId::parse(id)?)?
        .ok_or_else(|| Error::NotFound { what: "commit", name: id.to_string() })
}

/// The commits read so far, with the cap on how many may be read.
struct Graph<'a> {
    records: &'a dyn RecordStore,
    cap: u64,
    nodes: HashMap<String, Node>,
}

impl Graph<'_> {
    fn node(&mut self, id: &str) -> Result<&Node> {
        if !self.nodes.contains_key(id) {
            if self.nodes.len() as u64 >= self.cap {
                return Err(Error::CapExceeded {
                    cap: "max_ancestors",
                    detail: format!(
                        "find_merge_base gave up after reading max_ancestors = {} commits without settling a merge base",
                        self.cap
                    ),
                });
            }
            let rec: CommitRecord = load(self.records, id)?;
            let time = parse_iso_micros(&rec.committed_at).unwrap_or(0);
            self.nodes.insert(id.to_string(), Node { flags: 0, time, parents: rec.parents().map(str::to_string).collect() });
        }
        Ok(&self.nodes[id])
    }

    /// True when `anc` is reachable from `desc` through parents.
    fn is_ancestor(&mut self, anc: &str, desc: &str) -> Result<bool> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = vec![desc.to_string()];
        while let Some(id) = stack.pop() {
            if id == anc {
                return Ok(true);
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            stack.extend(self.node(&id)?.parents.iter().cloned());
        }
        Ok(false)
    }
}
