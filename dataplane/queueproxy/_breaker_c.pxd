# The C-level contract of ``dataplane.queueproxy._breaker_c``, compiled from the pure
# twin itself (``_breaker_c.py`` is a link to ``dataplane/queueproxy/_breaker_py.py``):
# Cython reads this file beside the .py and gives the class below C storage and
# C calls. Behaviour lives in the .py only; change the two in step.

cdef class Breaker:
    # counts compared on every acquire/release: C integers, not Python ints
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _queue_depth
    cdef Py_ssize_t _in_flight
    # id(waiter) -> waiter.admitted (an OrderedDict, see the .py)
    cdef object _waiters

    # called from release() and set_capacity() only: a C call, not a method lookup
    cdef _admit_waiters(self)
