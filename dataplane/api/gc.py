"""Which of a Configuration's revisions to garbage-collect (Knative's ``config-gc`` v2 rules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from . import keys
from .config import GCConfig
from .timestamps import Clock, parse_timestamp, to_datetime


def _meta(revision: Mapping) -> Mapping:
    meta = revision.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _is_active(revision: Mapping, latest_ready: str | None) -> bool:
    """Active revisions are never collected."""
    meta = _meta(revision)
    if meta.get("name") == latest_ready:
        return True
    if str((meta.get("annotations") or {}).get(keys.NO_GC_ANNOTATION, "")).lower() == "true":
        return True
    # Only what the route labeller explicitly parked as "reserve" is eligible.
    return (meta.get("labels") or {}).get(keys.ROUTING_STATE_LABEL) != keys.ROUTING_STATE_RESERVE


def _created(revision: Mapping) -> datetime | None:
    return parse_timestamp(_meta(revision).get("creationTimestamp"))


def _last_active(revision: Mapping) -> datetime | None:
    modified = (_meta(revision).get("annotations") or {}).get(keys.ROUTING_STATE_MODIFIED_ANNOTATION)
    return parse_timestamp(modified) or _created(revision)


def _is_stale(revision: Mapping, cfg: GCConfig, now: datetime) -> bool:
    if cfg.retain_since_create_time is None and cfg.retain_since_last_active_time is None:
        return False
    for limit, when in ((cfg.retain_since_create_time, _created(revision)),
                        (cfg.retain_since_last_active_time, _last_active(revision))):
        if limit is None:
            continue
        # Without a readable timestamp the age is unknown: keep the revision.
        if when is None or (now - when).total_seconds() < limit:
            return False
    return True


def revisions_to_collect(revisions: Sequence[Mapping], latest_ready: str | None, gc_config: GCConfig,
                         now: Clock) -> list[str]:
    """Names of revisions to delete.

    ``revisions`` are all Revisions of one Configuration, ``latest_ready`` its
    ``status.latestReadyRevisionName``. Stale non-active revisions (older
    than both retention durations) go first while at least
    ``min_non_active_revisions`` remain; then the oldest go until at most
    ``max_non_active_revisions`` non-active ones are left.
    """
    cfg = gc_config
    if (cfg.max_non_active_revisions is None and cfg.retain_since_create_time is None
            and cfg.retain_since_last_active_time is None):
        return []
    minimum = cfg.min_non_active_revisions
    if len(revisions) <= minimum:
        return []
    candidates = [r for r in revisions if not _is_active(r, latest_ready)]
    if len(candidates) <= minimum:
        return []
    at = to_datetime(now)
    far_future = datetime.max.replace(tzinfo=at.tzinfo)
    candidates.sort(key=lambda r: (_last_active(r) or far_future, str(_meta(r).get("name"))))

    deletable = len(candidates) - minimum
    doomed: list[str] = []
    for revision in candidates:
        if _is_stale(revision, cfg, at):
            doomed.append(_meta(revision)["name"])
            if len(doomed) >= deletable:
                return doomed
    maximum = cfg.max_non_active_revisions
    remaining = len(candidates) - len(doomed)
    if maximum is None or remaining <= maximum:
        return doomed
    excess = remaining - maximum
    for revision in candidates:
        if excess == 0:
            break
        name = _meta(revision)["name"]
        if name not in doomed:
            doomed.append(name)
            excess -= 1
    return doomed
