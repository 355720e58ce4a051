//! Tree diffs between revisions and the working tree
//! ([`Repository::diff`], git's `diff --name-status` shape), the stage-aware
//! diffs ([`Repository::diff_index`], [`Repository::diff_cached`],
//! [`Repository::diff_worktree`]) and unified patches ([`format_patch`],
//! [`Repository::diff_patch`]: git's `diff` output).

use crate::error::Result;
use crate::manifest::{diff_manifests, ChangeKind, Manifest};
use crate::repository::Repository;

/// One changed path of [`Repository::diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// The path.
    pub path: String,
    /// Added, modified or deleted (from the old side to the new one).
    pub status: ChangeKind,
    /// The blob ID on the old side (`None` when added).
    pub old_id: Option<String>,
    /// The blob ID on the new side (`None` when deleted).
    pub new_id: Option<String>,
}

/// The changes from manifest `old` to manifest `new`, sorted by path.
pub fn diff_entries(old: &Manifest, new: &Manifest) -> Vec<DiffEntry> {
    diff_manifests(old, new)
        .into_iter()
        .map(|(path, status)| DiffEntry { old_id: old.get(&path).cloned(), new_id: new.get(&path).cloned(), path, status })
        .collect()
}

impl Repository {
    /// The manifest a diff side names: a revision ([`Self::revparse`]), or
    /// with `None` the working tree (the stat-cached walk of SPEC §5).
    ///
    /// # Errors
    /// As [`Self::revparse`]; walker errors.
    pub fn tree(&self, rev: Option<&str>) -> Result<Manifest> {
        match rev {
            Some(r) => self.commit_manifest(&self.revparse(r)?),
            None => crate::status::worktree_manifest(self.workdir()),
        }
    }

    /// The changes from `a` to `b`, sorted by path. `a` and `b` are
    /// revisions; `b = None` is the working tree, `a = None` is HEAD's
    /// commit (empty on an unborn branch): `diff(None, None)` is git's
    /// `diff HEAD`.
    ///
    /// # Errors
    /// As [`Self::tree`].
    pub fn diff(&self, a: Option<&str>, b: Option<&str>) -> Result<Vec<DiffEntry>> {
        let old = match a {
            Some(r) => self.tree(Some(r))?,
            None => self.head_state()?.2,
        };
        let new = self.tree(b)?;
        Ok(diff_entries(&old, &new))
    }
}

// ---- content diffs (git's unified patch) -----------------------------------

/// Options of a content diff ([`format_patch`], [`Repository::diff_patch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOptions {
    /// Unchanged lines shown around each change (git's `-U<n>`; default 3).
    pub context_lines: usize,
}

impl Default for PatchOptions {
    fn default() -> Self {
        PatchOptions { context_lines: 3 }
    }
}

/// git's binary rule (a NUL byte in the first 8,000 bytes), shared with
/// the line merge.
pub use crate::merge_file::is_binary;

/// The patch of one changed file ([`format_patch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePatch {
    /// The unified patch text, from `diff --git` to the last hunk line
    /// (raw bytes: a file's lines are copied as they are, whatever their
    /// encoding).
    pub bytes: Vec<u8>,
    /// True when either side is binary ([`is_binary`]): the patch then says
    /// `Binary files … differ` instead of hunks.
    pub binary: bool,
    /// Lines added (0 when binary).
    pub added: usize,
    /// Lines deleted (0 when binary).
    pub deleted: usize,
    /// Bytes on the old side (0 when absent): git's `--stat` shows
    /// `Bin <old> -> <new> bytes` for a binary file.
    pub old_size: usize,
    /// Bytes on the new side (0 when absent).
    pub new_size: usize,
}

impl FilePatch {
    /// The patch as text (invalid UTF-8 replaced by U+FFFD: use
    /// [`Self::bytes`] to apply a patch of a non-UTF-8 file).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// `(added, deleted)` lines for `--stat`; `None` for a binary file.
    pub fn line_counts(&self) -> Option<(usize, usize)> {
        (!self.binary).then_some((self.added, self.deleted))
    }
}

