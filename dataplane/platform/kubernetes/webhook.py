"""The admission webhook's HTTPS listener (Knative's port 8443), served by every controller replica.

POST /defaulting          MutatingWebhookConfiguration ``webhook.serving.knative.dev``
POST /validation          ValidatingWebhookConfiguration ``validation.webhook.serving.knative.dev``
POST /config-validation   ValidatingWebhookConfiguration ``config.webhook.serving.knative.dev``

Who may reach it: anything that can reach the ``webhook`` Service. It trusts no
caller: an answer only says whether the object sent is valid and how it would
be defaulted, nothing is stored or changed, and bodies are bounded. Until the
replica's caches are synced (the platform ConfigMaps read) it answers 503, which
the API server counts as a failed call (``failurePolicy: Fail`` refuses the write).
The certificate comes from ``certs.WebhookCertificates``; a renewed one is loaded
into the same ``SSLContext`` and used from the next connection on.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Callable

import orjson
from aiohttp import web

from dataplane.api.config import Config
from dataplane.platform.kubernetes import admission
from dataplane.platform.kubernetes.certs import Bundle

MAX_BODY = 4 << 20
"""An AdmissionReview carries the object and the old one, each at most etcd's 1.5 MiB."""
WEBHOOK_PORT = 8443


def server_context(bundle: Bundle) -> ssl.SSLContext:
    """A TLS 1.2+ server context holding ``bundle``'s certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load(context, bundle)
    return context


def load(context: ssl.SSLContext, bundle: Bundle) -> None:
    """Put ``bundle``'s certificate and key into ``context`` (``ssl`` reads them only from files)."""
    with tempfile.TemporaryDirectory(prefix="webhook-") as directory:
        path = os.path.join(directory, "tls.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bundle.key + bundle.cert)
        context.load_cert_chain(path)


class WebhookApi:
    """The three hooks over the current platform ``Config``; answers 503 while ``ready()`` is false."""

    def __init__(self, config: Callable[[], Config], ready: Callable[[], bool]):
        self.config = config
        self.ready = ready

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        for hook in admission.HOOKS:
            app.router.add_post(f"/{hook}", self._handler(hook))
        return app

    def _handler(self, hook: str):
        async def handle(request: web.Request) -> web.Response:
            if request.content_type != "application/json":
                return _error(415, "expected application/json")
            if not self.ready():
                return _error(503, "the webhook's caches are not synced yet")
            try:
                review = admission.parse_review(await request.read())
            except admission.ReviewError as exc:
                return _error(400, str(exc))
            answer = admission.review(hook, review, self.config())
            return web.Response(body=orjson.dumps(answer), content_type="application/json")

        return handle


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}), content_type="application/json")
