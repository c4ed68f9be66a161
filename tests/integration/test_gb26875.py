"""The GB/T 26875.3 receiver over real TCP, feeding the real ingest worker on a SQLite file: every
upload is confirmed (its serial number echoed) only once it is stored; a bad checksum is denied
and quarantined with its reason; frames split across writes, several in one write and garbage
between them all work; a silent link is reported once; a duty check reaches the device."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from adapters.base import AdapterContext
from adapters.gb26875 import CHECKSUM_VARIANTS, GB26875, build_frame, checksum, frame_length, time_label
from console.demo.broker import free_port
from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.sinks.hub import Hub
from console.sinks.outlet import Outlet
from console.store.database import Store
from console.store.tables import AlarmRow, DeviceStatusRow, EventRow, QuarantineRow
from console.wire.gb26875_receiver import Gb26875Receiver
from console.wire.ingest import Ingest
from console.wire.translate import BoundAdapter
from console.wire.writer import Writer
from tests.conftest import wait_until

SOURCE = "060504030201"  # the device's address: wire bytes 01 02 03 04 05 06
CENTRE = "0000000000aa"  # the monitoring centre's address as the device knows it
ZONE = ZoneInfo("Asia/Shanghai")
DEVICES = [{"id": "fire-gw-1", "name": "1号楼用户信息传输装置", "role": "fire_panel", "adapter": "gb26875",
            "address": SOURCE, "label": "1号楼 消防控制室"}]


def local_now() -> datetime:
    return datetime.now(timezone.utc).astimezone(ZONE)


def upload(serial: int, type_flag: int, *bodies: bytes, variant: str = "sum") -> bytes:
    """A send-data frame (command 2) from the device, each body followed by its 6-byte time."""
    when = local_now()
    data = bytes([type_flag, len(bodies)]) + b"".join(body + time_label(when) for body in bodies)
    return build_frame(serial, SOURCE, CENTRE, 2, data, when=when, variant=variant)


def component(address: int, status: int, description: str = "1号楼3层走廊") -> bytes:
    """Type 2: fire alarm system 1-1, a point photoelectric smoke detector (42)."""
    return (bytes([1, 1, 42]) + address.to_bytes(4, "little") + status.to_bytes(2, "little")
            + description.encode("gb18030").ljust(31, b"\0"))


ANALOG = bytes([1, 1, 96]) + (5).to_bytes(4, "little") + bytes([4]) + (35).to_bytes(2, "little")


@dataclass
class Rig:
    receiver: Gb26875Receiver
    store: Store
    silences: queue.Queue[str]
    backs: queue.Queue[str]

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.receiver.port), timeout=10)
        sock.settimeout(10)
        return sock

    def events(self) -> list[EventRow]:
        with self.store.read() as session:
            return list(session.scalars(select(EventRow).order_by(EventRow.id)))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings(site={"id": "demo", "timezone": "Asia/Shanghai"},
                        database={"url": f"sqlite:///{tmp_path / 'gb.db'}"},
                        devices={"entries": DEVICES, "unknown": "quarantine"})
    store = Store(settings.database.url)
    store.migrate()
    registry = DeviceRegistry.from_settings(settings)
    ingest = Ingest(settings, store, registry)
    # Until the engineer registers the adapter (adapters/__init__.py, settings), bind it by hand.
    ingest.adapters.append(BoundAdapter(GB26875, AdapterContext(
        site="demo", topic="gb26875/#", registry=registry, adapter="gb26875", timezone="Asia/Shanghai")))
    worker = Writer(ingest, Outlet(Hub()))
    worker.start()
    silences: queue.Queue[str] = queue.Queue()
    backs: queue.Queue[str] = queue.Queue()
    receiver = Gb26875Receiver("127.0.0.1", free_port(), worker.submit,
                               checksum=lambda source: "sum", supervise_seconds=0.5, on_silence=silences.put,
                               on_back=backs.put)
    receiver.start()
    try:
        yield Rig(receiver, store, silences, backs)
    finally:
        receiver.stop()
        worker.stop()
        store.dispose()


def read_frames(sock: socket.socket, count: int) -> list[bytes]:
    buffer = b""
    frames: list[bytes] = []
    while len(frames) < count:
        chunk = sock.recv(4096)
        assert chunk, "the receiver closed the connection"
        buffer += chunk
        while len(buffer) >= 26 and len(buffer) >= frame_length(buffer):
            size = frame_length(buffer)
            frames.append(buffer[:size])
            buffer = buffer[size:]
    return frames


def check_reply(reply: bytes, command: int, serial: int) -> None:
    assert reply[:2] == b"@@" and reply[-2:] == b"##" and len(reply) == 30, reply.hex()
    assert reply[26] == command
    assert int.from_bytes(reply[2:4], "little") == serial, "the reply echoes the serial number"
    assert reply[12:18] == bytes.fromhex(CENTRE)[::-1], "the centre answers from the address it was sent to"
    assert reply[18:24] == bytes.fromhex(SOURCE)[::-1]
    assert reply[-3] == checksum(reply[:-3], "sum")


def test_each_upload_is_confirmed_after_it_is_stored(rig: Rig) -> None:
    frames = [
        upload(1, 2, component(3, 0x0003)),  # fire at 1-1-3
        upload(2, 2, component(4, 0x0005)),  # fault at 1-1-4
        upload(3, 2, component(3, 0x0001)),  # 1-1-3 back to normal: restores the fire
        upload(4, 2, component(5, 0x0002)),  # fire at 1-1-5 in test mode (bit 0 = 0)
        upload(5, 3, ANALOG),  # an analog value (3.5 MPa): a heartbeat carrying the telemetry, no alarm
        upload(6, 21, bytes([0x09])),  # the transmission device's own mains fault
    ]
    stored_at_confirm = []
    with rig.connect() as sock:
        for serial, frame in enumerate(frames, start=1):
            sock.sendall(frame)
            check_reply(read_frames(sock, 1)[0], command=3, serial=serial)
            stored_at_confirm.append(len(rig.events()))
        sock.sendall(frames[0])  # a retransmission of the first frame: confirmed, stored once
        check_reply(read_frames(sock, 1)[0], command=3, serial=1)

    assert stored_at_confirm == [1, 2, 3, 4, 5, 6], "each confirm came after its events were committed"
    events = rig.events()
    assert [(e.kind, e.point, e.test) for e in events] == [
        ("fire.alarm", "1-1-3", False), ("fire.fault", "1-1-4", False), ("fire.restore", "1-1-3", False),
        ("fire.alarm", "1-1-5", True), ("device.heartbeat", "1-1-5", False), ("fire.fault", "", False),
    ]
    assert {e.device_id for e in events} == {"fire-gw-1"}, "the source address maps to the registered device"
    assert events[0].data["description"] == "1号楼3层走廊"
    analog = events[4].data
    assert (analog["quantity"], analog["unit"], analog["value"], analog["raw"]) == ("pressure", "MPa", 3.5, 35)
    assert analog["via"] == "analog" and analog["component"] == "flow indicator"
    assert events[5].data["cause"] == "mains"
    with rig.store.read() as session:
        alarms = {(a.point, a.kind): a for a in session.scalars(select(AlarmRow))}
    assert alarms[("1-1-3", "fire.alarm")].cleared
    assert alarms[("1-1-5", "fire.alarm")].test and not alarms[("1-1-5", "fire.alarm")].cleared, (
        "the analog value at the same point clears nothing")
    assert set(alarms) == {("1-1-3", "fire.alarm"), ("1-1-4", "fire.fault"), ("1-1-5", "fire.alarm"),
                           ("", "fire.fault")}, "and raises nothing"


def test_an_analog_value_alone_is_a_sign_of_life_and_no_alarm(rig: Rig) -> None:
    with rig.connect() as sock:
        sock.sendall(upload(1, 3, ANALOG))
        check_reply(read_frames(sock, 1)[0], command=3, serial=1)
    [event] = rig.events()
    assert (event.kind, event.device_id, event.point) == ("device.heartbeat", "fire-gw-1", "1-1-5")
    with rig.store.read() as session:
        status = session.get(DeviceStatusRow, ("demo", "fire-gw-1"))
        assert status is not None and status.last_seen is not None and status.last_adapter == "gb26875"
        assert list(session.scalars(select(AlarmRow))) == []


def test_bad_checksum_is_denied_and_quarantined_with_its_reason(rig: Rig) -> None:
    good = upload(9, 2, component(3, 0x0003))
    wrong = next(value for value in range(256)
                 if all(checksum(good[:-3], variant) != value for variant in CHECKSUM_VARIANTS))
    bad = good[:-3] + bytes([wrong]) + b"##"
    xor = upload(10, 2, component(3, 0x0003), variant="xor")  # a vendor variant the site did not set
    with rig.connect() as sock:
        sock.sendall(bad)
        check_reply(read_frames(sock, 1)[0], command=6, serial=9)
        sock.sendall(xor)
        check_reply(read_frames(sock, 1)[0], command=6, serial=10)

    def quarantined() -> list[QuarantineRow]:
        with rig.store.read() as session:
            return list(session.scalars(select(QuarantineRow).order_by(QuarantineRow.id)))

    rows = wait_until(lambda: len(quarantined()) == 2 and quarantined(), message="both frames in quarantine")
    assert [row.topic for row in rows] == [f"gb26875/{SOURCE}/bad-checksum/sum"] * 2
    assert {row.adapter for row in rows} == {"gb26875"}
    assert rows[0].payload == bad and "valid under no variant" in rows[0].reason
    assert rows[1].payload == xor and "valid under xor" in rows[1].reason
    assert rig.events() == []


def test_frames_split_across_writes_and_several_in_one_write(rig: Rig) -> None:
    first = upload(1, 2, component(3, 0x0003))
    second, third = upload(2, 2, component(4, 0x0005)), upload(3, 21, bytes([0x01]))
    with rig.connect() as sock:
        for piece in (first[:1], first[1:20], first[20:50], first[50:]):  # even the "@@" is split
            sock.sendall(piece)
            time.sleep(0.05)
        check_reply(read_frames(sock, 1)[0], command=3, serial=1)
        sock.sendall(b"\x00garbage@" + second + b"\r\n##@" + third)  # noise before and between
        replies = read_frames(sock, 2)
    check_reply(replies[0], command=3, serial=2)
    check_reply(replies[1], command=3, serial=3)
    # The third frame's "all normal" restore clears nothing; it may still be stored when it shares
    # a batch with the second (the ingest's same-batch check does not compare points).
    assert [e.kind for e in rig.events() if e.kind != "fire.restore"] == ["fire.alarm", "fire.fault"]


def test_silence_is_reported_once_and_a_duty_check_reaches_the_device(rig: Rig) -> None:
    assert rig.receiver.send_duty_check(SOURCE) is False, "not connected yet"
    with rig.connect() as sock:
        sock.sendall(upload(1, 21, bytes([0x01])))
        check_reply(read_frames(sock, 1)[0], command=3, serial=1)

        assert rig.receiver.send_duty_check(SOURCE) is True
        command = read_frames(sock, 1)[0]
        assert command[26] == 1 and command[27:29] == bytes([91, 1]), command.hex()  # control, 查岗, 1 object
        assert command[12:18] == bytes.fromhex(CENTRE)[::-1] and command[18:24] == bytes.fromhex(SOURCE)[::-1]
        assert command[-3] == checksum(command[:-3], "sum")
        serial = int.from_bytes(command[2:4], "little")
        when = local_now()  # the device confirms the centre's command, echoing its serial number
        sock.sendall(build_frame(serial, SOURCE, CENTRE, 3, when=when))

        assert rig.silences.get(timeout=3) == SOURCE, "silent for 0.5 s"
        time.sleep(0.8)
        assert rig.silences.empty(), "reported once, not again while still silent"

        assert rig.backs.empty()
        sock.sendall(upload(2, 21, bytes([0x01])))  # it speaks again: back, and supervised afresh
        check_reply(read_frames(sock, 1)[0], command=3, serial=2)
        assert rig.backs.get(timeout=3) == SOURCE
        assert rig.silences.get(timeout=3) == SOURCE
