//! `muse serve`: the hub that hosts muse repositories over HTTP (SPEC §13).
//!
//! The protocol is muse-core's ([`muse_core::remote`]): ref advertisement,
//! fetch answered with an MPack, push verified entirely before refs move
//! together by compare-and-swap, and the seed suites' presign → PUT →
//! unpack-mpack flow. Storage sits behind [`storage::HubStorage`], with two
//! tiers:
//!
//! * **embedded** (default, [`FsHub`], module [`fs_hub`]): each hosted
//!   repository is a muse repository on local disk under `--root DIR`;
//! * **scale-out** (`scaleout`): blobs, records and uploaded MPacks in
//!   S3-compatible object storage, refs and metadata in PostgreSQL, so
//!   several `muse serve` processes share one hub.
//!
//! The HTTP server, its routes and its authentication are [`server`]'s.

#![warn(missing_docs)]

pub mod fs_hub;
pub mod scaleout;
pub mod server;
pub mod storage;

pub use fs_hub::FsHub;
pub use server::{create_token, init_repo, serve_blocking, ServeConfig, ServeError, ServerHandle};
pub use storage::{HubStorage, RepoInfo, Scope};
