"""``kn``-style flags of ``service create`` and ``service update``, and the Service they describe (pure, no I/O).

Flag names and forms follow ``kn service create``: ``--env NAME=value`` (``NAME-`` unsets), ``--port [NAME:]PORT``,
``--scale N | MIN..MAX | MIN.. | ..MAX``, ``--annotation NAME=value`` (``NAME-`` unsets). Only the form of a value is
checked here; what a value means (bounds, names, ports) is the API's to judge, so ``apply`` and these commands refuse
the same objects with the same field paths.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
from dataclasses import dataclass, field

from dataplane.api import keys
from dataplane.cli.common import UsageError

MIN_SCALE = f"{keys.AUTOSCALING_GROUP}/min-scale"
MAX_SCALE = f"{keys.AUTOSCALING_GROUP}/max-scale"
CONSONANTS = "bcdfghjklmnpqrstvwxz"


def add_template_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that shape the Service (shared by create and update)."""
    parser.add_argument("--image", help="image to run (kept, not pulled, by the local platform)")
    parser.add_argument("--cmd", action="append", metavar="WORD",
                        help="the container's command, one word per flag: --cmd node --cmd server.js")
    parser.add_argument("--arg", action="append", metavar="ARG",
                        help="an argument to the command (repeatable; --arg=--flag for one that starts with -)")
    parser.add_argument("-e", "--env", action="append", metavar="NAME=value",
                        help="environment variable to set (repeatable); NAME- unsets it")
    parser.add_argument("-p", "--port", metavar="[NAME:]PORT", help="the port the app listens on, e.g. 8080 or h2c:8080")
    parser.add_argument("--concurrency-limit", type=int, metavar="N",
                        help="hard limit of concurrent requests per replica (containerConcurrency)")
    parser.add_argument("--scale", metavar="N|MIN..MAX", help="min and max replicas: 5, 1..5, 1.. or ..5")
    parser.add_argument("--scale-min", type=int, metavar="N", help="minimum number of replicas")
    parser.add_argument("--scale-max", type=int, metavar="N", help="maximum number of replicas")
    parser.add_argument("-a", "--annotation", action="append", metavar="NAME=value",
                        help="annotation for the Service and its Revision (repeatable); NAME- unsets it")
    parser.add_argument("--revision-name", metavar="NAME",
                        help="name of the new revision, starting with the service name and a dash; "
                             "{{.Service}}, {{.Generation}} and {{.Random N}} are expanded")


@dataclass
class TemplateEdit:
    """What the flags change; None (or empty) leaves a field as it is."""

    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env_set: dict[str, str] = field(default_factory=dict)
    env_unset: list[str] = field(default_factory=list)
    port: dict | None = None
    concurrency_limit: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    annotations_set: dict[str, str] = field(default_factory=dict)
    annotations_unset: list[str] = field(default_factory=list)
    revision_name: str | None = None


def parse_pairs(values: list[str] | None, flag: str) -> tuple[dict[str, str], list[str]]:
    """``NAME=value`` pairs to set and ``NAME-`` names to unset, in the order given."""
    to_set: dict[str, str] = {}
    to_unset: list[str] = []
    for value in values or []:
        name, eq, rest = value.partition("=")
        if eq and name:
            to_set[name] = rest
        elif not eq and len(value) > 1 and value.endswith("-"):
            to_unset.append(value[:-1])
        else:
            raise UsageError(f'invalid {flag} "{value}": expected NAME=value (or NAME- to unset)')
    both = set(to_set) & set(to_unset)
    if both:
        raise UsageError(f"{flag} sets and unsets {', '.join(sorted(both))} at once")
    return to_set, to_unset


def parse_port(value: str) -> dict:
    """``8080`` or ``h2c:8080`` as a container port."""
    name, colon, number = value.rpartition(":")
    if colon and not name:
        raise UsageError(f'invalid --port "{value}": expected [NAME:]PORT, e.g. 8080 or h2c:8080')
    if not re.fullmatch(r"[0-9]+", number):
        raise UsageError(f'invalid --port "{value}": the port must be a number, e.g. 8080 or h2c:8080')
    port: dict = {"containerPort": int(number)}
    if name:
        port["name"] = name
    return port


def parse_scale(value: str) -> tuple[int | None, int | None]:
    """``--scale``: ``5`` is min and max 5; ``1..5``, ``1..`` and ``..5`` set either or both."""
    match = re.fullmatch(r"(\d+)?(\.\.)?(\d+)?", value.strip())
    if not value.strip() or match is None or (match.group(2) is None and match.group(3) is not None) \
            or (match.group(2) is not None and match.group(1) is None and match.group(3) is None):
        raise UsageError(f'invalid --scale "{value}": expected N, MIN..MAX, MIN.. or ..MAX')
    low, dots, high = match.groups()
    if dots is None:
        return int(low), int(low)
    return (int(low) if low else None), (int(high) if high else None)


