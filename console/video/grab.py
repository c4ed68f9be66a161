"""Grabbing one frame from a camera, in a child process with a hard time limit.

OpenCV's FFmpeg backend opens streams under one process-wide lock (measured here: while one open
hangs on a dead camera, an open of a healthy MJPEG stream in another thread waits for it), so
threads alone cannot keep a dead camera from delaying the others. :class:`ProcessGrabber` runs each
grab in one of a few long-lived child processes (spawned, each imports OpenCV once and says when it
is ready, so a grab's limit measures the camera, not the process start). OpenCV is told the limit
(CAP_PROP_OPEN_TIMEOUT_MSEC / READ_TIMEOUT_MSEC); the parent also waits at most the limit plus a
grace second, then kills the child (abandoning the grab for real) and raises :class:`GrabTimeout`.

Used by the snapshots on alarms (console/video/linker.py) and by the health probe
(console/video/health.py).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from console.workers import WorkerStatus

GRACE_SECONDS = 1.0
"""A grab still running this long after its time limit is declared failed (OpenCV did not keep it)."""
READY_SECONDS = 60.0
"""How long a new grab process may take to start and import OpenCV (a loaded machine is slow at it);
the grab's own time limit starts after, so that it measures the camera, not the process start."""
JPEG_QUALITY = 85
STILL_MAX = 20_000_000
"""The largest still image taken from a snapshot URL."""


class GrabError(Exception):
    """The camera gave no usable frame."""


def capture_source(url: str) -> str:
    """What OpenCV opens: a file:// URL becomes its path; the rest is passed as it is."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return unquote(parts.path)
    return url


class GrabTimeout(GrabError):
    """The grab overran its time limit; its process was killed."""


def _serve(conn: Any) -> None:
    """A grab process: says ("ready", None) once OpenCV is loaded, then one (url, timeout) in, one
    ("ok", jpeg) or ("error", reason) out, forever."""
    import cv2  # imported before the first request: the first grab is not slower

    cv2.setNumThreads(1)  # one frame at a time: no thread pool per grab process
    conn.send(("ready", None))

    while True:
        try:
            url, timeout = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", grab_jpeg(url, timeout)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, context: Any, target: Callable[[Any], None]):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child,), name="mcc-grab", daemon=True)
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> None:
        """Wait (once) for the process to have loaded OpenCV; a process started ahead by ``warm``
        usually has."""
        if self.ready:
            return
        try:
            self.ready = bool(self.conn.poll(READY_SECONDS)) and self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            pass
        if not self.ready:
            raise GrabError(f"the grab process did not start within {READY_SECONDS:g} s")

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class ProcessGrabber:
    """Grabs in child processes, at most ``size`` at once (the caller keeps that bound); a grab
    over its limit kills its process, and the next grab starts a fresh one."""

    def __init__(self, size: int, grace: float = GRACE_SECONDS, target: Callable[[Any], None] = _serve):
        self.size = size
        self.grace = grace
        self._target = target
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded process
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.killed = 0

    def warm(self, count: int) -> None:
        """Start ``count`` processes ahead, so that the first alarm does not wait for a spawn."""
        workers = [_Worker(self._context, self._target) for _ in range(min(count, self.size))]
        with self._lock:
            self._idle.extend(workers)

    def grab(self, url: str, timeout: float) -> bytes:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.process.is_alive():
            worker = _Worker(self._context, self._target)
        with self._lock:
            self._busy.add(worker)
        try:
            worker.wait_ready()
            worker.conn.send((url, timeout))
            if not worker.conn.poll(timeout + self.grace):
                raise GrabTimeout(f"no frame within {timeout:g} s (grab process killed)")
            status, payload = worker.conn.recv()
        except BaseException:
            with self._lock:
                self._busy.discard(worker)
            worker.kill()
            self.killed += 1
            raise
        with self._lock:
            self._busy.discard(worker)
            if self._closed or len(self._idle) >= self.size:
                worker.kill()
            else:
                self._idle.append(worker)
        if status != "ok":
            raise GrabError(payload)
        return bytes(payload)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def processes(self, label: str) -> list[WorkerStatus]:
        """The grab processes alive now, for the supervisor's list."""
        with self._lock:
            workers = [(w, "idle") for w in self._idle] + [(w, "grabbing") for w in self._busy]
        return [WorkerStatus(f"{label} {w.process.pid}", "process", state, w.process.is_alive(), pid=w.process.pid)
                for w, state in workers]


class ThreadGrabber:
    """Grabs in the calling thread (tests with a fake grab; no process isolation)."""

    def __init__(self, grab: Callable[[str, float], bytes]):
        self._grab = grab

    def grab(self, url: str, timeout: float) -> bytes:
        return self._grab(url, timeout)

    def warm(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def grab_jpeg(url: str, timeout_seconds: float) -> bytes:
    """Open ``url`` with OpenCV's FFmpeg backend, read one frame and encode it as JPEG. An http(s)
    URL that gives OpenCV no frame is tried once more, within what is left of the time limit, as a
    still-image URL (:func:`fetch_still`): FFmpeg reads a single picture only when the camera sends
    its Content-Length, and many cameras' snapshot URLs do not."""
    started = time.monotonic()
    try:
        return _grab_with_opencv(url, timeout_seconds)
    except GrabError as failed:
        left = timeout_seconds - (time.monotonic() - started)
        if urlsplit(url).scheme not in ("http", "https") or left < 0.1:
            raise
        try:
            return fetch_still(url, left)
        except GrabError as also:
            raise GrabError(f"{failed}; as a still image: {also}") from None


def _grab_with_opencv(url: str, timeout_seconds: float) -> bytes:
    import cv2  # imported on first use: a site without cameras never loads OpenCV

    milliseconds = max(1, int(timeout_seconds * 1000))
    capture = cv2.VideoCapture()
    try:
        opened = capture.open(capture_source(url), cv2.CAP_FFMPEG,
                              [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, milliseconds,
                               cv2.CAP_PROP_READ_TIMEOUT_MSEC, milliseconds])
        if not opened:
            raise GrabError("could not open the stream")
        ok, frame = capture.read()
        if not ok or frame is None or frame.size == 0:
            raise GrabError("opened, but no frame came")
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise GrabError("the frame could not be encoded as JPEG")
        return encoded.tobytes()
    finally:
        capture.release()


def fetch_still(url: str, timeout_seconds: float) -> bytes:
    """GET one picture from a camera's snapshot URL (user and password in the URL, Basic or
    Digest as the camera asks). A JPEG is kept as the camera sent it (its SHA-256 is of the
    camera's own bytes); another image format is re-encoded as JPEG. At most STILL_MAX bytes."""
    import urllib.error
    import urllib.request

    import cv2
    import numpy as np

    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    plain = parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()  # no user:password@
    handlers: list[Any] = []
    if parts.username:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, plain, unquote(parts.username), unquote(parts.password or ""))
        handlers = [urllib.request.HTTPDigestAuthHandler(passwords), urllib.request.HTTPBasicAuthHandler(passwords)]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(plain, timeout=timeout_seconds) as response:
            body: bytes = response.read(STILL_MAX + 1)
    except urllib.error.HTTPError as exc:
        raise GrabError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise GrabError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
    if len(body) > STILL_MAX:
        raise GrabError(f"more than {STILL_MAX // 1_000_000} MB: not a still image")
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise GrabError("the answer is not an image")
    if body[:3] == b"\xff\xd8\xff":
        return body
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise GrabError("the picture could not be encoded as JPEG")
    return encoded.tobytes()
