//! The working tree as a confined directory (SPEC §12): every file muse
//! writes or removes in the working tree goes through a [`WorkDir`], which
//! resolves the path beneath the root without following a symbolic link in
//! any component (git's "beyond a symbolic link" rule).
//!
//! How: the root is opened once as a directory handle; a file's parent
//! directory is opened relative to it with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` (Linux ≥ 5.6, through `rustix`), or, where that is
//! refused or something is missing, one component at a time with
//! `openat(O_NOFOLLOW | O_DIRECTORY)`. The file itself is written to an
//! unnamed `O_TMPFILE` inode in the opened parent and linked in with
//! `linkat` (an existing file, or a final symlink, is unlinked first, never
//! followed); where that is not available, to a locked temp in `.muse/tmp/`
//! (swept by the startup GC if the writer dies) `renameat`ed into the
//! opened parent. Either way no temp ever has a name in the working tree.
//!
//! A symbolic link or a file where a directory is needed is an *obstacle*:
//! an error naming it ([`Error::InvalidInput`]), unless the caller asked to
//! replace obstacles (`checkout --force`), in which case the link or file
//! itself is removed (its target is never touched) and a real directory
//! made. [`WorkDir::obstacles`] finds them before anything is changed, so
//! that a refused checkout or merge changes nothing.

use std::cell::RefCell;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;

use crate::atomic::{create_locked_temp, RESTORE_TMP_PREFIX};
use crate::error::{Error, IoContext, Result};
use crate::paths::staging_dir;

/// Name prefix of working-tree temps in `.muse/tmp/`.
pub const WORKTREE_TMP_PREFIX: &str = "wt-";

/// What stands where a directory (or, for the last component, a file) must
/// go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObstacleKind {
    /// A symbolic link (never followed).
    Symlink,
    /// A regular file or other non-directory where a directory is needed.
    File,
    /// A directory where a file must go.
    Directory,
}

/// An obstacle found by [`WorkDir::obstacles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obstacle {
    /// The path of the obstacle (a leading part of `blocked`, or `blocked`).
    pub path: String,
    /// What it is.
    pub kind: ObstacleKind,
    /// The path that cannot be written because of it.
    pub blocked: String,
}

impl std::fmt::Display for Obstacle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ObstacleKind::Symlink => "a symbolic link",
            ObstacleKind::File => "a file",
            ObstacleKind::Directory => "a directory",
        };
        if self.path == self.blocked {
            write!(f, "{what} is in the way at {}", self.path)
        } else {
            write!(f, "{what} is in the way at {} (needed for {})", self.path, self.blocked)
        }
    }
}

/// The working tree of a repository, opened for confined writes. Not shared
/// between threads (it caches the last directory it opened).
#[derive(Debug)]
pub struct WorkDir {
    root: PathBuf,
    root_fd: OwnedFd,
    tmp_dir: PathBuf,
    last_dir: RefCell<Option<(String, Rc<OwnedFd>)>>,
    /// Files are written as unnamed `O_TMPFILE` inodes (see
    /// [`WorkDir::write_with`]); cleared at the first refusal.
    unnamed: std::cell::Cell<bool>,
}

fn errno_io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

