"""Failed logins against a real console: a locked account gets 429 with Retry-After before its
password is checked (even the right one), the lockout is in the audit chain, and it expires."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select

from console.store.tables import AuditRow


def test_failed_logins_lock_the_account_with_429_and_retry_after_and_the_lockout_is_audited(
    make_console: Any, sqlite_url: str,
) -> None:
    console = make_console(sqlite_url, http={"login_free_failures": 3, "login_lockout_seconds": 2})
    console.add_users({"alice": "operator", "bob": "operator"})
    url = f"{console.base}/api/auth/login"
    wrong = [httpx.post(url, json={"username": "alice", "password": "wrong-horse-1"}) for _ in range(3)]
    assert [r.status_code for r in wrong] == [401, 401, 401]
    locked = httpx.post(url, json={"username": "alice", "password": "correct-horse-1"})
    assert locked.status_code == 429, "even the right password waits out the lockout"
    assert locked.headers["Retry-After"] == "2" and locked.json()["code"] == "auth.locked"
    assert httpx.post(url, json={"username": "bob", "password": "correct-horse-1"}).status_code == 200, \
        "another account from the same address is not locked by three failures"
    (row,) = console.stored(select(AuditRow).where(AuditRow.action == "login.locked"))
    assert row.actor == "alice" and row.target == "account:alice"
    time.sleep(2.1)
    assert httpx.post(url, json={"username": "alice", "password": "correct-horse-1"}).status_code == 200
    # The next failure after a success starts counting again.
    assert httpx.post(url, json={"username": "alice", "password": "wrong-horse-1"}).status_code == 401
    assert console.cli("audit", "verify").returncode == 0
