"""A small MJPEG server over local HTTP (multipart/x-mixed-replace, as many IP cameras and recorders
serve): the demo's cameras (console/demo/cameras.py) and the tests' cameras stream through it.

``source(path)`` is asked once per request: a function giving the JPEG to send now, or None for
404. Frames go out ``fps`` a second for at most ``seconds`` per connection (a grab reads one frame
and leaves). It can be stopped and started again on the same port (a camera that goes away and
comes back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Frames = Callable[[], bytes]


def mjpeg_part(jpeg: bytes) -> bytes:
    """One part of the multipart stream."""
    return (b"--frame\r\nContent-Type: image/jpeg\r\n" + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
            + jpeg + b"\r\n")


class MjpegServer:
    def __init__(self, source: Callable[[str], Frames | None], fps: float = 25.0, seconds: float = 30.0,
                 port: int = 0):
        self.source = source
        self.fps = fps
        self.seconds = seconds
        self.requests = 0
        self.server: ThreadingHTTPServer | None = None
        self._port = port

    @property
    def port(self) -> int:
        return int(self.server.server_address[1]) if self.server is not None else self._port

    def start(self) -> MjpegServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requests += 1
                frames = outer.source(self.path.split("?", 1)[0])
                if frames is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                ends = time.monotonic() + outer.seconds
                try:
                    while time.monotonic() < ends:
                        self.wfile.write(mjpeg_part(frames()))
                        self.wfile.flush()
                        time.sleep(1 / outer.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self.server.daemon_threads = True
        self._port = self.port  # a restart comes back on the same port
        threading.Thread(target=self.server.serve_forever, name="mcc-mjpeg", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
