//! The stage (git's index, SPEC §10): the changes recorded on top of
//! HEAD, and [`Repository::add`], which records what the working tree
//! holds.
//!
//! The stage is `.muse/index.msgpack`: a map `{path: blob_id | nil}` of the
//! changes recorded on top of HEAD's manifest (`nil` = remove). `add`
//! records what the working tree holds for the given paths, `commit`
//! applies the stage to HEAD's manifest (every other tracked file carries
//! forward) and empties it.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::atomic::{remove_if_present, write_atomic, Replace, MODE_MUTABLE, MUSE_TMP_PREFIX};
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::ids::BlobId;
use crate::manifest::Manifest;
use crate::paths::{index_path, validate_rel_path};
use crate::records::{read_capped, MAX_MSGPACK_BYTES};
use crate::repository::Repository;

/// The stage: changes recorded on top of HEAD (`None` = remove the path).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    /// `{path: Some(blob_id) | None}`.
    pub entries: BTreeMap<String, Option<String>>,
}

impl Stage {
    /// `base` with the stage applied: borrowed when the stage is empty
    /// (a clean stage costs no copy of HEAD's manifest).
    pub fn view<'a>(&self, base: &'a Manifest) -> std::borrow::Cow<'a, Manifest> {
        if self.entries.is_empty() {
            std::borrow::Cow::Borrowed(base)
        } else {
            std::borrow::Cow::Owned(self.apply_to(base))
        }
    }

    /// `base` with the stage applied.
    pub fn apply_to(&self, base: &Manifest) -> Manifest {
        let mut m = base.clone();
        for (p, v) in &self.entries {
            match v {
                Some(oid) => m.insert(p.clone(), oid.clone()),
                None => m.remove(p),
            };
        }
        m
    }
}

/// Reads the stage (empty when absent).
///
/// # Errors
/// [`Error::Corrupt`] for an undecodable file, [`Error::Io`].
pub fn read_stage(root: &Path) -> Result<Stage> {
    let path = index_path(root);
    let Some(bytes) = read_capped(&path, "index", MAX_MSGPACK_BYTES)? else {
        return Ok(Stage::default());
    };
    let stage: Stage = rmp_serde::from_slice(&bytes).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
    for (p, v) in &stage.entries {
        validate_rel_path(p).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
        if let Some(oid) = v {
            crate::ids::validate_id(oid).map_err(|e| Error::corrupt("index", &path, e.to_string()))?;
        }
    }
    Ok(stage)
}

/// Writes the stage atomically (removes the file when empty).
///
/// # Errors
/// [`Error::Io`].
pub fn write_stage(root: &Path, stage: &Stage) -> Result<()> {
    let path = index_path(root);
    if stage.entries.is_empty() {
        return remove_if_present(&path);
    }
    let bytes = rmp_serde::to_vec_named(stage).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let d = durability_for(root, None)?;
    write_atomic(&path, MUSE_TMP_PREFIX, &bytes, MODE_MUTABLE, d, Replace::Overwrite)?;
    Ok(())
}

/// True when `path` is selected by `spec` (`.` or empty selects all; else
/// the path itself or anything below it).
pub fn pathspec_matches(spec: &str, path: &str) -> bool {
    let spec = spec.trim_end_matches('/');
    spec.is_empty() || spec == "." || path == spec || (path.starts_with(spec) && path.as_bytes().get(spec.len()) == Some(&b'/'))
}

/// git's "pathspec did not match" check: each of `pathspecs` must select
/// one of `paths` (the tracked paths the command works on).
///
/// # Errors
/// [`Error::InvalidInput`] naming the first pathspec that matches nothing.
pub(crate) fn check_pathspecs<'a>(pathspecs: &[String], paths: impl Iterator<Item = &'a String> + Clone) -> Result<()> {
    for s in pathspecs {
        if !paths.clone().any(|p| pathspec_matches(s, p)) {
            return Err(Error::InvalidInput(format!("pathspec {s:?} did not match any tracked file")));
        }
    }
    Ok(())
}

/// What [`Repository::add`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AddReport {
    /// Paths staged as added or modified.
    pub staged: Vec<String>,
    /// Paths staged as removed.
    pub removed: Vec<String>,
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Bytes of the blobs newly stored.
    pub bytes_written: u64,
}

/// Files [`add`] reads and checks per parallel round (with
/// [`ADD_INLINE_MAX`], at most 32 MiB read ahead).
const ADD_CHUNK: usize = 128;

/// Files up to this size (256 KiB) are read whole by [`add`] and handed to
/// the batch as bytes; larger ones are streamed.
const ADD_INLINE_MAX: u64 = 256 * 1024;

/// What [`read_small`] found.
enum Small {
    /// The object is already stored.
    Stored,
    /// The file's bytes, which hash to the expected ID.
    Bytes(Vec<u8>),
    /// The file's bytes no longer hash to the expected ID.
    Changed,
}

