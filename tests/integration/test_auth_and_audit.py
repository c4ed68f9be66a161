"""Roles on every endpoint and on the WebSocket; the audit chain and ``mcc audit verify``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until


@pytest.fixture
def console(make_console: Any, db_url: str) -> ConsoleProcess:
    # The duty log off: the entries it opens every two hours would add rows to the chain counted here.
    console = make_console(db_url, duty_log={"enabled": False})
    console.add_user_cli("op", "operator")  # once through the real command
    for name, role in (("wall", "display"), ("boss", "supervisor"), ("root", "admin")):
        console.add_user(name, role)
    for name in ("op", "wall", "boss", "root"):
        console.login(name)
    return console


def raise_alarm(console: ConsoleProcess, publisher: Publisher, source_id: str = "f-1") -> dict[str, Any]:
    publisher.publish(*native_event("fp-1", source_id, "fire.alarm", point="1-003"))
    return wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json())[0]  # type: ignore[no-any-return]


def test_without_a_token_the_api_answers_401_and_the_websocket_is_refused(console: ConsoleProcess) -> None:
    for method, path in (("GET", "/api/alarms"), ("GET", "/api/events"), ("POST", "/api/alarms/1/ack"),
                         ("GET", "/api/devices"), ("GET", "/api/quarantine"), ("GET", "/api/tasks/1")):
        assert httpx.request(method, console.base + path).status_code == 401, path
    bad = {"Authorization": "Bearer not-a-real-token"}
    assert httpx.get(console.base + "/api/alarms", headers=bad).status_code == 401
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{console.port}/ws", open_timeout=5)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{console.port}/ws", additional_headers={"Authorization": "Bearer forged"},
                open_timeout=5)
    # A token in the URL (which logs and browser histories keep) is not taken, even a good one.
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{console.port}/ws?token={console.tokens['wall']}", open_timeout=5)
    assert refused.value.response.status_code == 403
    assert httpx.get(f"{console.base}/wall?token={console.tokens['wall']}").status_code == 303
    # Health needs no login but tells a stranger only up or down; the wall page sends them to the login page.
    assert httpx.get(console.base + "/api/health").json() == {"status": "up"}
    assert httpx.get(console.base + "/api/health/ready").json() == {"status": "ready"}
    page = httpx.get(console.base + "/wall")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/wall"


def test_display_can_watch_but_not_acknowledge_and_operator_can(
    console: ConsoleProcess, publisher: Publisher
) -> None:
    alarm = raise_alarm(console, publisher)
    assert console.api("GET", "/api/alarms?active=true", "wall").status_code == 200
    with connect(f"ws://127.0.0.1:{console.port}/ws", open_timeout=5,
                 additional_headers={"Authorization": f"Bearer {console.tokens['wall']}"}) as ws:
        assert '"type":"hello"' in ws.recv(timeout=5)
        assert '"type":"snapshot"' in ws.recv(timeout=5)
    denied = console.api("POST", f"/api/alarms/{alarm['id']}/ack", "wall", json={"comment": "x"})
    assert denied.status_code == 403
    assert console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()["acknowledged"] is False
    assert console.api("GET", "/api/quarantine", "op").status_code == 403
    assert console.api("GET", "/api/quarantine", "root").status_code == 200

    ok = console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已通知保安"})
    assert ok.status_code == 200 and ok.json()["acked_by"] == "op"
    # A second acknowledgement (a retried click) changes nothing.
    again = console.api("POST", f"/api/alarms/{alarm['id']}/ack", "boss")
    assert again.status_code == 200 and again.json()["acked_by"] == "op"


def test_login_sets_an_httponly_cookie_that_opens_the_wall(console: ConsoleProcess) -> None:
    response = httpx.post(console.base + "/api/auth/login", json={"username": "wall", "password": "correct-horse-1"})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    with httpx.Client(base_url=console.base, cookies=response.cookies) as client:
        page = client.get("/wall")
        assert page.status_code == 200 and 'name="mcc-timezone" content="Asia/Shanghai"' in page.text
        assert client.get("/api/alarms").status_code == 200
    wrong = httpx.post(console.base + "/api/auth/login", json={"username": "wall", "password": "nope-nope"})
    assert wrong.status_code == 401
    unknown = httpx.post(console.base + "/api/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert unknown.status_code == 401


def _edit_audit_row(db_url: str, sql: str) -> None:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql)
    else:
        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)


def test_audit_chain_records_actions_and_verify_detects_an_edited_row(
    console: ConsoleProcess, publisher: Publisher, db_url: str
) -> None:
    alarm = raise_alarm(console, publisher)
    console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "现场确认误报"})
    verified = console.cli("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    # 4 users added, 4 logins, 1 acknowledgement.
    assert "audit chain OK: 9 rows" in verified.stdout

    _edit_audit_row(db_url, "UPDATE audit_log SET actor = 'someone-else' WHERE action = 'alarm.ack'")
    tampered = console.cli("audit", "verify")
    assert tampered.returncode == 1
    assert "was edited" in tampered.stderr and "BROKEN" in tampered.stderr


def test_audit_verify_detects_a_deleted_row(console: ConsoleProcess, db_url: str) -> None:
    assert console.cli("audit", "verify").returncode == 0
    _edit_audit_row(db_url, "DELETE FROM audit_log WHERE id = 3")
    result = console.cli("audit", "verify")
    assert result.returncode == 1 and "audit row 4: does not follow" in result.stderr


def test_audit_verify_detects_reordered_rows(console: ConsoleProcess, db_url: str) -> None:
    # Swap the contents (with their hashes) of rows 2 and 3, as if history were re-sequenced.
    for statement in (
        "UPDATE audit_log SET id = -2 WHERE id = 2",
        "UPDATE audit_log SET id = 2 WHERE id = 3",
        "UPDATE audit_log SET id = 3 WHERE id = -2",
    ):
        _edit_audit_row(db_url, statement)
    result = console.cli("audit", "verify")
    assert result.returncode == 1 and "audit row 2" in result.stderr


def test_the_websocket_refuses_another_sites_page_riding_on_the_users_cookie(
    make_console: Any, sqlite_url: str,
) -> None:
    console = make_console(sqlite_url, http={"allowed_origins": ["https://wall.example.com"]})
    console.staff({"wall": "display"}, login=())
    login = httpx.post(console.base + "/api/auth/login", json={"username": "wall", "password": "correct-horse-1"})
    cookie = {"Cookie": f"mcc_session={login.cookies['mcc_session']}"}
    url = f"ws://127.0.0.1:{console.port}/ws"
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{console.port}.evil.example"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers={**cookie, "Origin": origin}, open_timeout=5)
        assert refused.value.response.status_code == 403, origin
    for origin in (f"http://127.0.0.1:{console.port}", f"https://127.0.0.1:{console.port}",
                   "https://wall.example.com"):
        with connect(url, additional_headers={**cookie, "Origin": origin}, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello", origin


def test_the_session_cookie_is_secure_when_the_login_came_over_https_through_a_trusted_proxy(
    make_console: Any, sqlite_url: str,
) -> None:
    console = make_console(sqlite_url)
    console.add_users({"op": "operator"})
    body = {"username": "op", "password": "correct-horse-1"}
    plain = httpx.post(console.base + "/api/auth/login", json=body).headers["set-cookie"]
    proxied = httpx.post(console.base + "/api/auth/login", json=body,
                         headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" not in plain.lower() and "secure" in proxied.lower()
