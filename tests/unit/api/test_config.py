import pytest

from dataplane.api import (
    AutoscalerConfig,
    Config,
    ConfigError,
    Defaults,
    GCConfig,
    parse_defaults,
    parse_domain,
    parse_gc,
)


def test_empty_configmaps_give_knative_defaults():
    cfg = Config.from_configmaps({})
    assert cfg.defaults == Defaults(
        revision_timeout_seconds=300, max_revision_timeout_seconds=600,
        revision_response_start_timeout_seconds=300, revision_idle_timeout_seconds=0,
        container_concurrency=0, container_concurrency_max_limit=1000,
        allow_container_concurrency_zero=True, container_name_template="user-container")
    assert cfg.gc == GCConfig(48 * 3600, 15 * 3600, 20, 1000)
    assert cfg.autoscaler == AutoscalerConfig()
    assert (cfg.autoscaler.max_scale_limit, cfg.autoscaler.allow_zero_initial_scale) == (0, False)
    assert cfg.domain.domain_for({}) == "example.com"


def test_defaults_overrides():
    d = parse_defaults({
        "revision-timeout-seconds": "120", "max-revision-timeout-seconds": "900",
        "revision-idle-timeout-seconds": "30", "container-concurrency": "10",
        "container-concurrency-max-limit": "50", "allow-container-concurrency-zero": "false",
        "container-name-template": "{{.Name}}-app", "_example": "ignored prose",
    })
    # the response-start default follows the revision timeout when not given
    assert d.revision_response_start_timeout_seconds == 120
    assert (d.revision_timeout_seconds, d.max_revision_timeout_seconds,
            d.revision_idle_timeout_seconds) == (120, 900, 30)
    assert (d.container_concurrency, d.container_concurrency_max_limit) == (10, 50)
    assert d.allow_container_concurrency_zero is False
    assert d.container_name({"name": "shop"}) == "shop-app"


@pytest.mark.parametrize("data, key", [
    ({"revision-timeout-seconds": "abc"}, "revision-timeout-seconds"),
    ({"revision-timeout-seconds": " 10"}, "revision-timeout-seconds"),
    ({"revision-timeout-seconds": "10\n"}, "revision-timeout-seconds"),  # `$` would let a newline through
    ({"revision-timeout-seconds": "\u0661\u0662"}, "revision-timeout-seconds"),  # Arabic-Indic digits: int() reads 12
    ({"revision-timeout-seconds": "700"}, "revision-timeout-seconds"),
    ({"revision-timeout-seconds": "0"}, "revision-timeout-seconds"),
    ({"revision-response-start-timeout-seconds": "301"}, "revision-response-start-timeout-seconds"),
    ({"revision-idle-timeout-seconds": "301"}, "revision-idle-timeout-seconds"),
    ({"container-concurrency-max-limit": "0"}, "container-concurrency-max-limit"),
    ({"container-concurrency": "1001"}, "container-concurrency"),
    ({"container-concurrency": "-1"}, "container-concurrency"),
    ({"allow-container-concurrency-zero": "yes"}, "allow-container-concurrency-zero"),
    ({"container-name-template": "{{.Labels}}"}, "container-name-template"),
])
def test_defaults_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        parse_defaults(data)
    assert info.value.key == key
    assert str(info.value).startswith(f"config-defaults: {key}: ")


def test_domain_selectors_pick_the_most_specific_match():
    domains = parse_domain({
        "prod.example.org": "selector:\n  app: shop\n  tier: prod\n",
        "shop.example.org": "selector:\n  app: shop\n",
        "aaa.example.org": "selector:\n  app: shop\n",
        "default.example.org": "",
        "_example": "prose",
    })
    assert domains.domain_for({"app": "shop", "tier": "prod"}) == "prod.example.org"
    # equally specific: alphabetical order breaks the tie, as in Knative
    assert domains.domain_for({"app": "shop"}) == "aaa.example.org"
    assert domains.domain_for({"app": "blog"}) == "default.example.org"
    assert domains.domain_for({"networking.knative.dev/visibility": "cluster-local"}) == "svc.cluster.local"


def test_selector_only_domains_keep_example_com_as_the_default():
    domains = parse_domain({"shop.example.org": "selector:\n  app: shop\n"})
    assert domains.domain_for({"app": "shop"}) == "shop.example.org"
    assert domains.domain_for({}) == "example.com"


@pytest.mark.parametrize("data, key", [
    ({"not a domain": ""}, "not a domain"),
    ({"x.example.org": "selector: [a, b]"}, "x.example.org"),
    ({"x.example.org": "labels:\n  a: b\n"}, "x.example.org"),
    ({"x.example.org": "selector: {a: b"}, "x.example.org"),
    ({"x.example.org": "- a"}, "x.example.org"),
])
def test_domain_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        parse_domain(data)
    assert (info.value.configmap, info.value.key) == ("config-domain", key)


def test_gc_values_and_disabled():
    gc = parse_gc({"retain-since-create-time": "1h30m", "retain-since-last-active-time": "Disabled",
                   "min-non-active-revisions": "2", "max-non-active-revisions": "disabled"})
    assert gc == GCConfig(5400, None, 2, None)


@pytest.mark.parametrize("data, key", [
    ({"retain-since-create-time": "forever"}, "retain-since-create-time"),
    ({"retain-since-last-active-time": "-1h"}, "retain-since-last-active-time"),
    ({"max-non-active-revisions": "-2"}, "max-non-active-revisions"),
    ({"max-non-active-revisions": "lots"}, "max-non-active-revisions"),
    ({"max-non-active-revisions": "5\n"}, "max-non-active-revisions"),
    ({"min-non-active-revisions": "\u0663"}, "min-non-active-revisions"),
    ({"min-non-active-revisions": "-1"}, "min-non-active-revisions"),
    ({"min-non-active-revisions": "disabled"}, "min-non-active-revisions"),
    ({"min-non-active-revisions": "20", "max-non-active-revisions": "10"}, "min-non-active-revisions"),
])
def test_gc_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        parse_gc(data)
    assert (info.value.configmap, info.value.key) == ("config-gc", key)


def test_config_autoscaler_is_read_by_its_one_parser():
    cfg = Config.from_configmaps({"config-autoscaler": {"max-scale-limit": "50", "max-scale": "50",
                                                        "allow-zero-initial-scale": "true", "stable-window": "90s"}})
    assert cfg.autoscaler == AutoscalerConfig.from_map({"max-scale-limit": "50", "max-scale": "50",
                                                        "allow-zero-initial-scale": "true", "stable-window": "90s"})
    assert (cfg.autoscaler.max_scale_limit, cfg.autoscaler.allow_zero_initial_scale) == (50, True)
    assert cfg.autoscaler.stable_window == 90.0
    with pytest.raises(ConfigError, match="config-autoscaler: max-scale-limit"):
        Config.from_configmaps({"config-autoscaler": {"max-scale-limit": "-1"}})
    # Knative: a cluster with a max-scale-limit needs a default max-scale within it.
    with pytest.raises(ConfigError, match="config-autoscaler: max-scale: "):
        Config.from_configmaps({"config-autoscaler": {"max-scale-limit": "50"}})


def test_from_configmaps_reads_each_map():
    cfg = Config.from_configmaps({"config-domain": {"apps.local": ""},
                                  "config-defaults": {"container-concurrency": "5"}})
    assert cfg.domain.domain_for({}) == "apps.local"
    assert cfg.defaults.container_concurrency == 5
