"""``mcc demo``: a managed Mosquitto, SQLite under the data folder, demo users, the simulator, the web."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from pathlib import Path

from sqlalchemy import select

from console import audit, auth
from console.broker import ManagedMosquitto, free_port, wait_for_port
from console.settings import Settings, load_settings
from console.simulator_gb import GbDevice
from console.store.database import Store
from console.store.tables import UserRow

log = logging.getLogger("mcc.demo")
DEMO_SITE = Path(__file__).resolve().parents[1] / "deploy" / "demo" / "site.yaml"
DEMO_USERS = (("admin", "admin", "管理员"), ("supervisor", "supervisor", "值班主管"),
              ("operator", "operator", "主班操作员"), ("wall", "display", "大屏"),
              ("guard1", "guard", "巡逻保安一"), ("guard2", "guard", "巡逻保安二"))
# Where the demo guards start their shift (their last checkpoint), so dispatch has someone to rank.
DEMO_GUARD_POSTS = (("guard1", "1号楼", "1F", "大堂"), ("guard2", "2号楼", "1F", "大堂"))


def demo_settings(data: Path, broker_url: str, port: int, gb_port: int | None = None) -> Settings:
    base = load_settings(DEMO_SITE)
    adapters = [entry.model_copy(update={"listen": f"127.0.0.1:{gb_port}"})
                if entry.type == "gb26875" and gb_port is not None else entry for entry in base.adapters]
    return base.model_copy(update={
        "mqtt": base.mqtt.model_copy(update={"url": broker_url}),
        "database": base.database.model_copy(update={"url": f"sqlite:///{data / 'mcc-demo.db'}"}),
        "http": base.http.model_copy(update={"port": port}),
        "adapters": adapters,
    })


def ensure_demo_users(store: Store, data: Path) -> dict[str, str]:
    """Create the demo logins once (random passwords, kept in data/demo-logins.json, mode 0600)."""
    path = data / "demo-logins.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    with store.write() as session, session.begin():
        existing = set(session.scalars(select(UserRow.username)))
        for name, role, label in DEMO_USERS:
            if name in existing and name in saved:
                continue
            password = secrets.token_urlsafe(9)
            if name in existing:  # a lost logins file: reset the demo user's password
                row = session.scalar(select(UserRow).where(UserRow.username == name))
                assert row is not None
                row.password_hash = auth.hash_password(password)
            else:
                auth.add_user(session, name, password, role, label)
            audit.record(session, "mcc-demo", "user.add", target=f"user:{name}", detail={"role": role}, client="demo")
            saved[name] = password
    path.write_text(json.dumps(saved, indent=2))
    os.chmod(path, 0o600)
    return saved


def sign_on_demo_guards(settings: Settings, store: Store) -> None:
    """The two demo guards are on shift at their posts, as if they had scanned a checkpoint."""
    from datetime import datetime, timezone

    from console.registry import DeviceRegistry
    from console.settings import evidence_folder
    from console.tasks.places import Place, location_code
    from console.tasks.service import TaskService
    from console.tasks.sop import load_site_sops

    service = TaskService(settings, load_site_sops(settings), DeviceRegistry.from_settings(settings),
                          evidence_folder(settings))
    now = datetime.now(timezone.utc)
    with store.write() as session, session.begin():
        for name, building, floor, zone in DEMO_GUARD_POSTS:
            service.shift(session, name, True, now, client="demo")
            service.scan(session, name, location_code(settings.site.id, Place(building, floor, zone)), now,
                         client="demo")


def kiosk_token(store: Store) -> str:
    with store.write() as session, session.begin():
        row = session.scalar(select(UserRow).where(UserRow.username == "wall"))
        assert row is not None
        return auth.issue_token(session, auth.User(row.id, row.username, row.role), hours=24 * 7, client="demo-kiosk")


def _announce_when_listening(port: int, banner: str) -> None:
    if wait_for_port("127.0.0.1", port, timeout=60):
        print(banner, flush=True)


def run_demo(data: Path, port: int = 8000, rate: float = 3.0) -> int:
    import uvicorn

    from console.app import create_app
    from console.simulator import run_simulator

    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    broker = ManagedMosquitto(data / "broker")
    broker.start()
    stop = threading.Event()
    simulator: threading.Thread | None = None
    try:
        gb_port = free_port()
        settings = demo_settings(data, broker.url, port, gb_port)
        store = Store(settings.database.url)
        store.migrate()
        logins = ensure_demo_users(store, data)
        sign_on_demo_guards(settings, store)
        token = kiosk_token(store)
        store.dispose()
        simulator = threading.Thread(
            target=run_simulator, args=(broker.url, settings.site.id),
            kwargs={"rate": rate, "stop": stop}, name="mcc-simulator", daemon=True,
        )
        simulator.start()
        gb_devices = [GbDevice("127.0.0.1", gb_port, d.address, stop, zone=settings.site.timezone)
                      for d in settings.devices.entries if d.adapter == "gb26875"]
        for device in gb_devices:
            device.start()
        web = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "MCC demo — 演示小区 (site 'demo')",
            f"  wall (大屏):      {web}/wall",
            f"  kiosk wall URL:   {web}/wall?token={token}",
            f"  operator console: {web}/console   (handling tasks: SOP steps, dispatch, close)",
            f"  guard phone page: {web}/guard     (log in as guard1 or guard2)",
            f"  login:            {web}/login",
            f"  API docs:         {web}/docs    health: {web}/api/health",
            f"  MQTT broker:      {broker.url}  (native topics mcc/v1/demo/<device>/event)",
            f"  GB/T 26875.3:     127.0.0.1:{gb_port}  (fire-alarm transmission devices, TCP)",
            f"  data folder:      {data}",
            "  demo logins (also in demo-logins.json):",
            *[f"    {name:<11} {password:<14} role {role}" for (name, role, _), password in
              ((u, logins[u[0]]) for u in DEMO_USERS)],
            "  Ctrl-C stops the console, the simulator and the broker.",
            "",
        ]
        # Print the banner once the web server answers, so every URL in it works when read.
        threading.Thread(target=_announce_when_listening, args=(port, "\n".join(lines)), daemon=True).start()
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                    ws="websockets-sansio")
    finally:
        stop.set()
        if simulator is not None:
            simulator.join(10)
        broker.stop()
    return 0
