//! `.muse/config.toml` (SPEC §1), read with the `toml` crate.
//!
//! ```toml
//! [core]
//! fsync = "full"          # "full" (default) or "off"
//! lock_timeout = 10       # seconds a command waits for a repository lock
//! fsmonitor = "watchman"  # "watchman" or "off" (default): see crate::fsmonitor
//! bare = false            # true: pushes may move HEAD's branch (git's core.bare)
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
//! `[core] fsmonitor` (git's `core.fsmonitor`): `"watchman"` lets status,
//! add, commit and every command that walks the working tree ask the
//! watchman daemon which paths changed since the last command instead of
//! stat'ing every file ([`crate::fsmonitor`]); `"off"` (default, also
//! `"none"` or `false`) walks the tree. The environment variable
//! `MUSE_FSMONITOR` (`watchman` or `off`) overrides it.
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

/// The `[core] fsmonitor` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsMonitorMode {
    /// Walk the working tree (default).
    #[default]
    Off,
    /// Ask the watchman daemon for the changed paths ([`crate::fsmonitor`]).
    Watchman,
}

impl FsMonitorMode {
    /// Parses a setting's value: `watchman`, or `off` / `none` / `false` /
    /// empty; `None` for anything else.
    pub fn parse(v: &str) -> Option<FsMonitorMode> {
        match v.trim().to_ascii_lowercase().as_str() {
            "watchman" => Some(FsMonitorMode::Watchman),
            "off" | "none" | "false" | "0" | "" => Some(FsMonitorMode::Off),
            _ => None,
        }
    }
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
    /// `[core] fsmonitor`.
    pub fsmonitor: FsMonitorMode,
    /// `[core] bare` (git's `core.bare`): a repository others push to,
    /// whose working tree is not used, so a push may move its HEAD branch
    /// ([`crate::Repository::receive_pack`]). Default `false`.
    pub bare: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fsync: FsyncPolicy::Full,
            max_ancestors: DEFAULT_MAX_ANCESTORS,
            unpack_limit: crate::pack::PACK_MIN_ENTRIES as u64,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            fsmonitor: FsMonitorMode::Off,
            bare: false,
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
            if let Some(v) = core.get("fsmonitor") {
                cfg.fsmonitor = match (v.as_str(), v.as_bool()) {
                    (Some(s), _) => FsMonitorMode::parse(s),
                    (None, Some(false)) => Some(FsMonitorMode::Off),
                    _ => None,
                }
                .ok_or_else(|| bad(format!("[core] fsmonitor must be \"watchman\" or \"off\", got {v}")))?;
            }
            if let Some(v) = core.get("bare") {
                cfg.bare = v.as_bool().ok_or_else(|| bad(format!("[core] bare must be true or false, got {v}")))?;
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

/// The settings `muse config` reads and writes (`section.key`), each with
/// what it means. Unknown keys are refused by [`set`] (a typo would
/// otherwise be silently ignored).
pub const KEYS: &[(&str, &str)] = &[
    ("core.fsync", "\"full\" (default) or \"off\": fsync per-call writes"),
    ("core.lock_timeout", "seconds a command waits for a repository lock (default 10)"),
    ("core.fsmonitor", "\"watchman\" or \"off\" (default): the file-system monitor"),
    ("core.bare", "true: a repository others push to (its working tree is not used)"),
    ("limits.max_ancestors", "cap of the merge-base search (default 50000)"),
    ("pack.unpack_limit", "write batches of more items than this as one pack"),
];

/// Splits `section.key` and checks it is one of [`KEYS`].
fn split_key(key: &str) -> Result<(&str, &str)> {
    if !KEYS.iter().any(|(k, _)| *k == key) {
        let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        return Err(Error::InvalidInput(format!("unknown config key {key:?} (known: {})", known.join(", "))));
    }
    key.split_once('.').ok_or_else(|| Error::InvalidInput(format!("config key {key:?} must be section.name")))
}

/// The document of `config.toml` (empty when there is none), for edits
/// that keep comments and order ([`write_document`]).
///
/// # Errors
/// [`Error::Config`] for a file that is not TOML, [`Error::Io`].
pub fn read_document(root: &Path) -> Result<toml_edit::DocumentMut> {
    let path = config_toml_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    text.parse::<toml_edit::DocumentMut>().map_err(|e| Error::Config { path, detail: e.to_string() })
}

/// The value of `section.key` in `config.toml` as written there (strings
/// without quotes), `None` when unset (git's `config --get`).
///
/// # Errors
/// [`Error::InvalidInput`] for an unknown key, [`Error::Config`] for a file
/// that is not TOML, [`Error::Io`].
pub fn get(root: &Path, key: &str) -> Result<Option<String>> {
    let (section, name) = split_key(key)?;
    let doc = read_document(root)?;
    Ok(doc.get(section).and_then(|t| t.get(name)).and_then(|v| v.as_value()).map(value_text))
}

/// Every key set in `config.toml`, as `(section.key, value)` in file order
/// (git's `config --list`).
///
/// # Errors
/// As [`get`].
pub fn list(root: &Path) -> Result<Vec<(String, String)>> {
    let doc = read_document(root)?;
    let mut out = Vec::new();
    for (section, item) in doc.iter() {
        if let Some(t) = item.as_table_like() {
            for (name, v) in t.iter() {
                if let Some(v) = v.as_value() {
                    out.push((format!("{section}.{name}"), value_text(v)));
                }
            }
        }
    }
    Ok(out)
}

fn value_text(v: &toml_edit::Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string().trim().to_string(),
    }
}

/// Sets `section.key` to `value` in `config.toml`, keeping the rest of the
/// file (comments, order) as it is. `value` is stored as an integer, a
/// float or a boolean when it reads as one, else as a string. The new file
/// must parse ([`Config::parse`]) before it replaces the old one (atomic
/// rename, `[core] fsync` honoured); `None` removes the key (git's
/// `config --unset`; removing an unset key is not an error).
///
/// # Errors
/// [`Error::InvalidInput`] for an unknown key; [`Error::Config`] when the
/// value is invalid for the key (nothing is written); [`Error::Io`].
pub fn set(root: &Path, key: &str, value: Option<&str>) -> Result<()> {
    let (section, name) = split_key(key)?;
    let mut doc = read_document(root)?;
    match value {
        Some(v) => {
            let item = if let Ok(i) = v.parse::<i64>() {
                toml_edit::value(i)
            } else if let Ok(f) = v.parse::<f64>().map_err(|_| ()).and_then(|f| if f.is_finite() { Ok(f) } else { Err(()) }) {
                toml_edit::value(f)
            } else if let Ok(b) = v.parse::<bool>() {
                toml_edit::value(b)
            } else {
                toml_edit::value(v)
            };
            if !doc.contains_key(section) {
                doc.insert(section, toml_edit::Item::Table(toml_edit::Table::new()));
            }
            let table = doc[section]
                .as_table_like_mut()
                .ok_or_else(|| Error::Config { path: config_toml_path(root), detail: format!("{section} is not a table") })?;
            table.insert(name, item);
        }
        None => {
            if let Some(t) = doc.get_mut(section).and_then(|t| t.as_table_like_mut()) {
                t.remove(name);
            }
        }
    }
    write_document(root, &doc)
}

/// Replaces `config.toml` with `doc` (atomic rename, durable) after
/// checking that it parses ([`Config::parse`]; nothing written otherwise),
/// and drops the cached configuration.
///
/// # Errors
/// [`Error::Config`] for a document with an invalid value, [`Error::Io`].
pub fn write_document(root: &Path, doc: &toml_edit::DocumentMut) -> Result<()> {
    let text = doc.to_string();
    let path = config_toml_path(root);
    Config::parse(&text, &path)?;
    // The old file may be the invalid one being fixed: its fsync setting
    // cannot be trusted then, so the write is durable.
    let d = durability_for(root, None).unwrap_or(crate::atomic::Durability::Full);
    crate::atomic::write_atomic(&path, crate::atomic::MUSE_TMP_PREFIX, text.as_bytes(), crate::atomic::MODE_MUTABLE, d, crate::atomic::Replace::Overwrite)?;
    forget(root);
    Ok(())
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
        assert_eq!(Config::parse("[core]\nfsmonitor = \"watchman\"\n", p).unwrap().fsmonitor, FsMonitorMode::Watchman);
        assert_eq!(Config::parse("[core]\nfsmonitor = false\n", p).unwrap().fsmonitor, FsMonitorMode::Off);
        assert_eq!(Config::parse("", p).unwrap().fsmonitor, FsMonitorMode::Off);
        assert!(Config::parse("[core]\nfsmonitor = \"inotify\"\n", p).is_err());
        assert!(Config::parse("not toml [", p).is_err());
    }

