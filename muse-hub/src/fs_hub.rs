//! The embedded tier: a hub on one machine's disk ([`FsHub`]).
//!
//! # Layout of `--root DIR`
//!
//! ```text
//! DIR/
//!   <owner>/<name>/.muse/            a hosted repository: a muse repository
//!                                    (no working tree is ever used)
//!   .hub/
//!     repos/<owner>/<name>.json      {"owner", "name", "public", "created"}: the repository is hosted
//!     tokens/<owner>/<name>.json     {"tokens": [{"sha256", "scope", "created"}]}: only SHA-256
//!                                    hex digests of tokens, never a token
//!     uploads/<owner>/<name>/<hex>   MPacks PUT to the server's upload URL (removed once applied)
//!     secret                         32 random bytes (mode 0600): the key of the upload-URL
//!                                    signatures (see [`crate::server`])
//!     lock                           serialises metadata writes (also across processes)
//! ```
//!
//! Every metadata file is written atomically (temp + rename, synced). Owner
//! and repository names follow [`validate_name`], so no name can reach
//! `.hub/`, `.muse/` or outside `DIR`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use muse_core::atomic::{write_atomic, Durability, Replace, MODE_MUTABLE};
use muse_core::lock::{FileLock, LockMode};
use muse_core::{Error, Repository, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::storage::{HubStorage, RepoInfo, Scope};

/// The directory of the hub's own metadata under the root.
pub const HUB_DIR: &str = ".hub";

/// Prefix of the temp files of atomic writes under `.hub/`.
const TMP_PREFIX: &str = ".hub-tmp-";

/// How long a metadata write waits for another process's.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Most bytes of a hosted repository's name or owner.
pub const MAX_NAME_LEN: usize = 100;

/// Checks an owner or repository name: 1 to [`MAX_NAME_LEN`] characters
/// of `[A-Za-z0-9._-]`, not starting with `.` (so never `.`, `..`,
/// `.muse`, `.hub`) and not ending with `.lock`. `what` names it in the
/// error.
///
/// # Errors
/// [`Error::InvalidInput`] saying which rule the name breaks.
pub fn validate_name(what: &str, s: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("invalid {what} {:?}: {why}", truncate(s))));
    if s.is_empty() {
        return bad("empty");
    }
    if s.len() > MAX_NAME_LEN {
        return bad("longer than 100 characters");
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    if s.starts_with('.') {
        return bad("must not start with '.'");
    }
    if s.ends_with(".lock") {
        return bad("must not end with \".lock\"");
    }
    Ok(())
}

/// Splits and checks `owner/name` ([`validate_name`] for both parts).
///
/// # Errors
/// [`Error::InvalidInput`] when it is not two valid names joined by `/`.
pub fn parse_slug(slug: &str) -> Result<(String, String)> {
    let Some((owner, name)) = slug.split_once('/') else {
        return Err(Error::InvalidInput(format!("expected OWNER/NAME, got {:?}", truncate(slug))));
    };
    validate_name("owner", owner)?;
    validate_name("repository name", name)?;
    Ok((owner.to_string(), name.to_string()))
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Checks an upload key: `sha256:` + 64 lowercase hex digits (the SHA-256
/// of the uploaded bytes). Returns the hex part.
///
/// # Errors
/// [`Error::InvalidInput`].
pub fn upload_key_hex(key: &str) -> Result<&str> {
    match key.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => Ok(h),
        _ => Err(Error::InvalidInput(format!("invalid mpack_key {:?}: expected \"sha256:\" + 64 lowercase hex digits", truncate(key)))),
    }
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The SHA-256 of a token, as stored (and as [`HubStorage::add_token`]
/// and [`HubStorage::token_scope`] take it).
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: `muse_` + 64 hex digits (256 bits from the OS).
///
/// # Errors
/// [`Error::Io`] when the OS has no randomness to give.
pub fn new_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::io("getrandom", "(os)", std::io::Error::other(e.to_string())))?;
    Ok(format!("muse_{}", to_hex(&b)))
}

/// The metadata file of a hosted repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RepoFile {
    owner: String,
    name: String,
    public: bool,
    #[serde(default)]
    created: String,
}

