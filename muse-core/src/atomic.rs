//! Crash-safe file writes (SPEC §4).
//!
//! Every file under `.muse/` is written to a temp file in the destination
//! directory and `rename`d into place, so a reader sees the old file or the
//! new one, never a partial one. The temp name families are fixed because the
//! startup GC recognises them by prefix ([`TEMP_PREFIXES`]).
//!
//! **Live-writer protection.** A writer takes an exclusive `flock` on its temp
//! file right after creating it and holds it until the rename is done. The
//! GC only deletes a temp whose lock it can take, so it never deletes a temp
//! that a live process is writing, however young; a killed process's locks
//! vanish with it, so its temps are swept on the next command. The one race
//! (GC deletes a temp between its creation and its lock) is closed by the
//! writer checking, once locked, that its temp still has a link, and
//! starting over if not.
//!
//! **New immutable files without a named temp.** Where the kernel allows it
//! (Linux `O_TMPFILE`, with `/proc` mounted), a no-clobber write
//! ([`Replace::NoClobber`]: objects and records) writes an *unnamed* inode
//! in the destination directory and then gives it its name with `linkat`,
//! which fails when the name exists: the file appears whole or not at all,
//! exactly as with a temp and `rename(RENAME_NOREPLACE)`, with one
//! directory-entry change instead of three (create, remove, insert) and
//! nothing the GC could ever need to sweep: a killed writer's unnamed inode
//! is freed by the kernel. Elsewhere (another OS, a filesystem without
//! `O_TMPFILE`, no `/proc`) the named, locked temp of the families above is
//! used; the choice is made once per process.
//!
//! **Durability.** With [`Durability::Full`] a write returns only after the
//! file's data (`fdatasync`) and its directory entry (`fsync` of the
//! directory) are on disk. [`Durability::Deferred`] skips both; the caller
//! owes a barrier ([`sync_filesystem`]) before anything durable points at
//! the file.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::{Error, IoContext, Result};

/// Temp prefix of object writes (in object shard directories).
pub const OBJ_TMP_PREFIX: &str = ".obj-tmp-";
/// Temp prefix of `restore_object` (in the destination directory).
pub const RESTORE_TMP_PREFIX: &str = ".restore-tmp-";
/// Temp prefix of records, refs, config and other `.muse/` files.
pub const MUSE_TMP_PREFIX: &str = ".muse-tmp-";
/// Temp prefix of the stat cache (its suffix is [`STAT_CACHE_TMP_SUFFIX`]).
pub const STAT_CACHE_TMP_PREFIX: &str = ".stat_cache_";
/// Temp suffix of the stat cache.
pub const STAT_CACHE_TMP_SUFFIX: &str = ".tmp";
/// All temp-name prefixes the GC knows (SPEC §4).
pub const TEMP_PREFIXES: [&str; 4] =
    [MUSE_TMP_PREFIX, STAT_CACHE_TMP_PREFIX, OBJ_TMP_PREFIX, RESTORE_TMP_PREFIX];

/// File mode of immutable content (objects, commit and snapshot records).
pub const MODE_IMMUTABLE: u32 = 0o444;
/// File mode of mutable files (refs, HEAD, config, caches).
pub const MODE_MUTABLE: u32 = 0o644;

/// Whether a write must be on disk when the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` the file and `fsync` its directory before returning.
    Full,
    /// Neither; a later barrier ([`sync_filesystem`]) must cover the write
    /// before anything durable refers to it.
    Deferred,
}

impl Durability {
    /// `Full` when `durable`, else `Deferred`.
    pub fn from_bool(durable: bool) -> Self {
        if durable {
            Durability::Full
        } else {
            Durability::Deferred
        }
    }
}

/// How [`write_atomic`] treats an existing destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Atomically replace it (refs, caches, mutable files).
    Overwrite,
    /// Leave it and report `false` (content-addressed files).
    NoClobber,
}

