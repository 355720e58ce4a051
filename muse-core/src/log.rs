//! History: [`Repository::log`], the commits reachable from a revision,
//! newest first (git's default `log` order: by commit time, each commit
//! once, every parent followed).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use crate::error::Result;
use crate::records::{parse_iso_micros, CommitRecord};
use crate::repository::Repository;

/// Options of [`Repository::log_with`] (git's `log` flags of the same
/// names).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Follow only first parents (`--first-parent`: a branch's own
    /// history, merges seen as single steps).
    pub first_parent: bool,
    /// Show only commits that change a path matching one of these (`--
    /// paths`: a path or a directory prefix; empty: every commit). A
    /// commit qualifies when the paths differ from every parent's (a merge
    /// that took one side's content as is is left out, as git's history
    /// simplification does).
    pub paths: Vec<String>,
}

/// The iterator of [`Repository::log`]. Holds the commits queued and the
/// IDs seen (memory grows with the commits visited, as in git).
pub struct Log {
    repo: Repository,
    opts: LogOptions,
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
        self.log_with(rev, &LogOptions::default())
    }

    /// [`Self::log`] with `opts`: first parents only, or only the commits
    /// that change given paths.
    ///
    /// # Errors
    /// As [`Self::log`]; items as there, plus store errors reading the
    /// snapshots a path filter compares.
    pub fn log_with(&self, rev: &str, opts: &LogOptions) -> Result<Log> {
        let mut log = Log {
            repo: self.clone(),
            opts: opts.clone(),
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
        loop {
            let rec = match self.step()? {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            match self.shown(&rec) {
                Ok(true) => return Some(Ok(rec)),
                Ok(false) => continue,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Log {
    /// True when `rec` passes the path filter.
    fn shown(&self, rec: &CommitRecord) -> Result<bool> {
        if self.opts.paths.is_empty() {
            return Ok(true);
        }
        let pick = |m: crate::manifest::Manifest| -> crate::manifest::Manifest {
            m.into_iter().filter(|(p, _)| self.opts.paths.iter().any(|s| crate::stage::pathspec_matches(s, p))).collect()
        };
        let mine = pick(self.repo.commit_manifest(&rec.commit_id)?);
        let parents: Vec<&str> = if self.opts.first_parent { rec.parent_commit_id.as_deref().into_iter().collect() } else { rec.parents().collect() };
        if parents.is_empty() {
            return Ok(!mine.is_empty());
        }
        for p in parents {
            if pick(self.repo.commit_manifest(p)?) == mine {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The next commit of the walk, unfiltered.
    fn step(&mut self) -> Option<Result<CommitRecord>> {
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
        let parents: Vec<&str> =
            if self.opts.first_parent { rec.parent_commit_id.as_deref().into_iter().collect() } else { rec.parents().collect() };
        for p in parents {
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

/// The iterator of [`Repository::first_parent_walk`]: the first-parent
/// chain from a tip, tip first, one record held at a time. Owns a clone of
/// the handle (a binding may keep it).
pub struct FirstParentWalk {
    repo: Repository,
    next: Option<String>,
}

impl Iterator for FirstParentWalk {
    type Item = Result<CommitRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let id = self.next.take()?;
        match self.repo.find_commit(&id) {
            Ok(rec) => {
                self.next = rec.parent_commit_id.clone();
                Some(Ok(rec))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl Repository {
    /// Walks the first-parent chain from commit `tip` (`None`: nothing),
    /// tip first (git's `log --first-parent`). An item is
    /// [`crate::Error::NotFound`] for a commit that is not stored (then the
    /// walk ends), [`crate::Error::InvalidId`] for a malformed ID.
    pub fn first_parent_walk(&self, tip: Option<&str>) -> FirstParentWalk {
        FirstParentWalk { repo: self.clone(), next: tip.map(str::to_string) }
    }

    /// The commits of `branch`, tip first, following first parents, at most
    /// `max_count` of them (`0` means [`crate::commits::DEFAULT_WALK_CAP`]).
    /// An absent branch has no commits.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRefName`], [`crate::Error::NotFound`] for a
    /// missing parent, [`crate::Error::Corrupt`], [`crate::Error::Io`].
    pub fn first_parent_commits(&self, branch: &str, max_count: usize) -> Result<Vec<CommitRecord>> {
        let cap = if max_count == 0 { crate::commits::DEFAULT_WALK_CAP } else { max_count };
        let tip = self.branch_target(branch)?;
        self.first_parent_walk(tip.as_deref()).take(cap).collect()
    }

    /// Commits reachable from `tip` (both parents) up to, not including,
    /// `base` and what lies behind it, breadth-first, at most `max_commits`
    /// ([`crate::commits::walk_between_with`]).
    ///
    /// # Errors
    /// [`crate::Error::InvalidId`]; [`crate::Error::NotFound`] for a
    /// missing commit; [`crate::Error::Corrupt`].
    pub fn walk_between(
        &self,
        tip: &str,
        base: Option<&str>,
        max_commits: usize,
    ) -> Result<crate::commits::WalkResult> {
        crate::commits::walk_between_with(&mut |id| self.find_commit(id), tip, base, max_commits)
    }
}
