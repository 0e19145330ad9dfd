"""JSON requests and watch streams over kubernetes-asyncio's ``ApiClient``.

One generic path for every kind (core, apps, discovery, coordination, Gateway
API and serving.knative.dev): objects stay plain dicts, as the reconcilers
use them, while authentication, TLS and token refresh come from the
``ApiClient`` configuration (in-cluster service account or a kubeconfig).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import ConfigException, load_incluster_config, load_kube_config

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = 30.0


class ApiError(Exception):
    """A non-2xx answer: the HTTP status and the ``reason``/``message`` of its Status body."""

    def __init__(self, status: int, reason: str = "", message: str = ""):
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")

    @classmethod
    def from_body(cls, status: int, body: bytes) -> ApiError:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return cls(status, "", body[:200].decode(errors="replace"))
        if not isinstance(doc, dict):
            return cls(status, "", str(doc)[:200])
        return cls(status, str(doc.get("reason") or ""), str(doc.get("message") or ""))


class KubeClient:
    """Requests to the API server; every answer body is a JSON object."""

    def __init__(self, api: ApiClient, timeout: float = REQUEST_TIMEOUT):
        self.api = api
        self.timeout = timeout

    async def _send(self, method: str, path: str, query: Mapping[str, str] | None, body, content_type: str, timeout):
        return await self.api.call_api(
            path,
            method,
            query_params=list(query.items()) if query else None,
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: dict | None = None,
        content_type: str = JSON,
    ) -> dict:
        """Send one request; ``ApiError`` for any status outside 2xx."""
        resp = await self._send(method, path, query, body, content_type, self.timeout)
        try:
            data = await resp.read()
        finally:
            resp.release()
        if not 200 <= resp.status < 300:
            raise ApiError.from_body(resp.status, data)
        return orjson.loads(data) if data else {}

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> dict:
        return await self.request("GET", path, query=query)

    async def watch(self, path: str, query: Mapping[str, str], idle_timeout: float) -> AsyncIterator[dict]:
        """The events of one watch request, until the server ends the stream.

        ``idle_timeout`` bounds the silence between two chunks, so a dead
        connection is noticed (the server sends bookmarks or closes well before).
        """
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=idle_timeout)
        resp = await self._send("GET", path, {**query, "watch": "true"}, None, JSON, timeout)
        try:
            if resp.status != 200:
                raise ApiError.from_body(resp.status, await resp.read())
            async for line in resp.content:
                if line.strip():
                    yield orjson.loads(line)
        finally:
            resp.close()


async def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> Configuration:
    """The in-cluster service account when running in a pod, else the kubeconfig (``$KUBECONFIG`` or ~/.kube/config)."""
    configuration = Configuration()
    if kubeconfig is None and context is None:
        try:
            load_incluster_config(client_configuration=configuration)
            return configuration
        except ConfigException:
            pass
    await load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    return configuration