/// Creates a temp file `<dir>/<prefix><random><suffix>` with `mode`, locked
/// (exclusive `flock`) against the GC.
///
/// # Errors
/// The OS error of creating or locking the file.
pub fn create_locked_temp(dir: &Path, prefix: &str, suffix: &str, mode: u32) -> std::io::Result<NamedTempFile> {
    loop {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .rand_bytes(10)
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)?;
        tmp.as_file().lock()?;
        // The GC may have unlinked the temp between its creation and our
        // lock; then it has no name left and we start over.
        if tmp.as_file().metadata()?.nlink() > 0 {
            return Ok(tmp);
        }
    }
}

/// Writes `data` to `dest` atomically: a locked temp with `prefix` in
/// `dest`'s directory, optionally synced, renamed into place.
///
/// Returns `true` when `dest` was written, `false` when [`Replace::NoClobber`]
/// found it already there (the temp is removed).
///
/// # Errors
/// [`Error::Io`] naming the path; on error no temp is left behind and `dest`
/// is unchanged.
pub fn write_atomic(
    dest: &Path,
    prefix: &str,
    data: &[u8],
    mode: u32,
    durability: Durability,
    replace: Replace,
) -> Result<bool> {
    let dir = parent_of(dest);
    if replace == Replace::NoClobber {
        if let Some(written) = write_new_unnamed(dir, dest, data, mode, durability) {
            return written;
        }
    }
    let tmp = create_locked_temp(dir, prefix, "", mode).ctx("create temp in", dir)?;
    write_temp_and_persist(tmp, dest, data, durability, replace)
}

/// Whether [`write_new_unnamed`] can work in this process: 0 unknown, 1 yes,
/// 2 no (decided on first use).
static UNNAMED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The no-clobber write of [`write_atomic`] through an unnamed `O_TMPFILE`
/// inode in `dir`, linked at `dest` (see the module docs). `None` when this
/// process cannot (no `O_TMPFILE` on this filesystem or OS, no
/// `/proc/self/fd`): the caller uses a named temp instead.
fn write_new_unnamed(dir: &Path, dest: &Path, data: &[u8], mode: u32, durability: Durability) -> Option<Result<bool>> {
    use rustix::fs::{AtFlags, Mode, OFlags, CWD};
    use rustix::io::Errno;
    use std::sync::atomic::Ordering;
    match UNNAMED.load(Ordering::Relaxed) {
        2 => return None,
        0 if !Path::new("/proc/self/fd").is_dir() => {
            UNNAMED.store(2, Ordering::Relaxed);
            return None;
        }
        _ => {}
    }
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(mode as _)) {
        Ok(fd) => fd,
        // Kernels and filesystems without O_TMPFILE say one of these.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => {
            UNNAMED.store(2, Ordering::Relaxed);
            return None;
        }
        Err(e) => return Some(Err(Error::io("create temp in", dir, e.into()))),
    };
    UNNAMED.store(1, Ordering::Relaxed);
    let f = File::from(fd);
    let run = || -> Result<bool> {
        (&f).write_all(data).ctx("write", dest)?;
        if durability == Durability::Full {
            f.sync_data().ctx("fdatasync", dest)?;
        }
        let own = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        match rustix::fs::linkat(CWD, own.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => {}
            Err(Errno::EXIST) => return Ok(false),
            Err(e) => return Err(Error::io("link into", dest, e.into())),
        }
        if durability == Durability::Full {
            sync_dir(dir)?;
        }
        Ok(true)
    };
    Some(run())
}

/// Second half of [`write_atomic`] for a temp the caller created.
pub(crate) fn write_temp_and_persist(
    mut tmp: NamedTempFile,
    dest: &Path,
    data: &[u8],
    durability: Durability,
    replace: Replace,
) -> Result<bool> {
    tmp.write_all(data).ctx("write", tmp.path())?;
    if durability == Durability::Full {
        tmp.as_file().sync_data().ctx("fdatasync", tmp.path())?;
    }
    let written = match replace {
        Replace::Overwrite => {
            tmp.persist(dest).map_err(|e| Error::io("rename into", dest, e.error))?;
            true
        }
        Replace::NoClobber => match tmp.persist_noclobber(dest) {
            Ok(_) => true,
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::io("rename into", dest, e.error)),
        },
    };
    if written && durability == Durability::Full {
        sync_dir(parent_of(dest))?;
    }
    Ok(written)
}