/// `prefix` + `path` as git prints it in a patch header: as is, or in
/// double quotes with C-style escapes when the path has a `"`, a `\`, a
/// control character or a non-ASCII byte (git's `core.quotePath`
/// default). Spaces are not quoted.
pub fn quote_path(prefix: &str, path: &str) -> String {
    let needs = path.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f);
    if !needs {
        return format!("{prefix}{path}");
    }
    let mut s = String::with_capacity(path.len() + prefix.len() + 8);
    s.push('"');
    for b in prefix.bytes().chain(path.bytes()) {
        match b {
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            b'\r' => s.push_str("\\r"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b if !(0x20..0x7f).contains(&b) => s.push_str(&format!("\\{b:03o}")),
            b => s.push(b as char),
        }
    }
    s.push('"');
    s
}

/// The kind of one line of a full-context line diff.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Same,
    Del,
    Ins,
}

/// git's default function-name rule (`def_ff` in xdiff): a line that
/// starts with a letter, `_` or `$`, cut to 80 bytes, trailing whitespace
/// removed.
fn func_name(line: &[u8]) -> Option<&[u8]> {
    let first = *line.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'$') {
        return None;
    }
    let mut l = &line[..line.len().min(80)];
    while let Some((last, rest)) = l.split_last() {
        if last.is_ascii_whitespace() {
            l = rest;
        } else {
            break;
        }
    }
    Some(l)
}

/// One side of a hunk header: `l,s`, `l` when `s` is 1, and for an empty
/// side the line before it (git's rule).
fn hunk_range(before: usize, len: usize) -> String {
    match len {
        0 => format!("{before},0"),
        1 => format!("{}", before + 1),
        n => format!("{},{n}", before + 1),
    }
}

