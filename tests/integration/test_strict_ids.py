"""Ids beyond what the store holds, and empty action ids, are refused (4xx), never a 500
(issue 15, finding 5, found by schemathesis). Every route with an id in its path is tried, from
the app's own OpenAPI document, as an admin, with an id of 2**64, and with 2**31 on PostgreSQL, whose
INTEGER keys (floor plans, checkpoints, schedules) hold 32 bits."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ConsoleProcess, native_event, wait_until
from tests.integration.test_floorplans_api import ok


def test_every_route_refuses_an_id_beyond_what_the_store_holds_with_a_4xx(make_console: Any, db_url: str) -> None:
    console: ConsoleProcess = make_console(db_url).staff({"root": "admin"})
    spec = ok(console.api("GET", "/openapi.json", "root"))
    tried = []
    for path, methods in spec["paths"].items():
        names = re.findall(r"{(\w+_id)}", path)
        if not names:
            continue
        for big in (2**31, 2**64):
            concrete = re.sub(r"{\w+_id}", str(big), path)
            concrete = re.sub(r"{(\w+)}", "x", concrete)  # other path parts (a step, an action)
            for method in methods:
                response = console.api(method.upper(), concrete, "root", json={})
                assert response.status_code < 500, \
                    f"{method.upper()} {concrete}: {response.status_code} {response.text[:200]}"
                tried.append((method, path))
    assert len(tried) >= 60


def test_an_empty_action_id_is_refused_not_a_500(make_console: Any, sqlite_url: str, publisher: Any) -> None:
    console: ConsoleProcess = make_console(sqlite_url).staff({"op": "operator"})
    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    [task] = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="a task opens")
    for _ in range(2):
        comment = console.api("POST", f"/api/tasks/{task['id']}/comments", "op", json={"text": "备注", "action_id": ""})
        assert comment.status_code == 422, comment.text
        dispatch = console.api("POST", f"/api/tasks/{task['id']}/dispatch", "op", json={"action_id": ""})
        assert dispatch.status_code == 422, dispatch.text
