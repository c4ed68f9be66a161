"""Issue 5's API: users, device import and page, event search, SOPs, the day's figures, roles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import select

from console.store.database import Store
from console.store.tables import AuditRow, SessionRow
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.integration.test_floorplans_api import audit_actions, ok


def setup_users(console: ConsoleProcess, *users: tuple[str, str]) -> None:
    for name, role in users:
        console.add_user(name, role)
        console.login(name)


def sessions_of(console: ConsoleProcess) -> int:
    return console.rows(SessionRow.token_hash)


def test_users_are_created_changed_and_disabled_by_an_admin(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    setup_users(console, ("root", "admin"), ("op", "operator"), ("wall", "display"))
    created = console.api("POST", "/api/users", "root", json={"username": "sup1", "password": "long-enough-1",
                                                               "role": "supervisor", "display_name": "值班主管"})
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "sup1" and created.json()["disabled"] is False
    assert console.api("POST", "/api/users", "root", json={"username": "sup1", "password": "long-enough-1",
                                                            "role": "operator"}).status_code == 409
    short = console.api("POST", "/api/users", "root", json={"username": "x1", "password": "short", "role": "operator"})
    assert short.status_code == 422 and "8 characters" in short.json()["detail"]
    bad_role = console.api("POST", "/api/users", "root", json={"username": "x2", "password": "long-enough-1",
                                                                "role": "boss"})
    assert bad_role.status_code == 422 and "unknown role" in bad_role.json()["detail"]
    users = ok(console.api("GET", "/api/users", "root"))
    assert [(u["username"], u["role"]) for u in users] == [
        ("op", "operator"), ("root", "admin"), ("sup1", "supervisor"), ("wall", "display")]
    assert set(users[0]) == {"username", "role", "display_name", "disabled", "created_at", "sites"}

    # Operators, displays cannot manage users.
    for user in ("op", "wall"):
        assert console.api("GET", "/api/users", user).status_code == 403
        assert console.api("PATCH", "/api/users/op", user, json={"role": "admin"}).status_code == 403

    changed = ok(console.api("PATCH", "/api/users/sup1", "root", json={"role": "operator", "display_name": "新名"}))
    assert (changed["role"], changed["display_name"]) == ("operator", "新名")
    console.login("sup1", "long-enough-1")
    console.login("op")
    assert sessions_of(console) >= 4
    # Disabling ends the user's sessions: the token stops working at once.
    disabled = ok(console.api("PATCH", "/api/users/op", "root", json={"disabled": True}))
    assert disabled["disabled"] is True
    assert console.api("GET", "/api/auth/me", "op").status_code == 401
    assert httpx.post(f"{console.base}/api/auth/login", json={"username": "op", "password": "correct-horse-1"}
                      ).status_code == 401
    # A new password ends the sessions too.
    ok(console.api("PATCH", "/api/users/sup1", "root", json={"password": "another-pass-2"}))
    assert console.api("GET", "/api/auth/me", "sup1").status_code == 401
    console.login("sup1", "another-pass-2")
    assert ok(console.api("PATCH", "/api/users/op", "root", json={"disabled": False}))["disabled"] is False

    # The last enabled admin cannot be disabled or demoted, and nobody demotes themselves.
    self_demote = console.api("PATCH", "/api/users/root", "root", json={"role": "operator"})
    assert self_demote.status_code == 409 and "yourself" in self_demote.json()["detail"]
    ok(console.api("POST", "/api/users", "root", json={"username": "root2", "password": "long-enough-1",
                                                        "role": "admin"}), 201)
    console.login("root2", "long-enough-1")
    ok(console.api("PATCH", "/api/users/root", "root2", json={"disabled": True}))
    last = console.api("PATCH", "/api/users/root2", "root2", json={"disabled": True})
    assert last.status_code == 409
    ok(console.api("PATCH", "/api/users/root", "root2", json={"disabled": False}))
    console.login("root")
    ok(console.api("PATCH", "/api/users/root2", "root", json={"role": "supervisor"}))
    lone = console.api("PATCH", "/api/users/root", "root2", json={"role": "operator"})
    assert lone.status_code == 403  # root2 is no longer an admin
    assert console.api("PATCH", "/api/users/nobody", "root", json={"disabled": True}).status_code == 404

    actions = audit_actions(console)
    assert actions.count("user.change") == 7 and "user.add" in actions
    verify = console.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


CSV_GOOD = """id,point,site,name,name_en,role,kind,adapter,address,building,floor,zone,label,x,y,cameras,heartbeat_seconds
door-9,,,9号门禁,Door 9,door,,esp-rfid,esp-door-9,1号楼,2F,东侧,1号楼 2层 东侧门,0.2,0.3,,
smoke-9,,,9号烟感,,sensor,smoke_detector,zigbee2mqtt,smoke-nine,1号楼,2F,西侧,1号楼 2层 西侧 烟感,,,,
fp-1,,,1号楼火灾报警控制器,Building 1 fire panel,fire_panel,,,,1号楼,B1,消防控制室,1号楼 B1 消防控制室,,,,
fp-1,1-003,,,,,,,,,3F,东侧走廊,1号楼 3层 东侧走廊 感烟探测器,,,,
"""
CSV_BAD = """id,point,name,role,building,floor,x
door-9,,9号门禁,door,1号楼,2F,0.2
door-10,,10号门禁,elevator,1号楼,2F,
door-11,,11号门禁,door,1号楼,2F,7
,,nameless,door,,,
"""


def test_device_import_checks_the_whole_file_before_writing(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    setup_users(console, ("root", "admin"), ("op", "operator"))
    csv_headers = {"Content-Type": "text/csv"}
    bad = ok(console.api("POST", "/api/devices/import?dry_run=true", "root", content=CSV_BAD.encode(),
                         headers=csv_headers))
    assert [e["line"] for e in bad["errors"]] == [3, 4, 5]
    assert "role" in bad["errors"][0]["message"] and "x" in bad["errors"][1]["message"]
    assert "id is empty" in bad["errors"][2]["message"]
    refused = console.api("POST", "/api/devices/import?dry_run=false", "root", content=CSV_BAD.encode(),
                          headers=csv_headers)
    assert refused.status_code == 422 and [e["line"] for e in refused.json()["errors"]] == [3, 4, 5]
    assert "nothing was imported" in refused.json()["detail"]
    assert console.api("GET", "/api/devices/door-9", "op").status_code == 404, "nothing applied"

    dry = ok(console.api("POST", "/api/devices/import?dry_run=true", "root", content=CSV_GOOD.encode(),
                         headers=csv_headers))
    assert (dry["added"], dry["updated"], dry["unchanged"], dry["errors"]) == (["door-9", "smoke-9"], [], ["fp-1"], [])
    assert console.api("GET", "/api/devices/door-9", "op").status_code == 404, "a dry run writes nothing"
    done = ok(console.api("POST", "/api/devices/import?dry_run=false", "root", content=CSV_GOOD.encode(),
                          headers=csv_headers))
    assert done["added"] == ["door-9", "smoke-9"] and done["errors"] == []
    page = ok(console.api("GET", "/api/devices/door-9", "op"))
    assert page["device"]["source"] == "console" and page["device"]["subsystem"] == "access"
    assert (page["device"]["x"], page["device"]["y"]) == (0.2, 0.3)
    again = ok(console.api("POST", "/api/devices/import?dry_run=false", "root", content=CSV_GOOD.encode(),
                           headers=csv_headers))
    assert again["unchanged"] == ["door-9", "smoke-9", "fp-1"] and again["added"] == []

    yaml_headers = {"Content-Type": "application/yaml"}
    changed = "- id: door-9\n  name: 9号门禁(新)\n  role: door\n  building: 1号楼\n  floor: 2F\n"
    ok(console.api("POST", "/api/devices/import?dry_run=false", "root", content=changed.encode(),
                   headers=yaml_headers))
    assert ok(console.api("GET", "/api/devices/door-9", "op"))["device"]["name"] == "9号门禁(新)"
    broken = "- id: door-12\n  role: door\n- id: door-13\n  role: lift\n  floor: 2F\n"
    yaml_refused = console.api("POST", "/api/devices/import?dry_run=false", "root", content=broken.encode(),
                               headers=yaml_headers)
    assert yaml_refused.status_code == 422
    assert [(e["line"], e["message"].split(":")[0]) for e in yaml_refused.json()["errors"]] == [(4, "role")]
    site_file = "- id: fp-1\n  name: changed\n"
    clash = ok(console.api("POST", "/api/devices/import", "root", content=site_file.encode(), headers=yaml_headers))
    assert "site file" in clash["errors"][0]["message"] and clash["errors"][0]["line"] == 1
    assert console.api("POST", "/api/devices/import", "root", content=b"{}",
                       headers={"Content-Type": "application/json"}).status_code == 415
    assert console.api("POST", "/api/devices/import", "op", content=CSV_GOOD.encode(),
                       headers=csv_headers).status_code == 403
    assert audit_actions(console).count("device.import") == 3


def test_device_page_and_event_search(db_url: str, make_console: Any, publisher: Publisher) -> None:
    console = make_console(db_url)
    setup_users(console, ("op", "operator"), ("wall", "display"), ("g1", "guard"))
    publisher.publish("mcc/v1/demo/door-1/state", "online", retain=True)
    publisher.publish(*native_event("door-1", "d1", "access.granted", data={"card": "1"}))
    publisher.publish(*native_event("door-1", "d2", "access.door_forced"))
    publisher.publish(*native_event("fp-1", "f1", "fire.alarm", point="1-003"))
    publisher.publish(*native_event("lane-in", "p1", "parking.entry", data={"plate": "粤B12345"}))
    publisher.publish(*native_event("stranger", "s1", "device.heartbeat"))
    wait_until(lambda: len(ok(console.api("GET", "/api/events", "op"))) >= 6, message="all events stored")

    page = ok(console.api("GET", "/api/devices/door-1", "wall"))
    assert page["device"]["id"] == "door-1" and page["device"]["source"] == "site_file"
    assert page["device"]["subsystem"] == "access" and page["device"]["location"]["building"] == "1号楼"
    assert page["status"]["state"] == "online" and page["status"]["registered"] is True
    assert [a["kind"] for a in page["open_alarms"]] == ["access.door_forced"]
    assert [a["kind"] for a in page["alarms"]] == ["access.door_forced"]
    assert {e["id"] for e in page["events"]} >= {"d1", "d2"}
    assert ok(console.api("GET", "/api/devices/door-1?site=demo", "op"))["device"]["id"] == "door-1"
    stranger = ok(console.api("GET", "/api/devices/stranger", "op"))
    assert stranger["device"]["registered"] is False and stranger["device"]["source"] is None
    assert console.api("GET", "/api/devices/nothing-here", "op").status_code == 404
    assert console.api("GET", "/api/devices/door-1", "g1").status_code == 403
    assert ok(console.api("GET", "/api/devices/summary", "op"))["by_subsystem"]["access"]["online"] == 1

    def ids(query: str) -> list[str]:
        return [e["id"] for e in ok(console.api("GET", f"/api/events{query}", "op"))]

    assert set(ids("?q=大堂门禁")) >= {"d1", "d2"} and "f1" not in ids("?q=大堂门禁"), "by device name"
    assert ids("?q=FORCED") == ["d2"], "by kind, any case"
    assert ids("?q=1-003") == ["f1"], "by point"
    assert ids("?q=strang") == ["s1"], "by device id"
    assert ids("?subsystem=fire") == ["f1"]
    assert ids("?subsystem=parking") == ["p1"]
    assert "s1" in ids("?subsystem=other") and "d1" not in ids("?subsystem=other")
    assert set(ids("?subsystem=access&q=door-1")) >= {"d1", "d2"}
    assert ids("?site=elsewhere") == []
    everything = ok(console.api("GET", "/api/events?limit=500", "op"))
    newest = everything[0]
    first_page = ok(console.api("GET", "/api/events?limit=2&since=2000-01-01T00:00:00Z", "op"))
    assert [e["event_id"] for e in first_page] == [e["event_id"] for e in everything[:2]]
    next_page = ok(console.api("GET", f"/api/events?limit=2&before={first_page[-1]['event_id']}", "op"))
    assert [e["event_id"] for e in next_page] == [e["event_id"] for e in everything[2:4]], "paging backwards"
    received = datetime.fromisoformat(newest["received_at"])
    later = (received + timedelta(seconds=1)).isoformat()
    assert ok(console.api("GET", "/api/events", "op", params={"since": later})) == []
    earlier = (received - timedelta(minutes=5)).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert len(ok(console.api("GET", "/api/events", "op", params={"since": earlier, "until": later}))) == \
        len(everything)
    assert ok(console.api("GET", "/api/events", "op", params={"until": earlier})) == []
    naive = console.api("GET", "/api/events", "op", params={"since": "2026-11-27T08:00:00"})
    assert naive.status_code == 422 and "offset" in naive.json()["detail"]
    assert console.api("GET", "/api/events?subsystem=lifts", "op").status_code == 422


def test_sops_and_the_days_figures(db_url: str, make_console: Any, publisher: Publisher) -> None:
    console = make_console(db_url)
    setup_users(console, ("op", "operator"), ("sup", "supervisor"), ("wall", "display"), ("g1", "guard"))
    sops = ok(console.api("GET", "/api/sops", "sup"))
    fire = next(s for s in sops if s["id"] == "fire.alarm")
    assert fire["title"]["zh"] == "火警处置" and "fire.alarm" in fire["kinds"] and fire["steps"] > 3
    assert fire["source"] == "sops/fire_alarm.yaml"
    detail = ok(console.api("GET", "/api/sops/fire.alarm", "op"))
    assert detail["id"] == "fire.alarm" and detail["false_alarm"] is not None
    assert len(detail["steps"]) == fire["steps"]
    timed = [s for s in detail["steps"] if s["due_seconds"] is not None]
    assert timed and all(isinstance(s["due_seconds"], int) and s["escalation"] for s in timed)
    assert {"id", "role", "type", "text", "required", "options", "due_seconds"} <= set(detail["steps"][0])
    assert console.api("GET", "/api/sops/no.such", "op").status_code == 404
    assert console.api("GET", "/api/sops", "wall").status_code == 403
    assert console.api("GET", "/api/sops", "g1").status_code == 403

    empty = ok(console.api("GET", "/api/kpis/today", "wall"))
    assert empty["alarms"] == 0 and empty["median_ack_seconds"] is None
    assert empty["alarms_by_subsystem"] == {"fire": 0, "access": 0, "parking": 0, "video": 0, "other": 0}
    now = datetime.now(timezone.utc).isoformat()
    publisher.publish(*native_event("fp-1", "k1", "fire.alarm", point="1-003", ts=now))
    publisher.publish(*native_event("door-1", "k2", "access.door_forced", ts=now))
    alarms = wait_until(lambda: len(a := ok(console.api("GET", "/api/alarms?active=true", "op"))) == 2 and a)
    fire_alarm = next(a for a in alarms if a["kind"] == "fire.alarm")
    ok(console.api("POST", f"/api/alarms/{fire_alarm['id']}/ack", "op", json={"comment": "现场确认中"}))
    kpis = ok(console.api("GET", "/api/kpis/today", "wall"))
    zone_day = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    assert kpis["day"] == zone_day
    assert kpis["alarms"] == 2 and kpis["acknowledged"] == 1 and kpis["open_alarms"] == 2
    assert kpis["alarms_by_subsystem"]["fire"] == 1 and kpis["alarms_by_subsystem"]["access"] == 1
    assert kpis["open_tasks"] == 2 and kpis["closed_tasks"] == 0 and kpis["drills"] == 0
    assert isinstance(kpis["median_ack_seconds"], float) and kpis["median_ack_seconds"] >= 0
    assert kpis["median_arrive_seconds"] is None
    assert {"overdue_steps", "false_alarms"} <= set(kpis)
    assert console.api("GET", "/api/kpis/today", "g1").status_code == 403
    store = Store(console.db_url)
    try:
        with store.read() as session:
            assert session.scalar(select(AuditRow.action).order_by(AuditRow.id.desc()).limit(1)) == "alarm.ack"
    finally:
        store.dispose()
