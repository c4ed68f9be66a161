"""Notices to people outside the console, through apprise (WeCom / DingTalk / Feishu group bots,
e-mail, or any apprise URL in the site file's ``notify.targets``).

Sending runs on one thread per target, off the alarm path: the task engine hands over notices after its
commit and never waits. Each target has a rate limit (``notify.max_per_minute``); notices beyond
it are held and go out together as one digest when the target may send again, so an alarm flood
does not get a group bot banned and nothing is silently dropped. Drills (演练) are suppressed
unless ``notify.drills`` is set. Each delivery (or failure) is written to the task's log.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import apprise

from console.settings import NotifySection, NotifyTarget
from console.tasks.outcome import Notice
from console.workers import Worker

log = logging.getLogger("mcc.notify")

Record = Callable[[Notice, str, bool, str], None]
"""(notice, target name, delivered, error) -> None: writes the outcome to the task's log."""
ATTEMPTS = (0.0, 1.0, 3.0)


DIGEST_MAX_NOTICES = 10
DIGEST_MAX_CHARS = 3000  # group bots refuse long messages (DingTalk ~20 KB, WeCom 4 KB of markdown)


@dataclass
class NotifyCounters:
    sent: int = 0
    failed: int = 0
    suppressed_drill: int = 0
    held: int = 0
    no_target: int = 0


class _Target(Worker):
    """One destination with its own queue and thread: a slow or dead service delays only itself."""

    def __init__(self, config: NotifyTarget, notifier: Notifier):
        self.config = config
        super().__init__(f"notify {self.target_name}")
        self.notifier = notifier
        self.client = apprise.Apprise()
        if not self.client.add(config.url):
            raise ValueError(f"apprise does not understand the URL of notify target {config.name or '?'}")
        self.sent_at: deque[float] = deque()
        self.held: list[Notice] = []
        self.queue: queue.Queue[Notice | None] = queue.Queue(maxsize=10_000)

    @property
    def target_name(self) -> str:
        return self.config.name or self.config.url.split("://", 1)[0] + "://…"

    def wants(self, notice: Notice) -> bool:
        return bool(set(notice.roles) & set(self.config.roles) or set(notice.users) & set(self.config.users))

    def detail(self) -> dict[str, object]:
        return {"queued": self.queue.qsize(), "held": len(self.held)}

    def interrupt(self) -> None:
        self.queue.put(None)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            try:
                notice = self.queue.get(timeout=1.0)
            except queue.Empty:
                self._flush_held()
                continue
            if notice is None:
                return
            if self._may_send():
                self._send(notice.title, notice.body, [notice])
            else:
                self.held.append(notice)
                self.notifier.counters.held += 1
            self._flush_held()

    def _may_send(self) -> bool:
        now = time.monotonic()
        while self.sent_at and now - self.sent_at[0] > self.notifier.window:
            self.sent_at.popleft()
        return len(self.sent_at) < self.notifier.settings.max_per_minute

    def _flush_held(self) -> None:
        while self.held and self._may_send():
            if len(self.held) == 1:
                only = self.held.pop()
                self._send(only.title, only.body, [only])
                continue
            # One digest at a time, small enough for a group bot; the rest wait for the next slot.
            chunk: list[Notice] = []
            size = 0
            while self.held and len(chunk) < DIGEST_MAX_NOTICES:
                text = len(self.held[0].title) + len(self.held[0].body) + 2
                if chunk and size + text > DIGEST_MAX_CHARS:
                    break
                chunk.append(self.held.pop(0))
                size += text
            title = f"{len(chunk)} 条通知（限流合并）/ {len(chunk)} notices (rate-limited digest)"
            body = "\n\n".join(f"{n.title}\n{n.body}" for n in chunk)[:DIGEST_MAX_CHARS]
            self._send(title, body, chunk)

    def _send(self, title: str, body: str, notices: list[Notice]) -> None:
        self.sent_at.append(time.monotonic())
        error = ""
        delivered = False
        for delay in ATTEMPTS:
            time.sleep(delay)
            try:
                delivered = bool(self.client.notify(title=title, body=body))
            except Exception as exc:  # a plugin bug must not kill the notifier
                error = f"{type(exc).__name__}: {exc}"
            if delivered:
                break
            error = error or "the service refused or did not answer"
        counters = self.notifier.counters
        if delivered:
            counters.sent += 1
        else:
            counters.failed += 1
            log.warning("notify target %s failed: %s", self.target_name, error)
        record = self.notifier.record
        if record is not None:
            for notice in notices:
                try:
                    record(notice, self.target_name, delivered, "" if delivered else error)
                except Exception:
                    log.exception("could not write the notification outcome to task %s", notice.task_id)


class Notifier:
    def __init__(self, settings: NotifySection, record: Record | None = None, window: float = 60.0):
        self.settings = settings
        self.record = record
        self.window = window
        """The rate limit's window in seconds: ``max_per_minute`` sends per window."""
        self.counters = NotifyCounters()
        self._targets = [_Target(config, self) for config in settings.targets]

    @property
    def workers(self) -> list[Worker]:
        """One worker per target, for the supervisor."""
        return list(self._targets)

    def start(self) -> None:
        for target in self._targets:
            target.start()

    def stop(self, timeout: float = 5.0) -> None:
        for target in self._targets:
            target.stop(timeout)

    def submit(self, notices: list[Notice]) -> None:
        """Called after a commit, from any thread; never blocks."""
        for notice in notices:
            if notice.drill and not self.settings.drills:
                self.counters.suppressed_drill += 1
                continue
            targets = [t for t in self._targets if t.wants(notice)]
            if not targets:
                self.counters.no_target += 1
            for target in targets:
                try:
                    target.queue.put_nowait(notice)
                except queue.Full:
                    log.error("notification queue of %s full; dropped a notice for task %s",
                              target.target_name, notice.task_id)
                    self.counters.failed += 1
