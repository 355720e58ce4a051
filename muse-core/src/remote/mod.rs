//! Remotes (SPEC §13): exchanging history with another repository, git's
//! model: `fetch`, `push`, `pull`, `clone`, remote-tracking refs, and the
//! server side of the exchange that `muse serve` (the `muse-hub` crate)
//! exposes over HTTP.
//!
//! # Model
//!
//! * A **remote** is a name and a URL in `.muse/config.toml`:
//!   `[remote.origin] url = "http://host:port/owner/repo"` (or a local
//!   path, or `file://` + path). See [`remotes`], [`add_remote`],
//!   [`remove_remote`].
//! * **Remote-tracking refs** `refs/remotes/<remote>/<branch>`
//!   ([`crate::store::RefStore::remote_refs`]) record where the remote's
//!   branches were at the last fetch or push. They are GC roots and
//!   revisions (`origin/main`).
//! * A **transport** ([`Transport`]) asks a remote three things: its refs,
//!   a bundle of what we lack (fetch: want/have negotiation answered by an
//!   [`MPack`]), and to take a bundle and move refs (push). Two exist:
//!   [`LocalTransport`] (another repository on this machine: a path) and
//!   [`HttpTransport`] (`http://` / `https://`, a `muse serve` hub).
//!
//! # The server side
//!
//! [`Repository::advertise_refs`], [`Repository::upload_pack`] and
//! [`Repository::receive_pack`] are what a remote runs for those three
//! requests, whichever transport carried them, on any storage backend.
//! `receive_pack` treats the pack as hostile ([`Repository::apply_mpack`]'s
//! verification: every hash, path and parent), checks every ref update
//! *before* storing anything (expected old value, fast-forward unless
//! forced, the new commit present in the pack or the store), then stores
//! the pack in one write batch and moves every ref in one compare-and-swap
//! transaction: all or none (git's `push --atomic`). Two pushes racing for
//! one branch: one wins, the other gets [`Error::Rejected`] ("fetch first")
//! and loses nothing it had; its objects stay unreachable until
//! `gc --prune` removes them.
//!
//! # HTTP protocol (served by `muse serve`, spoken by [`HttpTransport`])
//!
//! Repository URL `http://HOST:PORT/{owner}/{repo}`; a token is sent as
//! `Authorization: Bearer <token>`. Errors answer JSON `{"error": "…"}`
//! with the status of their class (400 bad input, 401 no token, 403 token
//! without the scope, 404 no such repository, 409 rejected ref update, 413
//! too large, 422 a pack that does not verify, 500 server failure).
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET {url}/refs` | | JSON [`RemoteRefs`] |
//! | `POST {url}/fetch` | JSON [`FetchRequest`] | `application/x-msgpack`: the [`MPack`] |
//! | `POST {url}/push` | `application/x-muse-push`: [`encode_push`] | JSON [`PushReport`] |
//! | `POST {url}/push/mpack-presign` | msgpack `{mpack_key, size_bytes}` | JSON `{upload_url}` |
//! | `PUT <upload_url>` | the MPack bytes | 200 |
//! | `POST {url}/push/unpack-mpack` | msgpack `{mpack_key, branch, head}` | JSON counts |
//!
//! The last three are the seed suites' large-push flow
//! (`test_mpack_delta_e2e.py`); see `muse-hub`.

mod http;
mod local;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use http::HttpTransport;
pub use local::LocalTransport;

use crate::error::{Error, Result};
use crate::ids::CommitId;
use crate::mpack::{Limits, MPack};
use crate::records::CommitRecord;
use crate::repository::Repository;
use crate::store::RefEdit;

/// The refs a remote advertises (`GET {url}/refs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRefs {
    /// The branch the remote's HEAD names (what `clone` checks out);
    /// `None` when it is detached or unknown.
    #[serde(default)]
    pub head: Option<String>,
    /// `{branch: commit}` of every branch (the seeds' `branch_heads`).
    #[serde(default)]
    pub branch_heads: BTreeMap<String, CommitId>,
}

/// A fetch request: the commits the client wants and the ones it has
/// (its branch and remote-tracking tips; the server ignores those it does
/// not know).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Tips to send history for.
    pub want: Vec<CommitId>,
    /// Tips the client already has (with all their history).
    #[serde(default)]
    pub have: Vec<CommitId>,
}

/// One ref update of a push: branch `branch` of the remote moves from
/// `old` (what the client read; `None`: the branch must not exist) to
/// `new` (`None`: delete it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushUpdate {
    /// The remote branch.
    pub branch: String,
    /// What the branch must point at now (compare-and-swap).
    pub old: Option<CommitId>,
    /// What it becomes; `None` deletes it.
    pub new: Option<CommitId>,
    /// Allow a non-fast-forward (git's `push --force`; the `old` check
    /// still applies, like `--force-with-lease`).
    #[serde(default)]
    pub force: bool,
}

