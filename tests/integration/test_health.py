"""Liveness and readiness against a real broker and a real SQLite file: readiness says 503 when the
console cannot take alarms (broker gone, store locked), recovers by itself, and tells a stranger
only up or down."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from typing import Any

import httpx
from sqlalchemy import select

from console.demo.broker import ManagedMosquitto
from console.store.tables import EventRow
from tests.conftest import Publisher, native_event, wait_until


def _ready(console: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{console.base}/api/health/ready", headers=headers, timeout=5)


def test_readiness_follows_the_broker_and_strangers_learn_only_up_or_down(
    make_console: Any, sqlite_url: str, broker: ManagedMosquitto,
) -> None:
    console = make_console(sqlite_url)
    console.staff({"op": "operator", "wall": "display"})
    assert _ready(console).json() == {"status": "ready"}
    assert httpx.get(f"{console.base}/api/health/live").json() == {"status": "up"}
    # Anonymous and display callers see up/down; the broker's address is for staff only.
    for token in (None, console.tokens["wall"]):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert httpx.get(f"{console.base}/api/health", headers=headers).json() == {"status": "up"}
    figures = console.api("GET", "/api/health", "op").json()
    assert figures["ready"] is True and figures["broker"]["url"].endswith(f":{broker.port}")

    broker.stop()
    refused = wait_until(lambda: (r := _ready(console)).status_code == 503 and r, timeout=10,
                         message="readiness 503 once the broker is gone")
    assert refused.json() == {"status": "down"}
    assert httpx.get(f"{console.base}/api/health").json() == {"status": "down"}
    assert _ready(console, console.tokens["op"]).json()["reasons"] == ["broker: not connected"]
    assert httpx.get(f"{console.base}/api/health/live").status_code == 200, "alive, only not ready"
    cli = [sys.executable, "-m", "console", "health", "--config", str(console.site_file)]
    down = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and "503" in down.stderr

    broker.start()
    wait_until(lambda: _ready(console).status_code == 200, timeout=15, message="ready again with the broker back")
    up = subprocess.run([*cli, "--wait", "10"], capture_output=True, text=True, timeout=30)
    assert up.returncode == 0, up.stderr


def test_a_locked_store_makes_intake_stall_and_readiness_503_until_it_is_released(
    make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    """An exclusive lock held by another process stands in for a store that refuses writes: the
    message waits unacked, readiness turns 503 within health.stall_seconds, and when the lock goes
    the message is stored once and readiness comes back."""
    console = make_console(sqlite_url, health={"stall_seconds": 3})
    token = console._health_token()
    path = sqlite_url.removeprefix("sqlite:///")
    lock = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        publisher.publish(*native_event("fp-1", "stall-1", "fire.alarm", point="1-001"))
        refused = wait_until(lambda: (r := _ready(console, token)).status_code == 503 and r, timeout=12,
                             message="readiness 503 while nothing can be committed")
        assert any(reason.startswith("intake: 1 messages waiting") or reason == "store: writes failing"
                   for reason in refused.json()["reasons"]), refused.json()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_until(lambda: _ready(console).status_code == 200, timeout=20, message="ready once the lock is gone")
    wait_until(lambda: console.stored(select(EventRow).where(EventRow.source_id == "stall-1")), timeout=10)
    assert len(console.stored(select(EventRow).where(EventRow.source_id == "stall-1"))) == 1
