//! CLI failures and their exit statuses: 0 ok, 1 user error, 2 not a
//! repository, 3 internal, I/O or integrity error.

use muse_core::error::{Error, ErrorKind};

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: user error.
pub const EXIT_USER: i32 = 1;
/// Exit status: not a repository.
pub const EXIT_NOT_REPO: i32 = 2;
/// Exit status: internal or I/O error.
pub const EXIT_INTERNAL: i32 = 3;

/// A CLI failure: message and exit status.
pub struct Fail(pub i32, pub String);

/// A core error as a failure: the exit status follows the error's kind.
impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::NotARepository => EXIT_NOT_REPO,
            ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Cli => EXIT_USER,
            ErrorKind::Integrity | ErrorKind::Io => EXIT_INTERNAL,
        };
        Fail(code, e.to_string())
    }
}

/// A failure to write the command's output (exit 3).
impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail(EXIT_INTERNAL, format!("output error: {e}"))
    }
}

/// What a command returns: its exit status, or the failure to report.
pub type CmdResult = Result<i32, Fail>;
