"""kubectl's JSONPath templates: ``{.status.url}``, ``{.items[*].metadata.name}``, ``{range ...}{end}``, filters.

Missing keys print nothing, as with kubectl's default ``--allow-missing-template-keys``.
Several results of one expression are joined by a space; maps and lists print as compact JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple


class JsonPathError(ValueError):
    """A template that cannot be parsed."""


# --- steps of a path ---------------------------------------------------------------------------
# NamedTuples rather than dataclasses: this module loads with every CLI command, and they take half the time to define

class Field(NamedTuple):
    """``.name``: one key of a map."""

    name: str


class Descendants(NamedTuple):
    """``..``: the value itself and everything below it; the next step selects among them."""


class Wildcard(NamedTuple):
    """``*`` or ``[*]``: every value of a map or list."""


class Index(NamedTuple):
    """``[n]``: one list element; negative counts from the end."""

    index: int


class Slice(NamedTuple):
    """``[start:stop:step]`` of a list."""

    start: int | None
    stop: int | None
    step: int | None


class Keys(NamedTuple):
    """``['a','b']`` or ``[0,2]``: several keys or indices."""

    keys: tuple[str | int, ...]


class Filter(NamedTuple):
    """``[?(@.type=="Ready")]``: list elements for which the comparison holds (or the operand exists)."""

    left: Any  # a Path or a literal
    op: str | None
    right: Any


class Path(NamedTuple):
    """Steps from the current value (``@``, the default) or the root (``$``)."""

    steps: tuple[Any, ...]
    from_root: bool = False


# --- template nodes -----------------------------------------------------------------------------

class Text(NamedTuple):
    """Literal output."""

    text: str


class Expr(NamedTuple):
    """``{path}``: the values found, joined by spaces."""

    path: Path


class Range(NamedTuple):
    """``{range path}...{end}``: the body once per value found."""

    path: Path
    body: tuple[Any, ...]


_MISSING = object()


class Template:
    """A parsed template; ``render(data)`` returns the text kubectl would print."""

    def __init__(self, source: str):
        self.source = source
        self._nodes = _parse_template(source)

    def render(self, data: Any) -> str:
        """The template's text for ``data``."""
        out: list[str] = []
        _render(self._nodes, data, data, out)
        return "".join(out)

    def results(self, data: Any) -> list[Any]:
        """The values of every expression, for callers that format them themselves (custom columns)."""
        values: list[Any] = []
        for node in self._nodes:
            if isinstance(node, Expr):
                values.extend(_evaluate(node.path, data, data))
        return values


