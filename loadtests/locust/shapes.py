"""Load shapes as plain functions of time, so they can be checked without importing locust."""

from __future__ import annotations

import math

RAMP_UP, HOLD, RAMP_DOWN = 0.4, 0.2, 0.2
"""Shares of the run: rising, holding the peak, falling; the rest is idle (scale to zero shows there)."""


def ramp_users(elapsed_s: float, duration_s: float, peak: int) -> int | None:
    """Users wanted ``elapsed_s`` into a ramp of ``duration_s``: 1 → ``peak`` → 0, then idle; None when over."""
    if elapsed_s >= duration_s or duration_s <= 0:
        return None
    peak = max(peak, 1)
    share = elapsed_s / duration_s
    if share < RAMP_UP:
        return 1 + math.floor((peak - 1) * share / RAMP_UP)
    if share < RAMP_UP + HOLD:
        return peak
    if share < RAMP_UP + HOLD + RAMP_DOWN:
        left = (RAMP_UP + HOLD + RAMP_DOWN - share) / RAMP_DOWN
        return math.ceil(peak * left)
    return 0


def burst_over(elapsed_s: float, burst_s: float) -> bool:
    """Whether a user that started ``elapsed_s`` ago has finished its burst (``burst_s`` <= 0: one request only)."""
    return elapsed_s >= burst_s