fn split(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

impl WorkDir {
    /// Opens the working tree whose root is `root` (the directory holding
    /// `.muse/`).
    ///
    /// # Errors
    /// [`Error::Io`] when `root` cannot be opened as a directory.
    pub fn open(root: &Path) -> Result<WorkDir> {
        let root_fd = rustix::fs::openat(CWD, root, dir_flags(), Mode::empty())
            .map_err(|e| Error::io("open working tree", root, errno_io(e)))?;
        Ok(WorkDir {
            root: root.to_path_buf(),
            root_fd,
            tmp_dir: staging_dir(root),
            last_dir: RefCell::new(None),
            unnamed: std::cell::Cell::new(Path::new("/proc/self/fd").is_dir()),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The obstacles in the way of writing each of `paths` (repository-
    /// relative, validated): for every leading directory, a symlink or a
    /// non-directory; for the path itself, a symlink or a directory. A
    /// leading component that is a file listed by `will_remove` (a tracked
    /// file the same operation removes first) is not an obstacle. One
    /// `lstat` per distinct directory, and one per path.
    ///
    /// # Errors
    /// [`Error::Io`] for a failing `lstat` other than "absent".
    pub fn obstacles<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
        will_remove: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Obstacle>> {
        let mut ok_dirs: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut out = Vec::new();
        'paths: for rel in paths {
            let mut end = 0;
            let bytes = rel.as_bytes();
            while let Some(i) = bytes[end..].iter().position(|b| *b == b'/') {
                let prefix = &rel[..end + i];
                end += i + 1;
                if ok_dirs.contains(prefix) {
                    continue;
                }
                match self.lstat_kind(prefix)? {
                    None => continue 'paths,
                    Some(FileType::Directory) => {
                        ok_dirs.insert(prefix.to_string());
                    }
                    Some(FileType::Symlink) => {
                        out.push(Obstacle { path: prefix.into(), kind: ObstacleKind::Symlink, blocked: rel.into() });
                        continue 'paths;
                    }
                    Some(_) => {
                        if !will_remove(prefix) {
                            out.push(Obstacle { path: prefix.into(), kind: ObstacleKind::File, blocked: rel.into() });
                        }
                        continue 'paths;
                    }
                }
            }
            match self.lstat_kind(rel)? {
                Some(FileType::Symlink) => {
                    out.push(Obstacle { path: rel.into(), kind: ObstacleKind::Symlink, blocked: rel.into() })
                }
                Some(FileType::Directory) => {
                    out.push(Obstacle { path: rel.into(), kind: ObstacleKind::Directory, blocked: rel.into() })
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn lstat_kind(&self, rel: &str) -> Result<Option<FileType>> {
        match rustix::fs::statat(&self.root_fd, rel, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
            Err(e) => Err(Error::io("stat", self.root.join(rel), errno_io(e))),
        }
    }

    /// Opens the directory `dir_rel` beneath the root without following a
    /// symlink. `None` when it (or a leading part) is absent or not a real
    /// directory and `create` is false. With `create`, missing directories
    /// are made; an obstacle is an error unless `replace`, which removes it.
    fn open_dir(&self, dir_rel: &str, create: bool, replace: bool) -> Result<Option<Rc<OwnedFd>>> {
        if let Some((k, fd)) = &*self.last_dir.borrow() {
            if k == dir_rel {
                return Ok(Some(fd.clone()));
            }
        }
        let fd = if dir_rel.is_empty() {
            rustix::fs::openat(&self.root_fd, ".", dir_flags(), Mode::empty())
                .map_err(|e| Error::io("open", &self.root, errno_io(e)))?
        } else {
            match rustix::fs::openat2(
                &self.root_fd,
                dir_rel,
                dir_flags(),
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => fd,
                Err(_) => match self.walk_dir(dir_rel, create, replace)? {
                    Some(fd) => fd,
                    None => return Ok(None),
                },
            }
        };
        let fd = Rc::new(fd);
        *self.last_dir.borrow_mut() = Some((dir_rel.to_string(), fd.clone()));
        Ok(Some(fd))
    }

    /// [`Self::open_dir`] one component at a time (`O_NOFOLLOW`).
    fn walk_dir(&self, dir_rel: &str, create: bool, replace: bool) -> Result<Option<OwnedFd>> {
        let mut cur = rustix::fs::openat(&self.root_fd, ".", dir_flags(), Mode::empty())
            .map_err(|e| Error::io("open", &self.root, errno_io(e)))?;
        let mut end = 0usize;
        for comp in dir_rel.split('/') {
            end += comp.len();
            let prefix = &dir_rel[..end];
            end += 1;
            let mut tries = 0;
            cur = loop {
                tries += 1;
                match rustix::fs::openat(&cur, comp, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
                    Ok(fd) => break fd,
                    Err(Errno::NOENT) if create && tries < 4 => match rustix::fs::mkdirat(&cur, comp, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => continue,
                        Err(e) => return Err(Error::io("create directory", self.root.join(prefix), errno_io(e))),
                    },
                    Err(Errno::NOENT) => return Ok(None),
                    Err(Errno::LOOP) | Err(Errno::NOTDIR) if tries < 4 => {
                        if !create {
                            return Ok(None);
                        }
                        let kind = match rustix::fs::statat(&cur, comp, AtFlags::SYMLINK_NOFOLLOW) {
                            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => ObstacleKind::Symlink,
                            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => continue,
                            Ok(_) => ObstacleKind::File,
                            Err(_) => continue,
                        };
                        if !replace {
                            let o = Obstacle { path: prefix.into(), kind, blocked: dir_rel.into() };
                            return Err(Error::InvalidInput(format!(
                                "{o}: muse never writes beyond a symbolic link or over an untracked file; move it or use --force"
                            )));
                        }
                        // --force: the link (or file) itself goes, never its target.
                        match rustix::fs::unlinkat(&cur, comp, AtFlags::empty()) {
                            Ok(()) | Err(Errno::NOENT) => {
                                log::warn!("removed {} in the way of {dir_rel} (--force)", self.root.join(prefix).display());
                                continue;
                            }
                            Err(e) => return Err(Error::io("remove", self.root.join(prefix), errno_io(e))),
                        }
                    }
                    Err(e) => return Err(Error::io("open directory", self.root.join(prefix), errno_io(e))),
                }
            };
        }
        Ok(Some(cur))
    }

    /// Writes the stored blob `id` (from `store`) to
    /// `rel`, confined beneath the root: the bytes are streamed from the
    /// store into a locked temp in `.muse/tmp/`, hash-verified, and renamed
    /// into place. Missing directories are made; obstacles are errors
    /// unless `replace_obstacles`. Not fsynced (working-tree files, as in
    /// git). Returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Missing`] when the blob is not stored, [`Error::Corrupt`]
    /// (the file is left untouched), [`Error::InvalidInput`] for an
    /// obstacle, [`Error::Io`].
    pub fn write_blob(&self, store: &dyn crate::store::ContentStore, rel: &str, id: &str, replace_obstacles: bool) -> Result<u64> {
        let blob = crate::ids::BlobId::parse(id)?;
        let mut src = store.open_blob(&blob).map_err(|e| match e {
            Error::NotFound { .. } => Error::Missing { what: "object", id: id.to_string(), referenced_by: format!("path {rel}") },
            e => e,
        })?;
        let src_path = PathBuf::from(format!("blob {id}"));
        self.write_with(rel, replace_obstacles, &mut |out, out_path| {
            crate::object_store::copy_verified(&mut src, &src_path, id, out, out_path)
        })
    }

    /// Writes `data` to `rel`, confined like [`Self::write_blob`].
    ///
    /// # Errors
    /// As [`Self::write_blob`].
    pub fn write_bytes(&self, rel: &str, data: &[u8], replace_obstacles: bool) -> Result<()> {
        use std::io::Write;
        self.write_with(rel, replace_obstacles, &mut |out, out_path| {
            out.write_all(data).ctx("write", out_path)?;
            Ok(data.len() as u64)
        })?;
        Ok(())
    }

    /// Writes `rel` with `fill`. Where the kernel allows (`O_TMPFILE`, and
    /// `/proc/self/fd` to name the inode), the content goes to an unnamed
    /// inode in the opened parent directory — invisible, and gone with the
    /// process if it dies — which is then linked in under its name; an
    /// existing file is unlinked first (git's checkout does the same:
    /// remove, then create), so a reader may briefly see no file, never a
    /// partial one. Elsewhere a locked temp in `.muse/tmp/` is renamed into
    /// place. Either way no temp ever has a name in the working tree.
    fn write_with(
        &self,
        rel: &str,
        replace: bool,
        fill: &mut dyn FnMut(&mut std::fs::File, &Path) -> Result<u64>,
    ) -> Result<u64> {
        let (dir_rel, leaf) = split(rel);
        if self.unnamed.get() {
            let parent = self.open_dir(dir_rel, true, replace)?.expect("open_dir with create gives a directory");
            match rustix::fs::openat(
                parent.as_fd(),
                ".",
                OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            ) {
                Ok(fd) => {
                    let mut f = std::fs::File::from(fd);
                    let n = fill(&mut f, &self.root.join(rel))?;
                    self.link_unnamed(&f, parent.as_fd(), rel, leaf)?;
                    return Ok(n);
                }
                // Filesystems and kernels without O_TMPFILE say one of these.
                Err(Errno::OPNOTSUPP) | Err(Errno::ISDIR) | Err(Errno::INVAL) | Err(Errno::NOENT) => {
                    self.unnamed.set(false)
                }
                Err(e) => return Err(Error::io("create file in", self.root.join(dir_rel), errno_io(e))),
            }
        }
        let mut tmp = self.create_temp()?;
        let tmp_path = tmp.path().to_path_buf();
        let n = fill(tmp.as_file_mut(), &tmp_path)?;
        self.place(tmp, rel, replace)?;
        Ok(n)
    }

    /// Gives the unnamed inode `f` the name `leaf` in `parent`, replacing a
    /// file (never a directory) of that name.
    fn link_unnamed(&self, f: &std::fs::File, parent: BorrowedFd<'_>, rel: &str, leaf: &str) -> Result<()> {
        let own = format!("/proc/self/fd/{}", f.as_raw_fd());
        for _ in 0..8 {
            match rustix::fs::linkat(CWD, own.as_str(), parent, leaf, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => return Ok(()),
                Err(Errno::EXIST) => match rustix::fs::unlinkat(parent, leaf, AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => continue,
                    Err(Errno::ISDIR) | Err(Errno::PERM) => {
                        let o = Obstacle { path: rel.into(), kind: ObstacleKind::Directory, blocked: rel.into() };
                        return Err(Error::InvalidInput(format!("{o}: move it away first")));
                    }
                    Err(e) => return Err(Error::io("remove", self.root.join(rel), errno_io(e))),
                },
                Err(e) => return Err(Error::io("link into place", self.root.join(rel), errno_io(e))),
            }
        }
        Err(Error::InvalidInput(format!("{rel} keeps being recreated by another process")))
    }

    fn create_temp(&self) -> Result<tempfile::NamedTempFile> {
        let mut tries = 0;
        loop {
            tries += 1;
            match create_locked_temp(&self.tmp_dir, WORKTREE_TMP_PREFIX, "", 0o666) {
                Ok(t) => return Ok(t),
                // `.muse/tmp/` is made on demand and removed by batches when
                // empty: make it again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => {
                    std::fs::create_dir_all(&self.tmp_dir).ctx("create directory", &self.tmp_dir)?
                }
                Err(e) => return Err(Error::io("create temp in", &self.tmp_dir, e)),
            }
        }
    }

    /// Renames the written temp to `rel` beneath the root.
    fn place(&self, tmp: tempfile::NamedTempFile, rel: &str, replace: bool) -> Result<()> {
        let (dir_rel, leaf) = split(rel);
        let parent = self.open_dir(dir_rel, true, replace)?.expect("open_dir with create gives a directory");
        let (mut file, tmp_path) = tmp.keep().map_err(|e| Error::io("keep temp", self.tmp_dir.clone(), e.error))?;
        let res = match rustix::fs::renameat(CWD, &tmp_path, parent.as_fd(), leaf) {
            Ok(()) => Ok(()),
            Err(Errno::XDEV) => self.place_across_devices(&mut file, parent.as_fd(), rel, leaf),
            Err(Errno::ISDIR) | Err(Errno::NOTEMPTY) | Err(Errno::EXIST) => {
                let o = Obstacle { path: rel.into(), kind: ObstacleKind::Directory, blocked: rel.into() };
                Err(Error::InvalidInput(format!("{o}: move it away first")))
            }
            Err(e) => Err(Error::io("rename into place", self.root.join(rel), errno_io(e))),
        };
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp_path);
        }
        res
    }

    /// The tree and `.muse/tmp/` are on different filesystems: copy into a
    /// locked temp inside the target directory itself, then rename there.
    fn place_across_devices(&self, src: &mut std::fs::File, parent: BorrowedFd<'_>, rel: &str, leaf: &str) -> Result<()> {
        let dir = PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd()));
        let mut tmp = create_locked_temp(&dir, RESTORE_TMP_PREFIX, "", 0o666).ctx("create temp in", &self.root.join(rel))?;
        src.seek(SeekFrom::Start(0)).ctx("seek", &self.tmp_dir)?;
        std::io::copy(src, tmp.as_file_mut()).ctx("write", &self.root.join(rel))?;
        let name = tmp.path().file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let (_f, _p) = tmp.keep().map_err(|e| Error::io("keep temp", self.root.join(rel), e.error))?;
        rustix::fs::renameat(parent, name.as_os_str(), parent, leaf).map_err(|e| {
            let _ = rustix::fs::unlinkat(parent, name.as_os_str(), AtFlags::empty());
            Error::io("rename into place", self.root.join(rel), errno_io(e))
        })
    }

    /// Removes the file `rel` if it is there beneath the root (a path
    /// beyond a symlink is not in the tree and is left alone), then every
    /// parent directory it leaves empty. Returns whether a file was removed.
    ///
    /// # Errors
    /// [`Error::Io`] for a failure other than "absent".
    pub fn remove_file(&self, rel: &str) -> Result<bool> {
        let (dir_rel, leaf) = split(rel);
        let Some(parent) = self.open_dir(dir_rel, false, false)? else { return Ok(false) };
        match rustix::fs::unlinkat(parent.as_fd(), leaf, AtFlags::empty()) {
            Ok(()) => {}
            Err(Errno::NOENT) | Err(Errno::ISDIR) | Err(Errno::PERM) if self.lstat_kind(rel)? != Some(FileType::RegularFile) => {
                return Ok(false)
            }
            Err(e) => return Err(Error::io("remove", self.root.join(rel), errno_io(e))),
        }
        drop(parent);
        let mut dir = dir_rel;
        while !dir.is_empty() {
            let (up, name) = split(dir);
            let Some(up_fd) = self.open_dir(up, false, false)? else { break };
            if rustix::fs::unlinkat(up_fd.as_fd(), name, AtFlags::REMOVEDIR).is_err() {
                break;
            }
            // The cached directory may be the one just removed.
            *self.last_dir.borrow_mut() = None;
            dir = up;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("wt");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join(".muse")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        (d, root, outside)
    }

    #[test]
    fn never_writes_through_a_symlinked_directory() {
        let (_d, root, outside) = setup();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let wd = WorkDir::open(&root).unwrap();
        let obs = wd.obstacles(["link/victim.txt"], &|_| false).unwrap();
        assert_eq!(obs, vec![Obstacle { path: "link".into(), kind: ObstacleKind::Symlink, blocked: "link/victim.txt".into() }]);
        let err = wd.write_bytes("link/victim.txt", b"x", false).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!outside.join("victim.txt").exists());
        // Deeper: a real directory, then a link.
        std::fs::create_dir(root.join("d")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/l2")).unwrap();
        assert!(wd.write_bytes("d/l2/x/y.txt", b"x", false).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // --force: the link goes, a directory comes, the target is intact.
        wd.write_bytes("link/victim.txt", b"x", true).unwrap();
        assert!(root.join("link").symlink_metadata().unwrap().is_dir());
        assert_eq!(std::fs::read(root.join("link/victim.txt")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // No temp is left in the tree or in .muse/tmp.
        assert_eq!(std::fs::read_dir(root.join(".muse/tmp")).map(|d| d.count()).unwrap_or(0), 0);
        assert_eq!(std::fs::read_dir(root.join("link")).unwrap().count(), 1);
    }

    #[test]
    fn the_named_temp_fallback_is_confined_too() {
        let (_d, root, outside) = setup();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        std::fs::write(root.join("f.txt"), b"old").unwrap();
        let wd = WorkDir::open(&root).unwrap();
        wd.unnamed.set(false);
        assert!(wd.write_bytes("link/victim.txt", b"x", false).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        wd.write_bytes("f.txt", b"new", false).unwrap();
        wd.write_bytes("a/b.txt", b"b", false).unwrap();
        assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"new");
        assert_eq!(std::fs::read(root.join("a/b.txt")).unwrap(), b"b");
        assert_eq!(std::fs::read_dir(root.join(".muse/tmp")).unwrap().count(), 0);
        wd.write_bytes("link/victim.txt", b"x", true).unwrap();
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn a_final_symlink_is_replaced_not_followed_and_removal_stays_inside() {
        let (_d, root, outside) = setup();
        std::fs::write(outside.join("target.txt"), b"keep").unwrap();
        std::os::unix::fs::symlink(outside.join("target.txt"), root.join("f.txt")).unwrap();
        let wd = WorkDir::open(&root).unwrap();
        assert_eq!(wd.obstacles(["f.txt"], &|_| false).unwrap().len(), 1);
        wd.write_bytes("f.txt", b"new", false).unwrap();
        assert_eq!(std::fs::read(outside.join("target.txt")).unwrap(), b"keep");
        assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"new");
        // remove_file never reaches through a link.
        std::os::unix::fs::symlink(&outside, root.join("l")).unwrap();
        assert!(!wd.remove_file("l/target.txt").unwrap());
        assert!(outside.join("target.txt").exists());
        // Removing the last file of a directory removes the directory.
        wd.write_bytes("a/b/c.txt", b"c", false).unwrap();
        assert!(wd.remove_file("a/b/c.txt").unwrap());
        assert!(!root.join("a").exists());
        wd.write_bytes("a/b/c.txt", b"c", false).unwrap();
        assert!(root.join("a/b/c.txt").exists());
    }

    #[test]
    fn a_file_in_the_way_is_an_obstacle_unless_removed_first() {
        let (_d, root, _o) = setup();
        std::fs::write(root.join("a"), b"file").unwrap();
        let wd = WorkDir::open(&root).unwrap();
        assert_eq!(wd.obstacles(["a/b"], &|_| false).unwrap()[0].kind, ObstacleKind::File);
        assert!(wd.obstacles(["a/b"], &|p| p == "a").unwrap().is_empty());
        assert!(wd.write_bytes("a/b", b"x", false).is_err());
        assert_eq!(std::fs::read(root.join("a")).unwrap(), b"file");
    }
}
