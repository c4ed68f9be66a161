"""The camera registry in the site file, which cameras an alarm links to, and the bounds of the
grab scheduler (a hung camera holds one slot, a full queue drops and counts)."""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from console.__main__ import main
from console.devices.registry import DeviceRegistry
from console.errors import ConfigError
from console.messages import HubMessage
from console.settings import Settings, load_settings
from console.settings.cameras import CamerasSection
from console.video.grab import GrabError, GrabTimeout, ProcessGrabber, ThreadGrabber, capture_source, grab_jpeg
from console.video.linker import CameraLinker

SITE = """\
site: {id: demo}
devices:
  entries:
    - {id: fp-1, role: fire_panel, points: {"1-003": {zone: 东侧走廊}}}
    - {id: door-1, role: door, zone: 大堂, cameras: [cam-lobby]}
    - {id: lane-in, role: lane}
cameras:
  entries:
"""


def write(tmp_path: Path, cameras: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(SITE + cameras)
    return path


def test_cameras_load_with_their_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, """\
    - {id: cam-lobby, name: 大堂, url: "http://10.0.0.5/video.mjpg", location: {building: 1号楼, floor: 1F, zone: 大堂}}
    - {id: cam-east, url: "rtsp://cam:pw@10.0.0.6/stream1", devices: ["fp-1/1-003"], zones: [东侧走廊],
       snapshot_offsets: [5, 0, 5]}
    - {id: cam-file, url: "file:///srv/video/demo.avi"}
    - {id: cam-path, url: "var/demo.avi", timeout_seconds: 1.5}
"""), env={})
    lobby, east, file_cam, path_cam = settings.cameras.entries
    assert lobby.snapshot_offsets == [0, 3] and lobby.timeout_seconds == 3 and lobby.location.zone == "大堂"
    assert east.snapshot_offsets == [0, 5]  # sorted, once each
    assert capture_source(file_cam.url) == "/srv/video/demo.avi" and capture_source(path_cam.url) == "var/demo.avi"
    assert settings.cameras.workers == 4 and settings.cameras.queue_max == 200


@pytest.mark.parametrize(("entry", "where", "says"), [
    ('{id: c1, url: "ftp://x/y"}', "cameras.entries[0].url", "rtsp://"),
    ('{id: c1, url: "http:///nohost"}', "cameras.entries[0].url", "host"),
    ('{id: c1, url: "rtsp://h/s", snapshot_offsets: [-1]}', "cameras.entries[0].snapshot_offsets", "0 to 600"),
    ('{id: c1, url: "rtsp://h/s", timeout_seconds: 0}', "cameras.entries[0].timeout_seconds", "greater than"),
    ('{id: c1, url: "rtsp://h/s", colour: red}', "cameras.entries[0].colour", "not permitted"),
    ('{id: c1, url: "rtsp://h/s", devices: [nope]}', "cameras.entries[0].devices[0]", "no device 'nope'"),
    ('{id: c1, url: "rtsp://h/s", devices: ["fp-1/9-999"]}', "cameras.entries[0].devices[0]", "no point"),
    ('{id: c1, url: "rtsp://h/s", site: nowhere}', "cameras.entries[0].site", "no site 'nowhere'"),
    ('{id: c1, url: "rtsp://h/s", site: nowhere, devices: [fp-1]}', "cameras.entries[0].devices[0]",
     "device 'fp-1' is of site 'demo', the camera of 'nowhere'"),
])
def test_bad_cameras_are_reported_with_their_path(tmp_path: Path, entry: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"    - {entry}\n"), env={})
    assert any(path == where and says in message for path, message in caught.value.problems), caught.value.problems


def test_check_config_reports_a_duplicate_camera_and_a_device_naming_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = write(tmp_path, '    - {id: cam-x, url: "rtsp://h/a"}\n    - {id: cam-x, url: "rtsp://h/b"}\n')
    assert main(["check-config", str(site)]) == 1
    assert "duplicate camera id 'cam-x'" in capsys.readouterr().err
    site = write(tmp_path, '    - {id: cam-x, url: "rtsp://h/a"}\n')  # door-1 names cam-lobby
    assert main(["check-config", str(site)]) == 1
    assert "devices.entries[1].cameras[0]: no camera 'cam-lobby'" in capsys.readouterr().err


# -- linking and scheduling ----------------------------------------------------------------------


def linker(cameras: list[dict[str, Any]], grab: Any, **section: Any) -> CameraLinker:
    settings = Settings(site={"id": "demo"}, devices={"entries": [
        {"id": "fp-1", "role": "fire_panel", "points": {"1-003": {"zone": "东侧走廊"}}},
        {"id": "door-1", "role": "door", "zone": "大堂", "cameras": ["cam-lobby"]},
    ]}, cameras={"entries": cameras, **section})
    return CameraLinker(CamerasSection.model_validate(settings.cameras.model_dump()),
                        DeviceRegistry.from_settings(settings), store=None, publish=lambda _m: None,  # type: ignore[arg-type]
                        grabber=ThreadGrabber(grab))


