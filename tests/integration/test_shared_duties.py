"""Work split among a cluster's instances (issue 16: camera probes per site): the parts of a family
(``camera-health:<site>``) are shared out among the instances up, an instance alone at first gives
parts away as others start, a part is never held by two at once, and a part whose worker is in the
middle of it is given away only when it is done. Real PostgreSQL sessions and advisory locks."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from console.cluster.election import Election
from console.store.database import Store
from tests.conftest import _postgres_database, wait_until

PARTS = [f"camera-health:site-{n}" for n in range(5)]
DUTIES = ["deadlines", *PARTS]


@pytest.fixture
def pg_url() -> Iterator[str]:
    for url in _postgres_database():
        store = Store(url)
        try:
            store.migrate()
        finally:
            store.dispose()
        yield url


class Watch:
    """Samples who holds what every few milliseconds: any part held by two instances at once."""

    def __init__(self, elections: list[Election]) -> None:
        self.elections = elections
        self.doubled: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for duty in DUTIES:
                if sum(e.holds(duty) for e in self.elections if e.alive) > 1:
                    self.doubled.add(duty)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def parts(election: Election) -> set[str]:
    return {duty for duty in election.held if duty.startswith("camera-health:")}


def start(url: str, name: str, busy: set[str] | None = None) -> Election:
    """An instance's election; ``busy``: the parts its worker is in the middle of now."""
    busy = busy if busy is not None else set()
    election = Election(url, name, DUTIES, interval=0.2, can_let_go=lambda part: part not in busy)
    election.start()
    return election


def test_the_parts_are_shared_out_among_the_instances_up_and_never_held_twice(pg_url: str) -> None:
    busy_a: set[str] = set()
    a = start(pg_url, "a", busy_a)
    elections = [a]
    watch = Watch(elections)
    try:
        wait_until(lambda: set(a.held) == set(DUTIES), timeout=10, message="alone, a does everything")
        b = start(pg_url, "b")
        elections.append(b)
        wait_until(lambda: (len(parts(a)), len(parts(b))) == (3, 2), timeout=10,
                   message="5 parts over 2 instances: 3 and 2")
        assert a.holds("deadlines") and not b.holds("deadlines"), "a duty that is not split stays where it is"
        # A third instance: a has one part too many, but its worker is in the middle of every part it has.
        busy_a.update(parts(a))
        c = start(pg_url, "c")
        elections.append(c)
        wait_until(lambda: len(parts(a)) == 2, timeout=10, message="a lets one part go")
        let_go = next(iter(busy_a - parts(a)))
        for _ in range(10):  # two seconds: its lock is still a's, nobody else takes the part
            assert not any(e.holds(let_go) for e in elections)
            threading.Event().wait(0.2)
        busy_a.clear()  # the round ends
        wait_until(lambda: c.holds(let_go), timeout=10, message="c takes the part once a is done with it")
        wait_until(lambda: sorted(len(parts(e)) for e in elections) == [1, 2, 2], timeout=10,
                   message="5 parts over 3 instances")
        # a goes: its parts and its duty go to b and c.
        a.stop()
        wait_until(lambda: parts(b) | parts(c) == set(PARTS) and (b.holds("deadlines") or c.holds("deadlines")),
                   timeout=15, message="b and c hold everything")
        assert sorted(len(parts(e)) for e in (b, c)) == [2, 3]
    finally:
        for election in elections:
            election.stop()
        watch.stop()
    assert not watch.doubled, f"held by two instances at once: {watch.doubled}"
