"""Go durations: one parser for ConfigMaps and annotations, exact and with Go's int64 range."""

from __future__ import annotations

import pytest

from dataplane.api.durations import format_seconds, parse_duration_ns, parse_duration_seconds


@pytest.mark.parametrize("text, ns", [
    ("0", 0),
    ("6s", 6_000_000_000),
    ("1h30m", 5_400_000_000_000),
    ("1.5h", 5_400_000_000_000),
    ("300ms", 300_000_000),
    (".5s", 500_000_000),
    ("-2m", -120_000_000_000),
    ("1us", 1_000),
    ("1µs", 1_000),
])
def test_go_durations(text, ns):
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["", "5", "1d", "s", "1h 30m", "+", ".s", "1_0s"])
def test_malformed_go_durations(text):
    with pytest.raises(ValueError):
        parse_duration_ns(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60s", 60.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("1h2m3.5s", 3723.5),
        ("300ms", 0.3),
        ("0", 0.0),
        ("0s", 0.0),
        ("-1s", -1.0),
        ("+2m", 120.0),
        (".5s", 0.5),
        ("5.s", 5.0),
        ("1500us", 0.0015),
        ("1500µs", 0.0015),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "60", "1x", "s", ".s", " 1s", "1s ", "1 s", "-", "1s2", "9999999999h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_ns(text)


def test_parse_duration_is_exact_to_the_nanosecond() -> None:
    assert parse_duration_ns("1.000000001s") == 1_000_000_001
    assert parse_duration_ns("0.1s") == 100_000_000


@pytest.mark.parametrize(("seconds", "text"), [(6, "6s"), (3600, "1h"), (90, "1m30s"), (0, "0s"), (0.5, "0.5s")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


INT64_MAX = 2**63 - 1


# Where the two parsers this one replaced gave different answers; Go's time.ParseDuration decides.
@pytest.mark.parametrize("text, ns", [
    ("9223372036854775807ns", INT64_MAX),
    ("9223372036854775808ns", None),  # one past int64: Go says "invalid duration"
    ("2562047h47m16.854775807s", INT64_MAX),
    ("2562047h47m16.854775808s", None),
    ("-9223372036854775808ns", -INT64_MAX - 1),  # the most negative int64 is a valid Duration
    ("-9223372036854775809ns", None),
    ("-9223372036854775807ns1ns", -INT64_MAX - 1),
    ("99999999999999999999ns", None),
    ("0.5ns0.5ns", 0),  # each term's sub-nanosecond part is dropped, not summed
    ("1.9ns", 1),
    ("\u0661s", None),  # Arabic-Indic digit one: Go takes ASCII digits only
    ("1\uff53", None),  # a full-width unit is an unknown unit
])
def test_the_one_answer_where_the_old_parsers_disagreed(text, ns):
    if ns is None:
        with pytest.raises(ValueError):
            parse_duration_ns(text)
    else:
        assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text, message", [
    ("5", "missing unit"),
    ("1d", "unknown unit 'd'"),
    ("1sec", "unknown unit 'sec'"),
    ("9223372036854775808ns", "out of range"),
])
def test_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration_ns(text)


def test_only_strings_are_durations():
    with pytest.raises(ValueError, match="must be a string"):
        parse_duration_ns(60)
