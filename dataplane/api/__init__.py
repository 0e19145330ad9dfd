"""``serving.knative.dev/v1`` resources as plain JSON-shaped dicts, and pure functions over them.

Shared by the local and Kubernetes controllers: conversion from v1alpha1,
defaulting, validation, revision naming, traffic resolution, status
conditions and revision garbage collection. Nothing here does I/O.
"""

from . import schema
from .admission import admit
from .autoscaling import AutoscalerConfig
from .config import (
    DEFAULT_CONFIG,
    Config,
    Defaults,
    DomainConfig,
    DomainRule,
    GCConfig,
    parse_defaults,
    parse_domain,
    parse_gc,
)
from .containers import ServingPort, serving_container_index, serving_port
from .convert import to_v1
from .defaults import default_resource
from .errors import ConfigError, FieldError, ValidationError
from .gc import revisions_to_collect
from .names import child_name, revision_name
from .revisions import make_configuration, make_revision, make_route, owner_reference, template_hash
from .traffic import ResolvedTarget, ResolvedTraffic, TrafficError, TrafficProblem, pick, resolve_traffic
from .validation import validate, validate_update

__all__ = [
    "DEFAULT_CONFIG",
    "AutoscalerConfig",
    "Config",
    "ConfigError",
    "Defaults",
    "DomainConfig",
    "DomainRule",
    "FieldError",
    "GCConfig",
    "ResolvedTarget",
    "ResolvedTraffic",
    "ServingPort",
    "TrafficError",
    "TrafficProblem",
    "ValidationError",
    "admit",
    "child_name",
    "default_resource",
    "make_configuration",
    "make_revision",
    "make_route",
    "owner_reference",
    "parse_defaults",
    "parse_domain",
    "parse_gc",
    "pick",
    "resolve_traffic",
    "revision_name",
    "revisions_to_collect",
    "serving_container_index",
    "serving_port",
    "template_hash",
    "to_v1",
    "validate",
    "validate_update",
]
