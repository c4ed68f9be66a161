"""Cameras for the tests, served from this process: MJPEG over local HTTP from frames OpenCV made
(a fixed loop, or whatever a function gives now, stopped and started on the same port), and a
camera that accepts and never answers; plus readers of what the console made of them."""

from __future__ import annotations

import itertools
import socket
import threading
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from console.demo.broker import free_port
from console.demo.mjpeg import Frames
from console.demo.mjpeg import MjpegServer as Server
from console.store.database import Store
from console.store.tables import AuditRow, EventRow
from tests.conftest import ConsoleProcess

HEALTH = {"health_seconds": 0.5, "health_offline_probes": 2}
"""A site file's camera-health settings for tests: a probe every half second, offline at the second miss."""


def make_frames(count: int = 25, shade: int = 0) -> list[bytes]:
    """A moving test card, encoded by OpenCV itself."""
    frames = []
    for n in range(count):
        image = np.full((240, 320, 3), shade, dtype=np.uint8)
        cv2.rectangle(image, (10 + 8 * n, 60), (70 + 8 * n, 120), (0, 0, 255), -1)
        cv2.putText(image, f"MCC {n:02d}", (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
        ok, encoded = cv2.imencode(".jpg", image)
        assert ok
        frames.append(encoded.tobytes())
    return frames


class MjpegServer(Server):
    """/stream.mjpg, 25 frames a second for up to 30 s: ``frames`` in a loop, from the first for
    every client (404 for any other path)."""

    def __init__(self, frames: list[bytes]):
        def source(path: str) -> Frames | None:
            if path != "/stream.mjpg":
                return None
            loop = itertools.cycle(frames)
            return lambda: next(loop)

        super().__init__(source)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"


class SilentServer:
    """Accepts TCP connections and never sends a byte: a camera that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/stream.mjpg"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class Stream(Server):
    """MJPEG at /stream.mjpg on a fixed port, 25 frames a second for up to 10 s; ``frame()`` gives
    what is sent now (assign another to change the picture). Stops and starts again on the same port."""

    def __init__(self, frame: Frames) -> None:
        self.frame = frame
        super().__init__(lambda _path: lambda: self.frame(), seconds=10, port=free_port())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"


def audit_rows(console: ConsoleProcess, action: str) -> list[AuditRow]:
    store = Store(console.db_url)
    try:
        with store.read() as session:
            return list(session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)))
    finally:
        store.dispose()


def events(console: ConsoleProcess, device: str) -> list[tuple[str, dict[str, Any]]]:
    store = Store(console.db_url)
    try:
        with store.read() as session:
            rows = session.execute(select(EventRow.kind, EventRow.data).where(EventRow.device_id == device)
                                   .order_by(EventRow.id)).all()
            return [(kind, data or {}) for kind, data in rows]
    finally:
        store.dispose()


def alarms(console: ConsoleProcess, device: str) -> list[dict[str, Any]]:
    return [a for a in console.api("GET", "/api/alarms", "op").json() if a["device_id"] == device]
