//! Branch refs and HEAD (SPEC §1).
//!
//! `refs/heads/<branch>` holds `"<commit_id>\n"`; `HEAD` holds
//! `"ref: refs/heads/<branch>\n"` or a detached `"<commit_id>\n"`.
//!
//! Every ref update takes the ref's lock (`refs/heads/<branch>.lock`, an
//! exclusive `flock`, git's lock-file name), then writes the new value
//! through a temp and `rename`. Plain writes are therefore last-write-wins
//! and never torn; [`compare_and_swap_branch_ref`] additionally checks,
//! under the lock, that the ref still holds what the caller read, so no
//! update is lost. A lock file left by a killed process is not an obstacle:
//! `flock` locks die with their process.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::atomic::{write_atomic, Durability, Replace, MODE_MUTABLE, MUSE_TMP_PREFIX};
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::ids::validate_id;
use crate::paths::{head_path, heads_dir};

/// Checks a branch name against git's `check-ref-format` rules: non-empty;
/// no component that is empty or starts with `.`; no `..`, `@{`, `//`; no
/// ASCII control character, space, `~ ^ : ? * [ \`; no leading `-` or `/`;
/// no trailing `/` or `.`; no component ending in `.lock`; not `@`; at
/// most 255 bytes in all and 250 per component (room for `.lock`).
///
/// Also git's `strbuf_check_branch_ref` rules for `git branch`: not `HEAD`
/// (exactly; it would shadow the `HEAD` revision) and not starting with
/// `refs/` (`refs/heads/x` would make `refs/heads/refs/heads/x`, which
/// reads as another ref), and, as above, no leading `-` (it would read as
/// an option).
///
/// # Errors
/// [`Error::InvalidRefName`] naming the rule broken.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidRefName { name: name.chars().take(100).collect(), reason });
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    if name == "@" {
        return bad("'@' alone is not a valid name");
    }
    if name.starts_with('-') {
        return bad("starts with '-' (it would read as an option)");
    }
    if name == "HEAD" {
        return bad("'HEAD' is not a valid branch name (git's strbuf_check_branch_ref rule)");
    }
    if name.starts_with("refs/") {
        return bad("starts with 'refs/': give the short name (git's strbuf_check_branch_ref rule)");
    }
    if name.starts_with('/') || name.ends_with('/') {
        return bad("starts or ends with '/'");
    }
    if name.ends_with('.') {
        return bad("ends with '.'");
    }
    if name.contains("..") {
        return bad("contains '..'");
    }
    if name.contains("@{") {
        return bad("contains '@{'");
    }
    if let Some(c) = name.chars().find(|c| c.is_ascii_control() || " ~^:?*[\\".contains(*c)) {
        return if c.is_ascii_control() { bad("contains a control character") } else { bad("contains one of ' ~^:?*[\\'") };
    }
    for comp in name.split('/') {
        if comp.is_empty() {
            return bad("contains '//'");
        }
        if comp.starts_with('.') {
            return bad("a component starts with '.'");
        }
        if comp.ends_with(".lock") {
            return bad("a component ends with '.lock'");
        }
        if comp.len() > 250 {
            return bad("a component is longer than 250 bytes (its lock file must fit in 255)");
        }
    }
    Ok(())
}

/// What HEAD points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// `ref: refs/heads/<branch>`.
    Branch(String),
    /// A detached commit ID.
    Detached(String),
}

impl Head {
    /// The commit of a detached HEAD, `None` on a branch.
    pub fn detached(&self) -> Option<&str> {
        match self {
            Head::Branch(_) => None,
            Head::Detached(c) => Some(c),
        }
    }
}

/// Reads HEAD. A missing HEAD reads as `Branch("main")`.
///
/// # Errors
/// [`Error::Corrupt`] when HEAD is neither form; [`Error::Io`].
pub fn read_head(root: &Path) -> Result<Head> {
    let path = head_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Head::Branch("main".into())),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let text = text.trim();
    if let Some(r) = text.strip_prefix("ref:") {
        let r = r.trim();
        let branch = r
            .strip_prefix("refs/heads/")
            .ok_or_else(|| Error::corrupt("HEAD", &path, format!("points outside refs/heads: {r:?}")))?;
        validate_branch_name(branch).map_err(|e| Error::corrupt("HEAD", &path, e.to_string()))?;
        Ok(Head::Branch(branch.to_string()))
    } else {
        validate_id(text).map_err(|e| Error::corrupt("HEAD", &path, e.to_string()))?;
        Ok(Head::Detached(text.to_string()))
    }
}

