//! # muse-core
//!
//! The engine of muse, a content-addressed version-control system: an object
//! store of SHA-256 blobs, commit and snapshot records, branch refs,
//! crash-safe writes with a startup GC, history walks and merge bases.
//! Everything here is pure Rust; the C ABI (`muse-ffi`), the Python package
//! (`muse-py`) and the CLI only translate.
//!
//! The on-disk design is `SPEC.md`; each module names the section it
//! implements. One module per concept, in three layers.
//!
//! **The repository API.** Every operation is a method of [`Repository`]
//! (or takes one), whatever the store behind it:
//!
//! | module | concept |
//! |---|---|
//! | [`repository`] | **start here**: [`Repository`] (open, init, discover; blobs, records, refs; durability) |
//! | [`stage`] | the stage (index) and `add` |
//! | [`status`] | status: HEAD, stage and working tree compared |
//! | [`commit`] | commit: the stage recorded on top of HEAD; commits with two parents |
//! | [`checkout`] | checkout of a branch or commit; the bundle branch update (fast-forward rule) |
//! | [`merge`] | merge (fast-forward or three-way) and `--abort` |
//! | [`pick`] | `cherry-pick` and `revert` (three-way, like merge) |
//! | [`merge_file`] | the three-way merge of one file's lines (git's `merge-file`, diff3 markers) |
//! | [`merge_base`] | merge bases (SPEC §6) |
//! | [`revision`] | revision syntax: `HEAD`, branches, short IDs, `~n`, `^n` |
//! | [`branch`] | branch create/delete rules |
//! | [`tag`] | tags: list, create, delete |
//! | [`reset`] | `reset` (soft, mixed, hard) and `restore` |
//! | [`remove`] | `rm` and `mv` |
//! | [`stash`] | the stash: push, list, apply, pop, drop |
//! | [`log`] | history walks: by commit time, first parents, between two commits |
//! | [`diff`] | diffs between revisions and the working tree |
//! | [`mpack`] | MPack bundles: build, encode, decode, verify-and-apply (any store to any store) |
//! | [`verify`], [`reachability`], [`import_git`] | fsck, `gc --prune`, `import-git` (filesystem store) |
//!
//! **Shared vocabulary**: [`ids`] (typed [`ids::BlobId`] /
//! [`ids::CommitId`] / [`ids::SnapshotId`], hashing), [`records`]
//! (`CommitRecord`, `SnapshotRecord`, msgpack), [`manifest`] (a snapshot's
//! `path -> blob` map and the one diff over two), [`paths`] (the layout and
//! [`RepoPath`] validation), [`error`].
//!
//! **Storage.** [`store`] holds the traits (content, records, refs with
//! multi-ref transactions, write batches) and their implementations:
//! [`store::MemStore`], and [`store::FsStore`], the on-disk format of
//! SPEC §1, implemented by the modules below. Their path-taking functions
//! are that implementation (and the Python package's seed-contract shims
//! open a [`Repository`] and call it); a program uses the [`Repository`].
//!
//! | module | concept |
//! |---|---|
//! | [`object_store`] | loose blobs |
//! | [`commits`], [`snapshots`] | loose commit and snapshot records (snapshots as deltas) |
//! | [`pack`] | packs: many objects and records in one file, one lookup order |
//! | [`refs`] | branch and HEAD files, compare-and-swap, transactions |
//! | [`batch`] | many writes, one flush barrier |
//! | [`atomic`] | temp + rename writes, live-writer locks, fsync |
//! | [`config`] | `config.toml`, the `[core] fsync` policy |
//! | [`lock`] | the index lock and the write lock (bounded waits) |
//! | [`repo`] | discovery, `init`, the startup GC |
//! | [`operation`] | the journal of a checkout or merge in progress (crash-resumable) |
//! | [`walk`] | the working-tree walker: `build_snapshot_manifest`, `walk_manifest` (SPEC §5) |
//! | [`stat_cache`] | the stat cache of working-tree files |
//! | [`fsmonitor`] | `[core] fsmonitor = "watchman"`: the changed paths from watchman instead of a walk |
//! | [`workdir`] | confined working-tree writes: nothing beyond a symlink or outside the root |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atomic;
pub mod batch;
pub mod branch;
pub mod bundle;
pub mod checkout;
pub mod commit;
pub mod commits;
pub mod config;
pub mod diff;
pub mod error;
pub mod fsmonitor;
pub mod ids;
pub mod import_git;
pub mod lock;
pub mod log;
pub mod manifest;
pub mod merge;
pub mod merge_base;
pub mod merge_file;
pub mod mpack;
pub mod object_store;
pub mod operation;
pub mod pack;
pub mod paths;
pub mod pick;
pub mod reachability;
pub mod repack;
pub mod records;
pub mod refs;
pub mod remote;
pub mod remove;
pub mod repo;
pub mod repository;
pub mod reset;
pub mod revision;
pub mod snapshots;
pub mod stage;
pub mod stash;
pub mod stat_cache;
pub mod status;
pub mod store;
pub mod tag;
pub mod verify;
pub mod walk;
pub mod zdelta;
pub mod workdir;

pub use error::{Error, ErrorKind, Result};
pub use ids::{BlobId, CommitId, ObjectId, SnapshotId};
pub use paths::RepoPath;
pub use repository::Repository;

/// The library version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