/// What a push did (the answer of `POST {url}/push`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// The ref updates applied (all of the request's, or the request failed).
    pub updates: Vec<PushUpdate>,
    /// Commit records newly stored on the remote.
    pub commits_written: usize,
    /// Snapshot records newly stored on the remote.
    pub snapshots_written: usize,
    /// Blobs newly stored on the remote.
    pub blobs_written: usize,
    /// Blobs the remote already had.
    pub blobs_skipped: usize,
}

/// The requests a client makes of a remote repository (see the module
/// docs). Implementations: [`LocalTransport`], [`HttpTransport`].
pub trait Transport: Send {
    /// The remote's URL (for messages).
    fn url(&self) -> &str;

    /// The remote's refs.
    ///
    /// # Errors
    /// [`Error::Remote`] (unreachable, refused), and the remote's errors.
    fn list_refs(&mut self) -> Result<RemoteRefs>;

    /// A bundle of everything reachable from `want` and not from `have`.
    /// Not verified here: the caller applies it with
    /// [`Repository::apply_mpack`], which verifies everything.
    ///
    /// # Errors
    /// As [`Self::list_refs`]; [`Error::NotFound`] for a `want` the remote
    /// does not have.
    fn fetch_pack(&mut self, want: &[CommitId], have: &[CommitId]) -> Result<MPack>;

    /// Sends `pack` and asks the remote to apply `updates`, all or none.
    ///
    /// # Errors
    /// [`Error::Rejected`] (non-fast-forward, the ref moved since it was
    /// read); a pack the remote refuses; as [`Self::list_refs`].
    fn push_pack(&mut self, pack: &MPack, updates: &[PushUpdate]) -> Result<PushReport>;
}

/// Opens the transport for `url`: `http://` or `https://` →
/// [`HttpTransport`] (token from [`token_for`]); `file://<path>` or a
/// path → [`LocalTransport`].
///
/// # Errors
/// [`Error::InvalidInput`] for another scheme; [`Error::NotARepository`]
/// for a path that is not a repository.
pub fn open_transport(url: &str) -> Result<Box<dyn Transport>> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Box::new(HttpTransport::new(url, token_for(url))?));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if path.contains("://") {
        return Err(Error::InvalidInput(format!("unsupported remote URL {url:?}: use http://, https://, file:// or a path")));
    }
    Ok(Box::new(LocalTransport::open(Path::new(path))?))
}

/// The token for `url`: `$MUSE_TOKEN` when set and not empty; else the
/// credentials file's entry whose `url` is the longest prefix of `url`.
/// The credentials file lives outside every repository:
/// `$MUSE_CREDENTIALS`, else `$XDG_CONFIG_HOME/muse/credentials.toml`, else
/// `~/.config/muse/credentials.toml`:
///
/// ```toml
/// [[credential]]
/// url = "http://127.0.0.1:8700/alice/"
/// token = "muse_…"
/// ```
///
/// An unreadable or invalid file is logged (warning) and ignored.
pub fn token_for(url: &str) -> Option<String> {
    if let Ok(t) = std::env::var("MUSE_TOKEN") {
        if !t.trim().is_empty() {
            return Some(t.trim().to_string());
        }
    }
    let path = credentials_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            log::warn!("credentials file {} not read: {e}", path.display());
            return None;
        }
    };
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        credential: Vec<Cred>,
    }
    #[derive(Deserialize)]
    struct Cred {
        url: String,
        token: String,
    }
    let f: File = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            log::warn!("credentials file {} ignored: {e}", path.display());
            return None;
        }
    };
    f.credential
        .into_iter()
        .filter(|c| url.starts_with(c.url.as_str()))
        .max_by_key(|c| c.url.len())
        .map(|c| c.token)
}

/// Where [`token_for`] looks for the credentials file.
pub fn credentials_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MUSE_CREDENTIALS").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(x) => std::path::PathBuf::from(x),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("muse").join("credentials.toml"))
}

// ---------------------------------------------------------------------------
// Remote configuration.
// ---------------------------------------------------------------------------

/// A configured remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// Its name (`origin`).
    pub name: String,
    /// Its URL or path.
    pub url: String,
}

