"""The demo's cameras: MJPEG streams drawn by OpenCV in the demo process, at
``http://127.0.0.1:<port>/<camera id>.mjpg``, so that ``mcc demo`` shows snapshots on alarms and
runs the camera-health probe against something real (an HTTP MJPEG stream, as many IP cameras and
recorders serve). Each picture is a fixed scene of the camera's own (shapes drawn from its id, its
English name as a caption), the site time, and someone walking across it: a live picture, never
frozen, that stays like its reference frame.

Nothing runs while no one watches: a frame is drawn only for a connected client, five a second
(console/demo/mjpeg.py serves them).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from console.demo.mjpeg import Frames, MjpegServer

WIDTH, HEIGHT = 640, 360
FPS = 5
MAX_SECONDS = 600
"""One connection streams at most this long (a grab reads one frame and goes)."""


def scene(camera_id: str) -> np.ndarray:
    """The camera's fixed view: a floor, walls, doors and fittings placed by a seed from its id."""
    import cv2

    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(camera_id.encode()).digest()[:8], "little"))
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = np.linspace(70, 150, HEIGHT, dtype=np.uint8)[:, None, None]
    cv2.rectangle(image, (0, int(HEIGHT * 0.7)), (WIDTH, HEIGHT), (60, 70, 80), -1)  # floor
    for _ in range(14):
        x, y = int(rng.integers(0, WIDTH - 80)), int(rng.integers(20, int(HEIGHT * 0.6)))
        w, h = int(rng.integers(30, 140)), int(rng.integers(30, 120))
        cv2.rectangle(image, (x, y), (x + w, y + h), tuple(int(c) for c in rng.integers(40, 220, 3)), -1)
        cv2.rectangle(image, (x, y), (x + w, y + h), (30, 30, 30), 2)
    for _ in range(6):
        cv2.line(image, (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))),
                 (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))), (210, 210, 210), 2)
    return image


class DemoCameras:
    """The streams of ``cameras`` ({id: caption}); ``start()`` picks a free port."""

    def __init__(self, cameras: dict[str, str], timezone: str = "Asia/Shanghai"):
        self.cameras = cameras
        self.zone = ZoneInfo(timezone)
        self.scenes: dict[str, np.ndarray] = {}
        self.server: MjpegServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def url(self, camera_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{camera_id}.mjpg"

    def frame(self, camera_id: str, at: float) -> bytes:
        import cv2

        if camera_id not in self.scenes:
            self.scenes[camera_id] = scene(camera_id)
        image = self.scenes[camera_id].copy()
        x = int((at * 40) % (WIDTH + 80)) - 40  # someone walking across, 40 px a second
        cv2.rectangle(image, (x, int(HEIGHT * 0.42)), (x + 36, int(HEIGHT * 0.9)), (35, 35, 45), -1)
        cv2.circle(image, (x + 18, int(HEIGHT * 0.36)), 16, (35, 35, 45), -1)
        stamp = datetime.fromtimestamp(at, self.zone).strftime("%Y-%m-%d %H:%M:%S")
        cv2.rectangle(image, (0, 0), (WIDTH, 30), (0, 0, 0), -1)
        cv2.putText(image, f"{self.cameras[camera_id]}  {stamp}", (8, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 1, cv2.LINE_AA)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        return encoded.tobytes()

    def start(self) -> DemoCameras:
        def source(path: str) -> Frames | None:
            camera_id = path.lstrip("/").removesuffix(".mjpg")
            if camera_id not in self.cameras:
                return None
            return lambda: self.frame(camera_id, time.time())

        self.server = MjpegServer(source, fps=FPS, seconds=MAX_SECONDS).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
