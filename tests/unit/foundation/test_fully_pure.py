"""The fully pure case of a twin: the pure engine over the pure parser, on the compiled build, touching nothing else."""

from __future__ import annotations

import sys

from dataplane import _twins
from dataplane._twins import extensions_disabled
from tests.twins import FULLY_PURE, load, twin_params

ENGINE = "dataplane.http._engine"


def parser_of(engine) -> str:
    """The module of the head parser the engine's downstream connections call."""
    return engine.ClientConnection.data_received.__globals__["parse_request_head"].__module__


def test_the_cases_of_each_build():
    ids = [p.id for p in twin_params(ENGINE, fully_pure=True)]
    assert ids == (["pure"] if extensions_disabled() else ["pure", "compiled", "fully-pure"])
    assert [p.id for p in twin_params(ENGINE)] == (["pure"] if extensions_disabled() else ["pure", "compiled"])


def test_the_fully_pure_engine_parses_with_the_pure_parser_and_leaves_the_others_alone():
    pure = load(ENGINE + "_py")
    if extensions_disabled():  # this build's "pure" case is the fully pure pair
        assert parser_of(pure) == "dataplane.http._parser_py"
        return
    chosen = dict(_twins.chosen)
    modules = dict(sys.modules)
    copy = load(ENGINE + "_py" + FULLY_PURE)
    assert parser_of(copy) == "dataplane.http._parser_py"
    assert copy.UpstreamPool.connect.__globals__["parse_response_head"].__module__ == "dataplane.http._parser_py"
    assert parser_of(pure) == "dataplane.http._parser_c"  # the shared pure engine still uses what its picker chose
    # nothing replaced: at most the pure twins it needed were imported
    assert {n: m for n, m in sys.modules.items() if n in modules} == modules
    assert set(sys.modules) - set(modules) <= {"dataplane.http._parser_py"}
    assert _twins.chosen == chosen
    assert sys.modules["dataplane.http"].downstream is sys.modules["dataplane.http.downstream"]
    assert copy.HOP_BY_HOP is pure.HOP_BY_HOP  # modules that use no twin are shared
    assert load(ENGINE + "_py" + FULLY_PURE) is copy
