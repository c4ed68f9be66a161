"""Camera linkage: when an alarm is raised, grab JPEG snapshots from the cameras linked to it.

Off the alarm path by construction. ``offer`` taps the outlet (it sees every committed change) and
only puts jobs in a bounded heap; the linker's thread starts each grab at its time (the alarm plus
each of the camera's ``snapshot_offsets``) on a small pool of threads, each of which hands it to a
grab *process*. Nothing ever waits on a grab:

- Each grab runs in one of ``workers`` long-lived child processes with a hard time limit
  (console/video/grab.py: OpenCV opens streams under one process-wide lock, so threads alone
  cannot keep a dead camera from delaying the others); one that overruns is killed and counted.
- At most ``workers`` grabs run at once and at most one per camera. A job whose camera or slot
  stays busy until its own deadline is dropped and counted, and so is a job offered while
  ``queue_max`` jobs are waiting.

Parking evidence: a stored plate event (a ``parking.*`` event with ``data.plate``: entries,
exits) gets one snapshot at its moment from each camera linked to its lane (the lane device or
one of its points, or named in the device's ``cameras``; a camera linked only by zone is not a
lane camera). It is kept against the event (``snapshots.event_id``), audited like the others, and
listed with the event by ``GET /api/events`` and the device page (:func:`event_snapshots`). Test
and drill events get none.

Snapshots past their keeping are deleted hourly by a worker of their own
(console/video/retention.py: ``snapshot_keep_days`` once the case is over).

A stored snapshot is a row in ``snapshots`` (the JPEG bytes, so every console instance on the
database serves it), a line in the audit chain with its SHA-256 (actor ``system``), an entry in
the alarm's ``snapshots`` (bumping its revision: ``alarm.updated`` goes out), and evidence on the
alarm's task (file by hash in the evidence folder, like a guard's photo; ``task.updated``).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.views import alarm_view
from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings.cameras import CameraEntry, CamerasSection
from console.store import audit
from console.store.database import Store
from console.store.tables import AlarmRow, EvidenceRow, SnapshotRow, TaskLogRow, TaskRow
from console.tasks.sop import SopBook
from console.tasks.views import task_summary
from console.video.grab import GRACE_SECONDS, GrabTimeout, ProcessGrabber, ThreadGrabber
from console.workers import Worker, WorkerStatus

log = logging.getLogger("mcc.cameras")
RETRY_SECONDS = 0.05


@dataclass(frozen=True)
class Job:
    camera: CameraEntry
    offset: float
    due: float
    """time.monotonic() at which to grab."""
    alarm_id: int | None = None
    event_id: int | None = None

    @property
    def deadline(self) -> float:
        """After this, a job still waiting for a slot is dropped: it is no longer that moment's picture."""
        return self.due + self.camera.timeout_seconds


@dataclass
class _Running:
    job: Job
    started: float
    timed_out: bool = False


@dataclass
class CameraStats:
    scheduled: int = 0
    grabbed: int = 0
    stored: int = 0
    failed: int = 0
    timed_out: int = 0
    dropped: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    by_camera: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, camera: str, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        figures = self.by_camera.setdefault(camera, {"grabbed": 0, "failed": 0, "dropped": 0})
        if what in figures:
            figures[what] += 1


