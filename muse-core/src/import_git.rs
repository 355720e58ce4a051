//! Importing a git history (`muse import-git`), and checking an import.
//!
//! History is read from git's own documented export stream, never from a
//! home-made object parser: `git fast-export --all` is spawned and its
//! stdout parsed incrementally (the stream is never held in memory; one blob
//! at a time is).
//!
//! Mapping rules:
//!
//! - every blob → one object (`blob_id` of its bytes; written once, the
//!   batch skips stored IDs);
//! - every commit → a [`CommitRecord`]: `author` = `"Name <email>"`,
//!   `committed_at` = the git *author* time as ISO-8601 with its own offset
//!   (`2024-01-02T03:04:05+01:00`, Python `isoformat`), `message` = the
//!   message (re-encoded to UTF-8 by git), `branch` = the short name of the
//!   ref git exported it under, `metadata["git_oid"]` = the git commit id;
//! - parents: first and second git parents; an octopus merge keeps its first
//!   two parents and records the muse IDs of the others, comma-joined, in
//!   `metadata["extra_parents"]`;
//! - the snapshot is the commit's tree, built from its first parent's
//!   manifest and stored as a delta against the first parent's snapshot;
//! - file modes 100644 and 100755 → manifest entries (the executable bit is
//!   not tracked by muse); 120000 symlinks and 160000 submodules are skipped
//!   and counted in [`ImportReport`]; paths that are not UTF-8 or not valid
//!   muse paths (`..`, a backslash, …) are skipped and counted;
//! - **refused paths** (git's `verify_path` and fsck rules): a history with
//!   a path component that is `.muse` or `.git` or an NTFS/HFS+ alias of
//!   either (`sub/.muse/HEAD`, `.MUSE/x`, `.git./x`, `git~1/x`, see
//!   [`crate::paths::validate_incoming_path`]), or with a tree listing a
//!   name twice (a path both a file and a directory), is an attack, not an
//!   encoding problem: the import fails with an error naming the path and
//!   **writes nothing** (see "Refusal" below);
//! - `refs/heads/X` → muse branch `X`; `refs/tags/X` (annotated or
//!   lightweight) → `.muse/tags/X` holding the commit ID (the tag message is
//!   not kept); other refs (remotes, notes, stash) are imported as history
//!   only; a branch or tag whose name muse refuses
//!   ([`crate::refs::validate_branch_name`]: `HEAD`, `refs/…`, `-x`, …) is
//!   imported as history only;
//! - writes go through one [`Batch`] per chunk of commits (one durability
//!   barrier each); branch refs and tags move only after the chunk holding
//!   their commit is durable.
//!
//! Refusal: before anything is written, every tree the import will read
//! (`git rev-list --objects --all --filter=blob:none`, minus the trees of
//! the previous import's tips, piped into `git cat-file --batch`) is
//! scanned for refused entry names and duplicate entries. This pre-scan,
//! not the chunked write path, is what makes a refusal leave the
//! repository byte-identical: chunks are committed (packs, records, refs,
//! `git-map`) as the stream goes, so an error found mid-stream could not be
//! undone. The stream is checked again as it is applied (a refused path is
//! an error there too, and every changed path of every manifest is checked
//! for a file/directory clash with
//! [`crate::paths::check_no_file_dir_clash_at`]); after the pre-scan that
//! can only fire on a stream git should not produce. The pre-scan reads
//! every tree once (not the blobs), a fraction of the cost of the export.
//!
//! Incremental runs: `.muse/git-map` holds `<git sha1> <muse id>` lines,
//! appended (and fsynced) after each durable chunk; a torn last line is
//! ignored on load. `.muse/git-tips` lists the git ref tips of the last
//! import; a re-run passes them to fast-export as negative revisions
//! (`^sha`) with `--reference-excluded-parents`, so only new commits are
//! exported and their already-imported parents are resolved through the map.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::atomic::{write_text_atomic, Durability};
use crate::batch::Batch;
use crate::error::{Error, IoContext, Result};
use crate::ids::blob_id;
use crate::records::{CommitRecord, SnapshotRecord};

use crate::manifest::Manifest;

/// Options of [`import_git`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Commits per write batch (one durability barrier each).
    pub chunk_commits: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { chunk_commits: 5000 }
    }
}

/// What [`import_git`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Commits imported in this run.
    pub commits: u64,
    /// Objects newly stored.
    pub blobs_written: u64,
    /// Bytes of newly stored objects.
    pub bytes: u64,
    /// Symlink entries skipped (mode 120000).
    pub symlinks_skipped: u64,
    /// Submodule entries skipped (mode 160000).
    pub submodules_skipped: u64,
    /// Paths skipped because they are not UTF-8 or not valid muse paths
    /// (a refused `.muse`/`.git` component aborts the import instead).
    pub paths_skipped: u64,
    /// Branches written.
    pub branches: u64,
    /// Tags written.
    pub tags: u64,
    /// The branch the git repository's HEAD is on (`git symbolic-ref
    /// HEAD`), when it is one of the imported branches: what a first
    /// checkout follows ([`crate::Repository::checkout_arrived`]).
    pub head_branch: Option<String>,
    /// Wall time in seconds.
    pub seconds: f64,
}

pub use crate::paths::git_map_path;
use crate::paths::git_tips_path;

