//! Where things live inside a repository (SPEC §1), and validation of
//! repository-relative paths.
//!
//! Every function here is pure: none touches the filesystem, none creates a
//! directory. All take the repository root (the directory that holds
//! `.muse/`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ids::{validate_id, ALGORITHM};

/// Name of the repository metadata directory.
pub const MUSE_DIR: &str = ".muse";

/// `<root>/.muse`
pub fn muse_dir(root: &Path) -> PathBuf {
    root.join(MUSE_DIR)
}
/// Name of the index lock in `.muse/` ([`crate::lock::index_lock`]).
pub const INDEX_LOCK_NAME: &str = "index.lock";
/// Name of the write lock in `.muse/` ([`crate::lock::write_lock`]).
pub const WRITE_LOCK_NAME: &str = "gc.lock";
/// Name of the write lock's gate in `.muse/`.
pub const WRITE_GATE_NAME: &str = "gc-gate.lock";
/// Name of the operation journal in `.muse/` ([`crate::operation`]).
pub const OPERATION_FILE: &str = "OPERATION";
/// Name of the GC stamp file in `.muse/cache/`: its mtime is the time of the
/// last startup GC that left nothing live behind.
pub const GC_STAMP_NAME: &str = "gc_stamp";

/// `<root>/.muse/index.lock`
pub fn index_lock_path(root: &Path) -> PathBuf {
    muse_dir(root).join(INDEX_LOCK_NAME)
}
/// `<root>/.muse/gc.lock`
pub fn write_lock_path(root: &Path) -> PathBuf {
    muse_dir(root).join(WRITE_LOCK_NAME)
}
/// `<root>/.muse/gc-gate.lock`
pub fn write_gate_path(root: &Path) -> PathBuf {
    muse_dir(root).join(WRITE_GATE_NAME)
}
/// `<root>/.muse/OPERATION`
pub fn operation_path(root: &Path) -> PathBuf {
    muse_dir(root).join(OPERATION_FILE)
}
/// `<root>/.muse/cache/gc_stamp`
pub fn gc_stamp_path(root: &Path) -> PathBuf {
    cache_dir(root).join(GC_STAMP_NAME)
}
/// `<root>/.muse/packs`
pub fn packs_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("packs")
}
/// `<root>/.muse/git-map`: the git → muse commit mapping of `import-git`.
pub fn git_map_path(root: &Path) -> PathBuf {
    muse_dir(root).join("git-map")
}
/// `<root>/.muse/git-tips`: the git tips `import-git` last imported.
pub fn git_tips_path(root: &Path) -> PathBuf {
    muse_dir(root).join("git-tips")
}
/// Path of the stage file (git's index): `<root>/.muse/index.msgpack`.
pub fn index_path(root: &Path) -> PathBuf {
    muse_dir(root).join("index.msgpack")
}
/// Path of the merge-state file, the commit being merged while a merge has
/// conflicts (git's `MERGE_HEAD`): `<root>/.muse/MERGE_HEAD`.
pub fn merge_head_path(root: &Path) -> PathBuf {
    muse_dir(root).join("MERGE_HEAD")
}
/// `<root>/.muse/repo.json`
pub fn repo_json_path(root: &Path) -> PathBuf {
    muse_dir(root).join("repo.json")
}
/// `<root>/.muse/config.toml`
pub fn config_toml_path(root: &Path) -> PathBuf {
    muse_dir(root).join("config.toml")
}
/// `<root>/.muse/HEAD`
pub fn head_path(root: &Path) -> PathBuf {
    muse_dir(root).join("HEAD")
}
/// `<root>/.muse/refs`
pub fn refs_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("refs")
}
/// `<root>/.muse/refs/stash`: the stash entries (commit IDs, newest
/// first, one per line).
pub fn stash_path(root: &Path) -> PathBuf {
    refs_dir(root).join("stash")
}
/// `<root>/.muse/refs/heads`
pub fn heads_dir(root: &Path) -> PathBuf {
    refs_dir(root).join("heads")
}
/// `<root>/.muse/commits`
pub fn commits_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("commits")
}
/// `<root>/.muse/snapshots`
pub fn snapshots_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("snapshots")
}
/// `<root>/.muse/objects`
pub fn objects_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("objects")
}
/// `<root>/.muse/objects/sha256`: the parent of the 256 shard directories.
pub fn object_shards_dir(root: &Path) -> PathBuf {
    objects_dir(root).join(ALGORITHM)
}
/// `<root>/.muse/tags` (reserved record directory).
pub fn tags_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("tags")
}
/// `<root>/.muse/releases` (reserved record directory).
pub fn releases_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("releases")
}
/// `<root>/.muse/branches` (reserved record directory).
pub fn branches_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("branches")
}
/// `<root>/.muse/cache`
pub fn cache_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("cache")
}
/// `<root>/.muse/cache/stat_cache.json` (SPEC §5).
pub fn stat_cache_path(root: &Path) -> PathBuf {
    cache_dir(root).join("stat_cache.json")
}
/// `<root>/.muse/tmp`: staging area of write batches.
pub fn staging_dir(root: &Path) -> PathBuf {
    muse_dir(root).join("tmp")
}

