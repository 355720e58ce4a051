//! Importing a git history (`muse import-git`), and checking an import.
//!
//! History is read from git's own documented export stream, never from a
//! home-made object parser: `git fast-export --all` is spawned and its
//! stdout parsed incrementally (the stream is never held in memory; one blob
//! at a time is).
//!
//! Mapping rules (one git commit = one muse commit, nothing git has is
//! dropped):
//!
//! - every blob → one object (`blob_id` of its bytes; written once, the
//!   batch skips stored IDs). A commit's blobs arrive before it, so they
//!   wait (up to 64 MiB) until its `M` lines tell their paths; each is
//!   then written with the blob its path held in the first parent as its
//!   delta-base hint;
//! - every commit → a [`CommitRecord`]. The stream is read with
//!   `--reencode=no`: git's bytes, not a conversion;
//!   - `author` = `"Name <email>"` of git's author; **when git's committer
//!     differs from the author** (name, email, date or offset) a second
//!     line follows: `"\ncommitter Name <email> <epoch> <tz>"`, git's raw
//!     committer identity (git identities never hold a newline, so the
//!     field splits unambiguously: [`split_author`]). The author field is
//!     part of SPEC §2's `hash_commit`, so two git commits differing only
//!     in their committer get two muse IDs;
//!   - `committed_at` = the git *author* time as ISO-8601 with its own
//!     offset (`2024-01-02T03:04:05+01:00`, Python `isoformat`); when that
//!     does not give git's `<epoch> <tz>` back (`-0000`, an offset out of
//!     range) the raw value is kept in `metadata["git_author_date"]`;
//!   - `message` = the message; `branch` = the short name of the ref git
//!     exported it under; `metadata["git_oid"]` = the git commit ID;
//!   - `metadata["git_encoding"]` = the commit's `encoding` header, when
//!     it has one (`ISO-8859-1`, …);
//!   - a message, author or committer whose bytes are not UTF-8 is stored
//!     byte for byte as the characters U+0000–U+00FF (ISO-8859-1: the
//!     right text for Latin-1 histories, lossless for any other) and named
//!     in `metadata["git_latin1"]` (`"author,message"`);
//!     [`git_commit_fields`] turns every field back into git's bytes;
//!   - last resort: two git commits that still map to one identity (they
//!     differ only in what the mapping does not carry: a signature, an
//!     `encoding` header) get a third author line `"\ngit-oid <sha>"` on
//!     the second one, so no two git commits ever collapse;
//! - parents: the first and second git parents are `parent_commit_id` and
//!   `parent2_commit_id`; an octopus merge records the muse IDs of the
//!   others, comma-joined, in `metadata["extra_parents"]`, and **every
//!   parent takes part in the ID** ([`CommitRecord::compute_id`] hashes
//!   [`CommitRecord::all_parents`]; records of older imports, hashed over
//!   two parents, still verify);
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
//! - refs: `refs/heads/X` → muse branch `X` (see "Re-import");
//!   `refs/tags/X` of a commit (annotated or lightweight) → `.muse/tags/X`
//!   holding the commit ID, a revision (`muse log X`) and a gc root, never
//!   overwriting a muse tag of that name that names another commit (git
//!   fetch's tag rule, counted in [`ImportReport::tags_kept`]); every
//!   annotated tag (of a commit or of a blob, such as git's
//!   `junio-gpg-pub`) is also recorded with its tagger and message in
//!   `.muse/git-tags.json` ([`read_git_tags`]); the blobs tags name are gc
//!   roots ([`git_tag_blob_roots`]); `refs/remotes/R/B` → the muse
//!   remote-tracking ref `R/B`; any other ref (`refs/notes/commits`,
//!   `refs/stash`, `refs/pull/1/head`) → the remote-tracking ref `git/<rest>`
//!   ([`remote_ref_name`]), so gc keeps everything git reaches; a name muse
//!   refuses ([`crate::refs::validate_branch_name`]: `HEAD`, `refs/…`,
//!   `-x`, …) is imported as history only;
//! - writes go through one [`Batch`] per chunk of commits (one durability
//!   barrier each); branch and remote-tracking refs move only after the
//!   chunk holding their commit is durable, tags at the end (fast-export
//!   names intermediate commits after tags).
//!
//! Re-import (git fetch's fast-forward rule): before anything is written,
//! every git branch is checked against the muse branch it would move.
//! A new branch is created; a muse branch at an imported commit that git's
//! branch descends from is fast-forwarded; a muse branch already at git's
//! tip, or ahead of it (local commits on top of it), is left alone. Any
//! other case (local commits and git moved on, or git rewrote the branch)
//! refuses the whole import with an error naming the branches, **nothing
//! written**; with a rename prefix ([`import_git_with`], `muse import-git
//! --rename-conflicting git/`) git's branch `b` is imported as muse
//! branch `git/b` instead (itself new or a fast-forward). Branches move by
//! compare-and-swap against what the check saw. With the porcelain
//! ([`crate::Repository::import_git_with`]: the CLI, Python) the checked-out branch
//! moves last with its working tree ([`crate::Repository::update_branch`]):
//! a dirty working tree or stage refuses the import up front; if the tree
//! changed during the import, the branch stays and git's tip is kept as
//! the remote-tracking ref `git/<branch>` ([`ImportReport::head_refused`]).
//! The path-level [`import_git_with`] is plumbing and leaves the working
//! tree alone (as `git fetch --update-head-ok`).
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::atomic::{write_text_atomic, Durability};
use crate::batch::Batch;
use crate::error::{Error, IoContext, Result};
use crate::ids::blob_id;
use crate::records::{now_iso, CommitRecord};

use crate::manifest::{Manifest, Shared, SharedView};

