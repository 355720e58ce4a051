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
pub struct Log {
    repo: Repository,
    heap: BinaryHeap<(i64, Reverse<u64>, String)>,
    /// Who named each queued commit (for [`crate::Error::Missing`]).
    named_by: std::collections::HashMap<String, String>,
    /// Queued commits already read (to order them), by ID.
    loaded: std::collections::HashMap<String, CommitRecord>,
    seen: HashSet<String>,
    seq: u64,
    failed: bool,
}

impl Repository {
    /// The commits reachable from `rev` ([`Self::revparse`]), newest first
    /// by `committed_at` (ties: discovery order), each once. Stop early with
    /// `.take(n)`. An unborn HEAD yields nothing.
    ///
    /// The iterator holds a clone of the handle (cheap), so it may outlive
    /// `self` and move to another thread.
    ///
    /// # Errors
    /// As [`Self::revparse`] (except an unborn `HEAD`); an item is
    /// [`crate::Error::Missing`] (an integrity error) when a commit in the
    /// history is not stored, after which the iterator ends.
    pub fn log(&self, rev: &str) -> Result<Log> {
        let mut log = Log {
            repo: self.clone(),
            heap: BinaryHeap::new(),
            named_by: std::collections::HashMap::new(),
            loaded: std::collections::HashMap::new(),
            seen: HashSet::new(),
            seq: 0,
            failed: false,
        };
        let tip = if rev == "HEAD" || rev == "@" { self.head_ids()?.1 } else { Some(self.revparse(rev)?) };
        if let Some(t) = tip {
            log.push(t, i64::MAX, rev);
        }
        Ok(log)
    }
}

impl Log {
    fn push(&mut self, id: String, time: i64, named_by: &str) {
        if self.seen.insert(id.clone()) {
            self.named_by.insert(id.clone(), named_by.to_string());
            self.heap.push((time, Reverse(self.seq), id));
            self.seq += 1;
        }
    }
}

impl Iterator for Log {
    type Item = Result<CommitRecord>;

    fn next(&mut self) -> Option<Result<CommitRecord>> {
        if self.failed {
            return None;
        }
        let (_, _, id) = self.heap.pop()?;
        let named_by = self.named_by.remove(&id).unwrap_or_default();
        let found = match self.loaded.remove(&id) {
            Some(r) => Ok(r),
            None => self.repo.find_commit(&id),
        };
        let rec = match found {
            Ok(r) => r,
            Err(e) => {
                self.failed = true;
                return Some(Err(match e {
                    crate::Error::NotFound { what: "commit", name } => {
                        crate::Error::Missing { what: "commit", id: name, referenced_by: named_by }
                    }
                    e => e,
                }));
            }
        };
        for p in rec.parents() {
            // Parents are ordered by their own time once read; until then
            // by the child's time (a parent is never newer in sane history).
            if self.seen.contains(p) {
                continue;
            }
            let t = match self.repo.find_commit(p) {
                Ok(pr) => {
                    let t = parse_iso_micros(&pr.committed_at).unwrap_or(i64::MIN);
                    self.loaded.insert(p.to_string(), pr);
                    t
                }
                Err(_) => i64::MIN,
            };
            self.push(p.to_string(), t, &format!("commit {}", rec.commit_id));
        }
        Some(Ok(rec))
    }
}
