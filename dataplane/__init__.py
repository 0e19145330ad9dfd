"""dataplane: a serverless data plane for HTTP workloads."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dataplane")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