/// Points HEAD at `branch` (which need not exist yet). Durable on return.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::Io`].
pub fn write_head_branch(root: &Path, branch: &str) -> Result<()> {
    validate_branch_name(branch)?;
    let d = durability_for(root, None)?;
    write_atomic(&head_path(root), MUSE_TMP_PREFIX, format!("ref: refs/heads/{branch}\n").as_bytes(), MODE_MUTABLE, d, Replace::Overwrite)?;
    Ok(())
}

/// Moves HEAD to `commit_id`: updates the branch HEAD points at, or, when
/// HEAD is detached, HEAD itself (git's `update-ref HEAD`). Last write wins.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::Io`], [`Error::Corrupt`] for a bad HEAD.
pub fn write_head_commit(root: &Path, commit_id: &str) -> Result<()> {
    validate_id(commit_id)?;
    match read_head(root)? {
        Head::Branch(b) => write_branch_ref(root, &b, commit_id),
        Head::Detached(_) => {
            let d = durability_for(root, None)?;
            write_atomic(&head_path(root), MUSE_TMP_PREFIX, format!("{commit_id}\n").as_bytes(), MODE_MUTABLE, d, Replace::Overwrite)?;
            Ok(())
        }
    }
}

/// Detaches HEAD at `commit_id`.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::Io`].
pub fn write_head_detached(root: &Path, commit_id: &str) -> Result<()> {
    validate_id(commit_id)?;
    let d = durability_for(root, None)?;
    write_atomic(&head_path(root), MUSE_TMP_PREFIX, format!("{commit_id}\n").as_bytes(), MODE_MUTABLE, d, Replace::Overwrite)?;
    Ok(())
}

/// The commit HEAD resolves to, or `None` for an unborn branch.
///
/// # Errors
/// As [`read_head`] and [`read_branch_ref`].
pub fn resolve_head(root: &Path) -> Result<Option<String>> {
    match read_head(root)? {
        Head::Branch(b) => read_branch_ref(root, &b),
        Head::Detached(id) => Ok(Some(id)),
    }
}

/// Path of the ref file of `branch` (validated).
///
/// # Errors
/// [`Error::InvalidRefName`].
pub fn branch_ref_path(root: &Path, branch: &str) -> Result<PathBuf> {
    validate_branch_name(branch)?;
    Ok(heads_dir(root).join(branch))
}

/// The commit ID `branch` points at, or `None` when the branch does not
/// exist.
///
/// # Errors
/// [`Error::InvalidRefName`]; [`Error::Corrupt`] when the file does not hold
/// a valid ID; [`Error::Io`].
pub fn read_branch_ref(root: &Path, branch: &str) -> Result<Option<String>> {
    let path = branch_ref_path(root, branch)?;
    read_ref_file(&path)
}

fn read_ref_file(path: &Path) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::corrupt("ref", path, "not UTF-8"))
        }
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let id = text.trim();
    validate_id(id).map_err(|e| Error::corrupt("ref", path, e.to_string()))?;
    Ok(Some(id.to_string()))
}

/// An exclusive lock on one ref, held until dropped.
struct RefLock {
    path: PathBuf,
    _file: File,
}

impl RefLock {
    fn acquire(ref_path: &Path) -> Result<RefLock> {
        let mut name = ref_path.file_name().expect("ref has a name").to_os_string();
        name.push(".lock");
        let path = ref_path.with_file_name(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ctx("create directory", dir)?;
        }
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .ctx("open lock", &path)?;
            file.lock().ctx("lock", &path)?;
            // The previous holder unlinks the lock file when done; make sure
            // we hold the file that is still at the path.
            let held = file.metadata().ctx("stat", &path)?;
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.ino() == held.ino() && m.dev() == held.dev() => {
                    return Ok(RefLock { path, _file: file })
                }
                _ => continue,
            }
        }
    }
}

impl Drop for RefLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so a waiter that wins the
        // lock next sees the path gone and retries on a fresh file.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn store_ref(root: &Path, path: &Path, commit_id: &str, durability: Durability) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx("create directory", dir)?;
    }
    write_atomic(path, MUSE_TMP_PREFIX, format!("{commit_id}\n").as_bytes(), MODE_MUTABLE, durability, Replace::Overwrite)?;
    let _ = root;
    Ok(())
}

