"""Frames of up to 1 MiB come and go by the thousand; their memory must go back to the system.

glibc serves a large allocation from its heap once a freed mmap chunk of that size has raised
its dynamic mmap threshold, and a heap fragmented by 1 MiB frames is kept by the process: a
burst (a stalled reader, a flood) would leave the Relay's RSS high for good. Fixing the
threshold at 256 KiB keeps every large frame in its own mapping, unmapped when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_LOGGER = logging.getLogger(__name__)
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 256 * 1024


def return_large_buffers_to_os() -> bool:
    """Serve allocations over 256 KiB from their own mappings (glibc only; False elsewhere)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): their allocators return big blocks already
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not ok:
        _LOGGER.info("mallopt refused the mmap threshold; large frames use the heap")
    return ok