/// One stored token: its SHA-256 (hex), scope and creation time.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenEntry {
    sha256: String,
    scope: Scope,
    #[serde(default)]
    created: String,
}

/// The token file of a hosted repository.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

/// The embedded tier's [`HubStorage`]: hosted repositories are muse
/// repositories under a root directory (see the [module docs](self) for
/// the layout). Cheap to share (`Arc`); every method is blocking.
#[derive(Debug)]
pub struct FsHub {
    root: PathBuf,
    /// Serialises this process's metadata writes (the file lock serialises
    /// them across processes).
    writing: Mutex<()>,
}

impl FsHub {
    /// Opens (creating it and `.hub/` when missing) the hub at `root`.
    ///
    /// # Errors
    /// [`Error::Io`] when the directories cannot be made;
    /// [`Error::InvalidInput`] when `root` is inside a muse repository.
    pub fn open(root: impl AsRef<Path>) -> Result<FsHub> {
        let root = root.as_ref();
        std::fs::create_dir_all(root.join(HUB_DIR)).map_err(|e| Error::io("create directory", root.join(HUB_DIR), e))?;
        let root = root.canonicalize().map_err(|e| Error::io("canonicalize", root, e))?;
        if let Ok(existing) = muse_core::repo::find_repo(Some(&root)) {
            return Err(Error::InvalidInput(format!(
                "hub root {} is inside a muse repository ({}): choose a directory outside every repository",
                root.display(),
                existing.display()
            )));
        }
        Ok(FsHub { root, writing: Mutex::new(()) })
    }

    /// The hub's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of hosted repository `owner/name` (it may not exist).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for invalid names ([`validate_name`]).
    pub fn repo_dir(&self, owner: &str, name: &str) -> Result<PathBuf> {
        validate_name("owner", owner)?;
        validate_name("repository name", name)?;
        Ok(self.root.join(owner).join(name))
    }

    fn hub(&self) -> PathBuf {
        self.root.join(HUB_DIR)
    }

    fn meta_path(&self, owner: &str, name: &str) -> Result<PathBuf> {
        validate_name("owner", owner)?;
        validate_name("repository name", name)?;
        Ok(self.hub().join("repos").join(owner).join(format!("{name}.json")))
    }

    fn tokens_path(&self, owner: &str, name: &str) -> Result<PathBuf> {
        validate_name("owner", owner)?;
        validate_name("repository name", name)?;
        Ok(self.hub().join("tokens").join(owner).join(format!("{name}.json")))
    }

    fn upload_path(&self, owner: &str, name: &str, key: &str) -> Result<PathBuf> {
        validate_name("owner", owner)?;
        validate_name("repository name", name)?;
        let hex = upload_key_hex(key)?;
        Ok(self.hub().join("uploads").join(owner).join(name).join(hex))
    }

    /// Takes the metadata write lock (this process's, then the file's).
    fn write_guard(&self) -> Result<(std::sync::MutexGuard<'_, ()>, FileLock)> {
        let g = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let f = FileLock::acquire(&self.hub().join("lock"), LockMode::Exclusive, LOCK_WAIT, "hub lock")?;
        Ok((g, f))
    }

    /// The hub's signing secret (`.hub/secret`, 32 random bytes, mode
    /// 0600), created on first use.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Corrupt`] for a secret file that is not 32
    /// bytes.
    pub fn secret(&self) -> Result<[u8; 32]> {
        load_or_create_secret(&self.root)
    }
}

