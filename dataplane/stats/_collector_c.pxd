# The C-level contract of ``dataplane.stats._collector_c``, compiled from the pure
# twin ``_collector_py.py`` itself: Cython reads this file when ``setup.py``
# compiles that .py and gives the class below C storage and C calls. Behaviour
# lives in the .py only. loadtests/bench_twins.py: request_in+request_out at
# 1.00-1.01x the CPU time of the hand-written .pyx it replaced.

# Replaces, in calls only, the ``monotonic`` the .py imports from ``time``: the
# same clock without a Python call (see ext/stats/_clock.pyx). ``clock is
# monotonic`` still compares with time.monotonic.
from dataplane.stats._clock cimport monotonic


cdef class Collector:
    cdef object _clock
    # the clock is time.monotonic: _now() reads it from C
    cdef bint _native_clock
    # seconds and areas in C doubles, counts in C integers: every event is
    # a few C additions
    cdef double _window_start
    cdef long long _concurrency
    cdef long long _proxied_concurrency
    cdef double _area
    cdef double _proxied_area
    cdef long long _requests
    cdef long long _proxied_requests

    cdef double _now(self) except? -1.0
