"""What the pipeline and the task engine hand to the WebSocket hub after a commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HubMessage:
    type: str
    data: dict[str, Any]
