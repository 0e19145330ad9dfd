"""``config-autoscaler`` data for `dataplane autoscaler --config`: a YAML/JSON file, or a mounted ConfigMap.

Read at start, again on SIGHUP, and followed when Kubernetes updates the mount in place.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

import yaml

from dataplane.api.errors import ConfigError

log = logging.getLogger("dataplane.autoscaler")


class ConfigFileError(ValueError):
    """A ``--config`` file that cannot be read as ``config-autoscaler`` data."""


def load_config(path: str) -> dict[str, str]:
    """``config-autoscaler`` data from a YAML/JSON file (a flat mapping, or a ConfigMap with ``data``),
    or from a directory with one file per key, as Kubernetes mounts a ConfigMap."""
    if os.path.isdir(path):
        return _load_config_dir(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigFileError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not YAML or JSON: {exc}") from None
    if doc is None:
        return {}
    if isinstance(doc, Mapping) and isinstance(doc.get("data"), Mapping) and "kind" in doc:
        doc = doc["data"]
    if not isinstance(doc, Mapping):
        raise ConfigFileError(f"{path}: must be a mapping of config-autoscaler keys")
    data: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, bool):  # YAML reads `true` as a bool; ConfigMap data is strings
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise ConfigFileError(f"{path}: {key}: must be a string, number or boolean")
        data[str(key)] = value
    return data


def _load_config_dir(path: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        # the mount's own bookkeeping (..data, ..2026_...) is hidden; keys are plain files
        if name.startswith(".") or not os.path.isfile(full):
            continue
        try:
            with open(full, encoding="utf-8") as f:
                data[name] = f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"{full}: {exc}") from None
    return data


async def follow_mount(service, path: str, every: float = 10.0) -> None:
    """Kubernetes updates a mounted ConfigMap in place: re-read it when its content changes."""
    last = load_config(path)
    while True:
        await asyncio.sleep(every)
        try:
            current = load_config(path)
        except ConfigFileError:
            continue
        if current != last:
            last = current
            reload(service, path)


def reload(service, path: str) -> None:
    """Apply the file's configuration to ``service``; a bad one is reported and the previous one kept."""
    try:
        service.update_config(load_config(path))
    except (ConfigFileError, ConfigError) as exc:
        log.error("keeping the previous configuration: %s", exc)
