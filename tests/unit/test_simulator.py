"""The device simulator: traffic generated on a fake clock, and published to a real broker."""

from __future__ import annotations

import functools
import itertools
import json
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from console.demo.simulator import (
    DEFAULT_DEVICES,
    SITE_TZ,
    Message,
    Traffic,
    load_devices,
    run_simulator,
)

MOSQUITTO = "/usr/sbin/mosquitto"
# Copied from DESIGN.md ("Native MQTT format"), so the simulator is checked against the contract.
CANONICAL_KINDS = {
    "fire.alarm", "fire.fault", "fire.supervisory", "fire.feedback", "fire.isolated",
    "fire.restore", "fire.reset",
    "access.granted", "access.denied", "access.door_forced", "access.door_held_open",
    "access.door_closed", "access.tamper", "access.duress", "access.restore",
    "parking.entry", "parking.exit", "parking.barrier_fault", "parking.barrier_opened",
    "parking.unpaid_exit", "parking.restore",
    "camera.offline", "camera.online", "camera.tamper", "camera.motion", "camera.restore",
    "safety.gas", "safety.water_leak", "safety.restore",
    "device.online", "device.offline", "device.heartbeat", "device.battery_low", "device.fault",
    "device.restore",
    "elevator.trapped", "elevator.fault", "elevator.restore", "power.failure", "power.restore",
    "patrol.checkpoint", "patrol.checkpoint_missed", "patrol.round_missed",
}
ROLES = {"fire_panel", "door", "lane", "camera", "sensor", "gateway"}
START = datetime(2025, 3, 1, 9, 0, tzinfo=SITE_TZ)


def registry() -> list[dict]:
    return yaml.safe_load(DEFAULT_DEVICES.read_text(encoding="utf-8"))


def published_ids() -> set[str]:
    """Devices the MQTT simulator speaks for (not cameras, not the GB/T 26875.3 device on TCP)."""
    return {d["id"] for d in registry() if d["role"] != "camera" and d.get("adapter") != "gb26875"}


def traffic(seed: int, rate: float = 5.0) -> Traffic:
    return Traffic(load_devices(), "demo", rate, random.Random(seed), START)


def assert_native_event(topic: str, payload: bytes) -> dict:
    body = json.loads(payload)
    assert isinstance(body, dict), topic
    assert set(body) <= {"id", "ts", "type", "point", "data"}, body
    assert isinstance(body["id"], str) and body["id"], body
    assert body["type"] in CANONICAL_KINDS, body
    assert isinstance(body["data"], dict), body
    assert "point" not in body or isinstance(body["point"], str), body
    ts = datetime.fromisoformat(body["ts"])
    assert ts.utcoffset() is not None and ts.utcoffset().total_seconds() == 8 * 3600, body
    return body


# -- the registry ---------------------------------------------------------------------------------


def test_registry_devices_have_every_key_and_unique_ids():
    devices = registry()
    keys = {"id", "name", "name_en", "role", "building", "floor", "zone", "label", "cameras"}
    ids = [d["id"] for d in devices]
    assert len(ids) == len(set(ids))
    for device in devices:
        assert keys <= set(device) <= keys | {"points", "kind", "adapter", "address", "heartbeat_seconds"}, device["id"]
        assert ("adapter" in device) == ("address" in device), device["id"]
        assert device["role"] in ROLES
        assert all(cam in ids for cam in device["cameras"]), device["id"]
        for address, point in (device.get("points") or {}).items():
            assert set(point) == {"floor", "zone", "label", "kind"}, (device["id"], address)
    assert {"fp-1", "fp-2", "door-1-lobby", "door-2-roof", "lane-in", "lane-out"} <= set(ids)


# -- generation on a fake clock -------------------------------------------------------------------


def test_same_seed_generates_the_same_messages():
    first = list(itertools.islice(traffic(42), 500))
    assert first == list(itertools.islice(traffic(42), 500))
    assert first != list(itertools.islice(traffic(43), 500))


