"""Parametrise a test over both builds of a twin pair.

``twin_params("dataplane.http._parser")`` gives the pure-Python module
(``..._py``) and, unless ``DATAPLANE_NO_EXTENSIONS=1``, the compiled one
(``..._c``). A compiled module that was not built is an import error, never a
skip: the test command builds it first.

A pure twin uses whatever the other twins' pickers chose: on the compiled
build, the pure engine parses with the compiled parser. ``fully_pure=True``
adds, on that build, a third case (id ``fully-pure``): a private copy of the
pure twin whose imports of other twins are all pure, the pair the pure-Python
build runs.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

import pytest

from dataplane import _twins
from dataplane._twins import NO_EXTENSIONS_ENV, TWIN_USERS, extensions_disabled

FULLY_PURE = "+fully-pure"
_copies: dict[str, types.ModuleType] = {}


def twin_params(base: str, fully_pure: bool = False) -> list:
    params = [pytest.param(base + "_py", id="pure")]
    if not extensions_disabled():
        params.append(pytest.param(base + "_c", id="compiled"))
        if fully_pure:
            params.append(pytest.param(base + "_py" + FULLY_PURE, id="fully-pure"))
    return params


def load(name: str):
    if name.endswith(FULLY_PURE):
        return fully_pure_copy(name.removesuffix(FULLY_PURE))
    return importlib.import_module(name)


def _uses(module: types.ModuleType) -> set[str]:
    """The dataplane modules whose objects (or which themselves) ``module``'s globals hold."""
    out = set()
    for value in vars(module).values():
        owner = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(owner, str) and owner.startswith("dataplane.") and owner != module.__name__:
            out.add(owner)
    return out


def _reached(module: types.ModuleType) -> dict[str, set[str]]:
    """Every dataplane module ``module`` reaches through its globals, with what each uses."""
    graph, todo = {}, [module.__name__]
    while todo:
        name = todo.pop()
        if name in graph or name not in sys.modules:
            continue
        graph[name] = _uses(sys.modules[name])
        todo.extend(graph[name])
    return graph


def _compiled(name: str) -> bool:
    return name.endswith("_c")


def fully_pure_copy(name: str) -> types.ModuleType:
    """A copy of the pure twin ``name`` over pure twins only; the modules everyone else imports stay as they are.

    The modules it reaches that use a compiled twin (directly or through another
    such module) are imported again, privately, with the pure build forced;
    modules that use no twin are shared.
    """
    if name in _copies:
        return _copies[name]
    graph = _reached(importlib.import_module(name))
    stale = {n for n in graph if _compiled(n)}
    while True:
        more = {n for n, uses in graph.items() if uses & stale} - stale
        if not more:
            break
        stale |= more
    redo = (stale | set(TWIN_USERS) | {name}) - {n for n in stale if _compiled(n)}
    saved_modules = {n: sys.modules[n] for n in redo if n in sys.modules}
    saved_attrs = {n: getattr(sys.modules[n.rpartition(".")[0]], n.rpartition(".")[2], None) for n in saved_modules}
    saved_chosen = dict(_twins.chosen)
    saved_env = os.environ.get(NO_EXTENSIONS_ENV)
    try:
        for n in redo:
            sys.modules.pop(n, None)
        os.environ[NO_EXTENSIONS_ENV] = "1"
        copy = importlib.import_module(name)
        compiled = sorted(n for n in _reached(copy) if _compiled(n))
        if compiled:
            raise ImportError(f"the fully pure copy of {name} still reaches {compiled}")
    finally:
        if saved_env is None:
            os.environ.pop(NO_EXTENSIONS_ENV, None)
        else:
            os.environ[NO_EXTENSIONS_ENV] = saved_env
        for n in redo:
            sys.modules.pop(n, None)
        sys.modules.update(saved_modules)
        for n, attr in saved_attrs.items():
            parent, _, child = n.rpartition(".")
            setattr(sys.modules[parent], child, attr)
        _twins.chosen.clear()
        _twins.chosen.update(saved_chosen)
    _copies[name] = copy
    return copy