/// Points `branch` at `commit_id` (last write wins; the commit need not
/// exist). Durable on return under the default `[core] fsync` policy.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::InvalidId`] (nothing written),
/// [`Error::Io`].
pub fn write_branch_ref(root: &Path, branch: &str, commit_id: &str) -> Result<()> {
    let path = branch_ref_path(root, branch)?;
    validate_id(commit_id)?;
    let durability = durability_for(root, None)?;
    let _lock = RefLock::acquire(&path)?;
    store_ref(root, &path, commit_id, durability)
}

/// Moves `branch` from `expected` to `new` atomically: under the ref's lock,
/// the current value must equal `expected` (`None`: the branch must not
/// exist), else nothing is written.
///
/// # Errors
/// [`Error::RefConflict`] when the ref moved since the caller read it;
/// [`Error::InvalidRefName`], [`Error::InvalidId`], [`Error::Io`].
pub fn compare_and_swap_branch_ref(root: &Path, branch: &str, expected: Option<&str>, new: &str) -> Result<()> {
    let path = branch_ref_path(root, branch)?;
    validate_id(new)?;
    if let Some(e) = expected {
        validate_id(e)?;
    }
    let durability = durability_for(root, None)?;
    let _lock = RefLock::acquire(&path)?;
    let actual = read_ref_file(&path)?;
    if actual.as_deref() != expected {
        return Err(Error::RefConflict {
            name: format!("refs/heads/{branch}"),
            expected: expected.map(str::to_string),
            actual,
        });
    }
    store_ref(root, &path, new, durability)
}

/// Deletes `branch`. With `expected`, only if it still points there.
/// Returns whether a ref was deleted.
///
/// # Errors
/// [`Error::RefConflict`], [`Error::InvalidRefName`], [`Error::Io`].
pub fn delete_branch_ref(root: &Path, branch: &str, expected: Option<&str>) -> Result<bool> {
    let path = branch_ref_path(root, branch)?;
    let _lock = RefLock::acquire(&path)?;
    let actual = read_ref_file(&path)?;
    if expected.is_some() && actual.as_deref() != expected {
        return Err(Error::RefConflict {
            name: format!("refs/heads/{branch}"),
            expected: expected.map(str::to_string),
            actual,
        });
    }
    if actual.is_none() {
        return Ok(false);
    }
    std::fs::remove_file(&path).ctx("remove", &path)?;
    if durability_for(root, None)? == Durability::Full {
        crate::atomic::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(true)
}

/// One change of [`transaction`]: `branch` must currently be `expected`
/// (`None` = any value, `Some(None)` = absent, `Some(Some(id))` = `id`) and
/// becomes `new` (`None` = deleted).
pub type RefUpdate<'a> = (&'a str, Option<Option<&'a str>>, Option<&'a str>);

/// Applies every update or none (git's ref transaction for loose refs): all
/// the refs are locked (in name order, so two transactions cannot deadlock),
/// every expectation is checked, then every ref is written or deleted.
///
/// # Errors
/// [`Error::RefConflict`] naming the first ref that is not as expected
/// (nothing written); [`Error::InvalidRefName`], [`Error::InvalidId`],
/// [`Error::Io`].
pub fn transaction(root: &Path, updates: &[RefUpdate<'_>]) -> Result<()> {
    let mut items = Vec::with_capacity(updates.len());
    for (branch, expected, new) in updates {
        items.push((format!("refs/heads/{branch}"), branch_ref_path(root, branch)?, *expected, *new));
    }
    apply_updates(root, items)
}

/// One ref change for [`apply_updates`]: the ref's name (for messages),
/// its file, what it must be and what it becomes (as [`RefUpdate`]).
type PathUpdate<'a> = (String, PathBuf, Option<Option<&'a str>>, Option<&'a str>);

/// The all-or-nothing application of [`transaction`] over ref files of any
/// namespace (branches, tags): locks in path order, checks, writes.
fn apply_updates(root: &Path, mut items: Vec<PathUpdate<'_>>) -> Result<()> {
    items.sort_by(|a, b| a.1.cmp(&b.1));
    for (i, (name, path, expected, new)) in items.iter().enumerate() {
        if let Some(n) = new {
            validate_id(n)?;
        }
        if let Some(Some(e)) = expected {
            validate_id(e)?;
        }
        if i > 0 && items[i - 1].1 == *path {
            return Err(Error::InvalidInput(format!("ref transaction names {name} twice")));
        }
    }
    let durability = durability_for(root, None)?;
    let mut locks = Vec::with_capacity(items.len());
    for (_, path, _, _) in &items {
        locks.push(RefLock::acquire(path)?);
    }
    for (name, path, expected, _) in &items {
        if let Some(expected) = expected {
            let actual = read_ref_file(path)?;
            if actual.as_deref() != *expected {
                return Err(Error::RefConflict { name: name.clone(), expected: expected.map(str::to_string), actual });
            }
        }
    }
    for (_, path, _, new) in &items {
        match new {
            Some(id) => store_ref(root, path, id, durability)?,
            None => {
                crate::atomic::remove_if_present(path)?;
                if durability == Durability::Full {
                    crate::atomic::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
                }
            }
        }
    }
    drop(locks);
    Ok(())
}

/// The stash entries (commit IDs, newest first); empty when there is no
/// stash.
///
/// # Errors
/// [`Error::Corrupt`] for a line that is not an ID, [`Error::Io`].
pub fn read_stash(root: &Path) -> Result<Vec<String>> {
    let path = crate::paths::stash_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| match validate_id(l) {
            Ok(_) => Ok(l.to_string()),
            Err(e) => Err(Error::corrupt("stash", &path, e.to_string())),
        })
        .collect()
}

