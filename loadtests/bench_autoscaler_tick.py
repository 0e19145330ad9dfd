"""CPU cost of one autoscaler decision tick over 10,000 revisions.

Builds N revisions whose stable (60 s) and panic (6 s) windows are full of
scraped data (every tenth revision also gets activator pushes), then times
whole ticks: one ``RevisionAutoscaler.tick`` per revision. Between timed ticks
the clock moves on by the tick interval and that interval's stats are
recorded (untimed), so every tick sees fresh, full windows.

Cases are interleaved tick by tick: linear and weighted-exponential
aggregation, plus a baseline loop that only reads each revision's last
decision, to show how much of a tick is the bare Python loop. CPU time comes
from ``time.process_time``; medians are reported.

    python loadtests/bench_autoscaler_tick.py [--revisions 10000] [--ticks 9]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core import RevisionAutoscaler, resolve_spec
from dataplane.autoscaler.core.decider import TICK_INTERVAL
from dataplane.stats.wire import Stat

TARGET_MS = 100.0
START = 1_000_000.0


def pin_cpu() -> str:
    """Pin to the last CPU to steady the numbers; report which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


class Case:
    """N revisions sharing one aggregation algorithm, with their loads and ready pods."""

    def __init__(self, name: str, revisions: int, aggregation: str) -> None:
        self.name = name
        config = AutoscalerConfig()
        spec = resolve_spec({"autoscaling.knative.dev/metric-aggregation-algorithm": aggregation}, config)
        self.autoscalers = [RevisionAutoscaler(spec, START) for _ in range(revisions)]
        # Loads from idle to ~70 pods; ready pods as the decider would have them.
        self.loads = [float((i * 37) % 5000) for i in range(revisions)]
        self.ready = [max(1, math.ceil(load / spec.target_value)) for load in self.loads]
        self.scraped = [Stat(average_concurrent_requests=load, request_count=load * 10) for load in self.loads]
        self.pushed = Stat(pod_name="activator", average_concurrent_requests=1.0, request_count=5.0)
        self.records = 0
        self.record_seconds = 0.0

    def record(self, first: int, last: int) -> None:
        """Record every second in [first, last] for every revision (timed separately)."""
        pushed = self.pushed
        began = time.process_time()
        for second in range(first, last + 1):
            now = START + second + 0.25
            for index, autoscaler in enumerate(self.autoscalers):
                autoscaler.record_scraped(self.scraped[index], now)
                if index % 10 == 0:
                    autoscaler.record_pushed(pushed, now)
        self.record_seconds += time.process_time() - began
        self.records += (last - first + 1) * (len(self.autoscalers) + len(self.autoscalers) // 10)

    def tick(self, now: float) -> float:
        """One decision tick over every revision; CPU seconds."""
        autoscalers = self.autoscalers
        ready = self.ready
        began = time.process_time()
        for index in range(len(autoscalers)):
            autoscalers[index].tick(now, ready[index])
        return time.process_time() - began

    def baseline(self) -> float:
        """The same loop reading only the last decision; CPU seconds."""
        autoscalers = self.autoscalers
        ready = self.ready
        began = time.process_time()
        seen = 0
        for index in range(len(autoscalers)):
            seen += autoscalers[index].desired + ready[index]
        return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=9)
    args = parser.parse_args()

    pinned = pin_cpu()
    cases = [Case("linear", args.revisions, "linear"), Case("weighted-exponential", args.revisions, "weighted-exponential")]
    window = 60
    for case in cases:
        case.record(0, window - 1)

    step = int(TICK_INTERVAL)
    timings: dict[str, list[float]] = {case.name: [] for case in cases}
    timings["baseline loop"] = []
    second = window - 1
    for _ in range(args.ticks):
        for case in cases:
            case.record(second + 1, second + step)
        second += step
        now = START + second + 0.5
        for case in cases:
            timings[case.name].append(case.tick(now))
        timings["baseline loop"].append(cases[0].baseline())

    baseline = statistics.median(timings["baseline loop"])
    print(f"autoscaler tick: {args.revisions} revisions, full 60 s windows, median of {args.ticks} ticks, {pinned}")
    for name, samples in timings.items():
        median = statistics.median(samples)
        ratio = median / baseline if baseline > 0 else float("nan")
        verdict = "" if name == "baseline loop" else ("  within" if median * 1000 <= TARGET_MS else "  OVER") + f" {TARGET_MS:g} ms"
        print(
            f"  {name:22s} {median * 1e3:8.2f} ms/tick  {median / args.revisions * 1e6:7.3f} us/revision"
            f"  {ratio:6.1f}x baseline{verdict}"
        )
    for case in cases:
        print(f"  record ({case.name}): {case.record_seconds / case.records * 1e6:.3f} us/stat over {case.records} stats")


if __name__ == "__main__":
    main()
