"""The time-series sink against a real server: Debian's VictoriaMetrics, which accepts the InfluxDB
v2 write API (/api/v2/write). Points are read back with its /api/v1/export. The server is stopped
and started again under a running console: ingest never waits for it. End to end, what a user
charts: GB/T 26875.3 analog values sent over TCP to the console's receiver, and a car park's
occupancy after entries and exits over MQTT."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.gb26875 import build_frame, time_label
from console.demo.broker import free_port, terminate
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.integration.test_gb26875 import CENTRE, SOURCE, check_reply, local_now, read_frames
from tests.integration.test_gb26875_console import GATEWAY
from tests.support.websocket import receive_until, ws_connect

VM_BINARY = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


class VictoriaMetrics:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "vm.log", "ab")
        self.process = subprocess.Popen(
            [VM_BINARY, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.folder / 'data'}",
             "-retentionPeriod=1y", "-search.latencyOffset=1s"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def up() -> bool:
            assert self.process is not None and self.process.poll() is None, "victoria-metrics exited"
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=20, message="victoria-metrics /health")

    def stop(self) -> None:
        terminate(self.process, 20)
        self.process = None

    def export(self, pattern: str = "mcc_.*") -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/export", params={"match[]": f'{{__name__=~"{pattern}"}}'},
                             timeout=5)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def series(self, name: str, **labels: str) -> list[dict[str, Any]]:
        return [s for s in self.export() if s["metric"]["__name__"] == name
                and all(s["metric"].get(k) == v for k, v in labels.items())]

    def total(self, name: str, **labels: str) -> float:
        return sum(sum(s["values"]) for s in self.series(name, **labels))

    def history(self, name: str, **labels: str) -> list[float]:
        """The one matching series' values in time order ([] while there is none)."""
        found = self.series(name, **labels)
        assert len(found) <= 1, [s["metric"] for s in found]
        return [v for _, v in sorted(zip(found[0]["timestamps"], found[0]["values"]))] if found else []


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    if not Path(VM_BINARY).exists():
        pytest.fail("victoria-metrics is not installed (bash scripts/setup.sh --test installs it)")
    server = VictoriaMetrics(tmp_path / "vm")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def sink_settings(vm: VictoriaMetrics, **overrides: Any) -> dict[str, Any]:
    return {"url": vm.url, "org": "-", "bucket": "mcc", "token": "test-token-not-logged",
            "batch_size": 200, "flush_seconds": 0.2, "count_seconds": 1, "timeout_seconds": 1,
            "backoff_max_seconds": 1, **overrides}