/// Replaces the stash entries with `new` under the stash's lock, if they
/// are still `expected` (compare-and-swap); an empty list removes the file.
///
/// # Errors
/// [`Error::RefConflict`] when the stash changed meanwhile (nothing
/// written), [`Error::InvalidId`], [`Error::Io`].
pub fn update_stash(root: &Path, expected: &[String], new: &[String]) -> Result<()> {
    for id in new {
        validate_id(id)?;
    }
    let path = crate::paths::stash_path(root);
    let _lock = RefLock::acquire(&path)?;
    let actual = read_stash(root)?;
    if actual != expected {
        return Err(Error::RefConflict {
            name: "refs/stash".into(),
            expected: expected.first().cloned(),
            actual: actual.first().cloned(),
        });
    }
    let durability = durability_for(root, None)?;
    if new.is_empty() {
        crate::atomic::remove_if_present(&path)?;
        return Ok(());
    }
    let text: String = new.iter().map(|id| format!("{id}\n")).collect();
    write_atomic(&path, MUSE_TMP_PREFIX, text.as_bytes(), MODE_MUTABLE, durability, Replace::Overwrite)?;
    Ok(())
}

/// Path of tag `name`'s file: `<root>/.muse/tags/<name>` (tag names follow
/// the branch-name rules; `import-git` writes git's tags there).
///
/// # Errors
/// [`Error::InvalidRefName`].
pub fn tag_ref_path(root: &Path, name: &str) -> Result<PathBuf> {
    validate_branch_name(name)?;
    Ok(crate::paths::tags_dir(root).join(name))
}

/// The commit tag `name` points at, `None` when there is no such tag.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::Corrupt`], [`Error::Io`].
pub fn read_tag(root: &Path, name: &str) -> Result<Option<String>> {
    read_ref_file(&tag_ref_path(root, name)?)
}

/// Every tag as `(name, commit ID)`, sorted by name.
///
/// # Errors
/// [`Error::Corrupt`] for a tag file that does not hold an ID, [`Error::Io`].
pub fn list_tags(root: &Path) -> Result<Vec<(String, String)>> {
    list_ref_dir(&crate::paths::tags_dir(root))
}

/// Creates, moves or deletes tag `name` under its lock: it must currently
/// be `expected` (as in [`RefUpdate`]) and becomes `new` (`None`: deleted).
///
/// # Errors
/// [`Error::RefConflict`] (nothing written), [`Error::InvalidRefName`],
/// [`Error::InvalidId`], [`Error::Io`].
pub fn update_tag(root: &Path, name: &str, expected: Option<Option<&str>>, new: Option<&str>) -> Result<()> {
    apply_updates(root, vec![(format!("refs/tags/{name}"), tag_ref_path(root, name)?, expected, new)])
}

/// Checks a remote's name: the branch-name rules of
/// [`validate_branch_name`] and no `/` (git's remote names may hold `/`,
/// muse's may not, so `<remote>/<branch>` splits at its first `/`).
///
/// # Errors
/// [`Error::InvalidRefName`].
pub fn validate_remote_name(name: &str) -> Result<()> {
    validate_branch_name(name)?;
    if name.contains('/') {
        return Err(Error::InvalidRefName { name: name.chars().take(100).collect(), reason: "a remote name has no '/'" });
    }
    Ok(())
}

