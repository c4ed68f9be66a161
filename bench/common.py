"""Shared bench plumbing: a throwaway database, a managed broker, the console as a subprocess,
a realistic ~100-device event mix, fast paho publishers, and small measuring helpers."""

from __future__ import annotations

import json
import math
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from console.demo.broker import ManagedMosquitto, free_port, terminate

REPO = Path(__file__).resolve().parents[1]
SITE = "bench"
PG_ADMIN = os.environ.get("MCC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-display-1"
READER = "bench-reader"  # an operator login that reads /api/health's figures
CST = timezone(timedelta(hours=8))

# -- the site: ~100 devices, and the mix of what they send ---------------------------------------

DOORS = [f"door-{i:02d}" for i in range(1, 41)]
LANES = [f"lane-{i:02d}" for i in range(1, 9)]
PANELS = ["fp-1", "fp-2"]
SENSORS = [f"sensor-{i:02d}" for i in range(1, 51)]
PANEL_POINTS = [f"1-{i:03d}" for i in range(1, 31)]

# (weight, kind, devices): mostly routine traffic; ~1 % raises alarms (fire.alarm, door_forced).
MIX: list[tuple[float, str, list[str]]] = [
    (0.42, "access.granted", DOORS),
    (0.02, "access.denied", DOORS),
    (0.14, "parking.entry", LANES),
    (0.12, "parking.exit", LANES),
    (0.29, "device.heartbeat", SENSORS),
    (0.005, "fire.alarm", PANELS),
    (0.005, "access.door_forced", DOORS),
]
_WEIGHTS = [w for w, _, _ in MIX]


def site_devices() -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    for d in DOORS:
        devices.append({"id": d, "name": f"门禁 {d}", "role": "door", "building": "1号楼", "label": f"1号楼 {d}"})
    for d in LANES:
        devices.append({"id": d, "name": f"车道 {d}", "role": "lane", "building": "地下车库", "label": f"车库 {d}"})
    for d in PANELS:
        points = {p: {"floor": f"{int(p[2:]) % 30 + 1}F", "label": f"{d} 感烟探测器 {p}"} for p in PANEL_POINTS}
        devices.append({"id": d, "name": f"火灾报警控制器 {d}", "role": "fire_panel", "label": d, "points": points})
    for d in SENSORS:
        devices.append({"id": d, "name": f"传感器 {d}", "role": "sensor", "label": f"园区 {d}"})
    devices.append({"id": "probe-1", "name": "测量探针", "role": "door", "label": "bench probe"})
    return devices


def make_event(rng: random.Random, source_id: str) -> tuple[str, bytes]:
    """One native event (topic, payload) drawn from the site mix."""
    _, kind, devices = rng.choices(MIX, _WEIGHTS)[0]
    device = rng.choice(devices)
    body: dict[str, Any] = {"id": source_id, "ts": datetime.now(CST).isoformat(timespec="milliseconds"),
                            "type": kind}
    if kind.startswith("access."):
        body["data"] = {"card": f"{rng.randrange(10**8):08d}", "direction": rng.choice(["in", "out"])}
    elif kind.startswith("parking."):
        body["data"] = {"plate": f"粤B{rng.randrange(10**5):05d}", "lane": device}
    elif kind == "fire.alarm":
        body["point"] = rng.choice(PANEL_POINTS)
        body["data"] = {"cause": "smoke"}
    return f"mcc/v1/{SITE}/{device}/event", json.dumps(body, ensure_ascii=False).encode()


# -- publishers ----------------------------------------------------------------------------------

def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def publisher_client(port: int, name: str, inflight: int = 1000, threaded: bool = True) -> mqtt.Client:
    """A connected paho client with TCP_NODELAY and a wide in-flight window. ``threaded``: paho's
    network thread runs it; otherwise the caller pumps ``loop()`` (half the CPU per message here)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:6]}", clean_session=True)
    client.on_socket_open = _nodelay
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=60)
    if threaded:
        client.loop_start()
        return client
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline:
            raise RuntimeError("publisher could not connect to the broker")
        client.loop(0.05)
    return client


# -- the store -----------------------------------------------------------------------------------

@contextmanager
def throwaway_database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database (dropped afterwards); yields its SQLAlchemy URL."""
    if kind == "sqlite":
        yield f"sqlite:///{(folder / 'mcc.db').resolve()}"
        return
    import psycopg

    name = f"mcc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_ADMIN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RowCounter:
    """Counts committed rows straight from the store (a reader of its own, beside the console)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def scalar(self, sql: str) -> Any:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def events(self) -> int:
        return int(self.scalar("SELECT count(*) FROM events"))

    def close(self) -> None:
        self.engine.dispose()


# -- the console as a subprocess ----------------------------------------------------------------

@dataclass
class Console:
    folder: Path
    broker: ManagedMosquitto
    db_url: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    reader_token: str | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.site_file.write_text(yaml.safe_dump(self.site_config(), allow_unicode=True))

    def site_config(self) -> dict[str, Any]:
        """The site file's contents: one site of ~100 devices (a subclass may watch other sites)."""
        return {
            "site": {"id": SITE, "name": "基准测试小区", "timezone": "Asia/Shanghai"},
            "mqtt": {"url": self.broker.url, "client_id": f"console-{uuid.uuid4().hex[:8]}"},
            "database": {"url": self.db_url},
            "http": {"host": "127.0.0.1", "port": self.port},
            "devices": {"entries": site_devices()},
        }

    @property
    def site_file(self) -> Path:
        return self.folder / "site.yaml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str = "") -> None:
        subprocess.run([sys.executable, "-m", "console", *args, "--config", str(self.site_file)],
                       input=stdin, capture_output=True, text=True, timeout=120, check=True, cwd=self.folder)

    def add_user(self, name: str, role: str) -> None:
        self.cli("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")

    def start(self, timeout: float = 60.0) -> None:
        with open(self.folder / "console.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console", "run", "--config", str(self.site_file)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"console exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/health/ready", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"console did not come up in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join((self.folder / "console.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        terminate(self.process, 15)

    def pids(self) -> list[int]:
        """The console's processes (one here; a center has one per instance), for their CPU time."""
        return [self.process.pid] if self.process is not None else []

    def health(self) -> dict[str, Any]:
        """/api/health's figures as staff see them (the ``reader`` login running_stack adds)."""
        if self.reader_token is None:
            self.reader_token = self.login(READER)
        request = urllib.request.Request(f"{self.base}/api/health",
                                         headers={"Authorization": f"Bearer {self.reader_token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def login(self, name: str) -> str:
        request = urllib.request.Request(
            f"{self.base}/api/auth/login", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"username": name, "password": PASSWORD}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["access_token"]  # type: ignore[no-any-return]


@contextmanager
def running_stack(db_kind: str, folder: Path, users: tuple[tuple[str, str], ...] = (),
                  make: Callable[[Path, ManagedMosquitto, str], Console] = Console) -> Iterator[Console]:
    """Broker + throwaway database + console (``make``: a Console, or a center of them), all stopped
    (and the database dropped) on the way out."""
    broker = ManagedMosquitto(folder / "broker")
    broker.start()
    try:
        with throwaway_database(db_kind, folder) as db_url:
            console = make(folder / "console", broker, db_url)
            try:
                for name, role in ((READER, "operator"), *users):
                    console.add_user(name, role)
                console.start()
                yield console
            finally:
                console.stop()
    finally:
        broker.stop()


# -- measuring helpers ---------------------------------------------------------------------------

def cpu_total(pids: list[int]) -> float:
    """The CPU seconds of several processes together (a center's instances)."""
    return sum(cpu_seconds(pid) for pid in pids)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def memory_kb(pid: int, field: str = "VmRSS") -> int | None:
    """A process's resident memory in kB from /proc/<pid>/status: ``VmRSS`` now, ``VmHWM`` its peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered) / 100)))  # round() would round 99.5 to 100
    return ordered[rank - 1]


def machine_facts() -> dict[str, Any]:
    import paho.mqtt
    import sqlalchemy

    mosquitto = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "paho": paho.mqtt.__version__,
        "mosquitto": mosquitto[0] if mosquitto else "?",
        "platform": platform.platform(),
        "load_before": os.getloadavg()[0],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
