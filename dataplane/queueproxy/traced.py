"""The queue-proxy's policy with OpenTelemetry spans: installed instead of ``QueueProxyPolicy`` only
when tracing is on, so with tracing off the request path is exactly the untraced policy's code.

Per request: a server span ``queue_proxy`` whose parent is the incoming W3C or B3 context, with a
child ``queue_wait`` while the breaker holds the request and a client child ``app`` from the moment it
goes to the app until the response ends. The app gets W3C and B3 headers naming ``queue_proxy`` as
parent; the client's trace headers are replaced, never passed on beside ours.
"""

from __future__ import annotations

from dataplane.queueproxy.policy import HELD, QUEUED_FLAG, QueueProxyPolicy
from dataplane.tracing import CLIENT, CLIENT_SPAN, SERVER_SPAN, WAIT_SPAN, TracedPolicy, Tracing

# index of each span in a request's entry
QUEUE_SPAN, APP_SPAN = WAIT_SPAN, CLIENT_SPAN


class TracedQueueProxyPolicy(TracedPolicy, QueueProxyPolicy):
    """``QueueProxyPolicy`` that also records each request's spans."""

    def __init__(self, loop, settings, readiness, tracing: Tracing | None = None):
        super().__init__(loop, settings, readiness)
        if tracing is None:
            attributes = {
                "k8s.namespace.name": settings.namespace,
                "kn.service.name": settings.service,
                "kn.configuration.name": settings.configuration,
                "kn.revision.name": settings.revision,
                "k8s.pod.name": settings.pod,
            }
            tracing = Tracing(settings.tracing, "queue-proxy", attributes)
        self.tracing = tracing
        # conn -> [server span, queue_wait span or None, app span or None], from the request head to its end
        self.spans: dict = {}
        self._head = None  # the head being handled, for _rewrites (not called for probes)

    def on_request(self, conn, head) -> None:
        self._head = head
        try:
            super().on_request(conn, head)
        finally:
            self._head = None
        entry = self.spans.get(conn)
        if entry is None or conn.slot is None:  # a probe, or already answered
            return
        if not entry[SERVER_SPAN].is_recording():  # not sampled: no children (they would cost as much again)
            return
        if self.breaker is None or conn.slot & HELD:
            entry[APP_SPAN] = self.tracing.child(entry[SERVER_SPAN], "app", CLIENT)
        elif conn.slot & QUEUED_FLAG:
            entry[QUEUE_SPAN] = self.tracing.child(entry[SERVER_SPAN], "queue_wait")

    def _rewrites(self, conn, found: dict) -> dict:
        replace = super()._rewrites(conn, found)
        self.start_request_span("queue_proxy", conn, self._head, replace)
        return replace

    def on_admitted(self, conn) -> None:
        entry = self.spans.get(conn)
        if entry is not None and entry[SERVER_SPAN].is_recording():
            if entry[QUEUE_SPAN] is not None:
                entry[QUEUE_SPAN].end()
                entry[QUEUE_SPAN] = None
            entry[APP_SPAN] = self.tracing.child(entry[SERVER_SPAN], "app", CLIENT)
        super().on_admitted(conn)
