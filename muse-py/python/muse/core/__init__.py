"""The muse engine's Python API: one module per concept (see :mod:`muse`)."""
