"""The load schedule of the sites benchmark: a steady rate with bursts, as phases on a clock that
starts at 0, and how many events a publisher owes by a given time. Pure arithmetic (unit-tested)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    kind: str  # "steady" (before the first burst), "burst", or "after" (the steady rate after a burst)
    start: float  # seconds from the schedule's start
    end: float
    rate: float  # events/s, all publishers together

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def planned(self) -> int:
        return round(self.rate * self.seconds)


def plan(steady_seconds: float, steady_rate: float, burst_seconds: float, burst_rate: float,
         bursts: int = 1) -> list[Phase]:
    """Steady for ``steady_seconds``, then per burst: the burst, and the steady rate again as long."""
    phases = [Phase("steady", 0.0, steady_seconds, steady_rate)]
    for _ in range(bursts):
        t = phases[-1].end
        phases.append(Phase("burst", t, t + burst_seconds, burst_rate))
        phases.append(Phase("after", t + burst_seconds, t + burst_seconds + steady_seconds, steady_rate))
    return phases


def phase_at(phases: list[Phase], t: float) -> int | None:
    """The index of the phase running at ``t`` (None before the start and after the end)."""
    return next((i for i, p in enumerate(phases) if p.start <= t < p.end), None)


def due(phase: Phase, t: float, share: float = 1.0) -> int:
    """How many of the phase's events a publisher with ``share`` of its rate owes by ``t``. A publisher
    that falls behind sends what it owes as fast as it can, but only until the phase ends: what it
    could not send is not sent, so the rate offered is what the load generator really managed."""
    elapsed = min(max(t, phase.start), phase.end) - phase.start
    return int(elapsed * phase.rate * share)


def kinds(phases: list[Phase]) -> list[str]:
    """The phase kinds in order of first appearance (the rows of the table)."""
    return list(dict.fromkeys(p.kind for p in phases))
