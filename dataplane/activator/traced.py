"""The activator's policy with OpenTelemetry spans: installed instead of ``ActivatorPolicy`` only when
tracing is on (``cmd/activator.py``), so with tracing off the request path is the untraced code.

Per routed request: a server span ``activator`` whose parent is the incoming W3C or B3 context, with a
child ``throttler_wait`` while it waits for a pod with room and a client child ``pod`` from the moment
it goes to a pod (a new one for each pod a failed dial moves it to) until the response ends. The pod's
queue-proxy gets W3C and B3 headers naming ``activator`` as parent. Requests answered before routing
(probes, unknown hosts) have no span.
"""

from __future__ import annotations

from dataplane.activator.policy import ActivatorPolicy
from dataplane.http.engine import collect
from dataplane.tracing import CLIENT, TRACE_HEADERS, Tracing

# index of each span in a request's entry
SERVER_SPAN, WAIT_SPAN, POD_SPAN = 0, 1, 2


class TracedActivatorPolicy(ActivatorPolicy):
    """``ActivatorPolicy`` that also records each request's spans."""

    def __init__(self, loop, state, reporter, tracing: Tracing, **kwargs):
        super().__init__(loop, state, reporter, **kwargs)
        self.tracing = tracing
        # conn -> [server span, throttler_wait span or None, pod span or None], from routing to the end
        self.spans: dict = {}
        self._head = None  # the head being handled, for _rewrites (called once the request is routed)

    def on_request(self, conn, head) -> None:
        self._head = head
        try:
            super().on_request(conn, head)
        finally:
            self._head = None
        entry = self.spans.get(conn)
        ticket = conn.slot
        if entry is None or ticket is None or entry[POD_SPAN] is not None:
            return
        if not entry[SERVER_SPAN].is_recording():  # not sampled: no children (they would cost as much again)
            return
        if ticket.pod is None:
            entry[WAIT_SPAN] = self.tracing.child(entry[SERVER_SPAN], "throttler_wait")
        else:  # a pod had room at once
            entry[POD_SPAN] = self.tracing.child(entry[SERVER_SPAN], "pod", CLIENT)

    def _rewrites(self, conn, found: dict) -> dict:
        replace = super()._rewrites(conn, found)
        head = self._head
        incoming = collect(head.headers, TRACE_HEADERS)
        attributes = {
            "http.request.method": head.method.decode("latin-1"),
            "url.path": head.target.decode("latin-1").partition("?")[0],
            "http.request.id": conn.request_id.decode("latin-1"),
        }
        span = self.tracing.start("activator", incoming, attributes)
        self.spans[conn] = [span, None, None]
        for name in incoming:
            replace[name] = None
        replace.update(self.tracing.headers(span))
        return replace

    def send(self, ticket, pod) -> None:
        entry = self.spans.get(ticket.conn)
        if entry is not None and entry[SERVER_SPAN].is_recording():
            for index in (WAIT_SPAN, POD_SPAN):  # a retry ends the failed dial's span
                if entry[index] is not None:
                    entry[index].end()
                    entry[index] = None
            span = entry[POD_SPAN] = self.tracing.child(entry[SERVER_SPAN], "pod", CLIENT)
            span.set_attribute("server.address", pod.pool.address)
        super().send(ticket, pod)

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
        if entry is not None and entry[POD_SPAN] is not None:
            self.tracing.fail(entry[POD_SPAN], reason)
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