def test_telemetry_counts_and_kpis_reach_the_server_and_survive_its_restart(
    make_console: Any, sqlite_url: str, publisher: Publisher, vm: VictoriaMetrics
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, influx=sink_settings(vm))
    console.add_user("op", "operator")
    console.add_user("sup", "supervisor")
    console.login("op")
    console.login("sup")
    assert console.health()["influx"]["enabled"] is True

    publisher.publish(*native_event("fp-1", "bat-1", "device.battery_low", data={"battery": 15}, ts=now_iso()))
    publisher.publish(*native_event("door-1", "hb-1", "device.heartbeat", data={"rssi": -67, "linkquality": 120},
                                    ts=now_iso()))
    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", point="1-003", ts=now_iso()))

    wait_until(lambda: vm.series("mcc_device_battery", device_id="fp-1"), timeout=15, message="battery point")
    battery = vm.series("mcc_device_battery", device_id="fp-1")
    assert [s["values"] for s in battery] == [[15]]
    assert battery[0]["metric"]["site"] == "demo" and battery[0]["metric"]["kind"] == "device.battery_low"
    assert battery[0]["metric"]["adapter"] == "native"
    heartbeat = {s["metric"]["__name__"]: s["values"] for s in vm.export("mcc_device_.*")
                 if s["metric"]["device_id"] == "door-1"}
    assert heartbeat == {"mcc_device_rssi": [-67], "mcc_device_linkquality": [120]}
    wait_until(lambda: vm.total("mcc_alarms_raised", kind="fire.alarm") == 1, timeout=15, message="alarm count")
    assert vm.series("mcc_alarms_raised", kind="fire.alarm")[0]["metric"]["severity"] == "critical"
    wait_until(lambda: vm.total("mcc_events_count", kind="fire.alarm", site="demo") == 1, timeout=15)
    assert vm.total("mcc_events_count", kind="device.heartbeat", site="demo") == 1

    # Handling KPIs at the task's close.
    alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json())[0]
    assert console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "看到了"}).status_code == 200
    task_id = console.api("GET", "/api/alarms?active=true", "op").json()[0]["task_id"]
    closed = console.api("POST", f"/api/tasks/{task_id}/close", "sup", json={"reason": "测试：误报，已复位"})
    assert closed.status_code == 200, closed.text
    wait_until(lambda: vm.series("mcc_task_to_close_s"), timeout=15, message="KPI point")
    kpi = vm.series("mcc_task_to_close_s")[0]
    assert kpi["metric"]["alarm_kind"] == "fire.alarm" and kpi["metric"]["site"] == "demo" and kpi["metric"]["sop"]
    assert kpi["values"][0] >= 0
    assert len(vm.series("mcc_task_to_acknowledge_s")) == 1
    health = console.health()["influx"]
    assert health["state"] == "ok" and health["written"] > 0 and health["last_write_at"]
    assert health["failed_batches"] == 0 and health["dropped"] == 0

    # The server goes away: ingest, the API and the WebSocket go on as before.
    vm.stop()
    with ws_connect(console, "op") as ws:
        json.loads(ws.recv(timeout=5))
        started = time.monotonic()
        for n in range(5):
            publisher.publish(*native_event("fp-1", f"bat-away-{n}", "device.battery_low",
                                            data={"battery": 10 - n}, ts=now_iso()))
        publisher.publish(*native_event("fp-1", "fire-away", "fire.alarm", point="1-003", ts=now_iso()))
        seen = receive_until(ws, lambda m: m["type"] == "event" and m["data"]["id"] == "fire-away", timeout=5)
        assert time.monotonic() - started < 3
    assert any(m["type"] == "event" and m["data"]["id"] == "bat-away-4" for m in seen)
    stored = console.api("GET", "/api/events?device_id=fp-1&limit=50", "op").json()
    assert {f"bat-away-{n}" for n in range(5)} | {"fire-away"} <= {e["id"] for e in stored}
    failing = wait_until(lambda: (lambda t: t if t["state"] == "failing" and t["buffered"] > 0 else None)(
        console.health()["influx"]), timeout=10, message="influx failing on /api/health")
    assert failing["failed_batches"] >= 1 and failing["last_error"]
    assert "test-token-not-logged" not in json.dumps(console.health())
    assert console.health()["status"] == "ok"  # the time series does not make the console degraded

    # The server comes back on the same storage: what was buffered arrives.
    vm.start()
    wait_until(lambda: len(vm.series("mcc_device_battery", device_id="fp-1")[0]["values"]) == 6, timeout=20,
               message="buffered battery points after the restart")
    values = sorted(vm.series("mcc_device_battery", device_id="fp-1")[0]["values"])
    assert values == [6, 7, 8, 9, 10, 15]
    wait_until(lambda: console.health()["influx"]["state"] == "ok", timeout=10)
    wait_until(lambda: vm.total("mcc_events_count", kind="fire.alarm") == 2, timeout=10)
    assert "test-token-not-logged" not in console.log_path.read_text(errors="replace")


