"""``--traffic``, ``--tag`` and ``--untag`` of ``service update``, as ``kn`` computes them (pure, no I/O).

``--traffic REF=PERCENT`` where REF is a revision of the service, a tag of its traffic, or ``@latest`` (the latest
ready revision); a bare ``PERCENT`` means ``@latest``. The percents name the whole split: every other target loses
its share, and a target left with neither share nor tag is dropped. Percents summing to less than 100 are topped up
as kn does: with the one current target not named, or with ``@latest`` when the update makes a new revision.
``--tag REF=TAG`` tags a revision (or ``@latest``), ``--untag TAG`` removes a tag.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from dataplane.cli.common import UsageError

LATEST = "@latest"


@dataclass
class TrafficFlags:
    """The raw flag values, in the order given."""

    traffic: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    untags: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.traffic or self.tags or self.untags)


def _split(value: str, flag: str, bare_is_latest: bool) -> tuple[str, str]:
    ref, eq, rest = value.partition("=")
    if not eq:
        if bare_is_latest and value:
            return LATEST, value
        raise UsageError(f'invalid {flag} "{value}": expected REVISION=VALUE (REVISION may be {LATEST})')
    if not ref or not rest or "=" in rest:
        raise UsageError(f'invalid {flag} "{value}": expected REVISION=VALUE (REVISION may be {LATEST})')
    return ref, rest


def parse_percents(values: list[str]) -> dict[str, int]:
    """``REF=PERCENT`` (or ``PERCENT``, ``50%``) to an ordered mapping; refs must not repeat."""
    percents: dict[str, int] = {}
    for value in values:
        ref, text = _split(value, "--traffic", bare_is_latest=True)
        text = text.removesuffix("%")
        if ref in percents:
            raise UsageError(f'--traffic names "{ref}" twice; give each revision once')
        if not text.isdigit():
            raise UsageError(f'invalid --traffic "{value}": the percent must be an integer from 0 to 100')
        percent = int(text)
        if percent > 100:
            raise UsageError(f'invalid --traffic "{value}": the percent must be an integer from 0 to 100')
        percents[ref] = percent
    return percents


def parse_tags(values: list[str]) -> list[tuple[str, str]]:
    """``REF=TAG`` pairs; ``@latest`` may be tagged once."""
    pairs = [_split(v, "--tag", bare_is_latest=False) for v in values]
    if sum(1 for ref, _ in pairs if ref == LATEST) > 1:
        raise UsageError(f"--tag names {LATEST} twice; give it once")
    return pairs


def compute(service: dict, flags: TrafficFlags, revisions: list[str], makes_revision: bool) -> list[dict]:
    """The Service's new ``spec.traffic``.

    ``revisions`` are the names of the service's revisions (a reference to anything else is refused before
    anything is sent); ``makes_revision`` says whether the update creates a new revision.
    """
    name = (service.get("metadata") or {}).get("name", "")
    status = service.get("status") or {}
    percents = parse_percents(flags.traffic)
    tags = parse_tags(flags.tags)
    traffic = [_normal(t) for t in (service.get("spec") or {}).get("traffic") or []]
    known_tags = {t["tag"] for t in traffic if t.get("tag")}
    for ref in percents:
        if ref != LATEST and ref not in revisions and ref not in known_tags:
            raise UsageError(f'--traffic: "{ref}" is neither a revision nor a tag of service \'{name}\'')
    for ref, _name in tags:
        if ref != LATEST and ref not in revisions:
            raise UsageError(f'--tag: "{ref}" is not a revision of service \'{name}\'')
    if percents:
        _top_up(percents, status, makes_revision)

    missing = [tag for tag in flags.untags if not _untag(traffic, tag)]
    if missing:
        raise UsageError(f"--untag: tag(s) {', '.join(missing)} not present for any revisions of service {name}")
    for ref, tag in tags:
        traffic = _tagged(traffic, ref, tag)
    if percents:
        for target in traffic:
            target["percent"] = 0
        for ref, percent in percents.items():
            traffic = _set_percent(traffic, ref, percent)
    return [t for t in traffic if t.get("tag") or t.get("percent")]


def _normal(target: dict) -> dict:
    t = copy.deepcopy(target)
    t["latestRevision"] = bool(t.get("latestRevision", not t.get("revisionName")))
    t["percent"] = int(t.get("percent") or 0)
    if not t.get("tag"):
        t.pop("tag", None)
    return t


def _top_up(percents: dict[str, int], status: dict, makes_revision: bool) -> None:
    """kn's rule for a split summing to less than 100: one target, and only one, may be left out."""
    total = sum(percents.values())
    if total == 100:
        return
    if total > 100:
        raise UsageError(f"--traffic: the percents sum to {total}, want 100")
    current = [t for t in status.get("traffic") or [] if isinstance(t, dict)]
    left = 100 - total
    if makes_revision:
        # the new revision is @latest: it is the one left out unless it was named
        if len(percents) != len(current):
            raise UsageError(f"--traffic: unable to allocate the remaining {left}%: name every revision but one")
        if LATEST not in percents:
            percents[LATEST] = left
            return
    elif len(percents) != len(current) - 1:
        raise UsageError(f"--traffic: unable to allocate the remaining {left}%: name every revision but one")
    named = set(percents)
    if LATEST in named:
        named.add(str(status.get("latestReadyRevisionName") or ""))
    for target in current:
        if target.get("revisionName") not in named and (not target.get("tag") or target["tag"] not in named):
            percents[str(target.get("revisionName"))] = left
            return
    raise UsageError(f"--traffic: unable to allocate the remaining {left}%: cannot tell which revision is left out")


def _untag(traffic: list[dict], tag: str) -> bool:
    for target in traffic:
        if target.get("tag") == tag:
            del target["tag"]
            return True
    return False


def _tagged(traffic: list[dict], ref: str, tag: str) -> list[dict]:
    if ref == LATEST:
        on_latest = next((t for t in traffic if t["latestRevision"]), None)
        existing = on_latest.get("tag") if on_latest else None
        if existing == tag:
            return traffic
        if any(t.get("tag") == tag for t in traffic):
            raise UsageError(f"--tag: refusing to overwrite existing tag {tag!r}; add --untag {tag} to remove it first")
        if existing:
            raise UsageError(f"--tag: tag {existing!r} exists on the latest ready revision; refusing to overwrite it "
                             f"with {tag!r}; add --untag {existing} to remove it first")
        if on_latest is not None:
            on_latest["tag"] = tag
            return traffic
        return traffic + [{"tag": tag, "latestRevision": True, "percent": 0}]
    if any(t.get("tag") == tag and t.get("revisionName") == ref for t in traffic):
        return traffic
    if any(t.get("tag") == tag for t in traffic):
        raise UsageError(f"--tag: refusing to overwrite existing tag {tag!r}; add --untag {tag} to remove it first")
    for target in traffic:
        if target.get("revisionName") == ref and not target.get("tag"):
            target["tag"] = tag
            return traffic
    return traffic + [{"tag": tag, "revisionName": ref, "latestRevision": False, "percent": 0}]


def _set_percent(traffic: list[dict], ref: str, percent: int) -> list[dict]:
    if ref == LATEST:
        for target in traffic:
            if target["latestRevision"]:
                target["percent"] = percent
                return traffic
        return traffic + [{"latestRevision": True, "percent": percent}]
    # a tag wins over a revision of the same name: tags are unique
    for key in ("tag", "revisionName"):
        for target in traffic:
            if target.get(key) == ref:
                target["percent"] = percent
                return traffic
    return traffic + [{"revisionName": ref, "latestRevision": False, "percent": percent}]
