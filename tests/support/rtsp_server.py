"""A real RTSP camera for the tests: GStreamer's RTSP server (gst-rtsp-server, Debian packages listed
in scripts/setup.sh --test) serving a Motion-JPEG AVI clip that the test made with OpenCV.

Two halves in one file:

- run as a script by the *system* Python (``/usr/bin/python3``, which has ``gi``; the venv does
  not): ``/usr/bin/python3 tests/support/rtsp_server.py --port PORT CLIP.avi`` serves the clip at
  ``rtsp://127.0.0.1:PORT/cam``. GStreamer itself (filesrc ! avidemux ! jpegdec ! jpegenc ! appsink,
  see read_frames) reads the clip's frames once; every RTSP session then gets a live stream
  (appsrc ! rtpjpegpay, RTP/JPEG, payload type 26) that sends, 25 times a second, the clip's frame
  *for the current wall-clock time*, looped. Like a real camera, a client that connects later sees
  a later frame, so a health probe (a new session each time) never sees the same picture twice.
- imported by the tests (venv Python, standard library only at import time): ``RtspServer`` starts
  that script as a subprocess, waits until it answers DESCRIBE for the mount with 200, and stops it.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"
MOUNT = "/cam"
FPS = 25
REQUIRED_ELEMENTS = ("filesrc", "avidemux", "jpegdec", "jpegenc", "appsink", "appsrc", "rtpjpegpay")


# -- the test side (venv Python) -------------------------------------------------------------------

def rtsp_request(port: int, method: str, path: str = MOUNT, timeout: float = 2.0) -> str:
    """One RTSP request on a fresh TCP connection; the response's status line and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"{method} rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 1\r\n"
                     "Accept: application/sdp\r\nUser-Agent: mcc-tests\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode("latin-1")


class RtspServer:
    """The script above as a subprocess on ``port``; ``start()`` returns once DESCRIBE of the mount
    answers 200 (the media pipeline was built), and fails loudly with the server's output if not."""

    def __init__(self, clip: Path, port: int, log_path: Path):
        self.clip = clip
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{MOUNT}"

    def start(self, timeout: float = 15.0) -> RtspServer:
        if not Path(SYSTEM_PYTHON).exists():
            raise AssertionError(f"{SYSTEM_PYTHON} is missing: run `bash scripts/setup.sh --test`")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([SYSTEM_PYTHON, __file__, "--port", str(self.port), str(self.clip)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the RTSP server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                last = rtsp_request(self.port, "DESCRIBE")
                if last.startswith("RTSP/1.0 200"):
                    return self
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the RTSP server did not serve {self.url} within {timeout} s ({last.strip()!r}):\n"
                             f"{self.log_tail()}")

    def stop(self) -> None:
        from console.demo.broker import terminate  # here: the server side runs under the system python

        terminate(self.process, 5)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, _type: type[BaseException] | None, _exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        self.stop()


# -- the server side (system Python with gi) -------------------------------------------------------

def serve(port: int, clip: Path) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    missing = [name for name in REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        sys.exit(f"GStreamer elements missing: {', '.join(missing)} (gstreamer1.0-plugins-base / -good)")

    frames, caps = read_frames(Gst, clip)
    print(f"{len(frames)} frames from {clip} ({caps})", flush=True)
    started = time.monotonic()

    def on_configure(_factory: Any, media: Any) -> None:
        source = media.get_element().get_by_name("src")
        source.set_property("caps", Gst.Caps.from_string(caps))
        live = {"on": True}

        def push() -> bool:
            if not live["on"]:
                return False
            index = int((time.monotonic() - started) * FPS) % len(frames)
            result = source.emit("push-buffer", Gst.Buffer.new_wrapped(frames[index]))
            if result != Gst.FlowReturn.OK:
                return False  # the session ended (flushing): this timer ends with it
            return True

        def on_unprepared(_media: Any) -> None:
            live["on"] = False

        media.connect("unprepared", on_unprepared)
        GLib.timeout_add(1000 // FPS, push)

    factory = GstRtspServer.RTSPMediaFactory()
    # At most two frames wait (the older dropped): a client that connects later gets a fresh frame.
    factory.set_launch("( appsrc name=src is-live=true do-timestamp=true format=time max-buffers=2 "
                       "leaky-type=downstream ! rtpjpegpay name=pay0 pt=26 )")
    factory.set_shared(False)  # every session its own pipeline (each probe is a new session)
    factory.connect("media-configure", on_configure)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        sys.exit(f"could not listen on 127.0.0.1:{port}")
    print(f"serving rtsp://127.0.0.1:{port}{MOUNT}", flush=True)
    GLib.MainLoop().run()


def read_frames(Gst: Any, clip: Path) -> tuple[list[bytes], str]:  # noqa: N803 (gi's module)
    """Every frame of the AVI, demuxed by GStreamer and encoded again by its jpegenc; and their caps.

    Re-encoded because RTP/JPEG (RFC 2435) carries no Huffman tables: the receiver assumes the
    standard ones. OpenCV's VideoWriter (FFmpeg's MJPEG encoder) writes optimised tables, which
    FFmpeg's RTSP client then decodes as a green picture; libjpeg's jpegenc uses the standard ones."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{clip}" ! avidemux ! jpegdec ! jpegenc quality=90 ! appsink name=sink sync=false')
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames: list[bytes] = []
    caps = ""
    while True:
        sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
        if sample is None:  # the end of the clip (or an error: then no frames, below)
            break
        if not caps:
            structure = sample.get_caps().get_structure(0)
            caps = (f"image/jpeg,width={structure.get_value('width')},height={structure.get_value('height')},"
                    f"framerate={FPS}/1")
        buffer = sample.get_buffer()
        frames.append(buffer.extract_dup(0, buffer.get_size()))
    pipeline.set_state(Gst.State.NULL)
    if not frames:
        sys.exit(f"no JPEG frames in {clip}")
    return frames, caps


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve an MJPEG AVI clip at rtsp://127.0.0.1:PORT/cam")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("clip", type=Path)
    arguments = parser.parse_args()
    serve(arguments.port, arguments.clip)