/// The signing secret of the hub at `root`: `root/.hub/secret` (32 random
/// bytes, mode 0600), created when missing (two racing creators agree:
/// the first one's file is kept).
///
/// # Errors
/// [`Error::Io`]; [`Error::InvalidInput`] for a secret file that is not
/// 32 bytes.
pub fn load_or_create_secret(root: &Path) -> Result<[u8; 32]> {
    let dir = root.join(HUB_DIR);
    let path = dir.join("secret");
    match std::fs::read(&path) {
        Ok(b) => return secret_from(&path, &b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", &path, e)),
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::io("getrandom", "(os)", std::io::Error::other(e.to_string())))?;
    write_atomic(&path, TMP_PREFIX, &b, 0o600, Durability::Full, Replace::NoClobber)?;
    let b = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    secret_from(&path, &b)
}

fn secret_from(path: &Path, b: &[u8]) -> Result<[u8; 32]> {
    b.try_into().map_err(|_| {
        Error::InvalidInput(format!("hub secret {} is {} bytes, not 32: remove it to make a new one", path.display(), b.len()))
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Corrupt { what: "hub metadata", path: path.to_path_buf(), detail: e.to_string() })
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut bytes = serde_json::to_vec_pretty(v).map_err(|e| Error::InvalidInput(format!("hub metadata: {e}")))?;
    bytes.push(b'\n');
    write_atomic(path, TMP_PREFIX, &bytes, MODE_MUTABLE, Durability::Full, Replace::Overwrite)?;
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl HubStorage for FsHub {
    fn create_repo(&self, owner: &str, name: &str, public: bool) -> Result<RepoInfo> {
        let dir = self.repo_dir(owner, name)?;
        let meta = self.meta_path(owner, name)?;
        let _g = self.write_guard()?;
        if meta.exists() || dir.exists() {
            return Err(Error::InvalidInput(format!("repository {owner}/{name} already exists")));
        }
        let opts = muse_core::repo::InitOptions { owner: owner.to_string(), bare: true, ..Default::default() };
        Repository::init_with(&dir, &opts)?;
        let info = RepoFile { owner: owner.into(), name: name.into(), public, created: now() };
        // The metadata file makes the repository hosted: written last.
        if let Err(e) = write_json(&meta, &info) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(RepoInfo { owner: info.owner, name: info.name, public })
    }

    fn repo(&self, owner: &str, name: &str) -> Result<Option<RepoInfo>> {
        if validate_name("owner", owner).is_err() || validate_name("repository name", name).is_err() {
            return Ok(None);
        }
        let meta = self.meta_path(owner, name)?;
        Ok(read_json::<RepoFile>(&meta)?.map(|f| RepoInfo { owner: owner.into(), name: name.into(), public: f.public }))
    }

    fn open(&self, owner: &str, name: &str) -> Result<Repository> {
        if self.repo(owner, name)?.is_none() {
            return Err(Error::NotFound { what: "repository", name: format!("{owner}/{name}") });
        }
        Repository::open(self.repo_dir(owner, name)?)
    }

    fn add_token(&self, owner: &str, name: &str, scope: Scope, token_sha256: &[u8; 32]) -> Result<()> {
        if self.repo(owner, name)?.is_none() {
            return Err(Error::NotFound { what: "repository", name: format!("{owner}/{name}") });
        }
        let path = self.tokens_path(owner, name)?;
        let _g = self.write_guard()?;
        let mut f: TokenFile = read_json(&path)?.unwrap_or_default();
        let hex = to_hex(token_sha256);
        f.tokens.retain(|t| t.sha256 != hex);
        f.tokens.push(TokenEntry { sha256: hex, scope, created: now() });
        write_json(&path, &f)
    }

    fn token_scope(&self, owner: &str, name: &str, token_sha256: &[u8; 32]) -> Result<Option<Scope>> {
        if validate_name("owner", owner).is_err() || validate_name("repository name", name).is_err() {
            return Ok(None);
        }
        let path = self.tokens_path(owner, name)?;
        let Some(f) = read_json::<TokenFile>(&path)? else { return Ok(None) };
        let hex = to_hex(token_sha256);
        Ok(f.tokens.iter().filter(|t| t.sha256 == hex).map(|t| t.scope).max())
    }

    fn presign_upload(&self, owner: &str, name: &str, key: &str, _size: u64) -> Result<Option<String>> {
        self.upload_path(owner, name, key)?;
        Ok(None)
    }

    fn put_upload(&self, owner: &str, name: &str, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.upload_path(owner, name, key)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        write_atomic(&path, TMP_PREFIX, bytes, 0o600, Durability::Deferred, Replace::Overwrite)?;
        Ok(())
    }

    fn get_upload(&self, owner: &str, name: &str, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let path = self.upload_path(owner, name, key)?;
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("stat", &path, e)),
        };
        if meta.len() > max_bytes {
            return Err(Error::TooLarge { what: "uploaded mpack", path: PathBuf::from(key), size: meta.len(), limit: max_bytes });
        }
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &path, e)),
        }
    }

    fn delete_upload(&self, owner: &str, name: &str, key: &str) -> Result<()> {
        let path = self.upload_path(owner, name, key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_strict() {
        for ok in ["alice", "a", "my-repo_1.2", &"x".repeat(100)] {
            validate_name("n", ok).unwrap();
        }
        for bad in ["", ".", "..", ".muse", ".hub", "a/b", "a\\b", "a b", "é", "x.lock", &"x".repeat(101), "a\0b"] {
            assert!(validate_name("n", bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_slug("alice/proj").unwrap(), ("alice".into(), "proj".into()));
        for bad in ["alice", "alice/", "/proj", "a/b/c", "../x", "alice/.muse"] {
            assert!(parse_slug(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn repos_tokens_and_uploads() {
        let d = tempfile::tempdir().unwrap();
        let hub = FsHub::open(d.path().join("hub")).unwrap();
        assert!(hub.repo("alice", "p").unwrap().is_none());
        assert!(matches!(hub.open("alice", "p"), Err(Error::NotFound { .. })));
        let info = hub.create_repo("alice", "p", true).unwrap();
        assert!(info.public);
        assert!(hub.create_repo("alice", "p", false).is_err());
        assert!(hub.root().join("alice/p/.muse").is_dir());
        hub.open("alice", "p").unwrap();

        let t = new_token().unwrap();
        assert!(t.starts_with("muse_") && t.len() == 69);
        let h = token_sha256(&t);
        assert_eq!(hub.token_scope("alice", "p", &h).unwrap(), None);
        hub.add_token("alice", "p", Scope::Read, &h).unwrap();
        assert_eq!(hub.token_scope("alice", "p", &h).unwrap(), Some(Scope::Read));
        hub.add_token("alice", "p", Scope::Write, &h).unwrap();
        assert_eq!(hub.token_scope("alice", "p", &h).unwrap(), Some(Scope::Write));
        let stored = std::fs::read_to_string(hub.root().join(".hub/tokens/alice/p.json")).unwrap();
        assert!(!stored.contains(&t) && stored.contains(&to_hex(&h)));
        assert!(hub.add_token("alice", "nope", Scope::Read, &h).is_err());

        let key = format!("sha256:{}", to_hex(&Sha256::digest(b"abc")));
        assert_eq!(hub.presign_upload("alice", "p", &key, 3).unwrap(), None);
        assert!(hub.put_upload("alice", "p", "sha256:../../x", b"abc").is_err());
        hub.put_upload("alice", "p", &key, b"abc").unwrap();
        assert_eq!(hub.get_upload("alice", "p", &key, 3).unwrap().unwrap(), b"abc");
        assert!(matches!(hub.get_upload("alice", "p", &key, 2), Err(Error::TooLarge { .. })));
        hub.delete_upload("alice", "p", &key).unwrap();
        assert!(hub.get_upload("alice", "p", &key, 3).unwrap().is_none());

        let s = hub.secret().unwrap();
        assert_eq!(hub.secret().unwrap(), s);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(hub.root().join(".hub/secret")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
