//! History: [`Repository::log`], the commits reachable from a revision,
//! newest first (git's default `log` order: by commit time, each commit
//! once, every parent followed).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use crate::error::Result;
use crate::records::{parse_iso_micros, CommitRecord};
use crate::repository::Repository;

/// The iterator of [`Repository::log`]. Holds the commits queued and the
/// IDs seen (memory grows with the commits visited, as in git).
pub struct Log<'r> {
    repo: &'r Repository,
    heap: BinaryHeap<(i64, Reverse<u64>, String)>,
    seen: HashSet<String>,
    seq: u64,
    failed: bool,
}

impl Repository {
    /// The commits reachable from `rev` ([`Self::revparse`]), newest first
    /// by `committed_at` (ties: discovery order), each once. Stop early with
    /// `.take(n)`. An unborn HEAD yields nothing.
    ///
    /// # Errors
    /// As [`Self::revparse`] (except an unborn `HEAD`); items are
    /// [`crate::Error::NotFound`] / [`crate::Error::Missing`] when a parent
    /// is not stored, after which the iterator ends.
    pub fn log(&self, rev: &str) -> Result<Log<'_>> {
        let mut log = Log { repo: self, heap: BinaryHeap::new(), seen: HashSet::new(), seq: 0, failed: false };
        let tip = if rev == "HEAD" || rev == "@" { self.head_ids()?.1 } else { Some(self.revparse(rev)?) };
        if let Some(t) = tip {
            log.push(t, i64::MAX);
        }
        Ok(log)
    }
}

impl Log<'_> {
    fn push(&mut self, id: String, time: i64) {
        if self.seen.insert(id.clone()) {
            self.heap.push((time, Reverse(self.seq), id));
            self.seq += 1;
        }
    }
}

impl Iterator for Log<'_> {
    type Item = Result<CommitRecord>;

    fn next(&mut self) -> Option<Result<CommitRecord>> {
        if self.failed {
            return None;
        }
        let (_, _, id) = self.heap.pop()?;
        let rec = match self.repo.find_commit(&id) {
            Ok(r) => r,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        for p in rec.parents() {
            // Parents are ordered by their own time once read; until then
            // by the child's time (a parent is never newer in sane history).
            let t = match self.repo.find_commit(p) {
                Ok(pr) => parse_iso_micros(&pr.committed_at).unwrap_or(i64::MIN),
                Err(_) => i64::MIN,
            };
            self.push(p.to_string(), t);
        }
        Some(Ok(rec))
    }
}