/// Reads `.muse/git-map` (git sha1 → muse commit ID); a torn or malformed
/// line is ignored.
///
/// # Errors
/// [`Error::Io`].
pub fn read_git_map(root: &Path) -> Result<HashMap<String, String>> {
    let p = git_map_path(root);
    let mut map = HashMap::new();
    let f = match std::fs::File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(map),
        Err(e) => return Err(Error::io("open", &p, e)),
    };
    for line in BufReader::new(f).lines() {
        let line = line.ctx("read", &p)?;
        if let Some((g, m)) = line.split_once(' ') {
            if g.len() >= 40 && g.bytes().all(|b| b.is_ascii_hexdigit()) && crate::ids::is_valid_id(m) {
                map.insert(g.to_string(), m.to_string());
            }
        }
    }
    Ok(map)
}

fn git_err(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("git {what}: {detail}"))
}

/// A line reader over the export stream with one line of push-back.
struct Stream<R: BufRead> {
    r: R,
    back: Option<Vec<u8>>,
}

impl<R: BufRead> Stream<R> {
    /// The next line without its `\n`; `None` at end of stream.
    fn line(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(l) = self.back.take() {
            return Ok(Some(l));
        }
        let mut buf = Vec::new();
        let n = self.r.read_until(b'\n', &mut buf).map_err(|e| Error::io("read", "git fast-export", e))?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        Ok(Some(buf))
    }

    fn unread(&mut self, l: Vec<u8>) {
        self.back = Some(l);
    }

    /// Reads the payload of a `data <n>` line.
    fn data(&mut self, header: &[u8]) -> Result<Vec<u8>> {
        let n: usize = std::str::from_utf8(header.strip_prefix(b"data ").unwrap_or_default())
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| git_err("fast-export", format!("bad data line {:?}", String::from_utf8_lossy(header))))?;
        let mut buf = vec![0u8; n];
        self.r.read_exact(&mut buf).map_err(|e| Error::io("read", "git fast-export", e))?;
        Ok(buf)
    }
}