/// Options of [`import_git`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Commits per write batch (one durability barrier each).
    pub chunk_commits: usize,
    /// How many of the manifests built last the import keeps at hand
    /// (default [`MANIFEST_CACHE`]); a commit whose first parent's manifest
    /// is not among them reads it back from the store. The result is the
    /// same whatever the value; only the time changes.
    pub manifest_cache: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { chunk_commits: 5000, manifest_cache: MANIFEST_CACHE }
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
    /// Tags written (commit tags into `.muse/tags/`; tags of blobs are
    /// only recorded in `.muse/git-tags.json`, see [`read_git_tags`]).
    pub tags: u64,
    /// Git tags not written because a muse tag of that name already names
    /// another commit (git fetch's "would clobber existing tag" rule).
    pub tags_kept: u64,
    /// Remote-tracking refs written (`refs/remotes/<r>/<b>` → `<r>/<b>`,
    /// other refs `refs/<x>` → `git/<x>`).
    pub remote_refs: u64,
    /// Git branches imported under another muse name
    /// (`--rename-conflicting`): `(git branch, muse branch)`.
    pub renamed: Vec<(String, String)>,
    /// Muse branches left where they were because they are ahead of git's
    /// branch of that name (local commits on top of git's tip).
    pub kept_ahead: Vec<String>,
    /// The checked-out branch, when the import moved it (the working tree
    /// was updated with it, [`crate::Repository::update_branch`]).
    pub head_moved: Option<String>,
    /// A warning when the checked-out branch could not be moved at the end
    /// (its working tree changed during the import): git's tip was stored
    /// as the remote-tracking ref `git/<branch>` instead.
    pub head_refused: Option<String>,
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

/// The raw date of a git identity line (`"Name <email> <epoch> <tz>"` →
/// `"<epoch> <tz>"`), exactly as git wrote it.
fn ident_date(s: &str) -> &str {
    s.rfind('>').map_or("", |gt| s[gt + 1..].trim())
}

/// Git's `<epoch> <+hhmm>` of an ISO-8601 time with offset (the inverse of
/// the importer's `committed_at` mapping); `None` when `iso` does not
/// parse.
///
/// `2024-01-02T03:00:00+01:00` → `1704160800 +0100`.
pub fn iso_to_git_date(iso: &str) -> Option<String> {
    let dt = chrono::DateTime::parse_from_rfc3339(iso).ok()?;
    let off = dt.offset().local_minus_utc();
    let (sign, a) = if off < 0 { ('-', -off) } else { ('+', off) };
    Some(format!("{} {sign}{:02}{:02}", dt.timestamp(), a / 3600, (a % 3600) / 60))
}

/// Bytes as text: UTF-8 when they are; otherwise each byte mapped 1:1 to
/// the character U+0000–U+00FF (ISO-8859-1), with `field` added to
/// `latin1` so that [`latin1_bytes`] gives the exact bytes back.
fn text_of(bytes: Vec<u8>, field: &'static str, latin1: &mut Vec<&'static str>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            latin1.push(field);
            e.into_bytes().iter().map(|&b| char::from(b)).collect()
        }
    }
}

/// The bytes of a field stored by the ISO-8859-1 mapping (see
/// [`GitCommitFields`]): each character must be U+0000–U+00FF.
///
/// # Errors
/// [`Error::Corrupt`] for a character above U+00FF.
pub fn latin1_bytes(s: &str) -> Result<Vec<u8>> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| Error::corrupt("ISO-8859-1 mapped field", "", format!("character {c:?} is above U+00FF"))))
        .collect()
}

/// The separator of the parts of an imported commit's `author` field (git
/// identities never hold a newline: git strips it).
const AUTHOR_SEP: char = '\n';

/// The parts of an imported commit's `author` field: the author
/// (`"Name <email>"`), then, when git's committer differs from its author
/// in name, email, date or offset, the committer as git's raw identity
/// (`"Name <email> <epoch> <tz>"`), then, only when two git commits would
/// otherwise get one muse ID, the git commit ID (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorField<'a> {
    /// `"Name <email>"`.
    pub author: &'a str,
    /// git's committer identity line after `committer `, when it differs
    /// from the author's.
    pub committer: Option<&'a str>,
    /// The git commit ID, when it had to disambiguate.
    pub git_oid: Option<&'a str>,
}

/// Splits an imported commit's `author` field (see [`AuthorField`]); a
/// field without the separator is the author alone (any commit made by
/// muse itself).
pub fn split_author(author: &str) -> AuthorField<'_> {
    let mut it = author.split(AUTHOR_SEP);
    let mut f = AuthorField { author: it.next().unwrap_or(""), committer: None, git_oid: None };
    for part in it {
        if let Some(c) = part.strip_prefix("committer ") {
            f.committer = Some(c);
        } else if let Some(g) = part.strip_prefix("git-oid ") {
            f.git_oid = Some(g);
        }
    }
    f
}

/// A git commit's header fields and message, as git stored them, rebuilt
/// from an imported [`CommitRecord`] ([`git_commit_fields`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommitFields {
    /// The `author` header's value: `Name <email> <epoch> <tz>`, git's bytes.
    pub author: Vec<u8>,
    /// The `committer` header's value, git's bytes.
    pub committer: Vec<u8>,
    /// The `encoding` header's value, when the commit had one.
    pub encoding: Option<String>,
    /// The message, git's bytes.
    pub message: Vec<u8>,
    /// The git commit ID (`metadata["git_oid"]`).
    pub git_oid: Option<String>,
}

/// Rebuilds git's author, committer, encoding and message bytes of an
/// imported commit (the inverse of the import's mapping, see the module
/// docs): the author's date comes from `metadata["git_author_date"]` when
/// present, else from `committed_at`; fields listed in
/// `metadata["git_latin1"]` are turned back into bytes 1:1.
///
/// # Errors
/// [`Error::Corrupt`] when `committed_at` does not parse or a mapped field
/// holds a character above U+00FF.
pub fn git_commit_fields(c: &CommitRecord) -> Result<GitCommitFields> {
    let latin1: Vec<&str> = c.metadata.get("git_latin1").map(|s| s.split(',').collect()).unwrap_or_default();
    let bytes = |field: &str, s: &str| if latin1.contains(&field) { latin1_bytes(s) } else { Ok(s.as_bytes().to_vec()) };
    let parts = split_author(&c.author);
    let date = match c.metadata.get("git_author_date") {
        Some(d) => d.clone(),
        None => iso_to_git_date(&c.committed_at)
            .ok_or_else(|| Error::corrupt("commit record", "", format!("commit {}: committed_at {:?} is not ISO-8601", c.commit_id, c.committed_at)))?,
    };
    let author = bytes("author", &format!("{} {date}", parts.author))?;
    let committer = match parts.committer {
        Some(cm) => bytes("committer", cm)?,
        None => author.clone(),
    };
    Ok(GitCommitFields {
        author,
        committer,
        encoding: c.metadata.get("git_encoding").cloned(),
        message: bytes("message", &c.message)?,
        git_oid: c.metadata.get("git_oid").cloned(),
    })
}

