# C-level contract of ``dataplane.stats._clock`` (ext/stats/_clock.pyx), for cimport.

cpdef double monotonic() noexcept
