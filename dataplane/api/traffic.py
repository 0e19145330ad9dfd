"""Traffic resolution: from ``spec.traffic`` to concrete revisions, percents and URLs (pure).

Targets naming a Configuration (or ``latestRevision`` in a Service) follow its
``latestReadyRevisionName``, which only moves when a newer revision becomes
ready: a failed new revision leaves traffic on the old one. Any target that
cannot be resolved makes the whole resolution fail, as in Knative, so the
caller keeps serving what it served before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import keys
from .checks import quote

REVISION_MISSING = "RevisionMissing"
CONFIGURATION_MISSING = "ConfigurationMissing"


def route_host(name: str, namespace: str, domain: str) -> str:
    """``<name>.<namespace>.<domain>`` (Knative's default domain-template)."""
    return f"{name}.{namespace}.{domain}"


def tag_host(tag: str, name: str, namespace: str, domain: str) -> str:
    """``<tag>-<name>.<namespace>.<domain>`` (Knative's default tag-template)."""
    return f"{tag}-{name}.{namespace}.{domain}"


@dataclass(frozen=True)
class ResolvedTarget:
    """One entry of a Route's ``status.traffic``."""

    revision_name: str
    percent: int | None
    tag: str | None = None
    latest_revision: bool = False
    configuration_name: str | None = None
    url: str | None = None
    """The tag's own URL; None for untagged targets."""

    def to_status(self) -> dict:
        """The ``status.traffic`` entry."""
        out: dict[str, Any] = {"revisionName": self.revision_name, "latestRevision": self.latest_revision}
        if self.percent is not None:
            out["percent"] = self.percent
        if self.tag:
            out["tag"] = self.tag
            out["url"] = self.url
        return out


@dataclass(frozen=True)
class ResolvedTraffic:
    """Where a Route sends requests."""

    targets: tuple[ResolvedTarget, ...]
    """Status targets: spec order, identical revision+tag entries merged."""
    url: str
    """``http://<name>.<namespace>.<domain>``."""
    address_url: str
    """The in-cluster address, ``http://<name>.<namespace>.svc.cluster.local``."""
    splits: Mapping[str | None, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    """Weighted ``(revision, percent)`` choices: key None for the route's own host, else per tag."""

    def status_traffic(self) -> list[dict]:
        """``status.traffic`` as stored."""
        return [t.to_status() for t in self.targets]

    def revision_names(self) -> set[str]:
        """Every revision the route refers to (these are routing state ``active``)."""
        return {t.revision_name for t in self.targets}


@dataclass(frozen=True)
class TrafficProblem:
    """Why one traffic target could not be resolved."""

    reason: str
    message: str
    is_failure: bool
    missing: tuple[str, str] | None = None
    """``(kind, name)`` of a referenced object that does not exist."""


class TrafficError(Exception):
    """Traffic cannot be assigned; carries the ``AllTrafficAssigned`` condition to report.

    ``status`` is ``"False"`` when something failed or is missing, ``"Unknown"``
    while a revision is still on its way to ready.
    """

    def __init__(self, problems: Sequence[TrafficProblem]):
        self.problems = tuple(problems)
        chosen = next((p for p in self.problems if p.is_failure), self.problems[0])
        self.reason = chosen.reason
        self.message = chosen.message
        self.is_failure = chosen.is_failure
        self.status = "False" if chosen.is_failure else "Unknown"
        self.missing = tuple(p.missing for p in self.problems if p.missing)
        super().__init__(f"{self.reason}: {self.message}")


def _missing(kind: str, name: str) -> TrafficProblem:
    message = f"{kind} {quote(name)} referenced in traffic not found."
    return TrafficProblem(f"{kind}Missing", message, True, (kind, name))


def _status_fields(configuration: Any) -> Mapping:
    if isinstance(configuration, Mapping) and isinstance(configuration.get("status"), Mapping):
        return configuration["status"]
    return configuration if isinstance(configuration, Mapping) else {}


def _resolve_target(target: Mapping, configurations: Mapping, revisions: Mapping,
                    default_configuration: str | None) -> tuple[str, str | None] | TrafficProblem:
    revision = target.get("revisionName")
    if revision:
        if revision not in revisions:
            return _missing(keys.REVISION, revision)
        ready = revisions[revision]
        if ready is not True:
            failed = ready is False
            return TrafficProblem(REVISION_MISSING, f"Revision {quote(revision)} "
                                  + ("failed to become ready." if failed else "is not yet ready."), failed)
        return revision, target.get("configurationName")
    config_name = target.get("configurationName") or default_configuration
    if not config_name:
        return TrafficProblem(CONFIGURATION_MISSING,
                              "traffic target names neither a revision nor a configuration.", True)
    if config_name not in configurations:
        return _missing(keys.CONFIGURATION, config_name)
    status = _status_fields(configurations[config_name])
    latest_ready = status.get("latestReadyRevisionName")
    if not latest_ready:
        failed = revisions.get(status.get("latestCreatedRevisionName")) is False
        return TrafficProblem(REVISION_MISSING, f"Configuration {quote(config_name)} "
                              + ("does not have any ready Revision." if failed
                                 else "is waiting for a Revision to become ready."), failed)
    if latest_ready not in revisions:
        return _missing(keys.REVISION, latest_ready)
    return latest_ready, config_name


def resolve_traffic(traffic: Sequence[Mapping], configurations: Mapping[str, Any],
                    revisions: Mapping[str, bool | None], *, name: str, namespace: str, domain: str,
                    default_configuration: str | None = None) -> ResolvedTraffic:
    """Resolve a (defaulted, valid) traffic list; raise :class:`TrafficError` if any target can't be.

    ``configurations`` maps names to their status fields
    (``latestReadyRevisionName``, ``latestCreatedRevisionName``) or to whole
    Configuration objects; ``revisions`` maps names to readiness: True ready,
    None not decided yet, False failed. ``default_configuration`` is what
    targets without a revision or configuration follow (a Service's own).
    """
    problems: list[TrafficProblem] = []
    targets: list[ResolvedTarget] = []
    main: dict[str, int] = {}
    tags: dict[str, str] = {}
    for target in traffic:
        resolved = _resolve_target(target, configurations, revisions, default_configuration)
        if isinstance(resolved, TrafficProblem):
            problems.append(resolved)
            continue
        revision, config_name = resolved
        tag = target.get("tag") or None
        percent = target.get("percent")
        latest = target.get("latestRevision")
        latest = not target.get("revisionName") if latest is None else bool(latest)
        url = f"http://{tag_host(tag, name, namespace, domain)}" if tag else None
        entry = ResolvedTarget(revision, percent, tag, latest, config_name, url)
        for i, seen in enumerate(targets):
            if (seen.tag, seen.revision_name, seen.latest_revision) == (tag, revision, latest):
                merged = None if percent is None and seen.percent is None else (seen.percent or 0) + (percent or 0)
                targets[i] = ResolvedTarget(revision, merged, tag, latest, seen.configuration_name, url)
                break
        else:
            targets.append(entry)
        main[revision] = main.get(revision, 0) + (percent or 0)
        if tag:
            tags[tag] = revision
    if problems:
        raise TrafficError(problems)
    if len(main) == 1:
        # A single revision takes all the traffic, whatever percent it was written with.
        main = {rev: 100 for rev in main}
    splits: dict[str | None, tuple[tuple[str, int], ...]] = {
        None: tuple((rev, pct) for rev, pct in main.items() if pct > 0)}
    for tag, revision in tags.items():
        splits[tag] = ((revision, 100),)
    return ResolvedTraffic(
        targets=tuple(targets),
        url=f"http://{route_host(name, namespace, domain)}",
        address_url=f"http://{route_host(name, namespace, keys.CLUSTER_DOMAIN)}",
        splits=splits,
    )


def pick(resolved: ResolvedTraffic, u: float, tag: str | None = None) -> str | None:
    """The revision a request goes to, for ``u`` uniform in [0, 1).

    Deterministic in ``u``: revisions take consecutive slices of [0, 1) in spec
    order, sized by their percents. None when the host has no traffic (an
    unknown tag, or only 0% targets).
    """
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {quote(u)}")
    split = resolved.splits.get(tag, ())
    total = sum(pct for _, pct in split)
    if total <= 0:
        return None
    point = u * total
    cumulative = 0
    for revision, pct in split:
        cumulative += pct
        if point < cumulative:
            return revision
    return split[-1][0]  # float rounding at the very top of the range
