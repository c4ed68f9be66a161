"""SOPs as data: the pydantic schema of ``sops/*.yaml``, its cross-checks, and the loader.

An SOP is an ordered list of steps with roles, types, deadlines and what happens when a deadline
passes. Time limits are named in ``limits`` so that a site can override the proposed ones (P)
from its site file (``sops.limits``) without copying the SOP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from console import resources
from console.alarms.rules import CAN_RAISE
from console.errors import ConfigError
from console.settings import Settings

SOPS_DIR = resources.SOPS

SOP_ALARM_KINDS = frozenset(CAN_RAISE)

Role = Literal["operator_main", "operator_second", "guard", "supervisor", "project_manager", "engineering"]
StepType = Literal["check", "yes_no", "choice", "text", "dispatch", "photo", "call_record", "approval"]
_ID = r"^[a-z][a-z0-9_]{0,47}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in Simplified Chinese (shown first) and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Limit(Strict):
    seconds: int = Field(gt=0, le=7 * 24 * 3600)
    proposed: bool = Field(False, description="(P): no source sets it; a site may change it.")
    source: str = Field("", description="Fact ids from the domain document, e.g. F11.")


class Deadline(Strict):
    limit: str = Field(description="A name from the SOP's limits.")
    after: str = Field("alarm", description="'alarm', or 'step:<id>' of an earlier step.")


class OnDeadline(Strict):
    """What happens when a step's deadline passes with the step still open."""

    action: Literal["notify", "redispatch", "advance"]
    notify: list[Role] = Field(default_factory=list, description="Who is told (every action may tell).")
    answer: Literal["yes", "no"] | None = Field(
        None, description="advance on a yes_no step: the answer the deadline gives (an unconfirmed "
                          "fire at 3 minutes is handled as confirmed: answer yes)."
    )

    @model_validator(mode="after")
    def _needs(self) -> OnDeadline:
        if self.action == "notify" and not self.notify:
            raise ValueError("notify needs the roles to tell")
        return self


class When(Strict):
    """A step that applies only after an earlier yes_no step got this answer (a branch)."""

    step: str
    answer: Literal["yes", "no"]


class Choice(Strict):
    code: str = Field(pattern=_ID)
    text: Text


class Step(Strict):
    id: str = Field(pattern=_ID)
    role: Role
    type: StepType
    text: Text
    required: bool = Field(True, description="The task cannot close while it is open (when it applies).")
    when: When | None = None
    deadline: Deadline | None = None
    on_deadline: OnDeadline | None = None
    evidence: list[str] = Field(default_factory=list, description="What the step should leave behind.")
    choices: list[Choice] = Field(default_factory=list, description="choice: the cause codes offered.")
    fields: list[str] = Field(default_factory=list, description="call_record: the facts to record.")
    completed_by: Literal["alarm_ack", "arrival", "alarm_clear", "patrol_scan"] | None = Field(
        None, description="Done by the console itself: alarm_ack when the alarm is acknowledged, arrival "
                          "when the dispatched guard proves arrival (QR code or checkpoint), alarm_clear "
                          "when the device reports the condition over (detector back to normal, power "
                          "back, lift released), patrol_scan (a yes_no step, answered yes) when the "
                          "missed checkpoint is scanned after all. A dispatch step is always done by "
                          "dispatching a guard.",
    )
    recurring: bool = Field(
        False, description="Done again and again until the alarm clears: after each answer the step opens "
                           "once more, due its deadline's limit later (a compensating patrol every 2 h "
                           "while a fire point is isolated). The clear ends it.",
    )
    auto_assign: bool = Field(
        False, description="dispatch: send the nearest free guard as soon as the task opens (the "
                           "operator can still change the guard).",
    )

    @model_validator(mode="after")
    def _type_needs(self) -> Step:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice step offers at least two choices")
        if self.type == "call_record" and not self.fields:
            raise ValueError("a call_record step lists the facts to record")
        if self.on_deadline is not None and self.deadline is None:
            raise ValueError("on_deadline without a deadline")
        if self.deadline is not None and self.on_deadline is None:
            raise ValueError("a deadline says what happens when it passes (on_deadline)")
        if self.on_deadline is not None and self.on_deadline.action == "advance":
            if self.type == "yes_no" and self.on_deadline.answer is None:
                raise ValueError("advance on a yes_no step gives the answer the deadline takes")
            if self.type != "yes_no" and self.on_deadline.answer is not None:
                raise ValueError("only a yes_no step's deadline can give an answer")
        if self.on_deadline is not None and self.on_deadline.action == "redispatch" and self.role != "guard":
            raise ValueError("redispatch applies to a guard's step")
        if self.completed_by == "arrival" and self.role != "guard":
            raise ValueError("only a guard's step is completed by the guard's arrival")
        if self.completed_by == "patrol_scan" and self.type != "yes_no":
            raise ValueError("a step completed by a late patrol scan is a yes_no step (the scan answers yes)")
        if self.completed_by == "alarm_ack" and self.type != "check":
            raise ValueError("a step completed by the alarm's acknowledgement is a check step")
        if self.auto_assign and self.type != "dispatch":
            raise ValueError("auto_assign applies to a dispatch step")
        if self.completed_by == "alarm_clear" and (self.type != "check" or self.when is not None):
            # Open from the start, so that a clear that comes early is never missed.
            raise ValueError("a step completed by the alarm's clear is a check step with no when")
        if self.recurring:
            if self.type not in ("check", "photo", "text") or self.deadline is None:
                raise ValueError("a recurring step is a check, photo or text step with a deadline")
            if self.when is not None or self.completed_by is not None:
                raise ValueError("a recurring step has no when and no completed_by (the alarm's clear ends it)")
        return self