/// `<root>/.muse/objects/sha256/<h[0:2]>/<h[2:64]>` for a valid blob ID.
///
/// # Errors
/// [`Error::InvalidId`] for a malformed ID (checked before any path is built).
pub fn object_path(root: &Path, id: &str) -> Result<PathBuf> {
    let hex = validate_id(id)?;
    let mut p = object_shards_dir(root);
    p.push(&hex[..2]);
    p.push(&hex[2..]);
    Ok(p)
}

/// `<root>/.muse/commits/<hex>.msgpack` for a valid commit ID.
///
/// # Errors
/// [`Error::InvalidId`] for a malformed ID.
pub fn commit_path(root: &Path, id: &str) -> Result<PathBuf> {
    let hex = validate_id(id)?;
    Ok(commits_dir(root).join(format!("{hex}.msgpack")))
}

/// `<root>/.muse/snapshots/<hex>.msgpack` for a valid snapshot ID.
///
/// # Errors
/// [`Error::InvalidId`] for a malformed ID.
pub fn snapshot_path(root: &Path, id: &str) -> Result<PathBuf> {
    let hex = validate_id(id)?;
    Ok(snapshots_dir(root).join(format!("{hex}.msgpack")))
}

/// The HFS+ "ignorable" code points (git's `next_hfs_char` in `utf8.c`):
/// HFS+ drops them when it compares names, so `.mu\u{200c}se` opens `.muse`.
fn is_hfs_ignorable(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// Which alias of a reserved directory name a component is (see
/// [`reserved_alias`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alias {
    /// The name itself, in any ASCII case.
    Exact,
    /// With trailing dots or spaces, or an NTFS stream suffix (`:…`).
    Ntfs,
    /// With HFS+ ignorable code points.
    Hfs,
    /// The NTFS 8.3 short name.
    ShortName,
}

/// Whether `component` opens the directory `.{name}` (`name` lowercase
/// ASCII, e.g. `"muse"`) on some filesystem, and through which alias:
/// git's `is_ntfs_dotgit` / `is_hfs_dotgit` (`path.c`, `utf8.c`) for
/// another name. HFS+ ignorable code points are removed first, then
/// anything from the first `:` on (an NTFS alternate data stream, e.g.
/// `.muse::$INDEX_ALLOCATION`, git's `is_ntfs_dot_generic`), then NTFS
/// trailing dots and spaces; what remains must be `.{name}` ignoring ASCII
/// case, or the 8.3 short name `{name}~1` (the first six characters of the
/// name, `~1`; `name` is shorter than six here).
fn reserved_alias(component: &str, name: &str) -> Option<Alias> {
    let b = component.as_bytes();
    // Fast path: a component that is short, or starts with neither `.`,
    // the short name's first letter nor a multi-byte character, can be no
    // alias (every ignorable is 3 bytes of UTF-8 starting 0xE2 or 0xEF).
    let first = *b.first()?;
    if b.len() < name.len() + 1 || !(first == b'.' || first.eq_ignore_ascii_case(&name.as_bytes()[0]) || first >= 0x80)
    {
        return None;
    }
    let stripped: std::borrow::Cow<'_, str> = if component.is_ascii() {
        component.into()
    } else {
        component.chars().filter(|c| !is_hfs_ignorable(*c)).collect::<String>().into()
    };
    let hfs = stripped.len() != component.len();
    let before_stream = stripped.split(':').next().unwrap_or_default();
    let trimmed = before_stream.trim_end_matches(['.', ' ']);
    let ntfs = trimmed.len() != stripped.len();
    let is_dot_name =
        trimmed.len() == name.len() + 1 && trimmed.starts_with('.') && trimmed[1..].eq_ignore_ascii_case(name);
    let is_short = trimmed.len() == name.len() + 2
        && trimmed.ends_with("~1")
        && trimmed[..name.len()].eq_ignore_ascii_case(name);
    match (is_dot_name, is_short) {
        (false, false) => None,
        (false, true) => Some(Alias::ShortName),
        (true, _) if hfs => Some(Alias::Hfs),
        (true, _) if ntfs => Some(Alias::Ntfs),
        (true, _) => Some(Alias::Exact),
    }
}

