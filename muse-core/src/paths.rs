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

/// Checks that `path` is a clean POSIX path relative to the working tree, as
/// stored in manifests: non-empty, `/`-separated, no leading or trailing `/`,
/// no empty, `.` or `..` segment, no NUL or `\`, and not inside `.muse/`.
///
/// # Errors
/// [`Error::InvalidPath`] naming the rule broken.
pub fn validate_rel_path(path: &str) -> Result<()> {
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
    for (i, seg) in path.split('/').enumerate() {
        match seg {
            "" => return bad("empty segment (leading, trailing or doubled '/')"),
            "." | ".." => return bad("'.' or '..' segment"),
            MUSE_DIR if i == 0 => return bad("inside .muse/"),
            _ => {}
        }
    }
    Ok(())
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
        for ok in ["a", "a/b.txt", "dir with space/ü.txt", ".museignore", "x/.muse"] {
            validate_rel_path(ok).unwrap();
        }
        for bad in ["", "/etc/passwd", "../x", "a//b", "a/./b", "a/../b", "a/", "a\0b", ".muse/HEAD", ".muse", "a\\b"] {
            assert!(validate_rel_path(bad).is_err(), "{bad:?}");
        }
    }
}
