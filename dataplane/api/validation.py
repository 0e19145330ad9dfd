"""Validation of v1 resources, on create (:func:`validate`) and on update (:func:`validate_update`).

Every rule runs and every problem is reported, so a rejected object can be
fixed in one go and nothing is applied while anything is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import keys
from .annotations import reject_autoscaling, validate_revision_annotations
from .checks import dns1035_label_problem, dns1035_prefix_problem, dns1123_label_problem, quote
from .config import DEFAULT_CONFIG, Config
from .convert import check_type
from .durations import NS_PER_SECOND, parse_duration_ns
from .errors import FieldError, ValidationError, join, raise_if_any
from .revision_spec import validate_revision_spec
from .traffic_validation import validate_traffic

# serving.knative.dev/ labels each kind may carry; others under that prefix are reserved.
_ALLOWED_LABELS = {
    keys.SERVICE: frozenset(),
    keys.CONFIGURATION: frozenset({keys.ROUTE_LABEL, keys.CONFIGURATION_UID_LABEL, keys.SERVICE_UID_LABEL,
                                   keys.SERVICE_LABEL}),
    keys.ROUTE: frozenset({keys.SERVICE_LABEL}),
    keys.REVISION: frozenset({keys.ROUTING_STATE_LABEL, keys.ROUTE_LABEL, keys.SERVICE_LABEL,
                              keys.CONFIGURATION_UID_LABEL, keys.SERVICE_UID_LABEL,
                              keys.CONFIGURATION_GENERATION_LABEL, keys.CONFIGURATION_LABEL}),
}
# A label naming the direct parent must be backed by an ownerReference to it.
_OWNER_LABELS = {
    keys.CONFIGURATION: (keys.SERVICE_LABEL, keys.SERVICE),
    keys.ROUTE: (keys.SERVICE_LABEL, keys.SERVICE),
    keys.REVISION: (keys.CONFIGURATION_LABEL, keys.CONFIGURATION),
}


def validate(obj: Any, cfg: Config = DEFAULT_CONFIG) -> None:
    """Raise :class:`ValidationError` listing every problem with a defaulted v1 resource.

    Validate what :func:`~dataplane.api.defaults.default_resource` returned
    (as :func:`~dataplane.api.admission.admit` does): rules such as "percents
    sum to 100" assume the defaults are in place.
    """
    errs = check_type(obj, (keys.API_VERSION,))
    raise_if_any(errs)
    kind = obj["kind"]
    meta = obj.get("metadata")
    errs += _metadata(meta, kind, cfg)
    meta = meta if isinstance(meta, Mapping) else {}
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        errs.append(FieldError("spec", "is required and must be a mapping"))
    elif kind == keys.REVISION:
        errs += validate_revision_spec(spec, "spec", cfg.defaults)
    else:
        if kind in (keys.SERVICE, keys.CONFIGURATION):
            errs += _template(spec.get("template"), "spec.template", meta, cfg)
        if kind in (keys.SERVICE, keys.ROUTE):
            errs += validate_traffic(spec.get("traffic"), "spec.traffic", in_service=kind == keys.SERVICE)
    raise_if_any(errs)


def _string_map(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [FieldError(path, "must be a mapping of strings")]
    return [FieldError(f"{path}[{k}]", f"must be a string, got {type(v).__name__} (quote it in YAML)")
            for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]


def _metadata(meta: Any, kind: str, cfg: Config) -> list[FieldError]:
    if not isinstance(meta, Mapping):
        return [FieldError("metadata", "is required and must be a mapping")]
    errs = []
    name, generate = meta.get("name"), meta.get("generateName")
    if name:
        problem = dns1035_label_problem(name)
        if problem:
            errs.append(FieldError("metadata.name", problem))
    elif generate:
        problem = dns1035_prefix_problem(generate)
        if problem:
            errs.append(FieldError("metadata.generateName", problem))
    else:
        errs.append(FieldError("metadata.name", "is required"))
    namespace = meta.get("namespace")
    if namespace:
        problem = dns1123_label_problem(namespace)
        if problem:
            errs.append(FieldError("metadata.namespace", problem))
    labels, annotations = meta.get("labels"), meta.get("annotations")
    errs += _string_map(labels, "metadata.labels")
    errs += _string_map(annotations, "metadata.annotations")
    if isinstance(labels, Mapping):
        errs += _labels(labels, kind, meta.get("ownerReferences"))
    if kind == keys.REVISION:
        errs += validate_revision_annotations(annotations, "metadata.annotations", cfg.autoscaler)
    else:
        errs += reject_autoscaling(annotations, "metadata.annotations")
    if kind in (keys.SERVICE, keys.ROUTE) and isinstance(annotations, Mapping):
        errs += _rollout_duration(annotations.get(keys.ROLLOUT_DURATION_ANNOTATION))
    return errs


def _labels(labels: Mapping, kind: str, owners: Any) -> list[FieldError]:
    errs = []
    owners = owners if isinstance(owners, list) else []
    for key, value in labels.items():
        path = f"metadata.labels[{key}]"
        if key == keys.VISIBILITY_LABEL and kind in (keys.SERVICE, keys.ROUTE):
            if value != keys.VISIBILITY_CLUSTER_LOCAL:
                errs.append(FieldError(path, f"invalid value {quote(value)}: the only visibility is "
                                             f"{quote(keys.VISIBILITY_CLUSTER_LOCAL)}"))
        elif not isinstance(key, str) or not key.startswith(keys.GROUP + "/"):
            continue
        elif key not in _ALLOWED_LABELS[kind]:
            errs.append(FieldError(path, f"label keys under {keys.GROUP}/ are reserved"))
        elif kind in _OWNER_LABELS and key == _OWNER_LABELS[kind][0]:
            owner_kind = _OWNER_LABELS[kind][1]
            if not any(isinstance(o, Mapping) and o.get("kind") == owner_kind and o.get("name") == value
                       for o in owners):
                errs.append(FieldError(path, f"requires an ownerReference to {owner_kind} {quote(value)}"))
    return errs


def _rollout_duration(value: Any) -> list[FieldError]:
    if value is None:
        return []
    path = f"metadata.annotations[{keys.ROLLOUT_DURATION_ANNOTATION}]"
    try:
        ns = parse_duration_ns(value)
    except ValueError:
        return [FieldError(path, f"invalid duration {quote(value)}")]
    if ns < 0:
        return [FieldError(path, f"rollout-duration={value} must not be negative")]
    if ns % NS_PER_SECOND:
        return [FieldError(path, f"rollout-duration={value} is not a whole number of seconds")]
    return []


def _template(template: Any, path: str, parent: Mapping, cfg: Config) -> list[FieldError]:
    if not isinstance(template, Mapping):
        return [FieldError(path, "is required and must be a mapping")]
    errs = []
    meta = template.get("metadata")
    if meta is not None and not isinstance(meta, Mapping):
        errs.append(FieldError(join(path, "metadata"), "must be a mapping"))
        meta = None
    if meta is not None:
        errs += _string_map(meta.get("labels"), join(path, "metadata.labels"))
        errs += _string_map(meta.get("annotations"), join(path, "metadata.annotations"))
        errs += validate_revision_annotations(meta.get("annotations"), join(path, "metadata.annotations"),
                                              cfg.autoscaler)
        errs += _byo_name(meta.get("name"), join(path, "metadata.name"), parent)
    errs += validate_revision_spec(template.get("spec"), join(path, "spec"), cfg.defaults)
    return errs


def _byo_name(name: Any, path: str, parent: Mapping) -> list[FieldError]:
    if not name:
        return []
    problem = dns1035_label_problem(name)
    if problem:
        return [FieldError(path, problem)]
    parent_name = parent.get("name")
    if not parent_name:
        if parent.get("generateName"):
            return [FieldError(path, "a revision name cannot be chosen when metadata.generateName is used")]
        return []
    prefix = f"{parent_name}-"
    if not name.startswith(prefix):
        return [FieldError(path, f"{quote(name)} must have prefix {quote(prefix)}")]
    return []


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Leaf paths where ``new`` differs from ``old`` (for messages about immutable fields)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += changed_paths(old.get(key), new.get(key), join(path, str(key)))
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for i in range(max(len(old), len(new))):
            found += changed_paths(old[i] if i < len(old) else None, new[i] if i < len(new) else None,
                                   f"{path}[{i}]")
        return found
    return [] if old == new else [path or "(root)"]


def _summary(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def validate_update(old: Any, new: Any) -> None:
    """Raise :class:`ValidationError` when ``new`` may not replace ``old``.

    Both should be defaulted v1 objects: a Revision's spec never changes, and
    a template with a chosen (BYO) revision name must get a new name whenever
    it changes, since that name then belongs to a different Revision.
    """
    errs = check_type(old, (keys.API_VERSION,)) + check_type(new, (keys.API_VERSION,))
    raise_if_any(errs)
    if old["kind"] != new["kind"]:
        raise ValidationError([FieldError("kind", f"cannot change from {old['kind']} to {new['kind']}")])
    old_meta = old.get("metadata") if isinstance(old.get("metadata"), Mapping) else {}
    new_meta = new.get("metadata") if isinstance(new.get("metadata"), Mapping) else {}
    for field in ("name", "namespace"):
        if old_meta.get(field) != new_meta.get(field):
            errs.append(FieldError(f"metadata.{field}", f"is immutable: was {quote(old_meta.get(field))}"))
    old_spec = old.get("spec") if isinstance(old.get("spec"), Mapping) else {}
    new_spec = new.get("spec") if isinstance(new.get("spec"), Mapping) else {}
    if new["kind"] == keys.REVISION:
        diff = changed_paths(old_spec, new_spec, "spec")
        if diff:
            errs.append(FieldError("spec", f"a Revision's spec is immutable; changed: {_summary(diff)}"))
    elif new["kind"] in (keys.SERVICE, keys.CONFIGURATION):
        old_t, new_t = old_spec.get("template"), new_spec.get("template")
        name = new_t.get("metadata", {}).get("name") if isinstance(new_t, Mapping) else None
        old_name = old_t.get("metadata", {}).get("name") if isinstance(old_t, Mapping) else None
        if name and name == old_name:
            diff = changed_paths(old_t, new_t, "spec.template")
            if diff:
                errs.append(FieldError("spec.template.metadata.name",
                                       f"the template changed without a new revision name "
                                       f"(changed: {_summary(diff)}); choose a new name"))
    raise_if_any(errs)
