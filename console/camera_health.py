"""Camera health: every ``cameras.health_seconds`` each configured camera is probed through the same
kind of grab processes as snapshots (console/cameras.py: off the event loop, hard time limits), and
its frame is classified:

- **offline**: no frame within the camera's ``timeout_seconds``, ``health_offline_probes`` times in
  a row → ``camera.offline`` (its alarm opens the camera-offline SOP); the first frame after it →
  ``camera.online``, which clears that alarm.
- **dark** (covered, black): mean grey level under ``health_dark_brightness`` and standard
  deviation under ``health_dark_stddev``;
- **blurred** (also a lens covered by something bright and flat): variance of the Laplacian under
  ``health_blur_sharpness``;
- **frozen**: the same frame (mean absolute difference under ``health_frozen_difference``) at
  ``health_frozen_probes`` probes in a row.

Dark, blurred and frozen are reported as the canonical ``camera.tamper`` with ``data.reason``
(``dark`` / ``blurred`` / ``frozen``); a good frame afterwards sends ``camera.restore`` with
``data.of: camera.tamper``. Only changes are events, never a probe as such. Events go through
``Ingest.process_console_drafts`` (adapter ``console``), like the silence watch's: alarms, tasks
and hub messages follow. A camera need not be registered as a device: console-observed events
are never quarantined as unknown; a device registered under the camera's id lends its location.

Not done: a moved camera (scene against a reference frame).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from console.cameras import GrabError, ProcessGrabber, ThreadGrabber
from console.events import Draft
from console.messages import HubMessage
from console.settings_cameras import CameraEntry, CamerasSection
from console.store.tables import AlarmRow

log = logging.getLogger("mcc.camera_health")
WIDTH = 320
"""Frames are measured in grey, scaled to this width: the thresholds do not depend on resolution."""
TAMPER = "camera.tamper"


@dataclass(frozen=True)
class Figures:
    brightness: float
    stddev: float
    sharpness: float
    difference: float | None
    """Mean absolute difference to the previous probe's frame (None: no previous frame)."""

    def as_dict(self) -> dict[str, float]:
        out = {"brightness": round(self.brightness, 2), "stddev": round(self.stddev, 2),
               "sharpness": round(self.sharpness, 2)}
        if self.difference is not None:
            out["difference"] = round(self.difference, 3)
        return out


def grey(frame: np.ndarray) -> np.ndarray:
    """A BGR or grey frame as grey, scaled to WIDTH pixels wide."""
    import cv2

    image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    height, width = image.shape[:2]
    if width != WIDTH:
        image = cv2.resize(image, (WIDTH, max(1, round(height * WIDTH / width))), interpolation=cv2.INTER_AREA)
    return image


def measure(image: np.ndarray, previous: np.ndarray | None) -> Figures:
    import cv2

    mean, stddev = cv2.meanStdDev(image)
    sharpness = float(cv2.Laplacian(image, cv2.CV_64F).var())
    difference = None
    if previous is not None and previous.shape == image.shape:
        difference = float(np.mean(cv2.absdiff(image, previous)))
    return Figures(float(mean[0][0]), float(stddev[0][0]), sharpness, difference)


class FrameClassifier:
    """One camera's frames, probe after probe → "ok", "dark", "blurred" or "frozen". No I/O."""

    def __init__(self, section: CamerasSection):
        self.section = section
        self.previous: np.ndarray | None = None
        self.same = 1
        """Probes in a row that showed the same frame (1: this one differs from the one before)."""
        self.figures: Figures | None = None

    def forget(self) -> None:
        """No frame came: the next one is compared with nothing."""
        self.previous = None
        self.same = 1

    def classify(self, frame: np.ndarray) -> str:
        s = self.section
        image = grey(frame)
        figures = measure(image, self.previous)
        self.figures = figures
        if figures.difference is not None and figures.difference < s.health_frozen_difference:
            self.same += 1
        else:
            self.same = 1
        self.previous = image
        if figures.brightness < s.health_dark_brightness and figures.stddev < s.health_dark_stddev:
            return "dark"
        if figures.sharpness < s.health_blur_sharpness:
            return "blurred"
        if self.same >= s.health_frozen_probes:
            return "frozen"
        return "ok"


def decode(jpeg: bytes) -> np.ndarray:
    import cv2

    frame = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if frame is None or frame.size == 0:
        raise GrabError("the frame could not be decoded")
    return frame


@dataclass
class CameraHealth:
    """What is known of one camera: online or not, and its picture's condition."""

    classifier: FrameClassifier
    offline: bool = False
    condition: str | None = None
    """None (a good picture), "dark", "blurred", "frozen"; "tamper" when restored from an open alarm."""
    failures: int = 0
    probed: bool = False
    last_error: str | None = None
    last_probe_at: str | None = None

    @property
    def state(self) -> str:
        if not self.probed:
            return "unknown"
        if self.offline:
            return "offline"
        if self.condition is None:
            return "ok"
        return "tampered" if self.condition == "tamper" else self.condition


@dataclass
class HealthStats:
    probes: int = 0
    frames: int = 0
    failures: int = 0
    events: int = 0
    rounds: int = 0
    last_error: str | None = None
    by_camera: dict[str, CameraHealth] = field(default_factory=dict)


