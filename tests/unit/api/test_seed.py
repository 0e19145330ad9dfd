"""The seed article's Listings 1 and 2 (v1alpha1, plus a ``command`` for local runs) are accepted as v1 Services."""

import yaml

from dataplane.api import (
    DEFAULT_CONFIG,
    admit,
    make_configuration,
    make_revision,
    make_route,
    pick,
    resolve_traffic,
    template_hash,
)
from tests.seed import LISTING_1, LISTING_2


def expected_service(image, concurrency):
    container = {
        "name": "user-container",
        "command": ["node", "index.js"],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "successThreshold": 1},
    }
    if image is not None:
        container["image"] = image
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "knative-example", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containerConcurrency": concurrency,
                    "timeoutSeconds": 300,
                    "containers": [container],
                },
            },
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }


def test_listing_1_becomes_a_v1_service():
    assert admit(yaml.safe_load(LISTING_1)) == expected_service("docker.io/##DOCKERHUB_NAME##/knative-example", 0)


def test_listing_2_becomes_a_v1_service_with_concurrency_one():
    # YAML reads "##DOCKERHUB_NAME##/..." after "image: " as a comment, so the
    # image is null: the container runs its command, and the null is not stored.
    assert yaml.safe_load(LISTING_2)["spec"]["runLatest"]["configuration"]["revisionTemplate"]["spec"]["container"]["image"] is None
    assert admit(yaml.safe_load(LISTING_2)) == expected_service(None, 1)


def test_admitting_the_stored_form_again_changes_nothing():
    stored = admit(yaml.safe_load(LISTING_1))
    assert admit(stored, previous=stored) == stored


def test_applying_listing_2_after_listing_1_makes_revision_00002_and_moves_traffic():
    first = admit(yaml.safe_load(LISTING_1))
    second = admit(yaml.safe_load(LISTING_2), previous=first)
    config_1, config_2 = make_configuration(first), make_configuration(second)
    assert template_hash(config_1["spec"]["template"]) != template_hash(config_2["spec"]["template"])

    rev_1, rev_2 = make_revision(config_1, 1), make_revision(config_2, 2)
    assert (rev_1["metadata"]["name"], rev_2["metadata"]["name"]) == ("knative-example-00001", "knative-example-00002")
    assert rev_2["spec"]["containerConcurrency"] == 1

    route = make_route(second)
    domain = DEFAULT_CONFIG.domain.domain_for(route["metadata"]["labels"])
    resolved = resolve_traffic(
        route["spec"]["traffic"],
        {"knative-example": {"latestCreatedRevisionName": "knative-example-00002", "latestReadyRevisionName": "knative-example-00002"}},
        {"knative-example-00001": True, "knative-example-00002": True},
        name="knative-example",
        namespace="default",
        domain=domain,
    )
    # The article curls this host name.
    assert resolved.url == "http://knative-example.default.example.com"
    assert pick(resolved, 0.0) == pick(resolved, 0.999) == "knative-example-00002"