class Correlate(Strict):
    """Alarms of this SOP from several devices in one zone within a window are one incident."""

    by: Literal["zone"] = "zone"
    window_seconds: int = Field(600, gt=0, le=86400)
    answer: When | None = Field(
        None, description="What a second device in the zone settles (SOP 1: it confirms the fire).")


class Sop(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$")
    title: Text
    kind: Literal["alarm", "checklist"] = "alarm"
    applies_to: list[str] = Field(default_factory=list, description="Alarm kinds this SOP handles.")
    repeat: Literal["join", "reset", "new"] = Field(
        "join", description="A repeat of the alarm: joins the open task, resets it, or opens a new one."
    )
    sources: list[str] = Field(default_factory=list)
    limits: dict[str, Limit] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    close: Text | None = Field(None, description="What must be true to close.")
    correlate: Correlate | None = Field(None, description="Group alarms of several devices into one task.")
    false_alarm: When | None = Field(
        None, description="The answer that makes the alarm a false alarm (for the false-alarm ratio per device).",
    )

    @field_validator("applies_to")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if k not in SOP_ALARM_KINDS]
        if unknown:
            raise ValueError(f"not alarm kinds: {', '.join(unknown)}")
        return kinds

    @model_validator(mode="after")
    def _references(self) -> Sop:
        if self.kind == "alarm" and not self.applies_to:
            raise ValueError("an alarm SOP names the alarm kinds it applies to")
        ids = [step.id for step in self.steps]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate step ids: {', '.join(sorted(duplicates))}")
        for index, step in enumerate(self.steps):
            where = f"steps[{index}] ({step.id})"
            if step.deadline is not None:
                if step.deadline.limit not in self.limits:
                    raise ValueError(f"{where}: deadline names an unknown limit {step.deadline.limit!r}")
                after = step.deadline.after
                if after != "alarm":
                    if not after.startswith("step:") or after[5:] not in ids[:index]:
                        raise ValueError(f"{where}: deadline.after must be 'alarm' or 'step:<an earlier step>'")
            if step.when is not None:
                earlier = {s.id: s for s in self.steps[:index]}
                if step.when.step not in earlier or earlier[step.when.step].type != "yes_no":
                    raise ValueError(f"{where}: when.step must be an earlier yes_no step")
        if sum(1 for s in self.steps if s.type == "dispatch") > 1:
            raise ValueError("at most one dispatch step per SOP (a re-dispatch reuses it)")
        arrival = [i for i, s in enumerate(self.steps) if s.completed_by == "arrival"]
        dispatch = [i for i, s in enumerate(self.steps) if s.type == "dispatch"]
        if arrival and (not dispatch or arrival[0] < dispatch[0]):
            raise ValueError("a step completed by arrival needs a dispatch step before it")
        if self.correlate is not None and self.correlate.answer is not None:
            question = next((s for s in self.steps if s.id == self.correlate.answer.step), None)
            if question is None or question.type != "yes_no":
                raise ValueError("correlate.answer.step must be a yes_no step of this SOP")
        if self.false_alarm is not None:
            question = next((s for s in self.steps if s.id == self.false_alarm.step), None)
            if question is None or question.type != "yes_no":
                raise ValueError("false_alarm.step must be a yes_no step of this SOP")
        unused = set(self.limits) - {s.deadline.limit for s in self.steps if s.deadline}
        if unused:
            raise ValueError(f"limits never used by a step: {', '.join(sorted(unused))}")
        return self


