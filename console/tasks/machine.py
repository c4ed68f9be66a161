"""The handling-task state machine for one SOP: step states, due times, answers, deadlines, close.

Pure logic on an explicit clock: nothing here reads the time or touches the store. Due times are
plain datetimes, so a caller that stores them and calls ``fire_due(now)`` after a restart fires a
deadline that passed while it was down at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from console.errors import Refusal
from console.tasks.sop import Sop, SopBook, Step

StepStatus = Literal["pending", "open", "done", "skipped"]
CLOSE_OVERRIDE_ROLES = frozenset({"supervisor", "admin"})


class TaskError(Refusal):
    """An action the task cannot take (wrong answer type, closed task, required steps open)."""

    status = 409


@dataclass
class StepState:
    id: str
    status: StepStatus = "pending"
    """pending: its branch is not decided yet; open: to do; done; skipped: its branch was not taken."""
    answer: Any = None
    actor: str | None = None
    done_at: datetime | None = None
    due_at: datetime | None = None
    deadline_fired: bool = False
    rounds: int = 0
    """A recurring step: how many times it has been done."""


@dataclass(frozen=True)
class Effect:
    """Something the engine must do outside the task: tell people, send another guard."""

    kind: Literal["notify", "redispatch", "advanced"]
    step: str
    roles: tuple[str, ...] = ()
    answer: str | None = None


@dataclass
class TaskMachine:
    sop: Sop
    book: SopBook
    opened_at: datetime
    steps: dict[str, StepState] = field(default_factory=dict)
    repeats: int = 0
    closed_at: datetime | None = None
    close_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.steps:
            self.steps = {step.id: StepState(step.id) for step in self.sop.steps}
        self._refresh(self.opened_at)

    # -- reading ---------------------------------------------------------------------------------

    def step(self, step_id: str) -> Step:
        for step in self.sop.steps:
            if step.id == step_id:
                return step
        raise TaskError("step.unknown", f"SOP {self.sop.id} has no step {step_id!r}", sop=self.sop.id, step=step_id)

    def open_required(self) -> list[str]:
        return [s.id for s in self.sop.steps if s.required and self.steps[s.id].status in ("open", "pending")]

    def next_due(self) -> datetime | None:
        dues = [s.due_at for s in self.steps.values() if s.due_at and not s.deadline_fired and s.status == "open"]
        return min(dues) if dues else None

    # -- acting ----------------------------------------------------------------------------------

    def answer(self, step_id: str, value: Any, actor: str, at: datetime) -> None:
        """Record a step's answer; the value must fit the step's type."""
        self._require_open_task()
        step = self.step(step_id)
        state = self.steps[step_id]
        if state.status != "open":
            raise TaskError("step.not_open", f"step {step_id} is {state.status}, not open", step=step_id, state=state.status)
        state.answer = _checked_answer(step, value)
        state.status, state.actor, state.done_at = "done", actor, at
        if step.recurring:
            # Done for this round: it opens again, due a full period from now, until the alarm clears.
            assert step.deadline is not None  # the schema gives every recurring step one
            state.rounds += 1
            state.status, state.deadline_fired = "open", False
            state.due_at = at + timedelta(seconds=self.book.limit_seconds(self.sop.id, step.deadline.limit))
        self._refresh(at)

    def fire_due(self, now: datetime) -> list[Effect]:
        """Apply every deadline due at ``now`` (also those that fell due while nobody looked)."""
        effects: list[Effect] = []
        while True:
            due = sorted(
                (s for s in self.steps.values()
                 if s.status == "open" and s.due_at is not None and not s.deadline_fired and s.due_at <= now),
                key=lambda s: s.due_at,  # type: ignore[arg-type, return-value]  # due_at is set: filtered above
            )
            if not due or self.closed_at is not None:
                return effects
            state = due[0]
            state.deadline_fired = True
            rule = self.step(state.id).on_deadline
            assert rule is not None  # the schema pairs every deadline with an on_deadline
            if rule.action == "advance":
                if rule.answer is not None:
                    state.answer = rule.answer
                state.status, state.actor, state.done_at = "done", "deadline", state.due_at
                effects.append(Effect("advanced", state.id, tuple(rule.notify), rule.answer))
                self._refresh(state.due_at or now)
            elif rule.action == "redispatch":
                effects.append(Effect("redispatch", state.id, tuple(rule.notify)))
            else:
                effects.append(Effect("notify", state.id, tuple(rule.notify)))

    def complete_by(self, trigger: str, actor: str, at: datetime, value: Any = None) -> list[str]:
        """The console did what an open step asks (``alarm_ack``, ``arrival``, ``alarm_clear``, or
        ``dispatch`` for the dispatch step): mark those steps done; return their ids. The alarm's
        clear also ends the recurring steps (their last answer is kept)."""
        if self.closed_at is not None:
            return []
        done = []
        for step in self.sop.steps:
            state = self.steps[step.id]
            if trigger == "alarm_clear" and step.recurring and state.status == "open":
                state.status, state.due_at, state.deadline_fired = "done", None, False
                done.append(step.id)
                continue
            matches = (step.type == "dispatch") if trigger == "dispatch" else step.completed_by == trigger
            if matches and state.status == "open":
                state.answer = value if value is not None else True
                state.status, state.actor, state.done_at = "done", actor, at
                done.append(step.id)
        if done:
            self._refresh(at)
        return done

    def rearm(self, step_id: str, at: datetime) -> None:
        """Start a fired deadline again from ``at`` (a re-dispatched guard gets the full time)."""
        step, state = self.step(step_id), self.steps[step_id]
        if state.status == "open" and step.deadline is not None:
            state.due_at = at + timedelta(seconds=self.book.limit_seconds(self.sop.id, step.deadline.limit))
            state.deadline_fired = False

    def repeat(self, at: datetime) -> None:
        """The alarm came again while the task is open: what the SOP says a repeat does."""
        self._require_open_task()
        self.repeats += 1
        if self.sop.repeat == "reset":
            self.opened_at = at
            for state in self.steps.values():
                if state.status == "open":
                    state.due_at, state.deadline_fired = None, False
            self._refresh(at)

    def close(self, actor: str, role: str, at: datetime, reason: str | None = None) -> None:
        """Close; refused while a required step is open, unless a supervisor gives a reason."""
        self._require_open_task()
        missing = self.open_required()
        if missing:
            if role not in CLOSE_OVERRIDE_ROLES:
                raise TaskError("task.required_open", f"required steps are still open: {', '.join(missing)}; "
                                "only a supervisor can close it now, with a reason", steps=", ".join(missing))
            if not reason or not reason.strip():
                raise TaskError("task.close_needs_reason", "closing with required steps open needs a reason")
        self.closed_at, self.close_reason = at, reason

    # -- storing -------------------------------------------------------------------------------

    def dump_steps(self) -> list[dict[str, Any]]:
        """The step states as JSON-ready dicts, in SOP order (what the store keeps)."""
        return [
            {"id": s.id, "status": s.status, "answer": s.answer, "actor": s.actor,
             "done_at": _iso(s.done_at), "due_at": _iso(s.due_at), "deadline_fired": s.deadline_fired,
             **({"rounds": s.rounds} if s.rounds else {})}
            for s in (self.steps[step.id] for step in self.sop.steps)
        ]

    @classmethod
    def load(cls, sop: Sop, book: SopBook, opened_at: datetime, steps: list[dict[str, Any]],
             repeats: int = 0, closed_at: datetime | None = None, close_reason: str | None = None) -> TaskMachine:
        """Rebuild from stored step states. Steps the SOP gained since are added; steps it lost are dropped."""
        stored = {item["id"]: item for item in steps}
        states = {}
        for step in sop.steps:
            item = stored.get(step.id)
            states[step.id] = StepState(step.id) if item is None else StepState(
                step.id, item["status"], item.get("answer"), item.get("actor"),
                _parse(item.get("done_at")), _parse(item.get("due_at")), bool(item.get("deadline_fired")),
                int(item.get("rounds", 0)),
            )
        return cls(sop, book, opened_at, states, repeats, closed_at, close_reason)

    # -- internals -------------------------------------------------------------------------------

    def _require_open_task(self) -> None:
        if self.closed_at is not None:
            raise TaskError("task.closed", "the task is closed")

    def _refresh(self, at: datetime) -> None:
        """Decide branches and due times from what is answered so far."""
        for step in self.sop.steps:
            state = self.steps[step.id]
            if state.status in ("done",):
                continue
            if step.when is not None:
                question = self.steps[step.when.step]
                if question.status != "done":
                    state.status = "skipped" if question.status == "skipped" else "pending"
                    continue
                if question.answer != step.when.answer:
                    state.status = "skipped"
                    continue
            state.status = "open"
            if step.deadline is not None and state.due_at is None:
                start = self._deadline_start(step)
                if start is not None:
                    seconds = self.book.limit_seconds(self.sop.id, step.deadline.limit)
                    state.due_at = start + timedelta(seconds=seconds)

    def _deadline_start(self, step: Step) -> datetime | None:
        assert step.deadline is not None
        if step.deadline.after == "alarm":
            return self.opened_at
        return self.steps[step.deadline.after.removeprefix("step:")].done_at


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _checked_answer(step: Step, value: Any) -> Any:
    if step.type == "yes_no":
        if value not in ("yes", "no"):
            raise TaskError("answer.yes_no", f"step {step.id} takes 'yes' or 'no'", step=step.id)
    elif step.type == "choice":
        codes = [choice.code for choice in step.choices]
        if value not in codes:
            raise TaskError("answer.choice", f"step {step.id} takes one of: {', '.join(codes)}", step=step.id)
    elif step.type == "call_record":
        if not isinstance(value, dict) or any(not str(value.get(f, "")).strip() for f in step.fields):
            raise TaskError("answer.call_record", f"step {step.id} records every one of: {', '.join(step.fields)}",
                            step=step.id)
    elif step.type == "text":
        if not isinstance(value, str) or not value.strip():
            raise TaskError("answer.text", f"step {step.id} needs a text", step=step.id)
    return value
