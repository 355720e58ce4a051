//! Whole-repository verification (`muse verify`): every object's hash,
//! every record's ID, every ref's target, loose and packed; a pack that
//! cannot be opened is a problem too.

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::ids::is_hex64;

/// What [`verify_repo`] checked and found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Objects checked.
    pub objects: usize,
    /// Commit records checked.
    pub commits: usize,
    /// Snapshot records checked.
    pub snapshots: usize,
    /// Refs checked.
    pub refs: usize,
    /// `(item, problem)` for every failure, sorted.
    pub problems: Vec<(String, String)>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn list(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.ctx("list", dir)).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("list", dir, e)),
    }
}

/// Checks the whole store, in parallel: every object hashes to its name,
/// every commit and snapshot record decodes and verifies, every branch and
/// HEAD point at a stored commit, every commit's snapshot and parents are
/// stored. Temps are ignored. Problems are collected, not raised.
///
/// # Errors
/// [`Error::Io`] only for directories that cannot be listed.
pub fn verify_repo(root: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    // Objects.
    let mut objects: Vec<(String, std::path::PathBuf)> = Vec::new();
    for shard in crate::object_store::list_shards(root)? {
        let prefix = shard.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        for e in list(&shard)? {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if crate::repo::is_temp_name(name) {
                continue;
            }
            let hex = format!("{prefix}{name}");
            if !is_hex64(hex.as_bytes()) {
                report.problems.push((e.path().display().to_string(), "not an object name".into()));
                continue;
            }
            objects.push((format!("sha256:{hex}"), e.path()));
        }
    }
    let packs = crate::pack::refresh(root);
    for (path, why) in packs.broken() {
        report.problems.push((format!("pack {}", path.display()), why.clone()));
    }
    let packed: Vec<(&std::sync::Arc<crate::pack::Pack>, crate::pack::PackEntry)> = packs
        .packs()
        .iter()
        .flat_map(|p| p.entries_of(crate::pack::EntryKind::Object).iter().map(move |e| (p, *e)))
        .collect();
    report.objects = objects.len() + packed.len();
    let bad: Vec<(String, String)> = packed
        .par_iter()
        .filter_map(|(p, e)| {
            let id = e.id();
            match p.read(e, "object", u64::MAX) {
                Ok(b) => {
                    let h = crate::ids::blob_id(&b);
                    (h != id).then(|| (format!("object {id}"), format!("content in {} hashes to {h}", p.path().display())))
                }
                Err(err) => Some((format!("object {id}"), err.to_string())),
            }
        })
        .collect();
    report.problems.extend(bad);
    let bad: Vec<(String, String)> = objects
        .par_iter()
        .filter_map(|(id, path)| {
            let res = std::fs::File::open(path)
                .and_then(|f| crate::ids::blob_id_reader(std::io::BufReader::new(f)).map(|(h, _)| h));
            match res {
                Ok(h) if &h == id => None,
                Ok(h) => Some((format!("object {id}"), format!("content hashes to {h}"))),
                Err(e) => Some((format!("object {id}"), e.to_string())),
            }
        })
        .collect();
    report.problems.extend(bad);
    // Commits.
    let ids = crate::commits::list_commit_ids(root)?;
    report.commits = ids.len();
    let bad: Vec<(String, String)> = ids
        .par_iter()
        .filter_map(|id| match crate::commits::load_commit(root, id) {
            Err(e) => Some((format!("commit {id}"), e.to_string())),
            Ok(rec) => {
                let mut probs = Vec::new();
                if !crate::ids::is_valid_id(&rec.snapshot_id) {
                    probs.push(format!("snapshot ID {:?} is malformed", rec.snapshot_id));
                } else if !crate::snapshots::has_snapshot(root, &rec.snapshot_id).unwrap_or(false) {
                    probs.push(format!("snapshot {} is missing", rec.snapshot_id));
                }
                for p in rec.all_parents() {
                    if !crate::ids::is_valid_id(p) {
                        probs.push(format!("parent ID {p:?} is malformed"));
                    } else if !crate::commits::has_commit(root, p).unwrap_or(false) {
                        probs.push(format!("parent {p} is missing"));
                    }
                }
                (!probs.is_empty()).then(|| (format!("commit {id}"), probs.join("; ")))
            }
        })
        .collect();
    report.problems.extend(bad);
    // Snapshots.
    let snaps = crate::snapshots::list_snapshot_ids(root)?;
    report.snapshots = snaps.len();
    let bad: Vec<(String, String)> = snaps
        .par_iter()
        .filter_map(|id| match crate::snapshots::read_snapshot(root, id) {
            Ok(Some(s)) => {
                let missing = s.manifest.values().filter(|o| !crate::object_store::has_object(root, o).unwrap_or(false)).count();
                (missing > 0).then(|| (format!("snapshot {id}"), format!("{missing} blob(s) missing")))
            }
            Ok(None) => Some((format!("snapshot {id}"), "vanished".into())),
            Err(e) => Some((format!("snapshot {id}"), e.to_string())),
        })
        .collect();
    report.problems.extend(bad);
    // Refs.
    match crate::refs::list_branches(root) {
        Ok(branches) => {
            report.refs = branches.len();
            for (name, id) in branches {
                if !crate::commits::has_commit(root, &id).unwrap_or(false) {
                    report.problems.push((format!("ref refs/heads/{name}"), format!("points at missing commit {id}")));
                }
            }
        }
        Err(e) => report.problems.push(("refs".into(), e.to_string())),
    }
    match crate::refs::read_head(root) {
        Ok(crate::refs::Head::Detached(id)) => {
            report.refs += 1;
            if !crate::commits::has_commit(root, &id).unwrap_or(false) {
                report.problems.push(("HEAD".into(), format!("points at missing commit {id}")));
            }
        }
        Ok(_) => {}
        Err(e) => report.problems.push(("HEAD".into(), e.to_string())),
    }
    report.problems.sort();
    Ok(report)
}

impl crate::Repository {
    /// Checks the whole store ([`verify_repo`]; `muse verify`, git's
    /// `fsck`). Filesystem store only.
    ///
    /// # Errors
    /// As [`verify_repo`]; [`Error::InvalidInput`] on another store.
    pub fn verify(&self) -> Result<VerifyReport> {
        verify_repo(self.fs_store("verify")?.root())
    }
}
