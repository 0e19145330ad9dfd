"""HTTP/2 session on ``h2`` (python-hyper): the pure-Python twin of ``_h2_c``.

The API is described in ``dataplane.http.h2session``. ``h2`` does the framing,
HPACK, flow control and stream states; this module adds what the compiled twin
gets from libnghttp2 or from its own callbacks, so that both answer bad input
with the same frames and error codes: nghttp2's HTTP messaging checks
(``h2headers``), the CONTINUATION and HPACK-bomb bounds, the rapid-reset budget,
REFUSED_STREAM before the peer acknowledged our SETTINGS, and the 431 answer.
"""

from __future__ import annotations

import collections
import time

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    InformationalResponseReceived,
    RemoteSettingsChanged,
    RequestReceived,
    ResponseReceived,
    SettingsAcknowledged,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from h2.exceptions import ProtocolError, StreamClosedError
from h2.frame_buffer import FrameBuffer
from h2.settings import SettingCodes
from h2.stream import H2Stream
from hpack import Decoder
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.frame import ContinuationFrame, HeadersFrame

from dataplane.http import h2headers
from dataplane.http.h2limits import (
    COMPRESSION_ERROR,
    ENHANCE_YOUR_CALM,
    INTERNAL_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    FlowControlError,
    H2Limits,
    H2UsageError,
    ResetBudget,
    goaway_frame,
    response_431,
    rst_frame,
)

_UNLIMITED = 2**31 - 1
_ASSUMED_STREAMS = 100  # libnghttp2's SETTINGS_MAX_CONCURRENT_STREAMS for a peer not heard from yet
_CLOSED = ConnectionState.CLOSED
_DEFAULT_LIMITS = H2Limits()


class _Calm(ProtocolError):
    """A bound of ours was crossed: h2 answers any ProtocolError with GOAWAY of its code."""

    error_code = ENHANCE_YOUR_CALM


class _Compression(ProtocolError):
    """A header block that does not decode (h2 would say PROTOCOL_ERROR; RFC 9113 §4.3 says this)."""

    error_code = COMPRESSION_ERROR


class _Decoder(Decoder):
    def decode(self, data, raw=False):
        try:
            return super().decode(data, raw=raw)
        except OversizedHeaderListError as exc:
            raise _Calm(str(exc)) from exc
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise _Compression(str(exc)) from exc


class _Stream(H2Stream):
    """An h2 stream that leaves content-length to the session: nghttp2 makes a mismatch a
    stream error, h2 a connection error."""

    def _initialize_content_length(self, headers) -> None:
        self._expected_content_length = None

    def _track_content_length(self, length: int, end_stream: bool) -> None:
        pass


class _Connection(H2Connection):
    goaway_received = False

    def _begin_new_stream(self, stream_id, allowed_ids):
        stream = super()._begin_new_stream(stream_id, allowed_ids)
        stream.__class__ = _Stream
        return stream

    def _receive_goaway_frame(self, frame):
        # h2 closes at once and drops what is queued; nghttp2 (and RFC 9113 §6.8) lets the
        # streams the GOAWAY spares finish, so the state stays open and only new streams stop
        self.goaway_received = True
        event = ConnectionTerminated()
        event.error_code = frame.error_code
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class _Frames(FrameBuffer):
    """h2's frame buffer with our CONTINUATION bounds (h2's own is 64 frames, PROTOCOL_ERROR)."""

    def __init__(self, server: bool, limits: H2Limits) -> None:
        super().__init__(server=server)
        self._max_cont = limits.max_continuations
        self._max_block = limits.max_header_block
        self._cont = 0
        self._block = 0

    def _update_header_buffer(self, f):
        if isinstance(f, HeadersFrame):
            self._cont = 0
            self._block = f.body_len
        elif isinstance(f, ContinuationFrame):
            self._cont += 1
            self._block += f.body_len
            if self._cont > self._max_cont:
                raise _Calm("too many CONTINUATION frames")
            if self._block > self._max_block:
                raise _Calm("header block too large")
        return super()._update_header_buffer(f)


