"""Give the C heap's free pages back to the operating system.

Python frees what a burst of imports or requests allocated, but glibc keeps the
freed pages of its heap unless they sit at its very top. ``malloc_trim(0)``
returns every whole free page; a sidecar that calls it once it is serving, and
again when traffic stops, stays smaller for the rest of its idle life. Elsewhere
(musl, other systems) there is no such call and nothing is done.
"""

from __future__ import annotations


def release_memory() -> bool:
    """True when glibc handed pages back; False when it had none to give or has no such call."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):
        return False
    return trim(0) == 1
