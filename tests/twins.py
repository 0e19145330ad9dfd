"""Parametrise a test over both builds of a twin pair.

``twin_params("dataplane.http._parser")`` gives the pure-Python module
(``..._py``) and, unless ``DATAPLANE_NO_EXTENSIONS=1``, the compiled one
(``..._c``). A compiled module that was not built is an import error, never a
skip: the test command builds it first.
"""

from __future__ import annotations

import importlib

import pytest

from dataplane._twins import extensions_disabled


def twin_params(base: str) -> list:
    params = [pytest.param(base + "_py", id="pure")]
    if not extensions_disabled():
        params.append(pytest.param(base + "_c", id="compiled"))
    return params


def load(name: str):
    return importlib.import_module(name)
