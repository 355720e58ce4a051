"""muse: a content-addressed version-control engine.

The engine is written in Rust (``muse-core``); this package is a thin layer
over its one native extension, :mod:`muse._native`. The public API lives in
the modules of :mod:`muse.core`:

==========================  ==================================================
module                      concept
==========================  ==================================================
``muse.core.ids``           content IDs: ``hash_commit``, ``hash_snapshot``
``muse.core.types``         ``blob_id``, ``fake_id``, ``split_id``
``muse.core.paths``         the repository layout (``.muse/…``)
``muse.core.object_store``  blobs: ``write_object``, ``read_object``, …
``muse.core.commits``       ``CommitRecord``, the commit store, history walks
``muse.core.snapshots``     ``SnapshotRecord``, the snapshot store
``muse.core.refs``          branches, HEAD, compare-and-swap
``muse.core.repo``          discovery, ``init_repo``, the startup GC
``muse.core.io``            ``write_text_atomic``, write batches
``muse.core.merge_engine``  ``find_merge_base``
``muse.core.snapshot``      the working-tree walk: ``build_snapshot_manifest``
``muse.core.stat_cache``    the stat cache behind the walk
``muse.core.mpack``         bundles: ``build_mpack``, ``apply_mpack``
``muse.core.import_git``    ``import_git`` from a git repository
``muse.core.errors``        the exception hierarchy
==========================  ==================================================

:class:`Repository` (SPEC §11) is the handle shaped like pygit2's: ``init``,
``discover``, ``add``, ``status``, ``commit``, ``checkout``, ``diff``,
``merge``, ``log``, ``revparse``, with the result classes :class:`Commit`,
:class:`StatusEntry`, :class:`DiffEntry` and :class:`MergeResult`; and for
remotes (SPEC §13) ``clone``, ``remotes``, ``add_remote``, ``remove_remote``,
``fetch``, ``push``, ``pull``, with :class:`Remote`, :class:`RefUpdate`,
:class:`FetchResult`, :class:`PushResult` and :class:`PullResult`.

Every call that touches the filesystem releases the GIL.
"""

from muse._native import __version__
from muse._native import Commit, DiffEntry, MergeResult, Repository, StatusEntry  # muse-py/src/repository.rs
from muse._native import FetchResult, PullResult, PushResult, RefUpdate, Remote  # muse-py/src/repository.rs

__all__ = [
    "__version__", "Repository", "Commit", "StatusEntry", "DiffEntry", "MergeResult",
    "Remote", "RefUpdate", "FetchResult", "PushResult", "PullResult",
]