/// The remotes of `config.toml` (`[remote.<name>] url = …`), sorted by name.
///
/// # Errors
/// [`Error::Config`] for a file that is not TOML, [`Error::Io`].
pub fn remotes(root: &Path) -> Result<Vec<Remote>> {
    let doc = crate::config::read_document(root)?;
    let mut out = Vec::new();
    if let Some(t) = doc.get("remote").and_then(|t| t.as_table_like()) {
        for (name, item) in t.iter() {
            if let Some(url) = item.as_table_like().and_then(|r| r.get("url")).and_then(|u| u.as_str()) {
                out.push(Remote { name: name.to_string(), url: url.to_string() });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The URL of remote `name`.
///
/// # Errors
/// [`Error::NotFound`] (`what = "remote"`); as [`remotes`].
pub fn remote_url(root: &Path, name: &str) -> Result<String> {
    remotes(root)?
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.url)
        .ok_or_else(|| Error::NotFound { what: "remote", name: name.to_string() })
}

/// Adds remote `name` with `url` (git's `remote add`). A path is stored
/// absolute, so the remote still works from another directory.
///
/// # Errors
/// [`Error::InvalidRefName`] for a bad name, [`Error::InvalidInput`] when
/// it exists or the URL is empty or has another scheme; as [`remotes`].
pub fn add_remote(root: &Path, name: &str, url: &str) -> Result<()> {
    crate::refs::validate_remote_name(name)?;
    let url = normalize_url(url)?;
    let mut doc = crate::config::read_document(root)?;
    if !doc.contains_key("remote") {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert("remote", toml_edit::Item::Table(t));
    }
    let remotes = doc["remote"]
        .as_table_like_mut()
        .ok_or_else(|| Error::InvalidInput("config.toml: remote is not a table".into()))?;
    if remotes.contains_key(name) {
        return Err(Error::InvalidInput(format!("remote {name} already exists")));
    }
    let mut t = toml_edit::Table::new();
    t.insert("url", toml_edit::value(url));
    remotes.insert(name, toml_edit::Item::Table(t));
    crate::config::write_document(root, &doc)
}

/// Removes remote `name` and its remote-tracking refs (git's `remote remove`).
///
/// # Errors
/// [`Error::NotFound`] when there is no such remote; as [`remotes`].
pub fn remove_remote(repo: &Repository, name: &str) -> Result<()> {
    let root = repo.workdir();
    remote_url(root, name)?;
    let mut doc = crate::config::read_document(root)?;
    if let Some(t) = doc.get_mut("remote").and_then(|t| t.as_table_like_mut()) {
        t.remove(name);
    }
    crate::config::write_document(root, &doc)?;
    let prefix = format!("{name}/");
    let edits: Vec<RefEdit> = repo
        .store()
        .remote_refs()?
        .into_iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, c)| RefEdit { branch: n, expected: Some(Some(c)), new: None })
        .collect();
    if !edits.is_empty() {
        repo.store().update_remote_refs(&edits)?;
    }
    Ok(())
}

/// An `http(s)://` URL without its trailing `/`; a path made absolute.
fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::InvalidInput("empty remote URL".into()));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if path.contains("://") {
        return Err(Error::InvalidInput(format!("unsupported remote URL {url:?}: use http://, https://, file:// or a path")));
    }
    let p = Path::new(path);
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().map_err(|e| Error::io("getcwd", ".", e))?.join(p) };
    Ok(abs.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------
// The push wire form.
// ---------------------------------------------------------------------------

/// The body of `POST {url}/push` (`application/x-muse-push`): a 4-byte
/// big-endian length `n`, `n` bytes of JSON `{"updates": [PushUpdate…]}`,
/// then the encoded MPack ([`crate::mpack::encode_mpack`]; may be empty
/// when no object is sent, e.g. a delete).
///
/// # Errors
/// Encoding errors.
pub fn encode_push(pack: &MPack, updates: &[PushUpdate]) -> Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Head<'a> {
        updates: &'a [PushUpdate],
    }
    let head = serde_json::to_vec(&Head { updates }).map_err(|e| Error::InvalidInput(format!("push request: {e}")))?;
    let body = if pack.commits.is_empty() && pack.blobs.is_empty() && pack.snapshots.is_empty() {
        Vec::new()
    } else {
        crate::mpack::encode_mpack(pack)?
    };
    let mut out = Vec::with_capacity(4 + head.len() + body.len());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Most bytes of the JSON part of a push body (1 MiB: about 5,000 ref
/// updates).
pub const MAX_PUSH_HEADER_BYTES: usize = 1 << 20;

/// Most ref updates in one push.
pub const MAX_PUSH_UPDATES: usize = 5_000;

/// Decodes [`encode_push`]'s form, the pack under `limits`.
///
/// # Errors
/// [`Error::InvalidInput`] for a truncated or malformed body, too many
/// updates; the errors of [`crate::mpack::decode_mpack`].
pub fn decode_push(bytes: &[u8], limits: &Limits) -> Result<(MPack, Vec<PushUpdate>)> {
    #[derive(Deserialize)]
    struct Head {
        updates: Vec<PushUpdate>,
    }
    let bad = |m: &str| Error::InvalidInput(format!("push request: {m}"));
    if bytes.len() < 4 {
        return Err(bad("truncated (no header length)"));
    }
    let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if n > MAX_PUSH_HEADER_BYTES {
        return Err(bad(&format!("header of {n} bytes is over the limit of {MAX_PUSH_HEADER_BYTES}")));
    }
    let rest = &bytes[4..];
    if rest.len() < n {
        return Err(bad("truncated header"));
    }
    let head: Head = serde_json::from_slice(&rest[..n]).map_err(|e| bad(&format!("bad header: {e}")))?;
    if head.updates.len() > MAX_PUSH_UPDATES {
        return Err(bad(&format!("{} ref updates, over the limit of {MAX_PUSH_UPDATES}", head.updates.len())));
    }
    let body = &rest[n..];
    let pack = if body.is_empty() { MPack::default() } else { crate::mpack::decode_mpack(body, limits)? };
    Ok((pack, head.updates))
}

// ---------------------------------------------------------------------------
// The server side.
// ---------------------------------------------------------------------------

impl Repository {
    /// The refs this repository advertises to a client (see [`RemoteRefs`]).
    ///
    /// # Errors
    /// Store errors.
    pub fn advertise_refs(&self) -> Result<RemoteRefs> {
        let head = match self.store().head()? {
            crate::store::Head::Branch(b) => Some(b),
            crate::store::Head::Detached(_) => None,
        };
        Ok(RemoteRefs { head, branch_heads: self.store().branches()?.into_iter().collect() })
    }

    /// Answers a fetch: the bundle of every commit reachable from `want`
    /// and not from the `have` commits this repository knows (the others
    /// are ignored: the client has commits we do not).
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what = "commit"`) for a `want` not stored
    /// here; [`Error::InvalidInput`] for more than [`MAX_PUSH_UPDATES`]
    /// wants; store errors.
    pub fn upload_pack(&self, want: &[CommitId], have: &[CommitId]) -> Result<MPack> {
        if want.len() > MAX_PUSH_UPDATES {
            return Err(Error::InvalidInput(format!("{} wants, over the limit of {MAX_PUSH_UPDATES}", want.len())));
        }
        for w in want {
            if !self.store().has_commit(w)? {
                return Err(Error::NotFound { what: "commit", name: w.to_string() });
            }
        }
        let mut known = Vec::with_capacity(have.len());
        for h in have {
            if self.store().has_commit(h)? {
                known.push(*h);
            }
        }
        self.build_mpack(want, &known)
    }

    /// Receives a push: verifies `pack` completely and checks every update
    /// before anything is stored, then stores the pack and applies every
    /// update in one compare-and-swap transaction (see the module docs).
    /// An update whose branch already is at its `new` value is satisfied
    /// as it is, whatever its `old` (a retried push whose first attempt
    /// landed succeeds: pushes are idempotent).
    ///
    /// # Errors
    /// [`Error::Rejected`]: an update whose `old` is not the branch's
    /// value ("fetch first"), an update of the checked-out branch of a
    /// repository that is not bare (git's `receive.denyCurrentBranch`;
    /// see [`crate::config::Config::bare`]), a non-fast-forward without `force`, a `new`
    /// commit neither in the pack nor stored, a branch named twice;
    /// [`Error::InvalidRefName`]; the verification errors of
    /// [`Repository::apply_mpack`] (nothing stored); store errors.
    pub fn receive_pack(&self, pack: &MPack, updates: &[PushUpdate], limits: &Limits) -> Result<PushReport> {
        if updates.is_empty() {
            return Err(Error::InvalidInput("a push names no ref to update".into()));
        }
        if updates.len() > MAX_PUSH_UPDATES {
            return Err(Error::InvalidInput(format!("{} ref updates, over the limit of {MAX_PUSH_UPDATES}", updates.len())));
        }
        let mut seen = HashSet::new();
        for u in updates {
            crate::refs::validate_branch_name(&u.branch)?;
            if !seen.insert(u.branch.as_str()) {
                return Err(Error::Rejected { name: heads(&u.branch), reason: "named twice in one push".into() });
            }
        }
        // 1. The updates, against the refs as they are now and the pack's
        //    commits (nothing stored yet).
        let in_pack: HashMap<CommitId, &CommitRecord> =
            pack.commits.iter().filter_map(|c| Some((CommitId::parse(&c.commit_id).ok()?, c))).collect();
        let mut pending = Vec::with_capacity(updates.len());
        for u in updates {
            if self.check_update(u, &in_pack)? {
                pending.push(u);
            }
        }
        if pending.is_empty() {
            // Every branch is already where the push wants it (the same
            // push landed before, e.g. one whose client was killed after
            // sending it): done, nothing stored (idempotent retries).
            return Ok(PushReport { updates: updates.to_vec(), ..Default::default() });
        }
        // 2. The pack: verified entirely, then stored in one batch.
        let _writing = self.hold_write_lock()?;
        let stats = if pack.commits.is_empty() && pack.snapshots.is_empty() && pack.blobs.is_empty() {
            Default::default()
        } else {
            self.apply_mpack(pack, limits)?
        };
        for u in &pending {
            if let Some(n) = &u.new {
                if !self.store().has_commit(n)? {
                    return Err(Error::Rejected { name: heads(&u.branch), reason: format!("commit {n} is not in the pack") });
                }
            }
        }
        // 3. Every ref moves together, each from the value checked above.
        let edits: Vec<RefEdit> =
            pending.iter().map(|u| RefEdit { branch: u.branch.clone(), expected: Some(u.old), new: u.new }).collect();
        self.store().transaction(&edits).map_err(|e| match e {
            Error::RefConflict { name, .. } => {
                Error::Rejected { name, reason: "the branch moved while the push was received; fetch first".into() }
            }
            e => e,
        })?;
        Ok(PushReport {
            updates: updates.to_vec(),
            commits_written: stats.commits_written,
            snapshots_written: stats.snapshots_written,
            blobs_written: stats.blobs_written,
            blobs_skipped: stats.blobs_skipped,
        })
    }

    /// Checks one update against the branch's current value: `Ok(true)`
    /// when it must move, `Ok(false)` when it already is at `new`.
    fn check_update(&self, u: &PushUpdate, in_pack: &HashMap<CommitId, &CommitRecord>) -> Result<bool> {
        let name = heads(&u.branch);
        let cur = self.store().branch(&u.branch)?;
        if cur == u.new {
            return Ok(false);
        }
        // git's receive.denyCurrentBranch: moving the branch a working
        // tree has checked out would leave that tree and stage describing
        // another commit.
        if !self.config()?.bare {
            if let crate::store::Head::Branch(b) = self.store().head()? {
                if b == u.branch {
                    return Err(Error::Rejected {
                        name,
                        reason: "refusing to update the checked-out branch of a repository with a working tree (make the remote bare with `muse config core.bare true`, or push another branch)".into(),
                    });
                }
            }
        }
        if cur != u.old {
            let reason = match (&cur, &u.old) {
                (Some(c), _) => format!("the remote branch is at {c}, not where the client read it; fetch first"),
                (None, _) => "the remote branch no longer exists; fetch first".to_string(),
            };
            return Err(Error::Rejected { name, reason });
        }
        let (Some(old), Some(new)) = (&u.old, &u.new) else { return Ok(true) };
        if old == new || u.force {
            return Ok(true);
        }
        if !self.is_ancestor_via(old, new, in_pack)? {
            return Err(Error::Rejected {
                name,
                reason: "non-fast-forward: the remote has commits the push does not contain; fetch and merge, or push with --force"
                    .into(),
            });
        }
        Ok(true)
    }

    /// True when `ancestor` is reachable from `tip` through parents, the
    /// commits of `in_pack` first, then the store's. A commit neither has
    /// ends that line of the walk.
    fn is_ancestor_via(&self, ancestor: &CommitId, tip: &CommitId, in_pack: &HashMap<CommitId, &CommitRecord>) -> Result<bool> {
        let mut seen: HashSet<CommitId> = HashSet::new();
        let mut queue: VecDeque<CommitId> = VecDeque::from([*tip]);
        while let Some(c) = queue.pop_front() {
            if c == *ancestor {
                return Ok(true);
            }
            if !seen.insert(c) {
                continue;
            }
            let parents: Vec<String> = match in_pack.get(&c) {
                Some(rec) => parent_ids(rec),
                None => match self.store().read_commit(&c)? {
                    Some(rec) => parent_ids(&rec),
                    None => continue,
                },
            };
            for p in parents {
                if let Ok(p) = CommitId::parse(&p) {
                    queue.push_back(p);
                }
            }
        }
        Ok(false)
    }

    /// The write lock, shared, on the filesystem store (so `gc --prune`
    /// cannot remove a received pack before its refs move); nothing for
    /// other backends.
    pub(crate) fn hold_write_lock(&self) -> Result<Option<crate::lock::FileLock>> {
        if self.store().as_fs().is_some() {
            Ok(Some(self.write_lock()?))
        } else {
            Ok(None)
        }
    }
}

fn parent_ids(rec: &CommitRecord) -> Vec<String> {
    rec.all_parents().into_iter().map(str::to_string).collect()
}

fn heads(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

// ---------------------------------------------------------------------------
// The client side.
// ---------------------------------------------------------------------------

/// How a remote-tracking ref changed in a fetch (git's fetch output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefChange {
    /// It did not exist.
    New,
    /// It moved forward.
    FastForward,
    /// It moved to a commit that does not descend from the old one.
    Forced,
    /// It did not move.
    UpToDate,
    /// The remote branch is gone and the ref was removed (`--prune`).
    Deleted,
}

/// One ref of a fetch's or push's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefReport {
    /// The ref (`origin/main` for a fetch, the remote branch for a push).
    pub name: String,
    /// Where it was.
    pub old: Option<CommitId>,
    /// Where it is now.
    pub new: Option<CommitId>,
    /// How it changed.
    pub change: RefChange,
}

/// What [`Repository::fetch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// The remote's name.
    pub remote: String,
    /// The remote's URL.
    pub url: String,
    /// The branch the remote's HEAD names.
    pub head: Option<String>,
    /// Every remote-tracking ref of the remote, and how it changed.
    pub refs: Vec<RefReport>,
    /// Commits received and newly stored.
    pub commits_written: usize,
    /// Snapshots received and newly stored.
    pub snapshots_written: usize,
    /// Blobs received and newly stored.
    pub blobs_written: usize,
}

/// Options of [`Repository::fetch`].
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Remove remote-tracking refs whose branch is gone on the remote
    /// (git's `fetch --prune`).
    pub prune: bool,
}

