//! [`HttpTransport`]: a remote served by `muse serve` (see the protocol in
//! the [module docs](super)), over `ureq` (blocking, rustls for https).

use std::time::Duration;

use super::{FetchRequest, PushReport, PushUpdate, RemoteRefs, Transport};
use crate::error::{Error, Result};
use crate::ids::CommitId;
use crate::mpack::{Limits, MPack};

/// Most bytes of a JSON answer (refs, push report, error): 64 MiB.
const MAX_JSON_BYTES: u64 = 64 << 20;

/// A `muse serve` repository at an `http://` or `https://` URL
/// (`http://HOST:PORT/{owner}/{repo}`), with an optional bearer token.
pub struct HttpTransport {
    url: String,
    token: Option<String>,
    agent: ureq::Agent,
    limits: Limits,
}

impl HttpTransport {
    /// A transport for `url` (no request is made yet). `token` is sent as
    /// `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a URL that is not `http(s)://host/…`.
    pub fn new(url: &str, token: Option<String>) -> Result<HttpTransport> {
        let url = url.trim_end_matches('/').to_string();
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            return Err(Error::InvalidInput(format!("not an http(s) remote URL: {url:?}")));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .user_agent(concat!("muse/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpTransport { url, token, agent, limits: Limits::default() })
    }

    fn remote_err(&self, status: Option<u16>, message: impl Into<String>) -> Error {
        Error::Remote { url: self.url.clone(), status, message: message.into() }
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// Checks the status; on an error status, the server's JSON `error`.
    fn check(&self, mut resp: ureq::http::Response<ureq::Body>) -> Result<ureq::http::Response<ureq::Body>> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let text = resp.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {}", text.chars().take(300).collect::<String>()) });
        // A refused ref update keeps its own error class.
        if status == 409 {
            if let Some(rest) = message.strip_prefix("rejected ") {
                if let Some((name, reason)) = rest.split_once(": ") {
                    return Err(Error::Rejected { name: name.to_string(), reason: reason.to_string() });
                }
            }
        }
        Err(self.remote_err(Some(status), message))
    }

    fn io_err(&self, e: ureq::Error) -> Error {
        self.remote_err(None, e.to_string())
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, mut resp: ureq::http::Response<ureq::Body>) -> Result<T> {
        let bytes = resp.body_mut().with_config().limit(MAX_JSON_BYTES).read_to_vec().map_err(|e| self.io_err(e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.remote_err(None, format!("bad answer: {e}")))
    }
}

impl Transport for HttpTransport {
    fn url(&self) -> &str {
        &self.url
    }

    fn list_refs(&mut self) -> Result<RemoteRefs> {
        let mut req = self.agent.get(format!("{}/refs", self.url));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let resp = req.call().map_err(|e| self.io_err(e))?;
        let resp = self.check(resp)?;
        self.read_json(resp)
    }

    fn fetch_pack(&mut self, want: &[CommitId], have: &[CommitId]) -> Result<MPack> {
        let body = serde_json::to_vec(&FetchRequest { want: want.to_vec(), have: have.to_vec() })
            .map_err(|e| Error::InvalidInput(format!("fetch request: {e}")))?;
        let mut req = self.agent.post(format!("{}/fetch", self.url)).header("Content-Type", "application/json");
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let resp = req.send(&body[..]).map_err(|e| self.io_err(e))?;
        let mut resp = self.check(resp)?;
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(self.limits.max_bundle_bytes)
            .read_to_vec()
            .map_err(|e| self.io_err(e))?;
        crate::mpack::decode_mpack(&bytes, &self.limits)
    }

    fn push_pack(&mut self, pack: &MPack, updates: &[PushUpdate]) -> Result<PushReport> {
        let body = super::encode_push(pack, updates)?;
        let mut req = self.agent.post(format!("{}/push", self.url)).header("Content-Type", "application/x-muse-push");
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let resp = req.send(&body[..]).map_err(|e| self.io_err(e))?;
        let resp = self.check(resp)?;
        self.read_json(resp)
    }
}
