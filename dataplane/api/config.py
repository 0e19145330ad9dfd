"""Platform configuration parsed from Knative's ConfigMap data (``dict[str, str]``).

Covers ``config-defaults``, ``config-domain`` and ``config-gc`` here, and
``config-autoscaler`` through ``autoscaling.py``. Every parser starts from
Knative's defaults and raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import keys
from .autoscaling import AUTOSCALER_CONFIGMAP, AutoscalerConfig
from .observability import LOGGING_CONFIGMAP, OBSERVABILITY_CONFIGMAP, LoggingConfig, ObservabilityConfig
from .checks import dns1123_subdomain_problem, quote
from .durations import parse_duration_seconds
from .errors import ConfigError

DEFAULTS_CONFIGMAP = "config-defaults"
DOMAIN_CONFIGMAP = "config-domain"
GC_CONFIGMAP = "config-gc"

DEFAULT_DOMAIN = "example.com"
EXAMPLE_KEY = "_example"  # Knative ConfigMaps carry documentation under this key

# ASCII digits only, to the very end: `$` would take a trailing newline and `\d` any script's digits (Go's Atoi takes neither)
_INT = re.compile(r"[+-]?[0-9]+")
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}
_TEMPLATE_FIELD = re.compile(r"\{\{\s*\.(Name|Namespace|GenerateName)\s*\}\}")


def _int(configmap: str, data: Mapping[str, str], key: str, default: int) -> int:
    raw = data.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str) or not _INT.fullmatch(raw):
        raise ConfigError(configmap, key, f"not an integer: {quote(raw)}")
    return int(raw)


def _bool(configmap: str, data: Mapping[str, str], key: str, default: bool) -> bool:
    raw = data.get(key)
    if raw is None:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(configmap, key, f"not a boolean: {quote(raw)}")


def _render_name_template(configmap: str, key: str, template: str, meta: Mapping[str, Any]) -> str:
    def field_value(m: re.Match) -> str:
        value = meta.get(m.group(1)[0].lower() + m.group(1)[1:], "")
        return value if isinstance(value, str) else ""

    rendered = _TEMPLATE_FIELD.sub(field_value, template)
    if "{{" in rendered or "}}" in rendered:
        raise ConfigError(configmap, key, f"unsupported template {quote(template)}: only {{{{.Name}}}}, "
                          "{{.Namespace}} and {{.GenerateName}} may be used")
    return rendered


@dataclass(frozen=True)
class Defaults:
    """``config-defaults``: values written into Revisions that leave them unset."""

    revision_timeout_seconds: int = 300
    """Default ``timeoutSeconds`` (seconds)."""
    max_revision_timeout_seconds: int = 600
    """Upper bound for ``timeoutSeconds`` (seconds)."""
    revision_response_start_timeout_seconds: int = 300
    """Default response-start timeout (seconds); the revision timeout when unset in the map."""
    revision_idle_timeout_seconds: int = 0
    """Default idle timeout (seconds); 0 means none."""
    container_concurrency: int = 0
    """Default ``containerConcurrency``; 0 means unlimited."""
    container_concurrency_max_limit: int = 1000
    """Upper bound for ``containerConcurrency``."""
    allow_container_concurrency_zero: bool = True
    """Whether users may ask for unlimited concurrency (0)."""
    container_name_template: str = "user-container"
    """Name for unnamed containers; may use ``{{.Name}}`` of the parent object."""
    init_container_name_template: str = "init-container"
    """Name for unnamed init containers."""

    def container_name(self, parent_meta: Mapping[str, Any]) -> str:
        """The default serving-container name for an object with ``parent_meta``."""
        return _render_name_template(DEFAULTS_CONFIGMAP, "container-name-template",
                                     self.container_name_template, parent_meta)

    def init_container_name(self, parent_meta: Mapping[str, Any]) -> str:
        """The default init-container name for an object with ``parent_meta``."""
        return _render_name_template(DEFAULTS_CONFIGMAP, "init-container-name-template",
                                     self.init_container_name_template, parent_meta)


def parse_defaults(data: Mapping[str, str]) -> Defaults:
    """Parse ``config-defaults`` data."""
    cm = DEFAULTS_CONFIGMAP
    timeout = _int(cm, data, "revision-timeout-seconds", 300)
    max_timeout = _int(cm, data, "max-revision-timeout-seconds", 600)
    # Knative defaults the response-start timeout to whatever the revision timeout is.
    response_start = _int(cm, data, "revision-response-start-timeout-seconds", timeout)
    idle = _int(cm, data, "revision-idle-timeout-seconds", 0)
    cc = _int(cm, data, "container-concurrency", 0)
    cc_max = _int(cm, data, "container-concurrency-max-limit", 1000)
    if timeout < 1:
        raise ConfigError(cm, "revision-timeout-seconds", f"must be at least 1, got {timeout}")
    if timeout > max_timeout:
        raise ConfigError(cm, "revision-timeout-seconds",
                          f"{timeout} cannot be greater than max-revision-timeout-seconds ({max_timeout})")
    if response_start < 0 or response_start > timeout:
        raise ConfigError(cm, "revision-response-start-timeout-seconds",
                          f"must be between 0 and revision-timeout-seconds ({timeout}), got {response_start}")
    if idle < 0 or idle > timeout:
        raise ConfigError(cm, "revision-idle-timeout-seconds",
                          f"must be between 0 and revision-timeout-seconds ({timeout}), got {idle}")
    if cc_max < 1:
        raise ConfigError(cm, "container-concurrency-max-limit", f"must be at least 1, got {cc_max}")
    if cc < 0 or cc > cc_max:
        raise ConfigError(cm, "container-concurrency", f"must be between 0 and {cc_max}, got {cc}")
    result = Defaults(
        revision_timeout_seconds=timeout,
        max_revision_timeout_seconds=max_timeout,
        revision_response_start_timeout_seconds=response_start,
        revision_idle_timeout_seconds=idle,
        container_concurrency=cc,
        container_concurrency_max_limit=cc_max,
        allow_container_concurrency_zero=_bool(cm, data, "allow-container-concurrency-zero", True),
        container_name_template=data.get("container-name-template", "user-container"),
        init_container_name_template=data.get("init-container-name-template", "init-container"),
    )
    # Render once against an empty object so a bad template fails here, not at apply time.
    result.container_name({})
    result.init_container_name({})
    return result


@dataclass(frozen=True)
class DomainRule:
    """A domain and the route labels that select it (all must match)."""

    domain: str
    selector: tuple[tuple[str, str], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every selector label is present with the same value."""
        return all(labels.get(k) == v for k, v in self.selector)


