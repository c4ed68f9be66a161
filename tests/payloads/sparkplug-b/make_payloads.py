"""Builds the protobuf golden frames beside this file, field by field from eclipse/tahu's
sparkplug_b.proto, independently of adapters/sparkplug_b.py (no protobuf runtime, no protoc).

    .venv/bin/python tests/payloads/sparkplug-b/make_payloads.py

``*_spec.derived.bin`` encode the spec's JSON renderings beside this file (byte-exact copies of
shared/fixtures/device-payloads/sparkplug-b/; the .nbsp.txt ones are indented with U+00A0), with
``dataType`` turned into the datatype number and ``value`` put in the field the spec assigns to
that type. The other frames are hand-written edge cases in the same rendering.

Payload: timestamp 1 (uint64), metrics 2, seq 3 (uint64), uuid 4, body 5. Metric: name 1, alias 2,
timestamp 3, datatype 4 (uint32), is_historical 5, is_transient 6, is_null 7, then one value:
int_value 10 (uint32: Int8/16/32, UInt8/16), long_value 11 (uint64: Int64, UInt32/64, DateTime),
float_value 12, double_value 13, boolean_value 14, string_value 15, bytes_value 16, dataset_value 17.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DATATYPES = {"Int8": 1, "Int16": 2, "Int32": 3, "Int64": 4, "UInt8": 5, "UInt16": 6, "UInt32": 7, "UInt64": 8,
             "Float": 9, "Double": 10, "Boolean": 11, "String": 12, "DateTime": 13, "Text": 14}
VALUE_FIELD = {1: 10, 2: 10, 3: 10, 5: 10, 6: 10, 4: 11, 7: 11, 8: 11, 13: 11, 9: 12, 10: 13, 11: 14,
               12: 15, 14: 15}
VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative integers as two's complement, as protobuf does
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def length_delimited(number: int, data: bytes) -> bytes:
    return key(number, LEN) + varint(len(data)) + data


def metric(m: dict[str, Any]) -> bytes:
    out = b""
    if "name" in m:
        name = m["name"]
        out += length_delimited(1, name if isinstance(name, bytes) else name.encode())
    for field, number in (("alias", 2), ("timestamp", 3)):
        if field in m:
            out += key(number, VARINT) + varint(m[field])
    datatype = DATATYPES.get(m.get("dataType", ""), 0)
    if datatype:
        out += key(4, VARINT) + varint(datatype)
    for field, number in (("is_historical", 5), ("is_transient", 6), ("is_null", 7)):
        if m.get(field):
            out += key(number, VARINT) + varint(1)
    if "value" not in m:
        return out
    value, number = m["value"], VALUE_FIELD[datatype]
    if number in (10, 11, 14):
        return out + key(number, VARINT) + varint(int(value))
    if number == 12:
        return out + key(number, FIXED32) + struct.pack("<f", value)
    if number == 13:
        return out + key(number, FIXED64) + struct.pack("<d", value)
    return out + length_delimited(number, value.encode())


def payload(p: dict[str, Any]) -> bytes:
    out = key(1, VARINT) + varint(p["timestamp"]) if "timestamp" in p else b""
    for m in p.get("metrics", []):
        out += length_delimited(2, metric(m))
    if "seq" in p:
        out += key(3, VARINT) + varint(p["seq"])
    return out


def spec(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text(encoding="utf-8").replace("\u00a0", " "))


T = 1795660200000  # 2026-11-26T02:30:00Z, the golden clock
FRAMES: dict[str, bytes] = {
    "nbirth_spec.derived.bin": payload(spec("nbirth_spec_repr.nbsp.txt")),
    "ndata_spec.derived.bin": payload(spec("ndata_spec_repr.nbsp.txt")),
    "dbirth_spec.derived.bin": payload(spec("dbirth_spec_repr.json")),
    "ddata_spec.derived.bin": payload(spec("ddata_spec_repr.json")),
    "ndeath_spec.derived.bin": payload(spec("ndeath_spec_repr.json")),
    # A device's death: timestamp and seq, no metrics.
    "ddeath.bin": payload({"timestamp": T - 5000, "seq": 7}),
    # A will registered without a timestamp (some nodes leave it out): only bdSeq.
    "ndeath_no_timestamp.bin": payload({"metrics": [{"name": "bdSeq", "dataType": "UInt64", "value": 4}]}),
    # DATA with aliases only (names are sent in the birth): alias 3 is a smoke input, but unnamed.
    "ddata_alias_only.bin": payload({"timestamp": T, "seq": 12, "metrics": [
        {"alias": 3, "timestamp": T, "value": True, "dataType": "Boolean"}]}),
    # A name and an alias, and a metric acquisition time 4 s before the payload's.
    "ddata_name_alias_metric_time.bin": payload({"timestamp": T, "seq": 13, "metrics": [
        {"name": "Smoke", "alias": 3, "timestamp": T - 4000, "dataType": "Boolean", "value": True}]}),
    # Explicitly null (no value known): unchanged.
    "ddata_null.bin": payload({"timestamp": T, "seq": 14, "metrics": [
        {"name": "Smoke", "timestamp": T, "dataType": "Boolean", "is_null": True}]}),
    # Store-and-forward replay: a smoke alarm and its end an hour ago, in one message.
    "ddata_historical.bin": payload({"timestamp": T, "seq": 15, "metrics": [
        {"name": "Smoke", "timestamp": T - 3_600_000, "dataType": "Boolean", "value": True, "is_historical": True},
        {"name": "Smoke", "timestamp": T - 3_540_000, "dataType": "Boolean", "value": False, "is_historical": True}]}),
    # Booleans in other forms: a PLC input as Int32 1, a gas sensor as the string "OFF".
    "ddata_int_and_string.bin": payload({"timestamp": T, "seq": 16, "metrics": [
        {"name": "Leak", "dataType": "Int32", "value": 1},
        {"name": "Gas", "dataType": "String", "value": "OFF"}]}),
    # A smoke point sending a Float: not a boolean.
    "ddata_float_smoke.bin": payload({"timestamp": T, "seq": 17, "metrics": [
        {"name": "Smoke", "dataType": "Float", "value": 0.5}]}),
    # A single-sensor device: a Boolean alarm, a tamper input and a Float battery voltage.
    "ddata_detector.bin": payload({"timestamp": T, "seq": 18, "metrics": [
        {"name": "Alarm", "dataType": "Boolean", "value": True},
        {"name": "Tamper", "dataType": "Boolean", "value": True},
        {"name": "Battery Voltage", "dataType": "Float", "value": 3.1}]}),
    # A node whose clock was never set (ms since boot).
    "ddata_clock_unset.bin": payload({"timestamp": 123456, "seq": 19, "metrics": [
        {"name": "Smoke", "timestamp": 123456, "dataType": "Boolean", "value": True}]}),
    # A metric name that is not UTF-8.
    "ddata_bad_utf8_name.bin": payload({"timestamp": T, "seq": 20, "metrics": [
        {"name": b"Smoke\xff", "dataType": "Boolean", "value": True}]}),
    # A timestamp past the year 9999.
    "ddata_time_overflow.bin": payload({"timestamp": 2**63, "seq": 21, "metrics": []}),
    # bdSeq as a String.
    "nbirth_bdseq_string.bin": payload({"timestamp": T, "seq": 0, "metrics": [
        {"name": "bdSeq", "dataType": "String", "value": "0"}]}),
    # A host's rebirth request to a node (NCMD).
    "ncmd_rebirth.bin": payload({"timestamp": T, "metrics": [
        {"name": "Node Control/Rebirth", "dataType": "Boolean", "value": True}]}),
    # A DataSet value (field 17, one empty row list) on a point registered as a smoke detector.
    "ddata_dataset.bin": payload({"timestamp": T, "seq": 22}) + length_delimited(2, metric(
        {"name": "Smoke", "dataType": ""}) + length_delimited(17, key(1, VARINT) + varint(0))),
}
# The spec's DDATA with its last metric cut off in the middle.
FRAMES["ddata_truncated.bin"] = FRAMES["ddata_spec.derived.bin"][:-12]


if __name__ == "__main__":
    for name, data in FRAMES.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