def test_a_fresh_simulation_raises_an_alarm_within_seconds():
    """What a new demo wall shows first: whatever the seed, an alarm within 5 simulated seconds."""
    from console.alarms.rules import RAISES

    for seed in range(300):
        first = next(m for m in traffic(seed, rate=3) if m.kind in RAISES or m.kind == "state.offline")
        assert first.at < 5.0, (seed, first)


@functools.cache
def two_hours(seed: int = 3) -> tuple[Message, ...]:
    return tuple(itertools.takewhile(lambda m: m.at < 7200, traffic(seed, rate=2)))


def test_two_hours_of_traffic_keep_the_native_contract():
    messages = two_hours()
    assert [m.at for m in messages] == sorted(m.at for m in messages)
    events = [assert_native_event(m.topic, m.payload.encode()) for m in messages
              if not m.retain and m.topic.startswith("mcc/v1/")]
    assert len({e["id"] for e in events}) == len(events)
    vendor = [m for m in messages if not m.topic.startswith("mcc/v1/")]
    assert 2 * 7200 * 0.9 < len(events) + len(vendor) < 2 * 7200 * 1.1
    assert {"access.granted", "parking.entry", "parking.exit", "device.heartbeat", "fire.alarm",
            "fire.fault", "fire.restore", "access.denied", "access.door_held_open",
            "access.door_closed", "parking.barrier_fault", "parking.restore",
            "device.battery_low", "elevator.trapped", "elevator.restore", "power.failure",
            "power.restore"} <= {e["type"] for e in events}
    assert {m.payload for m in messages if m.retain} == {"online", "offline"}


def test_lifts_trap_people_gas_leaks_and_mains_fail_now_and_then_and_each_is_over_later():
    messages = two_hours()
    events = [(m.at, m.topic.split("/")[3] if m.topic.startswith("mcc/v1/") else m.topic, m.kind)
              for m in messages if not m.retain]
    kinds = [kind for _, _, kind in events]
    assert 5 <= kinds.count("elevator.trapped") <= 40, kinds.count("elevator.trapped")
    assert kinds.count("safety.gas") >= 3 and kinds.count("power.failure") >= 1
    trapped = [json.loads(m.payload) for m in messages if m.kind == "elevator.trapped"]
    assert all(e["data"]["car"].endswith("客梯") and e["data"]["people"] >= 1 for e in trapped), trapped[:2]
    for at, device, kind in events:
        if kind in ("elevator.trapped", "power.failure") and at < 7200 - 600:
            over = kind.split(".")[0] + ".restore"
            assert any(t > at and d == device and k == over for t, d, k in events), (at, device, kind)


def test_every_fire_alarm_is_restored_20_to_90_seconds_later_on_its_point():
    fire = [(m.at, json.loads(m.payload)) for m in two_hours()
            if m.kind.startswith("fire.") and m.topic.startswith("mcc/v1/")]
    alarms = [(at, e) for at, e in fire if e["type"] == "fire.alarm" and at < 7200 - 90]
    assert alarms
    for at, alarm in alarms:
        restore = next(t for t, e in fire if t > at and e["type"] == "fire.restore"
                       and e.get("point") == alarm["point"] and e["data"] == {"of": "fire.alarm"})
        assert 20 <= restore - at <= 90, alarm


def test_offline_devices_come_back_online_30_to_120_seconds_later_and_are_silent_meanwhile():
    messages = two_hours()
    offline = [m for m in messages if m.kind == "state.offline" and m.at < 7200 - 120]
    assert offline
    for down in offline:
        back = next(m for m in messages if m.topic == down.topic and m.at > down.at)
        assert back.payload == "online" and 30 <= back.at - down.at <= 120
        device = down.topic.rsplit("/", 2)[1]
        assert not [m for m in messages if down.at < m.at < back.at and f"/{device}/" in m.topic]


# -- publishing to a real broker ------------------------------------------------------------------


@dataclass
class Broker:
    """A real mosquitto on a fixed free port, which a test may stop and start again."""

    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "max_queued_messages 1000000\nset_tcp_nodelay true\n")
        log = self.workdir / "mosquitto.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while True:
            assert self.process.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start listening"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = Broker(tmp_path, port)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


