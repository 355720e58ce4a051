//! # muse-core
//!
//! The engine of muse, a content-addressed version-control system: an object
//! store of SHA-256 blobs, commit and snapshot records, branch refs,
//! crash-safe writes with a startup GC, history walks and merge bases.
//! Everything here is pure Rust; the C ABI (`muse-ffi`), the Python package
//! (`muse-py`) and the CLI only translate.
//!
//! The on-disk design is `SPEC.md`; each module names the section it
//! implements. One module per concept:
//!
//! | module | concept |
//! |---|---|
//! | [`ids`] | IDs: `blob_id`, `hash_snapshot`, `hash_commit`, validation |
//! | [`paths`] | the repository layout, relative-path validation |
//! | [`atomic`] | temp + rename writes, live-writer locks, fsync |
//! | [`config`] | `config.toml`, the `[core] fsync` policy |
//! | [`lock`] | the index lock and the write lock (bounded waits) |
//! | [`object_store`] | blobs |
//! | [`operation`] | the journal of a checkout or merge in progress (crash-resumable) |
//! | [`pack`] | packs: many objects and records in one file |
//! | [`reachability`] | reachable data, `gc --prune` |
//! | [`records`] | `CommitRecord`, `SnapshotRecord`, msgpack |
//! | [`commits`] | the commit store, history walks |
//! | [`snapshots`] | the snapshot store |
//! | [`snapshot`] | the working-tree walker: `build_snapshot_manifest` |
//! | [`stat_cache`] | the stat cache of working-tree files |
//! | [`refs`] | branches, HEAD, compare-and-swap |
//! | [`batch`] | many writes, one flush barrier |
//! | [`repo`] | discovery, `init`, the startup GC |
//! | [`merge_base`] | `find_merge_base` |
//! | [`mpack`] | MPack bundles: build, encode, decode, verify-and-apply |
//! | [`verify`] | whole-repository verification |
//! | [`import_git`] | `import-git`: git history via `git fast-export`, and its verification |
//! | [`workdir`] | confined working-tree writes: nothing beyond a symlink or outside the root |
//! | [`worktree`] | the stage (index), status, commit, checkout |
//! | [`error`] | the error enum |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atomic;
pub mod batch;
pub mod commits;
pub mod config;
pub mod error;
pub mod ids;
pub mod import_git;
pub mod lock;
pub mod merge_base;
pub mod mpack;
pub mod object_store;
pub mod operation;
pub mod pack;
pub mod paths;
pub mod reachability;
pub mod records;
pub mod refs;
pub mod repo;
pub mod snapshot;
pub mod snapshots;
pub mod stat_cache;
pub mod verify;
pub mod workdir;
pub mod worktree;

pub use error::{Error, ErrorKind, Result};

/// The library version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