def test_an_alarm_links_cameras_by_device_point_zone_and_the_devices_own_list() -> None:
    link = linker([
        {"id": "cam-lobby", "url": "rtsp://h/1"},
        {"id": "cam-panel", "url": "rtsp://h/2", "devices": ["fp-1"]},
        {"id": "cam-point", "url": "rtsp://h/3", "devices": ["fp-1/1-003"]},
        {"id": "cam-zone", "url": "rtsp://h/4", "zones": ["东侧走廊"]},
        {"id": "cam-other", "url": "rtsp://h/5", "devices": ["fp-1/1-004"], "zones": ["车库"]},
    ], grab=lambda *_: b"")
    ids = lambda cams: [c.id for c in cams]  # noqa: E731
    assert ids(link.cameras_for("demo", "fp-1", "1-003", "东侧走廊")) == ["cam-panel", "cam-point", "cam-zone"]
    assert ids(link.cameras_for("demo", "fp-1", "", "")) == ["cam-panel"]
    assert ids(link.cameras_for("demo", "door-1", "", "大堂")) == ["cam-lobby"]
    assert ids(link.cameras_for("demo", "unknown", "", "")) == []


def test_a_camera_shows_only_its_own_site_s_alarms() -> None:
    """Zones are named by each site (both have a 大堂): an alarm in north's lobby is north's camera's."""
    link = linker([
        {"id": "cam-lobby", "url": "rtsp://h/1", "zones": ["大堂"]},
        {"id": "cam-north-lobby", "site": "north", "url": "rtsp://h/2", "zones": ["大堂"]},
    ], grab=lambda *_: b"")
    assert [c.id for c in link.cameras_for("demo", "door-1", "", "大堂")] == ["cam-lobby"]
    assert [c.id for c in link.cameras_for("north", "n-door", "", "大堂")] == ["cam-north-lobby"]


def test_a_hung_camera_holds_one_slot_and_later_grabs_of_it_are_dropped_and_counted() -> None:
    release = threading.Event()
    calls: list[str] = []

    def grab(url: str, timeout: float) -> bytes:
        calls.append(url)
        if url.endswith("dead"):
            release.wait(10)
            raise GrabError("no frame")
        raise GrabError("fine camera, but no store in this test")

    link = linker([{"id": "cam-dead", "url": "rtsp://h/dead", "devices": ["fp-1"], "snapshot_offsets": [0, 0.2],
                    "timeout_seconds": 0.3},
                   {"id": "cam-ok", "url": "rtsp://h/ok", "devices": ["fp-1"], "snapshot_offsets": [0, 0.2]}],
                  grab, workers=2)
    link.start()
    try:
        alarm = {"id": 1, "site": "demo", "device_id": "fp-1", "point": "", "location": {"zone": ""}}
        link.offer([HubMessage("alarm.raised", alarm)])
        # The dead camera's second grab waits for its slot until its own deadline, then is dropped;
        # the fine camera is grabbed at both offsets meanwhile.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and link.status()["dropped"] < 1:
            time.sleep(0.02)
        status = link.status()
        assert status["dropped"] == 1 and status["by_camera"]["cam-dead"]["dropped"] == 1
        assert calls.count("rtsp://h/ok") == 2 and calls.count("rtsp://h/dead") == 1
        # Past its limit (plus grace) the hung grab is declared failed, while its thread still hangs.
        while time.monotonic() < deadline and link.status()["timed_out"] < 1:
            time.sleep(0.02)
        status = link.status()
        assert status["timed_out"] == 1 and status["hung"] == 1 and status["running"] == 1
        assert status["by_camera"]["cam-dead"]["failed"] == 1
        release.set()
        while time.monotonic() < deadline and link.status()["running"]:
            time.sleep(0.02)
        assert link.status()["by_camera"]["cam-dead"]["failed"] == 1  # the late failure is not counted twice
    finally:
        release.set()
        link.stop()


def test_a_full_queue_drops_new_grabs_and_counts_them() -> None:
    link = linker([{"id": "cam-a", "url": "rtsp://h/a", "devices": ["fp-1"], "snapshot_offsets": [60]}],
                  grab=lambda *_: b"", queue_max=3)  # not started: the jobs just wait
    for n in range(5):
        link.offer([HubMessage("alarm.raised", {"id": n, "site": "demo", "device_id": "fp-1", "point": "",
                                                "location": {}})])
    status = link.status()
    assert status["waiting"] == 3 and status["scheduled"] == 3 and status["dropped"] == 2
    assert "queue full" in status["last_error"]


def serve_and_hang(conn: Any) -> None:
    """A grab process whose OpenCV ignores its time limit: it never answers."""
    conn.send(("ready", None))
    conn.recv()
    time.sleep(3600)