def subscribe(broker: Broker, topic: str) -> tuple[mqtt.Client, list[mqtt.MQTTMessage]]:
    received: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: received.append(msg)
    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda _c, _u, _m, _r, _p: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert subscribed.wait(5)
    return client, received


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


@pytest.mark.timeout(60)
def test_simulator_publishes_native_events_and_retained_states(broker: Broker):
    watcher, everything = subscribe(broker, "#")
    try:
        stats = run_simulator(broker.url, "demo", rate=50, seed=11, duration=3)
        deadline = time.monotonic() + 5
        while len(everything) < stats.total and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        close(watcher)

    assert len(everything) == stats.total  # QoS 1 and a clean disconnect: nothing lost on the way
    live = [m for m in everything if m.topic.startswith("mcc/v1/")]
    vendor_topics = {m.topic.split("/")[0] or "/rfid" for m in everything if not m.topic.startswith("mcc/v1/")}
    assert vendor_topics <= {"zigbee2mqtt", "/rfid", "frigate"}, vendor_topics
    devices = published_ids()
    events = []
    for msg in live:
        prefix, site, device, channel = msg.topic.rsplit("/", 3)
        assert (prefix, site, device in devices) == ("mcc/v1", "demo", True), msg.topic
        if channel == "event":
            assert msg.qos == 1
            events.append(assert_native_event(msg.topic, msg.payload))
        else:
            assert channel == "state" and msg.payload in (b"online", b"offline"), msg.topic
    assert len({e["id"] for e in events}) == len(events)
    assert {"access.granted", "parking.entry", "parking.exit", "device.heartbeat"} <= {
        e["type"] for e in events}
    assert 50 * 3 * 0.6 < len(everything) < 50 * 3 * 1.4

    # A newcomer gets one retained state per device and no retained events.
    late, retained = subscribe(broker, "mcc/v1/#")
    time.sleep(0.5)
    close(late)
    assert all(m.retain and m.topic.endswith("/state") for m in retained)
    assert {m.topic.split("/")[3] for m in retained} == devices
    assert {m.payload for m in retained} <= {b"online", b"offline"}


@pytest.mark.timeout(30)
def test_simulator_stops_promptly_when_asked(broker: Broker):
    stop = threading.Event()
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("stats", run_simulator(broker.url, "demo", rate=20,
                                                                stop=stop)))
    worker.start()
    time.sleep(1)
    stop.set()
    worker.join(timeout=8)
    assert not worker.is_alive()
    assert result["stats"].published["state.online"] == len(published_ids())


def retained_states(broker: Broker) -> dict[str, bytes]:
    client, retained = subscribe(broker, "mcc/v1/+/+/state")
    time.sleep(0.3)
    close(client)
    return {m.topic.split("/")[3]: m.payload for m in retained if m.retain}


@pytest.mark.timeout(60)
def test_simulator_reconnects_and_restates_devices_after_a_broker_restart(broker: Broker):
    stop = threading.Event()
    worker = threading.Thread(target=run_simulator, args=(broker.url, "demo"),
                              kwargs={"rate": 20, "stop": stop})
    worker.start()
    try:
        time.sleep(1)
        assert set(retained_states(broker)) == published_ids()
        broker.stop()  # no persistence: the retained states die with it
        time.sleep(0.5)
        broker.start()
        watcher, live = subscribe(broker, "mcc/v1/+/+/event")
        deadline = time.monotonic() + 15
        while set(retained_states(broker)) != published_ids():
            assert time.monotonic() < deadline, "states were not restated after the restart"
        time.sleep(0.5)
        close(watcher)
        assert live, "no events after the restart"
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_vendor_devices_speak_their_vendor_format_and_its_adapter_understands_it():
    from adapters import BY_NAME
    from adapters.base import AdapterContext
    from console.contract import InboundMessage
    from console.events import validate_event

    devices = {d["id"]: d for d in registry() if d.get("adapter")}
    assert {d["adapter"] for d in devices.values()} == {"zigbee2mqtt", "esp-rfid", "frigate", "gb26875"}
    vendor = [m for m in two_hours() if not m.topic.startswith("mcc/v1/")]
    by_adapter = {"zigbee2mqtt": [], "esp-rfid": [], "frigate": []}
    for m in vendor:
        name = "zigbee2mqtt" if m.topic.startswith("zigbee2mqtt/") else "frigate" if m.topic.startswith(
            "frigate/") else "esp-rfid"
        adapter = BY_NAME[name]
        ctx = AdapterContext(site="demo", topic=adapter.topic, adapter=name)
        drafts = adapter.handle(InboundMessage(m.topic, m.payload.encode(), m.retain, datetime.now().astimezone()), ctx)
        for draft in drafts:
            validate_event(draft, name, datetime.now().astimezone())
        by_adapter[name].append(m.kind)
    assert {"fire.alarm", "device.heartbeat"} <= set(by_adapter["zigbee2mqtt"])
    assert {"access.granted", "device.heartbeat"} <= set(by_adapter["esp-rfid"])
    assert "parking.entry" in by_adapter["frigate"]


