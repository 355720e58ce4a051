//! `muse serve` as a program: `init-repo`, `token` (the token on the last
//! line), serving on port 0 (the address printed as JSON), answering over
//! loopback, and a graceful stop on SIGTERM with exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `muse` on the embedded tier: the scale-out tier's variables (which
/// `scripts/hub-services.sh` exports) are removed.
fn embedded() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_muse"));
    c.env_remove("MUSE_HUB_DATABASE_URL");
    c
}

fn muse(args: &[&str]) -> Output {
    embedded().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A raw `GET` over loopback: the status line and the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The server process, killed if the test fails before stopping it.
struct Server(Option<std::process::Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn serve_init_repo_token_and_graceful_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub");
    let r = root.to_str().unwrap();

    let o = muse(&["serve", "init-repo", "--root", r, "alice/proj"]);
    assert!(o.status.success(), "{o:?}");
    assert!(root.join("alice/proj/.muse").is_dir());
    let again = muse(&["serve", "init-repo", "--root", r, "alice/proj"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(muse(&["serve", "init-repo", "--root", r, "../escape"]).status.code(), Some(1));
    assert!(!tmp.path().join("escape").exists());

    let o = muse(&["serve", "token", "--root", r, "--repo", "alice/proj", "--scope", "read"]);
    assert!(o.status.success(), "{o:?}");
    let token = stdout(&o).lines().last().unwrap().to_string();
    assert!(token.starts_with("muse_") && token.len() == 69, "{token:?}");
    let stored = std::fs::read_to_string(root.join(".hub/tokens/alice/proj.json")).unwrap();
    assert!(!stored.contains(&token), "the token itself is stored");
    assert_eq!(muse(&["serve", "token", "--root", r, "--repo", "alice/nope", "--scope", "read"]).status.code(), Some(1));
    // serve needs --root
    assert_eq!(muse(&["serve"]).status.code(), Some(1));

    let mut server = Server(Some(
        embedded()
            .args(["serve", "--root", r, "--listen", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let child = server.0.as_mut().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = v["url"].as_str().unwrap().to_string();
    let addr = url.strip_prefix("http://").unwrap().to_string();

    let (status, body) = get(&addr, "/alice/proj/refs", None);
    assert!(status.contains(" 401 "), "{status}");
    assert!(body.contains("\"error\""), "{body}");
    let (status, body) = get(&addr, "/alice/proj/refs", Some(&token));
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"branch_heads\""), "{body}");

    // A second server on the same address: exit 1, "cannot listen".
    let busy = muse(&["serve", "--root", r, "--listen", &addr]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("cannot listen"), "{busy:?}");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.0.take().unwrap().wait().unwrap();
    assert!(status.success(), "muse serve did not stop cleanly on SIGTERM: {status:?}");
    assert!(TcpStream::connect(&addr).is_err(), "still listening after SIGTERM");
    assert!(Path::new(&root).join(".hub/secret").is_file());
}
