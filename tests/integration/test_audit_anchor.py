"""The audit chain's head anchored outside the store (issue 15): the daily report prints it, the time
series gets it as ``mcc_audit_head``, and ``mcc audit verify --anchor ID:HASH`` fails once the newest
rows are deleted, which the chain alone cannot see (the shorter chain is still valid)."""

from __future__ import annotations

import csv
import io
import sqlite3
from typing import Any

import psycopg
import pytest

from console.store import audit
from tests.conftest import ConsoleProcess, wait_until
from tests.integration import test_timeseries
from tests.integration.test_timeseries import VictoriaMetrics, sink_settings

vm = test_timeseries.vm  # the VictoriaMetrics fixture of the time-series tests


def _sql(db_url: str, statement: str) -> None:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
    else:
        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(statement)


def _anchor(console: ConsoleProcess) -> dict[str, Any]:
    report = console.api("GET", "/api/reports/daily", "op")
    assert report.status_code == 200, report.text
    anchor: dict[str, Any] = report.json()["audit_anchor"]
    assert anchor["token"] == f"{anchor['id']}:{anchor['hash']}" and len(anchor["hash"]) == 64
    return anchor


def test_the_daily_report_prints_the_anchor_and_verify_catches_the_newest_rows_deleted(
    make_console: Any, db_url: str,
) -> None:
    console: ConsoleProcess = make_console(db_url, duty_log={"enabled": False})
    console.staff({"op": "operator", "boss": "supervisor"})
    first = _anchor(console)
    html = console.api("GET", "/api/reports/daily?format=html", "op").text
    assert "审计链锚点 / Audit anchor" in html and first["token"] in html
    rows = list(csv.reader(io.StringIO(console.api("GET", "/api/reports/daily?format=csv", "op").text)))
    assert ["audit_anchor", "head", "token", first["token"]] in rows

    ok = console.cli("audit", "verify", "--anchor", first["token"], "--anchor", f"{first['id']}:{first['hash'][:12]}")
    assert ok.returncode == 0 and "2 anchor(s) held" in ok.stdout, ok.stdout + ok.stderr

    console.login("boss")  # more rows after the first anchor
    console.login("op")
    second = _anchor(console)
    assert second["id"] > first["id"] + 1
    _sql(console.db_url, f"DELETE FROM audit_log WHERE id >= {second['id'] - 1}")  # the newest two rows

    plain = console.cli("audit", "verify")
    assert plain.returncode == 0, "the shorter chain is still valid: only an anchor can tell"
    caught = console.cli("audit", "verify", "--anchor", first["token"], "--anchor", second["token"])
    assert caught.returncode == 1, caught.stdout
    assert f"audit row {second['id']}: anchored row is missing" in caught.stderr and "BROKEN" in caught.stderr
    assert f"audit row {first['id']}:" not in caught.stderr, "the older anchor still holds"

    # New rows after the deletion may take the anchored id again (SQLite reuses it): the hash differs.
    console.login("boss")
    console.login("op")
    again = console.cli("audit", "verify", "--anchor", second["token"])
    assert again.returncode == 1 and f"audit row {second['id']}: anchored row" in again.stderr, again.stderr


def test_the_head_reaches_the_time_series_and_the_log(
    make_console: Any, sqlite_url: str, vm: VictoriaMetrics,
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, influx=sink_settings(vm), health={"audit_anchor_seconds": 1},
                                           duty_log={"enabled": False})
    console.staff({"op": "operator"})
    head = _anchor(console)

    def sent() -> bool:
        ids = vm.history("mcc_audit_head_id", site="demo")
        return bool(ids) and ids[-1] == head["id"]

    wait_until(sent, timeout=15, message="mcc_audit_head_id in VictoriaMetrics")
    prefix = vm.history("mcc_audit_head_hash_prefix", site="demo")[-1]
    assert f"{int(prefix):012x}" == head["hash"][: audit.PREFIX_MIN], "VictoriaMetrics keeps the hash's first 48 bits"
    from_series = f"{head['id']}:{int(prefix):012x}"
    assert console.cli("audit", "verify", "--anchor", from_series).returncode == 0
    wait_until(lambda: f"audit anchor {head['token']}" in console.log_path.read_text(), timeout=5,
               message="the anchor in the log at INFO")


@pytest.mark.parametrize("value", ["7", "7:", "x:0123456789ab", "7:0123456789a", "7:" + "g" * 12])
def test_an_anchor_that_is_not_id_colon_hash_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        audit.parse_anchor(value)