def test_the_simulated_gb_device_is_confirmed_by_the_receiver(tmp_path):
    """The demo's GB/T 26875.3 device against the real receiver: its keep-alives and its fire
    alarm are confirmed, and the alarm parses into a fire event."""
    import queue

    from adapters.base import AdapterContext
    from adapters.gb26875 import GB26875
    from console.demo.broker import free_port
    from console.demo.gb_device import GbDevice
    from console.wire.gb26875_receiver import Gb26875Receiver

    frames: queue.Queue = queue.Queue()

    def submit(message):
        frames.put(message)
        message.settle()  # "stored": confirm it

    port = free_port()
    receiver = Gb26875Receiver("127.0.0.1", port, submit=submit, supervise_seconds=60, on_silence=lambda s: None,
                               now=lambda: datetime.now().astimezone())
    receiver.start()
    stop = threading.Event()
    device = GbDevice("127.0.0.1", port, "00000a0b0c03", stop, seed=1, first_incident=1.0)
    try:
        device.start()
        message = frames.get(timeout=20)
        ctx = AdapterContext(site="demo", topic="gb26875/#", adapter="gb26875", timezone="Asia/Shanghai")
        kinds = {d.kind for d in GB26875.handle(message, ctx)}
        assert kinds & {"fire.alarm", "fire.fault"}, kinds
    finally:
        stop.set()
        device.join(5)
        receiver.stop()


def test_the_demo_wand_walks_the_round_due_now_and_its_upload_reads_as_the_adapter_expects() -> None:
    from zoneinfo import ZoneInfo

    from adapters.base import AdapterContext
    from adapters.patrol_wand import PATROL_WAND
    from console.contract import InboundMessage
    from console.demo.patrol_walker import CHECKPOINTS, next_walk

    zone = ZoneInfo("Asia/Shanghai")
    docked, upload = next_walk(datetime(2026, 11, 26, 10, 35, 20, tzinfo=zone), random.Random(7))
    records = upload["records"]
    assert isinstance(records, list) and 3 <= len(records) <= len(CHECKPOINTS)
    first = datetime.fromisoformat(records[0]["time"])
    assert datetime(2026, 11, 26, 10, 30, tzinfo=zone) <= first <= datetime(2026, 11, 26, 10, 34, tzinfo=zone)
    assert docked > datetime.fromisoformat(records[-1]["time"])
    late, _ = next_walk(datetime(2026, 11, 26, 10, 40, tzinfo=zone), random.Random(7))
    assert late > datetime(2026, 11, 26, 11, 0, tzinfo=zone), "past the window: the next round is walked"
    ctx = AdapterContext(site="demo", topic=PATROL_WAND.topic, adapter=PATROL_WAND.name, timezone="Asia/Shanghai")
    message = InboundMessage("patrolwand/W-DEMO-1/upload", json.dumps(upload).encode(), False, docked)
    drafts = PATROL_WAND.handle(message, ctx)
    assert [d.data["card"] for d in drafts] == [r["tag"] for r in records]
    assert {d.data["guard"] for d in drafts} == {"guard1"}
