//! The HTTP server of `muse serve` (tokio + axum).
//!
//! # Routes
//!
//! A hosted repository's URL is `http://HOST:PORT/{owner}/{repo}`; the
//! protocol is [`muse_core::remote`]'s (its module docs hold the table the
//! client, [`muse_core::remote::HttpTransport`], speaks):
//!
//! | request | scope | body | answer |
//! |---|---|---|---|
//! | `GET /{owner}/{repo}/refs` | read | | JSON [`RemoteRefs`] `{"head", "branch_heads"}` |
//! | `POST /{owner}/{repo}/fetch` | read | JSON [`FetchRequest`] `{"want", "have"}` | `application/x-msgpack`: the MPack |
//! | `POST /{owner}/{repo}/push` | write | `application/x-muse-push` ([`muse_core::remote::encode_push`]) | JSON [`PushReport`] |
//! | `POST /{owner}/{repo}/push/mpack-presign` | write | msgpack or JSON `{mpack_key, size_bytes}` | JSON `{"upload_url", "expires_at"}` |
//! | `PUT <upload_url>` | the URL's signature | the MPack bytes | JSON `{"mpack_key", "size_bytes"}` |
//! | `POST /{owner}/{repo}/push/unpack-mpack` | write | msgpack or JSON `{mpack_key, branch, head, old?, force?}` | JSON `{"commits_written", "snapshots_written", "blobs_written", "blobs_skipped", "branch", "head"}` |
//!
//! The last three are the seed suites' large-push flow: `mpack_key` is
//! `"sha256:" + hex` of the encoded MPack. When the storage presigns
//! ([`HubStorage::presign_upload`], e.g. S3), that URL is returned; else
//! the server hands out its own,
//! `{base}/{owner}/{repo}/push/uploads/{hex}?size=N&expires=T&sig=S`,
//! where `S` is an HMAC-SHA256 ([`upload_signature`]) under the hub's
//! secret (`<root>/.hub/secret`), so the `PUT` needs no token (like an S3
//! presigned URL) and is refused (403) when the signature does not match
//! or the URL has expired, and refused (413, 400, 422) unless the body is
//! exactly `size` bytes hashing to the key. `unpack-mpack` reads the upload
//! (and checks its hash again), verifies the MPack entirely and moves
//! `branch` from `old` (default: its value just before) to `head` by
//! compare-and-swap ([`muse_core::Repository::receive_pack`]; fast-forward
//! only unless `force`), then deletes the upload.
//!
//! # Authentication
//!
//! `Authorization: Bearer <token>`. Tokens are per repository with a scope
//! ([`Scope::Read`]: refs and fetch; [`Scope::Write`]: also push, presign
//! and unpack), made by [`create_token`] (`muse serve token`) and stored
//! only as SHA-256 digests. A public repository is readable without a
//! token. Like git hosting, the answers never tell an anonymous client
//! whether a private repository exists:
//!
//! | request | answer |
//! |---|---|
//! | no token, public repository, read | served |
//! | no token, public repository, write | 401 |
//! | no token, private or unknown repository | 401 (the same answer for both) |
//! | token, unknown repository | 404 |
//! | token not valid for a private repository | 404 (the same answer as unknown) |
//! | token not valid for a public repository | 401 |
//! | valid token without the scope (read token pushing) | 403 |
//!
//! Every 401 carries `WWW-Authenticate: Bearer realm="muse"`.
//!
//! # Errors and limits
//!
//! Every refusal answers JSON `{"error": "…"}` with the status of its class
//! (see [`status_of`]): 400 bad input, 401/403/404 as above, 409 a refused
//! ref update (the message starts `rejected <ref>: `, which the client
//! turns back into [`muse_core::Error::Rejected`]), 413 a body over the
//! limit ([`ServeConfig::max_body_bytes`] for push and uploads,
//! [`ServeConfig::max_json_bytes`] for the other bodies), 422 data that
//! does not verify, 500 a server failure (details only in the server log).
//! A refused request writes nothing: authorization is checked before the
//! body is read (a refused body of up to 1 MiB is then read and dropped,
//! so the client's connection stays usable; a longer one is answered with
//! `Connection: close`), and a push is verified entirely before anything
//! is stored. The core calls run on tokio's blocking pool; a panic in one
//! answers 500 and the server goes on. Each request is logged at `info`
//! (method, path without the query, status, time). Request bodies are
//! held in memory whole (up to their limit).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use muse_core::mpack::{decode_mpack, encode_mpack, Limits};
use muse_core::remote::{decode_push, FetchRequest, PushReport, PushUpdate, RemoteRefs};
use muse_core::{CommitId, Error, ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fs_hub::{load_or_create_secret, parse_slug, to_hex, token_sha256, upload_key_hex, validate_name, FsHub};
use crate::storage::{HubStorage, RepoInfo, Scope};

/// The default listen address of `muse serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";

/// Default [`ServeConfig::max_body_bytes`]: 4 GiB (the MPack limit).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 4 << 30;

/// Default [`ServeConfig::max_json_bytes`]: 16 MiB (a fetch request with
/// many `have` tips).
pub const DEFAULT_MAX_JSON_BYTES: u64 = 16 << 20;

/// Default [`ServeConfig::upload_ttl`]: one hour.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// How `muse serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The hub's root directory (the embedded tier's repositories, and
    /// `.hub/secret`, the key of the server's upload-URL signatures, for
    /// every tier).
    pub root: PathBuf,
    /// Where to listen (port 0: any free port; the bound address is
    /// reported through `ready`).
    pub listen: SocketAddr,
    /// Largest body of `push` and of an upload `PUT` (413 beyond), and
    /// largest MPack accepted: default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: u64,
    /// Largest body of the other requests (fetch, presign, unpack): default
    /// [`DEFAULT_MAX_JSON_BYTES`].
    pub max_json_bytes: u64,
    /// How long a server-signed upload URL stays valid: default
    /// [`DEFAULT_UPLOAD_TTL`].
    pub upload_ttl: Duration,
    /// The base URL clients reach this server at (`https://hub.example`),
    /// for the upload URLs it hands out; `None`: `http://` + the request's
    /// `Host` header.
    pub public_url: Option<String>,
}

