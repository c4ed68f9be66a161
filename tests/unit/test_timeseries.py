"""The time-series sink without a server: bounded buffer and drop-oldest, batching, back-off with
jitter, counts, and the points made from hub messages. Clock, wall time and jitter are injected:
nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from console.messages import HubMessage
from console.settings import InfluxSection, Settings
from console.sinks.points import telemetry_point
from console.sinks.timeseries import TimeSeriesSink, backoff_delay

T0 = datetime(2026, 11, 26, 2, 0, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0
        self.wall = T0

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += timedelta(seconds=seconds)


class Writer:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail = False

    def __call__(self, points: list[dict[str, Any]]) -> None:
        if self.fail:
            raise ConnectionRefusedError("[Errno 111] Connection refused (token s3cret)")
        self.batches.append(list(points))


def make_sink(writer: Writer, clock: Clock, **config: Any) -> TimeSeriesSink:
    section = InfluxSection(url="http://127.0.0.1:9", token="s3cret", **{
        "batch_size": 3, "flush_seconds": 5, "buffer_max": 10, **config})
    return TimeSeriesSink(section, writer=writer, clock=lambda: clock.t, wall=lambda: clock.wall,
                          rnd=lambda: 1.0, site="demo")


def event(n: int, kind: str = "device.battery_low", **data: Any) -> HubMessage:
    return HubMessage("event", {"id": f"e{n}", "kind": kind, "site": "demo", "device_id": "z-1", "point": "",
                                "ts": T0.isoformat(), "adapter": "zigbee2mqtt", "data": data})


def point(n: int) -> dict[str, Any]:
    return {"measurement": "m", "tags": {}, "fields": {"n": n}, "time": n}


def written_values(writer: Writer) -> list[int]:
    return [p["fields"]["n"] for batch in writer.batches for p in batch]


def test_settings_default_is_off_and_the_token_is_secret() -> None:
    settings = Settings(site={"id": "demo"})
    assert settings.influx.url == ""
    section = InfluxSection(url="http://influx:8086", token="abc123")
    assert "abc123" not in repr(section) and section.token.get_secret_value() == "abc123"
    with pytest.raises(ValueError):
        InfluxSection(url="influx:8086")
    with pytest.raises(ValueError):
        InfluxSection(url="http://x", bufer_max=3)  # type: ignore[call-arg]


def test_full_buffer_drops_the_oldest_points_and_counts_them() -> None:
    writer, clock = Writer(), Clock()
    sink = make_sink(writer, clock, buffer_max=4, batch_size=100)
    sink.add(point(n) for n in range(10))
    status = sink.status()
    assert status["buffered"] == 4 and status["dropped"] == 6
    clock.advance(5)
    sink.step()
    assert written_values(writer) == [6, 7, 8, 9]  # the newest survive
    assert sink.status()["buffered"] == 0 and sink.status()["written"] == 4


def test_batches_by_size_then_by_flush_interval() -> None:
    writer, clock = Writer(), Clock()
    sink = make_sink(writer, clock, batch_size=3, flush_seconds=5)
    sink.add(point(n) for n in range(2))
    assert sink.step() == pytest.approx(5)  # too few points, and not yet time
    assert writer.batches == []
    sink.add(point(n) for n in range(2, 7))
    assert sink.step() == 0.0  # a full batch goes at once, and more are waiting
    assert written_values(writer) == [0, 1, 2]
    sink.step()
    assert written_values(writer) == [0, 1, 2, 3, 4, 5]
    assert sink.step() == pytest.approx(5)  # one point left: wait for the interval
    clock.advance(5)
    sink.step()
    assert [len(b) for b in writer.batches] == [3, 3, 1]


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    assert [backoff_delay(n, 60, lambda: 1.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(3, 60, lambda: 0.0) == 2.0  # jitter takes off up to half
    assert backoff_delay(1000, 60, lambda: 0.5) == 45.0


def test_failed_batches_stay_buffered_and_are_retried_on_the_backoff_schedule() -> None:
    writer, clock = Writer(), Clock()
    sink = make_sink(writer, clock, batch_size=2, backoff_max_seconds=4)
    sink.add(point(n) for n in range(3))
    writer.fail = True
    delays = []
    for _ in range(4):
        delay = sink.step()
        delays.append(delay)
        assert sink.step() == pytest.approx(delay)  # no attempt before the delay is over
        clock.advance(delay)
    assert delays == [1, 2, 4, 4]
    status = sink.status()
    assert status["state"] == "failing" and status["failed_batches"] == 4 and status["buffered"] == 3
    assert "Connection refused" in status["last_error"] and "s3cret" not in status["last_error"]
    writer.fail = False
    sink.step()
    assert written_values(writer) == [0, 1]
    clock.advance(5)  # the last point is not a full batch: it waits for the interval
    sink.step()
    assert written_values(writer) == [0, 1, 2]
    status = sink.status()
    assert status["state"] == "ok" and status["buffered"] == 0 and status["written"] == 3
    assert status["last_write_at"] == clock.wall.isoformat()


def test_points_made_while_a_write_fails_are_kept_behind_the_failed_batch() -> None:
    writer, clock = Writer(), Clock()
    sink = make_sink(writer, clock, batch_size=2, buffer_max=3)
    sink.add([point(0), point(1)])
    writer.fail = True
    clock.advance(sink.step())
    sink.add([point(2), point(3)])  # full: point 0 is dropped
    writer.fail = False
    sink.step()
    clock.advance(5)
    sink.step()
    assert written_values(writer) == [1, 2, 3]
    assert sink.status()["dropped"] == 1


def test_counts_per_bucket_by_kind_and_site() -> None:
    writer, clock = Writer(), Clock()
    sink = make_sink(writer, clock, batch_size=100, count_seconds=60)
    alarm = HubMessage("alarm.raised", {"kind": "fire.alarm", "severity": "critical", "site": "demo"})
    sink.offer([event(1, "fire.alarm"), alarm, event(2, "access.granted"), event(3, "access.granted")])
    sink.collect()
    assert sink.status()["buffered"] == 0  # the minute is still open
    clock.advance(60)
    sink.offer([event(4, "access.granted")])
    sink.collect()
    clock.advance(5)
    sink.step()
    counts = {(p["measurement"], p["tags"]["kind"]): (p["fields"], p["time"]) for p in writer.batches[0]}
    start = int(T0.timestamp() * 1000)
    assert counts == {("mcc_events", "fire.alarm"): ({"count": 1}, start),
                      ("mcc_events", "access.granted"): ({"count": 2}, start),
                      ("mcc_alarms", "fire.alarm"): ({"raised": 1}, start)}
    sink.finish(timeout=1)  # the open bucket is written on stop
    assert [(p["tags"]["kind"], p["fields"], p["time"]) for p in writer.batches[-1]] == [
        ("access.granted", {"count": 1}, start + 60000)]


def test_telemetry_points_are_floats_with_device_tags() -> None:
    p = telemetry_point(event(1, battery=15, linkquality=120, smoke=True, test=False).data)
    assert p == {"measurement": "mcc_device", "time": int(T0.timestamp() * 1000),
                 "tags": {"site": "demo", "device_id": "z-1", "kind": "device.battery_low", "adapter": "zigbee2mqtt"},
                 "fields": {"battery": 15.0, "linkquality": 120.0}}
    assert telemetry_point(event(2, card="A1").data) is None
    analog = telemetry_point(event(3, "device.heartbeat", value=0.42, quantity="pressure", unit="MPa").data)
    assert analog is not None and analog["tags"]["unit"] == "MPa" and analog["fields"] == {"value": 0.42}


def test_closed_tasks_and_parking_events_are_measured_off_the_hook() -> None:
    writer, clock = Writer(), Clock()
    asked: list[int] = []

    def kpis(task_id: int) -> dict[str, Any]:
        asked.append(task_id)
        return {"measurement": "mcc_task", "tags": {"site": "demo", "sop": "fire"},
                "fields": {"to_close_s": 60.0}, "time": 1}

    section = InfluxSection(url="http://x:1", batch_size=100)
    sink = TimeSeriesSink(section, writer=writer, clock=lambda: clock.t, wall=lambda: clock.wall,
                          occupancy=lambda: [{"car_park": "P1", "occupied": 3, "free": 7, "capacity": 10}],
                          kpis=kpis, site="demo")
    closed = HubMessage("task.updated", {"id": 7, "state": "closed", "drill": False})
    sink.offer([closed, closed, HubMessage("task.updated", {"id": 8, "state": "closed", "drill": True}),
                HubMessage("task.updated", {"id": 9, "state": "open", "drill": False})])
    sink.offer([closed, event(1, "parking.entry", plate="粤B12345")])
    assert asked == []  # the hook reads nothing
    sink.collect()
    assert asked == [7]
    kinds = sorted(p["measurement"] for _, p in sink._buffer)
    assert kinds == ["mcc_parking", "mcc_task"]


def test_the_hook_never_raises() -> None:
    sink = make_sink(Writer(), Clock())
    sink.offer([HubMessage("event", {"no": "fields"})])  # logged, not raised
    assert sink.status()["buffered"] == 0
