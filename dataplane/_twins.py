"""Choose between a compiled module and its pure-Python twin.

The compiled module is the twin itself compiled through a ``.pxd``, or a
hand-written ``.pyx`` from ``ext/`` where the C code differs (see ``setup.py``).

The choice is made once per module, at import time:

* ``DATAPLANE_NO_EXTENSIONS=1`` always takes the pure-Python twin;
* ``DATAPLANE_REQUIRE_EXTENSIONS=1`` makes a missing or broken compiled module
  an ``ImportError`` (CI and the container image set it);
* otherwise the compiled module is preferred and the twin is the fallback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

NO_EXTENSIONS_ENV = "DATAPLANE_NO_EXTENSIONS"
REQUIRE_EXTENSIONS_ENV = "DATAPLANE_REQUIRE_EXTENSIONS"

# module name of each twin pair -> "compiled" | "pure", for `dataplane version`
chosen: dict[str, str] = {}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def extensions_disabled() -> bool:
    """True when the pure-Python twins are forced."""
    return _flag(NO_EXTENSIONS_ENV)


def extensions_required() -> bool:
    """True when a missing compiled module must be a hard error."""
    return _flag(REQUIRE_EXTENSIONS_ENV) and not extensions_disabled()


def pick(compiled: str, pure: str) -> ModuleType:
    """Import ``compiled`` (a module ``setup.py`` builds) or its twin ``pure``."""
    if not extensions_disabled():
        try:
            module = importlib.import_module(compiled)
        except ImportError as exc:
            if extensions_required():
                raise ImportError(
                    f"{compiled} is not built and {REQUIRE_EXTENSIONS_ENV}=1: "
                    f"build it with `python setup.py build_ext --inplace` ({exc})"
                ) from exc
        else:
            chosen[pure] = "compiled"
            return module
    chosen[pure] = "pure"
    return importlib.import_module(pure)


def twin_modules() -> dict[str, str]:
    """Map each known twin module to the implementation in use.

    Importing the public modules fills ``chosen``; this imports them all.
    """
    for name in TWIN_USERS:
        importlib.import_module(name)
    return dict(sorted(chosen.items()))


# public modules that choose a twin at import; `dataplane version` imports them
TWIN_USERS: tuple[str, ...] = (
    "dataplane.queueproxy.breaker",
    "dataplane.stats.collector",
    "dataplane.http.parser",
    "dataplane.http.engine",
    "dataplane.http.h2session",
)
