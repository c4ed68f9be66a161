"""Login throttling on a controlled clock: lockouts grow, cap, expire, and count per account and
per client address."""

from __future__ import annotations

from console.people.throttle import CLIENT_FACTOR, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_is_locked_after_its_free_failures_and_each_further_failure_doubles_the_wait() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=3, base=10, most=60, clock=clock)
    for _ in range(2):
        assert throttle.failed("alice", "10.0.0.1") == []
        assert throttle.wait_seconds("alice", "10.0.0.1") == 0
    (lockout,) = throttle.failed("alice", "10.0.0.1")
    assert (lockout.scope, lockout.key, lockout.failures, lockout.seconds) == ("account", "alice", 3, 10)
    assert throttle.wait_seconds("ALICE", "10.0.0.2") == 10, "the name is locked from any address, any case"
    assert throttle.wait_seconds("bob", "10.0.0.1") == 0, "the address is not locked yet"
    clock.now += 10
    assert throttle.wait_seconds("alice", "10.0.0.1") == 0
    assert [lock.seconds for lock in throttle.failed("alice", "10.0.0.1")] == [20]
    clock.now += 20
    assert [lock.seconds for lock in throttle.failed("alice", "10.0.0.1")] == [40]
    clock.now += 40
    assert [lock.seconds for lock in throttle.failed("alice", "10.0.0.1")] == [60], "capped at most"
    assert throttle.refused == 1


def test_a_success_clears_the_account_and_a_quiet_count_starts_again() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=2, base=10, most=60, clock=clock)
    throttle.failed("alice", "a")
    throttle.succeeded("alice")
    assert throttle.failed("alice", "a") == [], "the success cleared the first failure"
    clock.now += 61
    assert throttle.failed("alice", "a") == [], "a failure more than `most` ago is forgotten"


def test_a_client_address_trying_many_names_is_locked_after_more_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=2, base=10, most=60, clock=clock)
    locks = [lock for n in range(2 * CLIENT_FACTOR) for lock in throttle.failed(f"user{n}", "10.9.9.9")]
    assert [(lock.scope, lock.failures) for lock in locks] == [("client", 2 * CLIENT_FACTOR)]
    assert throttle.wait_seconds("someone-else", "10.9.9.9") == 10
    assert throttle.wait_seconds("someone-else", "10.9.9.8") == 0
