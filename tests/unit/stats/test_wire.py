"""The metrics.Stat protobuf and JSON codecs, against hand-computed bytes."""

from __future__ import annotations

import math
import random
import struct

import pytest

from dataplane.stats.wire import Stat, WireStatMessage, decode_messages, encode_messages


def double(value: float) -> bytes:
    return struct.pack("<d", value)


# Stat(pod_name="pod-1", avg=1.5, proxied avg=0.5, count=3, uptime=2, timestamp=1_700_000_000):
#   field 1, wire type 2 (LEN): key 1<<3|2 = 0x0a, length 5, "pod-1"
#   fields 2/3/4/6, wire type 1 (I64): keys 0x11 0x19 0x21 0x31, then the little-endian double
#     1.5 = 0x3ff8000000000000, 0.5 = 0x3fe0000000000000, 3.0 = 0x4008..., 2.0 = 0x4000...
#   field 5 is 0.0: omitted
#   field 7, wire type 0 (VARINT): key 0x38; 1_700_000_000 in 7-bit groups, low first:
#     0 (more) -> 0x80, 98 -> 0xe2, 79 -> 0xcf, 42 -> 0xaa, 6 -> 0x06
GOLDEN_STAT = Stat(
    pod_name="pod-1",
    average_concurrent_requests=1.5,
    average_proxied_concurrent_requests=0.5,
    request_count=3.0,
    process_uptime=2.0,
    timestamp=1_700_000_000,
)
GOLDEN_BYTES = bytes.fromhex(
    "0a05706f642d31"
    "11000000000000f83f"
    "19000000000000e03f"
    "210000000000000840"
    "310000000000000040"
    "3880e2cfaa06"
)
# offsets where a field ends, so a prefix cut there is still a valid message
FIELD_ENDS = {0, 7, 16, 25, 34, 43, 49}

# WireStatMessages{[{ns, rev, Stat{a, 1.0, count 1.0}}, {ns2}]}:
#   inner Stat: 0a 01 'a' | 11 <1.0> | 21 <1.0> = 3 + 9 + 9 = 21 bytes
#   message 1: 0a 02 'ns' | 12 03 'rev' | 1a 15 <stat> = 4 + 5 + 2 + 21 = 32 bytes
#   message 2: 0a 03 'ns2' = 5 bytes (no stat: nothing written)
#   outer: field 1 (LEN) per message: 0a 20 <32> 0a 05 <5>
GOLDEN_MESSAGES = [
    WireStatMessage("ns", "rev", Stat(pod_name="a", average_concurrent_requests=1.0, request_count=1.0)),
    WireStatMessage("ns2"),
]
GOLDEN_MESSAGES_BYTES = bytes.fromhex(
    "0a20" "0a026e73" "1203726576" "1a15" "0a0161" "11000000000000f03f" "21000000000000f03f" "0a05" "0a036e7332"
)


def test_stat_encodes_to_the_hand_computed_bytes():
    assert GOLDEN_STAT.to_proto() == GOLDEN_BYTES


def test_stat_decodes_the_hand_computed_bytes():
    assert Stat.from_proto(GOLDEN_BYTES) == GOLDEN_STAT


def test_zero_values_are_omitted():
    assert Stat().to_proto() == b""
    assert Stat.from_proto(b"") == Stat()


def test_negative_zero_and_nan_are_not_the_default():
    assert Stat(request_count=-0.0).to_proto() == b"\x21" + double(-0.0)
    decoded = Stat.from_proto(Stat(process_uptime=math.nan).to_proto())
    assert math.isnan(decoded.process_uptime)


def test_negative_timestamp_is_a_ten_byte_varint():
    assert Stat(timestamp=-1).to_proto() == bytes.fromhex("38ffffffffffffffffff01")
    assert Stat.from_proto(bytes.fromhex("38ffffffffffffffffff01")).timestamp == -1


def test_timestamp_out_of_int64_range_is_refused():
    with pytest.raises(ValueError, match="timestamp"):
        Stat(timestamp=1 << 63).to_proto()


def test_pod_name_is_utf8():
    assert Stat(pod_name="pöd").to_proto() == b"\x0a\x04p\xc3\xb6d"
    with pytest.raises(ValueError, match="UTF-8"):
        Stat.from_proto(b"\x0a\x02\xc3\x28")


@pytest.mark.parametrize("seed", range(5))
def test_round_trip(seed):
    rng = random.Random(seed)
    for _ in range(200):
        stat = Stat(
            pod_name="".join(rng.choice("ab-é") for _ in range(rng.randint(0, 300))),
            average_concurrent_requests=rng.choice([0.0, rng.uniform(0, 1e6), math.inf]),
            average_proxied_concurrent_requests=rng.choice([0.0, rng.uniform(0, 1e6)]),
            request_count=float(rng.randint(0, 10**9)),
            proxied_request_count=rng.choice([0.0, 1e-300, -0.0]),
            process_uptime=rng.uniform(0, 1e7),
            timestamp=rng.choice([0, rng.randint(-(2**63), 2**63 - 1)]),
        )
        assert Stat.from_proto(stat.to_proto()) == stat
        assert Stat.from_json(stat.to_json()) == stat


def test_unknown_fields_of_every_wire_type_are_skipped():
    unknown = (
        bytes.fromhex("c00601")  # field 104, varint 1
        + bytes.fromhex("79") + double(9.0)  # field 15, I64
        + bytes.fromhex("820603") + b"xyz"  # field 96, LEN
        + bytes.fromhex("4d01020304")  # field 9, I32
        + bytes.fromhex("5b" "0801" "5c")  # field 11 group holding field 1 varint
    )
    assert Stat.from_proto(unknown + GOLDEN_BYTES + unknown) == GOLDEN_STAT


