"""Cameras for the tests, served from this process: MJPEG over local HTTP from frames OpenCV made
(a fixed loop, or whatever a function gives now, stopped and started on the same port), and a
camera that accepts and never answers; plus readers of what the console made of them."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from console.broker import free_port
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


class MjpegServer:
    """multipart/x-mixed-replace at /stream.mjpg, 25 frames a second, for as long as a client reads."""

    def __init__(self, frames: list[bytes]):
        self.frames = frames
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requests += 1
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    for n in range(25 * 30):
                        frame = outer.frames[n % len(outer.frames)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         + f"Content-Length: {len(frame)}\r\n\r\n".encode() + frame + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.04)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


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


class Stream:
    """MJPEG at /stream.mjpg on a fixed port; ``frame()`` gives what is sent now. Stops and starts
    again on the same port."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> Stream:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(25 * 10):
                        frame = outer.frame()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         + f"Content-Length: {len(frame)}\r\n\r\n".encode() + frame + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.04)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


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
