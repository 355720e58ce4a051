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
//! | [`repository`] | **start here**: [`Repository`], the handle every operation goes through |
//! | [`store`] | storage traits (content, records, refs, write batches); [`store::FsStore`], [`store::MemStore`] |
//! | [`ids`] | IDs: typed [`ids::BlobId`] / [`ids::CommitId`] / [`ids::SnapshotId`], `blob_id`, `hash_snapshot`, `hash_commit` |
//! | [`manifest`] | a snapshot's `path -> blob` map and the one diff over two |
//! | [`stage`] | the stage (index) and `add` |
//! | [`status`] | status: HEAD, stage and working tree compared |
//! | [`commit`] | commit: the stage recorded on top of HEAD |
//! | [`checkout`] | checkout of a branch or commit; the bundle branch update |
//! | [`merge`] | merge (fast-forward or three-way) and `--abort` |
//! | [`revision`] | revision syntax: `HEAD`, branches, short IDs, `~n`, `^n` |
//! | [`branch`] | branch create/delete rules |
//! | [`log`] | history walk by commit time |
//! | [`diff`] | diffs between revisions and the working tree |
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
//! | [`walk`] | the working-tree walker: `build_snapshot_manifest`, `walk_manifest` (SPEC §5) |
//! | [`stat_cache`] | the stat cache of working-tree files |
//! | [`refs`] | branches, HEAD, compare-and-swap |
//! | [`batch`] | many writes, one flush barrier |
//! | [`repo`] | discovery, `init`, the startup GC |
//! | [`merge_base`] | `find_merge_base` |
//! | [`mpack`] | MPack bundles: build, encode, decode, verify-and-apply |
//! | [`verify`] | whole-repository verification |
//! | [`import_git`] | `import-git`: git history via `git fast-export`, and its verification |
//! | [`workdir`] | confined working-tree writes: nothing beyond a symlink or outside the root |
//! | [`error`] | the error enum |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atomic;
pub mod batch;
pub mod branch;
pub mod checkout;
pub mod commit;
pub mod commits;
pub mod config;
pub mod diff;
pub mod error;
pub mod ids;
pub mod import_git;
pub mod lock;
pub mod log;
pub mod manifest;
pub mod merge;
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
pub mod repository;
pub mod revision;
pub mod snapshots;
pub mod stage;
pub mod stat_cache;
pub mod status;
pub mod store;
pub mod verify;
pub mod walk;
pub mod workdir;

pub use error::{Error, ErrorKind, Result};
pub use ids::{BlobId, CommitId, ObjectId, SnapshotId};
pub use paths::RepoPath;
pub use repository::Repository;

/// The library version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

