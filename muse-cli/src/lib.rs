//! The `muse` command (SPEC §10): argument parsing and output only; every
//! operation is a `muse_core` call.
//!
//! Exit codes: 0 ok, 1 user error (bad input, unknown branch, nothing to
//! commit, dirty tree, failed verification), 2 not a repository, 3 internal,
//! I/O or integrity error (data that does not verify, e.g. a tampered bundle).
//! Every command that reports data takes `--json`. Progress
//! bars are drawn on stderr only when it is a terminal.
//!
//! Layout: one module per command under `commands/` (its clap arguments and
//! its `run`), with the shared plumbing beside it: `context` (repository
//! discovery, configuration check), `ui` (stdout, `--json`, progress bars),
//! `error` (failures and exit statuses) and `revision` (names → commit IDs).

use std::ffi::OsString;

use clap::Parser;

mod commands;
mod context;
mod error;
mod graph;
mod revision;
mod ui;

pub use error::{EXIT_INTERNAL, EXIT_NOT_REPO, EXIT_OK, EXIT_USER};

use commands::Cli;
use context::CommandContext;
use error::Fail;

/// Sends the engine's log records to stderr as `muse: warning: …`
/// (git's habit): warnings and errors by default; `MUSE_LOG` sets the level
/// or filter in `env_logger` syntax (`MUSE_LOG=info`, `MUSE_LOG=muse.core.fsmonitor=debug`).
/// Does nothing when the embedding program installed a logger already.
pub fn init_logging() {
    use std::io::Write;
    let _ = env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn)
        .parse_env(env_logger::Env::new().filter("MUSE_LOG"))
        .format(|buf, rec| {
            let level = match rec.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(buf, "muse: {level}: {}", rec.args())
        })
        .try_init();
}

/// Runs the CLI with `args` (the first item is the program name) and
/// returns the exit status. Never panics across the caller: a panic is
/// caught and reported as an internal error (exit 3).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // `muse --version` / `muse -V` alone, the probe scripts run first, is
    // answered before the parser of every command is built (most of what
    // it would cost); the text is clap's own (`{name} {version}`).
    if let [_, flag] = args.as_slice() {
        if flag == "--version" || flag == "-V" {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            return match writeln!(out, "muse {}", env!("CARGO_PKG_VERSION")).and_then(|()| out.flush()) {
                Ok(()) => EXIT_OK,
                Err(_) => EXIT_INTERNAL,
            };
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USER } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    init_logging();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ctx = CommandContext::new();
        commands::run_command(cli.cmd, &ctx)
    }));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(Fail(code, msg))) => {
            eprintln!("muse: {msg}");
            code
        }
        Err(_) => {
            eprintln!("muse: internal error (panic); please report it");
            EXIT_INTERNAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::commands;
    use clap::CommandFactory;

    /// The early answer to `muse --version` is the text clap would print.
    #[test]
    fn the_early_version_answer_is_clap_s() {
        assert_eq!(commands::Cli::command().render_version(), format!("muse {}\n", env!("CARGO_PKG_VERSION")));
    }

    /// Both spellings answer with success.
    #[test]
    fn version_flags_succeed() {
        assert_eq!(super::run(["muse", "--version"]), super::EXIT_OK);
        assert_eq!(super::run(["muse", "-V"]), super::EXIT_OK);
    }
}