class CameraHealthWatch:
    def __init__(self, section: CamerasSection, site: str, ingest: Any,
                 publish: Callable[[list[HubMessage]], None], now: Callable[[], datetime],
                 grabber: ProcessGrabber | ThreadGrabber | None = None):
        self.section = section
        self.site = site
        self.ingest = ingest
        self.publish = publish
        self.now = now
        self.cameras: list[CameraEntry] = list(section.entries)
        self.grabber = grabber if grabber is not None else ProcessGrabber(min(section.workers, len(self.cameras)))
        self.stats = HealthStats(by_camera={c.id: CameraHealth(FrameClassifier(section)) for c in self.cameras})
        self._lock = threading.Lock()
        self._seq = itertools.count()  # two changes within one millisecond are still two events
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(section.workers, len(self.cameras))),
                                        thread_name_prefix="mcc-camera-probe")

    # -- start / stop ---------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self.load_open_alarms()
        except Exception:
            log.exception("camera health: open camera alarms could not be read (starting from ok)")
        self._thread = threading.Thread(target=self._run, name="mcc-camera-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.grabber.close()

    def load_open_alarms(self) -> None:
        """After a restart: a camera with an uncleared offline or tamper alarm starts in that state,
        so that its first good probe clears it."""
        ids = [c.id for c in self.cameras]
        with self.ingest.store.read() as session:
            rows = session.execute(select(AlarmRow.device_id, AlarmRow.kind).where(
                AlarmRow.site == self.site, AlarmRow.device_id.in_(ids), AlarmRow.point == "",
                AlarmRow.kind.in_(("camera.offline", TAMPER)), AlarmRow.cleared.is_(False),
                AlarmRow.closed.is_(False))).all()
        for device_id, kind in rows:
            health = self.stats.by_camera[device_id]
            if kind == "camera.offline":
                health.offline = True
            else:
                health.condition = "tamper"

    # -- probing ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                messages = self.probe_all()
                if messages:
                    self.publish(messages)
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("camera health round failed")
            self._stop.wait(max(0.05, self.section.health_seconds - (time.monotonic() - started)))

    def _probe(self, camera: CameraEntry) -> tuple[np.ndarray | None, str | None]:
        try:
            return decode(self.grabber.grab(camera.url, camera.timeout_seconds)), None
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]

    def probe_all(self) -> list[HubMessage]:
        """One round: every camera at once (each within its own time limit), then the events of
        what changed, in one call of the ingest path."""
        results = list(self._pool.map(self._probe, self.cameras))
        now = self.now()
        drafts: list[Draft] = []
        with self._lock:
            self.stats.rounds += 1
            for camera, (frame, error) in zip(self.cameras, results):
                drafts.extend(self._judge(camera, frame, error, now))
        if not drafts:
            return []
        log.warning("camera health: %s", ", ".join(f"{d.device_id} {d.kind} {d.data.get('reason', '')}".strip()
                                                   for d in drafts))
        messages = self.ingest.process_console_drafts(drafts, now)
        with self._lock:
            self.stats.events += len(drafts)
        return messages  # type: ignore[no-any-return]

    def _judge(self, camera: CameraEntry, frame: np.ndarray | None, error: str | None,
               now: datetime) -> list[Draft]:
        health = self.stats.by_camera[camera.id]
        health.last_probe_at = now.isoformat()
        first = not health.probed
        health.probed = True
        self.stats.probes += 1
        stamp = f"{now.timestamp():.3f}"
        drafts: list[Draft] = []

        def draft(kind: str, **data: Any) -> None:
            drafts.append(Draft(kind=kind, site=self.site, device_id=camera.id,
                                source_id=f"probe:{kind}:{stamp}:{next(self._seq)}", ts=now, data={"via": "probe", **data}))

        if frame is None:
            self.stats.failures += 1
            health.failures += 1
            health.last_error = error
            health.classifier.forget()
            if health.failures >= self.section.health_offline_probes:
                if not health.offline:
                    draft("camera.offline", error=error or "", failures=health.failures)
                health.offline = True
            elif first:
                health.probed = False  # not known yet: a first failure is not "ok"
            return drafts
        self.stats.frames += 1
        health.failures = 0
        health.last_error = None
        if health.offline:
            health.offline = False
            draft("camera.online")
        condition = health.classifier.classify(frame)
        figures = health.classifier.figures.as_dict() if health.classifier.figures else {}
        new = None if condition == "ok" else condition
        if new == health.condition or (health.condition == "tamper" and new is not None):
            health.condition = new
            return drafts
        if new is None:
            draft("camera.restore", of=TAMPER, was=health.condition, **figures)
        else:
            draft(TAMPER, reason=new, **figures)
        health.condition = new
        return drafts

    # -- /api/health -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            states = {cid: h.state for cid, h in self.stats.by_camera.items()}
            counts: dict[str, int] = {}
            for state in states.values():
                counts[state] = counts.get(state, 0) + 1
            return {
                "health_seconds": self.section.health_seconds,
                "states": states,
                "state_counts": counts,
                "probes": self.stats.probes,
                "probe_failures": self.stats.failures,
                "health_events": self.stats.events,
                "health_rounds": self.stats.rounds,
                "health_error": self.stats.last_error,
                "camera_errors": {cid: h.last_error for cid, h in self.stats.by_camera.items() if h.last_error},
            }
