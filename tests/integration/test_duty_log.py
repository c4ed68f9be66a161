"""The duty log (值班记录, GB 25201) on a controlled clock, through the real ingest path and a real
store (a SQLite file, and PostgreSQL): entries fall due every two hours, pre-filled from what the
console knows; two different people sign; a signed entry is never changed (a correction is a new,
linked entry); a late or missed entry is a finding that the supervisor is told of and reviews."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from console.errors import Refusal
from console.people import duty_print, reports
from console.settings import Settings
from console.store.tables import AuditRow
from tests.conftest import wait_until
from tests.integration.test_floorplans_api import audit_actions, ok
from tests.support.desk import T0

HOUR = 3600
# T0 is 10:00 in Asia/Shanghai: a slot of the default two-hour rhythm starts there.
DAY = date(2026, 11, 26)


def entry(d: Any, entry_id: int) -> dict[str, Any]:
    with d.store.read() as session:
        return d.duty_log.view(session, d.duty_log.get(session, entry_id, lock=False))


def opened(d: Any, seconds: float) -> dict[str, Any]:
    """Let the clock reach ``seconds`` and return the entry of the slot running then."""
    d.duty("due", d.at(seconds))
    slot = d.duty_log.slot_of(d.now)
    return next(e for e in d.duty("day", DAY) if e["slot_at"] == slot.isoformat() and e["sequence"] == 0)


def refused(code: str, call: Any) -> None:
    with pytest.raises(Refusal) as caught:
        call()
    assert caught.value.code == code, caught.value


def test_entries_fall_due_every_two_hours_pre_filled_from_the_panels_state(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("fp-1", "fire.isolated", "1-003")
    d.send("fp-1", "fire.fault", "", cause="mains")
    d.send("fp-1", "fire.restore", "", of="fire.supervisory", mode="manual", via="state")  # linkage in manual
    first = opened(d, 60)
    assert first["slot_at"] == T0.isoformat() and first["state"] == "open" and first["due_by"] == (
        T0 + timedelta(minutes=30)).isoformat()
    suggested = first["prefill"]["suggested"]
    assert suggested == {"fire": 0, "fault": 1, "supervisory": 0, "isolated": 1, "linkage": "manual",
                         "main_power": "fault", "backup_power": "normal", "pumps_fans_auto": "unknown"}
    assert first["observed"] == suggested, "the suggestion is what the people on duty start from"
    assert [p["label"] for p in first["prefill"]["isolated_points"]] == ["1号楼 3层 东侧走廊 感烟探测器"]
    assert first["prefill"]["panels"][0] == {"device_id": "fp-1", "label": "1号楼 B1 消防控制室", "state": "unknown",
                                             "mode": "manual", "fire": 0, "fault": 1, "supervisory": 0, "isolated": 1}

    assert opened(d, 7199)["id"] == first["id"], "one entry per slot, however often the clock looks"
    second = opened(d, 2 * HOUR)
    assert second["slot_at"] == (T0 + timedelta(hours=2)).isoformat() and second["id"] != first["id"]
    third = opened(d, 4 * HOUR + 5)
    assert [e["slot_at"] for e in d.duty("day", DAY)] == [
        (T0 + timedelta(hours=h)).isoformat() for h in (0, 2, 4)] and third["state"] == "open"
    assert d.duty_log.next_check(d.at(4 * HOUR + 5)) == T0 + timedelta(hours=4, minutes=30)


def test_two_different_people_sign_and_a_signed_entry_is_corrected_only_by_a_new_one(desk: Any) -> None:
    d = desk()
    first = opened(d, 0)
    d.duty("edit", first["id"], {"pumps_fans_auto": "yes", "fault": 2}, "2号泵控制柜显示故障，已报工程部",
           "wang", d.at(300))
    written = entry(d, first["id"])
    assert written["changed"] == ["fault", "pumps_fans_auto"] and written["edited_by"] == "wang"

    refused("duty_log.changed", lambda: d.duty("sign", first["id"], "wang", d.at(590),
                                              seen_sha256=first["current_sha256"]))  # shown before the edit
    d.duty("sign", first["id"], "wang", d.at(600), seen_sha256=written["current_sha256"])
    refused("duty_log.same_person", lambda: d.duty("sign", first["id"], "wang", d.at(610)))
    refused("duty_log.signed", lambda: d.duty("edit", first["id"], {"fault": 3}, "", "li", d.at(620)))
    d.duty("sign", first["id"], "li", d.at(900))
    signed = entry(d, first["id"])
    assert signed["state"] == "signed" and signed["finding"] is None and signed["intact"]
    assert (signed["first"]["by"], signed["second"]["by"]) == ("wang", "li")
    refused("duty_log.complete", lambda: d.duty("sign", first["id"], "zhao", d.at(910)))
    refused("duty_log.signed", lambda: d.duty("edit", first["id"], {}, "改一下", "li", d.at(920)))
    refused("duty_log.not_signed", lambda: d.duty("correct", opened(d, 2 * HOUR)["id"], {}, "", "错了", "li",
                                                  d.at(2 * HOUR)))

    correction = d.duty("correct", first["id"], {"fault": 1}, "故障实为1处（2号泵已恢复）", "抄录错误", "li",
                        d.at(2 * HOUR + 60))
    assert (correction["corrects"], correction["sequence"], correction["slot_at"]) == (first["id"], 1, T0.isoformat())
    assert correction["observed"]["fault"] == 1 and correction["observed"]["pumps_fans_auto"] == "yes"
    assert correction["state"] == "open", "a correction is signed again by two people"
    assert entry(d, first["id"])["corrected_by"] == [correction["id"]]
    assert entry(d, first["id"])["observed"]["fault"] == 2, "the signed entry itself is never changed"

    chain = [(r.actor, r.action, json.loads(r.detail)) for r in d.audit_rows() if r.target == f"duty_log:{first['id']}"]
    signatures = [detail for _actor, action, detail in chain if action == "duty_log.sign"]
    assert [s["signature"] for s in signatures] == ["first", "second"]
    assert {s["content_sha256"] for s in signatures} == {signed["content_sha256"]}
    assert ("wang", "duty_log.edit") in [(a, act) for a, act, _ in chain]


def test_an_entry_changed_behind_its_signatures_is_shown_as_not_intact(desk: Any) -> None:
    d = desk()
    first = opened(d, 0)
    d.duty("sign", first["id"], "wang", d.at(60))
    with d.store.write() as session, session.begin():
        row = d.duty_log.get(session, first["id"])
        row.observed = {**row.observed, "fire": 5}  # as a hand editing the database would
    assert entry(d, first["id"])["intact"] is False
    assert "内容与签名不符" in duty_print.to_html([entry(d, first["id"])], "测试小区", "Asia/Shanghai", DAY)


def test_an_unsigned_entry_is_late_then_missed_and_the_supervisor_is_told_and_reviews_it(desk: Any) -> None:
    d = desk()
    first = opened(d, 0)
    d.duty("sign", first["id"], "wang", d.at(600))  # one signature is not enough
    d.duty("due", d.at(29 * 60))
    assert entry(d, first["id"])["finding"] is None
    d.duty("due", d.at(30 * 60))
    assert entry(d, first["id"])["finding"] == "late"
    assert [n for n in d.notices if n.kind == "duty_log"] == [], "late: a finding, nobody woken"

    d.duty("due", d.at(2 * HOUR))
    assert entry(d, first["id"])["finding"] == "missed"
    told = [n for n in d.notices if n.kind == "duty_log"]
    assert len(told) == 1 and told[0].roles == ("supervisor",) and "10:00" in told[0].title, told
    d.duty("due", d.at(2 * HOUR + 60))
    assert len([n for n in d.notices if n.kind == "duty_log"]) == 1, "told once"

    assert [f["id"] for f in d.duty("findings")] == [first["id"]]
    d.duty("review", first["id"], "两人均在处理2号楼报警，已提醒按时记录", "boss", d.at(3 * HOUR))
    refused("duty_log.reviewed", lambda: d.duty("review", first["id"], "again", "boss", d.at(3 * HOUR)))
    assert d.duty("findings") == []
    reviewed = d.duty("findings", open_only=False)
    assert reviewed[0]["review"]["by"] == "boss" and reviewed[0]["finding"] == "missed"
    # Signed late, it still shows as missed.
    d.duty("sign", first["id"], "li", d.at(3 * HOUR + 60))
    assert entry(d, first["id"])["state"] == "signed" and entry(d, first["id"])["finding"] == "missed"
    refused("duty_log.no_finding", lambda: d.duty("review", opened(d, 4 * HOUR)["id"], "ok", "boss", d.now))
    with d.store.read() as session:  # the shift and daily reports count them
        report = reports.build(session, d.tasks.book, d.duty_log.registry,
                               reports.Window(T0, T0 + timedelta(hours=6), "班报"))
    assert report["duty_log"] == {"due": 3, "signed": 1, "late": 0, "missed": 2}
    assert "duty_log,entries,missed,2" in reports.to_csv(report)


def test_slots_passed_while_the_console_was_down_are_entered_as_missed(desk: Any) -> None:
    d = desk()
    opened(d, 0)
    d.duty("due", d.at(6 * HOUR + 60))  # down from 10:00 to 16:01: the 12:00 and 14:00 entries never opened
    day = d.duty("day", DAY)
    assert [(e["slot_at"], e["finding"]) for e in day] == [
        (T0.isoformat(), "missed"), *(((T0 + timedelta(hours=h)).isoformat(), "missed") for h in (2, 4)),
        ((T0 + timedelta(hours=6)).isoformat(), None)]
    gap = day[1]
    assert gap["prefill"] == {"unavailable": "console_down"} and gap["observed"] == {}
    refused("duty_log.not_written", lambda: d.duty("sign", gap["id"], "wang", d.now))
    assert len([n for n in d.notices if n.kind == "duty_log"]) == 3
    html = duty_print.to_html(day, "测试小区", "Asia/Shanghai", DAY)
    assert html.count("漏记 / missed") == 3


def test_the_rhythm_is_a_site_setting(desk: Any) -> None:
    d = desk(duty_log={"interval_minutes": 240, "grace_minutes": 60})
    opened(d, 0)  # 10:00 is no four-hour slot: the slot is 08:00
    d.duty("due", d.at(5 * HOUR))
    assert [e["slot_at"] for e in d.duty("day", DAY)] == [(T0 - timedelta(hours=2)).isoformat(),
                                                          (T0 + timedelta(hours=2)).isoformat()]
    quiet = desk(duty_log={"enabled": False})  # the same store: nothing more opens
    assert quiet.duty("due", quiet.at(9 * HOUR)).hub == [] and len(quiet.duty("day", DAY)) == 2
    for bad, words in (({"interval_minutes": 50}, "does not divide a day"),
                       ({"interval_minutes": 60, "grace_minutes": 60}, "shorter than interval_minutes")):
        with pytest.raises(ValueError, match=words):
            Settings(site={"id": "demo"}, duty_log=bad)


def test_the_day_prints_as_the_paper_log_with_both_signatures(desk: Any) -> None:
    d = desk()
    first = opened(d, 0)
    d.duty("edit", first["id"], {"pumps_fans_auto": "yes"}, "正常", "wang", d.at(60))
    d.duty("sign", first["id"], "wang", d.at(120))
    d.duty("sign", first["id"], "li", d.at(180))
    opened(d, 2 * HOUR)
    day = d.duty("day", DAY)
    html = duty_print.to_html(day, "测试小区", "Asia/Shanghai", DAY)
    assert "消防控制室值班记录" in html and "wang 10:02" in html and "li 10:03" in html
    assert "是*" in html, "a value the people on duty changed is marked"
    assert day[0]["content_sha256"] in html
    lines = duty_print.to_csv(day, "Asia/Shanghai").splitlines()
    assert len(lines) == 3 and lines[1].split(",")[1] == "10:00" and "待填写" in lines[2]
    with d.store.read() as session:
        assert session.scalar(select(AuditRow.action).where(AuditRow.action == "duty_log.due").limit(1))


def test_the_people_on_duty_fill_in_and_sign_through_the_api_one_countersigning_at_the_others_screen(
        sqlite_url: str, make_console: Any) -> None:
    console = make_console(sqlite_url).staff({"wang": "operator", "li": "operator", "boss": "supervisor",
                                              "wall": "display", "g1": "guard"})
    current = wait_until(lambda: (c := ok(console.api("GET", "/api/duty-log/current", "wang")))["entry"] and c,
                         message="the console opens the entry of the slot running now")
    assert current["interval_minutes"] == 120 and current["entry"]["state"] == "open"
    entry_id = current["entry"]["id"]
    for outsider in ("wall", "g1"):
        assert console.api("GET", "/api/duty-log/current", outsider).status_code == 403
        assert console.api("POST", f"/api/duty-log/{entry_id}/sign", outsider).status_code == 403
    assert console.api("GET", "/api/duty-log/findings", "wang").status_code == 403
    assert isinstance(ok(console.api("GET", "/api/duty-log/findings", "boss")), list)

    bad = console.api("PATCH", f"/api/duty-log/{entry_id}", "wang", json={"observed": {"linkage": "maybe"}})
    assert bad.status_code == 422
    written = ok(console.api("PATCH", f"/api/duty-log/{entry_id}", "wang",
                             json={"observed": {"pumps_fans_auto": "yes"}, "remarks": "一切正常"}))
    assert written["observed"]["pumps_fans_auto"] == "yes" and written["remarks"] == "一切正常"
    assert ok(console.api("POST", f"/api/duty-log/{entry_id}/sign", "wang"))["state"] == "signing"
    same = console.api("POST", f"/api/duty-log/{entry_id}/sign", "wang")
    assert (same.status_code, same.json()["code"]) == (409, "duty_log.same_person")

    # 李 countersigns at 王's screen with his own password; a wrong one and a guard's are refused.
    wrong = console.api("POST", f"/api/duty-log/{entry_id}/sign", "wang", json={"username": "li", "password": "nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "duty_log.bad_countersign")
    guard = console.api("POST", f"/api/duty-log/{entry_id}/sign", "wang",
                        json={"username": "g1", "password": "correct-horse-1"})
    assert (guard.status_code, guard.json()["code"]) == (403, "duty_log.not_on_duty")
    signed = ok(console.api("POST", f"/api/duty-log/{entry_id}/sign", "wang",
                            json={"username": "li", "password": "correct-horse-1"}))
    assert (signed["state"], signed["first"]["by"], signed["second"]["by"]) == ("signed", "wang", "li")

    late_edit = console.api("PATCH", f"/api/duty-log/{entry_id}", "li", json={"remarks": "改"})
    assert (late_edit.status_code, late_edit.json()["code"], late_edit.json()["params"]) == (
        409, "duty_log.signed", {"entry": entry_id})
    fix = ok(console.api("POST", f"/api/duty-log/{entry_id}/corrections", "li",
                         json={"observed": {"fault": 1}, "remarks": "补记：2号泵故障", "reason": "漏看故障灯"}))
    assert fix["corrects"] == entry_id and fix["state"] == "open"
    handover = ok(console.api("POST", "/api/handovers", "li", json={"notes": "交班"}))
    assert [(e["id"], e["signatures"]) for e in handover["snapshot"]["duty_log_unsigned"]] == [(fix["id"], 0)], \
        "the handover lists what the shift leaves unsigned"

    printed = console.api("GET", "/api/duty-log?format=html", "boss")
    assert printed.status_code == 200 and "消防控制室值班记录" in printed.text and f"更正#{entry_id}" in printed.text
    csv_text = console.api("GET", "/api/duty-log?format=csv", "boss")
    assert csv_text.headers["content-type"].startswith("text/csv") and "wang" in csv_text.text
    monthly = ok(console.api("GET", "/api/reports/monthly", "boss"))
    assert "月报" in monthly["title"] and monthly["duty_log"]["due"] >= 1 and monthly["duty_log"]["signed"] == 1
    assert ok(console.api("GET", "/api/reports/monthly?site=north", "boss"))["duty_log"]["due"] == 0, "per site"
    assert console.api("GET", "/api/reports/monthly?month=2026-13", "boss").status_code == 422
    actions = audit_actions(console)
    assert actions.count("duty_log.sign") == 2 and "duty_log.countersign_failed" in actions
    assert "duty_log.correct" in actions and "duty_log.edit" in actions
    workers = {w["name"]: w for w in console.health()["workers"]}
    assert workers["duty_log"]["state"] == "running"
