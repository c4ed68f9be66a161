"""Notifications through apprise to a local capture server (a stand-in for the group bots, which
cannot be reached from here): routing by role, rate limit with digest, drills suppressed, retry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from console.settings import NotifySection
from console.sinks.notify import Notifier
from console.tasks.outcome import Notice
from tests.conftest import wait_until
from tests.support.capture import CaptureServer


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.close()


def notice(n: int = 1, roles: tuple[str, ...] = ("supervisor",), users: tuple[str, ...] = (),
           drill: bool = False) -> Notice:
    return Notice(task_id=n, kind="deadline", title=f"[测试小区] 火警处置 #{n}", body="已超时 / overdue",
                  roles=roles, users=users, drill=drill)


def make(capture: CaptureServer, window: float = 60.0, **settings: object) -> tuple[Notifier, list[tuple]]:
    recorded: list[tuple] = []
    section = NotifySection.model_validate({
        "targets": [
            {"url": capture.url("sup"), "roles": ["supervisor"], "name": "主管群"},
            {"url": capture.url("pm"), "roles": ["project_manager"], "name": "项目经理"},
            {"url": capture.url("g7"), "users": ["guard7"], "name": "guard7 phone"},
        ], **settings})
    notifier = Notifier(section, record=lambda n, t, ok, err: recorded.append((n.task_id, t, ok, err)),
                        window=window)
    notifier.start()
    return notifier, recorded


def test_notices_reach_the_targets_of_their_roles_and_users(capture: CaptureServer) -> None:
    notifier, recorded = make(capture)
    try:
        notifier.submit([notice(1, roles=("supervisor", "project_manager")), notice(2, roles=(), users=("guard7",))])
        wait_until(lambda: len(recorded) == 3, message="three deliveries")
        assert [m["title"] for m in capture.messages("sup")] == ["[测试小区] 火警处置 #1"]
        assert [m["title"] for m in capture.messages("pm")] == ["[测试小区] 火警处置 #1"]
        assert [m["title"] for m in capture.messages("g7")] == ["[测试小区] 火警处置 #2"]
        assert capture.messages("sup")[0]["message"] == "已超时 / overdue"
        assert sorted(recorded) == [(1, "主管群", True, ""), (1, "项目经理", True, ""), (2, "guard7 phone", True, "")]
    finally:
        notifier.stop()


def test_beyond_the_rate_limit_notices_are_held_and_sent_as_one_digest(capture: CaptureServer) -> None:
    notifier, recorded = make(capture, window=1.5, max_per_minute=2)
    try:
        notifier.submit([notice(n) for n in range(1, 6)])
        wait_until(lambda: len(capture.messages("sup")) == 2, message="the first two at once")
        assert notifier.counters.held == 3
        wait_until(lambda: len(capture.messages("sup")) == 3, timeout=10, message="then one digest")
        digest = capture.messages("sup")[2]
        assert digest["title"].startswith("3 条通知")
        assert all(f"#{n}" in digest["message"] for n in (3, 4, 5))
        wait_until(lambda: len(recorded) == 5, message="every notice's delivery recorded")
    finally:
        notifier.stop()


def test_drills_are_not_notified_unless_the_site_wants_them(capture: CaptureServer) -> None:
    notifier, _ = make(capture)
    try:
        notifier.submit([notice(1, drill=True), notice(2)])
        wait_until(lambda: len(capture.messages("sup")) == 1)
        assert capture.messages("sup")[0]["title"].endswith("#2")
        assert notifier.counters.suppressed_drill == 1
    finally:
        notifier.stop()
    loud, _ = make(capture, drills=True)
    try:
        loud.submit([notice(3, drill=True)])
        wait_until(lambda: len(capture.messages("sup")) == 2)
    finally:
        loud.stop()


def test_a_failing_service_is_retried_and_a_lasting_failure_is_recorded(capture: CaptureServer) -> None:
    notifier, recorded = make(capture)
    try:
        capture.fail_next = 1
        notifier.submit([notice(1)])
        wait_until(lambda: recorded, timeout=10)
        assert recorded == [(1, "主管群", True, "")], "the second attempt got through"
        capture.fail_next = 10
        notifier.submit([notice(2)])
        wait_until(lambda: len(recorded) == 2, timeout=15)
        assert recorded[1][:3] == (2, "主管群", False) and recorded[1][3]
        assert notifier.counters.failed == 1
    finally:
        notifier.stop()


def test_a_target_that_never_answers_delays_no_other_target(capture: CaptureServer) -> None:
    import socket

    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        section = NotifySection.model_validate({"targets": [
            {"url": f"json://127.0.0.1:{silent.getsockname()[1]}/hung", "roles": ["supervisor"], "name": "hung"},
            {"url": capture.url("g7"), "users": ["guard7"], "name": "guard7 phone"},
        ]})
        notifier = Notifier(section)
        notifier.start()
        try:
            notifier.submit([notice(1), notice(2, roles=(), users=("guard7",))])
            started = time.monotonic()
            wait_until(lambda: capture.messages("g7"), timeout=10, message="the guard's dispatch gets through")
            assert time.monotonic() - started < 2, "not queued behind the hung target's retries"
        finally:
            notifier.stop(timeout=0.1)
    finally:
        silent.close()


def test_a_digest_is_split_into_messages_a_group_bot_accepts(capture: CaptureServer) -> None:
    notifier, recorded = make(capture, window=1.0, max_per_minute=1)
    try:
        notifier.submit([notice(n) for n in range(1, 26)])
        wait_until(lambda: len(recorded) == 25, timeout=20, message="every notice delivered in digests")
        digests = capture.messages("sup")[1:]
        assert len(digests) >= 3 and all(len(d["message"]) <= 3000 for d in digests)
        assert sum(int(d["title"].split(" ")[0]) for d in digests) == 24
    finally:
        notifier.stop()
