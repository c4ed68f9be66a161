"""The relay benchmark's fixed parts (bench/nodered.py, bench/wsclient.py, bench/relayload.py): the
pinned Node-RED is an exact version and its lock agrees, the flow is wired mqtt in -> json ->
websocket out on the native events' topic, and the walls read frames and events as sent."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import zlib
from typing import Any

from paho.mqtt.client import topic_matches_sub

from bench import nodered
from bench.relay import split
from bench.relayload import Wall, WallSpec, gate_event
from bench.wsclient import Socket


def test_node_red_is_pinned_to_an_exact_version_that_the_lock_file_holds() -> None:
    version = nodered.pinned_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    lock = json.loads((nodered.HERE / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"]["node-red"] == version
    assert lock["packages"]["node_modules/node-red"]["version"] == version


def test_the_flow_relays_the_native_events_topic_to_one_websocket_path() -> None:
    nodes = {n["id"]: n for n in nodered.flow(18830, "bench")}
    assert len(nodes) == len(nodered.flow(18830, "bench"))
    for node in nodes.values():
        for outputs in node.get("wires", []):
            assert all(target in nodes for target in outputs)
    (mqtt_in,) = [n for n in nodes.values() if n["type"] == "mqtt in"]
    assert mqtt_in["qos"] == "1" and mqtt_in["datatype"] == "utf8"
    broker = nodes[mqtt_in["broker"]]
    assert (broker["type"], broker["broker"], broker["port"]) == ("mqtt-broker", "127.0.0.1", "18830")
    parse = nodes[mqtt_in["wires"][0][0]]
    assert parse["type"] == "json" and parse["action"] == "obj"
    out = nodes[parse["wires"][0][0]]
    assert out["type"] == "websocket out"
    assert nodes[out["server"]] == {"id": out["server"], "type": "websocket-listener", "path": nodered.WS_PATH,
                                    "wholemsg": "false"}
    topic, _ = gate_event("x", "gate-001")
    assert topic_matches_sub(mqtt_in["topic"], topic.decode())
    assert not topic_matches_sub(mqtt_in["topic"], "mcc/v1/bench/gate-001/state")


def test_the_settings_turn_the_editor_off_and_listen_on_loopback() -> None:
    text = nodered.settings(1881)
    assert "httpAdminRoot: false" in text and 'uiHost: "127.0.0.1"' in text and "uiPort: 1881" in text


def test_the_walls_are_shared_out_between_processes() -> None:
    assert [len(r) for r in split(50, 2)] == [25, 25]
    assert [len(r) for r in split(7, 3)] == [2, 3, 2]


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _frame(payload: bytes, opcode: int = 1, fin: bool = True, rsv1: bool = False) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if len(payload) < 126:
        return bytes([b0, len(payload)]) + payload
    return bytes([b0, 126]) + struct.pack("!H", len(payload)) + payload


def _read(chunks: list[bytes], deflate: bool = False) -> tuple[list[bytes], Socket]:
    async def go() -> tuple[list[bytes], Socket]:
        got: list[bytes] = []
        sock = Socket(b"GET / HTTP/1.1\r\n\r\n", lambda m, t: got.append(m))
        sock.connection_made(_Transport())  # type: ignore[arg-type]
        extension = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        sock.data_received(f"HTTP/1.1 101 Switching Protocols\r\n{extension}\r\n".encode())
        for chunk in chunks:
            sock.data_received(chunk)
        return got, sock

    return asyncio.run(go())


def test_the_frame_reader_splits_joins_and_inflates_messages() -> None:
    long = b"x" * 300
    data = _frame(b"one") + _frame(long) + _frame(b"fr", fin=False) + _frame(b"ag", opcode=0)
    got, _ = _read([data[:3], data[3:200], data[200:]])
    assert got == [b"one", long, b"frag"]
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = [(z.compress(m) + z.flush(zlib.Z_SYNC_FLUSH))[:-4] for m in (b'{"a":1}', b'{"a":1}')]
    got, sock = _read([_frame(p, rsv1=True) for p in packed], deflate=True)
    assert got == [b'{"a":1}', b'{"a":1}'] and sock.deflated


def test_a_ping_is_answered_and_a_close_gives_its_code() -> None:
    got, sock = _read([_frame(b"hi", opcode=9), _frame(struct.pack("!H", 1013), opcode=8)])
    assert got == [] and sock.closed.result() == 1013
    assert isinstance(sock.transport, _Transport)
    pong = sock.transport.written[1]
    assert pong[0] == 0x8A and pong[1] == 0x82  # FIN + pong, masked, 2 bytes


def _wall(only: bytes = b"", resume: bool = False) -> Wall:
    return Wall(WallSpec(1, "/", only=only, resume=resume), b'"id":"r1', latency=True)


def test_a_wall_finds_the_event_and_its_publish_time_in_either_shape() -> None:
    relayed = json.dumps({"id": "r1-7", "ts": "x", "type": "access.granted", "data": {"card": "1", "t_pub": 100.0}},
                         separators=(",", ":"))  # as JSON.stringify writes it
    wall = _wall()
    wall.on_message(relayed.encode(), 100.25)
    wall.on_message(relayed.encode(), 100.5)  # again: a duplicate, not a second event
    assert wall.seen == {b"-7"} and wall.dups == 1 and list(wall.lat_ms) == [250.0]
    body: dict[str, Any] = {"id": "r1-8", "event_id": 3, "data": {"t_pub": 99.5, "card": "2"}}
    mcc = _wall(only=b'{"type":"event"', resume=True)
    mcc.on_message(json.dumps({"type": "snapshot", "seq": 4, "stream": "s1", "events": []},
                              separators=(",", ":")).encode(), 99.0)  # MCC writes JSON compact
    mcc.on_message(json.dumps({"type": "event", "seq": 5, "data": body}, separators=(",", ":")).encode(), 100.0)
    mcc.on_message(json.dumps({"type": "event", "seq": 6, "data": {**body, "id": "r1w0"}},
                              separators=(",", ":")).encode(), 100.0)
    assert mcc.seen == {b"-8"} and mcc.warm == 1 and list(mcc.lat_ms) == [500.0]
    assert (mcc.seq, mcc.stream, mcc.gaps, mcc.others) == (6, "s1", 0, {"snapshot": 1})


def test_the_walls_read_each_change_of_a_batch_frame_as_if_it_came_alone() -> None:
    from bench.relayload import batch_items
    from console.sinks.hub import batch_text, dumps

    items = [(n, dumps({"type": "event", "seq": n, "data": {"id": f"e{n}", "data": {"t_pub": 1.5, "x": "a,{b}"}}}))
             for n in range(1, 4)]
    assert batch_items(batch_text(items).encode()) == [text.encode() for _, text in items]
