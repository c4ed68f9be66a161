"""Hardening of the WebSocket and the users API: a heartbeat flood, a spoofed display, the sockets of
a disabled or demoted user, concurrent creates, user names and passwords, and /static caching."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from console.people.displays import FORGET_AFTER, DisplayBook
from tests.conftest import wait_until
from tests.support.websocket import receive_until, ws_connect

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


def heartbeat(display: str, **fields: Any) -> str:
    return json.dumps({"type": "display.heartbeat", "display": display, "name": "大堂大屏", "build": "x",
                       "sound": "blocked", "last_seq": 1, "lag_ms": 5, "alarms": 0, "page": "wall", **fields})


def updates(ws: ClientConnection, until: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The display.updated messages received until one satisfies ``until``."""
    seen = receive_until(ws, lambda m: m["type"] == "display.updated" and until(m["data"]), timeout)
    return [m["data"] for m in seen if m["type"] == "display.updated"]


def close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None
        except TimeoutError:
            break
    raise AssertionError("the socket stayed open")


def stays_open(ws: ClientConnection, seconds: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            return True
        except ConnectionClosed:
            return False
    return True


# -- the display book ---------------------------------------------------------------------------

def test_one_socket_speaks_for_one_display_and_at_most_every_two_seconds() -> None:
    book = DisplayBook()
    assert [m.data["state"] for m in book.heartbeat({"display": "w1", "sound": "on"}, "wall", "a", 1, T0)] == ["live"]
    for i in range(1000):  # other ids over the same socket: ignored
        assert book.heartbeat({"display": f"fake-{i}"}, "wall", "a", 1, T0 + timedelta(seconds=3 + i)) == []
    # Too soon after the last counted beat: dropped (the sound stays "on").
    assert book.heartbeat({"display": "w1", "sound": "off"}, "wall", "a", 1, T0 + timedelta(seconds=1)) == []
    assert [(v["display"], v["sound"]) for v in book.views(T0)] == [("w1", "on")]
    assert book.heartbeat({"display": "w1", "sound": "off"}, "wall", "a", 1, T0 + timedelta(seconds=3)) == []
    assert [v["sound"] for v in book.views(T0)] == ["off"]
    assert book.counts(T0) == {"live": 1, "stale": 0, "disconnected": 0}


def test_a_display_is_keyed_by_login_and_the_newest_socket_of_the_same_login_is_the_wall() -> None:
    book = DisplayBook()
    book.heartbeat({"display": "wall-1", "name": "Lobby"}, "wall", "10.0.0.5", 1, T0)
    # Another login with the same id: its own entry; the real wall's is untouched.
    book.heartbeat({"display": "wall-1", "name": "Fake"}, "intruder", "10.0.0.9", 2, T0)
    assert sorted((v["user"], v["name"], v["address"]) for v in book.views(T0)) == [
        ("intruder", "Fake", "10.0.0.9"), ("wall", "Lobby", "10.0.0.5")]
    assert [m.data["user"] for m in book.closed(2, T0)] == ["intruder"]
    assert book.counts(T0) == {"live": 1, "stale": 0, "disconnected": 1}
    # The same login reconnects before the old socket is seen to close: the newest socket is the wall.
    assert book.heartbeat({"display": "wall-1", "name": "Lobby"}, "wall", "10.0.0.6", 3, T0 + timedelta(seconds=5)) == []
    assert book.heartbeat({"display": "wall-1"}, "wall", "10.0.0.5", 1, T0 + timedelta(seconds=20)) == []  # superseded
    assert book.closed(1, T0 + timedelta(seconds=21)) == []  # the old socket closing changes nothing
    wall = [v for v in book.views(T0 + timedelta(seconds=21)) if v["user"] == "wall"]
    assert [(v["state"], v["address"]) for v in wall] == [("live", "10.0.0.6")]
    assert [m.data["state"] for m in book.closed(3, T0 + timedelta(seconds=22))] == ["disconnected"]


def test_the_book_is_capped_and_forgets_displays_gone_for_twelve_hours() -> None:
    book = DisplayBook(keep=3)
    for connection in (1, 2, 3):
        assert book.heartbeat({"display": f"w{connection}"}, "wall", "a", connection, T0)
    assert book.heartbeat({"display": "w4"}, "wall", "a", 4, T0) == []  # all three connected: no room
    assert len(book.views(T0)) == 3
    book.closed(1, T0 + timedelta(minutes=1))
    book.closed(2, T0 + timedelta(minutes=2))
    # A new display makes room by forgetting the one disconnected longest ago.
    assert book.heartbeat({"display": "w4"}, "wall", "a", 5, T0 + timedelta(minutes=3))
    assert sorted(v["display"] for v in book.views(T0)) == ["w2", "w3", "w4"]
    # A display disconnected for more than 12 hours is forgotten by the periodic check.
    book.check(T0 + timedelta(minutes=2) + FORGET_AFTER)
    assert "w2" in [v["display"] for v in book.views(T0)]
    book.check(T0 + timedelta(minutes=3) + FORGET_AFTER)
    assert sorted(v["display"] for v in book.views(T0)) == ["w3", "w4"]
    # One that came back before then is kept.
    book.closed(3, T0 + timedelta(minutes=4))
    book.heartbeat({"display": "w3"}, "wall", "a", 6, T0 + timedelta(minutes=5))
    book.check(T0 + timedelta(days=2))
    assert sorted(v["display"] for v in book.views(T0 + timedelta(days=2))) == ["w3", "w4"]


# -- the running console ------------------------------------------------------------------------

def test_a_heartbeat_flood_leaves_one_display_and_a_few_messages(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    for name, role in [("wall", "display"), ("op", "operator"), ("sup", "supervisor")]:
        console.add_user(name, role)
        console.login(name)
    with ws_connect(console, "sup") as watcher:
        receive_until(watcher, lambda m: m["type"] == "snapshot")
        seq0 = console.health()["websocket"]["seq"]
        # The console's own pages send no heartbeat: an operator's are ignored, however many.
        with ws_connect(console, "op") as op:
            receive_until(op, lambda m: m["type"] == "snapshot")
            for i in range(3000):
                op.send(heartbeat(f"op-{i}"))
        with ws_connect(console, "wall") as wall:
            receive_until(wall, lambda m: m["type"] == "snapshot")
            for i in range(3000):
                wall.send(heartbeat("wall-1" if i % 2 else f"fake-{i}", sound="on"))
            assert console.health()["status"] in ("ok", "degraded")  # answers during the flood
        # The socket closed after the flood, so every heartbeat before it has been handled.
        seen = updates(watcher, lambda d: d["state"] == "disconnected")
    assert [(d["display"], d["state"]) for d in seen] == [("fake-0", "live"), ("fake-0", "disconnected")]
    displays = console.api("GET", "/api/displays", "sup").json()
    assert [(d["display"], d["user"], d["state"]) for d in displays] == [("fake-0", "wall", "disconnected")]
    assert console.health()["displays"] == {"live": 0, "stale": 0, "disconnected": 1}
    assert console.health()["websocket"]["seq"] - seq0 < 10  # not thousands: the replay buffer keeps its history


def test_heartbeats_closer_than_two_seconds_are_dropped(sqlite_url: str, make_console: Any) -> None:
    console = make_console(sqlite_url)
    for name, role in [("wall", "display"), ("sup", "supervisor")]:
        console.add_user(name, role)
        console.login(name)
    with ws_connect(console, "wall") as wall:
        receive_until(wall, lambda m: m["type"] == "snapshot")
        wall.send(heartbeat("wall-1", sound="blocked"))
        wall.send(heartbeat("wall-1", sound="on"))  # too soon: dropped
        wait_until(lambda: console.api("GET", "/api/displays", "sup").json())
        time.sleep(0.3)
        assert [d["sound"] for d in console.api("GET", "/api/displays", "sup").json()] == ["blocked"]
        time.sleep(2.1)
        wall.send(heartbeat("wall-1", sound="on"))
        wait_until(lambda: [d["sound"] for d in console.api("GET", "/api/displays", "sup").json()] == ["on"])


def test_another_login_cannot_take_over_a_wall(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    for name, role in [("wall", "display"), ("wall2", "display"), ("op", "operator"), ("sup", "supervisor")]:
        console.add_user(name, role)
        console.login(name)
    with ws_connect(console, "wall") as wall:
        receive_until(wall, lambda m: m["type"] == "snapshot")
        wall.send(heartbeat("wall-1", name="Lobby wall", sound="on"))
        wait_until(lambda: console.api("GET", "/api/displays", "sup").json())
        before = console.api("GET", "/api/displays", "sup").json()
        for intruder in ("wall2", "op"):
            with ws_connect(console, intruder) as other:
                receive_until(other, lambda m: m["type"] == "snapshot")
                other.send(heartbeat("wall-1", name="Lobby wall", sound="off"))
                time.sleep(0.5)
        time.sleep(0.3)
        displays = console.api("GET", "/api/displays", "sup").json()
        real = [d for d in displays if d["user"] == "wall"]
        assert real == before and real[0]["state"] == "live" and real[0]["sound"] == "on"
        # The other display login got an entry of its own (now disconnected); the operator none.
        assert sorted((d["user"], d["state"]) for d in displays) == [("wall", "live"), ("wall2", "disconnected")]
        assert stays_open(wall, 0.2)


def test_disabling_demoting_or_a_new_password_closes_the_users_sockets(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    for name, role in [("root", "admin"), ("op", "operator"), ("sup", "supervisor"), ("wall", "display")]:
        console.add_user(name, role)
        console.login(name)
    with ws_connect(console, "op") as op, ws_connect(console, "sup") as sup, ws_connect(console, "wall") as wall, \
            ws_connect(console, "root") as root:
        for ws in (op, sup, wall, root):
            receive_until(ws, lambda m: m["type"] == "snapshot")
        # A display name is not a reason to close anything.
        assert console.api("PATCH", "/api/users/op", "root", json={"display_name": "Ops"}).status_code == 200
        assert stays_open(op, 0.5)
        assert console.api("PATCH", "/api/users/op", "root", json={"disabled": True}).status_code == 200
        assert close_code(op) == 1008
        assert console.api("PATCH", "/api/users/sup", "root", json={"role": "operator"}).status_code == 200
        assert close_code(sup) == 1008
        assert console.api("PATCH", "/api/users/wall", "root", json={"password": "another-horse-2"}).status_code == 200
        assert close_code(wall) == 1008
        # An admin changing their own password keeps this session's socket.
        assert console.api("PATCH", "/api/users/root", "root", json={"password": "another-horse-3"}).status_code == 200
        assert stays_open(root, 0.5)
    # A demoted user signs in again with the new role; the disabled one cannot open a socket.
    console.login("sup")
    with ws_connect(console, "sup") as sup:
        receive_until(sup, lambda m: m["type"] == "snapshot")
    with pytest.raises(Exception):
        with ws_connect(console, "op"):
            pass


def test_signing_out_closes_that_sessions_sockets_only(sqlite_url: str, make_console: Any) -> None:
    console = make_console(sqlite_url)
    console.add_user("op", "operator")
    console.login("op")
    other = httpx.post(f"{console.base}/api/auth/login", json={"username": "op", "password": "correct-horse-1"})
    other_token = other.json()["access_token"]
    with ws_connect(console, "op") as mine, \
            connect(f"ws://127.0.0.1:{console.port}/ws", additional_headers={"Authorization": f"Bearer {other_token}"},
                    open_timeout=5) as theirs:
        for ws in (mine, theirs):
            receive_until(ws, lambda m: m["type"] == "snapshot")
        assert console.api("POST", "/api/auth/logout", "op").status_code == 204
        assert close_code(mine) == 1008
        assert stays_open(theirs, 0.5)  # the same user's other session (another screen) goes on


def test_concurrent_creates_of_one_name_give_201_and_409(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    console.add_user("root", "admin")
    console.login("root")
    codes: Counter[int] = Counter()
    for i in range(5):
        out: list[int] = [0, 0]
        barrier = threading.Barrier(2)

        def create(slot: int, i: int = i) -> None:
            barrier.wait()
            out[slot] = console.api("POST", "/api/users", "root", json={
                "username": f"u{i}", "password": "correct-horse-9", "role": "operator"}).status_code

        threads = [threading.Thread(target=create, args=(slot,)) for slot in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(out) == [201, 409], out
        codes.update(out)
    assert codes == {201: 5, 409: 5}
    assert "Traceback" not in console.log_tail(400)


def test_user_names_and_passwords_are_checked(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    console.add_user("root", "admin")
    console.login("root")

    def create(username: str, password: str = "correct-horse-1") -> httpx.Response:
        return console.api("POST", "/api/users", "root",
                           json={"username": username, "password": password, "role": "operator"})

    for bad in ["a/b", "..", ".", "r\u043e\u043et", "a b", "x" * 65, "", "tab\tname", "名字"]:
        assert create(bad).status_code == 422, bad
    assert create("spaces", "        ").status_code == 422
    assert create("spaces", " \t  \u3000   ").status_code == 422
    assert create("Root").status_code == 409  # the same name as root but for case
    assert create("ROOT").status_code == 409
    created = create("guard.01-b_x@site")
    assert created.status_code == 201, created.text
    # Every accepted name can be reached by PATCH.
    changed = console.api("PATCH", "/api/users/" + quote("guard.01-b_x@site", safe=""), "root",
                          json={"display_name": "G"})
    assert changed.status_code == 200 and changed.json()["display_name"] == "G"
    assert console.api("PATCH", "/api/users/root", "root", json={"password": "         "}).status_code == 422
    names = [u["username"] for u in console.api("GET", "/api/users", "root").json()]
    assert sorted(names) == ["guard.01-b_x@site", "root"]
    # The command line refuses the same.
    result = console.cli("user", "add", "a/b", "--role", "operator", "--password-stdin", stdin="correct-horse-1\n")
    assert result.returncode != 0
    result = console.cli("user", "add", "ROOT", "--role", "operator", "--password-stdin", stdin="correct-horse-1\n")
    assert result.returncode != 0


def test_static_files_are_revalidated(sqlite_url: str, make_console: Any) -> None:
    console = make_console(sqlite_url)
    for path in ["/static/wall.js", "/static/api.js"]:
        response = httpx.get(console.base + path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers.get("etag")
        again = httpx.get(console.base + path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
