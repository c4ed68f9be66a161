"""The sites benchmark's load schedule (bench/schedule.py), site file (bench/sitemix.py) and
raw MQTT packets (bench/rawmqtt.py): phases, what a publisher owes by a given time, that every event it
sends is a registered device's, and the bytes it sends."""

from __future__ import annotations

import json
import random

from bench.rawmqtt import connect_packet, publish_packet, remaining_length
from bench.schedule import Phase, due, kinds, phase_at, plan
from bench.sitemix import devices, site_ids, templates, topic


def test_a_burst_sits_between_two_steady_stretches() -> None:
    phases = plan(60, 2000, 5, 20000)
    assert [(p.kind, p.start, p.end, p.rate) for p in phases] == [
        ("steady", 0, 60, 2000), ("burst", 60, 65, 20000), ("after", 65, 125, 2000)]
    assert sum(p.planned for p in phases) == 2000 * 120 + 20000 * 5
    assert kinds(plan(10, 1, 1, 2, bursts=3)) == ["steady", "burst", "after"]
    assert len(plan(10, 1, 1, 2, bursts=3)) == 7


def test_the_phase_at_a_time_is_none_outside_the_schedule() -> None:
    phases = plan(10, 100, 2, 1000)
    assert [phase_at(phases, t) for t in (-0.1, 0, 9.99, 10, 11.99, 12, 21.99, 22)] == [None, 0, 0, 1, 1, 2, 2, None]


def test_a_publisher_owes_its_share_and_never_more_than_the_phase_holds() -> None:
    burst = Phase("burst", 60, 65, 20000)
    assert due(burst, 59, 0.5) == 0
    assert due(burst, 61, 0.5) == 10000
    assert due(burst, 65, 0.5) == due(burst, 300, 0.5) == 50000


def test_every_event_is_a_registered_device_of_one_of_the_sites() -> None:
    sites = site_ids(500)
    assert sites[0] == "s-001" and sites[-1] == "s-500"
    registered = {(d["site"], d["id"]) for s in sites for d in devices(s)}
    pool = templates(random.Random(1), count=2000)
    for device, payload in pool:
        for site in (sites[0], sites[-1]):
            _, _, on, name, _ = topic(site, device).decode().split("/")
            assert (on, name) in registered
        body = json.loads(payload)
        assert body["id"] == "@ID@" and body["ts"] == "@TS@"
    assert {"access.granted", "device.heartbeat"} <= {json.loads(p)["type"] for _, p in pool}


def test_the_raw_publisher_builds_mqtt_packets() -> None:
    assert [remaining_length(n) for n in (0, 127, 128, 16383, 16384)] == [
        b"\x00", b"\x7f", b"\x80\x01", b"\xff\x7f", b"\x80\x80\x01"]
    packet = publish_packet(b"a/b", b"xy", 258)
    assert packet == b"\x32\x09\x00\x03a/b\x01\x02xy"
    assert connect_packet("c") == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01c"