/// An annotated git tag as imported (`.muse/git-tags.json`, see
/// [`read_git_tags`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitTag {
    /// What the tag names: `"commit"` or `"blob"`.
    pub kind: String,
    /// The muse ID of the tagged commit or blob.
    pub target: String,
    /// The git ID of the tagged object (the blob's, for a tag of a blob).
    pub git_target: String,
    /// The git ID of the tag object itself.
    pub git_oid: String,
    /// git's `tagger` line value (`Name <email> <epoch> <tz>`), when the
    /// tag has one.
    pub tagger: Option<String>,
    /// The tag message (a signature stripped, as `--signed-tags=strip`).
    pub message: String,
    /// Fields stored by the ISO-8859-1 mapping (`tagger`, `message`):
    /// [`latin1_bytes`] gives git's bytes back.
    #[serde(default)]
    pub latin1: Vec<String>,
}

/// `<root>/.muse/git-tags.json`: the annotated tags of the imports, a JSON
/// map tag name → [`GitTag`].
pub fn git_tags_path(root: &Path) -> PathBuf {
    crate::paths::muse_dir(root).join("git-tags.json")
}

/// The annotated tags imported so far (tag name → [`GitTag`]); empty when
/// nothing was imported.
///
/// # Errors
/// [`Error::Corrupt`] for a file that is not such a map; [`Error::Io`].
pub fn read_git_tags(root: &Path) -> Result<BTreeMap<String, GitTag>> {
    let p = git_tags_path(root);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io("read", &p, e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::corrupt("git tags file", &p, e.to_string()))
}

/// The blob IDs that imported tags of blobs name (git's `junio-gpg-pub`):
/// gc roots, like the commits of `.muse/tags/` (to be listed by
/// [`crate::reachability`]'s roots). An unreadable file yields an error,
/// never an empty list (pruning must not guess).
///
/// # Errors
/// As [`read_git_tags`].
pub fn git_tag_blob_roots(root: &Path) -> Result<Vec<String>> {
    Ok(read_git_tags(root)?
        .into_values()
        .filter(|t| t.kind == "blob" && crate::ids::is_valid_id(&t.target))
        .map(|t| t.target)
        .collect())
}

/// The remote-tracking ref (`<remote>/<branch>`) a git ref is imported as:
/// `refs/remotes/<r>/<b>` → `<r>/<b>`; any other ref outside
/// `refs/heads/` and `refs/tags/` (`refs/notes/commits`, `refs/stash`,
/// `refs/pull/1/head`) → `git/<rest>`; `None` for branches, tags and
/// names muse refuses.
pub fn remote_ref_name(git_ref: &str) -> Option<String> {
    if git_ref.starts_with("refs/heads/") || git_ref.starts_with("refs/tags/") {
        return None;
    }
    let name = match git_ref.strip_prefix("refs/remotes/") {
        Some(rb) => rb.to_string(),
        None => format!("git/{}", git_ref.strip_prefix("refs/")?),
    };
    crate::refs::split_remote_ref(&name).is_ok().then_some(name)
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

/// What the import does with one git branch (`refs/heads/<b>`), decided
/// before anything is written ([`plan_branches`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum BranchPlan {
    /// Write muse branch `name`, which is at `expected` now (`None`:
    /// absent); moved by compare-and-swap. `worktree`: it is the
    /// checked-out branch and existed before the import, so it moves at
    /// the end, with its working tree.
    Write { name: String, expected: Option<String>, worktree: bool },
    /// Leave the muse branch alone: it is at git's tip already, or ahead of
    /// it (local commits on top).
    Keep,
}

/// The bound of the walk over local (not imported) commits of
/// [`plan_branches`]: past it the branch counts as diverged.
const MAX_LOCAL_WALK: usize = 100_000;