impl ServeConfig {
    /// A configuration with the defaults: serve `root` on `listen`.
    pub fn new(root: impl Into<PathBuf>, listen: SocketAddr) -> ServeConfig {
        ServeConfig {
            root: root.into(),
            listen,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            upload_ttl: DEFAULT_UPLOAD_TTL,
            public_url: None,
        }
    }

    /// The MPack limits of this server (the core's defaults, bundles up to
    /// [`Self::max_body_bytes`]).
    pub fn limits(&self) -> Limits {
        Limits { max_bundle_bytes: self.max_body_bytes, ..Limits::default() }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound (in use, not local, no
    /// permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The runtime could not start, or serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The hub's storage or secret could not be opened.
    #[error(transparent)]
    Core(#[from] muse_core::Error),
}

// ---------------------------------------------------------------------------
// Hub administration.
// ---------------------------------------------------------------------------

/// Creates hosted repository `slug` (`owner/name`) in the embedded hub at
/// `root` (created if missing); `public`: readable without a token.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad slug ([`crate::fs_hub::validate_name`])
/// or one that exists; [`Error::Io`].
pub fn init_repo(root: &FsPath, slug: &str, public: bool) -> muse_core::Result<RepoInfo> {
    init_repo_in(&FsHub::open(root)?, slug, public)
}

/// [`init_repo`] in any storage.
///
/// # Errors
/// As [`init_repo`]; the storage's errors.
pub fn init_repo_in(storage: &dyn HubStorage, slug: &str, public: bool) -> muse_core::Result<RepoInfo> {
    let (owner, name) = parse_slug(slug)?;
    storage.create_repo(&owner, &name, public)
}

/// Makes a new token (`muse_` + 64 hex digits) with `scope` on hosted
/// repository `slug` of the embedded hub at `root`, stores its SHA-256,
/// and returns the token (the only time it is seen).
///
/// # Errors
/// [`Error::NotFound`] when the repository is not hosted; as
/// [`init_repo`].
pub fn create_token(root: &FsPath, slug: &str, scope: Scope) -> muse_core::Result<String> {
    create_token_in(&FsHub::open(root)?, slug, scope)
}

/// [`create_token`] in any storage.
///
/// # Errors
/// As [`create_token`]; the storage's errors.
pub fn create_token_in(storage: &dyn HubStorage, slug: &str, scope: Scope) -> muse_core::Result<String> {
    let (owner, name) = parse_slug(slug)?;
    if storage.repo(&owner, &name)?.is_none() {
        return Err(Error::NotFound { what: "repository", name: slug.to_string() });
    }
    let token = crate::fs_hub::new_token()?;
    storage.add_token(&owner, &name, scope, &token_sha256(&token))?;
    Ok(token)
}

/// The signature of a server upload URL: lowercase hex of
/// HMAC-SHA256(`secret`, `"muse-upload-v1\n{owner}/{name}\n{hex}\n{size}\n{expires}"`),
/// where `hex` is the upload key's digest and `expires` a Unix time.
pub fn upload_signature(secret: &[u8; 32], owner: &str, name: &str, hex: &str, size: u64, expires: u64) -> String {
    to_hex(&upload_mac(secret, owner, name, hex, size, expires).finalize().into_bytes())
}

fn upload_mac(secret: &[u8; 32], owner: &str, name: &str, hex: &str, size: u64, expires: u64) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(format!("muse-upload-v1\n{owner}/{name}\n{hex}\n{size}\n{expires}").as_bytes());
    mac
}

// ---------------------------------------------------------------------------
// Running.
// ---------------------------------------------------------------------------

/// Serves `storage` as configured until SIGINT or SIGTERM, then shuts down
/// gracefully (requests in flight finish). Binds first and sends the bound
/// address to `ready` (so a caller may listen on port 0).
///
/// # Errors
/// [`ServeError::Bind`]; [`ServeError::Core`] when the secret cannot be
/// read or made; [`ServeError::Io`].
pub fn serve_blocking(
    cfg: ServeConfig,
    storage: Arc<dyn HubStorage>,
    ready: Option<std::sync::mpsc::Sender<SocketAddr>>,
) -> Result<(), ServeError> {
    let rt = runtime()?;
    let listener = bind(&cfg)?;
    let addr = listener.local_addr()?;
    let app = router(cfg, storage, addr)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // The handlers are installed before anyone learns the address, so
        // a SIGTERM sent as soon as it is known stops the server gracefully.
        let stop = shutdown_signal();
        if let Some(tx) = ready {
            let _ = tx.send(addr);
        }
        serve(listener, app, stop).await
    })
}