/// `<root>/.muse/refs/remotes`: the remote-tracking refs
/// (`refs/remotes/<remote>/<branch>`, git's layout).
pub fn remotes_dir(root: &Path) -> PathBuf {
    crate::paths::refs_dir(root).join("remotes")
}

/// Splits a remote-tracking ref's short name `<remote>/<branch>` and
/// validates both parts.
///
/// # Errors
/// [`Error::InvalidRefName`] (no `/`, or a bad remote or branch name).
pub fn split_remote_ref(name: &str) -> Result<(&str, &str)> {
    let Some((remote, branch)) = name.split_once('/') else {
        return Err(Error::InvalidRefName {
            name: name.chars().take(100).collect(),
            reason: "a remote-tracking ref is named <remote>/<branch>",
        });
    };
    validate_remote_name(remote)?;
    validate_branch_name(branch)?;
    Ok((remote, branch))
}

/// Path of remote-tracking ref `<remote>/<branch>`:
/// `<root>/.muse/refs/remotes/<remote>/<branch>`.
///
/// # Errors
/// [`Error::InvalidRefName`].
pub fn remote_ref_path(root: &Path, name: &str) -> Result<PathBuf> {
    split_remote_ref(name)?;
    Ok(remotes_dir(root).join(name))
}

/// Every remote-tracking ref as `(<remote>/<branch>, commit ID)`, sorted.
///
/// # Errors
/// [`Error::Corrupt`], [`Error::Io`].
pub fn list_remote_refs(root: &Path) -> Result<Vec<(String, String)>> {
    Ok(list_ref_dir(&remotes_dir(root))?.into_iter().filter(|(n, _)| split_remote_ref(n).is_ok()).collect())
}

/// The commit remote-tracking ref `<remote>/<branch>` points at.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::Corrupt`], [`Error::Io`].
pub fn read_remote_ref(root: &Path, name: &str) -> Result<Option<String>> {
    read_ref_file(&remote_ref_path(root, name)?)
}

/// Applies every update of remote-tracking refs or none, as
/// [`transaction`] does for branches; names are `<remote>/<branch>`.
///
/// # Errors
/// As [`transaction`].
pub fn update_remote_refs(root: &Path, updates: &[RefUpdate<'_>]) -> Result<()> {
    let mut items = Vec::with_capacity(updates.len());
    for (name, expected, new) in updates {
        items.push((format!("refs/remotes/{name}"), remote_ref_path(root, name)?, *expected, *new));
    }
    apply_updates(root, items)
}

/// All branches as `(name, commit_id)`, sorted by name. Lock files and
/// temps are skipped; a ref file that does not hold a valid ID is an error.
///
/// # Errors
/// [`Error::Corrupt`], [`Error::Io`].
pub fn list_branches(root: &Path) -> Result<Vec<(String, String)>> {
    list_ref_dir(&heads_dir(root))
}

/// Every ref file below `base` (any depth) as `(relative name, ID)`, sorted.
fn list_ref_dir(base: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![(base.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        for entry in rd {
            let entry = entry.ctx("list", &dir)?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if name.starts_with('.') || name.ends_with(".lock") {
                continue;
            }
            let full = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let ft = entry.file_type().ctx("stat", &entry.path())?;
            if ft.is_dir() {
                stack.push((entry.path(), full));
            } else if ft.is_file() {
                if let Some(id) = read_ref_file(&entry.path())? {
                    out.push((full, id));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        for ok in ["main", "feature/x", "v1.2", "a-b_c", "ü", "head", "HEADS", "x/HEAD", "refs", "refsx/y"] {
            validate_branch_name(ok).unwrap();
        }
        for bad in [
            "", "-x", "/x", "x/", "a..b", "a b", "a\tb", "a\x7fb", "x.lock", "a/b.lock/c", ".hidden", "a/.b", "a//b",
            "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "@", "a@{1}", "end.",
        ] {
            assert!(validate_branch_name(bad).is_err(), "{bad:?} accepted");
        }
        // git's strbuf_check_branch_ref rules.
        for bad in ["HEAD", "refs/heads/x", "refs/x", "-", "--force"] {
            assert!(validate_branch_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
