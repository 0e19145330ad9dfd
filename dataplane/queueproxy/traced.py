"""The queue-proxy's policy with OpenTelemetry spans: installed instead of ``QueueProxyPolicy`` only
when tracing is on, so with tracing off the request path is exactly the untraced policy's code.

Per request: a server span ``queue_proxy`` whose parent is the incoming W3C or B3 context, with a
child ``queue_wait`` while the breaker holds the request and a client child ``app`` from the moment it
goes to the app until the response ends. The app gets W3C and B3 headers naming ``queue_proxy`` as
parent; the client's trace headers are replaced, never passed on beside ours.
"""

from __future__ import annotations

from dataplane.http.engine import collect
from dataplane.queueproxy.policy import HELD, QUEUED_FLAG, QueueProxyPolicy
from dataplane.tracing import CLIENT, TRACE_HEADERS, Tracing

# index of each span in a request's entry
SERVER_SPAN, QUEUE_SPAN, APP_SPAN = 0, 1, 2


class TracedQueueProxyPolicy(QueueProxyPolicy):
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
        head = self._head
        incoming = collect(head.headers, TRACE_HEADERS)
        attributes = {
            "http.request.method": head.method.decode("latin-1"),
            "url.path": head.target.decode("latin-1").partition("?")[0],
            "http.request.id": conn.request_id.decode("latin-1"),
        }
        span = self.tracing.start("queue_proxy", incoming, attributes)
        self.spans[conn] = [span, None, None]
        for name in incoming:
            replace[name] = None
        replace.update(self.tracing.headers(span))
        return replace

    def on_admitted(self, conn) -> None:
        entry = self.spans.get(conn)
        if entry is not None and entry[SERVER_SPAN].is_recording():
            if entry[QUEUE_SPAN] is not None:
                entry[QUEUE_SPAN].end()
                entry[QUEUE_SPAN] = None
            entry[APP_SPAN] = self.tracing.child(entry[SERVER_SPAN], "app", CLIENT)
        super().on_admitted(conn)

    def on_done(self, conn) -> None:
        status = conn.status
        super().on_done(conn)
        entry = self.spans.pop(conn, None)
        if entry is not None:
            span = entry[SERVER_SPAN]
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self.tracing.fail(span, f"status {status}")
            self._end_spans(entry)

    def on_abort(self, conn) -> None:
        super().on_abort(conn)
        entry = self.spans.pop(conn, None)
        if entry is not None:
            self.tracing.fail(entry[SERVER_SPAN], "the client left before the response ended")
            self._end_spans(entry)

    def on_upstream_error(self, conn, reason: str, retryable: bool) -> None:
        entry = self.spans.get(conn)
        if entry is not None and entry[APP_SPAN] is not None:
            self.tracing.fail(entry[APP_SPAN], reason)
        super().on_upstream_error(conn, reason, retryable)

    def on_timeout(self, conn) -> None:
        entry = self.spans.get(conn)
        if entry is not None:
            entry[SERVER_SPAN].add_event("timeout")
        super().on_timeout(conn)

    @staticmethod
    def _end_spans(entry: list) -> None:
        for span in reversed(entry):
            if span is not None:
                span.end()

    def close(self) -> None:
        super().close()
        self.tracing.close()
