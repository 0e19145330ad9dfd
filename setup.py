"""Build the compiled twins of the ``dataplane`` package with Cython.

Two kinds of source:

* ``dataplane/<sub>/<name>_py.py`` with a ``<name>_c.pxd`` beside it is compiled
  as it is into ``dataplane.<sub>.<name>_c``: the ``.pxd`` gives its classes C
  types, so the twins are one text and cannot drift; likewise a plain
  ``<name>.py`` with an ``_<name>_c.pxd`` (the engine's ``downstream.py`` and
  ``upstream.py``, compiled into ``_downstream_c`` and ``_upstream_c``);
* ``ext/<sub>/<name>.pyx`` becomes ``dataplane.<sub>.<name>``: C code that truly
  differs from its twin (each says why at its top).

Without a working C compiler the build still succeeds with the pure-Python twins,
unless ``DATAPLANE_REQUIRE_EXTENSIONS=1`` asks for the compiled modules.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
BUILD_DIR = HERE / "build" / "cython"
REQUIRED = os.environ.get("DATAPLANE_REQUIRE_EXTENSIONS", "") in {"1", "true", "yes", "on"}
DISABLED = os.environ.get("DATAPLANE_NO_EXTENSIONS", "") in {"1", "true", "yes", "on"}
# the HTTP/2 session binds libnghttp2 (Debian: libnghttp2-dev); without it the h2 twin is used
NO_NGHTTP2 = os.environ.get("DATAPLANE_NO_NGHTTP2", "") in {"1", "true", "yes", "on"}


def libraries(name):
    """C libraries one extension links with; None to skip it (its pure twin is used)."""
    if name != "dataplane.http._h2_c":
        return []
    found = any(Path(d, "nghttp2", "nghttp2.h").exists() for d in ("/usr/include", "/usr/local/include"))
    if NO_NGHTTP2 or not found:
        if REQUIRED and not NO_NGHTTP2:
            raise RuntimeError("libnghttp2's headers are missing: install libnghttp2-dev")
        print(f"dataplane: {name} not built (no libnghttp2), the h2 twin will be used", file=sys.stderr)
        return None
    return ["nghttp2"]


def extensions():
    if DISABLED:
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if REQUIRED:
            raise
        print("dataplane: Cython not available, installing the pure-Python twins", file=sys.stderr)
        return []
    found = list(sources())
    drop_stale_c([source for _, source in found])
    modules = []
    for name, source in found:
        libs = libraries(name)
        if libs is None:
            continue
        modules.append(Extension(name, [str(source.relative_to(HERE))], extra_compile_args=["-O2"], libraries=libs))
    return cythonize(
        modules,
        language_level=3,
        quiet=True,
        # Cython finds a module's .pxd by its dotted name: dataplane/<sub>/<name>.pxd
        include_path=[str(HERE)],
        # the generated C out of the source tree (a twin's would be named after the .py)
        build_dir=str(BUILD_DIR.relative_to(HERE)),
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            # a twin's .pxd is its one C-level contract; its annotations stay
            # documentation (`x: int` would become an exact type check in C only)
            "annotation_typing": False,
        },
    )


def sources():
    """``(module name, source)`` of each compiled module; see the docstring above."""
    pyx = {"dataplane." + module_name(p.relative_to(HERE / "ext")): p for p in sorted((HERE / "ext").rglob("*.pyx"))}
    for pxd in sorted((HERE / "dataplane").rglob("*_c.pxd")):
        name = module_name(pxd.relative_to(HERE))
        if name in pyx:
            continue  # the declarations of a hand-written .pyx, for cimport
        stem = pxd.name[: -len("_c.pxd")]
        # <name>_py.py, or the public <name>.py of a pure module compiled as _<name>_c
        for twin in (pxd.with_name(stem + "_py.py"), pxd.with_name(stem.removeprefix("_") + ".py")):
            if twin.is_file():
                yield name, twin
                break
    yield from pyx.items()


def drop_stale_c(found):
    """Make Cython regenerate the C of every module when a .pxd changed.

    Its rebuild check looks for a ``.pxd`` named as the source, beside it: it
    misses a twin's ``<name>_c.pxd``, a ``.pyx``'s own ``.pxd`` in ``dataplane/``,
    and what those cimport. They change rarely; rebuilding all is simplest.
    """
    newest = max((pxd.stat().st_mtime for pxd in (HERE / "dataplane").rglob("*.pxd")), default=0.0)
    for source in found:
        c_file = BUILD_DIR / source.relative_to(HERE).with_suffix(".c")
        if c_file.is_file() and c_file.stat().st_mtime < newest:
            c_file.unlink()


def module_name(path):
    return ".".join(path.with_suffix("").parts)


class OptionalBuildExt(build_ext):
    """Treat a failed compile as 'use the twins' unless extensions are required."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            self._fallback(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._fallback(exc)

    def _fallback(self, exc):
        if REQUIRED:
            raise exc
        print(f"dataplane: compiling failed ({exc}); the pure-Python twins will be used", file=sys.stderr)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