class CameraLinker(Worker):
    """Schedules and runs the snapshots of alarms and plate reads (see the module's docstring)."""

    def __init__(
        self, section: CamerasSection, registry: DeviceRegistry, store: Store,
        publish: Callable[[list[HubMessage]], None], *,
        book: SopBook | None = None,
        evidence_path: Callable[[str], Path] | None = None,
        grabber: ProcessGrabber | ThreadGrabber | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        super().__init__("cameras")
        self.section = section
        self.registry = registry
        self.store = store
        self.publish = publish
        self.book = book
        """The SOPs, for the task's view once a snapshot is filed as its evidence."""
        self.evidence_path = evidence_path
        self.grabber = grabber if grabber is not None else ProcessGrabber(section.workers)
        self.now = now
        self.cameras = {c.id: c for c in section.entries}
        self.stats = CameraStats()
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._running: dict[str, _Running] = {}  # by camera id
        self._grabs = ThreadPoolExecutor(max_workers=max(1, section.workers), thread_name_prefix="mcc-grab")
        """Each grab waits on its process here, so the scheduler never does (at most ``workers`` at once)."""

    # -- which cameras show what --------------------------------------------------------------

    def cameras_for(self, site: str, device_id: str, point: str = "", zone: str = "") -> list[CameraEntry]:
        """The cameras of ``site`` linked to a device (or one of its points), to the alarm's zone, or
        named by the device's own ``cameras`` list; in the order of the site file."""
        device = self.registry.get(site, device_id)
        named = set(device.cameras) if device is not None else set()
        found = []
        for camera in self.section.entries:
            if camera.site_or(self.registry.default_site) != site:
                continue  # another site's camera (device ids are the site's own)
            linked = (camera.id in named or device_id in camera.devices
                      or (point and f"{device_id}/{point}" in camera.devices)
                      or (zone and zone in camera.zones))
            if linked:
                found.append(camera)
        return found

    # -- after each commit: schedule, never wait ---------------------------------------------

    def offer(self, messages: list[HubMessage]) -> None:
        """Thread-safe and quick: the ingest worker calls it after its commit."""
        for message in messages:
            try:
                if message.type == "alarm.raised":
                    self._on_alarm(message.data)
                elif message.type == "event" and self.section.plate_snapshots and is_plate_event(message.data):
                    self._on_plate(message.data)
            except Exception:  # camera linkage must never break the publisher
                log.exception("could not schedule snapshots for %s", message.type)

    def _on_alarm(self, alarm: dict[str, Any]) -> None:
        zone = (alarm.get("location") or {}).get("zone", "")
        cameras = self.cameras_for(alarm["site"], alarm["device_id"], alarm.get("point") or "", zone)
        base = time.monotonic()
        for camera in cameras:
            for offset in camera.snapshot_offsets:
                self._schedule(Job(camera, offset, base + offset, alarm_id=alarm["id"]))

    def _on_plate(self, event: dict[str, Any]) -> None:
        base = time.monotonic()
        for camera in self.cameras_for(event["site"], event["device_id"], event.get("point") or ""):
            self._schedule(Job(camera, 0.0, base, event_id=event["event_id"]))

    def _schedule(self, job: Job) -> None:
        with self._lock:
            if len(self._heap) >= self.section.queue_max:
                self.stats.count(job.camera.id, "dropped")
                self._error(f"{job.camera.id}: queue full ({self.section.queue_max} waiting), grab dropped")
                return
            self.stats.scheduled += 1
            heapq.heappush(self._heap, (job.due, next(self._order), job))
            self._lock.notify()

    # -- the scheduler thread (the worker's) --------------------------------------------------------

    def run(self) -> None:
        try:
            self.grabber.warm(min(2, self.section.workers))
        except Exception:
            log.exception("could not start the grab processes ahead (they start on first use)")
        with self._lock:
            while not self.stopping.is_set():
                now = time.monotonic()
                self.beat()
                self._watch(now)
                wait = 0.25
                while self._heap and self._heap[0][0] <= now:
                    _due, _n, job = heapq.heappop(self._heap)
                    if not self._start(job, now):
                        if now < job.deadline:
                            heapq.heappush(self._heap, (now + RETRY_SECONDS, next(self._order), job))
                            wait = min(wait, RETRY_SECONDS)
                            break
                        self.stats.count(job.camera.id, "dropped")
                        busy = "its camera is still busy" if job.camera.id in self._running else "all slots busy"
                        self._error(f"{job.camera.id}: grab at +{job.offset:g}s dropped: {busy}")
                if self._heap:
                    wait = min(wait, max(0.0, self._heap[0][0] - time.monotonic()))
                self._lock.wait(wait)

    def interrupt(self) -> None:
        with self._lock:
            self._lock.notify()

    def finish(self) -> None:
        self._grabs.shutdown(wait=False, cancel_futures=True)
        self.grabber.close()  # running grabs end within their own time limit (or are killed)

    def processes(self) -> list[WorkerStatus]:
        return self.grabber.processes("snapshot grab") if isinstance(self.grabber, ProcessGrabber) else []

    def _watch(self, now: float) -> None:
        """Declare the grabs that overran their limit failed (the process grabber kills them itself;
        a thread grabber's thread is left to OpenCV's own limit, holding its camera's slot)."""
        for running in self._running.values():
            if not running.timed_out and now - running.started > running.job.camera.timeout_seconds + 2 * GRACE_SECONDS:
                running.timed_out = True
                self.stats.timed_out += 1
                self.stats.count(running.job.camera.id, "failed")
                self._error(f"{running.job.camera.id}: no frame within {running.job.camera.timeout_seconds:g} s")

    def _start(self, job: Job, now: float) -> bool:
        if job.camera.id in self._running or len(self._running) >= self.section.workers:
            return False
        self._running[job.camera.id] = running = _Running(job, now)
        self._grabs.submit(self._grab, running)
        return True

    def _error(self, message: str) -> None:
        log.warning("camera %s", message)
        self.stats.last_error = message[:300]
        self.stats.last_error_at = self.now().isoformat()

    # -- one grab, on a thread of the pool -------------------------------------------------------------

    def _grab(self, running: _Running) -> None:
        job = running.job
        try:
            try:
                jpeg = self.grabber.grab(job.camera.url, job.camera.timeout_seconds)
                taken_at = self.now()
            except Exception as exc:
                with self._lock:
                    if not running.timed_out:
                        if isinstance(exc, GrabTimeout):
                            running.timed_out = True
                            self.stats.timed_out += 1
                        self.stats.count(job.camera.id, "failed")
                        self._error(f"{job.camera.id}: {exc}")
                return
            with self._lock:
                if running.timed_out:
                    return  # too late to be that moment's picture; already counted as failed
                self.stats.count(job.camera.id, "grabbed")
            try:
                self._store(job, jpeg, taken_at)
            except Exception as exc:
                log.exception("snapshot of %s could not be stored", job.camera.id)
                with self._lock:
                    self._error(f"{job.camera.id}: store failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._running.pop(job.camera.id, None)
                self._lock.notify()

    def _store(self, job: Job, jpeg: bytes, taken_at: datetime) -> None:
        digest = hashlib.sha256(jpeg).hexdigest()
        messages: list[HubMessage] = []
        with self.store.write() as session, session.begin():
            # Lock order (console/tasks/service.py): the alarm, then its task, then the audit chain.
            alarm = session.get(AlarmRow, job.alarm_id, with_for_update=True) if job.alarm_id else None
            if job.alarm_id is not None and alarm is None:
                return
            row = SnapshotRow(alarm_id=job.alarm_id, event_id=job.event_id, camera_id=job.camera.id,
                              taken_at=taken_at, offset=job.offset, sha256=digest, content_type="image/jpeg",
                              size=len(jpeg), image=jpeg)
            session.add(row)
            session.flush()
            entry = snapshot_entry(row, job.camera)
            task = None
            if alarm is not None:
                alarm.snapshots = [*(alarm.snapshots or []), entry]  # a new list: the JSON column sees it
                alarm.revision += 1
                if alarm.task_id is not None:
                    task = session.get(TaskRow, alarm.task_id, with_for_update=True)
                    if task is not None:
                        self._attach_to_task(session, task, row, jpeg, taken_at)
            target = f"alarm:{job.alarm_id}" if job.alarm_id is not None else f"event:{job.event_id}"
            audit.record(session, "system", "camera.snapshot", target=target,
                         detail={"snapshot_id": row.id, "camera": job.camera.id, "sha256": digest,
                                 "size": len(jpeg), "offset": job.offset, "taken_at": taken_at.isoformat()},
                         at=taken_at)
            if alarm is not None:
                messages.append(HubMessage("alarm.updated", alarm_view(alarm, self.registry)))
            if task is not None and self.book is not None:
                messages.append(HubMessage("task.updated",
                                           task_summary(task, self.book.sops.get(task.sop_id), self.registry)))
        with self._lock:
            self.stats.stored += 1
        if messages:
            self.publish(messages)

    def _attach_to_task(self, session: Any, task: TaskRow, row: SnapshotRow, jpeg: bytes, at: datetime) -> None:
        """The snapshot as the task's evidence, kept by hash like a guard's photo (no step)."""
        if self.evidence_path is None:
            return
        path = self.evidence_path(row.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(jpeg)
            tmp.replace(path)
        existing = session.query(EvidenceRow.id).filter(EvidenceRow.task_id == task.id,
                                                        EvidenceRow.sha256 == row.sha256).first()
        if existing is None:  # a frozen camera gives the same picture twice: kept once
            session.add(EvidenceRow(task_id=task.id, step=None, sha256=row.sha256, content_type="image/jpeg",
                                    size=len(jpeg), uploaded_by="system", uploaded_at=at))
        session.add(TaskLogRow(task_id=task.id, at=at, actor="system", action="snapshot",
                               data={"snapshot_id": row.id, "camera": row.camera_id, "sha256": row.sha256,
                                     "offset": row.offset}))
        task.revision += 1

    # -- /api/health ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            return {
                "configured": len(self.cameras),
                "workers": self.section.workers,
                "running": len(self._running),
                "hung": sum(1 for r in self._running.values() if r.timed_out),
                "waiting": len(self._heap),
                "scheduled": self.stats.scheduled,
                "grabbed": self.stats.grabbed,
                "stored": self.stats.stored,
                "failed": self.stats.failed,
                "timed_out": self.stats.timed_out,
                "dropped": self.stats.dropped,
                "keep_days": self.section.snapshot_keep_days,
                "oldest_running_seconds": round(max((now - r.started for r in self._running.values()),
                                                    default=0.0), 3),
                "last_error": self.stats.last_error,
                "last_error_at": self.stats.last_error_at,
                "by_camera": {k: dict(v) for k, v in self.stats.by_camera.items()},
            }


def snapshot_entry(row: SnapshotRow, camera: CameraEntry | None) -> dict[str, Any]:
    """One snapshot as alarm_view lists it (the wall and the console read these names)."""
    return {"id": row.id, "url": f"/api/snapshots/{row.id}", "camera": row.camera_id,
            "camera_name": (camera.name if camera is not None else "") or row.camera_id,
            "taken_at": row.taken_at.isoformat(), "offset": row.offset, "sha256": row.sha256}


def is_plate_event(event: dict[str, Any]) -> bool:
    """A stored parking event that names a plate (an entry, an exit...), not a test or a drill."""
    data = event.get("data") or {}
    return (str(event.get("kind", "")).startswith("parking.") and bool(data.get("plate"))
            and event.get("event_id") is not None and not data.get("test") and not data.get("drill"))


def event_snapshots(session: Session, event_ids: list[int],
                    cameras: list[CameraEntry]) -> dict[int, list[dict[str, Any]]]:
    """The snapshots kept for these events, by event id (oldest first), as :func:`snapshot_entry`
    gives them."""
    if not event_ids:
        return {}
    by_id = {c.id: c for c in cameras}
    rows = session.execute(select(SnapshotRow.id, SnapshotRow.event_id, SnapshotRow.camera_id, SnapshotRow.taken_at,
                                  SnapshotRow.offset, SnapshotRow.sha256)
                           .where(SnapshotRow.event_id.in_(event_ids)).order_by(SnapshotRow.id)).all()
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.event_id, []).append(
            snapshot_entry(row, by_id.get(row.camera_id)))  # type: ignore[arg-type]  # a Row of its columns
    return found


def disabled_status() -> dict[str, Any]:
    return {"configured": 0, "running": 0, "hung": 0, "waiting": 0, "scheduled": 0, "grabbed": 0, "stored": 0,
            "failed": 0, "timed_out": 0, "dropped": 0, "last_error": None}