def template_edit(args: argparse.Namespace) -> TemplateEdit:
    """The flags as a :class:`TemplateEdit`, or a UsageError naming the flag."""
    edit = TemplateEdit(image=args.image, command=args.cmd, args=args.arg,
                        concurrency_limit=args.concurrency_limit, revision_name=args.revision_name)
    edit.env_set, edit.env_unset = parse_pairs(args.env, "--env")
    edit.annotations_set, edit.annotations_unset = parse_pairs(args.annotation, "--annotation")
    if args.port is not None:
        edit.port = parse_port(args.port)
    if args.scale is not None:
        if args.scale_min is not None or args.scale_max is not None:
            raise UsageError("only one of --scale and --scale-min/--scale-max can be used")
        edit.scale_min, edit.scale_max = parse_scale(args.scale)
    else:
        edit.scale_min, edit.scale_max = args.scale_min, args.scale_max
    if args.revision_name is not None and not args.revision_name:
        raise UsageError("--revision-name must not be empty")
    return edit


def new_service(name: str, namespace: str) -> dict:
    """An empty v1 Service with one container, for the edit to fill."""
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.SERVICE,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{}]}}},
    }


def apply_edit(service: dict, edit: TemplateEdit, generation: int, rng: random.Random | None = None) -> dict:
    """A copy of ``service`` with the edit made; the revision template's name is kept only when given again."""
    svc = copy.deepcopy(service)
    spec = svc.setdefault("spec", {})
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    tspec = template.setdefault("spec", {})
    containers = tspec.setdefault("containers", [])
    if not containers:
        containers.append({})
    container = containers[0]
    if edit.image is not None:
        container["image"] = edit.image
    if edit.command is not None:
        container["command"] = list(edit.command)
    if edit.args is not None:
        container["args"] = list(edit.args)
    if edit.env_set or edit.env_unset:
        container["env"] = _edit_env(container.get("env") or [], edit.env_set, edit.env_unset)
        if not container["env"]:
            del container["env"]
    if edit.port is not None:
        container["ports"] = [edit.port]
    if edit.concurrency_limit is not None:
        tspec["containerConcurrency"] = edit.concurrency_limit
    revision_annotations = dict(edit.annotations_set)
    if edit.scale_min is not None:
        revision_annotations[MIN_SCALE] = str(edit.scale_min)
    if edit.scale_max is not None:
        revision_annotations[MAX_SCALE] = str(edit.scale_max)
    _edit_map(tmeta, "annotations", revision_annotations, edit.annotations_unset)
    # autoscaling annotations configure a revision; kn leaves them off the Service itself
    service_annotations = {k: v for k, v in edit.annotations_set.items() if not k.startswith(keys.AUTOSCALING_GROUP + "/")}
    _edit_map(svc.setdefault("metadata", {}), "annotations", service_annotations, edit.annotations_unset)
    if edit.revision_name is not None:
        tmeta["name"] = revision_name(edit.revision_name, svc["metadata"]["name"], generation, rng or random.Random())
    elif template_changed(service, svc):
        tmeta.pop("name", None)  # a changed template under the old name would be refused; the server names it
    if not tmeta:
        del template["metadata"]
    return svc


def _edit_env(env: list, to_set: dict[str, str], to_unset: list[str]) -> list:
    """Set in place (keeping order), append new names, drop unset ones."""
    result, seen = [], set()
    for var in env:
        name = var.get("name") if isinstance(var, dict) else None
        if name in to_unset:
            continue
        if name in to_set:
            var = {"name": name, "value": to_set[name]}
            seen.add(name)
        result.append(var)
    result += [{"name": n, "value": v} for n, v in to_set.items() if n not in seen]
    return result


def _edit_map(holder: dict, key: str, to_set: dict[str, str], to_unset: list[str]) -> None:
    mapping = dict(holder.get(key) or {})
    mapping.update(to_set)
    for name in to_unset:
        mapping.pop(name, None)
    if mapping:
        holder[key] = mapping
    else:
        holder.pop(key, None)


def template_changed(before: dict, after: dict) -> bool:
    """Whether the revision template differs (its name aside): the change that makes a new revision."""

    def bare(svc: dict) -> dict:
        template = copy.deepcopy((svc.get("spec") or {}).get("template") or {})
        (template.get("metadata") or {}).pop("name", None)
        if template.get("metadata") == {}:
            del template["metadata"]
        return template

    return bare(before) != bare(after)


def revision_name(pattern: str, service: str, generation: int, rng: random.Random) -> str:
    """``--revision-name`` with kn's template words expanded; it must start with ``<service>-``."""

    def word(match: re.Match) -> str:
        what, count = match.group(1), match.group(2)
        if what == "Service":
            return service
        if what == "Generation":
            return str(generation)
        return "".join(rng.choice(CONSONANTS) for _ in range(int(count or 5)))

    name = re.sub(r"\{\{\s*\.(Service|Generation|Random)(?:\s+(\d+))?\s*\}\}", word, pattern)
    if "{{" in name:
        raise UsageError(f'invalid --revision-name "{pattern}": only {{{{.Service}}}}, {{{{.Generation}}}} and '
                         "{{.Random N}} are expanded")
    if not name.startswith(service + "-"):
        raise UsageError(f'invalid --revision-name "{name}": it must start with the service name and a dash ("{service}-")')
    return name
