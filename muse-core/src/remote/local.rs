//! [`LocalTransport`]: a remote that is another repository on this machine.

use std::path::Path;

use super::{PushReport, PushUpdate, RemoteRefs, Transport};
use crate::error::Result;
use crate::ids::CommitId;
use crate::mpack::{Limits, MPack};
use crate::repository::Repository;

/// A remote given as a path (or `file://` URL): the other repository is
/// opened in this process and answers through the same server-side calls
/// `muse serve` makes ([`Repository::advertise_refs`],
/// [`Repository::upload_pack`], [`Repository::receive_pack`]), so a push
/// to a path is verified exactly as a push over HTTP.
pub struct LocalTransport {
    url: String,
    repo: Repository,
}

impl LocalTransport {
    /// Opens the repository at `path` (its root: the directory holding
    /// `.muse/`).
    ///
    /// # Errors
    /// [`crate::Error::NotARepository`].
    pub fn open(path: &Path) -> Result<LocalTransport> {
        let repo = Repository::open(path)?;
        Ok(LocalTransport { url: path.display().to_string(), repo })
    }

    /// The remote repository.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }
}

impl Transport for LocalTransport {
    fn url(&self) -> &str {
        &self.url
    }

    fn list_refs(&mut self) -> Result<RemoteRefs> {
        self.repo.advertise_refs()
    }

    fn fetch_pack(&mut self, want: &[CommitId], have: &[CommitId]) -> Result<MPack> {
        self.repo.upload_pack(want, have)
    }

    fn push_pack(&mut self, pack: &MPack, updates: &[PushUpdate]) -> Result<PushReport> {
        self.repo.receive_pack(pack, updates, &Limits::default())
    }
}
