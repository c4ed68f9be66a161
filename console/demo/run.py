"""``mcc demo``: a managed Mosquitto, SQLite under the data folder, demo users, the simulator, the
demo's cameras (console/demo/cameras.py), the web."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from console import resources
from console.demo.broker import ManagedMosquitto, free_port, wait_for_port
from console.demo.cameras import DemoCameras
from console.demo.gb_device import GbDevice
from console.demo.patrol_walker import seed_demo_rounds, walk_rounds
from console.people import auth
from console.settings import Settings, load_settings
from console.settings.cameras import CameraEntry
from console.store import audit
from console.store.database import Store
from console.store.tables import UserRow

log = logging.getLogger("mcc.demo")
DEMO_SITE = resources.DEMO_SITE
DEMO_USERS = (("admin", "admin", "管理员"), ("supervisor", "supervisor", "值班主管"),
              ("operator", "operator", "主班操作员"), ("wall", "display", "大屏"),
              ("guard1", "guard", "巡逻保安一"), ("guard2", "guard", "巡逻保安二"))
# Where the demo guards start their shift (their last checkpoint), so dispatch has someone to rank.
DEMO_GUARD_POSTS = (("guard1", "1号楼", "1F", "大堂"), ("guard2", "2号楼", "1F", "大堂"))


def demo_settings(data: Path, broker_url: str, port: int, gb_port: int | None = None,
                  cameras: DemoCameras | None = None) -> Settings:
    base = load_settings(DEMO_SITE)
    adapters = [entry.model_copy(update={"listen": f"127.0.0.1:{gb_port}"})
                if entry.type == "gb26875" and gb_port is not None else entry for entry in base.adapters]
    update: dict[str, Any] = {
        "mqtt": base.mqtt.model_copy(update={"url": broker_url}),
        "database": base.database.model_copy(update={"url": f"sqlite:///{data / 'mcc-demo.db'}"}),
        "http": base.http.model_copy(update={"port": port}),
        "adapters": adapters,
    }
    if cameras is not None:
        update["cameras"] = base.cameras.model_copy(update={"entries": demo_camera_entries(base, cameras)})
    return base.model_copy(update=update)


def demo_camera_devices(settings: Settings) -> dict[str, str]:
    """The demo's camera devices: {id: English name} (the caption OpenCV can draw)."""
    return {d.id: d.name_en or d.id for d in settings.devices.entries if d.role == "camera"}


def demo_camera_entries(settings: Settings, cameras: DemoCameras) -> list[CameraEntry]:
    """One camera per camera device, streaming from the demo; the devices that name it in their
    ``cameras`` are the ones whose alarms it shows."""
    return [CameraEntry(id=d.id, name=d.name, url=cameras.url(d.id),
                        location={"building": d.building, "floor": d.floor, "zone": d.zone})
            for d in settings.devices.entries if d.role == "camera"]


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

    from console.devices.registry import DeviceRegistry
    from console.settings import evidence_folder
    from console.tasks.places import Place
    from console.tasks.service import TaskService
    from console.tasks.sop import load_site_sops

    service = TaskService(settings, load_site_sops(settings), DeviceRegistry.from_settings(settings),
                          evidence_folder(settings))
    now = datetime.now(timezone.utc)
    tags = service.records.tags
    tags.ensure_keys(store, now)
    with store.write() as session, session.begin():
        for name, building, floor, zone in DEMO_GUARD_POSTS:
            service.guards.shift(session, name, True, now, client="demo")
            code = tags.code(session, settings.site.id, place=Place(building, floor, zone))
            service.guards.scan(session, name, code, now, client="demo")


def _announce_when_listening(port: int, banner: str) -> None:
    if wait_for_port("127.0.0.1", port, timeout=60):
        print(banner, flush=True)


