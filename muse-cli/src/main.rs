//! The `muse` command. See `muse --help`.

/// mimalloc: a history import or a large snapshot allocates and frees
/// millions of small strings (manifest entries); glibc malloc spends up to a
/// third of such a run in `malloc`/`free`. Built with `no_thp` (huge pages
/// added ~15 MB of RSS to a clean `muse status` of 75,000 files).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    restore_sigpipe();
    std::process::exit(muse_cli::run(std::env::args_os()));
}

/// A closed pipe ends the process quietly, as it ends `git` and the other
/// Unix tools (`muse log | head`): Rust's runtime ignores SIGPIPE, which
/// would turn the next write into an error reported as `muse: output
/// error: Broken pipe` with exit 3. Killing mid-command is safe: every write
/// is atomic, and the next command's startup GC removes the temps a killed
/// writer left.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: `signal` with `SIG_DFL` only resets the disposition of
    // SIGPIPE; it runs first thing in `main`, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Windows has no SIGPIPE: a write to a closed pipe is an error there.
#[cfg(not(unix))]
fn restore_sigpipe() {}