/// A server running on its own thread (for tests and embedding): started
/// by [`ServerHandle::start`], stopped by [`ServerHandle::shutdown`] or
/// when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl ServerHandle {
    /// Binds `cfg.listen` and serves `storage` on a new thread.
    ///
    /// # Errors
    /// As [`serve_blocking`].
    pub fn start(cfg: ServeConfig, storage: Arc<dyn HubStorage>) -> Result<ServerHandle, ServeError> {
        let rt = runtime()?;
        let listener = bind(&cfg)?;
        let addr = listener.local_addr()?;
        let app = router(cfg, storage, addr)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("muse-serve".into()).spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(
                    listener,
                    app,
                    Box::pin(async move {
                        let _ = stopped.await;
                    }),
                )
                .await
            })
        })?;
        Ok(ServerHandle { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of hosted repository `slug` (`owner/name`) on this server.
    pub fn url(&self, slug: &str) -> String {
        format!("http://{}/{slug}", self.addr)
    }

    /// Stops the server gracefully and waits for it.
    ///
    /// # Errors
    /// The error serving ended with.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other("the server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("muse-serve").build()?)
}

fn bind(cfg: &ServeConfig) -> Result<std::net::TcpListener, ServeError> {
    let l = std::net::TcpListener::bind(cfg.listen).map_err(|source| ServeError::Bind { addr: cfg.listen, source })?;
    l.set_nonblocking(true)?;
    Ok(l)
}

async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<(), ServeError> {
    log::info!("muse serve: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    log::info!("muse serve: stopped");
    Ok(())
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM; the handlers are
/// installed by this call (in a runtime), not at the first poll.
fn shutdown_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind: SignalKind, name: &'static str| {
            let s = signal(kind);
            if let Err(e) = &s {
                log::warn!("cannot watch for {name}: {e}");
            }
            async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
        };
        let int = watch(SignalKind::interrupt(), "SIGINT");
        let term = watch(SignalKind::terminate(), "SIGTERM");
        Box::pin(async move {
            tokio::select! {
                _ = int => log::info!("muse serve: interrupted, shutting down"),
                _ = term => log::info!("muse serve: terminated, shutting down"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Box::pin(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                log::info!("muse serve: interrupted, shutting down");
            } else {
                std::future::pending::<()>().await;
            }
        })
    }
}

// ---------------------------------------------------------------------------
// The router.
// ---------------------------------------------------------------------------

struct AppState {
    storage: Arc<dyn HubStorage>,
    cfg: ServeConfig,
    secret: [u8; 32],
    /// The bound address (the upload URLs' fallback host).
    addr: SocketAddr,
    /// The root as text, removed from error messages.
    root_text: String,
}

type St = State<Arc<AppState>>;

/// The routes of the module docs over `storage`, for a server bound at
/// `addr` (embed it in another axum server, or use [`serve_blocking`]).
///
/// # Errors
/// [`ServeError::Core`] when the signing secret (`<root>/.hub/secret`)
/// cannot be read or made.
pub fn router(cfg: ServeConfig, storage: Arc<dyn HubStorage>, addr: SocketAddr) -> Result<Router, ServeError> {
    let secret = load_or_create_secret(&cfg.root)?;
    let root_text = cfg.root.canonicalize().unwrap_or_else(|_| cfg.root.clone()).to_string_lossy().into_owned();
    let state = Arc::new(AppState { storage, cfg, secret, addr, root_text });
    Ok(Router::new()
        .route("/{owner}/{repo}/refs", get(refs))
        .route("/{owner}/{repo}/fetch", post(fetch))
        .route("/{owner}/{repo}/push", post(push))
        .route("/{owner}/{repo}/push/mpack-presign", post(presign))
        .route("/{owner}/{repo}/push/uploads/{hex}", put(upload))
        .route("/{owner}/{repo}/push/unpack-mpack", post(unpack))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state))
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string()).unwrap_or_else(|| "-".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    log::info!("{peer} {method} {path} {} {:.1} ms", resp.status().as_u16(), start.elapsed().as_secs_f64() * 1e3);
    resp
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route: the repository URL is http://HOST:PORT/{owner}/{repo}")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route")
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------

/// A refusal: a status and the message of the JSON `{"error": …}` body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    /// Answer `Connection: close` (the request body was not read whole).
    close: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), close: false }
    }

    fn closing(mut self) -> ApiError {
        self.close = true;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"muse\""));
        }
        if self.close {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// The HTTP status of a core error: [`Error::TooLarge`] 413,
/// [`Error::Remote`] 502, else by [`ErrorKind`]: `InvalidInput` 400,
/// `Integrity` 422, `Conflict` 409, `NotFound` 404, the others 500.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Remote { .. } => StatusCode::BAD_GATEWAY,
        _ => match e.kind() {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Integrity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::NotARepository | ErrorKind::Cli | ErrorKind::Io => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

impl AppState {
    /// A core error as a refusal; server failures are logged and answered
    /// without details (no server path reaches a client).
    fn core_error(&self, e: Error) -> ApiError {
        let status = status_of(&e);
        if status.is_server_error() {
            log::error!("request failed: {e}");
            return ApiError::new(status, "internal server error (see the server log)");
        }
        let mut message = e.to_string();
        if !self.root_text.is_empty() {
            message = message.replace(&self.root_text, "<hub>");
        }
        ApiError::new(status, message)
    }

    /// Runs `f` on the blocking pool; a panic answers 500.
    async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> muse_core::Result<T> + Send + 'static,
    {
        let st = Arc::clone(self);
        match tokio::task::spawn_blocking(move || f(&st)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.core_error(e)),
            Err(e) => {
                log::error!("request handler failed: {e}");
                Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error (see the server log)"))
            }
        }
    }

    /// Checks that the request may do what `need` allows on `owner/name`
    /// (the table of the module docs).
    async fn authorize(self: &Arc<Self>, owner: &str, name: &str, headers: &HeaderMap, need: Scope) -> Result<(), ApiError> {
        let token = bearer(headers)?;
        let (o, n) = (owner.to_string(), name.to_string());
        let digest = token.as_deref().map(token_sha256);
        let (info, scope) = self
            .blocking(move |st| {
                let info = st.storage.repo(&o, &n)?;
                let scope = match (&info, digest) {
                    (Some(_), Some(d)) => st.storage.token_scope(&o, &n, &d)?,
                    _ => None,
                };
                Ok((info, scope))
            })
            .await?;
        let slug = format!("{owner}/{name}");
        match (info, token.is_some(), scope) {
            (Some(info), false, _) if info.public && need == Scope::Read => Ok(()),
            (Some(info), false, _) if info.public => {
                Err(ApiError::new(StatusCode::UNAUTHORIZED, format!("pushing to {slug} needs a token with write scope (Authorization: Bearer <token>)")))
            }
            (_, false, _) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("authentication required for {slug} (or no such repository): send Authorization: Bearer <token>"),
            )),
            (None, true, _) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("repository {slug} not found"))),
            (Some(info), true, None) if info.public => {
                Err(ApiError::new(StatusCode::UNAUTHORIZED, format!("the token is not valid for {slug}")))
            }
            (Some(_), true, None) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("repository {slug} not found (or the token does not grant access to it)"),
            )),
            (Some(_), true, Some(s)) if s >= need => Ok(()),
            (Some(_), true, Some(s)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("the token has {} scope on {slug}; this request needs {}", scope_name(s), scope_name(need)),
            )),
        }
    }

    /// The base URL of the server's own upload URLs.
    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.cfg.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b)));
        match host {
            Some(h) => format!("http://{h}"),
            None => format!("http://{}", self.addr),
        }
    }
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Read => "read",
        Scope::Write => "write",
    }
}