/// `fsync`s a directory so that entries created or renamed in it are durable.
///
/// # Errors
/// [`Error::Io`].
pub fn sync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).ctx("open directory", dir)?;
    f.sync_all().ctx("fsync directory", dir)
}

/// Creates `dir` and any missing parents. With [`Durability::Full`], every
/// directory it created has its entry made durable (its parent is
/// `fsync`ed), so a durable file inside it is reachable after a crash.
///
/// # Errors
/// [`Error::Io`].
pub fn create_dir_all_durable(dir: &Path, durability: Durability) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // The highest missing ancestor: everything below it is created here.
    let mut top = dir;
    while let Some(parent) = top.parent() {
        if parent.as_os_str().is_empty() || parent.is_dir() {
            break;
        }
        top = parent;
    }
    std::fs::create_dir_all(dir).ctx("create directory", dir)?;
    if durability == Durability::Full {
        let mut d = dir;
        loop {
            sync_dir(parent_of(d))?;
            if d == top {
                break;
            }
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
    }
    Ok(())
}

/// The flush barrier of a write batch: `syncfs(2)` on the filesystem that
/// holds `path`, which makes every write to that filesystem durable.
///
/// # Errors
/// [`Error::Io`].
pub fn sync_filesystem(path: &Path) -> Result<()> {
    let f = File::open(path).ctx("open", path)?;
    rustix::fs::syncfs(&f).map_err(|e| Error::io("syncfs", path, e.into()))
}

/// `fsync` of an open file (data and metadata).
///
/// # Errors
/// [`Error::Io`].
pub fn sync_file(f: &File, path: &Path) -> Result<()> {
    f.sync_all().ctx("fsync", path)
}

/// Writes UTF-8 `text` to `path` atomically through a `.muse-tmp-` temp in
/// the same directory, durable on return.
///
/// # Errors
/// [`Error::Io`].
pub fn write_text_atomic(path: &Path, text: &str, durability: Durability) -> Result<()> {
    write_atomic(path, MUSE_TMP_PREFIX, text.as_bytes(), MODE_MUTABLE, durability, Replace::Overwrite)
        .map(|_| ())
}