/// What [`Repository::pull`] did after fetching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PullOutcome {
    /// HEAD already contains the remote branch.
    UpToDate,
    /// HEAD's branch moved forward to the remote branch's commit.
    FastForward {
        /// The new HEAD commit.
        commit: CommitId,
    },
    /// A merge commit was made.
    Merged {
        /// The merge commit.
        commit: CommitId,
    },
    /// The merge stopped with conflicts (resolve, then commit, as after
    /// `muse merge`).
    Conflicts {
        /// The conflicting paths.
        paths: Vec<String>,
    },
}

impl Repository {
    /// The configured remotes ([`remotes`]).
    ///
    /// # Errors
    /// As [`remotes`].
    pub fn remotes(&self) -> Result<Vec<Remote>> {
        remotes(self.workdir())
    }

    /// Adds a remote ([`add_remote`]).
    ///
    /// # Errors
    /// As [`add_remote`].
    pub fn add_remote(&self, name: &str, url: &str) -> Result<()> {
        add_remote(self.workdir(), name, url)
    }

    /// Removes a remote and its remote-tracking refs ([`remove_remote`]).
    ///
    /// # Errors
    /// As [`remove_remote`].
    pub fn remove_remote(&self, name: &str) -> Result<()> {
        remove_remote(self, name)
    }

