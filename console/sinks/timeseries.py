"""The time-series sink: device telemetry, event and alarm counts, car-park occupancy and handling
KPIs, written in batches with ``influxdb-client``'s v2 write API (InfluxDB 2/3; VictoriaMetrics
accepts the same ``/api/v2/write``). What the points are: console/sinks/points.py.

Never on the alarm path. The hook (:meth:`TimeSeriesSink.offer`, called by ``Runtime.publish``
after a commit) only turns hub messages into points and appends them to a bounded in-memory
buffer, or increments a counter; it does no I/O and never raises. One background thread rolls
closed count buckets into the buffer, reads occupancy and KPIs from the store, and writes batches
(``batch_size`` points, or whatever is buffered after ``flush_seconds``), each write limited to
``timeout_seconds``. A failed batch stays in the buffer and is retried with exponential back-off
with jitter (1 s, 2 s, 4 s ... up to ``backoff_max_seconds``, each times 0.5–1.0).

Drop policy: the buffer holds at most ``buffer_max`` points. When it is full, the OLDEST point is
dropped for each new one and counted (``dropped`` on /api/health): after an outage the newest
state of the site is what reaches the database. A point dropped while its batch was being
written may still have arrived.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from console.devices import parking
from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings import InfluxSection, Settings
from console.sinks.points import PARKING_KINDS, Point, count_point, parking_points, task_kpis, telemetry_point
from console.store.database import Store
from console.workers import Worker

log = logging.getLogger("mcc.timeseries")

Writer = Callable[[list[Point]], None]
BACKOFF_BASE = 1.0
WAIT_MAX = 1.0
"""The thread looks at the buffer and the count buckets at least this often."""


def backoff_delay(failures: int, cap: float, rnd: Callable[[], float] = random.random,
                  base: float = BACKOFF_BASE) -> float:
    """Seconds to wait after ``failures`` failed writes in a row: base·2^(n-1), capped, with
    jitter (a factor 0.5–1.0, so that consoles that lost the same server do not retry in step)."""
    exponent = min(max(failures - 1, 0), 30)
    return float(min(cap, base * 2 ** exponent) * (0.5 + 0.5 * rnd()))


def disabled_status() -> dict[str, Any]:
    return {"enabled": False, "state": "disabled", "buffered": 0, "dropped": 0, "written": 0,
            "failed_batches": 0, "last_error": None, "last_write_at": None}


class InfluxWriter:
    """The v2 write API, synchronous (the sink's thread does the batching and retrying)."""

    def __init__(self, config: InfluxSection):
        from influxdb_client import InfluxDBClient  # only consoles with a sink pay for the import
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.config = config
        self.client = InfluxDBClient(url=config.url, token=config.token.get_secret_value() or "-",
                                     org=config.org, timeout=int(config.timeout_seconds * 1000),
                                     retries=False, enable_gzip=False)
        self.api = self.client.write_api(write_options=SYNCHRONOUS)

    def __call__(self, points: list[Point]) -> None:
        from influxdb_client import WritePrecision

        self.api.write(bucket=self.config.bucket, org=self.config.org, record=points,
                       write_precision=WritePrecision.MS)  # type: ignore[arg-type]  # its members are plain str

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing a client whose server is gone must not stop the shutdown
            log.debug("closing the InfluxDB client failed", exc_info=True)


class TimeSeriesSink(Worker):
    def __init__(
        self, config: InfluxSection, *, writer: Writer | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        rnd: Callable[[], float] = random.random,
        occupancy: Callable[[], list[dict[str, Any]]] | None = None,
        kpis: Callable[[int], Point | None] | None = None,
        site: str = "",
    ):
        super().__init__("timeseries")
        self.config = config
        self._writer = writer
        self._clock = clock
        self._wall = wall
        self._rnd = rnd
        self._occupancy = occupancy
        self._kpis = kpis
        self.site = site
        self._lock = threading.Lock()
        self._buffer: deque[tuple[int, Point]] = deque()
        self._seq = 0
        self._counts: dict[tuple[int, str, str, tuple[tuple[str, str], ...]], int] = {}
        self._parking_dirty = occupancy is not None
        self._closed_tasks: deque[int] = deque()
        self._seen_closed: OrderedDict[int, None] = OrderedDict()
        self._last_flush = clock()
        self._next_attempt = 0.0
        self._failures = 0
        self.dropped = 0
        self.written = 0
        self.failed_batches = 0
        self.last_error: str | None = None
        self.last_write_at: str | None = None
        self._wake = threading.Event()

    # -- the hook: called after a commit, on the ingest thread or a request's thread -------------

    def offer(self, messages: Iterable[HubMessage]) -> None:
        """Turn committed changes into points or counts; no I/O, never raises."""
        try:
            bucket = self._bucket_ms()
            with self._lock:
                for message in messages:
                    data = message.data
                    if message.type == "event":
                        point = telemetry_point(data)
                        if point is not None:
                            self._append(point)
                        self._count(bucket, "mcc_events", "count", (("kind", data["kind"]), ("site", data["site"])))
                        if data["kind"] in PARKING_KINDS and self._occupancy is not None:
                            self._parking_dirty = True
                    elif message.type == "alarm.raised":
                        self._count(bucket, "mcc_alarms", "raised", (("kind", data["kind"]),
                                    ("severity", str(data.get("severity", ""))), ("site", data["site"])))
                    elif (message.type == "task.updated" and data.get("state") == "closed"
                          and not data.get("drill") and self._kpis is not None):
                        task_id = int(data["id"])
                        if task_id not in self._seen_closed:
                            self._seen_closed[task_id] = None
                            if len(self._seen_closed) > 10000:
                                self._seen_closed.popitem(last=False)
                            self._closed_tasks.append(task_id)
                full = len(self._buffer) >= self.config.batch_size
            if full:
                self._wake.set()
        except Exception:  # the time series must never cost the alarm path anything
            log.exception("time-series hook failed; these changes are not in the time series")

    def add(self, points: Iterable[Point]) -> None:
        with self._lock:
            for point in points:
                self._append(point)

    def _append(self, point: Point) -> None:
        """Under the lock. A full buffer drops its oldest point, counted."""
        if len(self._buffer) >= self.config.buffer_max:
            self._buffer.popleft()
            self.dropped += 1
        self._seq += 1
        self._buffer.append((self._seq, point))

    def _count(self, bucket: int, measurement: str, field: str, tags: tuple[tuple[str, str], ...]) -> None:
        key = (bucket, measurement, field, tags)
        self._counts[key] = self._counts.get(key, 0) + 1

    def _bucket_ms(self) -> int:
        width = self.config.count_seconds * 1000
        now = int(self._wall().timestamp() * 1000)
        return now - now % width

    # -- the background thread -------------------------------------------------------------------

    def collect(self, final: bool = False) -> None:
        """Closed count buckets (all of them when ``final``), occupancy and KPIs into the buffer."""
        horizon = None if final else self._bucket_ms()
        with self._lock:
            closed = sorted(key for key in self._counts if horizon is None or key[0] < horizon)
            for key in closed:
                start, measurement, field, tags = key
                self._append(count_point(measurement, field, tags, start, self._counts.pop(key)))
            dirty, self._parking_dirty = self._parking_dirty, False
            tasks = list(self._closed_tasks)
            self._closed_tasks.clear()
        points: list[Point] = []
        if dirty and self._occupancy is not None:
            try:
                points += parking_points(self.site, self._occupancy(), self._wall())
            except Exception as exc:
                log.warning("car-park occupancy for the time series failed: %s", exc)
        for task_id in tasks:
            try:
                point = self._kpis(task_id) if self._kpis is not None else None
            except Exception as exc:
                log.warning("KPIs of task %s for the time series failed: %s", task_id, exc)
                continue
            if point is not None:
                points.append(point)
        if points:
            self.add(points)

    def step(self) -> float:
        """One round of the thread: collect, then write one batch if one is due. Returns the
        seconds until the next round is needed."""
        self.collect()
        now = self._clock()
        if now < self._next_attempt:
            return self._next_attempt - now  # backing off
        with self._lock:
            size = len(self._buffer)
        if size == 0:
            self._last_flush = now
            return self.config.flush_seconds
        due = self._last_flush + self.config.flush_seconds
        if size < self.config.batch_size and now < due:
            return due - now
        ok = self.write_batch()
        if not ok:
            return self._next_attempt - self._clock()
        with self._lock:
            more = len(self._buffer) >= self.config.batch_size
        return 0.0 if more else self.config.flush_seconds

    def write_batch(self) -> bool:
        """Write the oldest ``batch_size`` buffered points; True if written (or nothing to write)."""
        with self._lock:
            batch = [item for _, item in zip(range(self.config.batch_size), self._buffer)]
            if not batch:
                return True
            last_seq = self._buffer[len(batch) - 1][0]
        points = [point for _, point in batch]
        try:
            writer = self._writer
            if writer is None:
                writer = self._writer = InfluxWriter(self.config)
            writer(points)
        except Exception as exc:
            now = self._clock()
            with self._lock:
                self.failed_batches += 1
                self._failures += 1
                self.last_error = self._describe(exc)
                delay = backoff_delay(self._failures, self.config.backoff_max_seconds, self._rnd)
                self._next_attempt = now + delay
            log.warning("time-series write of %d points failed (%s); retrying in %.1f s",
                        len(points), self.last_error, delay)
            return False
        with self._lock:
            while self._buffer and self._buffer[0][0] <= last_seq:
                self._buffer.popleft()
            if self._failures:
                log.info("time-series writes work again after %d failures", self._failures)
            self.written += len(points)
            self._failures = 0
            self._next_attempt = 0.0
            self._last_flush = self._clock()
            self.last_write_at = self._wall().isoformat()
        return True

    def _describe(self, exc: Exception) -> str:
        status = getattr(exc, "status", None)
        if status is not None and getattr(exc, "reason", None) is not None:
            body = str(getattr(exc, "body", "") or "")[:200]
            text = f"HTTP {status} {getattr(exc, 'reason')}: {body}".strip()
        else:
            text = f"{type(exc).__name__}: {exc}"
        token = self.config.token.get_secret_value()
        if token:
            text = text.replace(token, "***")
        return text.splitlines()[0][:300] if text else type(exc).__name__

    # -- the worker's thread -----------------------------------------------------------------------

    def prepare(self) -> None:
        log.info("time-series sink writing to %s, bucket %s", self.config.url, self.config.bucket)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            try:
                delay = self.step()
            except Exception:  # keep the thread alive whatever happens
                log.exception("time-series sink round failed")
                delay = WAIT_MAX
            self._wake.wait(min(max(delay, 0.01), WAIT_MAX))
            self._wake.clear()

    def interrupt(self) -> None:
        self._wake.set()

    def finish(self, timeout: float = 5.0) -> None:
        """Write what is buffered (and the open count buckets), giving up after ``timeout``
        seconds or at the first failure: shutdown never waits on a dead server longer than that."""
        deadline = self._clock() + timeout
        self.collect(final=True)
        while self._clock() < deadline:
            with self._lock:
                if not self._buffer:
                    break
            if not self.write_batch():
                break
        with self._lock:
            left = len(self._buffer)
        if left:
            log.warning("time-series sink stopped with %d points not written", left)
        if isinstance(self._writer, InfluxWriter):
            self._writer.close()

    # -- /api/health ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": True,
                "state": "failing" if self._failures else "ok",
                "buffered": len(self._buffer),
                "dropped": self.dropped,
                "written": self.written,
                "failed_batches": self.failed_batches,
                "last_error": self.last_error,
                "last_write_at": self.last_write_at,
            }


class StoreFigures:
    """What the sink reads from the store now and then: car-park occupancy, a closed task's KPIs."""

    def __init__(self, store: Store, settings: Settings, registry: DeviceRegistry) -> None:
        self.store = store
        self.settings = settings
        self.registry = registry

    def occupancy(self) -> list[dict[str, Any]]:
        if not self.settings.parking.car_parks:
            return []
        with self.store.read() as session:
            return parking.occupancy(session, self.settings, self.registry, datetime.now(timezone.utc))

    def task_kpis(self, task_id: int) -> Point | None:
        with self.store.read() as session:
            return task_kpis(session, task_id)
