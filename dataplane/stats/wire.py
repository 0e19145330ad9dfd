"""Knative's ``metrics.Stat`` protobuf messages, without a protobuf dependency.

The queue-proxy serves one ``Stat`` on ``:9090/metrics``; the activator sends
``WireStatMessages`` to the autoscaler over a WebSocket. Both are proto3
(upstream ``pkg/autoscaler/metrics/stat.proto``)::

    message Stat {
      string pod_name = 1;
      double average_concurrent_requests = 2;
      double average_proxied_concurrent_requests = 3;
      double request_count = 4;
      double proxied_request_count = 5;
      double process_uptime = 6;
      int64 timestamp = 7;
    }
    message WireStatMessage { string namespace = 1; string name = 2; Stat stat = 3; }
    message WireStatMessages { repeated WireStatMessage messages = 1; }

Encoding omits zero values and writes fields in number order, as the Go
encoder does, so output is byte-for-byte what upstream produces. Decoding
skips unknown fields and fields of an unexpected wire type, keeps the last
value of a repeated scalar, merges a repeated ``stat``, and raises
``ValueError`` naming the problem for truncated or malformed input.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Iterable


_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_DOUBLE = struct.Struct("<d")
_U64 = 1 << 64
_MAX_FIELD = (1 << 29) - 1

# Stat's field numbers, proto names and proto3 JSON names, in field order.
_DOUBLE_FIELDS = (
    (2, "average_concurrent_requests", "averageConcurrentRequests"),
    (3, "average_proxied_concurrent_requests", "averageProxiedConcurrentRequests"),
    (4, "request_count", "requestCount"),
    (5, "proxied_request_count", "proxiedRequestCount"),
    (6, "process_uptime", "processUptime"),
)
_DOUBLE_BY_NUMBER = {number: name for number, name, _ in _DOUBLE_FIELDS}
_JSON_NAMES = {
    "pod_name": "podName",
    **{name: json_name for _, name, json_name in _DOUBLE_FIELDS},
    "timestamp": "timestamp",
}
_BY_JSON_NAME = {json_name: name for name, json_name in _JSON_NAMES.items()}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Stat:
    """One pod's (or activator's) request statistics for one reporting window."""

    pod_name: str = ""
    #: time-weighted mean of requests in progress (queued ones included)
    average_concurrent_requests: float = 0.0
    #: the part of the above that came through the activator
    average_proxied_concurrent_requests: float = 0.0
    #: requests that arrived in the window (per second for a 1 s window)
    request_count: float = 0.0
    #: the part of the above that came through the activator
    proxied_request_count: float = 0.0
    #: seconds since the reporting process started
    process_uptime: float = 0.0
    #: seconds since the Unix epoch; 0 (unset) from queue-proxy
    timestamp: int = 0

    def to_proto(self) -> bytes:
        """Encode as the ``metrics.Stat`` protobuf."""
        out = bytearray()
        if self.pod_name:
            _put_string(out, 1, self.pod_name)
        for number, name, _ in _DOUBLE_FIELDS:
            value = getattr(self, name)
            # proto3 omits +0.0 only: -0.0 and NaN are not the default.
            if value != 0.0 or math.copysign(1.0, value) < 0:
                out += _tag(number, _I64)
                out += _DOUBLE.pack(value)
        if self.timestamp:
            if not _INT64_MIN <= self.timestamp <= _INT64_MAX:
                raise ValueError(f"Stat.timestamp: {self.timestamp} is out of int64 range")
            out += _tag(7, _VARINT)
            out += _varint(self.timestamp % _U64)
        return bytes(out)

    @classmethod
    def from_proto(cls, data: bytes) -> Stat:
        """Decode a ``metrics.Stat`` protobuf; ``ValueError`` if malformed."""
        fields: dict = {}
        _merge_stat(memoryview(data), fields)
        return cls(**fields)

    def to_json(self) -> bytes:
        """Encode in proto3's JSON mapping (camelCase names, zero values omitted)."""
        doc: dict = {}
        if self.pod_name:
            doc["podName"] = self.pod_name
        for _, name, json_name in _DOUBLE_FIELDS:
            value = getattr(self, name)
            if value != 0.0 or math.copysign(1.0, value) < 0:
                doc[json_name] = _json_double(value)
        if self.timestamp:
            # proto3 JSON writes int64 as a string: doubles cannot hold it exactly
            doc["timestamp"] = str(self.timestamp)
        import orjson  # JSON is for tooling; the protobuf path (and the sidecar's memory) does without it

        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, data: bytes | str) -> Stat:
        """Decode proto3 JSON; accepts the camelCase or the proto field names."""
        import orjson

        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"Stat: invalid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("Stat: must be a JSON object")
        fields: dict = {}
        for key, value in doc.items():
            name = _BY_JSON_NAME.get(key, key if key in _JSON_NAMES else None)
            if name is None:
                raise ValueError(f"Stat.{key}: unknown field")
            if name in fields:
                raise ValueError(f"Stat.{key}: duplicate field")
            if value is None:  # proto3 JSON: null means the default
                continue
            if name == "pod_name":
                if not isinstance(value, str):
                    raise ValueError(f"Stat.{key}: must be a string")
                fields[name] = value
            elif name == "timestamp":
                fields[name] = _json_int64(key, value)
            else:
                fields[name] = _json_to_double(key, value)
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class WireStatMessage:
    """A ``Stat`` addressed to a revision (the activator's push to the autoscaler)."""

    namespace: str = ""
    name: str = ""
    #: None when the message carries no stat (proto3 message fields have presence)
    stat: Stat | None = None

    def to_proto(self) -> bytes:
        """Encode as the ``metrics.WireStatMessage`` protobuf."""
        out = bytearray()
        if self.namespace:
            _put_string(out, 1, self.namespace)
        if self.name:
            _put_string(out, 2, self.name)
        if self.stat is not None:
            _put_bytes(out, 3, self.stat.to_proto())
        return bytes(out)

    @classmethod
    def from_proto(cls, data: bytes) -> WireStatMessage:
        """Decode a ``metrics.WireStatMessage`` protobuf; ``ValueError`` if malformed."""
        return _decode_wire_message(memoryview(data))


