"""The CRDs' ``x-kubernetes-validations`` rules, run as the API server runs them, with a Python CEL evaluator.

Each rule sees the value at its schema node as ``self`` (and, for a rule that names ``oldSelf``, the
value it replaces; such a rule is skipped on create, as Kubernetes skips transition rules). celpy has
standard CEL; the one function added here is ``sum()`` of Kubernetes' list library
(k8s.io/apiserver/pkg/cel/library: the sum of a list of numbers, 0 for an empty list).
"""

from __future__ import annotations

import functools

import celpy
from celpy import celtypes

_MISSING = object()


def _sum(values):
    total = celtypes.IntType(0)
    for value in values:
        total = total + value
    return total


@functools.cache
def program(rule: str):
    """``rule`` compiled (a syntax error raises)."""
    env = celpy.Environment()
    return env.program(env.compile(rule), functions={"sum": _sum})


def evaluate(rule: str, value, old=_MISSING) -> bool:
    """True when ``rule`` holds for ``value`` (an evaluation error counts as a failure, as the API server reports it)."""
    activation = {"self": celpy.json_to_cel(value)}
    if old is not _MISSING:
        activation["oldSelf"] = celpy.json_to_cel(old)
    result = program(rule).evaluate(activation)
    return isinstance(result, celtypes.BoolType) and bool(result)


def rules_of(schema: dict, path: str = "") -> list[tuple[str, dict]]:
    """Every rule of ``schema`` with the path of the node that carries it."""
    found = [(path, r) for r in schema.get("x-kubernetes-validations") or []]
    for name, sub in (schema.get("properties") or {}).items():
        found += rules_of(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += rules_of(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += rules_of(schema["additionalProperties"], f"{path}.*")
    return found


def rule_failures(schema: dict, value, old=_MISSING, path: str = "") -> list[str]:
    """``path: message`` for each rule ``value`` breaks; ``old`` is the object an update replaces."""
    failures = []
    for r in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in r["rule"] and old is _MISSING:
            continue
        if not evaluate(r["rule"], value, old if "oldSelf" in r["rule"] else _MISSING):
            failures.append(f"{path or '<root>'}: {r['message']}")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key, extra if isinstance(extra, dict) else None)
            if sub_schema is not None:
                sub_old = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
                failures += rule_failures(sub_schema, sub, sub_old, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):  # items of a plain list have no old value to correlate with
            failures += rule_failures(schema["items"], item, _MISSING, f"{path}[{i}]")
    return failures