def format_value(value: Any) -> str:
    """One result as text: strings raw, booleans lower-case, containers as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _render(nodes: tuple[Any, ...], current: Any, root: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Expr):
            out.append(" ".join(format_value(v) for v in _evaluate(node.path, current, root)))
        else:
            for value in _evaluate(node.path, current, root):
                for item in value if isinstance(value, list) else [value]:
                    _render(node.body, item, root, out)


# --- evaluation ---------------------------------------------------------------------------------

def _evaluate(path: Path, current: Any, root: Any) -> list[Any]:
    values = [root if path.from_root else current]
    for step in path.steps:
        values = [v for value in values for v in _apply(step, value, root)]
    return values


def _apply(step: Any, value: Any, root: Any) -> list[Any]:
    if isinstance(step, Field):
        if isinstance(value, dict) and step.name in value:
            return [value[step.name]]
        return []
    if isinstance(step, Wildcard):
        return list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else []
    if isinstance(step, Index):
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            return [value[step.index]]
        return []
    if isinstance(step, Slice):
        return list(value[step.start:step.stop:step.step]) if isinstance(value, list) else []
    if isinstance(step, Keys):
        found = []
        for key in step.keys:
            if isinstance(key, int):
                found.extend(_apply(Index(key), value, root))
            elif isinstance(value, dict) and key in value:
                found.append(value[key])
        return found
    if isinstance(step, Filter):
        items = value if isinstance(value, list) else []
        return [item for item in items if _holds(step, item, root)]
    return _descendants(value)


def _descendants(value: Any) -> list[Any]:
    found = [value]
    i = 0
    while i < len(found):  # breadth first, so nearer matches print first
        node = found[i]
        if isinstance(node, dict):
            found.extend(node.values())
        elif isinstance(node, list):
            found.extend(node)
        i += 1
    return found


def _holds(flt: Filter, item: Any, root: Any) -> bool:
    left = _operand(flt.left, item, root)
    if flt.op is None:
        return left is not _MISSING and left is not None and left is not False
    right = _operand(flt.right, item, root)
    if left is _MISSING or right is _MISSING:
        return False
    if flt.op == "==":
        return left == right
    if flt.op == "!=":
        return left != right
    if flt.op == "=~":
        return isinstance(left, str) and isinstance(right, str) and re.search(right, left) is not None
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[flt.op]
    except TypeError:
        return False


def _operand(operand: Any, item: Any, root: Any) -> Any:
    if isinstance(operand, Path):
        values = _evaluate(operand, item, root)
        return values[0] if values else _MISSING
    return operand


# --- parsing ------------------------------------------------------------------------------------

def _parse_template(source: str) -> tuple[Any, ...]:
    stack: list[tuple[Path | None, list[Any]]] = [(None, [])]
    pos = 0
    while pos < len(source):
        start = source.find("{", pos)
        if start < 0:
            stack[-1][1].append(Text(source[pos:]))
            break
        if start > pos:
            stack[-1][1].append(Text(source[pos:start]))
        end = _closing_brace(source, start)
        action = source[start + 1:end].strip()
        pos = end + 1
        if action == "end":
            if len(stack) == 1:
                raise JsonPathError("{end} without a matching {range}")
            path, body = stack.pop()
            stack[-1][1].append(Range(path, tuple(body)))  # type: ignore[arg-type]
        elif action.startswith(("range ", "range\t")):
            stack.append((_parse_path(action[6:].strip()), []))
        elif action[:1] in ("'", '"'):
            literal, rest = _string(action, 0)
            if rest != len(action):
                raise JsonPathError(f"unexpected text after string literal in {{{action}}}")
            stack[-1][1].append(Text(literal))
        else:
            stack[-1][1].append(Expr(_parse_path(action)))
    if len(stack) != 1:
        raise JsonPathError("{range} without a matching {end}")
    return tuple(stack[0][1])


def _closing_brace(source: str, start: int) -> int:
    pos = start + 1
    while pos < len(source):
        ch = source[pos]
        if ch in ("'", '"'):
            _, pos = _string(source, pos)
            continue
        if ch == "\\":
            pos += 2
            continue
        if ch == "}":
            return pos
        if ch == "{":
            raise JsonPathError(f"unexpected '{{' inside an action at offset {pos}")
        pos += 1
    raise JsonPathError(f"unclosed action starting at offset {start}")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _string(text: str, pos: int) -> tuple[str, int]:
    """The quoted literal at ``pos`` with escapes resolved, and the offset after its closing quote."""
    quote = text[pos]
    out = []
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(_ESCAPES.get(text[pos + 1], "\\" + text[pos + 1]))
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise JsonPathError(f"unterminated string in {text!r}")


def _parse_path(text: str) -> Path:
    if not text:
        raise JsonPathError("empty expression")
    pos = 0
    from_root = False
    if text[0] in "$@":
        from_root = text[0] == "$"
        pos = 1
    steps: list[Any] = []
    if pos < len(text) and text[pos] not in ".[":
        # kubectl accepts a bare leading field name: {kind}
        name, pos = _field_name(text, pos)
        steps.append(Field(name))
    while pos < len(text):
        ch = text[pos]
        if text.startswith("..", pos):
            steps.append(Descendants())
            pos += 1  # the second dot then reads as an ordinary step separator
        elif ch == ".":
            pos += 1
            if pos == len(text):
                break  # "{.}" is the current value
            if text[pos] == "*":
                steps.append(Wildcard())
                pos += 1
            elif text[pos] == "[":
                continue
            else:
                name, pos = _field_name(text, pos)
                steps.append(Field(name))
        elif ch == "[":
            step, pos = _bracket(text, pos)
            steps.append(step)
        else:
            raise JsonPathError(f"unexpected {ch!r} at offset {pos} in {text!r}")
    return Path(tuple(steps), from_root)


def _field_name(text: str, pos: int) -> tuple[str, int]:
    out = []
    while pos < len(text) and text[pos] not in ".[":
        if text[pos] == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])  # "\." keeps a dot inside a key such as a label name
            pos += 2
            continue
        out.append(text[pos])
        pos += 1
    if not out:
        raise JsonPathError(f"missing field name at offset {pos} in {text!r}")
    return "".join(out), pos


def _bracket(text: str, pos: int) -> tuple[Any, int]:
    end = _matching_bracket(text, pos)
    inner = text[pos + 1:end].strip()
    pos = end + 1
    if inner == "*":
        return Wildcard(), pos
    if inner.startswith("?"):
        body = inner[1:].strip()
        if not (body.startswith("(") and body.endswith(")")):
            raise JsonPathError(f"filter must be ?(...), got [{inner}]")
        return _parse_filter(body[1:-1].strip()), pos
    if ":" in inner and inner[:1] not in ("'", '"'):
        parts = [p.strip() for p in inner.split(":")]
        if len(parts) > 3:
            raise JsonPathError(f"bad slice [{inner}]")
        nums = [_int(p, inner) if p else None for p in parts] + [None] * (3 - len(parts))
        if nums[2] == 0:
            raise JsonPathError(f"slice step cannot be zero in [{inner}]")
        return Slice(nums[0], nums[1], nums[2]), pos
    keys: list[str | int] = []
    for part in _split_top(inner, ","):
        part = part.strip()
        if part[:1] in ("'", '"'):
            literal, after = _string(part, 0)
            if after != len(part):
                raise JsonPathError(f"bad key in [{inner}]")
            keys.append(literal)
        else:
            keys.append(_int(part, inner))
    if len(keys) == 1 and isinstance(keys[0], int):
        return Index(keys[0]), pos
    return Keys(tuple(keys)), pos


def _matching_bracket(text: str, pos: int) -> int:
    depth = 0
    i = pos
    while i < len(text):
        ch = text[i]
        if ch in ("'", '"'):
            _, i = _string(text, i)
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise JsonPathError(f"unclosed '[' at offset {pos} in {text!r}")


def _split_top(text: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch in ("'", '"'):
            _, j = _string(text, i)
            current.append(text[i:j])
            i = j
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _int(text: str, context: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise JsonPathError(f"expected a number in [{context}], got {text!r}") from None


_OPERATORS = ("==", "!=", "<=", ">=", "=~", "<", ">")


def _parse_filter(body: str) -> Filter:
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in ("'", '"'):
            _, i = _string(body, i)
            continue
        for op in _OPERATORS:
            if body.startswith(op, i):
                return Filter(_parse_operand(body[:i].strip()), op, _parse_operand(body[i + len(op):].strip()))
        i += 1
    return Filter(_parse_operand(body), None, None)


def _parse_operand(text: str) -> Any:
    if not text:
        raise JsonPathError("empty operand in filter")
    if text[0] in "@$":
        return _parse_path(text)
    if text[0] in ("'", '"'):
        literal, after = _string(text, 0)
        if after != len(text):
            raise JsonPathError(f"bad literal {text!r} in filter")
        return literal
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise JsonPathError(f"bad operand {text!r} in filter") from None
