"""What the task engine's actions return, and its errors: shared by the task and dispatch code."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.messages import HubMessage
from console.store.tables import TaskRow
from console.tasks.machine import TaskError, TaskMachine
from console.tasks.sop import Sop

SYSTEM = "system"
"""The actor of what the console does by itself (deadlines, auto-dispatch)."""


class NotFound(TaskError):
    """No such task, dispatch or guard (the API answers 404)."""

    status = 404


class Forbidden(TaskError):
    """The user's role may not take this action on this task (the API answers 403)."""

    status = 403


@dataclass(frozen=True)
class Notice:
    """A message to people outside the console (group bots, e-mail), sent after the commit."""

    task_id: int
    kind: str  # dispatch, deadline, escalation, no_guard, advanced
    title: str
    body: str
    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    drill: bool = False


@dataclass
class Outcome:
    hub: list[HubMessage] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    touched: dict[int, TaskRow] = field(default_factory=dict)
    replayed: bool = False
    """True when the request repeated an action already applied (same action key)."""


@dataclass
class Loaded:
    """A task row with its SOP and its state machine rebuilt, ready to act on."""

    row: TaskRow
    sop: Sop
    machine: TaskMachine
