//! Where a hub keeps its repositories, tokens and uploads.

use muse_core::Repository;

/// The scope of a token: `read` (refs, fetch) or `write` (also push).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read: `GET refs`, `POST fetch`.
    Read,
    /// Write: read, and push (also the presign/unpack flow).
    Write,
}

/// A hosted repository's metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RepoInfo {
    /// `owner/name`.
    pub owner: String,
    /// The repository's name.
    pub name: String,
    /// Anonymous clients may read it.
    pub public: bool,
}

/// A hub's storage: repositories, tokens (stored as SHA-256 hashes, never
/// in plain text) and uploaded MPacks of the presign flow. Implementations:
/// the embedded tier's filesystem hub and the scale-out tier's
/// PostgreSQL + S3 hub. Every method is blocking (the server calls them on
/// its blocking pool).
pub trait HubStorage: Send + Sync {
    /// Creates hosted repository `owner/name`.
    ///
    /// # Errors
    /// [`muse_core::Error::InvalidInput`] when it exists or a name is not
    /// valid; backend failures.
    fn create_repo(&self, owner: &str, name: &str, public: bool) -> muse_core::Result<RepoInfo>;

    /// The metadata of `owner/name`, `None` when it is not hosted here.
    ///
    /// # Errors
    /// Backend failures.
    fn repo(&self, owner: &str, name: &str) -> muse_core::Result<Option<RepoInfo>>;

    /// The repository `owner/name` (its store), for the server-side calls
    /// of [`muse_core::remote`].
    ///
    /// # Errors
    /// [`muse_core::Error::NotFound`] when not hosted; backend failures.
    fn open(&self, owner: &str, name: &str) -> muse_core::Result<Repository>;

    /// Records a token (its SHA-256) with `scope` on `owner/name`.
    ///
    /// # Errors
    /// Backend failures.
    fn add_token(&self, owner: &str, name: &str, scope: Scope, token_sha256: &[u8; 32]) -> muse_core::Result<()>;

    /// The scope of the token whose SHA-256 is `token_sha256` on
    /// `owner/name`, `None` for an unknown token.
    ///
    /// # Errors
    /// Backend failures.
    fn token_scope(&self, owner: &str, name: &str, token_sha256: &[u8; 32]) -> muse_core::Result<Option<Scope>>;

    /// A presigned URL the client PUTs an MPack of `size` bytes to, stored
    /// under upload key `key` of `owner/name`; `None` when this storage
    /// has no presigning (the server then hands out its own upload URL and
    /// stores the body with [`Self::put_upload`]).
    ///
    /// # Errors
    /// Backend failures.
    fn presign_upload(&self, owner: &str, name: &str, key: &str, size: u64) -> muse_core::Result<Option<String>>;

    /// Stores an uploaded MPack under `key` (the server's own upload URL).
    ///
    /// # Errors
    /// Backend failures.
    fn put_upload(&self, owner: &str, name: &str, key: &str, bytes: &[u8]) -> muse_core::Result<()>;

    /// The uploaded MPack `key`, `None` when there is none. At most
    /// `max_bytes` are read ([`muse_core::Error::TooLarge`] beyond).
    ///
    /// # Errors
    /// Backend failures.
    fn get_upload(&self, owner: &str, name: &str, key: &str, max_bytes: u64) -> muse_core::Result<Option<Vec<u8>>>;

    /// Removes the uploaded MPack `key` (after it was applied).
    ///
    /// # Errors
    /// Backend failures.
    fn delete_upload(&self, owner: &str, name: &str, key: &str) -> muse_core::Result<()>;
}
