"""Notices to people outside the console, through apprise (WeCom / DingTalk / Feishu group bots,
e-mail, or any apprise URL in the site file's ``notify.targets``).

Sending runs on its own thread, off the alarm path: the task engine hands over notices after its
commit and never waits. Each target has a rate limit (``notify.max_per_minute``); notices beyond
it are held and go out together as one digest when the target may send again, so an alarm flood
does not get a group bot banned and nothing is silently dropped. Drills (演练) are suppressed
unless ``notify.drills`` is set. Each delivery (or failure) is written to the task's log.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import apprise

from console.settings import NotifySection, NotifyTarget
from console.tasks.service import Notice

log = logging.getLogger("mcc.notify")

Record = Callable[[Notice, str, bool, str], None]
"""(notice, target name, delivered, error) -> None: writes the outcome to the task's log."""
ATTEMPTS = (0.0, 1.0, 3.0)


@dataclass
class _Target:
    config: NotifyTarget
    client: apprise.Apprise
    sent_at: deque[float] = field(default_factory=deque)
    held: list[Notice] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name or self.config.url.split("://", 1)[0] + "://…"

    def wants(self, notice: Notice) -> bool:
        return bool(set(notice.roles) & set(self.config.roles) or set(notice.users) & set(self.config.users))


@dataclass
class NotifyCounters:
    sent: int = 0
    failed: int = 0
    suppressed_drill: int = 0
    held: int = 0
    no_target: int = 0


class Notifier:
    def __init__(self, settings: NotifySection, record: Record | None = None, window: float = 60.0):
        self.settings = settings
        self.window = window
        """The rate limit's window in seconds: ``max_per_minute`` sends per window."""
        self.record = record
        self.counters = NotifyCounters()
        self._targets = []
        for config in settings.targets:
            client = apprise.Apprise()
            if not client.add(config.url):
                raise ValueError(f"apprise does not understand the URL of notify target {config.name or '?'}")
            self._targets.append(_Target(config, client))
        self._queue: queue.Queue[Notice | None] = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="mcc-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, notices: list[Notice]) -> None:
        """Called after a commit, from any thread; never blocks."""
        for notice in notices:
            if notice.drill and not self.settings.drills:
                self.counters.suppressed_drill += 1
                continue
            try:
                self._queue.put_nowait(notice)
            except queue.Full:
                log.error("notification queue full; dropped a notice for task %s", notice.task_id)
                self.counters.failed += 1

    def _run(self) -> None:
        while True:
            try:
                notice = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._flush_held()
                continue
            if notice is None:
                return
            targets = [t for t in self._targets if t.wants(notice)]
            if not targets:
                self.counters.no_target += 1
            for target in targets:
                if self._may_send(target):
                    self._send(target, notice.title, notice.body, [notice])
                else:
                    target.held.append(notice)
                    self.counters.held += 1
            self._flush_held()

    def _may_send(self, target: _Target) -> bool:
        now = time.monotonic()
        while target.sent_at and now - target.sent_at[0] > self.window:
            target.sent_at.popleft()
        return len(target.sent_at) < self.settings.max_per_minute

    def _flush_held(self) -> None:
        for target in self._targets:
            if target.held and self._may_send(target):
                held, target.held = target.held, []
                if len(held) == 1:
                    self._send(target, held[0].title, held[0].body, held)
                    continue
                title = f"{len(held)} 条通知（限流合并）/ {len(held)} notices (rate-limited digest)"
                body = "\n\n".join(f"{n.title}\n{n.body}" for n in held)
                self._send(target, title, body, held)

    def _send(self, target: _Target, title: str, body: str, notices: list[Notice]) -> None:
        target.sent_at.append(time.monotonic())
        error = ""
        delivered = False
        for delay in ATTEMPTS:
            time.sleep(delay)
            try:
                delivered = bool(target.client.notify(title=title, body=body))
            except Exception as exc:  # a plugin bug must not kill the notifier
                error = f"{type(exc).__name__}: {exc}"
            if delivered:
                break
            error = error or "the service refused or did not answer"
        if delivered:
            self.counters.sent += 1
        else:
            self.counters.failed += 1
            log.warning("notify target %s failed: %s", target.name, error)
        if self.record is not None:
            for notice in notices:
                try:
                    self.record(notice, target.name, delivered, "" if delivered else error)
                except Exception:
                    log.exception("could not write the notification outcome to task %s", notice.task_id)