@dataclass(frozen=True)
class DomainConfig:
    """``config-domain``: which domain a Route's hostnames live under."""

    rules: tuple[DomainRule, ...] = (DomainRule(DEFAULT_DOMAIN),)

    def domain_for(self, labels: Mapping[str, str] | None) -> str:
        """The domain for a Route with ``labels``.

        Cluster-local visibility wins; otherwise the most specific matching
        selector, ties broken alphabetically, as Knative does.
        """
        labels = labels or {}
        if labels.get(keys.VISIBILITY_LABEL) == keys.VISIBILITY_CLUSTER_LOCAL:
            return keys.CLUSTER_DOMAIN
        best: tuple[int, str] | None = None
        for rule in self.rules:
            if rule.matches(labels):
                candidate = (-len(rule.selector), rule.domain)
                if best is None or candidate < best:
                    best = candidate
        # parse_domain always keeps a selector-less rule, so something matches.
        return best[1] if best else DEFAULT_DOMAIN


def parse_domain(data: Mapping[str, str]) -> DomainConfig:
    """Parse ``config-domain`` data: each key is a domain, each value an optional ``selector:`` map."""
    cm = DOMAIN_CONFIGMAP
    rules: list[DomainRule] = []
    for domain in sorted(data):
        if domain == EXAMPLE_KEY:
            continue
        problem = dns1123_subdomain_problem(domain)
        if problem:
            raise ConfigError(cm, domain, f"not a valid domain: {problem}")
        raw = data[domain]
        try:
            parsed = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as exc:
            raise ConfigError(cm, domain, f"value is not YAML: {exc}") from None
        selector: Any = None
        if isinstance(parsed, Mapping):
            unknown = set(parsed) - {"selector"}
            if unknown:
                raise ConfigError(cm, domain, f"unknown fields {sorted(unknown)}; only \"selector\" is allowed")
            selector = parsed.get("selector")
        elif parsed is not None:
            raise ConfigError(cm, domain, "value must be empty or a mapping with \"selector\"")
        if selector is None:
            selector = {}
        if not isinstance(selector, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in selector.items()):
            raise ConfigError(cm, domain, "selector must map label names to string values")
        rules.append(DomainRule(domain, tuple(sorted(selector.items()))))
    if not any(not r.selector for r in rules):
        rules.append(DomainRule(DEFAULT_DOMAIN))
    return DomainConfig(tuple(rules))