class SopBook:
    """Every SOP, by id and by the alarm kind it handles, with the site file's limit overrides
    applied (``sops.limits``), and each site's own over those (``sites[].sop_limits``)."""

    def __init__(self, sops: list[Sop], overrides: dict[str, dict[str, int]] | None = None,
                 by_site: dict[str, dict[str, dict[str, int]]] | None = None):
        self.sops = {sop.id: sop for sop in sops}
        self.by_alarm = {kind: sop for sop in sops for kind in sop.applies_to}
        self.overrides = overrides or {}
        self.by_site = by_site or {}
        self._sites: dict[str, SopBook] = {}

    def limit_seconds(self, sop_id: str, limit: str) -> int:
        override = self.overrides.get(sop_id, {}).get(limit)
        return override if override is not None else self.sops[sop_id].limits[limit].seconds

    def for_site(self, site: str) -> SopBook:
        """The book as ``site``'s tasks run by it: its own limits where it has them."""
        own = self.by_site.get(site)
        if not own:
            return self
        if site not in self._sites:
            merged = {sop_id: {**self.overrides.get(sop_id, {}), **own.get(sop_id, {})}
                      for sop_id in set(self.overrides) | set(own)}
            self._sites[site] = SopBook(list(self.sops.values()), merged)
        return self._sites[site]


def _path(loc: tuple[object, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def load_sop_file(path: Path) -> Sop:
    """Parse and validate one SOP file; ConfigError names the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([(str(path), f"cannot read: {exc}")]) from exc
    try:
        return Sop.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([
            (f"{path}: {_path(err['loc'])}" if err["loc"] else str(path), err["msg"]) for err in exc.errors()
        ]) from exc


def load_sops(folder: Path = SOPS_DIR, overrides: dict[str, dict[str, int]] | None = None,
              by_site: dict[str, dict[str, dict[str, int]]] | None = None) -> SopBook:
    """Load every ``*.yaml`` in ``folder``; collect every problem before raising."""
    problems: list[tuple[str, str]] = []
    sops: list[Sop] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError([(str(folder), "no SOP files (*.yaml) found")])
    for path in files:
        try:
            sops.append(load_sop_file(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    seen: dict[str, str] = {}
    for sop in sops:
        if sop.id in seen:
            problems.append((sop.id, f"SOP id used twice ({seen[sop.id]})"))
        seen[sop.id] = sop.id
        for kind in sop.applies_to:
            owners = [s.id for s in sops if kind in s.applies_to]
            if len(owners) > 1 and owners[0] == sop.id:
                problems.append((sop.id, f"alarm kind {kind} is handled by several SOPs: {', '.join(owners)}"))
    covered = {kind for sop in sops for kind in sop.applies_to}
    for kind in sorted(set(CAN_RAISE) - covered):
        # A signal with no procedure is a signal nobody is told what to do with: refuse to run.
        problems.append((str(folder), f"alarm kind {kind} has no procedure (its alarms would open no task)"))
    by_id = {sop.id: sop for sop in sops}
    problems.extend(_limit_problems(by_id, overrides or {}, "sops.limits"))
    for site, limits in (by_site or {}).items():
        problems.extend(_limit_problems(by_id, limits, f"sites.{site}.sop_limits"))
    if problems:
        raise ConfigError(problems)
    return SopBook(sops, overrides, by_site)


def _limit_problems(by_id: dict[str, Sop], overrides: dict[str, dict[str, int]], where: str) -> list[tuple[str, str]]:
    problems = []
    for sop_id, limits in overrides.items():
        if sop_id not in by_id:
            problems.append((f"{where}.{sop_id}", "no SOP with this id"))
            continue
        for name, seconds in limits.items():
            if name not in by_id[sop_id].limits:
                problems.append((f"{where}.{sop_id}.{name}", f"SOP {sop_id} has no limit named {name!r}"))
            elif not isinstance(seconds, int) or seconds <= 0:
                problems.append((f"{where}.{sop_id}.{name}", "must be a positive number of seconds"))
    return problems


def load_site_sops(settings: Settings) -> SopBook:
    """The SOPs a site runs with: its folder (or the shipped one), its limit overrides, and each
    other site's own."""
    return load_sops(settings.sops.dir or SOPS_DIR, settings.sops.limits,
                     {entry.id: entry.sop_limits for entry in settings.sites if entry.sop_limits})
