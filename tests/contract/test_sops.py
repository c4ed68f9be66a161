"""Every shipped SOP validates; the 13 alarm procedures and the handover exist; broken ones are
reported by `mcc check-config` with the file and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.__main__ import main
from console.alarms.engine import never_shelved
from console.alarms.rules import CAN_RAISE, LIFE_SAFETY, RAISES
from console.contract import ALL_KINDS
from console.errors import ConfigError
from console.tasks.sop import SOPS_DIR, Sop, load_sop_file, load_sops

# The alarm kinds the domain documents give a procedure for (SOP tables 1–19).
REQUIRED_ALARM_KINDS = {
    "fire.alarm", "fire.fault", "fire.supervisory", "fire.feedback", "device.offline",
    "access.door_forced", "access.door_held_open", "access.denied_burst", "access.duress",
    "parking.barrier_fault", "parking.plate_blocked", "parking.unpaid_exit", "camera.offline",
    "patrol.checkpoint_missed", "patrol.round_missed",
    "safety.gas", "safety.water_leak", "elevator.trapped", "access.tamper", "fire.isolated",
    "device.fault", "device.battery_low", "power.failure",
}
FILES = sorted(SOPS_DIR.glob("*.yaml"))
REFERENCE = yaml.safe_load((SOPS_DIR / "fire_alarm.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sop_file_validates(path: Path) -> None:
    sop = load_sop_file(path)
    assert all(step.text.zh and step.text.en for step in sop.steps)


def test_the_procedures_of_the_domain_document_are_all_there() -> None:
    book = load_sops()
    assert REQUIRED_ALARM_KINDS <= set(book.by_alarm), sorted(REQUIRED_ALARM_KINDS - set(book.by_alarm))
    assert book.sops["shift.handover"].kind == "checklist"


def test_every_kind_that_can_raise_an_alarm_has_a_procedure() -> None:
    """The catalogue of kinds walked whole: a new alarm kind without an SOP fails here, so no signal
    reaches the wall with nobody told what to do about it."""
    book = load_sops()
    missing = sorted(kind for kind in CAN_RAISE if kind not in book.by_alarm)
    assert missing == [], f"alarm kinds with no procedure: {missing}"
    assert set(RAISES) <= ALL_KINDS, "an alarm raised by an event is a canonical kind"
    assert set(book.by_alarm) <= set(CAN_RAISE), "an SOP for a kind nothing raises is dead"


def test_life_safety_kinds_are_critical_never_shelved_and_send_a_guard_at_once() -> None:
    book = load_sops()
    assert LIFE_SAFETY == {"fire.alarm", "safety.gas", "elevator.trapped", "access.duress"}
    for kind in LIFE_SAFETY:
        assert CAN_RAISE[kind] == "critical" and never_shelved(kind), kind
        dispatch = [step for step in book.by_alarm[kind].steps if step.type == "dispatch"]
        assert dispatch and dispatch[0].when is None, f"{kind}: a guard is sent whatever the answers"
    for kind in ("safety.gas", "elevator.trapped", "fire.alarm"):  # duress: two guards, chosen by the operator
        assert next(s for s in book.by_alarm[kind].steps if s.type == "dispatch").auto_assign, kind
    assert not never_shelved("safety.water_leak") and not never_shelved("device.battery_low")


def test_the_lift_contractor_has_thirty_minutes_and_two_hours_is_an_accident() -> None:
    book = load_sops()
    sop = book.by_alarm["elevator.trapped"]
    assert book.limit_seconds(sop.id, "contractor_on_site") == 1800  # TSG T5002-2017, a city (F44)
    assert book.limit_seconds(sop.id, "accident") == 7200  # F45
    elsewhere = load_sops(overrides={"elevator.trapped": {"contractor_on_site": 3600}})
    assert elsewhere.limit_seconds(sop.id, "contractor_on_site") == 3600


def test_an_isolated_point_is_patrolled_every_two_hours_until_restored() -> None:
    sop = load_sops().by_alarm["fire.isolated"]
    patrol = next(step for step in sop.steps if step.recurring)
    assert patrol.deadline is not None and sop.limits[patrol.deadline.limit].seconds == 7200
    assert [s.id for s in sop.steps if s.completed_by == "alarm_clear"] == ["restored"]


def test_fire_sop_escalates_an_unconfirmed_fire_at_three_minutes() -> None:
    sop = load_sops().sops["fire.alarm"]
    confirm = next(step for step in sop.steps if step.id == "confirm")
    assert confirm.deadline is not None and sop.limits[confirm.deadline.limit].seconds == 180
    assert confirm.on_deadline is not None
    assert (confirm.on_deadline.action, confirm.on_deadline.answer) == ("advance", "yes")
    call = next(step for step in sop.steps if step.id == "call_119")
    assert call.when is not None and (call.when.step, call.when.answer) == ("confirm", "yes")
    assert len(call.fields) == 5  # the five facts of a 119 call (F4)


def test_a_site_can_override_a_proposed_limit() -> None:
    book = load_sops(overrides={"fire.alarm": {"confirm": 120}})
    assert book.limit_seconds("fire.alarm", "confirm") == 120
    assert book.limit_seconds("fire.alarm", "ack") == 30


def broken(change: Any) -> dict[str, Any]:
    sop = copy.deepcopy(REFERENCE)
    change(sop)
    return sop


def step(sop: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in sop["steps"] if s["id"] == step_id)


BROKEN: list[tuple[str, Any, str]] = [
    ("unknown role", lambda s: step(s, "ack").update(role="janitor"), "role"),
    ("unknown step type", lambda s: step(s, "ack").update(type="pray"), "type"),
    ("deadline on an unknown limit", lambda s: step(s, "ack")["deadline"].update(limit="soon"), "unknown limit"),
    ("deadline after a later step", lambda s: step(s, "arrive")["deadline"].update(after="step:sign"),
     "earlier step"),
    ("a yes_no advance without an answer", lambda s: step(s, "confirm")["on_deadline"].pop("answer"),
     "gives the answer"),
    ("a branch on a step that is not yes_no", lambda s: step(s, "cause")["when"].update(step="ack"),
     "earlier yes_no step"),
    ("duplicate step ids", lambda s: step(s, "cctv").update(id="ack"), "duplicate step ids"),
    ("a choice with one choice", lambda s: step(s, "cause").update(choices=step(s, "cause")["choices"][:1]),
     "at least two choices"),
    ("a call record without its facts", lambda s: step(s, "call_119").update(fields=[]), "facts to record"),
    ("missing English", lambda s: step(s, "ack")["text"].pop("en"), "text.en"),
    ("an unknown alarm kind", lambda s: s.update(applies_to=["fire.smoke"]), "not alarm kinds"),
    ("an unknown key", lambda s: s.update(colour="red"), "colour"),
    ("an unused limit", lambda s: s["limits"].update(lunch={"seconds": 3600}), "never used"),
    ("a redispatch of an operator step", lambda s: step(s, "ack")["on_deadline"].update(action="redispatch"),
     "guard"),
    ("arrival completing an operator step", lambda s: step(s, "cctv").update(completed_by="arrival"),
     "completed by the guard's arrival"),
    ("auto_assign on a check step", lambda s: step(s, "cctv").update(auto_assign=True), "applies to a dispatch"),
    ("two dispatch steps", lambda s: step(s, "cctv").update(type="dispatch"), "at most one dispatch step"),
    ("arrival with no dispatch before it", lambda s: (
        s.update(steps=[x for x in s["steps"] if x["id"] != "dispatch"]),
        step(s, "arrive")["deadline"].update(after="alarm")), "dispatch step before it"),
    ("a clear-completed step behind a branch", lambda s: step(s, "reset").update(completed_by="alarm_clear"),
     "check step with no when"),
    ("a recurring step with no deadline", lambda s: step(s, "cctv").update(recurring=True),
     "a recurring step is a check, photo or text step with a deadline"),
    ("a recurring yes/no step", lambda s: step(s, "confirm").update(recurring=True),
     "a recurring step is a check, photo or text step with a deadline"),
    ("a false alarm answer on a choice step", lambda s: s.update(false_alarm={"step": "cause", "answer": "no"}),
     "false_alarm.step must be a yes_no step"),
]


@pytest.mark.parametrize(("name", "change", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_sop_is_refused_with_a_reason(name: str, change: Any, message: str) -> None:
    with pytest.raises(Exception) as raised:
        Sop.model_validate(broken(change))
    assert message in str(raised.value), name


def test_check_config_reports_a_broken_sop_with_its_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sops"
    folder.mkdir()
    for path in FILES:
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "fire_alarm.yaml").write_text(
        yaml.safe_dump(broken(lambda s: step(s, "arrive").update(role="robot")), allow_unicode=True),
        encoding="utf-8")
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: demo}\nsops:\n  dir: sops\n  limits: {access.duress: {nope: 5}}\n")
    assert main(["check-config", str(site)]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'fire_alarm.yaml'}: steps[3].role" in err
    assert "sops.limits.access.duress.nope" in err or "sops.limits.access.duress: no SOP" in err


def test_a_site_folder_missing_a_procedure_is_refused_by_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sops"
    folder.mkdir()
    for path in FILES:
        if path.name != "gas_leak.yaml":
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: demo}\nsops:\n  dir: sops\n")
    assert main(["check-config", str(site)]) == 1
    assert "alarm kind safety.gas has no procedure" in capsys.readouterr().err


def test_an_empty_sop_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no SOP files"):
        load_sops(tmp_path)