/// Why the path component `component` names the repository directory
/// `.muse` — git's `verify_path` rule that no path may have a `.git`
/// component (`verify_dotfile`, `is_ntfs_dotgit`, `is_hfs_dotgit`), for
/// muse's own directory — or `None` when it does not.
///
/// A component is refused when, after removing the HFS+ ignorable code
/// points (U+200C–U+200F, U+202A–U+202E, U+206A–U+206F, U+FEFF), then any
/// NTFS stream suffix (`:…`), then NTFS trailing dots and spaces, it is
/// `.muse` ignoring ASCII case, or it is the NTFS 8.3 short name `muse~1`
/// (ignoring ASCII case). `.museignore`, `x.muse`, `muse`, `.mused` are
/// ordinary names. The working-tree walker can use this to leave such
/// names out.
pub fn muse_alias_reason(component: &str) -> Option<&'static str> {
    Some(match reserved_alias(component, "muse")? {
        Alias::Exact => "a component is '.muse' (in some letter case): the repository directory (git's verify_path rule)",
        Alias::Ntfs => {
            "a component is an NTFS alias of '.muse' (trailing dots or spaces, or a ':' stream suffix; git's is_ntfs_dotgit rule)"
        }
        Alias::Hfs => "a component is an HFS+ alias of '.muse' (ignorable Unicode code points; git's is_hfs_dotgit rule)",
        Alias::ShortName => "a component is 'muse~1', the NTFS 8.3 short name of '.muse' (git's is_ntfs_dotgit rule)",
    })
}

/// Why the path component `component` names a `.git` directory (git's own
/// `verify_path` rule: `verify_dotfile`, `is_ntfs_dotgit`,
/// `is_hfs_dotgit`), or `None`. The aliases are those of
/// [`muse_alias_reason`]: `.git` in any case, with trailing dots or spaces
/// or a `:` stream suffix, with HFS+ ignorable code points, or the 8.3
/// short name `git~1`. Only for paths from outside the repository (see
/// [`validate_incoming_path`]): a working tree may well be a git checkout.
pub fn git_alias_reason(component: &str) -> Option<&'static str> {
    Some(match reserved_alias(component, "git")? {
        Alias::Exact => "a component is '.git' (in some letter case): git's verify_path rule",
        Alias::Ntfs => {
            "a component is an NTFS alias of '.git' (trailing dots or spaces, or a ':' stream suffix; git's is_ntfs_dotgit rule)"
        }
        Alias::Hfs => "a component is an HFS+ alias of '.git' (ignorable Unicode code points; git's is_hfs_dotgit rule)",
        Alias::ShortName => "a component is 'git~1', the NTFS 8.3 short name of '.git' (git's is_ntfs_dotgit rule)",
    })
}

/// The syntax rules of [`validate_rel_path`] and, per component, the
/// `reserved` rule.
fn check_path(path: &str, reserved: impl Fn(&str) -> Option<&'static str>) -> Result<()> {
    let bad = |reason| Err(Error::InvalidPath { path: path.chars().take(200).collect(), reason });
    if path.is_empty() {
        return bad("empty path");
    }
    if path.contains('\0') {
        return bad("contains NUL");
    }
    if path.contains('\\') {
        return bad("contains a backslash");
    }
    if path.starts_with('/') {
        return bad("absolute path");
    }
    for seg in path.split('/') {
        match seg {
            "" => return bad("empty segment (leading, trailing or doubled '/')"),
            "." | ".." => return bad("'.' or '..' segment"),
            _ => {
                if let Some(reason) = reserved(seg) {
                    return bad(reason);
                }
            }
        }
    }
    Ok(())
}

/// Checks that `path` is a clean POSIX path relative to the working tree, as
/// stored in manifests (git's `verify_path`): non-empty, `/`-separated, no
/// leading or trailing `/`, no empty, `.` or `..` segment, no NUL or `\`,
/// and no component, at any depth, that is `.muse` or an alias of it (see
/// [`muse_alias_reason`]: `.MUSE`, `.muse.`, `.muse `, `muse~1`,
/// `.mu\u{200c}se`, …).
///
/// # Errors
/// [`Error::InvalidPath`] naming the path and the rule broken.
pub fn validate_rel_path(path: &str) -> Result<()> {
    check_path(path, muse_alias_reason)
}

