"""Memory handed back to the system between the heavy steps of a build (MS MARCO's 40M teacher pairs)."""

from __future__ import annotations


def release_memory() -> None:
    """Hand freed memory back to the system: Arrow's pool and the C allocator keep what was freed for reuse, which
    a process that goes on to open a docs store or load a model would count twice."""
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
