"""A center on one machine (console/demo/center.py, ``mcc center``): two instances behind HAProxy.
A wall whose instance is killed reconnects through HAProxy to the other and resumes with exactly
what it missed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.demo.broker import ManagedMosquitto
from console.demo.center import Center
from tests.conftest import ConsoleProcess, Publisher, _postgres_database, native_event, wait_until, write_site
from tests.support.websocket import receive_until, ws_connect

pytestmark = pytest.mark.slow


@pytest.fixture
def center(tmp_path: Path, broker: ManagedMosquitto) -> Iterator[tuple[Center, ConsoleProcess]]:
    databases = _postgres_database()
    pg_url = next(databases)
    site = write_site(tmp_path / "site", broker.url, pg_url, 0, mqtt={"client_id": "center"})
    running = Center(site, tmp_path / "center", ["console-1", "console-2"])
    running.start()
    # The balancer's address as the tests' client of "the console" (its API and WebSocket helpers).
    front = ConsoleProcess(site, running.port, tmp_path / "unused.log")
    try:
        wait_until(lambda: _ready(running.url), timeout=60, interval=0.2, message="the center answers")
        yield running, front
    finally:
        running.stop()
        next(databases, None)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_wall_whose_instance_dies_resumes_through_the_balancer_without_a_gap(
    center: tuple[Center, ConsoleProcess], publisher: Publisher
) -> None:
    running, front = center
    front.staff({"op": "operator", "wall": "display"})
    with ws_connect(front, "wall") as ws:
        serving = ws.response.headers["x-mcc-instance"]
        stream = json.loads(ws.recv(timeout=5))["stream"]
        publisher.publish(*native_event("fp-1", "fire-h1", "fire.alarm", point="1-003"))
        raised = receive_until(ws, lambda m: m["type"] == "alarm.raised")[-1]
    running.kill(serving)  # kill -9 the wall's instance
    # Meanwhile an operator acknowledges through the balancer (it goes to the instance alive).
    acked = wait_until(lambda: (r := front.api("POST", f"/api/alarms/{raised['data']['id']}/ack", "op",
                                               json={})).status_code == 200 and r, timeout=15, interval=0.2)
    assert acked.json()["acknowledged"] is True
    with ws_connect(front, "wall", f"?since={raised['seq']}&stream={stream}") as ws:
        assert ws.response.headers["x-mcc-instance"] != serving
        missed = receive_until(ws, lambda m: m["type"] == "alarm.acked")
    assert all(m["type"] != "snapshot" for m in missed), "resumed, not a fresh snapshot"
    assert [m["seq"] for m in missed] == list(range(raised["seq"] + 1, raised["seq"] + 1 + len(missed)))
    assert missed[-1]["data"]["id"] == raised["data"]["id"]
    running.start_instance(serving)  # back under its name (its MQTT session and its share of messages)
    wait_until(lambda: _instance_ready(running, serving), timeout=60, interval=0.2)


def _instance_ready(running: Center, name: str) -> Any:
    try:
        return httpx.get(f"http://127.0.0.1:{running.ports[name]}/api/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