def run_demo(data: Path, port: int = 8000, rate: float = 3.0) -> int:
    import uvicorn

    from console.api.ws_protocol import server_options
    from console.app import create_app
    from console.demo.simulator import run_simulator

    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    broker = ManagedMosquitto(data / "broker")
    broker.start()
    stop = threading.Event()
    simulator: threading.Thread | None = None
    cameras: DemoCameras | None = None
    try:
        gb_port = free_port()
        cameras = DemoCameras(demo_camera_devices(load_settings(DEMO_SITE))).start()
        settings = demo_settings(data, broker.url, port, gb_port, cameras)
        store = Store(settings.database.url)
        store.migrate()
        logins = ensure_demo_users(store, data)
        sign_on_demo_guards(settings, store)
        seed_demo_rounds(settings, store)
        ensure_demo_floorplans(settings, store)
        store.dispose()
        simulator = threading.Thread(
            target=run_simulator, args=(broker.url, settings.site.id),
            kwargs={"rate": rate, "stop": stop}, name="mcc-simulator", daemon=True,
        )
        simulator.start()
        threading.Thread(target=walk_rounds, args=(broker.url, settings, stop), name="mcc-demo-wand",
                         daemon=True).start()
        gb_devices = [GbDevice("127.0.0.1", gb_port, d.address, stop, zone=settings.site.timezone)
                      for d in settings.devices.entries if d.adapter == "gb26875"]
        for device in gb_devices:
            device.start()
        web = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "MCC demo — 演示小区 (site 'demo')",
            f"  wall (大屏):      {web}/wall",
            f"  kiosk wall:       {web}/pair?name=demo-wall  (shows a code; approve it as admin in {web}/admin#displays)",
            f"  operator console: {web}/console   (handling tasks: SOP steps, dispatch, close)",
            f"  guard phone page: {web}/guard     (log in as guard1 or guard2; guard1's wand walks a round every 30 min)",
            f"  login:            {web}/login",
            f"  API docs:         {web}/docs    health: {web}/api/health",
            f"  MQTT broker:      {broker.url}  (native topics mcc/v1/demo/<device>/event)",
            f"  GB/T 26875.3:     127.0.0.1:{gb_port}  (fire-alarm transmission devices, TCP)",
            f"  cameras:          {', '.join(cameras.url(c) for c in cameras.cameras)}",
            f"  admin page:       {web}/admin     (users, devices, floor plans, cameras…)",
            f"  data folder:      {data}",
            "  demo logins (also in demo-logins.json):",
            *[f"    {name:<11} {password:<14} role {role}" for (name, role, _), password in
              ((u, logins[u[0]]) for u in DEMO_USERS)],
            "  Ctrl-C stops the console, the simulator and the broker.",
            "",
        ]
        # Print the banner once the web server answers, so every URL in it works when read.
        threading.Thread(target=_announce_when_listening, args=(port, "\n".join(lines)), daemon=True).start()
        uvicorn.run(create_app(settings, children=[broker]), host="127.0.0.1", port=port, log_level="warning",
                    **server_options(settings.http.ws_compression))
    finally:
        stop.set()
        if simulator is not None:
            simulator.join(10)
        if cameras is not None:
            cameras.stop()
        broker.stop()
    return 0


# -- floor plans ---------------------------------------------------------------------------------

ZONES_EN = {
    "消防控制室": "Fire control room", "东侧走廊": "East corridor", "西侧走廊": "West corridor",
    "电梯前室": "Lift lobby", "电梯机房": "Lift machine room", "大堂": "Lobby", "地下车库A区": "Garage zone A",
    "地下车库B区": "Garage zone B", "配电房": "Switch room", "消防水泵房": "Fire pump room", "弱电间": "ELV room",
    "楼梯间": "Stairwell", "发电机房": "Generator room", "垃圾房": "Refuse room", "车库电梯厅": "Garage lift lobby",
    "屋面出口": "Roof exit", "车库入口": "Garage entry", "车库出口": "Garage exit", "车库出入口": "Garage gate",
    "员工食堂": "Staff canteen", "2号门入口": "Gate 2 entry",
}
FILLERS = ("Stair A", "Lift core", "Plant room", "Store", "Office", "Stair B", "Shaft", "Utility")
PLAN_SIZE = (1600, 1000)


def _ascii(text: str, fallback: str) -> str:
    import re

    text = re.sub(r"(\d+)号楼", r"Building \1", text).replace("地下车库", "Garage").replace("屋顶层", "Roof")
    return text if text.isascii() else fallback


def _demo_floors(registry: Any) -> dict[tuple[str, str, str], list[tuple[str, str, str]]]:
    """(site, building, floor) → [(device_id, point, zone)] of every registered device and point."""
    floors: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {}
    for (site, device_id), device in registry:
        for point in ["", *device.points]:
            location = registry.location(site, device_id, point)
            if location.building and location.floor:
                floors.setdefault((site, location.building, location.floor), []).append(
                    (device_id, point, location.zone))
    return floors