/// [`validate_rel_path`] plus git's own `.git` rule (see
/// [`git_alias_reason`]): for paths that arrive from outside the
/// repository — bundles ([`crate::mpack::apply_mpack`]) and git imports
/// ([`crate::import_git`]) — which must never plant a `.git` directory
/// (git's `verify_path`, CVE-2014-9390). The working-tree walker does not
/// use it: muse may run inside a git checkout.
///
/// # Errors
/// [`Error::InvalidPath`] naming the path and the rule broken.
pub fn validate_incoming_path(path: &str) -> Result<()> {
    check_path(path, |c| muse_alias_reason(c).or_else(|| git_alias_reason(c)))
}

/// The error of a file/directory clash: `file` is a path and `under` a
/// path beneath it.
fn clash(file: &str, under: &str) -> Error {
    let show = |p: &str| p.chars().take(200).collect::<String>();
    Error::InvalidInput(format!(
        "manifest has both {:?} and {:?}: a path cannot be a file and a directory at once \
         (git's index rule, \"appears as both a file and as a directory\")",
        show(file),
        show(under)
    ))
}

/// Checks that no path of a manifest is both a file and a directory: no
/// `a` beside `a/b` (git's `add_index_entry_with_check` / fsck
/// `duplicateEntries` rule; such a tree cannot be checked out).
///
/// `sorted_paths` must be strictly increasing (byte order, as the keys of
/// a `BTreeMap<String, _>`). One pass, keeping a stack of the paths that
/// are string prefixes of the current one: O(total length), no allocation
/// beyond that stack (fine for manifests of millions of paths).
///
/// # Errors
/// [`Error::InvalidInput`] naming both paths (the file and the first path
/// found under it), or saying the input is not sorted.
pub fn check_no_file_dir_clash<'a>(sorted_paths: impl IntoIterator<Item = &'a str>) -> Result<()> {
    // Paths seen so far that are string prefixes of the current one, each a
    // prefix of the next. A path that is no prefix of the current one is a
    // prefix of no later one either (sorted order), so it is popped.
    let mut stack: Vec<&'a str> = Vec::new();
    let mut prev: Option<&'a str> = None;
    for p in sorted_paths {
        if let Some(q) = prev {
            if p <= q {
                return Err(Error::InvalidInput(format!(
                    "manifest paths are not strictly sorted ({:?} after {:?})",
                    p.chars().take(200).collect::<String>(),
                    q.chars().take(200).collect::<String>()
                )));
            }
        }
        prev = Some(p);
        while stack.last().is_some_and(|top| !p.starts_with(top)) {
            stack.pop();
        }
        // Every stacked path is a prefix of `p`; the one that is a
        // directory of `p` is followed by '/'. Check them all (the stack
        // is as deep as the chain of nested prefixes, usually 0 or 1).
        if let Some(file) = stack.iter().find(|f| p.as_bytes().get(f.len()) == Some(&b'/')) {
            return Err(clash(file, p));
        }
        stack.push(p);
    }
    Ok(())
}

/// Checks that `path`, an entry of `manifest`, clashes with no other entry:
/// no ancestor directory of it is a file of `manifest` and no entry lies
/// beneath it. The rule of [`check_no_file_dir_clash`], for one path of a
/// manifest that is already clash-free except, at most, at the paths
/// checked this way: O(depth · log n) per path, for writers that know which
/// paths changed.
///
/// # Errors
/// [`Error::InvalidInput`] naming both paths.
pub fn check_no_file_dir_clash_at<V>(manifest: &std::collections::BTreeMap<String, V>, path: &str) -> Result<()> {
    check_no_file_dir_clash_with(
        path,
        |dir| manifest.contains_key(dir),
        |prefix| {
            manifest
                .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
        },
    )
}

/// [`check_no_file_dir_clash_at`] over any sorted map: `contains(dir)`
/// tells whether `dir` is a file of the manifest, `first_under(prefix)`
/// gives the first path starting with `prefix` (a directory name and
/// `/`), if any.
///
/// # Errors
/// [`Error::InvalidInput`] naming both paths.
pub(crate) fn check_no_file_dir_clash_with(
    path: &str,
    contains: impl Fn(&str) -> bool,
    first_under: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    for (i, _) in path.match_indices('/') {
        let dir = &path[..i];
        if contains(dir) {
            return Err(clash(dir, path));
        }
    }
    let prefix = format!("{path}/");
    if let Some(under) = first_under(&prefix) {
        return Err(clash(path, &under));
    }
    Ok(())
}

/// A validated repository-relative path (the rule of [`validate_rel_path`]):
/// parsed once at the API edge, then passed around without re-checking.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RepoPath(String);

