"""OpenTelemetry spans for the proxies, exported over OTLP/HTTP: loaded only when tracing is on.

Imports the OpenTelemetry SDK (the ``tracing`` extra) at the top, so only a process whose
``tracing-protocol`` is ``http/protobuf`` ever carries it: the queue-proxy's sidecar and the activator's
main import this module (through their traced policies) only then, and the request path of a process
with tracing off is the same code as without this module.

Incoming context is read from W3C ``traceparent``/``tracestate`` and from B3, single (``b3``) or
multiple (``X-B3-*``) headers; W3C wins when a request carries both. Outgoing requests carry W3C and
B3 multiple headers, so an app or mesh that reads either keeps the trace. Sampling follows
knative.dev/pkg ``observability/tracing``: rate 1 samples everything, 0 nothing, anything between is
``ParentBased(TraceIdRatioBased(rate))``. Spans leave in batches from the SDK's own thread
(``BatchSpanProcessor``), never on the event loop.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.b3 import B3MultiFormat
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dataplane.http.engine import collect
from dataplane.tracingconfig import TracingConfig

# every header that carries a trace context in; the proxies drop them all and write their own
TRACE_HEADERS = frozenset(
    {b"traceparent", b"tracestate", b"b3", b"x-b3-traceid", b"x-b3-spanid", b"x-b3-sampled", b"x-b3-parentspanid", b"x-b3-flags"}
)
# B3 is read first (the single ``b3`` header, else ``X-B3-*``), then W3C, whose valid context wins: it is the standard
_B3, _W3C = B3MultiFormat(), TraceContextTextMapPropagator()
_INJECT = (_W3C, _B3)
SERVER, CLIENT, INTERNAL = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL
ERROR = StatusCode.ERROR


def sampler_for(rate: float) -> Sampler:
    """Knative's sampler for ``tracing-sampling-rate``."""
    if rate >= 1.0:
        return ALWAYS_ON
    if rate <= 0.0:
        return ALWAYS_OFF
    return ParentBased(TraceIdRatioBased(rate))


class Tracing:
    """One process's tracer: spans from incoming headers, children, and the headers for the next hop."""

    def __init__(self, config: TracingConfig, service: str, attributes: dict[str, str], exporter=None):
        resource = Resource.create({"service.name": service, **attributes})
        self.provider = TracerProvider(sampler=sampler_for(config.sampling_rate), resource=resource)
        # OTEL_BSP_SCHEDULE_DELAY and the other OTEL_BSP_* variables tune the batches
        self.provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=config.endpoint)))
        self.tracer = self.provider.get_tracer("dataplane")

    def start(self, name: str, incoming: dict[bytes, bytes], attributes: dict | None = None):
        """A server span whose parent is the context in ``incoming`` (trace headers, lower-case names), if any."""
        context = None
        if incoming:
            carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in incoming.items()}
            # each propagator only when its headers came: the extraction is most of a span's cost
            if b"traceparent" not in incoming or len(incoming) > 1 + (b"tracestate" in incoming):
                context = _B3.extract(carrier, context)
            if b"traceparent" in incoming:
                context = _W3C.extract(carrier, context)
        return self.tracer.start_span(name, context=context, kind=SERVER, attributes=attributes)

    def child(self, parent, name: str, kind=INTERNAL):
        """A span under ``parent``, started now."""
        return self.tracer.start_span(name, context=set_span_in_context(parent), kind=kind)

    def headers(self, span) -> dict[bytes, bytes]:
        """W3C and B3 headers naming ``span`` as the parent, for the request to the next hop."""
        carrier: dict[str, str] = {}
        context = set_span_in_context(span)
        for propagator in _INJECT:
            propagator.inject(carrier, context)
        return {k.lower().encode("latin-1"): v.encode("latin-1") for k, v in carrier.items()}

    @staticmethod
    def fail(span, description: str) -> None:
        """Mark ``span`` failed with the reason."""
        span.set_status(Status(ERROR, description))

    def close(self) -> None:
        """Send what is batched and stop the exporter's thread."""
        self.provider.shutdown()


# index of each span in a request's entry: the server span, the wait for room (the breaker's queue, the
# activator's throttler), and the client span to whoever answers (the app, the pod)
SERVER_SPAN, WAIT_SPAN, CLIENT_SPAN = 0, 1, 2


class TracedPolicy:
    """The span bookkeeping both traced policies share; put it before the policy class it traces.

    ``self.tracing`` and ``self.spans`` (conn -> [server, wait or None, client or None]) are the
    subclass's; ``start_request_span`` is called from its ``_rewrites`` with the head being handled.
    """

    tracing: Tracing
    spans: dict

    def start_request_span(self, name: str, conn, head, replace: dict) -> None:
        """Open ``name``'s server span from the request's incoming context, and make ``replace`` send ours
        on in place of the client's trace headers."""
        incoming = collect(head.headers, TRACE_HEADERS)
        attributes = {
            "http.request.method": head.method.decode("latin-1"),
            "url.path": head.target.decode("latin-1").partition("?")[0],
            "http.request.id": conn.request_id.decode("latin-1"),
        }
        span = self.tracing.start(name, incoming, attributes)
        self.spans[conn] = [span, None, None]
        for header in incoming:
            replace[header] = None
        replace.update(self.tracing.headers(span))

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
        if entry is not None and entry[CLIENT_SPAN] is not None:
            self.tracing.fail(entry[CLIENT_SPAN], reason)
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
