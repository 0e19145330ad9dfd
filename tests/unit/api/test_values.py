"""RFC 3339 timestamps and DNS name checks."""

from datetime import datetime, timezone

import pytest

from dataplane.api.checks import dns1035_label_problem, dns1123_subdomain_problem
from dataplane.api.timestamps import format_timestamp, parse_timestamp


def test_timestamps_round_trip_at_second_precision():
    when = datetime(2024, 5, 1, 12, 0, 7, 900_000, tzinfo=timezone.utc)
    assert format_timestamp(when) == "2024-05-01T12:00:07Z"
    assert format_timestamp(when.timestamp()) == "2024-05-01T12:00:07Z"
    assert parse_timestamp("2024-05-01T12:00:07Z") == when.replace(microsecond=0)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("2024-05-01T12:00:07") is None  # no zone: ambiguous
    with pytest.raises(ValueError):
        format_timestamp(datetime(2024, 5, 1))


@pytest.mark.parametrize("name, ok", [
    ("hello", True), ("a", True), ("a-1", True), ("a" * 63, True),
    ("a" * 64, False), ("1abc", False), ("Hello", False), ("a_b", False), ("abc-", False), ("", False),
])
def test_dns1035_labels(name, ok):
    assert (dns1035_label_problem(name) is None) is ok


def test_dns1123_subdomains():
    assert dns1123_subdomain_problem("example.com") is None
    assert dns1123_subdomain_problem("1.example.com") is None
    assert dns1123_subdomain_problem("example..com") is not None
    assert dns1123_subdomain_problem("Example.com") is not None