def test_a_known_field_with_another_wire_type_is_skipped_as_unknown():
    # field 2 as a varint and field 1 as an I32 are not what Stat declares
    assert Stat.from_proto(bytes.fromhex("1005") + bytes.fromhex("0d00000000") + GOLDEN_BYTES) == GOLDEN_STAT


def test_the_last_value_of_a_repeated_scalar_wins():
    data = GOLDEN_BYTES + b"\x11" + double(7.0) + b"\x0a\x01z"
    decoded = Stat.from_proto(data)
    assert (decoded.average_concurrent_requests, decoded.pod_name) == (7.0, "z")


def test_every_truncation_is_an_error_unless_it_falls_between_fields():
    for cut in range(len(GOLDEN_BYTES)):
        prefix = GOLDEN_BYTES[:cut]
        if cut in FIELD_ENDS:
            Stat.from_proto(prefix)
        else:
            with pytest.raises(ValueError, match="Stat"):
                Stat.from_proto(prefix)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x00", "field number 0"),
        (b"\x0e", "wire type 6"),
        (b"\x0f", "wire type 7"),
        (b"\x38" + b"\xff" * 9 + b"\x02", "overflows"),
        (b"\x38" + b"\x80" * 10 + b"\x00", "overflows"),
        (b"\x38\xff", "truncated varint"),
        (b"\x0a\x05abc", "past the end"),
        (b"\x5b\x08\x01", "truncated group"),
        (b"\x5b\x64", "ended by 12"),
        (b"\x5c", "wire type 4"),
    ],
)
def test_malformed_input_names_the_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        Stat.from_proto(data)


def test_wire_messages_encode_to_the_hand_computed_bytes():
    assert encode_messages(GOLDEN_MESSAGES) == GOLDEN_MESSAGES_BYTES
    assert decode_messages(GOLDEN_MESSAGES_BYTES) == GOLDEN_MESSAGES


def test_wire_message_without_stat_differs_from_an_empty_stat():
    assert WireStatMessage(stat=Stat()).to_proto() == b"\x1a\x00"
    assert WireStatMessage.from_proto(b"\x1a\x00") == WireStatMessage(stat=Stat())
    assert WireStatMessage.from_proto(b"").stat is None


def test_a_repeated_stat_field_is_merged():
    first = Stat(pod_name="a", request_count=2.0).to_proto()
    second = Stat(average_concurrent_requests=4.0).to_proto()
    data = b"\x1a" + bytes([len(first)]) + first + b"\x1a" + bytes([len(second)]) + second
    assert WireStatMessage.from_proto(data).stat == Stat(
        pod_name="a", request_count=2.0, average_concurrent_requests=4.0
    )


def test_wire_messages_skip_unknown_fields_and_report_nested_errors():
    assert decode_messages(b"\x10\x01" + GOLDEN_MESSAGES_BYTES + b"\x12\x00") == GOLDEN_MESSAGES
    broken_stat = b"\x1a\x02\x0a\x05"  # a Stat whose pod_name runs past its end
    data = b"\x0a" + bytes([len(broken_stat)]) + broken_stat
    with pytest.raises(ValueError, match="Stat field 1"):
        decode_messages(data)
    with pytest.raises(ValueError, match="WireStatMessages"):
        decode_messages(GOLDEN_MESSAGES_BYTES[:-1])


def test_many_messages_round_trip():
    messages = [
        WireStatMessage(f"ns{i}", f"rev-{i}", Stat(pod_name="activator-0", average_concurrent_requests=i / 3))
        for i in range(300)
    ]
    assert decode_messages(encode_messages(messages)) == messages


def test_json_uses_proto3_json_names_and_omits_zeros():
    assert GOLDEN_STAT.to_json() == (
        b'{"podName":"pod-1","averageConcurrentRequests":1.5,'
        b'"averageProxiedConcurrentRequests":0.5,"requestCount":3.0,'
        b'"processUptime":2.0,"timestamp":"1700000000"}'
    )
    assert Stat().to_json() == b"{}"
    assert Stat(request_count=math.inf, process_uptime=-math.inf).to_json() == (
        b'{"requestCount":"Infinity","processUptime":"-Infinity"}'
    )
    assert b'"NaN"' in Stat(request_count=math.nan).to_json()


def test_json_accepts_proto_names_strings_and_nulls():
    doc = (
        b'{"pod_name":"p","average_concurrent_requests":"2.5","requestCount":3,'
        b'"processUptime":null,"timestamp":17,"proxiedRequestCount":"Infinity"}'
    )
    assert Stat.from_json(doc) == Stat(
        pod_name="p",
        average_concurrent_requests=2.5,
        request_count=3.0,
        timestamp=17,
        proxied_request_count=math.inf,
    )


@pytest.mark.parametrize(
    "doc, reason",
    [
        (b"[1]", "must be a JSON object"),
        (b"{", "invalid JSON"),
        (b'{"podName":1}', "Stat.podName: must be a string"),
        (b'{"requestCount":true}', "Stat.requestCount: must be a number"),
        (b'{"requestCount":"lots"}', "Stat.requestCount: must be a number"),
        (b'{"timestamp":1.5}', "Stat.timestamp: must be an integer"),
        (b'{"timestamp":"9223372036854775808"}', "Stat.timestamp: out of int64 range"),
        (b'{"podname":"x"}', "Stat.podname: unknown field"),
        (b'{"podName":"x","pod_name":"y"}', "Stat.pod_name: duplicate field"),
    ],
)
def test_bad_json_names_the_field(doc, reason):
    with pytest.raises(ValueError, match=reason):
        Stat.from_json(doc)
