"""Revisions and the Service's children, made from their parents (pure functions).

The controller creates a new Revision only when :func:`template_hash` of a
Configuration's (defaulted) template changes.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from . import keys
from .names import revision_name
from .timestamps import Clock, format_timestamp


def template_hash(template: Any) -> str:
    """A stable digest of a revision template, independent of mapping key order."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _meta(obj: Mapping) -> Mapping:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def owner_reference(owner: Mapping) -> dict:
    """A controller ownerReference to ``owner``, so deleting it deletes its children."""
    meta = _meta(owner)
    ref = {"apiVersion": owner.get("apiVersion", keys.API_VERSION), "kind": owner["kind"],
           "name": meta.get("name"), "controller": True, "blockOwnerDeletion": True}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def make_revision(configuration: Mapping, generation: int, *, now: Clock | None = None) -> dict:
    """The Revision a Configuration's template yields at ``generation``.

    Named after the template's ``metadata.name`` when the user chose one, else
    ``<configuration>-<generation:05d>``. Starts in routing state ``pending``
    (``active`` when the Configuration already lists routes); ``now`` stamps
    when that state was set.
    """
    meta = _meta(configuration)
    template = configuration.get("spec", {}).get("template", {})
    tmeta = _meta(template)
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    config_labels = meta.get("labels") or {}
    config_annotations = meta.get("annotations") or {}

    labels[keys.CONFIGURATION_LABEL] = meta.get("name")
    labels[keys.CONFIGURATION_GENERATION_LABEL] = str(generation)
    if meta.get("uid"):
        labels[keys.CONFIGURATION_UID_LABEL] = meta["uid"]
    for key in (keys.SERVICE_LABEL, keys.SERVICE_UID_LABEL):
        if key in config_labels:
            labels[key] = config_labels[key]
    if keys.UPDATER_ANNOTATION in config_annotations:
        annotations[keys.CREATOR_ANNOTATION] = config_annotations[keys.UPDATER_ANNOTATION]
    routed = keys.ROUTES_ANNOTATION in config_annotations
    if routed:
        annotations[keys.ROUTES_ANNOTATION] = config_annotations[keys.ROUTES_ANNOTATION]
    labels[keys.ROUTING_STATE_LABEL] = keys.ROUTING_STATE_ACTIVE if routed else keys.ROUTING_STATE_PENDING
    if now is not None:
        annotations[keys.ROUTING_STATE_MODIFIED_ANNOTATION] = format_timestamp(now)

    revision_meta = {
        "name": tmeta.get("name") or revision_name(meta.get("name"), generation),
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [owner_reference(configuration)],
    }
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.REVISION,
        "metadata": revision_meta,
        "spec": copy.deepcopy(template.get("spec", {})),
    }


def _child_meta(service: Mapping, dropped: tuple[str, ...], *, with_uid: bool) -> dict:
    meta = _meta(service)
    labels = dict(meta.get("labels") or {})
    labels[keys.SERVICE_LABEL] = meta.get("name")
    if with_uid and meta.get("uid"):
        labels[keys.SERVICE_UID_LABEL] = meta["uid"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in dropped}
    return {"name": meta.get("name"), "namespace": meta.get("namespace"), "labels": labels,
            "annotations": annotations, "ownerReferences": [owner_reference(service)]}


def make_configuration(service: Mapping) -> dict:
    """The Configuration a Service owns: same name, the Service's template."""
    # The rollout duration steers the Route, not the Configuration.
    meta = _child_meta(service, (keys.LAST_APPLIED_ANNOTATION, keys.ROLLOUT_DURATION_ANNOTATION), with_uid=True)
    meta["annotations"][keys.ROUTES_ANNOTATION] = meta["name"]
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.CONFIGURATION,
        "metadata": meta,
        "spec": {"template": copy.deepcopy(service.get("spec", {}).get("template", {}))},
    }


def make_route(service: Mapping) -> dict:
    """The Route a Service owns: its traffic, with targets lacking a revision bound to its Configuration."""
    meta = _child_meta(service, (keys.LAST_APPLIED_ANNOTATION,), with_uid=False)
    traffic = []
    for target in service.get("spec", {}).get("traffic") or []:
        target = dict(target)
        if not target.get("revisionName"):
            target["configurationName"] = meta["name"]
        traffic.append(target)
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.ROUTE,
        "metadata": meta,
        "spec": {"traffic": traffic},
    }
