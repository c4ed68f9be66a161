"""Handling tasks. The task engine (SOP steps, deadlines, dispatch) is not built yet: every alarm
has ``task_id: null`` and this endpoint answers 404 until it is."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from console.api.deps import Viewer

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("/{task_id}")
def get_task(task_id: int, _user: Viewer) -> dict[str, object]:
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id}")
