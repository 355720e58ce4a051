"""Packaging of the Python layer: where Rust log records land, the exception
classes made by the native module, and the type stubs (``mypy.stubtest``)."""

from __future__ import annotations

import importlib.util
import logging
import os
import pathlib
import pickle
import subprocess
import sys

import pytest

import muse.core  # noqa: F401  (installs the log bridge)
from muse import _native
from muse.core import errors
from muse.core.ids import validate_id
from muse.core.object_store import write_object
from muse.core.repo import _cleanup_muse_dir_temps
from muse.core.types import blob_id

REPO = pathlib.Path(__file__).resolve().parents[2]
ALLOWLIST = REPO / "muse-py" / "stubtest-allowlist.txt"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_rust_log_records_land_under_the_muse_logger(tmp_path: pathlib.Path) -> None:
    # A stale `.muse-tmp-*` makes the core's sweep (muse_core::repo) log a
    # WARNING; it must reach a handler on logging.getLogger("muse").
    dot_muse = tmp_path / ".muse"
    dot_muse.mkdir()
    (dot_muse / ".muse-tmp-stale").write_text("left by a killed writer")
    handler = _Collect()
    muse_logger = logging.getLogger("muse")
    muse_logger.addHandler(handler)
    try:
        assert _cleanup_muse_dir_temps(dot_muse) == 1
    finally:
        muse_logger.removeHandler(handler)
    swept = [r for r in handler.records if "stale temp file" in r.getMessage()]
    assert swept, [r.name for r in handler.records]
    # The sweep is logged by the module that does it (`muse_core::object_store`),
    # renamed into the `muse` hierarchy.
    assert swept[0].name == "muse.core.object_store"
    assert swept[0].levelno == logging.WARNING
    assert not any(r.name.startswith("muse_core") for r in handler.records)


def test_stat_cache_size_guard_is_on_muse_core_stat_cache(tmp_path: pathlib.Path) -> None:
    # SPEC §5: the size guard logs CRITICAL on `muse.core.stat_cache`.
    from muse.core.stat_cache import StatCache

    dot_muse = tmp_path / ".muse"
    (dot_muse / "cache").mkdir(parents=True)
    f = tmp_path / "a.txt"
    f.write_text("a" * 100)
    cache = StatCache.load(dot_muse)
    cache.get_object_hash(tmp_path, f)
    cache.save()
    handler = _Collect()
    logging.getLogger("muse").addHandler(handler)
    try:
        import unittest.mock

        with unittest.mock.patch("muse.core.stat_cache.MAX_CACHE_BYTES", 1):
            assert len(StatCache.load(dot_muse)) == 0
    finally:
        logging.getLogger("muse").removeHandler(handler)
    assert any(r.name == "muse.core.stat_cache" and r.levelno >= logging.CRITICAL for r in handler.records)


#: Each class and the built-in it must also be (besides MuseError).
_BUILTIN_BASE: dict[str, type[BaseException]] = {
    "MuseError": Exception,
    "InvalidInputError": ValueError,
    "InvalidIdError": ValueError,
    "InvalidPathError": ValueError,
    "InvalidRefNameError": ValueError,
    "IntegrityError": ValueError,
    "HashMismatchError": ValueError,
    "CorruptRecordError": ValueError,
    "RecordTooLargeError": ValueError,
    "MissingDataError": ValueError,
    "RefConflictError": Exception,
    "LockedError": Exception,
    "NotFoundError": LookupError,
    "NotARepositoryError": Exception,
    "MuseCLIError": Exception,
    "MuseIOError": OSError,
    "RejectedError": Exception,
    "RemoteError": OSError,
}


def test_exception_classes_are_the_native_ones() -> None:
    assert sorted(errors.__all__) == sorted(_BUILTIN_BASE)
    for name, builtin in _BUILTIN_BASE.items():
        cls = getattr(errors, name)
        assert cls is getattr(_native, name), name
        assert cls.__module__ == "muse.core.errors", name
        assert cls.__qualname__ == name
        assert cls.__doc__, name
        assert issubclass(cls, errors.MuseError), name
        assert issubclass(cls, builtin), name
    assert issubclass(errors.MissingDataError, errors.IntegrityError)
    for sub in ("InvalidIdError", "InvalidPathError", "InvalidRefNameError"):
        assert getattr(errors, sub).__bases__ == (errors.InvalidInputError,)
    for sub in ("HashMismatchError", "CorruptRecordError", "RecordTooLargeError", "MissingDataError"):
        assert getattr(errors, sub).__bases__ == (errors.IntegrityError,)
    assert errors.MuseIOError.__bases__ == (errors.MuseError, OSError)
    assert errors.RemoteError.__bases__ == (errors.MuseError, OSError)
    assert errors.RejectedError.__bases__ == (errors.MuseError,)
    assert not issubclass(errors.MuseCLIError, ValueError)


def test_engine_errors_raise_the_native_classes_and_pickle(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.InvalidIdError) as ei:
        validate_id("nope")
    assert type(ei.value) is _native.InvalidIdError
    back = pickle.loads(pickle.dumps(ei.value))
    assert type(back) is errors.InvalidIdError and back.args == ei.value.args

    # A repository whose object directory is a file: the OS refuses the write.
    (tmp_path / ".muse").mkdir()
    (tmp_path / ".muse" / "objects").write_text("not a directory")
    with pytest.raises(OSError) as oi:
        write_object(tmp_path, blob_id(b"x"), b"x")
    e = oi.value
    assert isinstance(e, errors.MuseIOError) and isinstance(e, errors.MuseError)
    assert e.errno and e.filename
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is errors.MuseIOError
    assert (back.errno, back.strerror, back.filename) == (e.errno, e.strerror, e.filename)


def test_stubtest_passes(tmp_path: pathlib.Path) -> None:
    """``mypy.stubtest muse`` finds the stubs and the runtime in agreement."""
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI"):
            pytest.fail("mypy is not installed (scripts/install.sh installs it)")
        pytest.skip("mypy is not installed")
    cmd = [sys.executable, "-m", "mypy.stubtest", "muse"]
    if ALLOWLIST.exists():
        cmd += ["--allowlist", str(ALLOWLIST)]
    # Run outside the checkout: stubtest checks the installed package.
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
