"""The patrol clock: every ``patrol.check_seconds`` it runs what fell due (rounds made, assigned,
missed, ended; compensating patrols started and ended) in one write transaction, tells the screens,
then hands the event outbox to the alarm path (patrol.checkpoint_missed opens SOP 13 there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from console.messages import AlarmPath
from console.patrol.evidence import link_photos
from console.patrol.outbox import flush_outbox
from console.patrol.rounds import Rounds
from console.store.database import Store
from console.tasks.outcome import Outcome
from console.workers import PeriodicWorker


class PatrolClock(PeriodicWorker):
    duty = "patrol-clock"
    """One instance of a cluster does this at a time."""

    def __init__(self, rounds: Rounds, store: Store, alarm_path: AlarmPath, deliver: Callable[[Outcome], None],
                 now: Callable[[], datetime], interval: float):
        super().__init__("patrol", interval)
        self.first_at_once = True
        self.rounds, self.store, self.alarm_path, self.deliver, self.now = rounds, store, alarm_path, deliver, now
        self.handed = 0

    def detail(self) -> dict[str, object]:
        return {"events_handed": self.handed}

    def tick(self) -> None:
        with self.store.write() as session, session.begin():
            self.rounds.refresh_places(session)
            outcome = self.rounds.due(session, self.now())
        self.rounds.committed()
        if outcome.hub or outcome.notices:
            self.deliver(outcome)
        self.flush()
        with self.store.write() as session, session.begin():
            linked = link_photos(session, self.rounds.tasks, self.now())
        if linked.hub:
            self.deliver(linked)

    def flush(self) -> None:
        """Hand the outbox to the alarm path now (after a scan, the events need not wait a tick)."""
        self.handed += flush_outbox(self.store.write, lambda drafts, at: self.alarm_path.observe(drafts, at=at),
                                    self.now())
