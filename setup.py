"""Build the Cython modules in ``ext/`` into the ``dataplane`` package.

``ext/<sub>/<name>.pyx`` becomes the module ``dataplane.<sub>.<name>``. Without a
working C compiler the build still succeeds with the pure-Python twins, unless
``DATAPLANE_REQUIRE_EXTENSIONS=1`` asks for the compiled modules.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
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
    modules = []
    for pyx in sorted((HERE / "ext").rglob("*.pyx")):
        rel = pyx.relative_to(HERE / "ext").with_suffix("")
        name = "dataplane." + ".".join(rel.parts)
        libs = libraries(name)
        if libs is None:
            continue
        modules.append(Extension(name, [str(pyx.relative_to(HERE))], extra_compile_args=["-O2"], libraries=libs))
    return cythonize(
        modules,
        language_level=3,
        quiet=True,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


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
