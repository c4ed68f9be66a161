"""The HTTP API under Schemathesis (issue 15): a real console, fuzzed over HTTP from its own live
/openapi.json, first with an admin's token and then with an operator's. It must answer no 5xx, only
the status codes its document lists, and its error bodies and content types as documented.

- The store is PostgreSQL: it refuses what SQLite lets through (a NUL character in text, an id
  beyond 32 bits in an INTEGER key), so what would be a 500 only in production shows here.
- The console is seeded first (an alarm and its task, a dispatch, a checkpoint, a route and its
  schedule, a drill plan, a handover, a plate, a shelf, a floor plan), so small ids name real rows.
- The operator is added only after the admin's run, so that run cannot have disabled the operator
  or changed their password (it may change any other user, and does).
- PostgreSQL refuses a NUL character anywhere in text, and a short run of Schemathesis hardly ever
  generates one: a hook (tests/support/fuzz_hooks.py) adds to each generated case a variant with a
  NUL in its body, query or path.
- Bounded: one worker; Schemathesis's coverage phase (every boundary and negative case the schema
  defines, once) for the admin only, then 5 generated cases per operation and a short stateful
  phase for each; deterministic generation, so a run is reproducible. About 2.5 minutes here.

Checks: not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance (the success bodies are mostly free-form objects, so this checks the
error body {detail, code, params} above all). Left out: negative_data_rejection and
positive_data_acceptance — FastAPI ignores unknown query parameters by design, and most bodies'
rules (a registered device, a guard on shift) are not in the schema, so both only make noise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ConsoleProcess, native_event, wait_until
from tests.integration.test_floorplans_api import ok
from tests.support.images import floor_plan_png

SKIPPED = {
    # Operations that cannot be exercised safely, with the reason. Nothing else is skipped.
    "/api/auth/logout": "ends the very session the run uses: every later request would be a 401",
}
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")


def seed(console: ConsoleProcess, publisher: Any, supervisor: str, guard: str, operator: str) -> None:
    """A few rows of each kind, so that the ids the fuzzer tries first (1, 2, ...) exist."""
    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    publisher.publish(*native_event("door-1", "door-1", "access.door_forced"))
    tasks = wait_until(lambda: len(got := ok(console.api("GET", "/api/tasks", operator))) >= 2 and got,
                       message="two alarms open their tasks")
    ok(console.api("POST", "/api/guard/shift", guard, json={"on": True}))
    ok(console.api("POST", f"/api/tasks/{tasks[0]['id']}/dispatch", operator, json={"guard": guard}))
    checkpoint = ok(console.api("POST", "/api/patrol/checkpoints", supervisor, json={
        "name": "大堂", "building": "1号楼", "floor": "1F", "zone": "大堂"}))
    route = ok(console.api("POST", "/api/patrol/routes", supervisor, json={
        "name": "大堂巡查", "points": [{"checkpoint": checkpoint["id"]}]}))
    ok(console.api("POST", "/api/patrol/schedules", supervisor, json={"route_id": route["id"], "times": ["08:00"]}))
    ok(console.api("POST", "/api/drills/plans", supervisor, json={
        "title": "消防演练", "device_id": "fp-1", "point": "1-003", "kind": "fire.alarm"}))
    ok(console.api("POST", "/api/handovers", operator, json={"notes": "交班"}))
    ok(console.api("POST", "/api/plates", supervisor, json={"plate": "京A12345", "list": "block", "reason": "欠费"}))
    ok(console.api("POST", "/api/shelves", supervisor, json={"device_id": "door-1", "minutes": 60, "reason": "维修"}))


# The hooks add, to every generated case, a variant with a NUL character (tests/support/fuzz_hooks.py).
# The coverage phase sends every boundary and negative case of every operation; the methods no route
# has (TRACE, QUERY...) are left out of it: a 405 from the router says nothing about the routes.
CONFIG = """
hooks = "tests.support.fuzz_hooks"

[phases.coverage]
unexpected-methods = []
"""


def schemathesis(console: ConsoleProcess, user: str, folder: Path, phases: str) -> tuple[int, str]:
    """One Schemathesis run against the live console as ``user``: its exit code and its report."""
    folder.mkdir(parents=True)
    (folder / "schemathesis.toml").write_text(CONFIG)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(folder / "schemathesis.toml"),
        "run", f"{console.base}/openapi.json",
        "--header", f"Authorization: Bearer {console.tokens[user]}",
        "--checks", ",".join(CHECKS),
        "--phases", phases,
        "--max-examples", "5",
        "--generation-deterministic",  # reproducible, and no example database is written
        "--workers", "1",
        "--request-timeout", "20",
        "--no-color",
        *[arg for path in SKIPPED for arg in ("--exclude-path", path)],
    ]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=400)
    report = done.stdout + done.stderr
    (folder / "schemathesis.txt").write_text(report)
    return done.returncode, report


@pytest.mark.timeout(600)
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_api_answers_only_what_it_documents_under_fuzzing(make_console: Any, db_url: str, publisher: Any,
                                                               tmp_path: Path) -> None:
    console: ConsoleProcess = make_console(db_url)
    tag = uuid.uuid4().hex[:6]
    admin, operator, supervisor, guard = f"fuzz-admin-{tag}", f"fuzz-op-{tag}", f"sup-{tag}", f"guard-{tag}"
    console.staff({admin: "admin", supervisor: "supervisor", guard: "guard", f"seed-op-{tag}": "operator"})
    seed(console, publisher, supervisor, guard, f"seed-op-{tag}")
    ok(console.api("POST", "/api/floorplans", admin, data={"building": "1号楼", "floor": "1F"},
                   files={"file": ("plan.png", floor_plan_png(), "image/png")}))

    failed = []
    # The admin may call nearly every route: its run has every phase. The operator's has the
    # generated cases and the stateful phase, not the coverage phase again (input boundaries do not
    # depend on the role, and it costs a minute and a half on this machine).
    for user, phases in ((admin, "examples,coverage,fuzzing,stateful"), (operator, "examples,fuzzing,stateful")):
        if user == operator:
            console.staff({operator: "operator"})
        started = time.monotonic()
        code, report = schemathesis(console, user, tmp_path / user, phases)
        print(f"schemathesis as {user}: exit {code} in {time.monotonic() - started:.0f} s; "
              f"{report.strip().splitlines()[-1] if report.strip() else ''}")
        if code != 0:
            failed.append(f"--- as {user} (exit {code}) ---\n{report[-20000:]}")
    assert failed == [], "\n".join(failed)
    assert console.process is not None and console.process.poll() is None, console.log_tail()
    assert "Traceback" not in console.log_path.read_text(errors="replace"), console.log_tail(80)