class Session:
    """One HTTP/2 connection's state, sans I/O; see ``dataplane.http.h2session``."""

    def __init__(self, handler, client: bool = False, limits: H2Limits | None = None, clock=time.monotonic):
        self._handler = handler
        self.client = client
        self.limits = limits = limits or _DEFAULT_LIMITS
        self._closed = False
        self.established = False
        self._draining = False
        self._extra = b""
        self._live: set[int] = set()  # streams the handler knows
        self._local_done: set[int] = set()  # of those, streams we ended
        self._budget = ResetBudget(limits.reset_burst, limits.reset_rate, clock) if not client else None
        self._lengths: dict[int, list[int]] = {}  # stream -> [content-length, bytes received]
        self._no_body: set[int] = set()  # client streams whose response has no body (HEAD)
        conn = _Connection(
            H2Configuration(
                client_side=client,
                header_encoding=None,
                validate_inbound_headers=False,  # h2headers checks as nghttp2 does: stream errors, not GOAWAY
                normalize_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        conn.decoder = _Decoder()
        conn.incoming_buffer = _Frames(server=not client, limits=limits)
        conn.max_inbound_frame_size = limits.max_frame_size
        conn.incoming_buffer.max_frame_size = limits.max_frame_size
        self._conn = conn

    # -- setup

    def initiate(self) -> None:
        """Queue the connection preface (client) and our SETTINGS."""
        lim = self.limits
        conn = self._conn
        advertised = {
            SettingCodes.HEADER_TABLE_SIZE: lim.header_table_size,
            SettingCodes.ENABLE_PUSH: 0,
            SettingCodes.MAX_CONCURRENT_STREAMS: lim.max_concurrent_streams,
            SettingCodes.INITIAL_WINDOW_SIZE: lim.initial_window_size,
            SettingCodes.MAX_FRAME_SIZE: lim.max_frame_size,
            SettingCodes.MAX_HEADER_LIST_SIZE: lim.max_header_list_size,
        }
        conn.local_settings._settings.clear()  # noqa: SLF001 - only our settings go out
        for key, value in advertised.items():
            conn.local_settings._settings[key] = collections.deque([value])  # noqa: SLF001
        conn.initiate_connection()
        # nghttp2 applies SETTINGS_MAX_CONCURRENT_STREAMS once acknowledged and refuses streams
        # past the pending value itself (REFUSED_STREAM); h2 must not enforce it before the ACK
        conn.local_settings._settings[SettingCodes.MAX_CONCURRENT_STREAMS] = collections.deque(  # noqa: SLF001
            [_UNLIMITED, lim.max_concurrent_streams]
        )
        self._pending_streams = lim.max_concurrent_streams
        self._header_decoder_limit()

    def _header_decoder_limit(self) -> None:
        # hpack stops decoding past this (an HPACK bomb, GOAWAY ENHANCE_YOUR_CALM); the advertised
        # max_header_list_size is checked per request, answered with 431
        self._conn.decoder.max_header_list_size = self.limits.header_hard_limit
        self._conn.decoder.max_allowed_table_size = self.limits.header_table_size

    @property
    def closed(self) -> bool:
        """True once the connection is over: flush ``data_to_send()``, then close the transport."""
        if self._closed:
            return True
        conn = self._conn
        if (self._draining or conn.goaway_received) and not (conn.open_inbound_streams or conn.open_outbound_streams):
            return True
        return False

    # -- input

    def receive(self, data: bytes) -> None:
        """Process bytes from the peer; the handler is called for what they carry."""
        if self._closed or not data:
            return
        conn = self._conn
        try:
            events = conn.receive_data(data)
        except ProtocolError as exc:
            # h2 queued a GOAWAY with the error's code, but for a bad client preface
            if not self._closed and conn.state_machine.state is not _CLOSED:
                conn.close_connection(error_code=exc.error_code, last_stream_id=conn.highest_inbound_stream_id)
            self._closed = True
            return
        try:
            for event in events:
                self._dispatch(event)
        except BaseException:
            self._fail(INTERNAL_ERROR)
            raise

    def _fail(self, code: int) -> None:
        if not self._closed:
            self._closed = True
            self._conn.close_connection(error_code=code, last_stream_id=self._conn.highest_inbound_stream_id)

    def _dispatch(self, event) -> None:
        cls = type(event)
        handler = self._handler
        if cls is DataReceived:
            sid = event.stream_id
            if sid in self._live:
                padding = event.flow_controlled_length - len(event.data)
                if padding:
                    self._conn.acknowledge_received_data(padding, sid)
                length = self._lengths.get(sid)
                if length is not None:
                    length[1] += len(event.data)
                    if length[1] > length[0]:
                        self._conn.acknowledge_received_data(len(event.data), sid)
                        self._refuse(sid, PROTOCOL_ERROR)
                        return
                handler.on_data(sid, event.data)
            else:
                self._conn.acknowledge_received_data(event.flow_controlled_length, sid)
        elif cls is RequestReceived or cls is ResponseReceived or cls is InformationalResponseReceived:
            self._on_head(event.stream_id, event.headers)
        elif cls is StreamEnded:
            sid = event.stream_id
            if sid in self._live:
                length = self._lengths.get(sid)
                if length is not None and length[1] != length[0]:
                    self._refuse(sid, PROTOCOL_ERROR)
                    return
                if sid in self._local_done:
                    self._forget(sid)
                handler.on_end(sid)
        elif cls is TrailersReceived:
            sid = event.stream_id
            if sid in self._live:
                headers = event.headers
                if h2headers.size(headers) > self.limits.max_header_list_size or not h2headers.trailers_ok(headers):
                    self._refuse(sid, PROTOCOL_ERROR)
                else:
                    handler.on_trailers(sid, headers)
        elif cls is StreamReset:
            sid = event.stream_id
            if event.remote_reset and self._budget is not None and not self._budget.take():
                self._fail(ENHANCE_YOUR_CALM)
            if sid in self._live:
                self._forget(sid)
                handler.on_reset(sid, event.error_code)
        elif cls is WindowUpdated:
            handler.on_window_update(event.stream_id)
        elif cls is RemoteSettingsChanged:
            self.established = True
            if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                handler.on_window_update(0)
        elif cls is SettingsAcknowledged:
            self._header_decoder_limit()
            handler.on_settings_acked()
        elif cls is ConnectionTerminated:
            last = event.last_stream_id or 0
            handler.on_goaway(event.error_code, last)
            if self.client:
                # streams past the server's last one were never seen by it (RFC 9113 §6.8): refused,
                # as libnghttp2 closes them, so their requests may go elsewhere
                for sid in sorted(s for s in self._live if s > last):
                    self._forget(sid)
                    handler.on_reset(sid, REFUSED_STREAM)

    def _on_head(self, sid: int, headers: list) -> None:
        lim = self.limits
        if not self.client:
            if self._draining:
                self._conn.reset_stream(sid, REFUSED_STREAM)
                return
            if self._conn.open_inbound_streams > self._pending_streams:
                self._conn.reset_stream(sid, REFUSED_STREAM)
                return
            if h2headers.size(headers) > lim.max_header_list_size:
                self._conn.send_headers(sid, response_431(), end_stream=True)
                return
            if not h2headers.request_ok(headers):
                self._conn.reset_stream(sid, PROTOCOL_ERROR)
                return
            self._live.add(sid)
        elif sid in self._live:
            if h2headers.size(headers) > lim.max_header_list_size or not h2headers.response_ok(headers):
                self._refuse(sid, PROTOCOL_ERROR)
                return
        else:
            return
        length = h2headers.content_length(headers)
        if length == -2:
            self._refuse(sid, PROTOCOL_ERROR)
            return
        if length >= 0 and sid not in self._no_body:
            self._lengths[sid] = [length, 0]
        self._handler.on_headers(sid, headers)

    def _refuse(self, sid: int, code: int) -> None:
        try:
            self._conn.reset_stream(sid, code)
        except (StreamClosedError, ProtocolError):
            # the peer's END_STREAM closed it in h2's eyes; nghttp2 still says why it refused it
            self._extra += rst_frame(sid, code)
        if sid in self._live:
            self._forget(sid)
            self._handler.on_reset(sid, code)

    def _forget(self, sid: int) -> None:
        self._live.discard(sid)
        self._local_done.discard(sid)
        self._lengths.pop(sid, None)
        self._no_body.discard(sid)

    # -- output

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer now (may be empty)."""
        out = self._conn.data_to_send()
        if self._extra:
            out += self._extra
            self._extra = b""
        return out

    def send_request(self, headers: list, end_stream: bool = False) -> int:
        """Open a stream with a request head (client role); returns its id."""
        if not self.client:
            raise H2UsageError("send_request on a server session")
        if self._conn.goaway_received or self._draining:
            raise H2UsageError("no new streams after a GOAWAY")
        sid = self._conn.get_next_available_stream_id()
        self._conn.send_headers(sid, headers, end_stream=end_stream)
        self._live.add(sid)
        if end_stream:
            self._local_done.add(sid)
        for name, value in headers:
            if name == b":method":
                if value == b"HEAD":
                    self._no_body.add(sid)
                break
        return sid

    def send_headers(self, stream_id: int, headers: list, end_stream: bool = False) -> None:
        """Send a response head (or a 1xx) on a stream the peer opened."""
        if stream_id not in self._live:
            return
        try:
            self._conn.send_headers(stream_id, headers, end_stream=end_stream)
        except StreamClosedError:
            return
        if end_stream:
            self._ended(stream_id)

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Send body bytes; at most ``send_window(stream_id)`` of them (FlowControlError beyond)."""
        if stream_id not in self._live:
            return
        conn = self._conn
        n = len(data)
        try:
            if n > conn.local_flow_control_window(stream_id):
                raise FlowControlError(f"{n} bytes over the window of stream {stream_id}")
            size = conn.max_outbound_frame_size
            if n <= size:
                conn.send_data(stream_id, data, end_stream=end_stream)
            else:
                last = n - size
                for i in range(0, n, size):
                    conn.send_data(stream_id, data[i : i + size], end_stream=end_stream and i >= last)
        except StreamClosedError:
            return
        if end_stream:
            self._ended(stream_id)

    def send_trailers(self, stream_id: int, headers: list) -> None:
        """End the stream with a trailer block."""
        self.send_headers(stream_id, headers, end_stream=True)

    def _ended(self, sid: int) -> None:
        stream = self._conn.streams.get(sid)
        if stream is None or stream.closed:
            self._forget(sid)
        else:
            self._local_done.add(sid)

    def send_window(self, stream_id: int) -> int:
        """Bytes ``send_data`` may take now on this stream (0 when it is closed)."""
        try:
            return max(0, self._conn.local_flow_control_window(stream_id))
        except (StreamClosedError, ProtocolError):
            return 0

    @property
    def peer_max_streams(self) -> int:
        """Streams the peer lets us open at once: its SETTINGS_MAX_CONCURRENT_STREAMS (2**31-1
        when its SETTINGS name none; 100 until they arrive, as libnghttp2 assumes)."""
        if not self.established:
            return _ASSUMED_STREAMS
        return min(self._conn.remote_settings.max_concurrent_streams, _UNLIMITED)

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        """Reset a stream; the handler hears nothing more of it."""
        self._forget(stream_id)
        try:
            self._conn.reset_stream(stream_id, error_code)
        except (StreamClosedError, ProtocolError):
            pass

    def consumed(self, stream_id: int, n: int) -> None:
        """The handler took ``n`` bytes of the stream's data: the peer may send as many more."""
        if n > 0 and not self._closed:
            self._conn.acknowledge_received_data(n, stream_id)

    def update_settings(
        self,
        max_concurrent_streams: int | None = None,
        initial_window_size: int | None = None,
        max_header_list_size: int | None = None,
        max_frame_size: int | None = None,
    ) -> None:
        """Send new SETTINGS; they apply once the peer acknowledges them."""
        new = {}
        if max_concurrent_streams is not None:
            new[SettingCodes.MAX_CONCURRENT_STREAMS] = max_concurrent_streams
            self._pending_streams = max_concurrent_streams
        if initial_window_size is not None:
            new[SettingCodes.INITIAL_WINDOW_SIZE] = initial_window_size
        if max_header_list_size is not None:
            new[SettingCodes.MAX_HEADER_LIST_SIZE] = max_header_list_size
        if max_frame_size is not None:
            new[SettingCodes.MAX_FRAME_SIZE] = max_frame_size
        if new:
            self._conn.update_settings(new)

    def goaway(self, error_code: int = NO_ERROR) -> None:
        """NO_ERROR: no new streams, the open ones finish. Any other code ends the connection."""
        if self._closed:
            return
        if error_code != NO_ERROR:
            self._fail(error_code)
        elif not self._draining:
            self._draining = True
            self._extra += goaway_frame(self._conn.highest_inbound_stream_id, NO_ERROR)