/// Splits `bytes` into lines, each with its `\n` (the last may lack it).
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// The unified patch of `path` from `old` to `new` (`None` = the side has
/// no such file: added or deleted), in git's format, which `git apply` and
/// `patch -p1` accept: `diff --git a/P b/P`, `new file mode 100644` or
/// `deleted file mode 100644`, `--- a/P` (or `/dev/null`), `+++ b/P`, and
/// `@@ -l,s +l,s @@` hunks with git's default function-name context;
/// `\ No newline at end of file` after a last line without one. A binary
/// side ([`is_binary`]) gives `Binary files a/P and b/P differ` instead of
/// hunks. No `index` line is printed (muse's IDs are not git's). A file
/// added or deleted empty has the header lines only (as in git).
pub fn format_patch(path: &str, old: Option<&[u8]>, new: Option<&[u8]>, opts: &PatchOptions) -> FilePatch {
    use std::io::Write;
    let a = quote_path("a/", path);
    let b = quote_path("b/", path);
    let mut out: Vec<u8> = Vec::new();
    let _ = writeln!(out, "diff --git {a} {b}");
    match (old, new) {
        (None, Some(_)) => out.extend_from_slice(b"new file mode 100644\n"),
        (Some(_), None) => out.extend_from_slice(b"deleted file mode 100644\n"),
        _ => {}
    }
    let label_a = if old.is_some() { a } else { "/dev/null".to_string() };
    let label_b = if new.is_some() { b } else { "/dev/null".to_string() };
    let old_bytes = old.unwrap_or(b"");
    let new_bytes = new.unwrap_or(b"");
    if is_binary(old_bytes) || is_binary(new_bytes) {
        if old_bytes != new_bytes {
            let _ = writeln!(out, "Binary files {label_a} and {label_b} differ");
        }
        return FilePatch { bytes: out, binary: true, added: 0, deleted: 0, old_size: old_bytes.len(), new_size: new_bytes.len() };
    }
    // The whole line diff as one full-context hunk; hunks are cut from it
    // below by git's rule (two changes share a hunk when at most
    // 2 × context unchanged lines lie between them).
    let old_lines = split_lines(old_bytes);
    let patch = diffy::DiffOptions::new().set_context_len(usize::MAX).create_patch_bytes(old_bytes, new_bytes);
    let mut lines: Vec<(Kind, &[u8])> = Vec::new();
    {
        for h in patch.hunks() {
            for l in h.lines() {
                lines.push(match *l {
                    diffy::Line::Context(t) => (Kind::Same, t),
                    diffy::Line::Delete(t) => (Kind::Del, t),
                    diffy::Line::Insert(t) => (Kind::Ins, t),
                });
            }
        }
    }
    let added = lines.iter().filter(|l| l.0 == Kind::Ins).count();
    let deleted = lines.iter().filter(|l| l.0 == Kind::Del).count();
    if lines.is_empty() || (added == 0 && deleted == 0) {
        // An empty file added or deleted: git prints no `---`/`+++` lines.
        return FilePatch { bytes: out, binary: false, added, deleted, old_size: old_bytes.len(), new_size: new_bytes.len() };
    }
    let tab = |l: &str| if l.contains(' ') { "\t" } else { "" };
    let _ = writeln!(out, "--- {label_a}{}", tab(&label_a));
    let _ = writeln!(out, "+++ {label_b}{}", tab(&label_b));
    // Old and new lines before each entry of `lines`.
    let mut before = Vec::with_capacity(lines.len() + 1);
    let (mut o, mut n) = (0usize, 0usize);
    for (k, _) in &lines {
        before.push((o, n));
        match k {
            Kind::Same => {
                o += 1;
                n += 1;
            }
            Kind::Del => o += 1,
            Kind::Ins => n += 1,
        }
    }
    before.push((o, n));
    let changes: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].0 != Kind::Same).collect();
    let ctx = opts.context_lines;
    let mut func: Option<&[u8]> = None;
    let mut searched_to: isize = -1; // git's `funclineprev`
    let mut g = 0;
    while g < changes.len() {
        let mut last = g;
        while last + 1 < changes.len() && changes[last + 1] - changes[last] - 1 <= ctx.saturating_mul(2) {
            last += 1;
        }
        let lo = changes[g].saturating_sub(ctx);
        let hi = changes[last].saturating_add(1).saturating_add(ctx).min(lines.len());
        let (o0, n0) = before[lo];
        let (o1, n1) = before[hi];
        // The function line: searched upwards from the line before the
        // hunk down to where the previous hunk's search started; kept from
        // the previous hunk when none is found (git's xdiff).
        let mut l = o0 as isize - 1;
        while l != searched_to && l >= 0 {
            if let Some(f) = func_name(old_lines[l as usize]) {
                func = Some(f);
                break;
            }
            l -= 1;
        }
        searched_to = o0 as isize - 1;
        let _ = write!(out, "@@ -{} +{} @@", hunk_range(o0, o1 - o0), hunk_range(n0, n1 - n0));
        if let Some(f) = func.filter(|f| !f.is_empty()) {
            out.push(b' ');
            out.extend_from_slice(f);
        }
        out.push(b'\n');
        for (k, t) in &lines[lo..hi] {
            out.push(match k {
                Kind::Same => b' ',
                Kind::Del => b'-',
                Kind::Ins => b'+',
            });
            out.extend_from_slice(t);
            if !t.ends_with(b"\n") {
                out.extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
        g = last + 1;
    }
    FilePatch { bytes: out, binary: false, added, deleted, old_size: old_bytes.len(), new_size: new_bytes.len() }
}

/// The entries whose path `pathspecs` selects (git's pathspec without
/// globs: a path, or a directory and everything below it; `.` is
/// everything); all of them when `pathspecs` is empty.
pub fn filter_paths(entries: Vec<DiffEntry>, pathspecs: &[String]) -> Vec<DiffEntry> {
    if pathspecs.is_empty() {
        return entries;
    }
    entries.into_iter().filter(|e| pathspecs.iter().any(|s| crate::stage::pathspec_matches(s, &e.path))).collect()
}

impl Repository {
    /// What commit `rev` changed: its record and the changes from its
    /// first parent (from nothing for a root commit), sorted by path
    /// (git's `show`; a merge is shown against its first parent, as
    /// `show --first-parent` does).
    ///
    /// # Errors
    /// As [`Self::revparse`]; store errors.
    pub fn commit_changes(&self, rev: &str) -> Result<(crate::records::CommitRecord, Vec<DiffEntry>)> {
        let id = self.revparse(rev)?;
        let rec = self.find_commit(&id)?;
        let old = self.manifest_of(rec.parent_commit_id.as_deref())?;
        let new = self.commit_manifest(&id)?;
        Ok((rec, diff_entries(&old, &new)))
    }

    /// The index (git's term): HEAD's manifest with the stage applied.
    ///
    /// # Errors
    /// Store errors; [`crate::error::Error::Corrupt`] for an undecodable
    /// stage.
    pub fn index_manifest(&self) -> Result<Manifest> {
        Ok(self.rev_and_index(None)?.1)
    }

    /// git's plain `diff`: the index ([`Self::index_manifest`]) against
    /// the working tree, for tracked paths only (an untracked file is not
    /// a change; a tracked file missing from the tree is deleted).
    ///
    /// # Errors
    /// As [`Self::index_manifest`]; walker errors.
    pub fn diff_index(&self) -> Result<Vec<DiffEntry>> {
        let index = self.index_manifest()?;
        let wt = self.tree(None)?;
        let mut entries = diff_entries(&index, &wt);
        entries.retain(|e| e.status != ChangeKind::Added);
        Ok(entries)
    }

    /// git's `diff --cached [rev]`: revision `rev` (default HEAD; empty on
    /// an unborn branch) against the index.
    ///
    /// # Errors
    /// As [`Self::tree`] and [`Self::index_manifest`].
    pub fn diff_cached(&self, rev: Option<&str>) -> Result<Vec<DiffEntry>> {
        let (old, index) = self.rev_and_index(rev)?;
        Ok(diff_entries(&old, &index))
    }

    /// The manifest of `rev` (default HEAD) and the index.
    fn rev_and_index(&self, rev: Option<&str>) -> Result<(Manifest, Manifest)> {
        let (_, _, head) = self.head_state()?;
        let stage = crate::stage::read_stage(self.workdir())?;
        let index = stage.apply_to(&head);
        let old = match rev {
            Some(r) => self.tree(Some(r))?,
            None => head,
        };
        Ok((old, index))
    }

    /// git's `diff <rev>`: revision `rev` (default HEAD) against the
    /// working tree's tracked files, the paths of the index (an untracked
    /// file is not shown; a path of `rev` missing from the index or the
    /// tree is deleted). Unlike [`Self::diff`], which compares with every
    /// file of the working tree.
    ///
    /// # Errors
    /// As [`Self::tree`] and [`Self::index_manifest`].
    pub fn diff_worktree(&self, rev: Option<&str>) -> Result<Vec<DiffEntry>> {
        let (old, index) = self.rev_and_index(rev)?;
        let mut wt = self.tree(None)?;
        wt.retain(|p, _| index.contains_key(p));
        Ok(diff_entries(&old, &wt))
    }

    /// The content of blob `id` at `path`: from the store, or when it is
    /// not stored (a working-tree side, hashed by the walker but never
    /// added) from the working-tree file `path`, which must still hash to
    /// `id`.
    ///
    /// # Errors
    /// [`crate::error::Error::InvalidInput`] when the file changed since
    /// the walk; [`crate::error::Error::NotFound`] when neither has it;
    /// store and I/O errors.
    pub fn diff_side(&self, path: &str, id: &str) -> Result<Vec<u8>> {
        use crate::error::{Error, IoContext};
        use std::io::Read;
        if self.has_blob(id)? {
            return self.read_blob(id);
        }
        crate::paths::validate_rel_path(path)?;
        let file = self.workdir().join(path);
        let not_found = || Error::NotFound { what: "blob", name: format!("{id} ({path})") };
        let f = match crate::stat_cache::open_for_hash(&file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(Error::io("open", &file, e)),
        };
        if !f.metadata().ctx("stat", &file)?.is_file() {
            return Err(not_found());
        }
        let mut bytes = Vec::new();
        (&f).read_to_end(&mut bytes).ctx("read", &file)?;
        if crate::ids::blob_id(&bytes) != id {
            return Err(Error::InvalidInput(format!("{path} changed while it was being diffed; run diff again")));
        }
        Ok(bytes)
    }

    /// The patch of one entry of a diff ([`format_patch`]), its sides read
    /// with [`Self::diff_side`].
    ///
    /// # Errors
    /// As [`Self::diff_side`].
    pub fn file_patch(&self, entry: &DiffEntry, opts: &PatchOptions) -> Result<FilePatch> {
        let old = entry.old_id.as_deref().map(|id| self.diff_side(&entry.path, id)).transpose()?;
        let new = entry.new_id.as_deref().map(|id| self.diff_side(&entry.path, id)).transpose()?;
        Ok(format_patch(&entry.path, old.as_deref(), new.as_deref(), opts))
    }

    /// The unified patch text of one entry ([`Self::file_patch`] as text).
    ///
    /// # Errors
    /// As [`Self::file_patch`].
    pub fn diff_patch(&self, entry: &DiffEntry, opts: &PatchOptions) -> Result<String> {
        Ok(self.file_patch(entry, opts)?.text())
    }
}
