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
from dataplane.tracing import CLIENT, CLIENT_SPAN, SERVER_SPAN, WAIT_SPAN, TracedPolicy, Tracing

# index of each span in a request's entry
POD_SPAN = CLIENT_SPAN


class TracedActivatorPolicy(TracedPolicy, ActivatorPolicy):
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
        self.start_request_span("activator", conn, self._head, replace)
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
