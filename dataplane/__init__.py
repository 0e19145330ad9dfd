"""dataplane: a serverless data plane for HTTP workloads."""

# the name it is installed under (pyproject.toml): `dataplane` on PyPI is an unrelated project
DISTRIBUTION = "serverless-dataplane"


def __getattr__(name: str):
    # resolved on first use: importlib.metadata costs every sidecar a few MB of memory at start-up
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(DISTRIBUTION)
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0+source"
    raise AttributeError(f"module 'dataplane' has no attribute {name!r}")
