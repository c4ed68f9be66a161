"""Many sites in one deployment (issue 16): an operator of one site gets nothing of another from
any route, nor from the WebSocket; a group supervisor sees both. The test goes over every GET
route of the API; the routes still to be limited by site are listed in PENDING, each with why."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import DEVICES, ConsoleProcess, Publisher, native_event, wait_until
from tests.support.websocket import ws_connect

pytestmark = pytest.mark.slow

NORTH = {"id": "n-panel", "name": "北区3号楼火灾报警控制器", "role": "fire_panel", "site": "north",
         "building": "北区3号楼", "label": "北区3号楼 消防控制室"}
# The rest of the API: not yet limited by site (issue 16 goes on); each says what it shows.
PENDING = {
    "/api/cameras": "the cameras of the site file", "/api/commands": "commands sent", "/api/displays": "walls",
    "/api/drills": "drill plans", "/api/duty-log": "duty log", "/api/duty-log/current": "duty log",
    "/api/duty-log/findings": "duty log", "/api/floorplans": "floor plans", "/api/guard/rounds": "a guard's rounds",
    "/api/guards": "guards", "/api/handovers": "handovers", "/api/kpis/today": "today's figures",
    "/api/locations": "location codes", "/api/locations/labels": "labels", "/api/parking/occupancy": "car parks",
    "/api/patrol/checkpoints": "checkpoints", "/api/patrol/checkpoints/labels": "labels",
    "/api/patrol/report": "patrol report", "/api/patrol/rounds": "rounds", "/api/patrol/routes": "routes",
    "/api/patrol/schedules": "schedules", "/api/plates": "plate lists", "/api/reports/daily": "reports",
    "/api/reports/monthly": "reports", "/api/reports/shift": "reports", "/api/shelves": "shelved devices",
}
# Not a site's records: who the caller is, the procedures, the console's own health and pairing.
NOT_SITE_DATA = {"/api/auth/me", "/api/guard/me", "/api/health", "/api/health/live", "/api/health/ready",
                 "/api/sops", "/api/displays/pairing"}
ADMIN_ONLY = {"/api/users", "/api/quarantine", "/api/displays/pairings"}


@pytest.fixture
def two_sites(db_url: str, make_console: Any, publisher: Publisher) -> tuple[ConsoleProcess, dict[str, Any]]:
    console = make_console(db_url, sites=[{"id": "north", "name": "北区", "location": "测试市北区",
                                           "sop_limits": {"fire.alarm": {"ack": 600}}}],
                           devices={"entries": [*DEVICES, NORTH]})
    console.add_users({"sup": "supervisor", "admin": "admin"})
    for name, sites in (("op-demo", "demo"), ("op-north", "north")):
        result = console.cli("user", "add", name, "--role", "operator", "--sites", sites, "--password-stdin",
                             stdin="correct-horse-1\n")
        assert result.returncode == 0, result.stderr
        assert f"sites {sites}" in result.stdout
    for name in ("sup", "admin", "op-demo", "op-north"):
        console.login(name)
    publisher.publish(*native_event("fp-1", "s-1", "fire.alarm", point="1-003"))
    publisher.publish(*native_event("n-panel", "s-2", "fire.alarm", point="2-001", site="north"))
    alarms = wait_until(lambda: len(a := console.api("GET", "/api/alarms", "sup").json()) == 2 and a,
                        message="an alarm at each site")
    wait_until(lambda: len(console.api("GET", "/api/tasks", "sup").json()) == 2, message="a task each")
    by_site = {a["site"]: a for a in alarms}
    tasks = {t["site"]: t for t in console.api("GET", "/api/tasks", "sup").json()}
    return console, {"alarm": by_site["demo"]["id"], "task": tasks["demo"]["id"], "north_alarm": by_site["north"]["id"]}


def get_routes(console: ConsoleProcess) -> list[str]:
    spec = httpx.get(f"{console.base}/openapi.json", timeout=10).json()
    return sorted(path for path, item in spec["paths"].items() if "get" in item)


def test_an_operator_of_one_site_gets_nothing_of_another_from_any_route(
    two_sites: tuple[ConsoleProcess, dict[str, Any]]
) -> None:
    console, ids = two_sites
    routes = get_routes(console)
    assert set(PENDING) <= set(routes), "a pending route was renamed or removed: update PENDING"
    ids_for = {"alarm_id": ids["alarm"], "task_id": ids["task"], "device_id": "fp-1"}
    checked = []
    for path in routes:
        if path in PENDING or path in NOT_SITE_DATA or path in ADMIN_ONLY:
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        if any(name not in ids_for for name in names):
            continue  # a record only one site has (evidence, snapshots, handovers...): below
        concrete = re.sub(r"\{([^}]+)\}", lambda m: str(ids_for[m.group(1)]), path)
        response = console.api("GET", concrete, "op-north")
        if names:
            assert response.status_code == 404, f"{concrete}: {response.status_code} {response.text[:200]}"
        else:
            assert response.status_code == 200, f"{concrete}: {response.status_code}"
            assert "fp-1" not in response.text and '"demo"' not in response.text, \
                f"{concrete} shows the other site: {response.text[:300]}"
        checked.append(path)
    assert {"/api/alarms", "/api/events", "/api/tasks", "/api/devices", "/api/devices/summary", "/api/sites",
            "/api/alarms/{alarm_id}", "/api/tasks/{task_id}", "/api/devices/{device_id}"} <= set(checked)
    # Acting on the other site's records: refused as if they did not exist.
    assert console.api("POST", f"/api/alarms/{ids['alarm']}/ack", "op-north", json={}).status_code == 404
    assert console.api("POST", f"/api/tasks/{ids['task']}/comments", "op-north",
                       json={"text": "不是我的"}).status_code == 404
    # Their own site, in full.
    mine = console.api("GET", "/api/alarms", "op-north").json()
    assert [a["id"] for a in mine] == [ids["north_alarm"]]
    assert [s["id"] for s in console.api("GET", "/api/sites", "op-north").json()] == ["north"]
    assert console.api("POST", f"/api/alarms/{ids['north_alarm']}/ack", "op-north", json={}).status_code == 200


def test_a_group_supervisor_sees_every_site_and_the_streams_are_split_by_site(
    two_sites: tuple[ConsoleProcess, dict[str, Any]], publisher: Publisher
) -> None:
    console, ids = two_sites
    assert {a["site"] for a in console.api("GET", "/api/alarms", "sup").json()} == {"demo", "north"}
    assert [s["id"] for s in console.api("GET", "/api/sites", "sup").json()] == ["demo", "north"]
    assert console.api("GET", "/api/sites", "sup").json()[1]["name"] == "北区"
    with ws_connect(console, "op-north") as north, ws_connect(console, "sup") as group:
        snapshot = json.loads(north.recv(timeout=5))
        assert {a["site"] for a in snapshot["alarms"]} == {"north"}
        assert {t["site"] for t in snapshot["tasks"]} == {"north"}
        assert {a["site"] for a in json.loads(group.recv(timeout=5))["alarms"]} == {"demo", "north"}
        publisher.publish(*native_event("fp-1", "s-3", "fire.alarm", point="1-009"))
        publisher.publish(*native_event("n-panel", "s-4", "fire.alarm", point="2-009", site="north"))
        seen_group: list[dict[str, Any]] = []
        while {m["data"].get("point") for m in seen_group if m["type"] == "alarm.raised"} != {"1-009", "2-009"}:
            seen_group.append(json.loads(group.recv(timeout=10)))
        seen_north: list[dict[str, Any]] = []
        while not any(m["type"] == "alarm.raised" and m["data"]["point"] == "2-009" for m in seen_north):
            seen_north.append(json.loads(north.recv(timeout=10)))
        # Everything the group supervisor got after the north alarm has reached the north operator too:
        # nothing of demo did, on the way.
        assert all(m["data"].get("site") in (None, "north") for m in seen_north), seen_north
        assert not any(m["data"].get("device_id") == "fp-1" for m in seen_north)


def test_a_site_runs_its_tasks_by_its_own_limits(two_sites: tuple[ConsoleProcess, dict[str, Any]]) -> None:
    console, _ids = two_sites
    limits = {}
    for task in console.api("GET", "/api/tasks", "sup").json():
        detail = console.api("GET", f"/api/tasks/{task['id']}", "sup").json()
        ack = next(s for s in detail["steps"] if s["id"] == "ack")
        limits[task["site"]] = (datetime.fromisoformat(ack["due_at"])
                                - datetime.fromisoformat(detail["opened_at"])).total_seconds()
    assert limits == {"demo": 30, "north": 600}, "north's own 10 minutes; demo the procedure's 30 s"
