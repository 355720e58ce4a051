"""Type stubs of ``muse._native``, the one native extension behind ``muse``.

Use the documented wrappers in :mod:`muse.core`; these are their backends.
``durable=None`` follows the repository's ``[core] fsync`` policy,
``durable=False`` skips fsync for that call.

Layout (mirrors ``muse-py/src/lib.rs``): constants; the exception hierarchy;
record and result classes; store helper classes; then the functions, one
section per ``muse.core`` module. A new class goes in the section of its
kind (e.g. a ``Repository`` handle and its result types after the records),
a new function in the section of the module that wraps it, and every new
name in ``__all__`` (at the end; pyo3 lists each added name at runtime).
"""

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Optional, final

_P = str | os.PathLike[str]

# ---------------------------------------------------------------- constants

__version__: str
MAX_MSGPACK_BYTES: int
CLEANUP_MIN_AGE_SECS: int
DEFAULT_MAX_ANCESTORS: int
DEFAULT_WALK_CAP: int
MUSE_TEMP_PREFIXES: list[str]
MUSE_SWEEP_DIRS: list[str]
TEMP_PREFIXES: list[str]
REPO_ROOT_ENV: str
MPACK_FORMAT_VERSION: int
MAX_CACHE_BYTES: int
CACHE_VERSION: int

# ---------------------------------------------------------------- exceptions
# Created once at module initialisation (muse-py/src/errors.rs); public home
# and ``__module__``: ``muse.core.errors``.

class MuseError(Exception):
    """Base class of every error raised by muse."""

class InvalidInputError(MuseError, ValueError):
    """A caller-supplied value is malformed; nothing was written."""

class InvalidIdError(InvalidInputError):
    """An ID is not ``"sha256:"`` followed by 64 lowercase hex digits."""

class InvalidPathError(InvalidInputError):
    """A repository-relative path is absolute, has ``..``/empty segments, NUL, or is inside ``.muse/``."""

class InvalidRefNameError(InvalidInputError):
    """A branch name breaks git's ``check-ref-format`` rules."""

class IntegrityError(MuseError, ValueError):
    """Stored or received data does not verify (hash, format or size)."""

class HashMismatchError(IntegrityError):
    """Content does not hash to the ID it was given under; nothing was written."""

class CorruptRecordError(IntegrityError):
    """A stored file exists but is truncated, undecodable, or does not hash to its name."""

class RecordTooLargeError(IntegrityError):
    """A record file is larger than ``MAX_MSGPACK_BYTES``; it was not read."""

class MissingDataError(IntegrityError):
    """A ref or record points at data the store does not hold (the CLI's exit 3)."""

class RefConflictError(MuseError):
    """A compare-and-swap ref update found the ref moved since the caller read it."""

class LockedError(MuseError):
    """A repository lock stayed held by another process for the whole bounded wait."""

class RejectedError(MuseError):
    """A ref update of a push was refused (non-fast-forward, the remote branch
    moved, the checked-out branch of a remote that is not bare); nothing changed."""

class NotFoundError(MuseError, LookupError):
    """A required object, commit, snapshot or branch does not exist."""

class NotARepositoryError(MuseError):
    """No ``.muse/`` directory at or above the start directory."""

class MuseCLIError(MuseError):
    """An error reported to the user by the CLI layer (caps, bad ``config.toml``)."""

class MuseIOError(MuseError, OSError):
    """An operating-system I/O error, with ``errno``, ``strerror`` and ``filename``."""

class RemoteError(MuseError, OSError):
    """A remote could not be reached or answered with an error: ``url``, and
    ``status`` (the HTTP status; ``None`` when there was no answer)."""

    url: str
    status: Optional[int]

# ---------------------------------------------------------------- records and results