def serve_a_frame(conn: Any) -> None:
    conn.send(("ready", None))
    while True:
        conn.recv()
        conn.send(("ok", b"\xff\xd8jpeg"))


def test_the_process_grabber_kills_a_grab_that_overruns_and_serves_the_next() -> None:
    hanging = ProcessGrabber(1, grace=0.3, target=serve_and_hang)
    try:
        started = time.monotonic()
        with pytest.raises(GrabTimeout):
            hanging.grab("rtsp://h/dead", 0.2)
        # It gave up instead of waiting for the child, which never answers. A loose bound, not a
        # speed figure: spawning a process on a loaded 2-core machine alone can take seconds.
        assert time.monotonic() - started < 30
        assert hanging.killed == 1 and hanging._idle == []  # killed, not returned to the pool
    finally:
        hanging.close()
    working = ProcessGrabber(1, target=serve_a_frame)
    try:
        assert working.grab("rtsp://h/ok", 1) == b"\xff\xd8jpeg"
        assert working.grab("rtsp://h/ok", 1) == b"\xff\xd8jpeg"  # the same process, kept
        assert working.killed == 0 and len(working._idle) == 1
    finally:
        working.close()


def test_snapshots_are_kept_30_days_at_least_or_for_ever() -> None:
    assert CamerasSection().snapshot_keep_days == 90
    assert CamerasSection(snapshot_keep_days=0).snapshot_keep_days == 0
    assert CamerasSection(snapshot_keep_days=30).snapshot_keep_days == 30
    with pytest.raises(ValueError, match="at least 30 days"):
        CamerasSection(snapshot_keep_days=7)


class StillCamera:
    """A snapshot URL as many cameras serve it: one picture per GET, sent chunked (no
    Content-Length), behind Basic auth when ``password`` is set."""

    def __init__(self, body: bytes, content_type: str = "image/jpeg", password: str | None = None):
        outer = self
        self.body, self.content_type, self.password = body, content_type, password

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if outer.password is not None:
                    wanted = "Basic " + base64.b64encode(f"viewer:{outer.password}".encode()).decode()
                    if self.headers.get("Authorization") != wanted:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                self.send_response(200)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                for at in range(0, len(outer.body), 4096):
                    piece = outer.body[at:at + 4096]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        # FFmpeg reads one picture without a Content-Length from a cgi path, not from a .jpg one
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}/ISAPI/snapshot.jpg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def picture(size: tuple[int, int] = (640, 360)) -> np.ndarray:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.rectangle(image, (40, 40), (300, 200), (0, 180, 255), -1)
    cv2.putText(image, "GATE 2", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    return image


def test_a_snapshot_url_without_content_length_is_read_as_a_still_image() -> None:
    sent = cv2.imencode(".jpg", picture())[1].tobytes()
    camera = StillCamera(sent, password="s3cret")
    try:
        got = grab_jpeg(camera.url("viewer:s3cret@"), 3)
        assert got == sent, "the camera's own JPEG bytes, not a re-encoding"
        with pytest.raises(GrabError, match="as a still image: HTTP 401"):
            grab_jpeg(camera.url("viewer:wrong@"), 3)
    finally:
        camera.close()
    png = StillCamera(cv2.imencode(".png", picture((320, 240)))[1].tobytes(), "image/png")
    try:
        got = grab_jpeg(png.url(), 3)
        assert got[:3] == b"\xff\xd8\xff"
        assert cv2.imdecode(np.frombuffer(got, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)
    finally:
        png.close()
    page = StillCamera(b"<html>login</html>", "text/html")
    try:
        with pytest.raises(GrabError, match="not an image"):
            grab_jpeg(page.url(), 3)
    finally:
        page.close()


def test_plate_events_schedule_one_lane_grab_unless_plate_snapshots_are_off() -> None:
    cameras = [{"id": "cam-lobby", "url": "rtsp://h/1", "snapshot_offsets": [0, 3]},
               {"id": "cam-zone", "url": "rtsp://h/4", "zones": ["大堂"]}]
    plate = {"kind": "parking.entry", "event_id": 7, "site": "demo", "device_id": "door-1", "point": "",
             "data": {"plate": "沪A12345"}}
    for data, off, expected in [({"plate": "沪A12345"}, False, 1), ({}, False, 0),
                                ({"plate": "沪A12345", "test": True}, False, 0), ({"plate": "沪A12345"}, True, 0)]:
        link = linker(cameras, grab=lambda *_: b"", plate_snapshots=not off)  # not started: jobs wait
        link.offer([HubMessage("event", {**plate, "data": data})])
        waiting = [job for _due, _n, job in link._heap]
        assert len(waiting) == expected, (data, off)
        assert all(job.event_id == 7 and job.offset == 0 and job.camera.id == "cam-lobby" for job in waiting)