    /// The commits this repository has that a remote may know: every
    /// branch, remote-tracking ref and tag tip (the `have` of a fetch).
    fn have_tips(&self) -> Result<Vec<CommitId>> {
        let s = self.store();
        let mut v: Vec<CommitId> = s.branches()?.into_iter().map(|(_, c)| c).collect();
        v.extend(s.remote_refs()?.into_iter().map(|(_, c)| c));
        v.extend(s.tags()?.into_iter().map(|(_, c)| c));
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    /// Fetches from remote `remote` (a configured name): asks its refs,
    /// receives a bundle of the commits this repository lacks (verified
    /// entirely by [`Repository::apply_mpack`]), then sets every
    /// `refs/remotes/<remote>/<branch>` to the remote's branch in one
    /// transaction. Moves no local branch and touches no working tree.
    ///
    /// # Errors
    /// As [`remote_url`], [`Transport`], [`Repository::apply_mpack`];
    /// [`Error::Corrupt`] when the bundle lacks a commit the remote
    /// advertised.
    pub fn fetch(&self, remote: &str, opts: &FetchOptions) -> Result<FetchReport> {
        let url = remote_url(self.workdir(), remote)?;
        let mut t = open_transport(&url)?;
        self.fetch_with(remote, t.as_mut(), opts)
    }

    /// [`Repository::fetch`] over an open transport (named `remote` for
    /// the remote-tracking refs).
    ///
    /// # Errors
    /// As [`Repository::fetch`].
    pub fn fetch_with(&self, remote: &str, t: &mut dyn Transport, opts: &FetchOptions) -> Result<FetchReport> {
        crate::refs::validate_remote_name(remote)?;
        self.report_progress("asking the remote for its refs", 0, 1);
        let refs = t.list_refs()?;
        let mut want: Vec<CommitId> = Vec::new();
        for c in refs.branch_heads.values() {
            if !self.store().has_commit(c)? {
                want.push(*c);
            }
        }
        want.sort_unstable();
        want.dedup();
        let mut report = FetchReport { remote: remote.to_string(), url: t.url().to_string(), head: refs.head.clone(), ..Default::default() };
        let _writing = self.hold_write_lock()?;
        if !want.is_empty() {
            self.report_progress("receiving the bundle", 0, 1);
            let have = self.have_tips()?;
            let pack = t.fetch_pack(&want, &have)?;
            self.report_progress("receiving the bundle", 1, 1);
            let stats = self.apply_mpack(&pack, &Limits::default())?;
            report.commits_written = stats.commits_written;
            report.snapshots_written = stats.snapshots_written;
            report.blobs_written = stats.blobs_written;
            for w in &want {
                if !self.store().has_commit(w)? {
                    return Err(Error::corrupt("fetched bundle", t.url(), format!("it lacks commit {w}, which the remote advertised")));
                }
            }
        }
        // The remote-tracking refs, all in one transaction.
        let prefix = format!("{remote}/");
        let current: BTreeMap<String, CommitId> = self
            .store()
            .remote_refs()?
            .into_iter()
            .filter_map(|(n, c)| Some((n.strip_prefix(&prefix)?.to_string(), c)))
            .collect();
        let mut edits = Vec::new();
        for (branch, new) in &refs.branch_heads {
            if crate::refs::validate_branch_name(branch).is_err() {
                log::warn!("remote branch {branch:?} of {} ignored: not a valid branch name", t.url());
                continue;
            }
            let old = current.get(branch).copied();
            let change = match old {
                None => RefChange::New,
                Some(o) if o == *new => RefChange::UpToDate,
                Some(o) => {
                    if self.is_ancestor_via(&o, new, &HashMap::new())? {
                        RefChange::FastForward
                    } else {
                        RefChange::Forced
                    }
                }
            };
            if change != RefChange::UpToDate {
                edits.push(RefEdit { branch: format!("{remote}/{branch}"), expected: Some(old), new: Some(*new) });
            }
            report.refs.push(RefReport { name: format!("{remote}/{branch}"), old, new: Some(*new), change });
        }
        if opts.prune {
            for (branch, old) in &current {
                if !refs.branch_heads.contains_key(branch) {
                    edits.push(RefEdit { branch: format!("{remote}/{branch}"), expected: Some(Some(*old)), new: None });
                    report.refs.push(RefReport { name: format!("{remote}/{branch}"), old: Some(*old), new: None, change: RefChange::Deleted });
                }
            }
        }
        if !edits.is_empty() {
            self.store().update_remote_refs(&edits)?;
        }
        Ok(report)
    }

    /// Pushes local branches to remote `remote` (git's `push --atomic`):
    /// for each branch the remote's value is read, the bundle of what the
    /// remote lacks is sent, and the remote moves every branch from the
    /// value read to the local one, all or none. `branches` empty: HEAD's
    /// branch. A branch is refused ([`Error::Rejected`]) when the remote
    /// has commits the local branch does not contain, unless `force`.
    /// Afterwards the remote-tracking refs record the new values.
    ///
    /// # Errors
    /// [`Error::NotFound`] (unknown local branch or remote);
    /// [`Error::InvalidInput`] (detached HEAD and no branch given);
    /// [`Error::Rejected`]; as [`Transport::push_pack`].
    pub fn push(&self, remote: &str, branches: &[String], force: bool) -> Result<PushReport> {
        let url = remote_url(self.workdir(), remote)?;
        let mut t = open_transport(&url)?;
        self.push_with(remote, t.as_mut(), branches, force)
    }

    /// [`Repository::push`] over an open transport.
    ///
    /// # Errors
    /// As [`Repository::push`].
    pub fn push_with(&self, remote: &str, t: &mut dyn Transport, branches: &[String], force: bool) -> Result<PushReport> {
        crate::refs::validate_remote_name(remote)?;
        let branches: Vec<String> = if branches.is_empty() {
            match self.head_branch()? {
                Some(b) => vec![b],
                None => return Err(Error::InvalidInput("HEAD is detached: name the branch to push".into())),
            }
        } else {
            branches.to_vec()
        };
        self.report_progress("asking the remote for its refs", 0, 1);
        let refs = t.list_refs()?;
        let mut updates = Vec::new();
        let mut want = Vec::new();
        for b in &branches {
            let local = self.store().branch(b)?.ok_or_else(|| Error::NotFound { what: "branch", name: b.clone() })?;
            let theirs = refs.branch_heads.get(b).copied();
            if theirs == Some(local) {
                continue;
            }
            if let Some(r) = theirs {
                if !force {
                    let known = self.store().has_commit(&r)?;
                    if !known || !self.is_ancestor_via(&r, &local, &HashMap::new())? {
                        let why = if known {
                            "non-fast-forward: the remote branch has commits yours does not; pull (or fetch and merge) first, or push with --force"
                        } else {
                            "the remote has commits you do not have (fetch first), or push with --force"
                        };
                        return Err(Error::Rejected { name: heads(b), reason: why.into() });
                    }
                }
            }
            updates.push(PushUpdate { branch: b.clone(), old: theirs, new: Some(local), force });
            want.push(local);
        }
        if updates.is_empty() {
            return Ok(PushReport::default());
        }
        // What the remote provably has: its advertised tips that we store.
        let mut have = Vec::new();
        for c in refs.branch_heads.values() {
            if self.store().has_commit(c)? {
                have.push(*c);
            }
        }
        self.report_progress("building the bundle", 0, 1);
        let pack = self.build_mpack(&want, &have)?;
        self.report_progress("sending the bundle", 0, 1);
        let report = t.push_pack(&pack, &updates)?;
        self.report_progress("sending the bundle", 1, 1);
        let edits: Vec<RefEdit> = report
            .updates
            .iter()
            .map(|u| RefEdit { branch: format!("{remote}/{}", u.branch), expected: None, new: u.new })
            .collect();
        if !edits.is_empty() {
            if let Err(e) = self.store().update_remote_refs(&edits) {
                log::warn!("the push succeeded but the remote-tracking refs were not updated: {e}");
            }
        }
        Ok(report)
    }

    /// Fetches from `remote`, then merges `refs/remotes/<remote>/<branch>`
    /// into HEAD's branch (`branch`: default the same name as HEAD's
    /// branch): a fast-forward when possible, else a merge commit by
    /// `author` ([`Repository::merge`]'s rules: refused on a dirty tree).
    /// On an unborn HEAD the branch is created at the remote's commit and
    /// checked out.
    ///
    /// # Errors
    /// As [`Repository::fetch`] and [`Repository::merge`];
    /// [`Error::NotFound`] when the remote has no such branch.
    pub fn pull(&self, remote: &str, branch: Option<&str>, author: &str) -> Result<(FetchReport, PullOutcome)> {
        let fetched = self.fetch(remote, &FetchOptions::default())?;
        let outcome = self.merge_remote_branch(remote, branch, author)?;
        Ok((fetched, outcome))
    }

    /// The merge half of [`Repository::pull`].
    ///
    /// # Errors
    /// As [`Repository::pull`].
    pub fn merge_remote_branch(&self, remote: &str, branch: Option<&str>, author: &str) -> Result<PullOutcome> {
        let current = self.head_branch()?.ok_or_else(|| Error::InvalidInput("HEAD is detached: check out a branch to pull into".into()))?;
        let branch = branch.unwrap_or(&current);
        let tracking = format!("{remote}/{branch}");
        let theirs = self
            .store()
            .remote_refs()?
            .into_iter()
            .find(|(n, _)| *n == tracking)
            .map(|(_, c)| c)
            .ok_or_else(|| Error::NotFound { what: "remote branch", name: tracking.clone() })?;
        if self.store().branch(&current)?.is_none() {
            // Unborn HEAD: the branch starts at the remote's commit.
            return match self.update_branch(&current, &theirs.to_string())? {
                crate::checkout::BranchUpdate::Refused(why) => Err(Error::InvalidInput(format!("cannot pull into {current}: {why}"))),
                _ => Ok(PullOutcome::FastForward { commit: theirs }),
            };
        }
        use crate::merge::MergeOutcome;
        Ok(match self.merge(&tracking, author)? {
            MergeOutcome::UpToDate => PullOutcome::UpToDate,
            MergeOutcome::FastForward { commit } => PullOutcome::FastForward { commit: CommitId::parse(&commit)? },
            MergeOutcome::Merged { commit } => PullOutcome::Merged { commit: CommitId::parse(&commit)? },
            MergeOutcome::Conflicts { paths } => PullOutcome::Conflicts { paths },
        })
    }

    /// Clones `url` into the new directory `dir` (git's `clone`): a new
    /// repository with remote `origin` = `url`, fetched, its branch
    /// `<remote HEAD>` (or `branch`) created at the remote's commit and
    /// checked out. An empty remote gives an empty repository on the
    /// remote's HEAD branch. On failure the directory is removed if this
    /// call created it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `dir` exists and is not empty; as
    /// [`Repository::fetch`]; [`Error::NotFound`] for a `branch` the
    /// remote lacks.
    pub fn clone_from(url: &str, dir: &Path, branch: Option<&str>) -> Result<Repository> {
        Self::clone_with_progress(url, dir, branch, None)
    }

    /// [`Repository::clone_from`] reporting progress to `progress`
    /// (as [`Repository::with_progress`]).
    ///
    /// # Errors
    /// As [`Repository::clone_from`].
    pub fn clone_with_progress(
        url: &str,
        dir: &Path,
        branch: Option<&str>,
        progress: Option<crate::repository::Progress>,
    ) -> Result<Repository> {
        let created = match std::fs::read_dir(dir) {
            Ok(mut rd) => {
                if rd.next().is_some() {
                    return Err(Error::InvalidInput(format!("destination {} exists and is not an empty directory", dir.display())));
                }
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
                true
            }
            Err(e) => return Err(Error::io("read", dir, e)),
        };
        let result = (|| {
            let url = normalize_url(url)?;
            let mut t = open_transport(&url)?;
            let refs = t.list_refs()?;
            let opts = crate::repo::InitOptions {
                default_branch: branch.map(str::to_string).or_else(|| refs.head.clone()).unwrap_or_else(|| "main".into()),
                ..Default::default()
            };
            let mut repo = Repository::init_with(dir, &opts)?;
            if let Some(p) = progress {
                repo = repo.with_progress(p);
            }
            repo.add_remote("origin", &url)?;
            repo.fetch_with("origin", t.as_mut(), &FetchOptions::default())?;
            let b = opts.default_branch.clone();
            match refs.branch_heads.get(&b) {
                Some(c) => {
                    if let crate::checkout::BranchUpdate::Refused(why) = repo.update_branch(&b, &c.to_string())? {
                        return Err(Error::InvalidInput(format!("clone could not check out {b}: {why}")));
                    }
                }
                None if branch.is_some() => return Err(Error::NotFound { what: "remote branch", name: b }),
                None => {}
            }
            Ok(repo)
        })();
        if result.is_err() {
            if created {
                let _ = std::fs::remove_dir_all(dir);
            } else if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                }
            }
        }
        result
    }
}
