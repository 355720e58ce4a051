//! Rust `log` records → Python `logging`, under the `muse` logger.
//!
//! pyo3-log names the Python logger after the record's target (`::` → `.`),
//! so `muse_core::stat_cache` would land on `muse_core.stat_cache`, outside
//! `logging.getLogger("muse")`. It has no renaming hook, so this wraps its
//! `Logger` and rewrites each target first ([`python_target`]):
//! `muse_core::stat_cache` → `muse.core.stat_cache`, a target already under `muse` unchanged, any other crate's
//! `x::y` → `muse.deps.x.y`.

use std::borrow::Cow;

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// The Python logger name of a Rust log target, still `::`-separated
/// (pyo3-log turns `::` into `.` and caches loggers per `::` segment).
pub fn python_target(target: &str) -> Cow<'_, str> {
    if target == "muse" || target.starts_with("muse.") || target.starts_with("muse::") {
        Cow::Borrowed(target)
    } else if let Some(rest) = target.strip_prefix("muse_") {
        Cow::Owned(format!("muse::{rest}"))
    } else {
        Cow::Owned(format!("muse::deps::{target}"))
    }
}

/// pyo3-log's logger behind the target rewrite.
struct MuseLogger(pyo3_log::Logger);

impl Log for MuseLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let target = python_target(metadata.target());
        self.0.enabled(&Metadata::builder().level(metadata.level()).target(&target).build())
    }

    fn log(&self, record: &Record<'_>) {
        let target = python_target(record.target());
        self.0.log(
            &Record::builder()
                .args(*record.args())
                .level(record.level())
                .target(&target)
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build(),
        );
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Installs the bridge as the process's `log` logger (once; later calls,
/// or another logger installed first, leave things as they are). Levels as
/// pyo3-log's defaults: records up to DEBUG are forwarded, and each Python
/// logger's level is cached on first use.
pub fn init(py: Python<'_>) -> PyResult<()> {
    let inner = pyo3_log::Logger::new(py, pyo3_log::Caching::LoggersAndLevels)?.filter(LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(MuseLogger(inner))).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
    Ok(())
}
