"""The scenarios: which Services, which locustfile, how many users for how long, what happens mid-run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loadtests._scenario_apps import service


@dataclass(frozen=True)
class Settings:
    """What the command line decides for one run."""

    users: int
    """Peak (ramp) or constant number of locust users."""
    duration_s: int
    """Seconds of load (locust's -t)."""
    runtime: str = "node"
    """The app's language: node or python."""
    namespace: str = "default"


Documents = Callable[[Settings], list[dict]]


@dataclass(frozen=True)
class Step:
    """Something the runner applies while the load runs."""

    at: float
    """When, as a share of the load's duration."""
    label: str
    documents: Documents


@dataclass(frozen=True)
class Scenario:
    """One load scenario against the data plane."""

    name: str
    summary: str
    locustfile: str
    """File name under loadtests/locust/."""
    service: str
    """The Service the load goes to (its Host header)."""
    users: int
    duration_s: int
    setup: tuple[Documents, ...]
    """Batches applied before the load, each waited for until the Service is ready."""
    steps: tuple[Step, ...] = ()
    start_at_zero: bool = False
    """Wait until the Service has no pods before the load starts."""
    burst: bool = False
    """Users send for the whole duration, then stop (locust keeps a short idle end)."""
    tail_s: int = 25
    """Seconds of sampling after the load, to see the scale-down (to zero)."""
    spawn_all_at_once: bool = True


def _seed(s: Settings) -> list[dict]:
    # Listing 2 of the seed article: containerConcurrency 1, the 1 s "Hello World" app
    return [service("seed", s.runtime, 1000, 1, s.namespace)]


def _ramp(s: Settings) -> list[dict]:
    return [service("ramp", s.runtime, 500, 2, s.namespace)]


def _cold(s: Settings) -> list[dict]:
    return [service("cold", s.runtime, 200, 10, s.namespace)]


def _rollout_v1(s: Settings) -> list[dict]:
    return [service("rollout", s.runtime, 200, 4, s.namespace, revision_name="rollout-v1", env={"VERSION": "1"})]


def _rollout_v2(s: Settings) -> list[dict]:
    return [service("rollout", s.runtime, 200, 4, s.namespace, revision_name="rollout-v2", env={"VERSION": "2"})]


def _split_v1(s: Settings) -> list[dict]:
    return [service("split", s.runtime, 200, 4, s.namespace, revision_name="split-v1", env={"VERSION": "1"})]


def _split_v2(s: Settings) -> list[dict]:
    traffic = [{"revisionName": "split-v1", "percent": 90}, {"revisionName": "split-v2", "percent": 10}]
    return [service("split", s.runtime, 200, 4, s.namespace, revision_name="split-v2", env={"VERSION": "2"}, traffic=traffic)]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="seed-burst",
            summary="the seed article's 20 parallel clients against containerConcurrency 1 and a 1 s app",
            locustfile="seed_burst.py",
            service="seed",
            users=20,
            duration_s=20,
            setup=(_seed,),
            burst=True,
        ),
        Scenario(
            name="ramp",
            summary="1 -> N users (containerConcurrency 2, 0.5 s app): scale-up, scale-down, back to zero",
            locustfile="ramp.py",
            service="ramp",
            users=16,
            duration_s=60,
            setup=(_ramp,),
            spawn_all_at_once=False,
        ),
        Scenario(
            name="cold-start",
            summary="a burst of users against a revision at zero (containerConcurrency 10, 0.2 s app)",
            locustfile="cold_start.py",
            service="cold",
            users=30,
            duration_s=15,
            setup=(_cold,),
            start_at_zero=True,
            burst=True,
        ),
        Scenario(
            name="rollout",
            summary="steady load while revision 1 is replaced by revision 2 (containerConcurrency 4, 0.2 s app)",
            locustfile="rollout.py",
            service="rollout",
            users=8,
            duration_s=40,
            setup=(_rollout_v1,),
            steps=(Step(0.35, "apply revision 2", _rollout_v2),),
        ),
        Scenario(
            name="split",
            summary="steady load on a 90/10 traffic split between two revisions (containerConcurrency 4, 0.2 s app)",
            locustfile="split.py",
            service="split",
            users=8,
            duration_s=30,
            setup=(_split_v1, _split_v2),
        ),
    )
}