def test_a_full_buffer_drops_the_oldest_and_ingest_goes_on(
    make_console: Any, sqlite_url: str, publisher: Publisher, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    console: ConsoleProcess = make_console(sqlite_url, influx={
        "url": dead, "buffer_max": 5, "batch_size": 2, "flush_seconds": 0.1, "count_seconds": 3600,
        "timeout_seconds": 1, "backoff_max_seconds": 1})
    console.add_user("op", "operator")
    console.login("op")
    started = time.monotonic()
    for n in range(40):
        publisher.publish(*native_event("door-1", f"hb-{n}", "device.heartbeat", data={"rssi": -60 - n},
                                        ts=now_iso()), wait=False)
    wait_until(lambda: len(console.api("GET", "/api/events?device_id=door-1&limit=100", "op").json()) == 40,
               timeout=15, message="all 40 events stored")
    assert time.monotonic() - started < 10
    health = wait_until(lambda: (lambda t: t if t["dropped"] == 35 and t["state"] == "failing" else None)(
        console.health()["influx"]), timeout=10, message="35 dropped, failing")
    assert health["buffered"] == 5
    assert health["written"] == 0
    assert console.health()["ingest"]["stored"] == 40


def analog(system: tuple[int, int], component_type: int, address: int, analog_type: int, raw: int) -> bytes:
    """A GB/T 26875.3 type-3 information body (the value an int16, signed, low byte first)."""
    return (bytes([*system, component_type]) + address.to_bytes(4, "little") + bytes([analog_type])
            + raw.to_bytes(2, "little", signed=True))


def test_gb26875_analog_values_over_tcp_are_charted_with_quantity_and_unit(
    make_console: Any, sqlite_url: str, vm: VictoriaMetrics
) -> None:
    port = free_port()
    console: ConsoleProcess = make_console(
        sqlite_url, influx=sink_settings(vm), devices={"entries": [GATEWAY]},
        adapters=[{"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{port}"}])
    assert console.health()["influx"]["enabled"] is True
    when = local_now().replace(microsecond=0)  # the objects' own time, local (Asia/Shanghai)
    bodies = [
        analog((11, 1), 99, 3, 4, 4),  # hydrant 11-1, pressure switch at 3: 4 × 0.1 MPa
        analog((12, 1), 99, 8, 5, 3500),  # sprinkler 12-1, pressure switch at 8: 3500 × 0.1 kPa
        analog((1, 1), 18, 12, 3, -55),  # fire alarm 1-1, temperature fire monitor at 12: -55 × 0.1 °C
    ]
    data = bytes([3, len(bodies)]) + b"".join(body + time_label(when) for body in bodies)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(10)
        sock.sendall(build_frame(31, SOURCE, CENTRE, 2, data, when=when))
        check_reply(read_frames(sock, 1)[0], command=3, serial=31)  # confirmed: stored

    at_ms = int(when.timestamp() * 1000)
    wait_until(lambda: len(vm.series("mcc_device_value", device_id="fire-gw-1")) == 3, timeout=15,
               message="three analog series")
    charted = {(s["metric"]["point"], s["metric"]["quantity"], s["metric"]["unit"]): (s["values"], s["timestamps"])
               for s in vm.series("mcc_device_value", device_id="fire-gw-1")}
    assert charted == {
        ("11-1-3", "pressure", "MPa"): ([0.4], [at_ms]),
        ("12-1-8", "pressure", "kPa"): ([350], [at_ms]),
        ("1-1-12", "temperature", "°C"): ([-5.5], [at_ms]),
    }
    [hydrant] = vm.series("mcc_device_value", quantity="pressure", unit="MPa")
    assert {k: hydrant["metric"][k] for k in ("site", "kind", "adapter")} == {
        "site": "demo", "kind": "device.heartbeat", "adapter": "gb26875"}
    assert {s["metric"]["__name__"] for s in vm.export("mcc_device_.*")} == {"mcc_device_value"}, (
        "raw and the addresses are not telemetry")
    console.add_user("op", "operator")
    console.login("op")
    assert console.api("GET", "/api/alarms?active=true", "op").json() == [], "telemetry raises no alarm"
    wait_until(lambda: vm.total("mcc_events_count", kind="device.heartbeat", site="demo") == 3, timeout=10)


def test_car_park_occupancy_is_charted_after_entries_and_exits(
    make_console: Any, sqlite_url: str, publisher: Publisher, vm: VictoriaMetrics
) -> None:
    # lane-in (tests/conftest.py DEVICES) is a lane in building 地下车库: the car park's lane.
    make_console(sqlite_url, influx=sink_settings(vm), parking={"car_parks": {"地下车库": {"capacity": 10}}})
    park = {"site": "demo", "car_park": "地下车库"}
    for n, plate in enumerate(("粤B12345", "粤B67890")):
        publisher.publish(*native_event("lane-in", f"in-{n}", "parking.entry", data={"plate": plate}, ts=now_iso()))
    wait_until(lambda: vm.history("mcc_parking_occupied", **park)[-1:] == [2], timeout=15, message="two cars in")
    publisher.publish(*native_event("lane-in", "out-0", "parking.exit", data={"plate": "粤B12345"}, ts=now_iso()))
    wait_until(lambda: vm.history("mcc_parking_occupied", **park)[-1:] == [1], timeout=10, message="one car out")

    occupied = vm.history("mcc_parking_occupied", **park)
    # The console writes the occupancy at its start (0), then after each flush with entries or exits.
    assert occupied[-2:] == [2, 1] and set(occupied) <= {0, 1, 2} and occupied == sorted(occupied[:-1]) + [1], occupied
    wait_until(lambda: vm.history("mcc_parking_free", **park)[-1:] == [9], timeout=10, message="nine free")
    assert vm.history("mcc_parking_free", **park) == [10 - n for n in occupied]
    assert set(vm.history("mcc_parking_capacity", **park)) == {10}
