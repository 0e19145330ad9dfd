"""The scenario's picture: offered load, in-flight requests, desired and ready pods, latency, over time."""

from __future__ import annotations

from pathlib import Path

from loadtests._scenario_report import Marker, Second, revision_names


HOLD_S = 2
"""A reading stands for this many seconds; longer without one, the line breaks (the source did not answer)."""


def _series(rows: list[Second], get) -> tuple[list[int], list[float]]:
    """Points of one line: the last reading held for up to HOLD_S seconds, then NaN so the gap shows."""
    xs: list[int] = []
    ys: list[float] = []
    last: tuple[int, float] | None = None
    for r in rows:
        v = get(r)
        if v is not None:
            last = (r.t, float(v))
        elif last is not None and r.t - last[0] <= HOLD_S:
            v = last[1]
        elif not xs:
            continue  # nothing to show before the first reading
        xs.append(r.t)
        ys.append(float("nan") if v is None else float(v))
    while ys and ys[-1] != ys[-1]:  # no trailing gap after the last reading
        xs.pop()
        ys.pop()
    return xs, ys


def _sum_or_none(*values):
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def plot(rows: list[Second], markers: list[Marker], title: str, path: Path) -> None:
    """Write a PNG of four panels sharing the time axis (seconds since the load started)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names = revision_names(rows)
    colors = {n: f"C{i % 10}" for i, n in enumerate(names)}
    fig, (load, flight, pods, latency) = plt.subplots(4, 1, sharex=True, figsize=(11, 11), constrained_layout=True)
    fig.suptitle(title, fontsize=11)

    load.step(*_series(rows, lambda r: r.users), where="post", color="black", label="users (offered concurrency)")
    load.set_ylabel("users")
    rate = load.twinx()
    rate.plot(*_series(rows, lambda r: r.completed_rps), color="tab:green", label="completed req/s")
    failed = [(r.t, r.failures) for r in rows if r.failures]
    if failed:
        rate.bar([t for t, _ in failed], [f for _, f in failed], color="tab:red", width=0.8, alpha=0.6, label="failed req/s")
    rate.set_ylabel("req/s")
    handles = load.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    load.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right", fontsize=8)
    load.set_title("offered load", fontsize=9, loc="left")

    for n in names:
        c = colors[n]
        flight.plot(
            *_series(rows, lambda r, n=n: _sum_or_none(r.revisions[n].router_in_flight, r.revisions[n].router_queued) if n in r.revisions else None),
            color=c,
            label=f"{n}: at the router (in flight + queued)",
        )
        flight.plot(
            *_series(rows, lambda r, n=n: r.revisions[n].pod_in_flight if n in r.revisions else None),
            color=c,
            linestyle="--",
            label=f"{n}: in the pods' queue-proxies",
        )
    flight.set_ylabel("requests")
    flight.set_title("in-flight concurrency", fontsize=9, loc="left")

    for n in names:
        c = colors[n]
        # desired drawn wide and on top: where it equals ready both stay visible
        pods.step(*_series(rows, lambda r, n=n: r.revisions[n].ready if n in r.revisions else None), where="post", color=c, linewidth=1.2, label=f"{n}: ready")
        pods.step(
            *_series(rows, lambda r, n=n: r.revisions[n].desired if n in r.revisions else None),
            where="post",
            color=c,
            linestyle="--",
            linewidth=2.5,
            alpha=0.55,
            zorder=3,
            label=f"{n}: desired",
        )
    pods.set_ylabel("pods")
    pods.set_ylim(bottom=-0.5)
    pods.set_title("pods (desired: the autoscaler's decision; -1 = no data yet)", fontsize=9, loc="left")

    for key, style, label in (("p50_ms", "-", "p50"), ("p95_ms", "--", "p95"), ("p99_ms", ":", "p99")):
        latency.plot(*_series(rows, lambda r, key=key: getattr(r, key) or None), linestyle=style, color="tab:purple", label=label)
    latency.set_ylabel("ms")
    latency.set_yscale("log")
    latency.set_xlabel("seconds since the load started")
    latency.set_title("latency (locust, last ~2 s)", fontsize=9, loc="left")

    for ax in (load, flight, pods, latency):
        for m in markers:
            ax.axvline(m.t, color="grey", linestyle="-.", linewidth=1)
        ax.grid(True, alpha=0.3)
        if ax is not load and ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8)
    for m in markers:
        load.annotate(m.label, (m.t, 1.0), xycoords=("data", "axes fraction"), fontsize=8, rotation=90, va="top", ha="right")
    fig.savefig(path, dpi=90)
    plt.close(fig)
