"""Login throttling: failed logins lock an account name and a client address out for growing
times, and only a few password checks run at once.

Each failed login counts against the account name tried (known or not, so a lockout tells nothing
about which names exist) and against the client address. After ``free`` failures a key is locked for
``base`` seconds, doubling with each further failure up to ``most``; while locked, a login is
refused with 429 and ``Retry-After`` before any password is checked, so a flood costs no argon2id
work. A client address gets ``CLIENT_FACTOR`` times the account's free failures: a control room's
staff share one NAT address. A successful login clears its account; a count with no failure for
``most`` seconds starts again from nothing.

The counts live in this process (a restart forgets them, and each console of a cluster counts on
its own); the table is bounded so random names cannot grow it without end.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

CLIENT_FACTOR = 4
MAX_KEYS = 10_000


@dataclass
class _Count:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


@dataclass(frozen=True)
class Lockout:
    """A key just locked: what the audit chain records."""

    scope: str  # "account" or "client"
    key: str
    failures: int
    seconds: float


class LoginThrottle:
    def __init__(self, free: int = 5, base: float = 30.0, most: float = 900.0, checks_at_once: int = 2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base, self.most = free, base, most
        self.clock = clock
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._lock = threading.Lock()
        self.checks = threading.BoundedSemaphore(checks_at_once)
        """Held while a password is checked: argon2id takes 64 MiB and a core's tenth of a second each."""
        self.refused = 0

    def _keys(self, username: str, client: str) -> list[tuple[str, str]]:
        return [("account", username.lower()), ("client", client)]

    def wait_seconds(self, username: str, client: str) -> float:
        """How long this login must wait (0: it may try now)."""
        now = self.clock()
        with self._lock:
            waits = [count.locked_until - now for key in self._keys(username, client)
                     if (count := self._counts.get(key)) is not None]
        wait = max([0.0, *waits])
        if wait > 0:
            self.refused += 1
        return wait

    def failed(self, username: str, client: str) -> list[Lockout]:
        """Count a failed login; return the keys it locked (each lockout is audited)."""
        now = self.clock()
        locked = []
        with self._lock:
            for scope, key in self._keys(username, client):
                count = self._counts.pop((scope, key), None)
                if count is None or now - count.last_failure > self.most:
                    count = _Count()
                self._counts[(scope, key)] = count  # most recently used last
                count.failures += 1
                count.last_failure = now
                free = self.free * (CLIENT_FACTOR if scope == "client" else 1)
                if count.failures >= free:
                    seconds = min(self.most, self.base * 2 ** (count.failures - free))
                    count.locked_until = now + seconds
                    locked.append(Lockout(scope, key, count.failures, seconds))
            while len(self._counts) > MAX_KEYS:
                self._counts.popitem(last=False)
        return locked

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._counts.pop(("account", username.lower()), None)