/// The paths of `m` that start with `prefix` (a directory name and `/`).
fn keys_under(m: &Shared, prefix: &str) -> Vec<String> {
    m.range::<_, str>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// How many manifests [`ManifestCache`] keeps by default
/// ([`ImportOptions::manifest_cache`]): a commit's first parent is
/// among the last 4,096 commits built for all but 0.7 % of git's own
/// history in fast-export's order (the rest are read back from the store).
/// They share their unchanged B-tree nodes, so 4,096 of them cost about
/// their differences (a few tens of MiB on git's history), not 4,096 whole
/// manifests.
pub const MANIFEST_CACHE: usize = 4096;

/// The manifests of the last [`ImportOptions::manifest_cache`] snapshots
/// the import built, by snapshot ID, oldest dropped first. In fast-export's
/// (topological) order a commit's first parent is the commit just before
/// it only on a straight line: a topic branch starts from an older commit
/// and its merge returns to the commit before the topic's run. Reading
/// those back from the store (decode, rebuild, verify) was 40 % of an
/// import of git's own history.
struct ManifestCache {
    map: HashMap<String, Shared>,
    order: std::collections::VecDeque<String>,
    cap: usize,
}

impl ManifestCache {
    /// The manifest of snapshot `id`, if kept (a pointer copy).
    fn get(&self, id: &str) -> Option<Shared> {
        self.map.get(id).cloned()
    }

    fn new(cap: usize) -> Self {
        ManifestCache { map: HashMap::new(), order: std::collections::VecDeque::new(), cap }
    }

    /// Keeps `m` as the manifest of snapshot `id`, dropping the oldest
    /// beyond the cap (0 keeps nothing).
    fn put(&mut self, id: String, m: Shared) {
        if self.cap == 0 {
            return;
        }
        if self.map.insert(id.clone(), m).is_none() {
            self.order.push_back(id);
            if self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// How many bytes of blobs wait for their commit (to learn their path and
/// so a delta base) before they are written plainly.
const MAX_PENDING_BLOB_BYTES: usize = 64 << 20;

struct Importer<'a> {
    root: &'a Path,
    opts: &'a ImportOptions,
    batch: Option<Batch>,
    /// Blob marks of the stream → blob IDs.
    blob_marks: BlobMarks,
    /// Commit marks of the stream.
    commit_marks: HashMap<u64, CommitMark>,
    /// Every muse commit ID this import produced or found in the map: a
    /// second git commit mapping to one of them is disambiguated.
    seen: HashSet<RawId>,
    /// The manifests built last, by snapshot ID (a commit's first parent
    /// is usually one of them).
    manifests: ManifestCache,
    old_map: HashMap<String, String>,
    /// New git-map lines of the current batch.
    pending_map: Vec<(String, String)>,
    /// Blobs of the commit to come (ID, bytes), written when its `M` lines
    /// tell their paths (a delta base: the blob the path had before).
    pending_blobs: Vec<(String, Vec<u8>)>,
    pending_bytes: usize,
    /// Blob ID → the blob its path held in the first parent.
    base_hints: HashMap<String, String>,
    in_chunk: usize,
    refs: BTreeMap<String, Tip>,
    dirty_refs: BTreeSet<String>,
    /// What to do with each git branch (see [`BranchPlan`]).
    plan: HashMap<String, BranchPlan>,
    /// The checked-out branch's final move: (branch, commit).
    deferred_head: Option<(String, String)>,
    /// Annotated tags read from the stream.
    git_tags: BTreeMap<String, GitTag>,
    report: ImportReport,
}

impl Importer<'_> {
    fn batch(&mut self) -> Result<&mut Batch> {
        if self.batch.is_none() {
            self.batch = Some(Batch::begin(self.root)?);
        }
        Ok(self.batch.as_mut().expect("just made"))
    }

    /// Writes the blobs waiting for their commit, each with its delta base
    /// hint when one is known.
    fn write_pending_blobs(&mut self) -> Result<()> {
        if self.pending_blobs.is_empty() {
            return Ok(());
        }
        let blobs = std::mem::take(&mut self.pending_blobs);
        let hints = std::mem::take(&mut self.base_hints);
        self.pending_bytes = 0;
        let b = self.batch()?;
        let mut written = 0u64;
        let mut bytes = 0u64;
        for (id, content) in blobs {
            // The delta-base hint: the blob this one's path held before.
            let base: Option<&str> = hints.get(&id).map(String::as_str);
            if b.write_object_with_base(&id, &content, base)? {
                written += 1;
                bytes += content.len() as u64;
            }
        }
        self.report.blobs_written += written;
        self.report.bytes += bytes;
        Ok(())
    }

    /// Commits the current batch, then appends the map and moves refs;
    /// `last` (the end of the stream) also writes tags, which fast-export
    /// may name as the ref of intermediate commits.
    fn flush(&mut self, last: bool) -> Result<()> {
        self.write_pending_blobs()?;
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
        let dirty = std::mem::take(&mut self.dirty_refs);
        let mut keep_dirty = BTreeSet::new();
        for r in dirty {
            let tip = self.refs[&r].clone();
            // A name muse refuses (`HEAD`, `refs/…`, `-x`, …) is history
            // only: failing here would leave the chunk's refs half moved.
            if r.starts_with("refs/heads/") {
                let Some(BranchPlan::Write { name, expected, worktree }) = self.plan.get(&r).cloned() else { continue };
                if worktree {
                    self.deferred_head = Some((name, tip.muse));
                    continue;
                }
                if expected.as_deref() == Some(tip.muse.as_str()) {
                    continue;
                }
                crate::refs::compare_and_swap_branch_ref(self.root, &name, expected.as_deref(), &tip.muse)?;
                self.plan.insert(r, BranchPlan::Write { name, expected: Some(tip.muse), worktree: false });
            } else if let Some(t) = r.strip_prefix("refs/tags/") {
                if !last {
                    keep_dirty.insert(r.clone());
                    continue;
                }
                if crate::refs::validate_branch_name(t).is_err() || !self.is_commit(&tip.muse) {
                    continue;
                }
                match crate::refs::read_tag(self.root, t)? {
                    None => {
                        crate::refs::update_tag(self.root, t, Some(None), Some(&tip.muse))?;
                        self.report.tags += 1;
                    }
                    Some(cur) if cur == tip.muse => self.report.tags += 1,
                    Some(_) => self.report.tags_kept += 1,
                }
            } else if let Some(name) = remote_ref_name(&r) {
                crate::refs::update_remote_refs(self.root, &[(name.as_str(), None, Some(tip.muse.as_str()))])?;
            }
        }
        self.dirty_refs = keep_dirty;
        Ok(())
    }

    /// Whether `id` is a commit this import wrote or mapped (a tag of a
    /// blob is not written to `.muse/tags/`).
    fn is_commit(&self, id: &str) -> bool {
        raw_id(id).is_ok_and(|r| self.seen.contains(&r))
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
                if let Some(m) = mark {
                    self.blob_marks.insert(m, raw_id(&id)?);
                }
                self.pending_bytes += bytes.len();
                self.pending_blobs.push((id, bytes));
                if self.pending_bytes > MAX_PENDING_BLOB_BYTES {
                    self.write_pending_blobs()?;
                }
                return Ok(());
            }
            // original-oid and anything else: ignored.
        }
    }

    fn commit(&mut self, refname: &str, s: &mut Stream<impl BufRead>, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let mut mark = None;
        let mut git_oid = String::new();
        let mut author_raw: Option<Vec<u8>> = None;
        let mut committer_raw: Option<Vec<u8>> = None;
        let mut encoding: Option<String> = None;
        let msg_bytes;
        loop {
            let l = s.line()?.ok_or_else(|| git_err("fast-export", "stream ended inside a commit"))?;
            if let Some(m) = l.strip_prefix(b"mark :".as_slice()) {
                mark = std::str::from_utf8(m).ok().and_then(|m| m.trim().parse::<u64>().ok());
            } else if let Some(o) = l.strip_prefix(b"original-oid ".as_slice()) {
                git_oid = String::from_utf8_lossy(o).trim().to_string();
            } else if let Some(a) = l.strip_prefix(b"author ".as_slice()) {
                author_raw = Some(a.to_vec());
            } else if let Some(c) = l.strip_prefix(b"committer ".as_slice()) {
                committer_raw = Some(c.to_vec());
            } else if let Some(e) = l.strip_prefix(b"encoding ".as_slice()) {
                encoding = Some(String::from_utf8_lossy(e).into_owned());
            } else if l.starts_with(b"data ") {
                msg_bytes = s.data(&l)?;
                break;
            } else if l.starts_with(b"gpgsig ") {
                let d = s.line()?.unwrap_or_default();
                s.data(&d)?;
            }
        }
        let mut latin1: Vec<&'static str> = Vec::new();
        let committer = committer_raw.map(|c| text_of(c, "committer", &mut latin1));
        let author = match author_raw {
            Some(a) => text_of(a, "author", &mut latin1),
            None => {
                // No author line: git's author is its committer.
                if latin1.contains(&"committer") {
                    latin1.push("author");
                }
                committer.clone().ok_or_else(|| git_err("fast-export", format!("commit {git_oid} has no author or committer")))?
            }
        };
        let (who, when) =
            parse_ident(&author).ok_or_else(|| git_err("fast-export", format!("commit {git_oid}: bad author {author:?}")))?;
        let message = text_of(msg_bytes, "message", &mut latin1);
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
        // The first parent's manifest: one of the last built (a linear
        // history, a topic branch merged back, …) is reused, any other
        // is read.
        let mut manifest: Shared = match parents.first() {
            Some((_, snap, _)) => match self.manifests.get(snap) {
                Some(m) => m,
                None => {
                    let snap = snap.clone();
                    crate::manifest::manifest_to_shared(self.manifest(&snap)?)
                }
            },
            None => Shared::new(),
        };
        let mut changed = BTreeSet::new();
        for op in ops {
            self.apply(&mut manifest, &mut changed, &op)?;
        }
        self.write_pending_blobs()?;
        // No path both a file and a directory (git's index rule): the
        // parent's manifest is clash-free, so only the changed paths can
        // clash. Checked after all of the commit's ops (see `D` above).
        for p in changed.iter().filter(|p| manifest.contains_key(p.as_str())) {
            crate::manifest::check_shared_clash_at(&manifest, p)
                .map_err(|e| git_err("import", format!("commit {git_oid}: {e}")))?;
        }
        let snap_id = crate::manifest::hash_shared(&manifest);
        let rec = SharedView { sid: &snap_id, created_at: now_iso(), manifest: &manifest };
        let base = parents.first().map(|p| p.1.clone());
        self.batch()?.write_computed_snapshot(&rec, base.as_deref(), &changed)?;
        self.manifests.put(snap_id.clone(), manifest);
        // The identity: git's committer joins the author field when it
        // differs from the author (see the module docs).
        let mut author_field = who;
        if let Some(c) = committer.as_deref().filter(|c| *c != author) {
            author_field.push(AUTHOR_SEP);
            author_field.push_str("committer ");
            author_field.push_str(c);
        }
        let mut c = CommitRecord {
            branch: short_ref(refname).to_string(),
            snapshot_id: snap_id.clone(),
            message,
            committed_at: when.clone(),
            parent_commit_id: parents.first().map(|p| p.0.clone()),
            parent2_commit_id: parents.get(1).map(|p| p.0.clone()),
            author: author_field,
            ..CommitRecord::default()
        };
        if !git_oid.is_empty() {
            c.metadata.insert("git_oid".into(), git_oid.clone());
        }
        if parents.len() > 2 {
            let extra: Vec<&str> = parents[2..].iter().map(|p| p.0.as_str()).collect();
            c.metadata.insert("extra_parents".into(), extra.join(","));
        }
        if let Some(e) = encoding {
            c.metadata.insert("git_encoding".into(), e);
        }
        if !latin1.is_empty() {
            c.metadata.insert("git_latin1".into(), latin1.join(","));
        }
        let date = ident_date(&author);
        if iso_to_git_date(&when).as_deref() != Some(date) {
            c.metadata.insert("git_author_date".into(), date.to_string());
        }
        c.commit_id = c.compute_id();
        let mut raw = raw_id(&c.commit_id)?;
        if self.seen.contains(&raw) {
            // Two git commits, one muse identity (they differ only in what
            // the mapping does not carry: a signature, a `-0000` offset,
            // the encoding header): the git ID tells them apart.
            c.author.push(AUTHOR_SEP);
            c.author.push_str("git-oid ");
            c.author.push_str(if git_oid.is_empty() { "unknown" } else { &git_oid });
            c.commit_id = c.compute_id();
            raw = raw_id(&c.commit_id)?;
        }
        self.seen.insert(raw);
        self.batch()?.write_commit(&c)?;
        if let Some(m) = mark {
            let cm = CommitMark { muse: raw, snap: raw_id(&snap_id)?, git: git_oid.clone().into() };
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
            self.flush(false)?;
        }
        Ok(())
    }

    /// An annotated tag (`tag <name>` … `data`): recorded with its message
    /// and tagger; a tag of a commit also becomes `.muse/tags/<name>`.
    fn tag(&mut self, name: &str, s: &mut Stream<impl BufRead>) -> Result<()> {
        let mut target = None;
        let mut git_oid = String::new();
        let mut tagger_raw = None;
        let msg_bytes;
        loop {
            let l = s.line()?.ok_or_else(|| git_err("fast-export", "stream ended inside a tag"))?;
            if let Some(f) = l.strip_prefix(b"from ".as_slice()) {
                target = Some(String::from_utf8_lossy(f).trim().to_string());
            } else if let Some(o) = l.strip_prefix(b"original-oid ".as_slice()) {
                git_oid = String::from_utf8_lossy(o).trim().to_string();
            } else if let Some(t) = l.strip_prefix(b"tagger ".as_slice()) {
                tagger_raw = Some(t.to_vec());
            } else if l.starts_with(b"data ") {
                msg_bytes = s.data(&l)?;
                break;
            }
        }
        let Some(target) = target else { return Ok(()) };
        let mut latin1 = Vec::new();
        let tagger = tagger_raw.map(|t| text_of(t, "tagger", &mut latin1));
        let message = text_of(msg_bytes, "message", &mut latin1);
        let latin1 = latin1.into_iter().map(str::to_string).collect();
        if let Ok((muse, _, git)) = self.commit_ref(&target) {
            self.set_ref(&format!("refs/tags/{name}"), Tip { muse: muse.clone(), git: git.clone() });
            let t = GitTag { kind: "commit".into(), target: muse, git_target: git, git_oid, tagger, message, latin1 };
            self.git_tags.insert(name.to_string(), t);
        } else if let Some(raw) = target.strip_prefix(':').and_then(|n| n.parse::<u64>().ok()).and_then(|n| self.blob_marks.get(n)) {
            // A tag of a blob (git's `junio-gpg-pub`): no commit to name,
            // recorded only; its blob is a gc root through
            // [`git_tag_blob_roots`].
            let t = GitTag {
                kind: "blob".into(),
                target: id_string(raw),
                git_target: String::new(),
                git_oid,
                tagger,
                message,
                latin1,
            };
            self.git_tags.insert(name.to_string(), t);
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

    fn apply(&mut self, m: &mut Shared, changed: &mut BTreeSet<String>, op: &[u8]) -> Result<()> {
        if op == b"deleteall" {
            changed.extend(std::mem::take(m).keys().map(|k| k.to_string()));
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
                        for k in keys_under(m, &prefix) {
                            m.remove(k.as_str());
                            changed.insert(k);
                        }
                        changed.insert(p.clone());
                        if let Some(old) = m.get(p.as_str()).filter(|old| ***old != *id) {
                            self.base_hints.entry(id.clone()).or_insert_with(|| old.to_string());
                        }
                        m.insert(Arc::from(p), Arc::from(id));
                    }
                }
                b"120000" => {
                    self.report.symlinks_skipped += 1;
                    if let Some(p) = self.path(path)? {
                        m.remove(p.as_str());
                        changed.insert(p);
                    }
                }
                b"160000" => {
                    self.report.submodules_skipped += 1;
                    if let Some(p) = self.path(path)? {
                        m.remove(p.as_str());
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
                if m.remove(p.as_str()).is_none() {
                    let prefix = format!("{p}/");
                    let under: Vec<String> = keys_under(m, &prefix).into_iter().filter(|k| !changed.contains(k)).collect();
                    for k in under {
                        m.remove(k.as_str());
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
            let mut moved: Vec<(String, Arc<str>)> = Vec::new();
            if let Some(v) = m.get(src.as_str()) {
                moved.push((src.clone(), Arc::clone(v)));
            }
            for k in keys_under(m, &prefix) {
                let v = Arc::clone(&m[k.as_str()]);
                moved.push((k, v));
            }
            for (k, v) in moved {
                let to = format!("{dst}{}", &k[src.len()..]);
                if rename {
                    m.remove(k.as_str());
                    changed.insert(k);
                }
                changed.insert(to.clone());
                m.insert(Arc::from(to), v);
            }
        } else {
            return Err(git_err("fast-export", format!("unsupported file command {:?}", String::from_utf8_lossy(op))));
        }
        Ok(())
    }
}

fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .or_else(|| r.strip_prefix("refs/remotes/"))
        .unwrap_or(r)
}

/// What [`plan_branches`] decided for one muse branch name.
enum Decision {
    /// Import into it (a new branch or a fast-forward).
    Plan(BranchPlan),
    /// Leave it: it is ahead of git's branch.
    Ahead,
    /// Refuse: the reason.
    Refuse(String),
}

/// Whether git commit `a` is an ancestor of (or is) `b`
/// (`git merge-base --is-ancestor`).
fn is_ancestor(git_dir: &Path, a: &str, b: &str) -> Result<bool> {
    let st = Command::new("git")
        .arg("-C")
        .arg(git_dir)
        .args(["merge-base", "--is-ancestor", a, b])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| git_err("merge-base", format!("cannot run git: {e}")))?;
    match st.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(git_err("merge-base", format!("failed ({st}) for {a} {b}"))),
    }
}

/// The commits of muse commit `tip` that no import brought (local work),
/// walked through every parent until imported commits: (how many, the git
/// IDs of the imported commits they sit on). `None` past
/// [`MAX_LOCAL_WALK`] commits.
fn local_commits(root: &Path, tip: &str, reverse: &HashMap<&str, &str>) -> Result<Option<(usize, Vec<String>)>> {
    let mut seen = HashSet::new();
    let mut stack = vec![tip.to_string()];
    let mut boundary = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(g) = reverse.get(id.as_str()) {
            boundary.push((*g).to_string());
            continue;
        }
        if seen.len() > MAX_LOCAL_WALK {
            return Ok(None);
        }
        let rec = crate::commits::load_commit(root, &id)?;
        stack.extend(rec.all_parents().into_iter().map(str::to_string));
    }
    Ok(Some((seen.len() - boundary.len(), boundary)))
}

