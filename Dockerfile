# syntax=docker/dockerfile:1
# One image for every component: `dataplane controller`, `dataplane activator`,
# `dataplane autoscaler`, and `dataplane queue-proxy` (the sidecar the controller injects).

# -- build: the wheel of dataplane with its Cython modules compiled, and wheels of its dependencies
FROM python:3.11-slim AS build
# gcc and the C library headers compile the Cython modules (ext/ and the twins in dataplane/), libnghttp2-dev
# the HTTP/2 session; the image brings Python's own headers
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libnghttp2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY ext ./ext
COPY dataplane ./dataplane
# a missing compiler must fail the build, not fall back to the pure-Python twins
ENV DATAPLANE_REQUIRE_EXTENSIONS=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# with the tracing extra, so config-observability's tracing-protocol http/protobuf works in the image
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[tracing]"

# -- runtime: the wheels installed, nothing to compile with, a non-root user
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DATAPLANE_REQUIRE_EXTENSIONS=1
# the compiled HTTP/2 session links libnghttp2 (the shared library only)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libnghttp2-14 \
    && rm -rf /var/lib/apt/lists/*
# the wheels are bind-mounted from the build stage, so no layer keeps them
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "$(echo /wheels/serverless_dataplane-*.whl)[tracing]" \
    && dataplane version
# numeric, so the kubelet can check runAsNonRoot without a passwd entry
USER 65532:65532
# 8012 requests, 8022 drain, 9090 stats/metrics, 9091 queue-proxy metrics, 8080 controller/autoscaler
EXPOSE 8012 8022 9090 9091 8080
ENTRYPOINT ["dataplane"]
CMD ["version"]
