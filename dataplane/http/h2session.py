"""The HTTP/2 session: framing, HPACK, flow control and stream states, sans I/O.

Compiled on libnghttp2 (``ext/http/_h2_c.pyx``) or pure Python on ``h2``
(``_h2_py``), chosen once at import; both answer bad input with the same frames.

``Session(handler, client=False, limits=H2Limits(), clock=time.monotonic)`` is one
connection, server or client side. Bytes in with ``receive(data)``, bytes out with
``data_to_send()``; ``initiate()`` queues our preface and SETTINGS first. The
handler's methods are called synchronously from ``receive`` (no Task, no event
list per call), and must be:

* ``on_headers(stream_id, headers)``: a request head (server) or a response head,
  1xx included (client); ``headers`` is a list of ``(name, value)`` bytes pairs,
  pseudo-headers first;
* ``on_data(stream_id, data)``: a body chunk; the peer's window reopens only when
  ``consumed(stream_id, len(data))`` says the bytes were taken (padding is
  acknowledged by the session);
* ``on_trailers(stream_id, headers)``; ``on_end(stream_id)``: the peer ended the stream;
* ``on_reset(stream_id, error_code)``: the stream ended abnormally, reset by the peer
  or by the session over the peer's bad input (never for the handler's own
  ``reset_stream``);
* ``on_goaway(error_code, last_stream_id)``; ``on_settings_acked()``;
* ``on_window_update(stream_id)``: more may be sent on the stream (0: on any stream).

Sending: ``send_request(headers, end_stream=False) -> stream_id`` (client),
``send_headers(stream_id, headers, end_stream=False)``, ``send_data(stream_id, data,
end_stream=False)`` with at most ``send_window(stream_id)`` bytes (``FlowControlError``
beyond: the caller keeps the rest until ``on_window_update``), ``send_trailers``,
``reset_stream(stream_id, error_code)``, ``consumed``, ``update_settings(...)``,
``goaway(error_code=NO_ERROR)`` (NO_ERROR drains: open streams finish; any other
code ends the connection). Sending on a stream that is already closed or reset
does nothing: the peer may reset a stream at any moment.

``peer_max_streams`` is the peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its
SETTINGS arrive, 2**31-1 when they name none): a client opens no more streams at once.

``closed`` turns true when the connection is over (write ``data_to_send()``, then
close); ``established`` once the peer's SETTINGS arrived (a server applies its
preface timeout until then).

Bad input, alike in both builds (bounds in ``H2Limits``): a malformed frame or
a connection-level protocol violation is GOAWAY with the RFC 9113 code; a bad
request head is RST_STREAM PROTOCOL_ERROR; a request head over
``max_header_list_size`` is answered ``431`` by the session; streams past
``max_concurrent_streams`` are REFUSED_STREAM until the peer acknowledged our
SETTINGS, a PROTOCOL_ERROR GOAWAY after; a CONTINUATION flood, an HPACK bomb and
a rapid-reset flood are GOAWAY ENHANCE_YOUR_CALM. None of it reaches the handler.
"""

from __future__ import annotations

from dataplane._twins import pick
from dataplane.http.h2limits import FlowControlError, H2Limits, H2UsageError

_impl = pick("dataplane.http._h2_c", "dataplane.http._h2_py")

Session = _impl.Session

__all__ = ["FlowControlError", "H2Limits", "H2UsageError", "Session"]
