"""`./dev.sh up` applies its sample only where it does not exist: a restart keeps the user's changes."""

from __future__ import annotations

import asyncio

from dataplane.cmd.demo import apply_sample
from tests.seed import LISTING_2


async def test_the_sample_is_created_on_a_fresh_home(control):
    lines = await asyncio.to_thread(apply_sample, control.url)
    assert lines == ["service.serving.knative.dev/knative-example created"]
    assert len(control.apply_bodies) == 1
    assert control.get("services", "default", "knative-example") is not None


async def test_an_existing_service_is_kept_as_the_user_left_it(control):
    import yaml

    await asyncio.to_thread(apply_sample, control.url)
    # the user applies Listing 2 (containerConcurrency 1) over the sample
    control.put("services", yaml.safe_load(LISTING_2))
    before = control.get("services", "default", "knative-example")
    lines = await asyncio.to_thread(apply_sample, control.url)
    assert lines == ["service.serving.knative.dev/knative-example exists (kept as it is)"]
    assert len(control.apply_bodies) == 1, "the sample was applied again over the user's change"
    after = control.get("services", "default", "knative-example")
    assert after == before
    assert after["spec"]["runLatest"]["configuration"]["revisionTemplate"]["spec"]["containerConcurrency"] == 1
