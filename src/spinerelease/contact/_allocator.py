"""Keep the C allocator from returning FFT work arrays to the operating system after every transform.

The contact solver allocates and frees a few arrays of 1-40 MB per operator application (the FFT outputs).
With glibc's default thresholds such arrays are obtained with ``mmap`` and unmapped again when freed, so every
application pays fresh page faults on memory the kernel zeroes first: on the 2-core CI machine a double-precision
zero-padded FFT of a 256 x 256 block took 6-7 ms instead of 1.1-1.4 ms (``benchmarks/contact.py``). Raising the
``mmap`` threshold (``mallopt(M_MMAP_THRESHOLD)``) and the trim threshold keeps these blocks on the heap, where
they are reused. Only glibc is affected; elsewhere, or with ``SPINERELEASE_MALLOC_TUNING=0`` in the environment,
nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: Allocations up to this size come from the heap instead of ``mmap``. [bytes]
MMAP_THRESHOLD_BYTES = 64 << 20
#: Free memory at the top of the heap kept for reuse instead of being returned to the system. [bytes]
TRIM_THRESHOLD_BYTES = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_done = False


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; returns whether they were set."""
    global _done
    if _done:
        return True
    _done = True
    if not sys.platform.startswith("linux") or os.environ.get("SPINERELEASE_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname; find_library would spawn ldconfig
    except OSError:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "")
        except OSError:
            return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # not glibc (e.g. musl)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