/// Reads the working-tree file `rel` for [`add`] when it is at most
/// [`ADD_INLINE_MAX`] bytes and its object `oid` is not stored yet: `None`
/// when it is larger (or no longer a regular file: the batch's streaming
/// path then reports it).
fn read_small(repo: &Repository, rel: &str, oid: &str) -> Result<Option<Small>> {
    use std::io::Read;
    if repo.store().has_blob_cached(&BlobId::parse(oid)?)? {
        return Ok(Some(Small::Stored));
    }
    let path = repo.workdir().join(rel);
    let f = match crate::stat_cache::open_for_hash(&path) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let md = f.metadata().ctx("stat", &path)?;
    if !md.is_file() || md.len() > ADD_INLINE_MAX {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(md.len() as usize);
    f.take(ADD_INLINE_MAX + 1).read_to_end(&mut bytes).ctx("read", &path)?;
    if bytes.len() as u64 > ADD_INLINE_MAX {
        return Ok(None);
    }
    if crate::ids::blob_id(&bytes) != oid {
        return Ok(Some(Small::Changed));
    }
    Ok(Some(Small::Bytes(bytes)))
}

impl Repository {
/// Stages what the working tree holds for `pathspecs` (repository-relative;
/// `"."` is everything): new and modified files are stored as blobs and
/// staged, tracked files missing from the working tree are staged as
/// removals (git 2.x `add`). `progress` is called with (done, total) while
/// blobs are stored. The stage is read, changed and written back under the
/// index lock ([`crate::lock::index_lock`]), so concurrent `add`s all land.
///
/// # Errors
/// [`Error::InvalidInput`] for a pathspec that matches nothing or while an
/// operation is interrupted; [`Error::Locked`]; walker and store errors.
pub fn add(&self, pathspecs: &[String], progress: &mut dyn FnMut(usize, usize)) -> Result<AddReport> {
        let _index = crate::lock::index_lock(self.workdir())?;
        add_locked(self, pathspecs, progress)
    }

    /// [`Repository::add`] of `"."`: every change of the working tree.
    ///
    /// # Errors
    /// As [`Repository::add`].
    pub fn add_all(&self) -> Result<AddReport> {
        self.add(&[".".to_string()], &mut |_, _| {})
    }
}

/// [`Repository::add`] with the index lock held by the caller.
pub(crate) fn add_locked(repo: &Repository, pathspecs: &[String], progress: &mut dyn FnMut(usize, usize)) -> Result<AddReport> {
    let root = repo.workdir();
    crate::operation::refuse_if_interrupted(root)?;
    // Blobs staged here are reachable only through the stage once it is
    // written: hold the write lock (shared) until then, so that `gc
    // --prune` never sees them unreachable.
    let _writing = repo.write_lock()?;
    let (_, _, head) = repo.head_state()?;
    let mut stage = read_stage(root)?;
    let staged_view = stage.apply_to(&head);
    let wt = crate::status::worktree_manifest(root)?;
    for spec in pathspecs {
        let hit = wt.keys().chain(staged_view.keys()).any(|p| pathspec_matches(spec, p));
        if !hit {
            return Err(Error::InvalidInput(format!("pathspec {spec:?} did not match any files")));
        }
    }
    let selected = |p: &str| pathspecs.iter().any(|s| pathspec_matches(s, p));
    let mut report = AddReport::default();
    let mut to_store: Vec<(String, String)> = Vec::new();
    for (p, oid) in &wt {
        if selected(p) && staged_view.get(p) != Some(oid) {
            to_store.push((p.clone(), oid.clone()));
        }
    }
    let removed: Vec<String> =
        staged_view.keys().filter(|p| selected(p) && !wt.contains_key(*p)).cloned().collect();

    let mut batch = repo.store().batch()?;
    let total = to_store.len();
    let changed = |p: &str| Error::InvalidInput(format!("{p} changed while it was being added; run add again"));
    // Files are read (and checked against the walk's hash) on all cores a
    // chunk at a time; small ones go to the batch's staging writers as
    // bytes, larger ones are streamed by the batch.
    let mut done = 0;
    for chunk in to_store.chunks(ADD_CHUNK) {
        let read: Vec<Result<Option<Small>>> =
            chunk.par_iter().map(|(p, oid)| read_small(repo, p, oid)).collect();
        for ((p, oid), r) in chunk.iter().zip(read) {
            let written = match r? {
                Some(Small::Stored) => None,
                Some(Small::Bytes(bytes)) => {
                    if batch.write_verified_blob(&BlobId::parse(oid)?, &bytes)? {
                        Some(bytes.len() as u64)
                    } else {
                        None
                    }
                }
                Some(Small::Changed) => return Err(changed(p)),
                None => {
                    let file = root.join(p);
                    match batch.write_blob_from_file(&BlobId::parse(oid)?, &file) {
                        Ok(true) => Some(std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)),
                        Ok(false) => None,
                        Err(Error::HashMismatch { .. }) => return Err(changed(p)),
                        Err(e) => return Err(e),
                    }
                }
            };
            if let Some(n) = written {
                report.blobs_written += 1;
                report.bytes_written += n;
            }
            stage_entry(&mut stage, &head, p, Some(oid.clone()));
            report.staged.push(p.clone());
            done += 1;
            progress(done, total);
        }
    }
    for p in removed {
        stage_entry(&mut stage, &head, &p, None);
        report.removed.push(p);
    }
    batch.commit()?;
    write_stage(root, &stage)?;
    Ok(report)
}

/// Records `value` for `path` in the stage, dropping the entry when it
/// equals HEAD.
pub(crate) fn stage_entry(stage: &mut Stage, head: &Manifest, path: &str, value: Option<String>) {
    if head.get(path) == value.as_ref() {
        stage.entries.remove(path);
    } else {
        stage.entries.insert(path.to_string(), value);
    }
}

