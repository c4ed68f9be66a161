"""Camera health: every ``cameras.health_seconds`` each configured camera is probed through the same
kind of grab processes as snapshots (console/video/grab.py: off the event loop, hard time limits), and
its frame is classified:

- **offline**: no frame within the camera's ``timeout_seconds``, ``health_offline_probes`` times in
  a row → ``camera.offline`` (its alarm opens the camera-offline SOP); the first frame after it →
  ``camera.online``, which clears that alarm. A camera registered as a device whose state is
  still unknown (a new one) gets ``camera.online`` at its first frame, so that the wall's video
  health counts it; camera.online / camera.offline set the device's state.
- **dark**, **blurred**, **frozen** and **moved** (the scene unlike the camera's reference frame):
  measured and judged by console/video/frames.py.

The reference is the first good frame (not dark, blurred or frozen) of a camera that has none; it
is kept in ``camera_references`` (its JPEG, who took it and when, its SHA-256 in the audit chain)
and so survives restarts. After a deliberate re-aim, a supervisor takes a new one
(``POST /api/cameras/{id}/reference``: :meth:`CameraHealthWatch.retake`).

Dark, blurred, frozen and moved are reported as the canonical ``camera.tamper`` with ``data.reason``
(``dark`` / ``blurred`` / ``frozen`` / ``moved``); a good frame afterwards sends ``camera.restore`` with
``data.of: camera.tamper``. Only changes are events, never a probe as such. Events go through
``Ingest.process_console_drafts`` (adapter ``console``), like the silence watch's: alarms, tasks
and hub messages follow. A camera need not be registered as a device: console-observed events
are never quarantined as unknown; a device registered under the camera's id lends its location.
"""

from __future__ import annotations

import hashlib
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

from console.contract import Draft
from console.devices.registry import DeviceRegistry
from console.errors import Refusal
from console.messages import AlarmPath
from console.settings.cameras import CameraEntry, CamerasSection
from console.store import audit
from console.store.database import Store
from console.store.tables import AlarmRow, CameraReferenceRow, DeviceStatusRow
from console.video.frames import FrameClassifier, decode, grey
from console.video.grab import GrabError, ProcessGrabber, ThreadGrabber
from console.workers import Worker, WorkerStatus

log = logging.getLogger("mcc.camera_health")
TAMPER = "camera.tamper"


def part_of(site: str) -> str:
    """The part of the camera probes a cluster instance holds for one site."""
    return f"camera-health:{site}"


class ReferenceRefused(Refusal):
    """The frame is not fit to be a reference (dark, blurred), or the camera gave none."""


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
    reference: dict[str, Any] | None = None
    """The reference frame's ``taken_at``, ``taken_by`` and ``sha256`` (None: not taken yet)."""

    @property
    def state(self) -> str:
        if not self.probed:
            return "unknown"
        if self.offline:
            return "offline"
        if self.condition is None:
            return "ok"
        return "tampered" if self.condition == "tamper" else self.condition

    def view(self) -> dict[str, Any]:
        figures = self.classifier.figures
        return {"state": self.state, "last_probe_at": self.last_probe_at, "last_error": self.last_error,
                "figures": figures.as_dict() if figures is not None else None, "reference": self.reference}


@dataclass
class HealthStats:
    probes: int = 0
    frames: int = 0
    failures: int = 0
    events: int = 0
    rounds: int = 0
    last_error: str | None = None
    by_camera: dict[str, CameraHealth] = field(default_factory=dict)