@dataclass(frozen=True)
class GCConfig:
    """``config-gc``: when non-active Revisions are deleted. None means ``disabled``."""

    retain_since_create_time: float | None = 48 * 3600
    """Keep revisions younger than this (seconds)."""
    retain_since_last_active_time: float | None = 15 * 3600
    """Keep revisions routed to more recently than this (seconds)."""
    min_non_active_revisions: int = 20
    """Always keep at least this many non-active revisions."""
    max_non_active_revisions: int | None = 1000
    """Delete the oldest non-active revisions beyond this many."""


def _disabled_or(cm: str, data: Mapping[str, str], key: str, parse, default):
    raw = data.get(key)
    if raw is None or raw == "":
        return default
    if not isinstance(raw, str):
        raise ConfigError(cm, key, f"must be a string, got {type(raw).__name__}")
    if raw.lower() == "disabled":
        return None
    try:
        value = parse(raw)
    except ValueError as exc:
        raise ConfigError(cm, key, f"{exc}; expected a value or \"disabled\"") from None
    if value < 0:
        raise ConfigError(cm, key, f"must be non-negative, got {quote(raw)}")
    return value


def _non_negative_int(raw: str) -> int:
    if not _INT.fullmatch(raw):
        raise ValueError(f"not an integer: {quote(raw)}")
    return int(raw)


def parse_gc(data: Mapping[str, str]) -> GCConfig:
    """Parse ``config-gc`` data."""
    cm = GC_CONFIGMAP
    create = _disabled_or(cm, data, "retain-since-create-time", parse_duration_seconds, 48 * 3600)
    active = _disabled_or(cm, data, "retain-since-last-active-time", parse_duration_seconds, 15 * 3600)
    maximum = _disabled_or(cm, data, "max-non-active-revisions", _non_negative_int, 1000)
    minimum = _int(cm, data, "min-non-active-revisions", 20)
    if minimum < 0:
        raise ConfigError(cm, "min-non-active-revisions", f"must be non-negative, got {minimum}")
    if maximum is not None and minimum > maximum:
        raise ConfigError(cm, "min-non-active-revisions",
                          f"{minimum} must be <= max-non-active-revisions ({maximum})")
    return GCConfig(create, active, minimum, maximum)


@dataclass(frozen=True)
class Config:
    """Everything the API functions read from the platform configuration."""

    defaults: Defaults = field(default_factory=Defaults)
    domain: DomainConfig = field(default_factory=DomainConfig)
    gc: GCConfig = field(default_factory=GCConfig)
    autoscaler: AutoscalerConfig = field(default_factory=AutoscalerConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    @classmethod
    def from_configmaps(cls, maps: Mapping[str, Mapping[str, str]]) -> Config:
        """Build from ConfigMap data keyed by ConfigMap name; absent maps keep Knative's defaults."""
        return cls(
            defaults=parse_defaults(maps.get(DEFAULTS_CONFIGMAP, {})),
            domain=parse_domain(maps.get(DOMAIN_CONFIGMAP, {})),
            gc=parse_gc(maps.get(GC_CONFIGMAP, {})),
            autoscaler=AutoscalerConfig.from_map(maps.get(AUTOSCALER_CONFIGMAP, {})),
            observability=ObservabilityConfig.from_map(maps.get(OBSERVABILITY_CONFIGMAP, {})),
            logging=LoggingConfig.from_map(maps.get(LOGGING_CONFIGMAP, {})),
        )


CONFIGMAP_PARSERS = {
    DEFAULTS_CONFIGMAP: parse_defaults,
    DOMAIN_CONFIGMAP: parse_domain,
    GC_CONFIGMAP: parse_gc,
    AUTOSCALER_CONFIGMAP: AutoscalerConfig.from_map,
    OBSERVABILITY_CONFIGMAP: ObservabilityConfig.from_map,
    LOGGING_CONFIGMAP: LoggingConfig.from_map,
}
"""The parser of each platform ConfigMap ``Config`` is made of, by ConfigMap name."""


def check_configmap(name: str, data: Mapping[str, str]) -> None:
    """Raise :class:`ConfigError` when ``data`` is not a valid ConfigMap ``name``; other names pass.

    The same parsers the components use, so what admission takes they can load.
    """
    parse = CONFIGMAP_PARSERS.get(name)
    if parse is not None:
        parse(data)


DEFAULT_CONFIG = Config()
