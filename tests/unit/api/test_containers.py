import pytest

from dataplane.api import ServingPort, serving_port


@pytest.mark.parametrize("spec, want, protocol", [
    ({"containers": [{"image": "a"}]}, ServingPort(0, 8080, ""), "http1"),
    ({"containers": [{"image": "a", "ports": [{"containerPort": 3000, "name": "h2c"}]}]},
     ServingPort(0, 3000, "h2c"), "h2c"),
    ({"containers": [{"image": "side"}, {"image": "a", "ports": [{"containerPort": 9000, "name": "http1"}]}]},
     ServingPort(1, 9000, "http1"), "http1"),
    ({"containers": [{"image": "a"}, {"image": "b"}]}, ServingPort(None, 8080, ""), "http1"),
    ({}, ServingPort(None, 8080, ""), "http1"),
    ({"containers": [{"image": "a", "ports": [{"name": "h2c"}]}]}, ServingPort(0, 8080, "h2c"), "h2c"),
])
def test_serving_port(spec, want, protocol):
    got = serving_port(spec)
    assert got == want
    assert got.protocol == protocol