def draw_plan(building: str, floor: str, zones: list[str]) -> tuple[bytes, dict[str, tuple[float, float, float, float]]]:
    """A simple plan of one floor (dark, for the wall): rooms along a corridor, labelled in ASCII.
    Returns the PNG and each zone's room as fractions (left, top, right, bottom)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    width, height = PLAN_SIZE
    image = Image.new("RGB", PLAN_SIZE, (14, 20, 30))
    draw = ImageDraw.Draw(image)
    title_font, font, small = (ImageFont.load_default(size=s) for s in (34, 24, 18))
    wall, room_fill, corridor_fill, text, dim = (120, 140, 165), (24, 33, 48), (30, 42, 60), (200, 212, 228), \
        (110, 125, 145)
    left, top, right, bottom = 60, 110, width - 60, height - 60
    corridor_top, corridor_bottom = 470, 590
    draw.rectangle((left, top, right, bottom), fill=room_fill, outline=wall, width=6)
    draw.rectangle((left, corridor_top, right, corridor_bottom), fill=corridor_fill, outline=wall, width=3)
    title = f"{_ascii(building, 'Building')} - {floor}"
    draw.text((left, 40), title, font=title_font, fill=text)
    draw.text((right, 52), "N ^", font=font, fill=dim, anchor="ra")
    rooms: dict[str, tuple[float, float, float, float]] = {}
    corridor_zones = [z for z in zones if "走廊" in z]
    room_zones = [z for z in zones if z not in corridor_zones]
    columns = max(4, (len(room_zones) + 1) // 2)
    slots = [(row, col) for row in (0, 1) for col in range(columns)]
    col_width = (right - left) / columns
    fillers = iter(FILLERS)
    for index, (row, col) in enumerate(slots):
        x0, x1 = left + col * col_width, left + (col + 1) * col_width
        y0, y1 = (top, corridor_top) if row == 0 else (corridor_bottom, bottom)
        draw.rectangle((x0, y0, x1, y1), outline=wall, width=3)
        door_x = (x0 + x1) / 2
        door_y = y1 if row == 0 else y0
        draw.line((door_x - 30, door_y, door_x + 30, door_y), fill=corridor_fill, width=6)  # a door gap
        zone = room_zones[index] if index < len(room_zones) else None
        label = _ascii(ZONES_EN.get(zone, zone), f"Zone {index + 1}") if zone else next(fillers, "Room")
        draw.text(((x0 + x1) / 2, y0 + 28), label, font=font if zone else small,
                  fill=text if zone else dim, anchor="mt")
        if zone:
            rooms[zone] = (x0 / width, y0 / height, x1 / width, y1 / height)
    draw.text((left + 20, (corridor_top + corridor_bottom) / 2), "Corridor", font=small, fill=dim, anchor="lm")
    for index, zone in enumerate(corridor_zones):
        half = (right - left) / max(1, len(corridor_zones))
        east = "东" in zone
        x0 = left + half * index if not east or len(corridor_zones) > 1 else (left + right) / 2
        x1 = x0 + half if len(corridor_zones) > 1 else right if east else (left + right) / 2
        label = _ascii(ZONES_EN.get(zone, zone), "Corridor")
        draw.text(((x0 + x1) / 2, corridor_top + 14), label, font=small, fill=text, anchor="mt")
        rooms[zone] = (x0 / width, corridor_top / height, x1 / width, corridor_bottom / height)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue(), rooms


def ensure_demo_floorplans(settings: Settings, store: Store) -> int:
    """Draw a plan for every building floor of the demo registry that has none yet, and place its
    devices (and fire-panel points) in their zones' rooms. Returns the number of plans drawn."""
    from datetime import datetime, timezone

    from console.devices import floorplans
    from console.devices.admin import load_registered_devices
    from console.devices.registry import DeviceRegistry
    from console.store.tables import DevicePositionRow, FloorPlanRow

    registry = DeviceRegistry.from_settings(settings)
    load_registered_devices(store, registry)
    now = datetime.now(timezone.utc)
    drawn = 0
    with store.write() as session, session.begin():
        existing = {(r.site, r.building, r.floor) for r in session.scalars(select(FloorPlanRow))}
        for (site, building, floor), entries in sorted(_demo_floors(registry).items()):
            if (site, building, floor) in existing:
                continue
            zones = list(dict.fromkeys(zone for _d, _p, zone in entries))
            content, rooms = draw_plan(building, floor, zones)
            plan = floorplans.save_plan(session, floorplans.check_image(content), site, building, floor,
                                        f"{building} {floor}", "mcc-demo", now, client="demo")
            placed_in: dict[str, int] = {}
            for device_id, point, zone in entries:
                x0, y0, x1, y1 = rooms.get(zone, (0.1, 0.1, 0.9, 0.9))
                n = placed_in.get(zone, 0)
                placed_in[zone] = n + 1
                # Spread the devices of one room over a small grid around its middle.
                x = x0 + (x1 - x0) * (0.3 + 0.2 * (n % 3))
                y = y0 + (y1 - y0) * (0.55 + 0.2 * ((n // 3) % 2) - (0.1 if y1 - y0 < 0.15 else 0))
                session.add(DevicePositionRow(floorplan_id=plan.id, device_id=device_id, point=point,
                                              x=round(min(max(x, 0.0), 1.0), 4), y=round(min(max(y, 0.0), 1.0), 4),
                                              placed_by="mcc-demo", placed_at=now))
            drawn += 1
    return drawn
