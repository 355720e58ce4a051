//! The `muse` command. See `muse --help`.

/// mimalloc: a history import or a large snapshot allocates and frees
/// millions of small strings (manifest entries); glibc malloc spends up to a
/// third of such a run in `malloc`/`free`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(muse_cli::run(std::env::args_os()));
}
