"""Drill plans through a running console, its broker and its store: a supervisor plans, an operator
starts, the drill alarm takes the real path to its task (labelled a drill), the plan follows the
task to its score; refusals carry their codes; every step is in the audit chain."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_until
from tests.integration.test_floorplans_api import audit_actions, ok

FIRE_DRILL = {"title": "2026年第四季度消防演练", "device_id": "fp-1", "point": "1-003", "kind": "fire.alarm",
              "planned_for": "2026-12-20T15:00:00+08:00"}


def test_a_planned_drill_is_started_watched_and_scored(make_console: Any, sqlite_url: str) -> None:
    console = make_console(sqlite_url).staff({"op": "operator", "boss": "supervisor", "g1": "guard"})
    assert console.api("POST", "/api/drills/plans", "op", json=FIRE_DRILL).status_code == 403, "supervisors plan"
    assert console.api("GET", "/api/drills", "g1").status_code == 403
    for bad, code in (({"device_id": "nowhere"}, "drill.unknown_device"), ({"kind": "access.granted"}, "drill.no_sop"),
                      ({"point": "9-999"}, "drill.unknown_point")):
        refused = console.api("POST", "/api/drills/plans", "boss", json={**FIRE_DRILL, **bad})
        assert (refused.status_code, refused.json()["code"]) == (409, code), refused.text

    plan = ok(console.api("POST", "/api/drills/plans", "boss", json=FIRE_DRILL))
    assert (plan["state"], plan["planned_for"], plan["task"]) == ("planned", "2026-12-20T07:00:00+00:00", None)
    spare = ok(console.api("POST", "/api/drills/plans", "boss", json={**FIRE_DRILL, "title": "备用"}))
    assert ok(console.api("POST", f"/api/drills/plans/{spare['id']}/cancel", "boss"))["state"] == "cancelled"
    cancelled = console.api("POST", f"/api/drills/plans/{spare['id']}/start", "op")
    assert (cancelled.status_code, cancelled.json()["code"]) == (409, "drill.cancelled")

    started = ok(console.api("POST", f"/api/drills/plans/{plan['id']}/start", "op"))
    assert started["state"] == "started" and started["started_by"] == "op"
    again = console.api("POST", f"/api/drills/plans/{plan['id']}/start", "op")
    assert (again.status_code, again.json()["code"]) == (409, "drill.started")

    def watched() -> dict[str, Any] | None:
        plans = ok(console.api("GET", "/api/drills", "op"))["plans"]
        return next((p for p in plans if p["id"] == plan["id"] and p["task"]), None)

    running = wait_until(watched, message="the drill alarm comes back in and opens its task")
    task = ok(console.api("GET", f"/api/tasks/{running['task']['id']}", "op"))
    assert task["drill"] is True and task["sop_id"] == "fire.alarm" and running["task"]["score"] is None
    ok(console.api("POST", f"/api/tasks/{task['id']}/close", "boss", json={"reason": "演练结束，讲评完毕"}))
    done = wait_until(lambda: (p := watched()) and p["task"]["state"] == "closed" and p, message="closed")
    assert set(done["task"]["score"]) == {"on_time", "late", "missed", "percent"}
    history = ok(console.api("GET", "/api/drills", "op"))["history"]
    assert [(d["id"], d["title"]["zh"]) for d in history] == [(task["id"], "火警处置")]
    actions = audit_actions(console)
    assert {"drill.plan", "drill.start", "drill.cancel"} <= set(actions)