@final
class CommitRecord:
    """One commit (SPEC §3). ``commit_id=None`` computes it from the fields."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    commit_id: str
    branch: str
    snapshot_id: str
    message: str
    committed_at: datetime.datetime
    parent_commit_id: Optional[str]
    parent2_commit_id: Optional[str]
    author: str
    metadata: dict[str, str]
    structured_delta: Optional[dict[Any, Any]]
    sem_ver_bump: str
    breaking_changes: list[str]
    agent_id: str
    model_id: str
    toolchain_id: str
    prompt_hash: str
    signature: str
    signer_key_id: str
    def __new__(
        cls,
        commit_id: Optional[str] = None,
        branch: str = ...,
        snapshot_id: str = ...,
        message: str = ...,
        committed_at: datetime.datetime | str | None = None,
        parent_commit_id: Optional[str] = None,
        parent2_commit_id: Optional[str] = None,
        author: str = ...,
        metadata: Optional[dict[str, str]] = None,
        structured_delta: Optional[dict[Any, Any]] = None,
        sem_ver_bump: str = ...,
        breaking_changes: Optional[list[str]] = None,
        agent_id: str = ...,
        model_id: str = ...,
        toolchain_id: str = ...,
        prompt_hash: str = ...,
        signature: str = ...,
        signer_key_id: str = ...,
    ) -> CommitRecord: ...
    @property
    def committed_at_iso(self) -> str:
        """The commit time exactly as hashed."""
    @property
    def parent_ids(self) -> list[str]:
        """Parent IDs, first parent first."""
    @property
    def format_version(self) -> int:
        """The record format version."""
    def compute_id(self) -> str:
        """``hash_commit`` of the fields."""
    def verify(self) -> None:
        """Raise unless ``write_commit`` would accept the record."""
    def to_dict(self) -> dict[str, Any]:
        """msgpack-native dict (``committed_at`` as ISO string, unknown keys kept)."""
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CommitRecord:
        """The record of a :meth:`to_dict` dict."""
    def to_msgpack(self) -> bytes:
        """The record's msgpack bytes, as stored on disk."""
    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class SnapshotRecord:
    """One snapshot: ``snapshot_id`` and the full manifest (SPEC §3)."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    snapshot_id: str
    manifest: dict[str, str]
    created_at: datetime.datetime
    def __new__(
        cls,
        snapshot_id: Optional[str] = None,
        manifest: Optional[dict[str, str]] = None,
        created_at: Optional[datetime.datetime] = None,
    ) -> SnapshotRecord: ...
    def compute_id(self) -> str:
        """``hash_snapshot(manifest)``: what ``snapshot_id`` must equal."""
    def __eq__(self, other: object, /) -> bool: ...

# ---------------------------------------------------------------- store helpers

@final
class ShardCache:
    """Live view of the process-wide set of shard directories known to exist
    (``muse.core.object_store._created_object_shards``); not constructible."""

    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def add(self, item: _P) -> None:
        """Adds a shard path (as a hint that it exists)."""
    def discard(self, item: _P) -> None:
        """Removes a shard path if present."""
    def clear(self) -> None:
        """Forgets every shard."""

@final
class Batch:
    """Backend of :class:`muse.core.io.Batch`."""

    def __new__(cls, root: _P) -> Batch: ...
    @property
    def closed(self) -> bool:
        """True once committed or aborted."""
    def write_object(self, oid: str, content: bytes) -> bool: ...
    def write_commit(self, rec: CommitRecord) -> bool: ...
    def write_snapshot(self, rec: SnapshotRecord) -> bool: ...
    def write_branch_ref(self, branch: str, commit_id: str) -> None: ...
    def compare_and_swap_branch_ref(self, branch: str, expected: Optional[str], new: str) -> None: ...
    def commit(self) -> dict[str, int]: ...
    def abort(self) -> None: ...
    def __len__(self) -> int: ...

@final
class _StatCache:
    """Backend of :class:`muse.core.stat_cache.StatCache`."""

    @staticmethod
    def load(root: _P, max_bytes: int) -> tuple[_StatCache, str, str]: ...
    def entries(self) -> dict[str, dict[str, Any]]: ...
    def len(self) -> int: ...
    def is_dirty(self) -> bool: ...
    def set_dirty(self, dirty: bool) -> None: ...
    def get_object_hash(self, root: _P, path: _P) -> str: ...
    def get_cached(self, rel: str, abs_path: _P, mtime_ns: int, size: int, ino: int) -> str: ...
    def save(self) -> None: ...

created_object_shards: ShardCache

# ---------------------------------------------------------------- ids, types, paths

def blob_id(data: bytes) -> str: ...
def fake_id(label: str) -> str: ...
def split_id(id: str) -> tuple[str, str]: ...
def validate_id(id: str) -> None: ...
def hash_snapshot(manifest: dict[str, str]) -> str: ...
def hash_commit(parent_ids: list[str], snapshot_id: str, message: str, committed_at_iso: str, author: str = "") -> str: ...
def validate_rel_path(path: str) -> None: ...
def layout_path(kind: str, root: _P) -> Path: ...
def object_path(root: _P, oid: str) -> Path: ...
def commit_path(root: _P, cid: str) -> Path: ...
def snapshot_path(root: _P, sid: str) -> Path: ...

# ---------------------------------------------------------------- object_store

def write_object(root: _P, oid: str, content: bytes, durable: Optional[bool] = None) -> bool: ...
def read_object(root: _P, oid: str) -> bytes: ...
def has_object(root: _P, oid: str) -> bool: ...
def restore_object(root: _P, oid: str, dest: _P, executable: bool = False, durable: Optional[bool] = None) -> int: ...
def cleanup_stale_object_temps(root: _P, min_age_secs: Optional[float] = None) -> int: ...

# ---------------------------------------------------------------- commits, snapshots

def write_commit(root: _P, rec: CommitRecord, durable: Optional[bool] = None) -> bool: ...
def read_commit(root: _P, cid: str) -> Optional[CommitRecord]: ...
def get_all_commits(root: _P) -> list[CommitRecord]: ...
def list_commit_ids(root: _P) -> list[str]: ...
def get_commits_for_branch(root: _P, branch: str, max_count: int = 0) -> list[CommitRecord]: ...
def walk_commits_between(
    root: _P, tip: str, base: Optional[str] = None, max_commits: int = 10000
) -> tuple[list[CommitRecord], bool]: ...
def write_snapshot(root: _P, rec: SnapshotRecord, durable: Optional[bool] = None) -> bool: ...
def read_snapshot(root: _P, sid: str) -> Optional[SnapshotRecord]: ...

# ---------------------------------------------------------------- refs

def validate_branch_name(name: str) -> None: ...
def write_branch_ref(root: _P, branch: str, commit_id: str) -> None: ...
def read_branch_ref(root: _P, branch: str) -> Optional[str]: ...
def compare_and_swap_branch_ref(root: _P, branch: str, expected: Optional[str], new: str) -> None: ...
def delete_branch_ref(root: _P, branch: str, expected: Optional[str] = None) -> bool: ...
def list_branches(root: _P) -> list[tuple[str, str]]: ...
def read_head(root: _P) -> tuple[str, str]: ...
def write_head_branch(root: _P, branch: str) -> None: ...
def write_head_commit(root: _P, commit_id: str) -> None: ...
def write_head_detached(root: _P, commit_id: str) -> None: ...
def resolve_head(root: _P) -> Optional[str]: ...

# ---------------------------------------------------------------- repo, io, config, merge_engine

def find_repo(start: Optional[_P] = None) -> Path: ...
def require_repo(start: Optional[_P] = None) -> Path: ...
def startup_gc(root: _P) -> dict[str, int]: ...
def cleanup_muse_dir_temps(dot_muse: _P) -> int: ...
def init_repo(root: _P, default_branch: str = "main", owner: str = "") -> Path: ...
def write_text_atomic(path: _P, text: str, durable: Optional[bool] = None) -> None: ...
def read_config(root: _P) -> dict[str, Any]: ...
def find_merge_base(root: _P, a: str, b: str) -> Optional[str]: ...

# ---------------------------------------------------------------- snapshot (walk), import_git

def walk_workdir(root: _P, max_cache_bytes: int = ...) -> dict[str, str]: ...
def import_git(root: _P, git_dir: _P, chunk_commits: int = 5000) -> dict[str, float]: ...
def verify_git_import(root: _P, git_dir: _P) -> list[str]: ...

# ---------------------------------------------------------------- mpack

def build_mpack(root: _P, want: list[str], have: list[str] = ...) -> dict[str, Any]: ...
def encode_mpack(bundle: dict[str, Any]) -> bytes: ...
def decode_mpack(data: bytes) -> dict[str, Any]: ...
def apply_mpack(root: _P, bundle: dict[str, Any] | bytes) -> dict[str, Any]: ...

# ---------------------------------------------------------------- logging

def init_logging() -> None:
    """Bridge Rust log records to :mod:`logging`, under the ``muse`` logger."""

__all__ = [
    # constants
    "__version__", "MAX_MSGPACK_BYTES", "CLEANUP_MIN_AGE_SECS", "DEFAULT_MAX_ANCESTORS", "DEFAULT_WALK_CAP",
    "MUSE_TEMP_PREFIXES", "MUSE_SWEEP_DIRS", "TEMP_PREFIXES", "REPO_ROOT_ENV", "MPACK_FORMAT_VERSION",
    "MAX_CACHE_BYTES", "CACHE_VERSION",
    # exceptions
    "MuseError", "InvalidInputError", "InvalidIdError", "InvalidPathError", "InvalidRefNameError",
    "IntegrityError", "HashMismatchError", "CorruptRecordError", "RecordTooLargeError", "MissingDataError",
    "RefConflictError", "LockedError", "NotFoundError", "NotARepositoryError", "MuseCLIError", "MuseIOError",
    "RejectedError", "RemoteError",
    # records and results
    "CommitRecord", "SnapshotRecord",
    # store helpers
    "ShardCache", "Batch", "_StatCache", "created_object_shards",
    # ids, types, paths
    "blob_id", "fake_id", "split_id", "validate_id", "hash_snapshot", "hash_commit", "validate_rel_path",
    "layout_path", "object_path", "commit_path", "snapshot_path",
    # object_store
    "write_object", "read_object", "has_object", "restore_object", "cleanup_stale_object_temps",
    # commits, snapshots
    "write_commit", "read_commit", "get_all_commits", "list_commit_ids", "get_commits_for_branch",
    "walk_commits_between", "write_snapshot", "read_snapshot",
    # refs
    "validate_branch_name", "write_branch_ref", "read_branch_ref", "compare_and_swap_branch_ref",
    "delete_branch_ref", "list_branches", "read_head", "write_head_branch", "write_head_commit",
    "write_head_detached", "resolve_head",
    # repo, io, config, merge_engine
    "find_repo", "require_repo", "startup_gc", "cleanup_muse_dir_temps", "init_repo", "write_text_atomic",
    "read_config", "find_merge_base",
    # snapshot (walk), import_git
    "walk_workdir", "import_git", "verify_git_import",
    # mpack
    "build_mpack", "encode_mpack", "decode_mpack", "apply_mpack",
    # logging
    "init_logging",
]

# ---- Repository API (muse-py/src/repository.rs) ----
# ``muse.Repository`` (SPEC §11) and its result classes; re-exported by
# ``muse/__init__.py``. Their ``__module__`` is ``muse``.

from collections.abc import Sequence

@final
class Commit:
    """One commit: an immutable, hashable view (pygit2's ``Commit`` shape).
    ``.record`` is the full ``CommitRecord``. Not constructible."""

    @property
    def id(self) -> str:
        """The commit ID, ``"sha256:<64 hex>"``."""
    @property
    def message(self) -> str:
        """The commit message."""
    @property
    def author(self) -> str:
        """The author (``""`` when none was given)."""
    @property
    def parents(self) -> list[str]:
        """Parent commit IDs, first parent first (two for a merge)."""
    @property
    def snapshot_id(self) -> str:
        """The ID of the commit's snapshot."""
    @property
    def committed_at(self) -> datetime.datetime:
        """The commit time, timezone-aware."""
    @property
    def branch(self) -> str:
        """The branch the commit was made on."""
    @property
    def record(self) -> CommitRecord:
        """A copy of the whole stored record."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class StatusEntry:
    """One path of ``Repository.status()``; ``index`` / ``worktree`` are
    ``"added"``, ``"modified"``, ``"deleted"``, ``"untracked"`` or ``None``."""

    def __new__(cls, path: str, index: Optional[str] = None, worktree: Optional[str] = None) -> StatusEntry: ...
    @property
    def path(self) -> str:
        """The repository-relative POSIX path."""
    @property
    def index(self) -> Optional[str]:
        """The staged change (HEAD → stage), or ``None``."""
    @property
    def worktree(self) -> Optional[str]:
        """The unstaged change (stage → working tree) or ``"untracked"``, or ``None``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DiffEntry:
    """One changed path of ``Repository.diff()``: ``status`` is ``"added"``,
    ``"modified"`` or ``"deleted"``; blob IDs on each side (``None`` where absent);
    ``patch``, the file's unified diff. Equality, hash and repr leave the patch out."""

    def __new__(cls, path: str, status: str, old_id: Optional[str] = None, new_id: Optional[str] = None,
                patch: str = "") -> DiffEntry: ...
    @property
    def path(self) -> str:
        """The repository-relative POSIX path."""
    @property
    def status(self) -> str:
        """``"added"``, ``"modified"`` or ``"deleted"``."""
    @property
    def old_id(self) -> Optional[str]:
        """The blob ID on the old side (``None`` when added)."""
    @property
    def new_id(self) -> Optional[str]:
        """The blob ID on the new side (``None`` when deleted)."""
    @property
    def patch(self) -> str:
        """The unified diff of this file (git's format); ``""`` when constructed without one."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class MergeResult:
    """What ``Repository.merge()`` did. ``kind``: ``"up-to-date"``,
    ``"fast-forward"``, ``"merged"`` or ``"conflicts"``. Not constructible."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def kind(self) -> str:
        """``"up-to-date"``, ``"fast-forward"``, ``"merged"`` or ``"conflicts"``."""
    @property
    def conflicts(self) -> list[str]:
        """The conflicting paths, sorted (empty unless ``kind == "conflicts"``)."""
    @property
    def commit(self) -> Optional[Commit]:
        """The new HEAD commit after ``"fast-forward"`` / ``"merged"``, else ``None``."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class CommitIterator:
    """The iterator ``Repository.log()`` returns (``Commit`` objects, newest first)."""

    def __iter__(self) -> CommitIterator: ...
    def __next__(self) -> Commit: ...

@final
class Remote:
    """A configured remote: ``name`` and ``url`` (an ``http(s)://`` URL or an
    absolute path). A plain value: constructible, comparable, hashable."""

    def __new__(cls, name: str, url: str) -> Remote: ...
    @property
    def name(self) -> str:
        """The remote's name (``"origin"``)."""
    @property
    def url(self) -> str:
        """The remote's URL or absolute path."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RefUpdate:
    """One ref of a fetch (``"origin/main"``) or a push (``"main"``): ``old`` /
    ``new`` commit IDs (``None`` where absent) and ``change``: ``"new"``,
    ``"fast-forward"``, ``"forced"``, ``"up-to-date"`` or ``"deleted"``."""

    def __new__(cls, name: str, old: Optional[str], new: Optional[str], change: str) -> RefUpdate: ...
    @property
    def name(self) -> str:
        """The remote-tracking ref (fetch) or the remote branch (push)."""
    @property
    def old(self) -> Optional[str]:
        """The commit ID before, ``None`` when it did not exist."""
    @property
    def new(self) -> Optional[str]:
        """The commit ID after, ``None`` when it was deleted."""
    @property
    def change(self) -> str:
        """``"new"``, ``"fast-forward"``, ``"forced"``, ``"up-to-date"`` or ``"deleted"``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class FetchResult:
    """What ``Repository.fetch()`` did: every remote-tracking ref of the remote
    and the counts of what was newly stored. Not constructible."""

    @property
    def remote(self) -> str:
        """The remote's name."""
    @property
    def url(self) -> str:
        """The remote's URL or path."""
    @property
    def head(self) -> Optional[str]:
        """The branch the remote's HEAD names, ``None`` when detached."""
    @property
    def refs(self) -> list[RefUpdate]:
        """Every remote-tracking ref of the remote and how it changed."""
    @property
    def commits_written(self) -> int:
        """Commits received and newly stored."""
    @property
    def snapshots_written(self) -> int:
        """Snapshots received and newly stored."""
    @property
    def blobs_written(self) -> int:
        """Blobs received and newly stored."""

@final
class PushResult:
    """What ``Repository.push()`` did: the remote branches moved and the counts
    of what the remote newly stored. Not constructible."""

    @property
    def updates(self) -> list[RefUpdate]:
        """The remote branches moved (empty when all were already there)."""
    @property
    def commits_written(self) -> int:
        """Commit records newly stored on the remote."""
    @property
    def snapshots_written(self) -> int:
        """Snapshot records newly stored on the remote."""
    @property
    def blobs_written(self) -> int:
        """Blobs newly stored on the remote."""
    @property
    def blobs_skipped(self) -> int:
        """Blobs sent that the remote already had."""

@final
class PullResult:
    """What ``Repository.pull()`` did: the fetch, then the merge (``kind`` as
    ``MergeResult.kind``). Not constructible."""

    @property
    def kind(self) -> str:
        """``"up-to-date"``, ``"fast-forward"``, ``"merged"`` or ``"conflicts"``."""
    @property
    def commit(self) -> Optional[Commit]:
        """The new HEAD commit after ``"fast-forward"`` / ``"merged"``, else ``None``."""
    @property
    def conflicts(self) -> list[str]:
        """The conflicting paths, sorted (empty unless ``kind == "conflicts"``)."""
    @property
    def paths(self) -> list[str]:
        """The same list as ``conflicts``."""
    @property
    def fetch(self) -> FetchResult:
        """What the fetch before the merge did."""

@final
class Repository:
    """A muse repository (SPEC §11), shaped like pygit2's ``Repository``.
    ``Repository(path)`` opens; see :meth:`init` and :meth:`discover`."""

    def __new__(cls, path: _P) -> Repository: ...
    @staticmethod
    def init(path: _P, default_branch: str = "main", owner: str = "", *, bare: bool = False) -> Repository:
        """Create a repository at ``path`` and open it (``bare=True``: ``[core] bare``)."""
    @staticmethod
    def clone(url: _P, path: _P, branch: Optional[str] = None) -> Repository:
        """Clone ``url`` (an ``http(s)://`` URL or a path) into the new directory ``path``."""
    @staticmethod
    def discover(path: Optional[_P] = None) -> Repository:
        """Open the repository containing ``path`` (default: ``$MUSE_REPO_ROOT`` or the cwd)."""
    @property
    def path(self) -> Path:
        """The ``.muse`` directory."""
    @property
    def workdir(self) -> Path:
        """The working tree's root."""
    @property
    def head(self) -> Optional[Commit]:
        """HEAD's commit, ``None`` on an unborn branch."""
    @property
    def head_branch(self) -> Optional[str]:
        """The branch HEAD is on, ``None`` when detached."""
    @property
    def branches(self) -> list[str]:
        """Every branch name, sorted."""
    def create_branch(self, name: str, start: Optional[str] = None) -> str:
        """Create branch ``name`` at revision ``start`` (default HEAD); return its commit ID."""
    def delete_branch(self, name: str, force: bool = False) -> str:
        """Delete branch ``name``; return the commit ID it pointed at. An
        unmerged branch (HEAD does not contain it) needs ``force``."""
    def add(self, paths: str | Sequence[str]) -> None:
        """Stage the working tree's content for one pathspec or several."""
    def add_all(self) -> None:
        """Stage every change of the working tree."""
    def commit(self, message: str, author: str = "", *, all: bool = False, allow_empty: bool = False) -> Commit:
        """Record the stage on top of HEAD; return the new commit."""
    def status(self) -> list[StatusEntry]:
        """One entry per changed or untracked path, sorted by path."""
    def diff(self, a: Optional[str] = None, b: Optional[str] = None, *, context_lines: int = 3,
             cached: bool = False) -> list[DiffEntry]:
        """Changes from revision ``a`` (default HEAD) to ``b`` (default the working tree),
        each with its patch; ``cached=True``: ``a`` (default HEAD) against the index."""
    def checkout(self, rev: str, force: bool = False) -> None:
        """Switch to a branch, or detach HEAD at any other revision."""
    def merge(self, rev: str, author: str = "") -> MergeResult:
        """Merge ``rev`` into HEAD's branch."""
    def merge_abort(self) -> None:
        """Abandon the merge, cherry-pick or revert in progress."""
    def cherry_pick(self, rev: str) -> MergeResult:
        """Apply commit ``rev``'s change on top of HEAD as a new commit."""
    def revert(self, rev: str, author: str = "") -> MergeResult:
        """Undo commit ``rev``'s change on top of HEAD as a new commit."""
    def stash(self, message: Optional[str] = None) -> Optional[str]:
        """Put local changes aside; return the entry's commit ID (``None``: nothing to stash)."""
    def stash_list(self) -> list[tuple[int, str, str]]:
        """The stash entries, newest first: ``(index, commit_id, message)``."""
    def stash_apply(self, index: int = 0) -> MergeResult:
        """Re-apply a stash entry (kept)."""
    def stash_pop(self, index: int = 0) -> MergeResult:
        """Re-apply a stash entry and drop it unless it conflicted."""
    def stash_drop(self, index: int = 0) -> str:
        """Remove a stash entry; return its commit ID."""
    def pick_continue(self) -> Commit:
        """Conclude a cherry-pick or revert stopped on (resolved) conflicts."""
    @property
    def tags(self) -> list[tuple[str, str]]:
        """The tags, sorted, as ``(name, commit_id)``."""
    def create_tag(self, name: str, target: Optional[str] = None, force: bool = False) -> str:
        """Create tag ``name`` at ``target`` (default HEAD); return its commit ID."""
    def delete_tag(self, name: str) -> str:
        """Delete tag ``name``; return the commit ID it named."""
    def reset(self, rev: Optional[str] = None, mode: str = "mixed") -> str:
        """Move HEAD's branch to ``rev`` (``mode``: soft, mixed, hard)."""
    def restore(self, paths: Sequence[str], *, staged: bool = False, worktree: bool = False, source: Optional[str] = None) -> list[str]:
        """Restore ``paths`` in the stage and/or the working tree."""
    def remove(self, paths: Sequence[str], *, cached: bool = False, force: bool = False) -> list[str]:
        """Stop tracking ``paths`` (and delete them unless ``cached``)."""
    def move_path(self, source: str, destination: str) -> list[tuple[str, str]]:
        """Move a tracked file or directory; return ``[(old, new)]``."""
    def show(self, rev: str = "HEAD", context_lines: int = 3) -> tuple[Commit, list[DiffEntry]]:
        """Commit ``rev`` and its changes (with patches) against its first parent."""
    def log(self, rev: str = "HEAD", max_count: Optional[int] = None, *, first_parent: bool = False, paths: Optional[Sequence[str]] = None) -> CommitIterator:
        """The commits reachable from ``rev``, newest first."""
    def revparse(self, spec: str) -> str:
        """Resolve a revision (``HEAD~1``, a branch, a hex prefix, …) to a commit ID."""
    def read_object(self, id: str) -> bytes:
        """The bytes of stored blob ``id``."""
    def write_object(self, data: bytes) -> str:
        """Store ``data`` as a blob; return its ID."""
    def build_mpack(self, want: Sequence[str], have: Sequence[str] = ...) -> dict[str, Any]:
        """The MPack bundle of what ``want`` reaches and ``have`` does not."""
    def apply_mpack(self, mpack: dict[str, Any] | bytes) -> dict[str, Any]:
        """Verify and store a bundle; return the counts. Moves no branch."""
    def create_bundle(self, path: _P, want: Sequence[str], have: Sequence[str] = ...) -> dict[str, Any]:
        """Write a bundle file (streaming format) of what ``want`` reaches and ``have`` does not."""
    def apply_bundle(self, path: _P) -> dict[str, Any]:
        """Verify and store the bundle file at ``path``; move no branch."""
    def verify_bundle(self, path: _P) -> dict[str, Any]:
        """Verify the bundle file at ``path`` without storing anything."""
    @property
    def remotes(self) -> list[Remote]:
        """The configured remotes, sorted by name."""
    def add_remote(self, name: str, url: _P) -> Remote:
        """Add remote ``name`` with ``url``; return it as stored (a path made absolute)."""
    def remove_remote(self, name: str) -> None:
        """Remove remote ``name`` and its remote-tracking refs."""
    def fetch(self, remote: str = "origin", prune: bool = False) -> FetchResult:
        """Fetch from ``remote``: store what is missing, update ``<remote>/<branch>``."""
    def push(self, remote: str = "origin", branches: Optional[str | Sequence[str]] = None,
             force: bool = False) -> PushResult:
        """Push ``branches`` (default HEAD's branch) to ``remote``, all or none."""
    def pull(self, remote: str = "origin", branch: Optional[str] = None, author: str = "") -> PullResult:
        """Fetch from ``remote``, then merge ``<remote>/<branch>`` into HEAD's branch."""

__all__ += ["Repository", "Commit", "StatusEntry", "DiffEntry", "MergeResult", "CommitIterator",
            "Remote", "RefUpdate", "FetchResult", "PushResult", "PullResult"]
# ---- end of Repository API ----
