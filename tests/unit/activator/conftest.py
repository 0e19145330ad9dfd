from __future__ import annotations

import pytest

from dataplane.activator import policy as policy_mod
from tests.twins import load, twin_params
from tests.unit.activator.rig import Rig


@pytest.fixture(params=twin_params("dataplane.http._engine"))
def engine(request, monkeypatch):
    engine = load(request.param)
    # the policy's head helpers from the same build as the connections that drive it
    monkeypatch.setattr(policy_mod, "collect", engine.collect)
    monkeypatch.setattr(policy_mod, "request_head", engine.request_head)
    return engine


@pytest.fixture
def rig(engine):
    rig = Rig(engine)
    yield rig
    rig.close()
    assert rig.loop.errors == [], "a callback raised"


@pytest.fixture
def router(engine):
    """The activator as the local router (`dataplane up`): it trusts no revision header."""
    rig = Rig(engine, trust_revision_headers=False)
    yield rig
    rig.close()
    assert rig.loop.errors == [], "a callback raised"
