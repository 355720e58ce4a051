//! The `muse` command. See `muse --help`.

/// mimalloc: a history import or a large snapshot allocates and frees
/// millions of small strings (manifest entries); glibc malloc spends up to a
/// third of such a run in `malloc`/`free`. Built with `no_thp` (huge pages
/// added ~15 MB of RSS to a clean `muse status` of 75,000 files).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(muse_cli::run(std::env::args_os()));
}
