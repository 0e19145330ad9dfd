"""Kubernetes label selectors as kubectl's ``-l`` takes them (``k8s.io/apimachinery/pkg/labels``).

Grammar: requirements separated by commas, all of which must hold::

    key                  the label is present
    !key                 the label is absent
    key=value  key==value
    key!=value           absent, or present with another value
    key in (a,b)         present with one of the values
    key notin (a,b)      absent, or present with none of the values
    key>1  key<1         present with an integer value greater / less

Keys are qualified names (an optional DNS subdomain prefix and ``/``),
values are label values; anything else is a :class:`SelectorError`, never a
selector that silently matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .checks import MAX_LABEL, dns1123_subdomain_problem

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SPECIAL = "=!(),<>"
_OPERATORS = ("==", "!=", "=", ">", "<")


class SelectorError(ValueError):
    """A selector that cannot be parsed; the message reads like kubectl's."""


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term."""

    key: str
    operator: str
    """``exists``, ``!``, ``=``, ``!=``, ``in``, ``notin``, ``>`` or ``<`` (``==`` is read as ``=``)."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this requirement, with kubectl's meaning for absent keys."""
        present = self.key in labels
        op = self.operator
        if op == "exists":
            return present
        if op == "!":
            return not present
        if op in ("=", "in"):
            return present and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            have = int(labels[self.key])
        except (TypeError, ValueError):
            return False
        want = int(self.values[0])
        return have > want if op == ">" else have < want


@dataclass(frozen=True)
class Selector:
    """Requirements that must all hold; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for ``labels`` (None means no labels)."""
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def parse(text: str) -> Selector:
    """Parse a selector; raises :class:`SelectorError` naming what is wrong."""
    tokens = _tokens(text)
    requirements = []
    pos = 0
    while pos < len(tokens):
        requirement, pos = _requirement(tokens, pos)
        requirements.append(requirement)
        if pos < len(tokens):
            if tokens[pos] != ",":
                raise _error(f"found '{tokens[pos]}', expected: ',' or end of selector")
            pos += 1
            if pos == len(tokens):
                raise _error("found '', expected: identifier after ','")
    return Selector(tuple(requirements))


def _error(message: str) -> SelectorError:
    return SelectorError(f"unable to parse requirement: {message}")


def _tokens(text: str) -> list[str]:
    """Identifiers, operators and punctuation; whitespace only separates."""
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            tokens.append(text[i : i + 2])
            i += 2
        elif ch in _SPECIAL:
            tokens.append(ch)
            i += 1
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(text[start:i])
    return tokens


def _is_identifier(token: str) -> bool:
    return token not in _SPECIAL and token not in ("==", "!=")


def _requirement(tokens: list[str], pos: int) -> tuple[Requirement, int]:
    negated = tokens[pos] == "!"
    if negated:
        pos += 1
    if pos >= len(tokens) or not _is_identifier(tokens[pos]):
        found = tokens[pos] if pos < len(tokens) else ""
        raise _error(f"found '{found}', expected: identifier")
    key = _key(tokens[pos])
    pos += 1
    if negated or pos == len(tokens) or tokens[pos] == ",":
        if negated and pos < len(tokens) and tokens[pos] != ",":
            raise _error(f"found '{tokens[pos]}', expected: ',' or end of selector after '!{key}'")
        return Requirement(key, "!" if negated else "exists"), pos
    op = tokens[pos]
    if op in ("in", "notin"):
        values, pos = _value_set(tokens, pos + 1)
        return Requirement(key, op, values), pos
    if op not in _OPERATORS:
        raise _error(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
    pos += 1
    value = ""
    if pos < len(tokens) and _is_identifier(tokens[pos]):
        value = tokens[pos]
        pos += 1
    elif op in (">", "<"):
        raise _error(f"found '{tokens[pos] if pos < len(tokens) else ''}', expected: identifier")
    if op in (">", "<"):
        # an int64, as kubectl parses it, not a label value: `tier>-1` is fine
        if not re.fullmatch(r"-?[0-9]{1,19}", value) or not -2**63 <= int(value) < 2**63:
            raise _error(f"for 'gt', 'lt' operators, the value must be an integer, got {value!r}")
    else:
        _value(value)
    return Requirement(key, "=" if op == "==" else op, (value,)), pos


def _value_set(tokens: list[str], pos: int) -> tuple[tuple[str, ...], int]:
    if pos >= len(tokens) or tokens[pos] != "(":
        raise _error(f"found '{tokens[pos] if pos < len(tokens) else ''}', expected: '('")
    pos += 1
    values, expect_value = [], True
    while pos < len(tokens) and tokens[pos] != ")":
        token = tokens[pos]
        if token == ",":
            if expect_value:
                values.append("")  # `in (a,,b)` holds an empty value, as kubectl reads it
            expect_value = True
        elif _is_identifier(token) and expect_value:
            values.append(_value(token))
            expect_value = False
        else:
            raise _error(f"found '{token}', expected: ',' or ')'")
        pos += 1
    if pos >= len(tokens):
        raise _error("found '', expected: ')'")
    if expect_value:
        values.append("")
    return tuple(values), pos + 1


def _key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if "/" in key:
        problem = dns1123_subdomain_problem(prefix) if prefix else "prefix part must be non-empty"
        if problem:
            raise _error(f'invalid label key "{key}": prefix part {problem}')
    if len(name) > MAX_LABEL or not _NAME.match(name):
        raise _error(f'invalid label key "{key}": name part must consist of alphanumeric characters, "-", "_" or ".", '
                     f"and must start and end with an alphanumeric character (at most {MAX_LABEL} characters)")
    return key


def _value(value: str) -> str:
    if value and (len(value) > MAX_LABEL or not _NAME.match(value)):
        raise _error(f'invalid label value "{value}": must be {MAX_LABEL} characters or less and consist of '
                     'alphanumeric characters, "-", "_" or ".", starting and ending with an alphanumeric character')
    return value