class CameraHealthWatch(Worker):
    """Probes every camera each ``health_seconds`` and hands what changed to the alarm path.

    A camera is its ``site``'s (the site file's own ``site`` when it names none). In a cluster each
    site's cameras are a part of the work (``camera-health:<site>``) held by one instance at a
    time, and the sites are shared out among the instances up (console/cluster/election.py)."""

    def __init__(self, section: CamerasSection, site: str, store: Store, registry: DeviceRegistry,
                 alarm_path: AlarmPath, now: Callable[[], datetime],
                 grabber: ProcessGrabber | ThreadGrabber | None = None):
        super().__init__("camera-health")
        self.section = section
        self.site = site
        """The site file's own site: that of a camera that names none."""
        self.site_of = {c.id: c.site_or(site) for c in section.entries}
        self.sites = list(dict.fromkeys(self.site_of.values()))
        self._held_last = set(self.sites)
        """The sites probed in the last round (a site taken up since reloads what its last prober stored)."""
        self._probing: set[str] = set()
        """The sites of the round under way (not let go to another instance until it ends)."""
        self.store = store
        self.registry = registry
        self.alarm_path = alarm_path
        self.now = now
        self.cameras: list[CameraEntry] = list(section.entries)
        self.grabber = grabber if grabber is not None else ProcessGrabber(min(section.workers, len(self.cameras)))
        self.stats = HealthStats(by_camera={c.id: CameraHealth(FrameClassifier(section)) for c in self.cameras})
        self._lock = threading.Lock()
        self._seq = itertools.count()  # two changes within one millisecond are still two events
        self.unannounced: set[str] = set()
        """Registered camera devices whose state is unknown: their first frame is camera.online."""
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(section.workers, len(self.cameras))),
                                        thread_name_prefix="mcc-camera-probe")
        self.beat_timeout = max(60.0, 3 * section.health_seconds + 3 * max((c.timeout_seconds for c in self.cameras),
                                                                            default=5.0))

    # -- start / stop (the worker's) ---------------------------------------------------------------

    def parts(self) -> list[str]:
        return [part_of(site) for site in self.sites]

    def may_let_go(self, part: str) -> bool:
        return part not in {part_of(site) for site in self._probing}

    def prepare(self, sites: list[str] | None = None) -> None:
        """What is known of the cameras of ``sites`` (None: all) from the store."""
        sites = self.sites if sites is None else sites
        try:
            self.load_open_alarms(sites)
        except Exception:
            log.exception("camera health: open camera alarms could not be read (starting from ok)")
        try:
            self.load_references(sites)
        except Exception:
            log.exception("camera health: reference frames could not be read (new ones are taken)")
        try:
            self.load_unknown_states(sites)
        except Exception:
            log.exception("camera health: device states could not be read")

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.beat()
            sites = self._start_round()
            try:
                taken = [site for site in sites if site not in self._held_last]
                if taken:  # taken up from another instance: what it found is in the store
                    self.prepare(taken)
                self._held_last = set(sites)
                if sites:
                    self.probe_all(sites)
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self.report(exc)
                log.exception("camera health round failed")
            finally:
                self._probing.clear()
            wait = self.section.health_seconds if sites else 1.0  # none held: look again soon
            self.stopping.wait(max(0.05, wait - (time.monotonic() - started)))

    def _start_round(self) -> list[str]:
        """The sites whose cameras this instance probes now; marked as under way before asking, so
        that a site is never let go between the question and the probes."""
        self._probing = set(self.sites)
        sites = [site for site in self.sites if self.holds_part(part_of(site))]
        self._probing = set(sites)
        return sites

    def cameras_of(self, sites: list[str]) -> list[CameraEntry]:
        return [c for c in self.cameras if self.site_of[c.id] in sites]

    def finish(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.grabber.close()

    def processes(self) -> list[WorkerStatus]:
        return self.grabber.processes("camera-health grab") if isinstance(self.grabber, ProcessGrabber) else []

    def load_open_alarms(self, sites: list[str] | None = None) -> None:
        """After a restart: a camera with an uncleared offline or tamper alarm starts in that state,
        so that its first good probe clears it."""
        rows: list[tuple[str, str]] = []
        with self.store.read() as session:
            for site in self.sites if sites is None else sites:
                ids = [c.id for c in self.cameras_of([site])]
                rows += session.execute(select(AlarmRow.device_id, AlarmRow.kind).where(
                    AlarmRow.site == site, AlarmRow.device_id.in_(ids), AlarmRow.point == "",
                    AlarmRow.kind.in_(("camera.offline", TAMPER)), AlarmRow.cleared.is_(False),
                    AlarmRow.closed.is_(False))).all()
        for device_id, kind in rows:
            health = self.stats.by_camera[device_id]
            if kind == "camera.offline":
                health.offline = True
            else:
                health.condition = "tamper"

    def load_unknown_states(self, sites: list[str] | None = None) -> None:
        for site in self.sites if sites is None else sites:
            registered = [c.id for c in self.cameras_of([site]) if self.registry.is_registered(site, c.id)]
            self.unannounced -= {c.id for c in self.cameras_of([site])}
            if not registered:
                continue
            with self.store.read() as session:
                known = set(session.scalars(select(DeviceStatusRow.device_id).where(
                    DeviceStatusRow.site == site, DeviceStatusRow.device_id.in_(registered),
                    DeviceStatusRow.state != "unknown")))
            self.unannounced |= set(registered) - known

    def load_references(self, sites: list[str] | None = None) -> None:
        with self.store.read() as session:
            rows = session.scalars(select(CameraReferenceRow).where(
                CameraReferenceRow.site.in_(self.sites if sites is None else sites))).all()
            for row in rows:
                health = self.stats.by_camera.get(row.camera_id)
                if health is None or self.site_of[row.camera_id] != row.site:
                    continue  # a camera no longer in the site file (or no longer of that site)
                try:
                    health.classifier.set_reference(grey(decode(row.image)))
                except GrabError:
                    log.error("camera %s: its stored reference frame does not decode; a new one is taken",
                              row.camera_id)
                    continue
                health.reference = reference_view(row)

    # -- reference frames --------------------------------------------------------------------------

    def _store_reference(self, camera: CameraEntry, jpeg: bytes, at: datetime, actor: str,
                         client: str = "") -> dict[str, Any]:
        """Keep ``jpeg`` as the camera's reference (replacing any), audited in the same transaction."""
        digest = hashlib.sha256(jpeg).hexdigest()
        with self.store.write() as session, session.begin():
            site = self.site_of[camera.id]
            row = session.get(CameraReferenceRow, (site, camera.id), with_for_update=True)
            previous = row.sha256 if row is not None else None
            if row is None:
                row = CameraReferenceRow(site=site, camera_id=camera.id)
                session.add(row)
            row.taken_at, row.taken_by, row.sha256, row.image = at, actor, digest, jpeg
            audit.record(session, actor, "camera.reference", target=f"camera:{camera.id}",
                         detail={"sha256": digest, "size": len(jpeg), "previous_sha256": previous},
                         client=client, at=at)
            return reference_view(row)

    def retake(self, camera_id: str, actor: str, client: str = "") -> dict[str, Any]:
        """A new reference frame grabbed now (after a deliberate re-aim). Blocks for at most the
        camera's time limit (call it off the event loop). A camera reported moved is restored at
        once. Raises KeyError for an unknown camera, ReferenceRefused for no or an unfit frame."""
        camera = next((c for c in self.cameras if c.id == camera_id), None)
        if camera is None:
            raise KeyError(camera_id)
        jpeg, frame, error = self._probe(camera)
        if frame is None or jpeg is None:
            raise ReferenceRefused("camera.no_frame", f"no frame from the camera: {error}", error=error or "")
        health = self.stats.by_camera[camera.id]
        unfit = health.classifier.fit_for_reference(frame)
        if unfit is not None:
            raise ReferenceRefused("camera.unfit", f"the picture is {unfit}: not fit to be the reference", why=unfit)
        now = self.now()
        view = self._store_reference(camera, jpeg, now, actor, client)
        drafts: list[Draft] = []
        with self._lock:
            health.classifier.set_reference(grey(frame))
            health.reference = view
            if health.condition == "moved":
                health.condition = None
                drafts.append(self._draft(camera, "camera.restore", now, of=TAMPER, was="moved", via="reference",
                                          by=actor))
        if drafts:
            self.alarm_path.observe(drafts)
            with self._lock:
                self.stats.events += len(drafts)
        return view

    def _draft(self, camera: CameraEntry, kind: str, now: datetime, **data: Any) -> Draft:
        return Draft(kind=kind, site=self.site_of[camera.id], device_id=camera.id,
                     source_id=f"probe:{kind}:{now.timestamp():.3f}:{next(self._seq)}", ts=now,
                     data={"via": "probe", **data})

    # -- probing ---------------------------------------------------------------------------------

    def _probe(self, camera: CameraEntry) -> tuple[bytes | None, np.ndarray | None, str | None]:
        try:
            jpeg = self.grabber.grab(camera.url, camera.timeout_seconds)
            return jpeg, decode(jpeg), None
        except Exception as exc:
            return None, None, f"{type(exc).__name__}: {exc}"[:300]

    def probe_all(self, sites: list[str] | None = None) -> list[Draft]:
        """One round: every camera (of ``sites``; None: all) at once, each within its own time
        limit, then the events of what changed, handed to the alarm path together; returns them."""
        cameras = self.cameras if sites is None else self.cameras_of(sites)
        results = list(self._pool.map(self._probe, cameras))
        now = self.now()
        drafts: list[Draft] = []
        first_references: list[tuple[CameraEntry, bytes]] = []
        with self._lock:
            self.stats.rounds += 1
            for camera, (jpeg, frame, error) in zip(cameras, results):
                drafts.extend(self._judge(camera, frame, error, now))
                health = self.stats.by_camera[camera.id]
                if (jpeg is not None and health.classifier.reference is None and health.condition is None
                        and not health.offline and self.section.health_moved_similarity > 0):
                    assert health.classifier.image is not None
                    health.classifier.set_reference(health.classifier.image)
                    first_references.append((camera, jpeg))
        for camera, jpeg in first_references:
            try:
                view = self._store_reference(camera, jpeg, now, "system")
            except Exception:
                log.exception("camera %s: its first reference frame could not be stored", camera.id)
                continue
            with self._lock:
                self.stats.by_camera[camera.id].reference = view
        if not drafts:
            return []
        log.warning("camera health: %s", ", ".join(f"{d.device_id} {d.kind} {d.data.get('reason', '')}".strip()
                                                   for d in drafts))
        self.alarm_path.observe(drafts)
        with self._lock:
            self.stats.events += len(drafts)
        return drafts

    def _judge(self, camera: CameraEntry, frame: np.ndarray | None, error: str | None,
               now: datetime) -> list[Draft]:
        health = self.stats.by_camera[camera.id]
        health.last_probe_at = now.isoformat()
        first = not health.probed
        health.probed = True
        self.stats.probes += 1
        drafts: list[Draft] = []

        def draft(kind: str, **data: Any) -> None:
            drafts.append(self._draft(camera, kind, now, **data))

        if frame is None:
            self.stats.failures += 1
            health.failures += 1
            health.last_error = error
            health.classifier.forget()
            if health.failures >= self.section.health_offline_probes:
                if not health.offline:
                    draft("camera.offline", error=error or "", failures=health.failures)
                health.offline = True
                self.unannounced.discard(camera.id)
            elif first:
                health.probed = False  # not known yet: a first failure is not "ok"
            return drafts
        self.stats.frames += 1
        health.failures = 0
        health.last_error = None
        if health.offline:
            health.offline = False
            draft("camera.online")
        elif camera.id in self.unannounced:
            draft("camera.online", first=True)
        self.unannounced.discard(camera.id)
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

    def cameras_view(self) -> dict[str, dict[str, Any]]:
        """Each camera's health as /api/cameras shows it."""
        with self._lock:
            return {cid: health.view() for cid, health in self.stats.by_camera.items()}

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


def reference_view(row: CameraReferenceRow) -> dict[str, Any]:
    return {"taken_at": row.taken_at.isoformat(), "taken_by": row.taken_by, "sha256": row.sha256,
            "url": f"/api/cameras/{row.camera_id}/reference"}