/// Decides the fate of muse branch `name` for git branch tip `g` (git
/// fetch's fast-forward rule, see the module docs).
fn decide(
    root: &Path,
    git_dir: &Path,
    old_map: &HashMap<String, String>,
    reverse: &HashMap<&str, &str>,
    name: &str,
    g: &str,
    checked_out: Option<&str>,
) -> Result<Decision> {
    let Some(cur) = crate::refs::read_branch_ref(root, name)? else {
        return Ok(Decision::Plan(BranchPlan::Write { name: name.to_string(), expected: None, worktree: false }));
    };
    if old_map.get(g) == Some(&cur) {
        return Ok(Decision::Plan(BranchPlan::Keep));
    }
    match reverse.get(cur.as_str()) {
        Some(g0) => {
            if !is_ancestor(git_dir, g0, g)? {
                return Ok(Decision::Refuse(format!(
                    "git's branch does not descend from git commit {g0}, where muse's {name} is (a non-fast-forward: git rewrote it)"
                )));
            }
        }
        None => {
            let Some((n, boundary)) = local_commits(root, &cur, reverse)? else {
                return Ok(Decision::Refuse(format!("muse's {name} has more than {MAX_LOCAL_WALK} commits git does not know")));
            };
            for b in &boundary {
                if b == g || is_ancestor(git_dir, g, b)? {
                    return Ok(Decision::Ahead);
                }
            }
            return Ok(Decision::Refuse(format!(
                "muse's {name} has {n} commit(s) git does not know, and git's branch moved on (a non-fast-forward)"
            )));
        }
    }
    let worktree = checked_out == Some(name);
    if worktree {
        let st = crate::Repository::open(root)?.status()?;
        if !st.staged.is_empty() || !st.unstaged.is_empty() {
            return Ok(Decision::Refuse(format!(
                "{name} is checked out and the working tree or stage has local changes (commit or discard them first)"
            )));
        }
    }
    Ok(Decision::Plan(BranchPlan::Write { name: name.to_string(), expected: Some(cur), worktree }))
}

