"""GET /api/snapshots/{id}: a camera snapshot's JPEG, for the site's watchers and the guard sent to its alarm."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from console.api.deps import ReadSession, RowId, Viewer, seen_or_missing
from console.errors import Refusal
from console.people import auth
from console.store.tables import AlarmRow, DispatchRow, EventRow, SnapshotRow

router = APIRouter(prefix="/api", tags=["cameras"])


@router.get("/snapshots/{snapshot_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}, 304: {"description": "Not modified (If-None-Match)."}})
def get_snapshot(snapshot_id: RowId, request: Request, session: ReadSession, user: Viewer) -> Response:
    row = session.get(SnapshotRow, snapshot_id)
    missing = Refusal("snapshot.not_found", f"no snapshot {snapshot_id}", status=404, snapshot=snapshot_id)
    if row is None:
        raise missing
    # A snapshot is of its alarm's site (or its event's): another site's is no snapshot at all.
    if user.sites is not None:
        site = session.scalar(select(AlarmRow.site).where(AlarmRow.id == row.alarm_id)) if row.alarm_id is not None \
            else session.scalar(select(EventRow.site).where(EventRow.id == row.event_id))
        seen_or_missing(user, site, missing)
    if user.role not in auth.WATCH_SITE:
        # A guard sees the pictures of the alarm whose task they were sent to, nothing else.
        task_id = session.scalar(select(AlarmRow.task_id).where(AlarmRow.id == row.alarm_id)) \
            if row.alarm_id is not None else None
        mine = task_id is not None and session.scalar(
            select(DispatchRow.id).where(DispatchRow.task_id == task_id, DispatchRow.guard == user.username)
            .limit(1)) is not None
        if not mine:
            raise Refusal("snapshot.not_yours", "a guard sees only the snapshots of their own task", status=403)
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "X-Content-SHA256": row.sha256, "Cache-Control": "private, max-age=86400",
               "X-Content-Type-Options": "nosniff"}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(row.image, media_type=row.content_type, headers=headers)
