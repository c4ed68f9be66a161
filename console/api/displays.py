"""GET /api/displays: the wall displays and their heartbeats (live, stale or disconnected)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from console.api.deps import RuntimeDep, require
from console.people import auth

router = APIRouter(tags=["displays"])
Watchers = Annotated[auth.User, require(auth.ACT_ON_ALARMS)]


@router.get("/api/displays")
def list_displays(runtime: RuntimeDep, _user: Watchers) -> list[dict[str, Any]]:
    """Every display that sent a heartbeat since the console started: ``[{display, name, user,
    address, state, sound, build, last_at, lag_ms, alarms, last_seq, page}]``."""
    return runtime.displays.views(runtime.now())
