"""What the parts of the console hand each other: the changes a commit sends to the hub
(``HubMessage``), and the one way into the alarm path for what the console concludes itself
(``AlarmPath``: a device silent past its budget, a camera's picture, a GB/T 26875.3 link)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from console.contract import Draft


@dataclass(frozen=True)
class HubMessage:
    type: str
    data: dict[str, Any]


class AlarmPath(Protocol):
    """The single writer (console/wire/writer.py), as the console's own watchers see it: they hand
    over what they observed and never write the alarm path themselves."""

    def observe(self, drafts: list[Draft], *, silenced: bool = False, at: datetime | None = None) -> None:
        """Store these events the console observed, raise and clear their alarms, open their tasks.
        ``silenced``: the devices were taken offline for silence (their next message brings them back).
        ``at``: their receive time (default: the first draft's time)."""
        ...

    def settle_flapping(self, now: datetime) -> None:
        """Clear the damped offline alarms of devices that have been back long enough by ``now``."""
        ...

    @property
    def backlog(self) -> int:
        """Messages waiting to be written (signs of life not yet recorded)."""
        ...

    @property
    def silent(self) -> frozenset[tuple[str, str]]:
        """(site, device) taken offline for silence, as of the last write."""
        ...
