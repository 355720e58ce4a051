"""The muse engine's Python API: one module per concept (see :mod:`muse`).

Importing this package bridges the engine's Rust log records (warnings such
as "removed stale temp file …") to Python :mod:`logging`, all under the
``muse`` logger: a record of the Rust module ``muse_core::repo`` goes to
``muse.core.repo``, one of ``muse_core::stat_cache`` to
``muse.core.stat_cache``, so ``logging.getLogger("muse")`` controls them
all. The level a logger has when it first gets a record is cached on the
Rust side (pyo3-log): raising it later is honoured, but lowering it (say to
``DEBUG``) must be done before the engine logs on it.
"""

from muse import _native as _n

_n.init_logging()
