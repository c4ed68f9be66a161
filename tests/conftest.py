"""Shared fixtures: a real Mosquitto per test, a fresh SQLite file or PostgreSQL database, and the
console running as a real subprocess (so tests can kill -9 it and start it again)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from console.demo.broker import ManagedMosquitto, free_port, terminate
from console.people import auth
from console.store import audit
from console.store.database import Store
from console.store.tables import UserRow
from console.tasks.places import Place
from console.tasks.tags import TagBook

REPO = Path(__file__).resolve().parents[1]
known_hash = functools.cache(auth.hash_password)  # see ConsoleProcess.add_users
PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEVICES = [
    {"id": "fp-1", "name": "1号楼火灾报警控制器", "name_en": "Building 1 fire panel", "role": "fire_panel",
     "building": "1号楼", "floor": "B1", "zone": "消防控制室", "label": "1号楼 B1 消防控制室",
     "points": {"1-003": {"floor": "3F", "zone": "东侧走廊", "label": "1号楼 3层 东侧走廊 感烟探测器"}}},
    {"id": "door-1", "name": "1号楼大堂门禁", "role": "door", "building": "1号楼", "floor": "1F",
     "label": "1号楼 1层 大堂门"},
    {"id": "lane-in", "name": "入口车道", "role": "lane", "building": "地下车库", "label": "地下车库 入口"},
]


# -- databases ----------------------------------------------------------------------------------

def _pg_admin_url() -> str:
    return os.environ.get("MCC_TEST_POSTGRES", PG_ADMIN_DEFAULT)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and a new PostgreSQL database (CI runs both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mcc.db'}"
        return
    yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mcc.db'}"


def _postgres_database() -> Iterator[str]:
    admin = _pg_admin_url()
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"mcc_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the store tests and is not reachable at {admin} ({exc}). "
            "Start it (scripts/test.sh does) or point MCC_TEST_POSTGRES at a server."
        )
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- broker -------------------------------------------------------------------------------------

@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ManagedMosquitto]:
    managed = ManagedMosquitto(tmp_path / "broker")
    managed.start()
    try:
        yield managed
    finally:
        managed.stop()


class Publisher:
    """A paho publisher with a persistent session that waits for every PUBACK."""

    def __init__(self, port: int, client_id: str | None = None):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                                  clean_session=False)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 1.0)
        self.acked = 0
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], retain: bool = False,
                wait: bool = True, qos: int = 1) -> mqtt.MQTTMessageInfo:
        if isinstance(payload, dict):
            payload = json.dumps(payload, ensure_ascii=False)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(10)
        return info

    def _on_publish(self, *_args: Any) -> None:
        self.acked += 1  # one per PUBACK, including messages queued while disconnected

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: ManagedMosquitto) -> Iterator[Publisher]:
    pub = Publisher(broker.port)
    yield pub
    pub.close()


def native_event(device: str, source_id: str, kind: str, point: str = "", site: str = "demo",
                 data: dict[str, Any] | None = None, ts: str | None = None) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"id": source_id, "ts": ts or "2026-11-26T10:00:00+08:00", "type": kind}
    if point:
        body["point"] = point
    if data:
        body["data"] = data
    return f"mcc/v1/{site}/{device}/event", body


# -- the console as a subprocess ----------------------------------------------------------------

def write_site(folder: Path, broker_url: str, db_url: str, port: int, **sections: Any) -> Path:
    site: dict[str, Any] = {
        "site": {"id": "demo", "name": "测试小区", "timezone": "Asia/Shanghai"},
        "mqtt": {"url": broker_url, "client_id": f"console-{uuid.uuid4().hex[:8]}",
                 "reconnect_min": 0.1, "reconnect_max": 1.0},
        "database": {"url": db_url},
        "http": {"host": "127.0.0.1", "port": port},
        "devices": {"entries": DEVICES},
    }
    for key, value in sections.items():
        site[key] = {**site.get(key, {}), **value} if isinstance(value, dict) else value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True))
    return path


@dataclass
class ConsoleProcess:
    site_file: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return str(yaml.safe_load(self.site_file.read_text())["database"]["url"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_connected: bool = True, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "console", "run", "--config", str(self.site_file)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.site_file.parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"console exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                # Ready: broker connected, store writable. Live: the process answers.
                probe = "/api/health/ready" if wait_connected else "/api/health/live"
                if httpx.get(f"{self.base}{probe}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"console did not come up in {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        terminate(self.process, 15)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console", *args, "--config", str(self.site_file)],
            input=stdin, capture_output=True, text=True, timeout=60, cwd=self.site_file.parent,
        )

    def tag(self, building: str, floor: str, zone: str, site: str = "demo") -> str:
        """The signed code on a zone's printed label, as the console's label sheet prints it (read
        with the site's key from the store the console created at start)."""
        store = Store(self.db_url)
        try:
            with store.read() as session:
                return TagBook({site}).code(session, site, place=Place(building, floor, zone))
        finally:
            store.dispose()

    def add_user_cli(self, name: str, role: str, password: str = "correct-horse-1") -> None:
        result = self.cli("user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
        assert result.returncode == 0, result.stderr

    def add_user(self, name: str, role: str, password: str = "correct-horse-1") -> None:
        """What ``mcc user add`` does, in-process (a CLI subprocess per user slows every test)."""
        self.add_users({name: role}, password)

    def add_users(self, users: dict[str, str], password: str = "correct-horse-1") -> None:
        """Add ``users`` (name → role) in one transaction. The argon2id hash of a password is made
        once per test run and reused (a real hash, checked by the console at login as any other):
        hashing costs about 0.15 s, and a run adds some thousand users."""
        store = Store(self.db_url)
        try:
            store.migrate()
            with mock.patch.object(auth, "hash_password", known_hash), store.write() as session, session.begin():
                for name, role in users.items():
                    auth.add_user(session, name, password, role)
                    audit.record(session, "test-setup", "user.add", target=f"user:{name}", detail={"role": role})
        finally:
            store.dispose()

    def login(self, name: str, password: str = "correct-horse-1") -> str:
        response = httpx.post(f"{self.base}/api/auth/login", json={"username": name, "password": password})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        self.tokens[name] = token
        return token

    def staff(self, users: dict[str, str], login: tuple[str, ...] | None = None) -> ConsoleProcess:
        """Add ``users`` (name → role) and sign in those in ``login`` (all of them when not given)."""
        self.add_users(users)
        for name in users if login is None else login:
            self.login(name)
        return self

    def stored(self, query: Any) -> list[Any]:
        """What the console's store holds for ``query`` (a look behind the API)."""
        store = Store(self.db_url)
        try:
            with store.read() as session:
                return list(session.scalars(query))
        finally:
            store.dispose()

    def rows(self, column: Any) -> int:
        """How many rows the store holds of ``column``'s table (a look behind the API)."""
        store = Store(self.db_url)
        try:
            with store.read() as session:
                return len(session.scalars(select(column)).all())
        finally:
            store.dispose()

    def api(self, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=10, **kwargs)

    def health(self) -> dict[str, Any]:
        """/api/health's figures, as signed-in staff see them (anonymous callers get only up/down)."""
        headers = {"Authorization": f"Bearer {self._health_token()}"}
        return httpx.get(f"{self.base}/api/health", headers=headers, timeout=5).json()  # type: ignore[no-any-return]

    def _health_token(self) -> str:
        """A login of a ``health-reader`` operator made behind the API: no audit row and no login
        request, so reading the figures changes nothing a test counts."""
        if "health-reader" not in self.tokens:
            store = Store(self.db_url)
            try:
                with store.write() as session, session.begin():
                    row = session.scalar(select(UserRow).where(UserRow.username == "health-reader"))
                    if row is not None:
                        user = auth.User(row.id, row.username, row.role)
                    else:
                        with mock.patch.object(auth, "hash_password", known_hash):
                            user = auth.add_user(session, "health-reader", "correct-horse-1", "operator")
                    self.tokens["health-reader"] = auth.issue_token(session, user, 24)
            finally:
                store.dispose()
        return self.tokens["health-reader"]


@pytest.fixture
def make_console(tmp_path: Path, broker: ManagedMosquitto) -> Iterator[Any]:
    """Factory: make_console(db_url, **site sections) -> a started ConsoleProcess."""
    started: list[ConsoleProcess] = []

    def make(db_url: str, start: bool = True, **sections: Any) -> ConsoleProcess:
        port = free_port()
        folder = tmp_path / f"console-{len(started)}"
        site = write_site(folder, broker.url, db_url, port, **sections)
        console = ConsoleProcess(site, port, folder / "console.log")
        started.append(console)
        if start:
            console.start()
        return console

    yield make
    for console in started:
        console.stop()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting: {message or predicate}")
        time.sleep(interval)
