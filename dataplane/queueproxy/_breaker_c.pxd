# The C-level contract of ``dataplane.queueproxy._breaker_c``, compiled from the pure
# twin ``_breaker_py.py`` itself: Cython reads this file when ``setup.py`` compiles
# that .py and gives the class below C storage and C calls. Behaviour lives in the
# .py only; a new attribute or helper there needs its line here.
# loadtests/bench_twins.py: as fast as the hand-written .pyx it replaced
# (acquire+release 0.97x, queued hand-off 1.01x, reject 0.93x of its CPU time).

cdef class Breaker:
    # counts compared on every acquire/release: C integers, not Python ints
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _queue_depth
    cdef Py_ssize_t _in_flight
    # id(waiter) -> waiter.admitted (an OrderedDict, see the .py)
    cdef object _waiters

    # called from release() and set_capacity() only: a C call, not a method lookup
    cdef _admit_waiters(self)