/// The branch decisions of an import, before anything is written.
struct Plan {
    branches: HashMap<String, BranchPlan>,
    renamed: Vec<(String, String)>,
    kept_ahead: Vec<String>,
}

/// Decides, for every git branch, which muse branch it moves (see the
/// module docs, "Re-import"): a new branch, a fast-forward, or nothing
/// (already there, or muse is ahead); anything else is refused, or, with
/// `rename` (a prefix), imported as branch `<prefix><branch>`.
///
/// # Errors
/// [`Error::InvalidInput`] listing every refused branch (nothing was
/// written); git and store errors.
fn plan_branches(root: &Path, git_dir: &Path, old_map: &HashMap<String, String>, rename: Option<&str>, worktree: bool) -> Result<Plan> {
    let out = Command::new("git")
        .arg("-C")
        .arg(git_dir)
        .args(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| git_err("for-each-ref", format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(git_err("for-each-ref", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let checked_out = match crate::refs::read_head(root)? {
        crate::refs::Head::Branch(b) if worktree => Some(b),
        _ => None,
    };
    let reverse: HashMap<&str, &str> = old_map.iter().map(|(g, m)| (m.as_str(), g.as_str())).collect();
    let mut plan = Plan { branches: HashMap::new(), renamed: Vec::new(), kept_ahead: Vec::new() };
    let mut refused = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((g, r)) = line.split_once(' ') else { continue };
        let Some(b) = r.strip_prefix("refs/heads/") else { continue };
        if crate::refs::validate_branch_name(b).is_err() {
            continue; // history only
        }
        let mut name = b.to_string();
        let mut d = decide(root, git_dir, old_map, &reverse, &name, g, checked_out.as_deref())?;
        if let (Decision::Refuse(_), Some(prefix)) = (&d, rename) {
            name = format!("{prefix}{b}");
            crate::refs::validate_branch_name(&name)?;
            d = decide(root, git_dir, old_map, &reverse, &name, g, checked_out.as_deref())?;
            if !matches!(d, Decision::Refuse(_)) {
                plan.renamed.push((b.to_string(), name.clone()));
            }
        }
        match d {
            Decision::Plan(p) => {
                plan.branches.insert(r.to_string(), p);
            }
            Decision::Ahead => {
                plan.kept_ahead.push(name);
                plan.branches.insert(r.to_string(), BranchPlan::Keep);
            }
            Decision::Refuse(why) => refused.push(format!("{name}: {why}")),
        }
    }
    if !refused.is_empty() {
        return Err(Error::InvalidInput(format!(
            "import-git refused to move branches (git fetch's non-fast-forward rule); nothing was imported:\n  {}\n\
             import git's side under other names with --rename-conflicting <prefix> (e.g. git/), \
             or move the muse branch away first",
            refused.join("\n  ")
        )));
    }
    Ok(plan)
}

/// Imports the history of the git repository at `git_dir` into the muse
/// repository at `root` (see the module docs for the mapping rules).
/// `progress` is called with the number of commits imported so far.
/// Same as [`import_git_with`] without renaming.
///
/// # Errors
/// As [`import_git_with`].
pub fn import_git(root: &Path, git_dir: &Path, opts: &ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportReport> {
    import_git_with(root, git_dir, opts, None, progress)
}

/// Imports the history of the git repository at `git_dir` into the muse
/// repository at `root` (see the module docs for the mapping rules).
/// `progress` is called with the number of commits imported so far.
///
/// Branches follow git fetch's fast-forward rule (module docs,
/// "Re-import"): a muse branch holding commits git does not know is never
/// moved. Such a conflict refuses the import before anything is written,
/// unless `rename_conflicting` (a prefix such as `git/`) is given: then
/// git's branch `b` is imported as muse branch `<prefix>b` (which must
/// itself be new or a fast-forward).
///
/// This path-level form is plumbing: it does not look at the working tree
/// (a fast-forward of the checked-out branch leaves the files as they
/// are, as `git fetch --update-head-ok` does). The porcelain,
/// [`crate::Repository::import_git_with`] (the CLI, Python), moves the
/// checked-out branch together with a clean working tree and refuses when
/// it is dirty.
///
/// A history holding a path muse refuses (a `.muse` or `.git` component or
/// alias, a path both a file and a directory: see the module docs) is
/// refused before anything is written: the repository is left
/// byte-identical.
///
/// # Errors
/// [`Error::InvalidInput`] naming every refused branch (nothing written);
/// [`Error::InvalidPath`] naming the first refused path (a `.muse` or
/// `.git` component or alias, git's `verify_path`);
/// [`Error::InvalidInput`] for a tree listing a name twice (naming the
/// path), when git fails or the stream is not understood;
/// [`Error::RefConflict`] when a muse branch moved during the import;
/// store errors.
pub fn import_git_with(
    root: &Path,
    git_dir: &Path,
    opts: &ImportOptions,
    rename_conflicting: Option<&str>,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    import_into(root, git_dir, opts, rename_conflicting, false, progress)
}

/// [`import_git_with`]; with `worktree`, the checked-out branch moves with
/// its working tree (refused up front when the tree or stage is dirty).
fn import_into(
    root: &Path,
    git_dir: &Path,
    opts: &ImportOptions,
    rename_conflicting: Option<&str>,
    worktree: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
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
    // Branches that would lose local work refuse the import here, before
    // anything is written.
    let plan = plan_branches(root, git_dir, &old_map, rename_conflicting, worktree)?;
    // Refused paths abort the import here, before anything is written.
    check_git_trees(git_dir, &negatives)?;
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(git_dir).args([
        "-c",
        "core.quotepath=false",
        "fast-export",
        "--all",
        "--reencode=no",
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
    let mut seen = HashSet::with_capacity(old_map.len());
    for m in old_map.values() {
        if let Ok(r) = raw_id(m) {
            seen.insert(r);
        }
    }
    let mut imp = Importer {
        root,
        opts,
        batch: None,
        blob_marks: BlobMarks::default(),
        commit_marks: HashMap::new(),
        seen,
        manifests: ManifestCache::new(opts.manifest_cache),
        old_map,
        pending_map: Vec::new(),
        pending_blobs: Vec::new(),
        pending_bytes: 0,
        base_hints: HashMap::new(),
        in_chunk: 0,
        refs: BTreeMap::new(),
        dirty_refs: BTreeSet::new(),
        plan: plan.branches,
        deferred_head: None,
        git_tags: BTreeMap::new(),
        report: ImportReport { renamed: plan.renamed, kept_ahead: plan.kept_ahead, ..ImportReport::default() },
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
    imp.flush(true)?;
    // Annotated tags: a new name is added; a known one is replaced only
    // when it still names the same object (git fetch does not clobber
    // tags).
    if !imp.git_tags.is_empty() {
        let mut all = read_git_tags(root)?;
        for (n, mut t) in std::mem::take(&mut imp.git_tags) {
            if t.git_target.is_empty() {
                // A tag of a blob: the stream names the blob by mark only.
                t.git_target = git_peeled(git_dir, &n).unwrap_or_default();
            }
            let clobbers = all.get(&n).is_some_and(|old| old.target != t.target);
            let tag_ref = if t.kind == "commit" { crate::refs::read_tag(root, &n).ok().flatten() } else { None };
            if !clobbers && (t.kind != "commit" || tag_ref.as_deref() == Some(t.target.as_str())) {
                all.insert(n, t);
            }
        }
        let text = serde_json::to_string_pretty(&all).map_err(|e| Error::InvalidInput(format!("git tags: {e}")))?;
        write_text_atomic(&git_tags_path(root), &text, Durability::Full)?;
    }
    // Tips for the next run: this run's ref tips and the previous ones.
    let mut tips: BTreeSet<String> = negatives.into_iter().collect();
    tips.extend(imp.refs.values().map(|t| t.git.clone()).filter(|g| !g.is_empty()));
    let mut text = String::new();
    for t in &tips {
        text.push_str(t);
        text.push('\n');
    }
    write_text_atomic(&git_tips_path(root), &text, Durability::Full)?;
    // The checked-out branch moves last, with its working tree.
    if let Some((b, new)) = imp.deferred_head.take() {
        let repo = crate::Repository::open(root)?;
        use crate::checkout::BranchUpdate;
        let why = match repo.update_branch(&b, &new)? {
            BranchUpdate::Created | BranchUpdate::FastForwarded | BranchUpdate::UpToDate => None,
            BranchUpdate::NotFastForward => Some("it moved during the import".to_string()),
            BranchUpdate::Refused(why) => Some(why),
        };
        match why {
            None => imp.report.head_moved = Some(b),
            Some(why) => {
                let keep = format!("git/{b}");
                crate::refs::update_remote_refs(root, &[(keep.as_str(), None, Some(new.as_str()))])?;
                imp.report.head_refused = Some(format!("branch {b} was not moved ({why}); git's tip is {keep}"));
            }
        }
    }
    imp.report.branches = imp
        .refs
        .keys()
        .filter(|r| matches!(imp.plan.get(*r), Some(BranchPlan::Write { .. })))
        .count() as u64;
    imp.report.remote_refs = imp.refs.keys().filter(|r| remote_ref_name(r).is_some()).count() as u64;
    imp.report.head_branch = git_head_branch(git_dir)
        .filter(|b| imp.refs.contains_key(&format!("refs/heads/{b}")) || crate::refs::read_branch_ref(root, b).ok().flatten().is_some());
    imp.report.seconds = start.elapsed().as_secs_f64();
    Ok(imp.report)
}

/// The git ID of the object tag `name` finally names (`git rev-parse
/// refs/tags/<name>^{}`), `None` when git cannot tell.
fn git_peeled(git_dir: &Path, name: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(git_dir)
        .args(["rev-parse", "--verify", "-q", &format!("refs/tags/{name}^{{}}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
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
            imp.tag(name.trim(), s)?;
        } else {
            return Err(git_err("fast-export", format!("unsupported command {t:?}")));
        }
    }
    Ok(())
}

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
    /// incremental, refuses hostile paths before writing, moves branches
    /// by fast-forward only; the checked-out branch moves with a clean
    /// working tree, see [`Self::import_git_with`]). Filesystem store
    /// only.
    ///
    /// # Errors
    /// As [`import_git`]; [`Error::InvalidInput`] on another store.
    pub fn import_git(&self, git_dir: &Path, opts: &ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportReport> {
        self.import_git_with(git_dir, opts, None, progress)
    }

    /// [`Self::import_git`] with `rename_conflicting` (a prefix such as
    /// `git/`): a git branch that muse's branch of that name cannot follow
    /// by fast-forward is imported as `<prefix><branch>` ([`import_git_with`]).
    /// The checked-out branch moves together with its working tree
    /// ([`Self::update_branch`]); a dirty tree or stage refuses the import
    /// before anything is written.
    ///
    /// # Errors
    /// As [`import_git_with`]; [`Error::InvalidInput`] on another store.
    pub fn import_git_with(
        &self,
        git_dir: &Path,
        opts: &ImportOptions,
        rename_conflicting: Option<&str>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport> {
        import_into(self.fs_store("import-git")?.root(), git_dir, opts, rename_conflicting, true, progress)
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
    fn author_field_dates_and_latin1_round_trip() {
        let f = split_author("A <a@x>\ncommitter C <c@x> 1704160800 -0330\ngit-oid 1234");
        assert_eq!(f.author, "A <a@x>");
        assert_eq!(f.committer, Some("C <c@x> 1704160800 -0330"));
        assert_eq!(f.git_oid, Some("1234"));
        assert_eq!(split_author("Just Me <m@x>"), AuthorField { author: "Just Me <m@x>", committer: None, git_oid: None });
        assert_eq!(iso_to_git_date("2024-01-02T03:00:00+01:00").as_deref(), Some("1704160800 +0100"));
        assert_eq!(iso_to_git_date("1969-12-31T18:30:00-05:30").as_deref(), Some("0 -0530"));
        assert_eq!(iso_to_git_date("not a date"), None);
        let mut latin1 = Vec::new();
        let bytes: Vec<u8> = (0..=255u8).collect();
        let text = text_of(bytes.clone(), "message", &mut latin1);
        assert_eq!(latin1, vec!["message"]);
        assert_eq!(latin1_bytes(&text).unwrap(), bytes);
        assert_eq!(text_of("ü".as_bytes().to_vec(), "author", &mut latin1), "ü");
        assert_eq!(latin1.len(), 1, "UTF-8 is kept as it is");
        assert!(latin1_bytes("日本").is_err());
        assert_eq!(remote_ref_name("refs/remotes/origin/x").as_deref(), Some("origin/x"));
        assert_eq!(remote_ref_name("refs/notes/commits").as_deref(), Some("git/notes/commits"));
        assert_eq!(remote_ref_name("refs/stash").as_deref(), Some("git/stash"));
        assert_eq!(remote_ref_name("refs/heads/main"), None);
        assert_eq!(remote_ref_name("refs/remotes/origin/HEAD"), None);
        assert_eq!(remote_ref_name("HEAD"), None);
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
