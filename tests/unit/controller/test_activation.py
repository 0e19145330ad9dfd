"""The SKS rules: who takes a revision's traffic, and when its last pod may go."""

from __future__ import annotations

import pytest

from dataplane.controller.activation import PROXY, SERVE, replicas_now, through_activator


@pytest.mark.parametrize(
    ("mode", "ready", "expected"),
    [(SERVE, 2, False), (SERVE, 0, True), (PROXY, 3, True), (PROXY, 0, True), ("", 1, True)],
)
def test_pods_serve_directly_only_in_serve_mode_once_one_is_ready(mode, ready, expected):
    assert through_activator(mode, ready) is expected


@pytest.mark.parametrize(
    ("desired", "current", "confirmed", "expected"),
    [
        (0, 3, False, 1),  # down, but the last pod stays until the activator is in the path
        (0, 1, False, 1),
        (0, 1, True, 0),
        (0, 0, False, 0),  # nothing to keep
        (2, 5, False, 2),  # scaling down to pods, not to zero: no wait
        (4, 0, False, 4),  # coming back never waits
    ],
)
def test_the_last_pod_goes_only_once_the_activator_is_confirmed(desired, current, confirmed, expected):
    assert replicas_now(desired, current, confirmed) == expected
