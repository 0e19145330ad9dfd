"""Container logs in the kubelet's CRI format: written with times, read back, selected by time and tail."""

from __future__ import annotations

import asyncio
import sys

from dataplane.platform.local.podlogs import (
    MAX_LINE,
    LogReader,
    LogWriter,
    normal_time,
    previous_path,
    render,
    rotate,
    select,
    spawn_logged,
    valid_time,
)

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def test_lines_are_written_with_their_time_and_stream(tmp_path):
    clock = Clock()
    writer = LogWriter(tmp_path / "c.log", clock)
    writer.write("stdout", b"one\ntw")
    clock.now += 1_500_000_000
    writer.write("stderr", b"oops\n")
    writer.write("stdout", b"o\nthree")
    writer.close()
    assert (tmp_path / "c.log").read_text().splitlines() == [
        "2023-11-14T22:13:20.000000000Z stdout F one",
        "2023-11-14T22:13:21.500000000Z stderr F oops",
        "2023-11-14T22:13:21.500000000Z stdout F two",
        "2023-11-14T22:13:21.500000000Z stdout F three",  # the unfinished line, written at the end
    ]


def test_a_long_line_is_split_into_partials_and_joined_again(tmp_path):
    writer = LogWriter(tmp_path / "c.log", Clock())
    writer.write("stdout", b"x" * (MAX_LINE * 2 + 5) + b"\n")
    writer.close()
    raw = (tmp_path / "c.log").read_bytes()
    assert [line.split(b" ")[2] for line in raw.splitlines()] == [b"P", b"P", b"F"]
    assert LogReader().feed(raw)[0].text == b"x" * (MAX_LINE * 2 + 5) + b"\n"


def test_reading_in_pieces_and_plain_lines():
    reader = LogReader()
    data = b"old plain line\n2023-11-14T22:13:20.000000000Z stdout F a\n2023-11-14T22:13:21.000000000Z stdout F b\n"
    first = reader.feed(data[:30])
    rest = reader.feed(data[30:])
    entries = first + rest
    assert [(e.time, e.text) for e in entries] == [
        (None, b"old plain line\n"),
        ("2023-11-14T22:13:20.000000000Z", b"a\n"),
        ("2023-11-14T22:13:21.000000000Z", b"b\n"),
    ]
    assert render(entries, timestamps=True) == (b"old plain line\n2023-11-14T22:13:20.000000000Z a\n"
                                                b"2023-11-14T22:13:21.000000000Z b\n")
    assert render(select(entries, since=normal_time("2023-11-14T22:13:20.5Z")), False) == b"old plain line\nb\n"
    assert render(select(entries, tail=1), False) == b"b\n"
    assert select(entries, tail=0) == []


def test_times():
    assert normal_time("2023-11-14T23:13:20+01:00") == "2023-11-14T22:13:20.000000000Z"
    assert valid_time("2023-11-14T22:13:20Z") and not valid_time("yesterday") and not valid_time("2023-11-14T22:13:20")


def test_rotation_keeps_one_previous_run(tmp_path):
    log = tmp_path / "user-container.log"
    rotate(log)  # nothing yet: nothing to keep
    assert not previous_path(log).exists()
    log.write_text("first run\n")
    rotate(log)
    log.write_text("second run\n")
    rotate(log)
    assert previous_path(log).read_text() == "second run\n" and not log.exists()
    assert previous_path(log).name == "user-container.previous.log"


async def test_a_real_process_logs_both_streams_with_times(tmp_path):
    log = tmp_path / "app.log"
    code = "import sys; print('out', flush=True); print('err', file=sys.stderr, flush=True); sys.stdout.write('tail')"
    proc = await spawn_logged([sys.executable, "-c", code], {}, str(tmp_path), log)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    for _ in range(100):  # the pipes may close just after the exit is seen
        if log.read_bytes().endswith(b"tail\n"):
            break
        await asyncio.sleep(0.01)
    lines = log.read_text().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in lines) == ["stderr F err", "stdout F out", "stdout F tail"]
    assert all(valid_time(line.split(" ")[0]) for line in lines)