/// The bearer token of the request, if any.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "malformed Authorization header: expected \"Bearer <token>\"");
    let v = v.to_str().map_err(|_| bad())?;
    let (scheme, token) = v.trim().split_once(' ').ok_or_else(bad)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(bad());
    }
    Ok(Some(token.to_string()))
}

/// The owner and repository of the path, checked.
fn repo_path(p: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((owner, name)) = p.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    check_names(&owner, &name)?;
    Ok((owner, name))
}

fn check_names(owner: &str, name: &str) -> Result<(), ApiError> {
    if validate_name("owner", owner).is_err() || validate_name("repository name", name).is_err() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("repository {owner}/{name} not found")));
    }
    Ok(())
}

/// Reads the body, at most `limit` bytes (413 beyond, before reading it
/// when `Content-Length` says so).
async fn read_body(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = |n: Option<u64>| {
        let size = n.map(|n| format!(" of {n} bytes")).unwrap_or_default();
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body{size} is over the limit of {limit} bytes"))
    };
    if let Some(n) = content_length(headers) {
        if n > limit {
            return Err(refuse(too_large(Some(n)), headers, body).await);
        }
    }
    let limited = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(None).closing()),
        Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("reading the request body: {e}"))),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// Most bytes of an unread body drained after a refusal so that the
