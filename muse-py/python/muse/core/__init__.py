"""The muse engine's Python API: one module per concept (see :mod:`muse`).

Importing this package bridges the engine's Rust log records (warnings such
as "removed stale temp file …") to Python :mod:`logging`, under logger
names that follow the Rust module paths (``muse_core.repo`` …).
"""

from muse import _native as _n

_n.init_logging()