impl RepoPath {
    /// Validates `path` ([`validate_rel_path`]).
    ///
    /// # Errors
    /// [`Error::InvalidPath`] naming the rule broken.
    pub fn new(path: impl Into<String>) -> Result<RepoPath> {
        let path = path.into();
        validate_rel_path(&path)?;
        Ok(RepoPath(path))
    }

    /// The path as a `/`-separated string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepoPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RepoPath {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<RepoPath> {
        RepoPath::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let r = Path::new("/r");
        assert_eq!(stat_cache_path(r), Path::new("/r/.muse/cache/stat_cache.json"));
        let id = crate::ids::blob_id(b"x");
        let p = object_path(r, &id).unwrap();
        assert_eq!(p.parent().unwrap(), object_shards_dir(r).join(&id[7..9]));
        assert!(object_path(r, "sha256:../../etc").is_err());
    }

    #[test]
    fn rel_paths() {
        for ok in [
            "a",
            "a/b.txt",
            "dir with space/ü.txt",
            ".museignore",
            "x/.museignore",
            "x.muse",
            "muse",
            ".mused",
            ".git",
            "a/.git/x",
            "muse~2",
            "ü.muse",
            ".mu",
        ] {
            validate_rel_path(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a//b",
            "a/./b",
            "a/../b",
            "a/",
            "a\0b",
            ".muse/HEAD",
            ".muse",
            "a\\b",
            "x/.muse",
            "x/.MUSE/y",
            "a/b/.muse./c",
            "muse~1",
            "MUSE~1/x",
            ".mu\u{200c}se",
            "\u{feff}.muse/x",
            ".muse::$INDEX_ALLOCATION/x",
        ] {
            assert!(validate_rel_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn alias_classes() {
        assert_eq!(reserved_alias(".MuSe", "muse"), Some(Alias::Exact));
        assert_eq!(reserved_alias(".muse. .", "muse"), Some(Alias::Ntfs));
        assert_eq!(reserved_alias(".muse:x", "muse"), Some(Alias::Ntfs));
        assert_eq!(reserved_alias(".m\u{206f}use.", "muse"), Some(Alias::Hfs));
        assert_eq!(reserved_alias("Muse~1 ", "muse"), Some(Alias::ShortName));
        assert_eq!(reserved_alias("GIT~1", "git"), Some(Alias::ShortName));
        for no in [".museignore", "x.muse", "muse", ".mused", "", ".", "m", " .muse", ".muse~1", "muse~11", ".mu se"] {
            assert_eq!(reserved_alias(no, "muse"), None, "{no:?}");
        }
    }

    #[test]
    fn incoming_paths_also_refuse_git() {
        for bad in
            [".git/config", "x/.GIT/hooks/post-checkout", ".git./x", ".git /x", "git~1/x", ".g\u{200d}it/x", ".muse/x"]
        {
            assert!(validate_incoming_path(bad).is_err(), "{bad:?}");
        }
        for ok in [".gitignore", ".gitmodules", "git", "x.git", ".github/workflows/ci.yml"] {
            validate_incoming_path(ok).unwrap();
        }
    }

    #[test]
    fn clashes() {
        let ok = ["a", "a-b/c", "a.txt", "b/c", "b/d/e"];
        check_no_file_dir_clash(ok).unwrap();
        for (paths, file, under) in [
            (vec!["a", "a/b"], "a", "a/b"),
            (vec!["a", "a-x", "a-x.txt", "a.txt", "a/b"], "a", "a/b"),
            (vec!["a-w", "a-x/y", "a-x/y.z", "a-x/y/z"], "a-x/y", "a-x/y/z"),
            (vec!["d/a", "d/a b", "d/a/c"], "d/a", "d/a/c"),
        ] {
            let e = check_no_file_dir_clash(paths.iter().copied()).unwrap_err().to_string();
            assert!(e.contains(&format!("{file:?}")) && e.contains(&format!("{under:?}")), "{e}");
        }
        assert!(check_no_file_dir_clash(["b", "a"]).is_err());
        assert!(check_no_file_dir_clash(["a", "a"]).is_err());

        let m: std::collections::BTreeMap<String, ()> =
            ["a", "a-x/y", "a.txt", "b/c/d"].iter().map(|p| (p.to_string(), ())).collect();
        for p in m.keys() {
            check_no_file_dir_clash_at(&m, p).unwrap();
        }
        let mut m2 = m.clone();
        m2.insert("a/b".into(), ());
        assert!(check_no_file_dir_clash_at(&m2, "a/b").unwrap_err().to_string().contains("\"a\""));
        m2.insert("b/c".into(), ());
        assert!(check_no_file_dir_clash_at(&m2, "b/c").unwrap_err().to_string().contains("\"b/c/d\""));
    }
}