/// connection stays usable; a longer one is not read and the connection
/// is closed.
const DRAIN_LIMIT: u64 = 1 << 20;

/// `e`, for a request refused before its body was read: a small body
/// (declared length up to [`DRAIN_LIMIT`]) is read and dropped, so the
/// client can read the answer and reuse the connection; otherwise the
/// answer says `Connection: close`.
async fn refuse(e: ApiError, headers: &HeaderMap, body: Body) -> ApiError {
    if content_length(headers).is_some_and(|n| n <= DRAIN_LIMIT) {
        let limited = http_body_util::Limited::new(body, DRAIN_LIMIT as usize);
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(10), limited.collect()).await {
            return e;
        }
    }
    e.closing()
}

/// The checks of a request with a body, before the body is read: the
/// repository path and the authorization for `need`.
async fn admit(
    st: &Arc<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    headers: &HeaderMap,
    need: Scope,
) -> Result<(String, String), ApiError> {
    let (owner, name) = repo_path(p)?;
    st.authorize(&owner, &name, headers, need).await?;
    Ok((owner, name))
}

/// Decodes a msgpack or JSON body (by `Content-Type`; without one, a body
/// starting with `{` is JSON).
fn decode_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let json = if ct.contains("json") {
        true
    } else if ct.contains("msgpack") {
        false
    } else {
        bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    };
    if json {
        serde_json::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad msgpack body: {e}")))
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------

/// `GET /{owner}/{repo}/refs`.
async fn refs(State(st): St, p: Result<Path<(String, String)>, PathRejection>, headers: HeaderMap) -> Result<Json<RemoteRefs>, ApiError> {
    let (owner, name) = repo_path(p)?;
    st.authorize(&owner, &name, &headers, Scope::Read).await?;
    let refs = st.blocking(move |st| st.storage.open(&owner, &name)?.advertise_refs()).await?;
    Ok(Json(refs))
}

/// `POST /{owner}/{repo}/fetch`.
async fn fetch(State(st): St, p: Result<Path<(String, String)>, PathRejection>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (owner, name) = match admit(&st, p, &headers, Scope::Read).await {
        Ok(v) => v,
        Err(e) => return Err(refuse(e, &headers, body).await),
    };
    let bytes = read_body(&headers, body, st.cfg.max_json_bytes).await?;
    let req: FetchRequest =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad fetch request: {e}")))?;
    let wire = st
        .blocking(move |st| {
            let pack = st.storage.open(&owner, &name)?.upload_pack(&req.want, &req.have)?;
            encode_mpack(&pack)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-msgpack")], wire).into_response())
}

/// `POST /{owner}/{repo}/push`.
async fn push(State(st): St, p: Result<Path<(String, String)>, PathRejection>, headers: HeaderMap, body: Body) -> Result<Json<PushReport>, ApiError> {
    let (owner, name) = match admit(&st, p, &headers, Scope::Write).await {
        Ok(v) => v,
        Err(e) => return Err(refuse(e, &headers, body).await),
    };
    let bytes = read_body(&headers, body, st.cfg.max_body_bytes).await?;
    let report = st
        .blocking(move |st| {
            let limits = st.cfg.limits();
            let (pack, updates) = decode_push(&bytes, &limits)?;
            drop(bytes);
            st.storage.open(&owner, &name)?.receive_pack(&pack, &updates, &limits)
        })
        .await?;
    Ok(Json(report))
}

/// The body of `push/mpack-presign`.
#[derive(Debug, Deserialize)]
struct PresignRequest {
    mpack_key: String,
    size_bytes: u64,
}

/// The answer of `push/mpack-presign`.
#[derive(Debug, Serialize)]
struct PresignAnswer {
    upload_url: String,
    /// Unix time the server's own URL expires at (absent for a storage's
    /// presigned URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

/// `POST /{owner}/{repo}/push/mpack-presign`.
async fn presign(State(st): St, p: Result<Path<(String, String)>, PathRejection>, headers: HeaderMap, body: Body) -> Result<Json<PresignAnswer>, ApiError> {
    let (owner, name) = match admit(&st, p, &headers, Scope::Write).await {
        Ok(v) => v,
        Err(e) => return Err(refuse(e, &headers, body).await),
    };
    let bytes = read_body(&headers, body, st.cfg.max_json_bytes).await?;
    let req: PresignRequest = decode_body(&headers, &bytes)?;
    let hex = upload_key_hex(&req.mpack_key).map_err(|e| st.core_error(e))?.to_string();
    if req.size_bytes > st.cfg.max_body_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an mpack of {} bytes is over the limit of {} bytes", req.size_bytes, st.cfg.max_body_bytes),
        ));
    }
    let (o, n, key, size) = (owner.clone(), name.clone(), req.mpack_key.clone(), req.size_bytes);
    if let Some(url) = st.blocking(move |st| st.storage.presign_upload(&o, &n, &key, size)).await? {
        return Ok(Json(PresignAnswer { upload_url: url, expires_at: None }));
    }
    let expires = unix_now() + st.cfg.upload_ttl.as_secs();
    let sig = upload_signature(&st.secret, &owner, &name, &hex, size, expires);
    let url = format!("{}/{owner}/{name}/push/uploads/{hex}?size={size}&expires={expires}&sig={sig}", st.base_url(&headers));
    Ok(Json(PresignAnswer { upload_url: url, expires_at: Some(expires) }))
}

/// The query of a server upload URL.
#[derive(Debug, Deserialize)]
struct UploadQuery {
    size: u64,
    expires: u64,
    sig: String,
}

/// `PUT /{owner}/{repo}/push/uploads/{hex}?size=&expires=&sig=`.
async fn upload(
    State(st): St,
    p: Result<Path<(String, String, String)>, PathRejection>,
    q: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let checked = async {
        let Path((owner, name, hex)) = p.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        check_names(&owner, &name)?;
        let forbidden = |m: &str| ApiError::new(StatusCode::FORBIDDEN, m.to_string());
        let Query(q) = q.map_err(|_| forbidden("not a valid upload URL: size, expires and sig are required"))?;
        upload_key_hex(&format!("sha256:{hex}")).map_err(|_| forbidden("not a valid upload URL: bad key"))?;
        let provided = hex_to_bytes(&q.sig).ok_or_else(|| forbidden("upload URL signature does not match"))?;
        upload_mac(&st.secret, &owner, &name, &hex, q.size, q.expires)
            .verify_slice(&provided)
            .map_err(|_| forbidden("upload URL signature does not match"))?;
        if unix_now() > q.expires {
            return Err(forbidden("upload URL expired: ask for a new one (push/mpack-presign)"));
        }
        if q.size > st.cfg.max_body_bytes {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("an upload of {} bytes is over the limit", q.size)));
        }
        let (o, n) = (owner.clone(), name.clone());
        if st.blocking(move |st| st.storage.repo(&o, &n)).await?.is_none() {
            return Err(ApiError::new(StatusCode::NOT_FOUND, format!("repository {owner}/{name} not found")));
        }
        Ok((owner, name, hex, q))
    }
    .await;
    let (owner, name, hex, q) = match checked {
        Ok(v) => v,
        Err(e) => return Err(refuse(e, &headers, body).await),
    };
    let key = format!("sha256:{hex}");
    let bytes = read_body(&headers, body, q.size).await?;
    if bytes.len() as u64 != q.size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is {} bytes; the upload URL is for {} bytes", bytes.len(), q.size),
        ));
    }
    let actual = to_hex(&Sha256::digest(&bytes));
    if actual != hex {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body hashes to sha256:{actual}, not to the upload key {key}"),
        ));
    }
    let k = key.clone();
    st.blocking(move |st| st.storage.put_upload(&owner, &name, &k, &bytes)).await?;
    Ok(Json(serde_json::json!({ "mpack_key": key, "size_bytes": q.size })))
}

