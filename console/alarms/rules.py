"""Which event kinds raise an alarm (and how severe), and which kinds clear which alarms.

Severity ranks: 1 critical (life safety: fire, gas, people trapped in a lift, duress), 2 major,
3 minor, 4 warning. Fire comes first: nothing ranks above a fire alarm, and fire kinds are never
merged away. Every kind that can raise an alarm has a procedure (sops/; a contract test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.contract import ALL_KINDS, family

SEVERITY_RANK: dict[str, int] = {"critical": 1, "major": 2, "minor": 3, "warning": 4}

RAISES: dict[str, str] = {
    "fire.alarm": "critical",
    "safety.gas": "critical",
    "elevator.trapped": "critical",
    "access.duress": "critical",
    "fire.supervisory": "major",
    "fire.feedback": "major",
    "fire.fault": "major",
    "access.door_forced": "major",
    "access.tamper": "major",
    "safety.water_leak": "major",
    "power.failure": "major",
    # A missed checkpoint may be a guard in trouble (SOP 13 checks on the guard first).
    "patrol.checkpoint_missed": "major",
    "patrol.round_missed": "major",
    # Something a guard found on a round that needs work (a failed checklist item): a work order.
    "patrol.defect": "minor",
    "access.door_held_open": "minor",
    "parking.barrier_fault": "minor",
    "parking.unpaid_exit": "minor",
    "device.offline": "minor",
    "device.fault": "minor",
    "camera.offline": "minor",
    "camera.tamper": "minor",
    "elevator.fault": "minor",
    "fire.isolated": "warning",
    "device.battery_low": "warning",
}

DERIVED: dict[str, str] = {"access.denied_burst": "major", "parking.plate_blocked": "major"}
"""Alarm kinds no single event carries: the console's own rules raise them (console/alarms/derived.py)."""

CAN_RAISE: dict[str, str] = {**RAISES, **DERIVED}
"""The catalogue of every alarm kind and its severity: each one must have a procedure."""

LIFE_SAFETY: frozenset[str] = frozenset({"fire.alarm", "safety.gas", "elevator.trapped", "access.duress"})
"""People may be in danger: never shelved, never rate-limited, their task opens at once."""

MOMENTARY: frozenset[str] = frozenset({"patrol.checkpoint_missed", "patrol.round_missed", "patrol.defect"})
"""Kinds no later event clears (a round that was missed stays missed): raised already cleared, they
leave the live queue once acknowledged, and their task carries on."""

# Kinds that clear alarms on the same device and point without naming them in data.of.
CLEARS_IMPLICITLY: dict[str, frozenset[str]] = {
    "access.door_closed": frozenset({"access.door_held_open", "access.door_forced"}),
    "device.online": frozenset({"device.offline"}),
    "camera.online": frozenset({"camera.offline"}),
}

RESTORE_KINDS = frozenset(k for k in ALL_KINDS if k.endswith(".restore"))


@dataclass(frozen=True)
class ClearSpec:
    kinds: frozenset[str]
    all_points: bool = False
    """True when the clear covers every point of the device (a panel reset)."""


def clear_spec(kind: str, of: str | None) -> ClearSpec | None:
    """What an event of ``kind`` (with ``data.of``) clears, or None if it clears nothing."""
    if kind in RESTORE_KINDS:
        if of is not None:
            return ClearSpec(frozenset({of}))
        fam = family(kind)
        return ClearSpec(frozenset(k for k in RAISES if family(k) == fam))
    if kind == "fire.reset":
        return ClearSpec(frozenset(k for k in RAISES if family(k) == "fire"), all_points=True)
    if kind in CLEARS_IMPLICITLY:
        return ClearSpec(CLEARS_IMPLICITLY[kind])
    return None


# Every kind that can raise or clear something; the others skip the alarm engine entirely.
ALARM_KINDS: frozenset[str] = frozenset(RAISES) | RESTORE_KINDS | frozenset(CLEARS_IMPLICITLY) | {"fire.reset"}
