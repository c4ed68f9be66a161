"""Remote commands settled by the device's own events, on a controlled clock through the real ingest
path and store (SQLite and PostgreSQL): a lift confirmed by the lane, one event confirming one
lift only, a duty check confirmed by the staff's answer among a panel's analog heartbeats, and a
command the device never answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from console.devices import commands
from console.store.tables import CommandRow


def sent(d: Any, command_id: str, kind: str, device: str, seconds: float) -> None:
    with d.store.write() as session, session.begin():
        commands.record_sent(session, d.settings, command_id=command_id, kind=kind, device_id=device, reason="测试",
                             user="op", sent_at=d.at(seconds), now=d.now)


def settle(d: Any, seconds: float) -> dict[str, tuple[str, int | None]]:
    with d.store.write() as session, session.begin():
        commands.settle(session, d.at(seconds))
    with d.store.read() as session:
        return {row.id: (row.state, row.event_id) for row in session.scalars(select(CommandRow))}


def test_one_barrier_opening_confirms_one_lift_and_an_unanswered_one_is_not_confirmed(desk: Any) -> None:
    d = desk()
    sent(d, "lift-1", commands.BARRIER, "lane-in", 0)
    sent(d, "lift-2", commands.BARRIER, "lane-in", 1)
    d.at(2)
    d.send("lane-in", "parking.barrier_opened")
    states = settle(d, 3)
    assert states["lift-1"][0] == "confirmed" and states["lift-1"][1] is not None
    assert states["lift-2"] == ("sent", None), "the same opening does not confirm the second lift"
    assert settle(d, 15.9)["lift-2"] == ("sent", None)
    assert settle(d, 16)["lift-2"] == ("not_confirmed", None), "15 s after it was sent"
    actions = [r.action for r in d.audit_rows()]
    assert actions.count("command.sent") == 2 and "command.confirmed" in actions and "command.not_confirmed" in actions


def test_a_duty_check_is_confirmed_by_the_answer_not_by_the_panels_analog_heartbeats(desk: Any) -> None:
    d = desk()
    sent(d, "check-1", commands.DUTY_CHECK, "fp-1", 0)
    for n in range(25):
        d.at(1 + n)
        d.send("fp-1", "device.heartbeat", f"1-1-{n}", via="analog", value=float(n))
    assert settle(d, 30)["check-1"] == ("sent", None)
    d.at(40)
    d.send("fp-1", "device.heartbeat", "", via="duty_check")
    state, event_id = settle(d, 41)["check-1"]
    assert state == "confirmed" and event_id is not None
