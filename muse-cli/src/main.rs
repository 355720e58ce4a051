//! The `muse` command. See `muse --help`.

fn main() {
    std::process::exit(muse_cli::run(std::env::args_os()));
}
