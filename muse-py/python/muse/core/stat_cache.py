"""The stat cache (SPEC §5): ``.muse/cache/stat_cache.json``, JSON version 3."""

from __future__ import annotations

#: Largest stat-cache file loaded, in bytes; a larger one is discarded (with a
#: CRITICAL log record on this module's logger). Read at call time.
MAX_CACHE_BYTES: int = 256 * 1024 * 1024
