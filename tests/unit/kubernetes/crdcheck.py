"""Checks of CRD schemas as the API server makes them: structural rules, validation, and pruning."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
CRD_FILES = {"Service": "services", "Configuration": "configurations", "Revision": "revisions", "Route": "routes"}


def crd_schema(kind: str) -> dict:
    crd = yaml.safe_load((DEPLOY / "crds" / f"{CRD_FILES[kind]}.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def structural_problems(schema: dict, path: str = "") -> list[str]:
    """What makes ``schema`` non-structural (the rules of apiextensions.k8s.io/v1), or leaves fields to be pruned unseen."""
    problems = []
    open_ = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if schema.get("x-kubernetes-int-or-string") is True:
        if "type" in schema:
            problems.append(f"{path}: int-or-string must not have a type")
        return problems
    kind = schema.get("type")
    if not kind and not open_:
        problems.append(f"{path or '<root>'}: no type")
    for key in ("allOf", "anyOf", "oneOf", "not"):
        if key in schema:
            problems.append(f"{path}: {key} is not allowed here")
    if schema.get("additionalProperties") is False:
        problems.append(f"{path}: additionalProperties: false is not allowed")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: properties and additionalProperties together")
    if kind == "object":
        props = schema.get("properties")
        if props is None and "additionalProperties" not in schema and not open_ and path != ".metadata":
            problems.append(f"{path}: object without properties would prune everything")
        for name, sub in (props or {}).items():
            problems += structural_problems(sub, f"{path}.{name}")
        if isinstance(schema.get("additionalProperties"), dict):
            problems += structural_problems(schema["additionalProperties"], f"{path}.*")
    if kind == "array":
        if "items" not in schema:
            problems.append(f"{path}: array without items")
        else:
            problems += structural_problems(schema["items"], f"{path}[]")
    for required in schema.get("required") or []:
        if required not in (schema.get("properties") or {}):
            problems.append(f"{path}: required field {required!r} is not declared")
    return problems


def to_json_schema(schema: dict) -> dict:
    """The OpenAPI v3 schema as plain JSON Schema (Kubernetes extensions spelt out)."""
    if schema.get("x-kubernetes-int-or-string"):
        return {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    out = {
        k: v
        for k, v in schema.items()
        if not k.startswith("x-kubernetes") and k not in ("properties", "items", "additionalProperties")
    }
    if "properties" in schema:
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(schema["additionalProperties"])
    return out


def pruned_fields(schema: dict, value, path: str = "") -> list[str]:
    """Fields of ``value`` the API server would drop: not declared, and not under an open object."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string"):
        return []
    found = []
    if isinstance(value, dict) and schema.get("type") == "object" and path != ".metadata":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if props is not None and key in props:
                found += pruned_fields(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                found += pruned_fields(extra, sub, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += pruned_fields(schema["items"], item, f"{path}[{i}]")
    return found


def crd_problems(obj: dict) -> list[str]:
    """Why the API server would reject ``obj`` or silently change it (validation errors, pruned fields)."""
    schema = crd_schema(obj["kind"])
    validator = jsonschema.Draft202012Validator(to_json_schema(schema))
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    return problems + [f"{p}: would be pruned" for p in pruned_fields(schema, obj)]