    #[test]
    fn get_set_unset_keep_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join(".muse")).unwrap();
        std::fs::write(config_toml_path(root), "# mine\n[core]\nfsync = \"full\"\n\n[limits]\nmax_ancestors = 50\n").unwrap();
        set(root, "core.fsmonitor", Some("watchman")).unwrap();
        set(root, "limits.max_ancestors", Some("70")).unwrap();
        set(root, "pack.unpack_limit", Some("5")).unwrap();
        let text = std::fs::read_to_string(config_toml_path(root)).unwrap();
        assert!(text.starts_with("# mine\n[core]\nfsync = \"full\"\nfsmonitor = \"watchman\"\n"), "{text}");
        let c = Config::read(root).unwrap();
        assert_eq!((c.fsmonitor, c.max_ancestors, c.unpack_limit), (FsMonitorMode::Watchman, 70, 5));
        assert_eq!(get(root, "core.fsmonitor").unwrap().as_deref(), Some("watchman"));
        assert_eq!(get(root, "limits.max_ancestors").unwrap().as_deref(), Some("70"));
        assert_eq!(get(root, "core.lock_timeout").unwrap(), None);
        assert_eq!(list(root).unwrap().len(), 4);
        // Invalid values and unknown keys change nothing.
        assert!(matches!(set(root, "core.fsmonitor", Some("inotify")), Err(Error::Config { .. })));
        assert!(matches!(set(root, "limits.max_ancestors", Some("-1")), Err(Error::Config { .. })));
        assert!(matches!(set(root, "core.fsmonitr", Some("watchman")), Err(Error::InvalidInput(_))));
        assert_eq!(std::fs::read_to_string(config_toml_path(root)).unwrap(), text);
        set(root, "core.fsmonitor", None).unwrap();
        set(root, "core.fsmonitor", None).unwrap();
        assert_eq!(Config::read(root).unwrap().fsmonitor, FsMonitorMode::Off);
    }
}
