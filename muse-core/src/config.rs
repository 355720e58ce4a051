//! `.muse/config.toml` (SPEC §1), read with the `toml` crate.
//!
//! ```toml
//! [core]
//! fsync = "full"          # "full" (default) or "off"
//! lock_timeout = 10       # seconds a command waits for a repository lock
//!
//! [limits]
//! max_ancestors = 50000   # cap of find_merge_base (SPEC §6)
//!
//! [pack]
//! unpack_limit = 100      # batches of fewer items write loose files
//! ```
//!
//! `[core] fsync`:
//! * `"full"` (default): every per-call write (`write_object`,
//!   `write_commit`, `write_snapshot`, refs, `write_text_atomic`) is durable
//!   when the call returns: file data `fdatasync`ed, directory `fsync`ed.
//!   Write batches ([`crate::batch::Batch`]) issue one filesystem barrier
//!   before their renames and one after, never one per file.
//! * `"off"`: no `fsync` at all, like git's `core.fsync=none`. Fast and
//!   unsafe against power loss (a crash of the *process* is still safe:
//!   renames stay atomic). For scratch repositories and benchmarks.
//!
//! `[pack] unpack_limit` (git's `transfer.unpackLimit`): a write batch
//! ([`crate::batch::Batch`]) with more items than this stores them in one
//! pack file ([`crate::pack`]); with at most this many, as loose files. A
//! non-negative integer; a very large value never packs.
//!
//! Unknown keys are ignored. The file is optional; a missing file means all
//! defaults. Parsed configs are cached per repository and re-read when the
//! file's size, mtime, ctime or inode changes.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::paths::config_toml_path;

/// Default of `[limits] max_ancestors`.
pub const DEFAULT_MAX_ANCESTORS: u64 = 50_000;

/// Default bounded wait for a repository lock (`[core] lock_timeout`,
/// [`crate::lock`]).
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What identifies one version of `config.toml` (size, times, inode).
type Stamp = Option<(u64, i64, i64, i64, i64, u64)>;

/// The per-process cache of [`Config::load`], by repository root.
type ConfigCache = Mutex<HashMap<PathBuf, (Stamp, Arc<Config>)>>;

fn config_cache() -> &'static ConfigCache {
    static CACHE: OnceLock<ConfigCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Drops the cached configuration of the repository at `root` (the next
/// [`Config::load`] reads the file again).
pub fn forget(root: &Path) {
    config_cache().lock().unwrap_or_else(|p| p.into_inner()).remove(root);
}

/// The `[core] fsync` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Per-call writes are durable on return (default).
    Full,
    /// No fsync anywhere.
    Off,
}

/// A parsed `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[core] fsync`.
    pub fsync: FsyncPolicy,
    /// `[limits] max_ancestors`.
    pub max_ancestors: u64,
    /// `[pack] unpack_limit`.
    pub unpack_limit: u64,
    /// `[core] lock_timeout` (seconds, may be fractional): how long a
    /// command waits for a repository lock ([`crate::lock`]).
    pub lock_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fsync: FsyncPolicy::Full,
            max_ancestors: DEFAULT_MAX_ANCESTORS,
            unpack_limit: crate::pack::PACK_MIN_ENTRIES as u64,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

impl Config {
    /// Parses the text of a `config.toml`; `path` is only used in errors.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid TOML or a value of the wrong type/range.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let bad = |detail: String| Error::Config { path: path.to_path_buf(), detail };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let mut cfg = Config::default();
        if let Some(core) = table.get("core") {
            if let Some(v) = core.get("fsync") {
                cfg.fsync = match v.as_str() {
                    Some("full") | Some("true") => FsyncPolicy::Full,
                    Some("off") | Some("false") => FsyncPolicy::Off,
                    _ => match v.as_bool() {
                        Some(true) => FsyncPolicy::Full,
                        Some(false) => FsyncPolicy::Off,
                        None => return Err(bad(format!("[core] fsync must be \"full\" or \"off\", got {v}"))),
                    },
                };
            }
            if let Some(v) = core.get("lock_timeout") {
                let secs = v
                    .as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
                    .ok_or_else(|| bad(format!("[core] lock_timeout must be a number of seconds (0 to 86400), got {v}")))?;
                cfg.lock_timeout = std::time::Duration::from_secs_f64(secs);
            }
        }
        if let Some(limits) = table.get("limits") {
            if let Some(v) = limits.get("max_ancestors") {
                let n = v.as_integer().filter(|n| *n > 0).ok_or_else(|| {
                    bad(format!("[limits] max_ancestors must be a positive integer, got {v}"))
                })?;
                cfg.max_ancestors = n as u64;
            }
        }
        if let Some(pack) = table.get("pack") {
            if let Some(v) = pack.get("unpack_limit") {
                let n = v.as_integer().filter(|n| *n >= 0).ok_or_else(|| {
                    bad(format!("[pack] unpack_limit must be a non-negative integer, got {v}"))
                })?;
                cfg.unpack_limit = n as u64;
            }
        }
        Ok(cfg)
    }

    /// Reads `<root>/.muse/config.toml` afresh (defaults when absent).
    ///
    /// # Errors
    /// [`Error::Config`], or [`Error::Io`] for an unreadable file.
    pub fn read(root: &Path) -> Result<Config> {
        let path = config_toml_path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::io("read", &path, e)),
        }
    }

    /// Like [`Config::read`] but served from a per-repository cache that is
    /// revalidated with one `stat` of the file.
    ///
    /// # Errors
    /// As [`Config::read`].
    pub fn load(root: &Path) -> Result<Arc<Config>> {
        let path = config_toml_path(root);
        let stamp: Stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec(), m.ino()));
        let cache = config_cache();
        if let Some((s, cfg)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(root) {
            if *s == stamp {
                return Ok(cfg.clone());
            }
        }
        let cfg = Arc::new(if stamp.is_some() { Config::read(root)? } else { Config::default() });
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(root.to_path_buf(), (stamp, cfg.clone()));
        Ok(cfg)
    }
}


/// The durability a per-call write gets: [`Durability::Deferred`](crate::atomic::Durability::Deferred) when the
/// caller asked for it or the repository's `[core] fsync` is `"off"`,
/// otherwise [`Durability::Full`](crate::atomic::Durability::Full).
///
/// # Errors
/// As [`Config::load`].
pub fn durability_for(root: &Path, requested: Option<crate::atomic::Durability>) -> Result<crate::atomic::Durability> {
    use crate::atomic::Durability;
    if requested == Some(Durability::Deferred) {
        return Ok(Durability::Deferred);
    }
    Ok(match Config::load(root)?.fsync {
        FsyncPolicy::Full => Durability::Full,
        FsyncPolicy::Off => Durability::Deferred,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_values_and_errors() {
        let p = Path::new("c.toml");
        assert_eq!(Config::parse("", p).unwrap(), Config::default());
        let c = Config::parse("[core]\nfsync = \"off\"\n[limits]\nmax_ancestors = 50\n", p).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Off);
        assert_eq!(c.max_ancestors, 50);
        assert!(Config::parse("[limits]\nmax_ancestors = -1\n", p).is_err());
        assert_eq!(Config::parse("[pack]\nunpack_limit = 0\n", p).unwrap().unpack_limit, 0);
        assert!(Config::parse("[pack]\nunpack_limit = -3\n", p).is_err());
        assert!(Config::parse("[core]\nfsync = \"sometimes\"\n", p).is_err());
        assert!(Config::parse("not toml [", p).is_err());
    }
}