fn parent_of(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Outcome of [`try_remove_temp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempState {
    /// Removed.
    Removed,
    /// A live writer holds it (or it is too young); kept.
    Live,
    /// Gone before we got to it.
    Vanished,
}

/// Removes the file at `path`; one that is already absent is fine.
///
/// # Errors
/// [`Error::Io`] for any other failure.
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Removes the temp file at `path` unless a live writer holds its lock.
/// With `min_age`, a temp whose mtime is younger than that is kept too.
///
/// # Errors
/// [`Error::Io`] other than "not found".
pub fn try_remove_temp(path: &Path, min_age: Option<std::time::Duration>) -> Result<TempState> {
    let f = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TempState::Vanished),
        Err(e) => return Err(Error::io("open temp", path, e)),
    };
    let meta = f.metadata().ctx("stat", path)?;
    if !meta.is_file() {
        return Ok(TempState::Live);
    }
    if let Some(age) = min_age {
        let young = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|elapsed| elapsed < age);
        if young {
            return Ok(TempState::Live);
        }
    }
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(TempState::Live),
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock temp", path, e)),
    }
    // Holding the lock: make sure the name still points at the inode we
    // locked (it may have been renamed into place and the name reused).
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.ino() == meta.ino() && m.dev() == meta.dev() => {}
        Ok(_) => return Ok(TempState::Live),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TempState::Vanished),
        Err(e) => return Err(Error::io("stat", path, e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(TempState::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TempState::Vanished),
        Err(e) => Err(Error::io("remove temp", path, e)),
    }
}

/// Sets the mtime of the stored loose file `path` to now (git's "freshen"):
/// what a writer does instead of writing an item that is already stored, so
/// that the item is as young as a new one for the grace period of
/// [`crate::reachability::prune`]. Returns false when it could not (the file vanished, or is not
/// ours to touch); the caller goes on: the item is stored either way.
pub fn freshen(path: &Path) -> bool {
    let res = std::fs::File::open(path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = &res {
        log::debug!("could not freshen {}: {e}", path.display());
    }
    res.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noclobber_reports_existing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        assert!(write_atomic(&p, OBJ_TMP_PREFIX, b"a", MODE_IMMUTABLE, Durability::Full, Replace::NoClobber).unwrap());
        assert!(!write_atomic(&p, OBJ_TMP_PREFIX, b"b", MODE_IMMUTABLE, Durability::Full, Replace::NoClobber).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"a");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "temp left behind");
    }

    /// Both ways of a no-clobber write (unnamed inode + link where the
    /// kernel has it, named temp + rename otherwise) give the same result:
    /// the content, mode 0444 (less the umask), no clobbering, no leftovers,
    /// and "not found" for a missing directory.
    #[test]
    fn noclobber_unnamed_and_named_agree() {
        use std::os::unix::fs::PermissionsExt;
        let umask = {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("probe");
            std::fs::write(&p, b"").unwrap();
            0o666 & !std::fs::metadata(&p).unwrap().permissions().mode()
        };
        let unnamed_works = {
            let d = tempfile::tempdir().unwrap();
            write_new_unnamed(d.path(), &d.path().join("x"), b"x", MODE_IMMUTABLE, Durability::Deferred).is_some()
        };
        for dir in 0..2 {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("f");
            let got = if dir == 0 {
                match write_new_unnamed(d.path(), &p, b"a", MODE_IMMUTABLE, Durability::Full) {
                    Some(r) => r.unwrap(),
                    None => continue, // this kernel or filesystem has no O_TMPFILE
                }
            } else {
                let tmp = create_locked_temp(d.path(), OBJ_TMP_PREFIX, "", MODE_IMMUTABLE).unwrap();
                write_temp_and_persist(tmp, &p, b"a", Durability::Full, Replace::NoClobber).unwrap()
            };
            assert!(got);
            assert_eq!(std::fs::read(&p).unwrap(), b"a");
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, MODE_IMMUTABLE & !umask);
            if dir == 0 {
                assert_eq!(write_new_unnamed(d.path(), &p, b"b", MODE_IMMUTABLE, Durability::Full).map(|r| r.unwrap()), Some(false));
                let gone = d.path().join("gone");
                let e = write_new_unnamed(&gone, &gone.join("f"), b"a", MODE_IMMUTABLE, Durability::Full).unwrap().unwrap_err();
                assert!(e.is_not_found(), "{e}");
            }
            assert_eq!(std::fs::read(&p).unwrap(), b"a");
            let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, ["f"], "leftovers");
        }
        // On Linux with /proc (this CI), the unnamed way is the one used.
        if cfg!(target_os = "linux") && Path::new("/proc/self/fd").is_dir() {
            assert!(unnamed_works, "O_TMPFILE unavailable here: the named-temp fallback is what runs");
        }
    }

    #[test]
    fn locked_temp_is_not_removed_until_released() {
        let d = tempfile::tempdir().unwrap();
        let tmp = create_locked_temp(d.path(), MUSE_TMP_PREFIX, "", MODE_MUTABLE).unwrap();
        assert_eq!(try_remove_temp(tmp.path(), None).unwrap(), TempState::Live);
        let path = tmp.path().to_path_buf();
        let (file, kept) = tmp.keep().unwrap();
        drop(file);
        assert_eq!(try_remove_temp(&kept, None).unwrap(), TempState::Removed);
        assert!(!path.exists());
    }
}
