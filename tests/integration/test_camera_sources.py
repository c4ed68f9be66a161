"""The other camera sources, end to end against a real console and broker (SQLite): a real RTSP
server (GStreamer's, tests/support/rtsp_server.py) serving a clip made here with OpenCV, that clip as
a video file (file:// URL and plain path), and a still-image HTTP URL (one JPEG per GET, as many IP
cameras offer). Snapshots on alarm come from each; the health probe sees the RTSP camera ok, then
offline once its server stops; and a heavily blurred stream is reported as camera.tamper (blurred)
while a sharp one stays quiet.

(HTTP MJPEG is covered by test_cameras.py and test_camera_health.py, whose helpers are reused here.)"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from console.demo.broker import free_port
from console.settings.cameras import CamerasSection
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.support.cameras import HEALTH, Stream, alarms, audit_rows, events
from tests.support.rtsp_server import RtspServer
from tests.support.scenes import corridor, jpeg, live

SIZE = (240, 320, 3)
"""The clip's frames."""
CLIP_FRAMES = 50


def frame_at(n: int, width: int = 320, height: int = 240) -> np.ndarray:
    """Frame ``n`` of a live camera: a lit corridor (tests/support/scenes.py) with its sensor noise
    (different in every frame: never frozen) and a small frame counter (the same scene: never moved)."""
    image = live(corridor(width, height), n)
    cv2.putText(image, f"{n:04d}", (width - 70, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return image


def decode(data: bytes) -> np.ndarray:
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None, "not a JPEG OpenCV can decode"
    return frame


def sharpness(frame: np.ndarray) -> float:
    """What the health probe measures for blur (console/video/health.py): variance of the
    Laplacian of the grey frame at 320 px wide."""
    image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if image.shape[1] != 320:
        image = cv2.resize(image, (320, round(image.shape[0] * 320 / image.shape[1])), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(image, cv2.CV_64F).var())


def closest(frame: np.ndarray, frames: list[np.ndarray]) -> float:
    """Mean absolute difference (grey levels) to the nearest of ``frames``: a few for a re-encoded
    copy, near 100 for garbage (a green frame from a stream decoded wrongly)."""
    return min(float(np.mean(cv2.absdiff(frame, other))) for other in frames)


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """A two-second Motion-JPEG AVI written by OpenCV (frame_at 0..49) and its frames as OpenCV
    reads them back."""
    path = tmp_path / "clips" / "东门 clip.avi"  # a space and CJK: file:// URLs are percent-encoded
    path.parent.mkdir()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (SIZE[1], SIZE[0]))
    assert writer.isOpened(), "OpenCV cannot write an MJPG AVI"
    for n in range(CLIP_FRAMES):
        writer.write(frame_at(n))
    writer.release()
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == CLIP_FRAMES and frames[0].shape == SIZE
    return path, frames


@pytest.fixture
def rtsp(clip: tuple[Path, list[np.ndarray]], tmp_path: Path) -> Iterator[RtspServer]:
    """The clip served at rtsp://127.0.0.1:PORT/cam, live and looped, by a real RTSP server."""
    with RtspServer(clip[0], free_port(), tmp_path / "rtsp-server.log") as server:
        yield server


class StillServer:
    """A camera that offers only a still image: each GET of /snapshot.jpg answers one JPEG
    (Content-Type image/jpeg, with its Content-Length), a new picture each time."""

    def __init__(self, picture: Callable[[], bytes]):
        self.picture = picture
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.paths.append(self.path)
                if self.path != "/snapshot.jpg":
                    self.send_error(404)
                    return
                body = outer.picture()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/snapshot.jpg"

    def __enter__(self) -> StillServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def still_picture(n: int) -> bytes:
    """A 640×360 picture (not the clip's size: the snapshot is this one)."""
    return jpeg(frame_at(n, 640, 360))


def snapshots_of(console: ConsoleProcess, alarm_id: int, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    alarm = wait_until(lambda: (lambda a: a if len(a["snapshots"]) >= count else None)(
        console.api("GET", f"/api/alarms/{alarm_id}", "op").json()), timeout=timeout,
        message=f"{count} snapshot(s) on alarm {alarm_id}\n{console.log_tail()}")
    return alarm["snapshots"]  # type: ignore[no-any-return]


def raise_alarm(console: ConsoleProcess, publisher: Publisher, device: str, source_id: str, kind: str) -> int:
    publisher.publish(*native_event(device, source_id, kind))
    found = wait_until(lambda: [a for a in console.api("GET", "/api/alarms", "op").json()
                                if a["device_id"] == device and a["kind"] == kind], timeout=5, message="alarm")
    return int(found[0]["id"])


def fetch_snapshot(console: ConsoleProcess, snapshot: dict[str, Any]) -> np.ndarray:
    """The stored JPEG: served as image/jpeg, its SHA-256 as listed and as in the audit chain."""
    image = console.api("GET", snapshot["url"], "op")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    digest = hashlib.sha256(image.content).hexdigest()
    assert digest == snapshot["sha256"]
    audited = {json.loads(r.detail)["snapshot_id"]: json.loads(r.detail)["sha256"]
               for r in audit_rows(console, "camera.snapshot")}
    assert audited[snapshot["id"]] == digest
    return decode(image.content)


def login_operator(console: ConsoleProcess) -> None:
    console.add_user("op", "operator")
    console.login("op")


# -- RTSP ------------------------------------------------------------------------------------------

def test_an_rtsp_camera_gives_the_alarm_a_snapshot(
    make_console: Any, sqlite_url: str, publisher: Publisher, rtsp: RtspServer,
    clip: tuple[Path, list[np.ndarray]]
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, cameras={"entries": [
        {"id": "cam-rtsp", "name": "大堂 RTSP", "url": rtsp.url, "devices": ["door-1"],
         "snapshot_offsets": [0], "timeout_seconds": 5}]})
    login_operator(console)

    alarm_id = raise_alarm(console, publisher, "door-1", "forced-rtsp", "access.door_forced")
    [snapshot] = snapshots_of(console, alarm_id, 1)
    assert snapshot["camera"] == "cam-rtsp" and snapshot["camera_name"] == "大堂 RTSP"
    frame = fetch_snapshot(console, snapshot)
    assert frame.shape == SIZE
    # A picture of the clip (re-encoded twice on the way), not a wrongly decoded (green) frame.
    assert closest(frame, clip[1]) < 20
    assert console.cli("audit", "verify").returncode == 0
    cameras = console.health()["cameras"]
    assert cameras["by_camera"] == {"cam-rtsp": {"grabbed": 1, "failed": 0, "dropped": 0}}


def test_an_rtsp_camera_is_ok_on_health_then_offline_once_its_server_stops(
    make_console: Any, sqlite_url: str, rtsp: RtspServer
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, cameras={**HEALTH, "entries": [
        {"id": "cam-rtsp", "name": "大门 RTSP", "url": rtsp.url, "timeout_seconds": 3}]})
    login_operator(console)

    wait_until(lambda: console.health()["cameras"]["states"]["cam-rtsp"] == "ok", timeout=15,
               message=f"first RTSP probe\n{console.log_tail()}")
    # A live stream: later probes see later frames (never frozen), and no event at all.
    rounds = console.health()["cameras"]["health_rounds"]
    wait_until(lambda: console.health()["cameras"]["health_rounds"] >= rounds + 3, timeout=15, message="probes")
    cameras = console.health()["cameras"]
    assert cameras["states"] == {"cam-rtsp": "ok"} and cameras["probe_failures"] == 0
    assert events(console, "cam-rtsp") == []

    rtsp.stop()
    alarm = wait_until(lambda: alarms(console, "cam-rtsp"), timeout=15, message="offline alarm")[0]
    assert alarm["kind"] == "camera.offline" and alarm["device_id"] == "cam-rtsp"
    assert console.health()["cameras"]["states"] == {"cam-rtsp": "offline"}
    [(kind, data)] = events(console, "cam-rtsp")
    assert kind == "camera.offline" and data["via"] == "probe" and data["error"]


# -- a video file --------------------------------------------------------------------------------------

def test_a_video_file_by_url_and_by_path_gives_snapshots(
    make_console: Any, sqlite_url: str, publisher: Publisher, clip: tuple[Path, list[np.ndarray]]
) -> None:
    path, frames = clip
    assert "%20" in path.as_uri()
    console: ConsoleProcess = make_console(sqlite_url, cameras={"entries": [
        {"id": "cam-file-url", "url": path.as_uri(), "devices": ["door-1"], "snapshot_offsets": [0]},
        {"id": "cam-file-path", "url": str(path), "devices": ["door-1"], "snapshot_offsets": [0]}]})
    login_operator(console)

    alarm_id = raise_alarm(console, publisher, "door-1", "forced-file", "access.door_forced")
    snapshots = snapshots_of(console, alarm_id, 2)
    assert sorted(s["camera"] for s in snapshots) == ["cam-file-path", "cam-file-url"]
    for snapshot in snapshots:
        frame = fetch_snapshot(console, snapshot)
        assert frame.shape == SIZE
        assert closest(frame, frames) < 12  # a frame of the clip, JPEG-encoded once more
    assert console.health()["cameras"]["failed"] == 0


# -- a still-image HTTP URL ------------------------------------------------------------------------

def test_a_still_image_url_gives_a_snapshot(make_console: Any, sqlite_url: str, publisher: Publisher) -> None:
    count = iter(range(10**9))
    with StillServer(lambda: still_picture(next(count))) as still:
        console: ConsoleProcess = make_console(sqlite_url, cameras={"entries": [
            {"id": "cam-still", "url": still.url, "devices": ["door-1"], "snapshot_offsets": [0, 1]}]})
        login_operator(console)

        alarm_id = raise_alarm(console, publisher, "door-1", "forced-still", "access.door_forced")
        snapshots = snapshots_of(console, alarm_id, 2)
        frames = [fetch_snapshot(console, s) for s in snapshots]
        assert [f.shape for f in frames] == [(360, 640, 3)] * 2
        assert snapshots[0]["sha256"] != snapshots[1]["sha256"]  # a new picture per GET
        assert set(still.paths) == {"/snapshot.jpg"} and len(still.paths) >= 2
    assert console.health()["cameras"]["by_camera"] == {"cam-still": {"grabbed": 2, "failed": 0, "dropped": 0}}


# -- a blurred stream ------------------------------------------------------------------------------

def blurred_frames(count: int = 25) -> list[bytes]:
    """The live scene under a heavy Gaussian blur (a smeared or fogged lens): still lit, still live."""
    return [jpeg(cv2.GaussianBlur(frame_at(n), (31, 31), 0)) for n in range(count)]


def test_a_blurred_stream_raises_one_tamper_and_a_sharp_one_stays_quiet(
    make_console: Any, sqlite_url: str, streams: list[Stream]
) -> None:
    threshold = CamerasSection().health_blur_sharpness
    blurred = blurred_frames()
    assert max(sharpness(decode(f)) for f in blurred) < threshold / 2
    assert sharpness(decode(jpeg(frame_at(0)))) > threshold * 100
    count = iter(range(10**9))
    streams.extend([Stream(lambda: jpeg(frame_at(next(count)))).start(),
                    Stream(lambda: blurred[next(count) % len(blurred)]).start()])
    sharp, fogged = streams
    console: ConsoleProcess = make_console(sqlite_url, cameras={**HEALTH, "entries": [
        {"id": "cam-sharp", "url": sharp.url}, {"id": "cam-blurred", "url": fogged.url}]})
    login_operator(console)

    alarm = wait_until(lambda: alarms(console, "cam-blurred"), timeout=15, message="blurred alarm")[0]
    assert alarm["kind"] == "camera.tamper"
    rounds = console.health()["cameras"]["health_rounds"]
    wait_until(lambda: console.health()["cameras"]["health_rounds"] >= rounds + 4, timeout=15, message="probes")
    [(kind, data)] = events(console, "cam-blurred")  # one event however many probes saw it
    assert kind == "camera.tamper" and data["reason"] == "blurred" and data["via"] == "probe"
    assert data["sharpness"] < threshold and data["brightness"] > CamerasSection().health_dark_brightness
    assert events(console, "cam-sharp") == [] and alarms(console, "cam-sharp") == []
    assert console.health()["cameras"]["states"] == {"cam-sharp": "ok", "cam-blurred": "blurred"}