/// Unquotes a C-quoted git path (`"a\tb\303\274"`); unquoted paths are
/// returned as they are.
fn unquote(p: &[u8]) -> Vec<u8> {
    if p.len() < 2 || p[0] != b'"' || p[p.len() - 1] != b'"' {
        return p.to_vec();
    }
    let s = &p[1..p.len() - 1];
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c != b'\\' || i + 1 >= s.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = s[i + 1];
        i += 2;
        match e {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < s.len() && (b'0'..=b'7').contains(&s[i]) {
                    v = v * 8 + u32::from(s[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits `R`/`C` arguments: a quoted or space-free source, then the rest.
fn split_two_paths(rest: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if rest.first() == Some(&b'"') {
        let mut i = 1;
        while i < rest.len() {
            if rest[i] == b'\\' {
                i += 2;
                continue;
            }
            if rest[i] == b'"' {
                break;
            }
            i += 1;
        }
        let end = (i + 1).min(rest.len());
        (unquote(&rest[..end]), unquote(rest.get(end + 1..).unwrap_or_default()))
    } else {
        let sp = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        (rest[..sp].to_vec(), unquote(rest.get(sp + 1..).unwrap_or_default()))
    }
}

/// `"Name <email> <epoch> <+hhmm>"` → (`"Name <email>"`, ISO-8601 time).
fn parse_ident(s: &str) -> Option<(String, String)> {
    let gt = s.rfind('>')?;
    let who = s[..=gt].trim().to_string();
    let mut it = s[gt + 1..].split_whitespace();
    let epoch: i64 = it.next()?.parse().ok()?;
    let tz = it.next()?;
    let (sign, digits) = match tz.as_bytes().first()? {
        b'-' => (-1, &tz[1..]),
        b'+' => (1, &tz[1..]),
        _ => (1, tz),
    };
    let v: i32 = digits.parse().ok()?;
    let off = sign * ((v / 100) * 3600 + (v % 100) * 60);
    let offset = chrono::FixedOffset::east_opt(off).or_else(|| chrono::FixedOffset::east_opt(0))?;
    use chrono::TimeZone;
    let dt = offset.timestamp_opt(epoch, 0).single()?;
    Some((who, dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string()))
}

/// A 71-character `sha256:<hex>` ID in 32 bytes (the mark tables hold one
/// per blob and commit of the history, so they are kept compact).
type RawId = [u8; 32];

fn raw_id(id: &str) -> Result<RawId> {
    let hex = crate::ids::split_id(id)?.1;
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| git_err("import", format!("bad ID {id}")))?;
    }
    Ok(out)
}

fn id_string(raw: &RawId) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in raw {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Blob marks → blob IDs. `git fast-export` numbers marks 1, 2, 3, … (blobs
/// and commits share the sequence), so they index a vector: 33 bytes per
/// mark, where a hash map held ~100 (its table doubles and every page of it
/// is touched). A mark far past the end (a hand-written stream) goes to a
/// map instead, so no input makes the vector huge.
#[derive(Default)]
struct BlobMarks {
    dense: Vec<Option<RawId>>,
    sparse: HashMap<u64, RawId>,
}

impl BlobMarks {
    /// How far past the end of `dense` a mark may land and still extend it.
    const MAX_GAP: usize = 4096;

    fn insert(&mut self, mark: u64, id: RawId) {
        match usize::try_from(mark) {
            Ok(i) if i < self.dense.len() => self.dense[i] = Some(id),
            Ok(i) if i - self.dense.len() <= Self::MAX_GAP => {
                self.dense.resize(i, None);
                self.dense.push(Some(id));
            }
            _ => {
                self.sparse.insert(mark, id);
            }
        }
    }

    fn get(&self, mark: u64) -> Option<&RawId> {
        let dense = usize::try_from(mark).ok().and_then(|i| self.dense.get(i)).and_then(Option::as_ref);
        dense.or_else(|| self.sparse.get(&mark))
    }
}

/// What a commit mark stands for: the muse commit, its snapshot, its git ID.
struct CommitMark {
    muse: RawId,
    snap: RawId,
    git: Box<str>,
}

#[derive(Clone)]
struct Tip {
    muse: String,
    git: String,
}

struct Importer<'a> {
    root: &'a Path,
    opts: &'a ImportOptions,
    batch: Option<Batch>,
    /// Blob marks of the stream → blob IDs.
    blob_marks: BlobMarks,
    /// Commit marks of the stream.
    commit_marks: HashMap<u64, CommitMark>,
    /// The manifest built last, by snapshot ID.
    working: Option<(String, Manifest)>,
    old_map: HashMap<String, String>,
    /// New git-map lines of the current batch.
    pending_map: Vec<(String, String)>,
    in_chunk: usize,
    refs: BTreeMap<String, Tip>,
    dirty_refs: BTreeSet<String>,
    report: ImportReport,
}

impl Importer<'_> {
    fn batch(&mut self) -> Result<&mut Batch> {
        if self.batch.is_none() {
            self.batch = Some(Batch::begin(self.root)?);
        }
        Ok(self.batch.as_mut().expect("just made"))
    }

    /// Commits the current batch, then appends the map and moves refs.
    fn flush(&mut self) -> Result<()> {
        if let Some(b) = self.batch.take() {
            b.commit()?;
        }
        self.in_chunk = 0;
        if !self.pending_map.is_empty() {
            let p = git_map_path(self.root);
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p).ctx("open", &p)?;
            let mut text = String::new();
            for (g, m) in self.pending_map.drain(..) {
                text.push_str(&g);
                text.push(' ');
                text.push_str(&m);
                text.push('\n');
            }
            f.write_all(text.as_bytes()).ctx("append to", &p)?;
            f.sync_data().ctx("sync", &p)?;
        }
        for r in std::mem::take(&mut self.dirty_refs) {
            let tip = &self.refs[&r];
            // A name muse refuses (`HEAD`, `refs/…`, `-x`, …) is history
            // only: failing here would leave the chunk's refs half moved.
            if let Some(b) = r.strip_prefix("refs/heads/") {
                if crate::refs::validate_branch_name(b).is_ok() {
                    crate::refs::write_branch_ref(self.root, b, &tip.muse)?;
                }
            } else if let Some(t) = r.strip_prefix("refs/tags/") {
                if crate::refs::validate_branch_name(t).is_ok() {
                    write_tag(self.root, t, &tip.muse)?;
                }
            }
        }
        Ok(())
    }

    /// The manifest of snapshot `snap` (staged in the current batch or
    /// stored), a copy to build the next one from.
    fn manifest(&mut self, snap: &str) -> Result<Manifest> {
        self.batch()?.manifest_of(snap)?.ok_or_else(|| Error::NotFound { what: "snapshot", name: snap.to_string() })
    }

    /// Resolves a `:mark` or a git sha (an excluded, already imported
    /// commit) to (muse commit, snapshot, git sha).
    fn commit_ref(&self, r: &str) -> Result<(String, String, String)> {
        if let Some(n) = r.strip_prefix(':') {
            let n: u64 = n.parse().map_err(|_| git_err("fast-export", format!("bad mark {r}")))?;
            return match self.commit_marks.get(&n) {
                Some(m) => Ok((id_string(&m.muse), id_string(&m.snap), m.git.to_string())),
                _ => Err(git_err("fast-export", format!("mark {r} is not a commit"))),
            };
        }
        let muse = self.old_map.get(r).ok_or_else(|| {
            git_err("import", format!("parent {r} was excluded but is not in .muse/git-map"))
        })?;
        let rec = crate::commits::load_commit(self.root, muse)?;
        Ok((muse.clone(), rec.snapshot_id, r.to_string()))
    }

    fn set_ref(&mut self, name: &str, tip: Tip) {
        self.refs.insert(name.to_string(), tip);
        self.dirty_refs.insert(name.to_string());
    }

    fn blob(&mut self, s: &mut Stream<impl BufRead>) -> Result<()> {
        let mut mark = None;
        loop {
            let l = s.line()?.ok_or_else(|| git_err("fast-export", "stream ended inside a blob"))?;
            if let Some(m) = l.strip_prefix(b"mark :".as_slice()) {
                mark = std::str::from_utf8(m).ok().and_then(|m| m.parse::<u64>().ok());
            } else if l.starts_with(b"data ") {
                let bytes = s.data(&l)?;
                let id = blob_id(&bytes);
                if self.batch()?.write_object(&id, &bytes)? {
                    self.report.blobs_written += 1;
                    self.report.bytes += bytes.len() as u64;
                }
                if let Some(m) = mark {
                    self.blob_marks.insert(m, raw_id(&id)?);
                }
                return Ok(());
            }
            // original-oid and anything else: ignored.
        }
    }

    fn commit(&mut self, refname: &str, s: &mut Stream<impl BufRead>, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let mut mark = None;
        let mut git_oid = String::new();
        let mut author: Option<(String, String)> = None;
        let msg;
        loop {
            let l = s.line()?.ok_or_else(|| git_err("fast-export", "stream ended inside a commit"))?;
            let t = String::from_utf8_lossy(&l);
            if let Some(m) = t.strip_prefix("mark :") {
                mark = m.trim().parse::<u64>().ok();
            } else if let Some(o) = t.strip_prefix("original-oid ") {
                git_oid = o.trim().to_string();
            } else if let Some(a) = t.strip_prefix("author ") {
                author = parse_ident(a);
            } else if let Some(c) = t.strip_prefix("committer ") {
                if author.is_none() {
                    author = parse_ident(c);
                }
            } else if l.starts_with(b"data ") {
                msg = String::from_utf8_lossy(&s.data(&l)?).into_owned();
                break;
            } else if t.starts_with("gpgsig ") {
                let d = s.line()?.unwrap_or_default();
                s.data(&d)?;
            }
        }
        let (author, when) =
            author.ok_or_else(|| git_err("fast-export", format!("commit {git_oid} has no author or committer")))?;
        let mut parents: Vec<(String, String, String)> = Vec::new();
        let mut ops: Vec<Vec<u8>> = Vec::new();
        while let Some(l) = s.line()? {
            if l.is_empty() {
                break;
            }
            if let Some(r) = l.strip_prefix(b"from ".as_slice()).or_else(|| l.strip_prefix(b"merge ".as_slice())) {
                parents.push(self.commit_ref(String::from_utf8_lossy(r).trim())?);
            } else {
                ops.push(l);
            }
        }
        // The first parent's manifest: the one built last (a linear
        // history) is reused in place, any other is read.
        let mut manifest: Manifest = match parents.first() {
            Some((_, snap, _)) => match self.working.take() {
                Some((id, m)) if id == *snap => m,
                _ => {
                    let snap = snap.clone();
                    self.manifest(&snap)?
                }
            },
            None => Manifest::new(),
        };
        let mut changed = BTreeSet::new();
        for op in ops {
            self.apply(&mut manifest, &mut changed, &op)?;
        }
        // No path both a file and a directory (git's index rule): the
        // parent's manifest is clash-free, so only the changed paths can
        // clash. Checked after all of the commit's ops (see `D` above).
        for p in changed.iter().filter(|p| manifest.contains_key(*p)) {
            crate::paths::check_no_file_dir_clash_at(&manifest, p)
                .map_err(|e| git_err("import", format!("commit {git_oid}: {e}")))?;
        }
        let rec = SnapshotRecord::new(manifest);
        let snap_id = rec.snapshot_id.clone();
        let base = parents.first().map(|p| p.1.clone());
        self.batch()?.write_computed_snapshot(&rec, base.as_deref(), &changed)?;
        self.working = Some((snap_id.clone(), rec.manifest));
        let mut c = CommitRecord {
            branch: short_ref(refname).to_string(),
            snapshot_id: snap_id.clone(),
            message: msg,
            committed_at: when,
            parent_commit_id: parents.first().map(|p| p.0.clone()),
            parent2_commit_id: parents.get(1).map(|p| p.0.clone()),
            author,
            ..CommitRecord::default()
        };
        if !git_oid.is_empty() {
            c.metadata.insert("git_oid".into(), git_oid.clone());
        }
        if parents.len() > 2 {
            let extra: Vec<&str> = parents[2..].iter().map(|p| p.0.as_str()).collect();
            c.metadata.insert("extra_parents".into(), extra.join(","));
        }
        c.commit_id = c.compute_id();
        self.batch()?.write_commit(&c)?;
        if let Some(m) = mark {
            let cm = CommitMark { muse: raw_id(&c.commit_id)?, snap: raw_id(&snap_id)?, git: git_oid.clone().into() };
            self.commit_marks.insert(m, cm);
        }
        if !git_oid.is_empty() {
            self.pending_map.push((git_oid.clone(), c.commit_id.clone()));
        }
        self.set_ref(refname, Tip { muse: c.commit_id, git: git_oid });
        self.report.commits += 1;
        progress(self.report.commits);
        self.in_chunk += 1;
        if self.in_chunk >= self.opts.chunk_commits.max(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// The muse path of a stream path: `Ok(None)` (counted as skipped)
    /// when it is not UTF-8 or not a valid muse path; an error when a
    /// component is `.muse` or `.git` or an alias of either (git's
    /// `verify_path`; the pre-scan refuses these before anything is
    /// written, this is the second line).
    fn path(&mut self, raw: &[u8]) -> Result<Option<String>> {
        let p = unquote(raw);
        let Ok(s) = String::from_utf8(p) else {
            self.report.paths_skipped += 1;
            return Ok(None);
        };
        let reserved = |c: &str| crate::paths::muse_alias_reason(c).or_else(|| crate::paths::git_alias_reason(c));
        if s.split('/').any(|c| reserved(c).is_some()) {
            crate::paths::validate_incoming_path(&s)?;
        }
        if crate::paths::validate_rel_path(&s).is_err() {
            self.report.paths_skipped += 1;
            return Ok(None);
        }
        Ok(Some(s))
    }

    fn apply(&mut self, m: &mut Manifest, changed: &mut BTreeSet<String>, op: &[u8]) -> Result<()> {
        if op == b"deleteall" {
            changed.extend(std::mem::take(m).into_keys());
        } else if let Some(rest) = op.strip_prefix(b"M ".as_slice()) {
            let mut parts = rest.splitn(3, |&b| b == b' ');
            let (Some(mode), Some(dref), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(git_err("fast-export", format!("bad line {:?}", String::from_utf8_lossy(op))));
            };
            match mode {
                b"100644" | b"100755" | b"644" | b"755" => {
                    let dref = String::from_utf8_lossy(dref);
                    let id = match dref.strip_prefix(':').and_then(|n| n.parse::<u64>().ok()).and_then(|n| self.blob_marks.get(n)) {
                        Some(raw) => id_string(raw),
                        _ => return Err(git_err("fast-export", format!("unsupported blob reference {dref}"))),
                    };
                    if let Some(p) = self.path(path)? {
                        // A file replaces a directory of that name, as in git.
                        let prefix = format!("{p}/");
                        let under: Vec<String> = m.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()).collect();
                        for k in under {
                            m.remove(&k);
                            changed.insert(k);
                        }
                        changed.insert(p.clone());
                        m.insert(p, id);
                    }
                }
                b"120000" => {
                    self.report.symlinks_skipped += 1;
                    if let Some(p) = self.path(path)? {
                        m.remove(&p);
                        changed.insert(p);
                    }
                }
                b"160000" => {
                    self.report.submodules_skipped += 1;
                    if let Some(p) = self.path(path)? {
                        m.remove(&p);
                        changed.insert(p);
                    }
                }
                other => {
                    return Err(git_err("fast-export", format!("unsupported mode {}", String::from_utf8_lossy(other))))
                }
            }
        } else if let Some(rest) = op.strip_prefix(b"D ".as_slice()) {
            if let Some(p) = self.path(rest)? {
                // `D a` deletes the file `a` if there is one, else the
                // directory `a/` as the parent had it. fast-export lists
                // deeper paths first, so a commit turning the file (or
                // symlink) `a` into a directory is `M a/b` then `D a`: that
                // `D` is the old entry's and must not take the new `a/b`
                // with it (git fast-import does, losing `a/b`).
                if m.remove(&p).is_none() {
                    let prefix = format!("{p}/");
                    let under: Vec<String> = m
                        .range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .filter(|(k, _)| !changed.contains(*k))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in under {
                        m.remove(&k);
                        changed.insert(k);
                    }
                }
                changed.insert(p);
            }
        } else if let Some((rest, rename)) =
            op.strip_prefix(b"R ".as_slice()).map(|r| (r, true)).or_else(|| op.strip_prefix(b"C ".as_slice()).map(|r| (r, false)))
        {
            let (src, dst) = split_two_paths(rest);
            let (Some(src), Some(dst)) = (self.path(&src)?, self.path(&dst)?) else { return Ok(()) };
            let prefix = format!("{src}/");
            let moved: Vec<(String, String)> = m
                .iter()
                .filter(|(k, _)| **k == src || k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in moved {
                let to = format!("{dst}{}", &k[src.len()..]);
                if rename {
                    m.remove(&k);
                    changed.insert(k);
                }
                changed.insert(to.clone());
                m.insert(to, v);
            }
        } else {
            return Err(git_err("fast-export", format!("unsupported file command {:?}", String::from_utf8_lossy(op))));
        }
        Ok(())
    }
}

fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/heads/").or_else(|| r.strip_prefix("refs/tags/")).unwrap_or(r)
}

/// Writes `.muse/tags/<name>` = `<commit id>\n`.
fn write_tag(root: &Path, name: &str, commit: &str) -> Result<()> {
    crate::refs::update_tag(root, name, None, Some(commit))
}

/// Imports the history of the git repository at `git_dir` into the muse
/// repository at `root` (see the module docs for the mapping rules).
/// `progress` is called with the number of commits imported so far.
///
/// A history holding a path muse refuses (a `.muse` or `.git` component or
/// alias, a path both a file and a directory: see the module docs) is
/// refused before anything is written: the repository is left
/// byte-identical.
///
/// # Errors
/// [`Error::InvalidPath`] naming the first refused path (a `.muse` or
/// `.git` component or alias, git's `verify_path`);
/// [`Error::InvalidInput`] for a tree listing a name twice (naming the
/// path), when git fails or the stream is not understood; store errors.
pub fn import_git(root: &Path, git_dir: &Path, opts: &ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportReport> {
    let start = Instant::now();
    // Chunks are committed as the import goes and refs and tags move after
    // them: the write lock (shared) for the whole import keeps `gc --prune`
    // from seeing an imported commit before its ref exists.
    let _write_lock = crate::lock::writer_lock(root)?;
    let old_map = read_git_map(root)?;
    // Tips of the previous import that git still has: excluded this time.
    let mut negatives = Vec::new();
    if let Ok(text) = std::fs::read_to_string(git_tips_path(root)) {
        let tips: Vec<&str> = text.lines().filter(|l| old_map.contains_key(*l)).collect();
        negatives = existing_commits(git_dir, &tips)?;
    }
    // Refused paths abort the import here, before anything is written.
    check_git_trees(git_dir, &negatives)?;
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(git_dir).args([
        "-c",
        "core.quotepath=false",
        "fast-export",
        "--all",
        "--reencode=yes",
        "--signed-tags=strip",
        "--tag-of-filtered-object=drop",
        "--show-original-ids",
        "--use-done-feature",
        "--reference-excluded-parents",
    ]);
    for n in &negatives {
        cmd.arg(format!("^{n}"));
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| git_err("fast-export", format!("cannot run git: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut imp = Importer {
        root,
        opts,
        batch: None,
        blob_marks: BlobMarks::default(),
        commit_marks: HashMap::new(),
        working: None,
        old_map,
        pending_map: Vec::new(),
        in_chunk: 0,
        refs: BTreeMap::new(),
        dirty_refs: BTreeSet::new(),
        report: ImportReport::default(),
    };
    let mut s = Stream { r: BufReader::with_capacity(1 << 20, stdout), back: None };
    let result = run_stream(&mut imp, &mut s, progress);
    drop(s);
    let status = child.wait().map_err(|e| git_err("fast-export", e))?;
    let errs = err_thread.join().unwrap_or_default();
    result?;
    if !status.success() {
        return Err(git_err("fast-export", format!("failed ({status}): {}", errs.trim())));
    }
    imp.flush()?;
    // Tips for the next run: this run's ref tips and the previous ones.
    let mut tips: BTreeSet<String> = negatives.into_iter().collect();
    tips.extend(imp.refs.values().map(|t| t.git.clone()).filter(|g| !g.is_empty()));
    let mut text = String::new();
    for t in &tips {
        text.push_str(t);
        text.push('\n');
    }
    write_text_atomic(&git_tips_path(root), &text, Durability::Full)?;
    imp.report.branches = imp.refs.keys().filter(|r| r.starts_with("refs/heads/")).count() as u64;
    imp.report.tags = imp.refs.keys().filter(|r| r.starts_with("refs/tags/")).count() as u64;
    imp.report.head_branch = git_head_branch(git_dir)
        .filter(|b| imp.refs.contains_key(&format!("refs/heads/{b}")) || crate::refs::read_branch_ref(root, b).ok().flatten().is_some());
    imp.report.seconds = start.elapsed().as_secs_f64();
    Ok(imp.report)
}

/// The branch `git_dir`'s HEAD is on, `None` when detached or unreadable.
fn git_head_branch(git_dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(git_dir)
        .args(["symbolic-ref", "-q", "--short", "HEAD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let b = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && crate::refs::validate_branch_name(&b).is_ok()).then_some(b)
}

fn run_stream(imp: &mut Importer<'_>, s: &mut Stream<impl BufRead>, progress: &mut dyn FnMut(u64)) -> Result<()> {
    while let Some(l) = s.line()? {
        let t = String::from_utf8_lossy(&l).into_owned();
        if t.is_empty() || t.starts_with("feature ") || t.starts_with("option ") || t.starts_with('#') {
            continue;
        }
        if t == "done" {
            break;
        }
        if t == "blob" {
            imp.blob(s)?;
        } else if let Some(r) = t.strip_prefix("commit ") {
            imp.commit(r.trim(), s, progress)?;
        } else if let Some(r) = t.strip_prefix("reset ") {
            let r = r.trim().to_string();
            if let Some(next) = s.line()? {
                match next.strip_prefix(b"from ".as_slice()) {
                    Some(f) => {
                        let f = String::from_utf8_lossy(f).trim().to_string();
                        if let Ok((muse, _, git)) = imp.commit_ref(&f) {
                            imp.set_ref(&r, Tip { muse, git });
                        }
                    }
                    None => s.unread(next),
                }
            }
        } else if let Some(name) = t.strip_prefix("tag ") {
            let name = name.trim().to_string();
            let mut target = None;
            loop {
                let l = s.line()?.ok_or_else(|| git_err("fast-export", "stream ended inside a tag"))?;
                if let Some(f) = l.strip_prefix(b"from ".as_slice()) {
                    target = Some(String::from_utf8_lossy(f).trim().to_string());
                } else if l.starts_with(b"data ") {
                    s.data(&l)?;
                    break;
                }
            }
            // A tag of a blob or tree has no commit: not kept.
            if let Some(Ok((muse, _, git))) = target.map(|f| imp.commit_ref(&f)) {
                imp.set_ref(&format!("refs/tags/{name}"), Tip { muse, git });
            }
        } else {
            return Err(git_err("fast-export", format!("unsupported command {t:?}")));
        }
    }
    Ok(())
}

/// The subset of `shas` that name commits in the git repository.
fn existing_commits(git_dir: &Path, shas: &[&str]) -> Result<Vec<String>> {
    if shas.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(git_dir)
        .args(["cat-file", "--batch-check"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| git_err("cat-file", e))?;
    let mut input = String::new();
    for s in shas {
        input.push_str(s);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| git_err("cat-file", e))?;
    let _ = writer.join();
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split(' ');
            match (it.next(), it.next()) {
                (Some(sha), Some("commit")) => Some(sha.to_string()),
                _ => None,
            }
        })
        .collect())
}

/// A child process killed and reaped when dropped (an early return must
/// not leave a `git` running or a zombie behind).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pre-scan of [`import_git`] (git's `verify_path` and fsck
/// `duplicateEntries` rules, applied before anything is written): every
/// tree reachable from every ref and not from `negatives` (the previous
/// import's tips, whose trees were scanned then) is read, and each entry
/// name checked.
///
/// Refused: a name that is `.muse` or `.git` or an NTFS/HFS+ alias of
/// either ([`crate::paths::muse_alias_reason`],
/// [`crate::paths::git_alias_reason`]), whatever the entry's mode; a name
/// listed twice in one tree (a path that would be both a file and a
/// directory, or two files). Names that are not UTF-8, or not valid muse
/// path components, are left to the importer, which skips them.
///
/// `git rev-list --objects --all --filter=blob:none` (commits and trees,
/// each tree with the path it was first reached by) is piped straight into
/// `git cat-file --batch`, which echoes that path (`%(rest)`); blobs are
/// never read.
fn check_git_trees(git_dir: &Path, negatives: &[String]) -> Result<()> {
    let mut revs = Command::new("git");
    revs.arg("-C").arg(git_dir).args(["rev-list", "--objects", "--all", "--filter=blob:none"]);
    for n in negatives {
        revs.arg(format!("^{n}"));
    }
    let mut revs = Reaped(
        revs.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| git_err("rev-list", format!("cannot run git: {e}")))?,
    );
    let list = revs.0.stdout.take().expect("piped");
    let mut rev_err = revs.0.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = rev_err.read_to_string(&mut s);
        s
    });
    let mut cat = Reaped(
        Command::new("git")
            .arg("-C")
            .arg(git_dir)
            .args(["cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"])
            .stdin(Stdio::from(list))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| git_err("cat-file", format!("cannot run git: {e}")))?,
    );
    let mut out = BufReader::with_capacity(1 << 16, cat.0.stdout.take().expect("piped"));
    let scanned = scan_trees(&mut out);
    drop(out);
    let status = revs.0.wait().map_err(|e| git_err("rev-list", e))?;
    let errs = err_thread.join().unwrap_or_default();
    if !status.success() {
        return Err(git_err("rev-list", format!("failed ({status}): {}", errs.trim())));
    }
    scanned
}

/// Reads `git cat-file --batch` answers (header `<oid> <type> <size>
/// <path>`) to the end, checking every tree (see [`check_git_trees`]).
fn scan_trees(out: &mut impl BufRead) -> Result<()> {
    let mut header = Vec::new();
    let mut body = Vec::new();
    loop {
        header.clear();
        if out.read_until(b'\n', &mut header).map_err(|e| git_err("cat-file", e))? == 0 {
            return Ok(());
        }
        if header.last() == Some(&b'\n') {
            header.pop();
        }
        let h = String::from_utf8_lossy(&header).into_owned();
        let mut it = h.splitn(4, ' ');
        let (oid, kind, size, at) = (it.next(), it.next(), it.next(), it.next().unwrap_or(""));
        // `<input> missing` / `ambiguous`: a line rev-list split (a path
        // holding a newline); nothing to read.
        let (Some(oid), Some(kind), Some(size)) = (oid, kind, size) else { continue };
        let size: usize = size.parse().map_err(|_| git_err("cat-file", format!("unexpected answer {h:?}")))?;
        body.clear();
        body.resize(size + 1, 0); // the content and its trailing LF
        out.read_exact(&mut body).map_err(|e| git_err("cat-file", e))?;
        body.pop();
        if kind == "tree" {
            check_tree(oid, at, &body)?;
        }
    }
}

/// Checks the entries of one raw tree object (`<mode> SP <name> NUL <raw
/// hash>`, the hash as long as `oid`'s: SHA-1 or SHA-256 repositories);
/// `at` is the tree's path (empty for a root tree).
fn check_tree(oid: &str, at: &str, body: &[u8]) -> Result<()> {
    let full = |name: &str| if at.is_empty() { name.to_string() } else { format!("{at}/{name}") };
    let malformed = || git_err("cat-file", format!("malformed tree {oid}"));
    let hash_len = oid.len() / 2;
    let mut entries: Vec<(&[u8], bool)> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(malformed)?;
        let sp = rest[..nul].iter().position(|&b| b == b' ').ok_or_else(malformed)?;
        let next = rest.get(nul + 1 + hash_len..).ok_or_else(malformed)?;
        let (mode, name) = (&rest[..sp], &rest[sp + 1..nul]);
        if let Ok(n) = std::str::from_utf8(name) {
            if let Some(reason) = crate::paths::muse_alias_reason(n).or_else(|| crate::paths::git_alias_reason(n)) {
                return Err(Error::InvalidPath { path: full(n).chars().take(200).collect(), reason });
            }
        }
        entries.push((name, mode == b"40000" || mode == b"040000"));
        rest = next;
    }
    // A name listed twice. git sorts a tree `a` as `a/`, after a file
    // `a.b`, so the two `a` of a file/directory clash need not be adjacent:
    // sort by name first.
    entries.sort_unstable();
    for w in entries.windows(2) {
        let ((a, a_tree), (b, b_tree)) = (w[0], w[1]);
        if a == b {
            let path = full(&String::from_utf8_lossy(a));
            let how = if a_tree != b_tree {
                format!("the paths {path:?} and {path:?}/… would be both a file and a directory")
            } else {
                "two entries for one path".to_string()
            };
            return Err(git_err(
                "import",
                format!("tree {oid} lists {path:?} twice ({how}; git fsck: duplicateEntries); nothing was imported"),
            ));
        }
    }
    Ok(())
}

/// A long-running `git cat-file --batch` that hashes blobs with SHA-256.
struct CatFile {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    cache: HashMap<String, String>,
}

impl CatFile {
    fn new(git_dir: &Path) -> Result<CatFile> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(git_dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| git_err("cat-file", e))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(CatFile { child, stdin, stdout, cache: HashMap::new() })
    }

    fn blob_id(&mut self, sha: &str) -> Result<String> {
        if let Some(id) = self.cache.get(sha) {
            return Ok(id.clone());
        }
        writeln!(self.stdin, "{sha}").and_then(|_| self.stdin.flush()).map_err(|e| git_err("cat-file", e))?;
        let mut header = String::new();
        self.stdout.read_line(&mut header).map_err(|e| git_err("cat-file", e))?;
        let size: u64 = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| git_err("cat-file", format!("unexpected answer {header:?}")))?;
        let (id, n) = crate::ids::blob_id_reader((&mut self.stdout).take(size)).map_err(|e| git_err("cat-file", e))?;
        if n != size {
            return Err(git_err("cat-file", "short read"));
        }
        let mut lf = [0u8; 1];
        self.stdout.read_exact(&mut lf).map_err(|e| git_err("cat-file", e))?;
        self.cache.insert(sha.to_string(), id.clone());
        Ok(id)
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks every commit in `.muse/git-map`: its muse manifest must equal the
/// git tree read independently (`git ls-tree -r -z`, regular files only,
/// each blob ID the SHA-256 of `git cat-file` bytes; paths that the import
/// skips are skipped here too). Returns the problems found (empty when the
/// import is exact).
///
/// # Errors
/// [`Error::InvalidInput`] when git cannot be run; store errors.
pub fn verify_git_import(root: &Path, git_dir: &Path) -> Result<Vec<String>> {
    let map = read_git_map(root)?;
    let mut problems = Vec::new();
    let mut cat = CatFile::new(git_dir)?;
    let mut entries: Vec<(&String, &String)> = map.iter().collect();
    entries.sort();
    for (sha, muse) in entries {
        let manifest = match crate::commits::read_commit(root, muse) {
            Ok(Some(c)) => match crate::snapshots::read_snapshot(root, &c.snapshot_id) {
                Ok(Some(s)) => s.manifest,
                Ok(None) => {
                    problems.push(format!("{sha}: snapshot {} of {muse} is missing", c.snapshot_id));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{sha}: snapshot of {muse}: {e}"));
                    continue;
                }
            },
            Ok(None) => {
                problems.push(format!("{sha}: muse commit {muse} is missing"));
                continue;
            }
            Err(e) => {
                problems.push(format!("{sha}: muse commit {muse}: {e}"));
                continue;
            }
        };
        let out = Command::new("git")
            .arg("-C")
            .arg(git_dir)
            .args(["ls-tree", "-r", "-z", "--full-tree", sha])
            .output()
            .map_err(|e| git_err("ls-tree", e))?;
        if !out.status.success() {
            problems.push(format!("{sha}: git ls-tree failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
            continue;
        }
        let mut expected = Manifest::new();
        for rec in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let Some(tab) = rec.iter().position(|&b| b == b'\t') else { continue };
            let meta = String::from_utf8_lossy(&rec[..tab]);
            let mut it = meta.split(' ');
            let (Some(mode), Some(kind), Some(oid)) = (it.next(), it.next(), it.next()) else { continue };
            if kind != "blob" || !(mode == "100644" || mode == "100755") {
                continue;
            }
            let Ok(path) = String::from_utf8(rec[tab + 1..].to_vec()) else { continue };
            if crate::paths::validate_rel_path(&path).is_err() {
                continue;
            }
            expected.insert(path, cat.blob_id(oid)?);
        }
        if expected != manifest {
            let mut diffs = Vec::new();
            for (p, id) in &expected {
                match manifest.get(p) {
                    None => diffs.push(format!("missing {p}")),
                    Some(m) if m != id => diffs.push(format!("differs {p}")),
                    _ => {}
                }
            }
            for p in manifest.keys().filter(|p| !expected.contains_key(*p)) {
                diffs.push(format!("extra {p}"));
            }
            diffs.truncate(5);
            problems.push(format!("{sha} ({muse}): {}", diffs.join(", ")));
        }
    }
    Ok(problems)
}

impl crate::Repository {
    /// Imports the git repository `git_dir` into this one ([`import_git`]:
    /// incremental, refuses hostile paths before writing). Filesystem store
    /// only.
    ///
    /// # Errors
    /// As [`import_git`]; [`Error::InvalidInput`] on another store.
    pub fn import_git(&self, git_dir: &Path, opts: &ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportReport> {
        import_git(self.fs_store("import-git")?.root(), git_dir, opts, progress)
    }

    /// Checks every imported commit against git's tree
    /// ([`verify_git_import`]); returns the problems found.
    ///
    /// # Errors
    /// As [`verify_git_import`]; [`Error::InvalidInput`] on another store.
    pub fn verify_git_import(&self, git_dir: &Path) -> Result<Vec<String>> {
        verify_git_import(self.fs_store("import-git --verify")?.root(), git_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_marks_dense_sparse_and_redefined() {
        let mut m = BlobMarks::default();
        m.insert(1, [1; 32]);
        m.insert(3, [3; 32]);
        m.insert(u64::MAX, [9; 32]); // far away: not a giant vector
        m.insert(1_000_000, [7; 32]);
        assert!(m.dense.len() <= 4);
        assert_eq!(m.get(1), Some(&[1; 32]));
        assert_eq!(m.get(2), None);
        assert_eq!(m.get(3), Some(&[3; 32]));
        assert_eq!(m.get(u64::MAX), Some(&[9; 32]));
        assert_eq!(m.get(1_000_000), Some(&[7; 32]));
        m.insert(3, [4; 32]); // redefined: the last definition wins
        assert_eq!(m.get(3), Some(&[4; 32]));
        for k in 4..=5000 {
            m.insert(k, [(k % 251) as u8; 32]);
        }
        assert_eq!(m.get(5000), Some(&[(5000 % 251) as u8; 32]));
        assert_eq!(m.get(0), None);
    }

    #[test]
    fn unquotes_c_style_paths() {
        assert_eq!(unquote(b"\"a b\""), b"a b");
        assert_eq!(unquote(b"\"\\303\\274 \\\"q\\\" \\t\""), "ü \"q\" \t".as_bytes());
        assert_eq!(unquote(b"plain"), b"plain");
        assert_eq!(split_two_paths(b"\"a b\" c"), (b"a b".to_vec(), b"c".to_vec()));
        assert_eq!(split_two_paths(b"a \"c d\""), (b"a".to_vec(), b"c d".to_vec()));
    }

    #[test]
    fn idents_become_iso_times() {
        let (who, when) = parse_ident("A U Thor <a@x> 1704160800 +0100").unwrap();
        assert_eq!(who, "A U Thor <a@x>");
        assert_eq!(when, "2024-01-02T03:00:00+01:00");
        assert_eq!(parse_ident("B <b> 0 +0000").unwrap().1, "1970-01-01T00:00:00+00:00");
        assert_eq!(parse_ident("B <b> 0 -0530").unwrap().1, "1969-12-31T18:30:00-05:30");
    }
}
