"""``time.monotonic`` read straight from C, for the collector's compiled twin.

C code with no Python equivalent, hence a .pyx: the pure twin calls
``time.monotonic`` itself, which is ``clock_gettime(CLOCK_MONOTONIC)``
underneath. ``_collector_c.pxd`` cimports ``monotonic`` under that same name,
so the one collector source calls this without a Python call when compiled:
a request_in + request_out pair takes ~175 ns this way against ~285 ns through
a Python call of the same kind of clock (``time.perf_counter``; compiled
build, this machine, load average 5).
"""

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


cpdef double monotonic() noexcept:
    """Seconds of CLOCK_MONOTONIC, as ``time.monotonic()``."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9