def encode_messages(messages: Iterable[WireStatMessage]) -> bytes:
    """Encode ``metrics.WireStatMessages`` (one WebSocket frame's payload)."""
    out = bytearray()
    for message in messages:
        _put_bytes(out, 1, message.to_proto())
    return bytes(out)


def decode_messages(data: bytes) -> list[WireStatMessage]:
    """Decode ``metrics.WireStatMessages``; ``ValueError`` if malformed."""
    messages = []
    for number, wire_type, value in _fields(memoryview(data), "WireStatMessages"):
        if number == 1 and wire_type == _LEN:
            messages.append(_decode_wire_message(value))
    return messages


# --- encoding ---------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _put_bytes(out: bytearray, number: int, value: bytes) -> None:
    out += _tag(number, _LEN)
    out += _varint(len(value))
    out += value


def _put_string(out: bytearray, number: int, value: str) -> None:
    _put_bytes(out, number, value.encode("utf-8"))


# --- decoding ---------------------------------------------------------------


def _read_varint(data: memoryview, pos: int, what: str) -> tuple[int, int]:
    result = 0
    end = len(data)
    for shift in range(0, 63, 7):  # the first nine bytes carry 63 bits
        if pos >= end:
            raise ValueError(f"{what}: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
    if pos >= end:
        raise ValueError(f"{what}: truncated varint")
    byte = data[pos]
    # the tenth byte may carry only the 64th bit, and ends the varint
    if byte > 1:
        raise ValueError(f"{what}: varint overflows 64 bits")
    return result | byte << 63, pos + 1


def _fields(data: memoryview, what: str):
    """Yield ``(number, wire_type, value)``; value is an int or a memoryview."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = _read_varint(data, pos, what)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > _MAX_FIELD:
            raise ValueError(f"{what}: invalid field number {number}")
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos, f"{what} field {number}")
        elif wire_type == _I64:
            if pos + 8 > end:
                raise ValueError(f"{what} field {number}: truncated 64-bit value")
            value, pos = data[pos : pos + 8], pos + 8
        elif wire_type == _LEN:
            length, pos = _read_varint(data, pos, f"{what} field {number}")
            if length > end - pos:
                raise ValueError(f"{what} field {number}: length {length} past the end")
            value, pos = data[pos : pos + length], pos + length
        elif wire_type == _I32:
            if pos + 4 > end:
                raise ValueError(f"{what} field {number}: truncated 32-bit value")
            value, pos = data[pos : pos + 4], pos + 4
        elif wire_type == _SGROUP:
            value, pos = None, _skip_group(data, pos, number, what)
        else:
            raise ValueError(f"{what} field {number}: unexpected wire type {wire_type}")
        yield number, wire_type, value


def _skip_group(data: memoryview, pos: int, group: int, what: str) -> int:
    """Skip a (deprecated) group that started before ``pos``; return the end."""
    end = len(data)
    while pos < end:
        key, pos = _read_varint(data, pos, what)
        number, wire_type = key >> 3, key & 7
        if wire_type == _EGROUP:
            if number != group:
                raise ValueError(f"{what}: group {group} ended by {number}")
            return pos
        if number == 0:
            raise ValueError(f"{what}: invalid field number 0")
        if wire_type == _VARINT:
            _, pos = _read_varint(data, pos, what)
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _LEN:
            length, pos = _read_varint(data, pos, what)
            pos += length
        elif wire_type == _I32:
            pos += 4
        elif wire_type == _SGROUP:
            pos = _skip_group(data, pos, number, what)
        else:
            raise ValueError(f"{what} field {number}: unexpected wire type {wire_type}")
        if pos > end:
            raise ValueError(f"{what}: truncated group {group}")
    raise ValueError(f"{what}: truncated group {group}")


def _utf8(value: memoryview, what: str) -> str:
    try:
        return str(value, "utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what}: string is not valid UTF-8") from None


def _merge_stat(data: memoryview, fields: dict) -> None:
    for number, wire_type, value in _fields(data, "Stat"):
        if number == 1 and wire_type == _LEN:
            fields["pod_name"] = _utf8(value, "Stat.pod_name")
        elif wire_type == _I64 and number in _DOUBLE_BY_NUMBER:
            fields[_DOUBLE_BY_NUMBER[number]] = _DOUBLE.unpack(value)[0]
        elif number == 7 and wire_type == _VARINT:
            fields["timestamp"] = value - _U64 if value >= 1 << 63 else value


def _decode_wire_message(data: memoryview) -> WireStatMessage:
    namespace = name = ""
    stat_fields: dict | None = None
    for number, wire_type, value in _fields(data, "WireStatMessage"):
        if wire_type != _LEN:
            continue
        if number == 1:
            namespace = _utf8(value, "WireStatMessage.namespace")
        elif number == 2:
            name = _utf8(value, "WireStatMessage.name")
        elif number == 3:
            # a message field seen twice is merged, per the protobuf spec
            if stat_fields is None:
                stat_fields = {}
            _merge_stat(value, stat_fields)
    stat = None if stat_fields is None else Stat(**stat_fields)
    return WireStatMessage(namespace=namespace, name=name, stat=stat)


# --- JSON -------------------------------------------------------------------


def _json_double(value: float):
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _json_to_double(key: str, value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"Stat.{key}: must be a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if value in special:
            return special[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"Stat.{key}: must be a number")


def _json_int64(key: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"Stat.{key}: must be an integer")
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"Stat.{key}: must be an integer") from None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"Stat.{key}: must be an integer")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"Stat.{key}: out of int64 range")
    return value