fn hex_to_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The body of `push/unpack-mpack`.
#[derive(Debug, Deserialize)]
struct UnpackRequest {
    mpack_key: String,
    branch: String,
    head: String,
    /// What the branch must be now (absent: whatever it is just before the
    /// update; the update is still a fast-forward unless `force`).
    #[serde(default)]
    old: Option<String>,
    #[serde(default)]
    force: bool,
}

/// The answer of `push/unpack-mpack`.
#[derive(Debug, Serialize)]
struct UnpackAnswer {
    commits_written: usize,
    snapshots_written: usize,
    blobs_written: usize,
    blobs_skipped: usize,
    branch: String,
    head: String,
}

/// `POST /{owner}/{repo}/push/unpack-mpack`.
async fn unpack(State(st): St, p: Result<Path<(String, String)>, PathRejection>, headers: HeaderMap, body: Body) -> Result<Json<UnpackAnswer>, ApiError> {
    let (owner, name) = match admit(&st, p, &headers, Scope::Write).await {
        Ok(v) => v,
        Err(e) => return Err(refuse(e, &headers, body).await),
    };
    let bytes = read_body(&headers, body, st.cfg.max_json_bytes).await?;
    let req: UnpackRequest = decode_body(&headers, &bytes)?;
    let answer = st
        .blocking(move |st| {
            let hex = upload_key_hex(&req.mpack_key)?.to_string();
            let head = CommitId::parse(&req.head)?;
            let expected_old = req.old.as_deref().map(CommitId::parse).transpose()?;
            muse_core::refs::validate_branch_name(&req.branch)?;
            let limits = st.cfg.limits();
            let wire = st
                .storage
                .get_upload(&owner, &name, &req.mpack_key, limits.max_bundle_bytes)?
                .ok_or_else(|| Error::NotFound { what: "upload", name: req.mpack_key.clone() })?;
            let actual = to_hex(&Sha256::digest(&wire));
            if actual != hex {
                return Err(Error::HashMismatch { what: "uploaded mpack", expected: req.mpack_key.clone(), actual: format!("sha256:{actual}") });
            }
            let pack = decode_mpack(&wire, &limits)?;
            drop(wire);
            let repo = st.storage.open(&owner, &name)?;
            let old = match expected_old {
                Some(o) => Some(o),
                None => repo.store().branch(&req.branch)?,
            };
            let update = PushUpdate { branch: req.branch.clone(), old, new: Some(head), force: req.force };
            let report = repo.receive_pack(&pack, &[update], &limits)?;
            if let Err(e) = st.storage.delete_upload(&owner, &name, &req.mpack_key) {
                log::warn!("upload {} of {owner}/{name} applied but not removed: {e}", req.mpack_key);
            }
            Ok(UnpackAnswer {
                commits_written: report.commits_written,
                snapshots_written: report.snapshots_written,
                blobs_written: report.blobs_written,
                blobs_skipped: report.blobs_skipped,
                branch: req.branch,
                head: head.to_string(),
            })
        })
        .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_error_class() {
        let rej = Error::Rejected { name: "refs/heads/main".into(), reason: "x".into() };
        assert_eq!(status_of(&rej), StatusCode::CONFLICT);
        assert!(rej.to_string().starts_with("rejected refs/heads/main: "));
        assert_eq!(status_of(&Error::InvalidInput("x".into())), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&Error::NotFound { what: "commit", name: "x".into() }), StatusCode::NOT_FOUND);
        let hm = Error::HashMismatch { what: "object", expected: "a".into(), actual: "b".into() };
        assert_eq!(status_of(&hm), StatusCode::UNPROCESSABLE_ENTITY);
        let tl = Error::TooLarge { what: "x", path: "p".into(), size: 2, limit: 1 };
        assert_eq!(status_of(&tl), StatusCode::PAYLOAD_TOO_LARGE);
        let io = Error::io("read", "/x", std::io::Error::other("boom"));
        assert_eq!(status_of(&io), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).unwrap(), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer muse_abc"));
        assert_eq!(bearer(&h).unwrap().as_deref(), Some("muse_abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  muse_abc "));
        assert_eq!(bearer(&h).unwrap().as_deref(), Some("muse_abc"));
        for bad in ["Basic abc", "Bearer", "Bearer ", "muse_abc"] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(bearer(&h).unwrap_err().status, StatusCode::UNAUTHORIZED, "{bad}");
        }
    }

    #[test]
    fn signatures_bind_every_field() {
        let s = [7u8; 32];
        let base = upload_signature(&s, "a", "p", "ab", 10, 99);
        assert_eq!(base.len(), 64);
        assert_ne!(base, upload_signature(&s, "a", "q", "ab", 10, 99));
        assert_ne!(base, upload_signature(&s, "a", "p", "ac", 10, 99));
        assert_ne!(base, upload_signature(&s, "a", "p", "ab", 11, 99));
        assert_ne!(base, upload_signature(&s, "a", "p", "ab", 10, 100));
        assert_ne!(base, upload_signature(&[8u8; 32], "a", "p", "ab", 10, 99));
        assert_eq!(hex_to_bytes(&base).unwrap().len(), 32);
        assert!(hex_to_bytes("zz").is_none() && hex_to_bytes("abc").is_none());
    }
}
