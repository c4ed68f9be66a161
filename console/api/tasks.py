"""Handling tasks: read them, answer steps, comment, attach photos, dispatch guards, close.

Every write takes an optional ``action_id`` (any unique string the client makes up): a phone that
retries a request after a dropped connection gets the task back without the action being applied
twice. Errors the operator can fix come back as 409 with a sentence saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    TaskReader,
    client_address,
    of_sites,
    require,
    seen_or_missing,
)
from console.errors import Refusal
from console.people import auth
from console.runtime import Runtime
from console.store.tables import DispatchRow, EvidenceRow, TaskLogRow, TaskRow
from console.tasks.outcome import Outcome
from console.tasks.views import task_detail, task_summary

router = APIRouter(prefix="/api", tags=["tasks"])
TaskActor = Annotated[auth.User, require(auth.ACT_ON_ALARMS | {"guard"})]
ActionId = Field(None, min_length=1, max_length=80,
                 description="Client-made id; a retry with the same id is not applied twice.")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(None, description="yes/no, a choice code, a text, the call-record fields; "
                                         "nothing for a check step")
    action_id: str | None = ActionId


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)
    action_id: str | None = ActionId


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000, description="Needed to close with required steps open.")
    action_id: str | None = ActionId


class DispatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guard: str | None = Field(None, max_length=64, description="Empty: the nearest free guard on shift.")
    action_id: str | None = ActionId


def run_action(runtime: Runtime, action: Callable[[Session], Outcome], user: auth.User | None = None,
               task_id: int | None = None) -> Outcome:
    """One write transaction; after the commit, hub messages and notices go out. With ``user`` and
    ``task_id``: a task of a site the user does not work for is refused as one that does not exist."""
    with runtime.store.write() as session, session.begin():
        if user is not None and task_id is not None:
            task_of_their_sites(session, user, task_id)
        outcome = action(session)
    runtime.outlet.deliver(outcome)
    return outcome


def load_detail(session: Session, runtime: Runtime, task_id: int, user: auth.User | None = None) -> dict[str, Any]:
    """The task with its steps, log, dispatches and evidence. A guard's copy leaves out the scene's
    location code: scanning the label at the scene is the proof of arrival, so the phone must not
    be able to show it."""
    row = session.get(TaskRow, task_id)
    if row is None:
        raise Refusal("task.not_found", f"no task {task_id}", status=404, task=task_id)
    sop = runtime.tasks.book.sops.get(row.sop_id)
    log = session.scalars(select(TaskLogRow).where(TaskLogRow.task_id == task_id).order_by(TaskLogRow.id)).all()
    dispatches = session.scalars(select(DispatchRow).where(DispatchRow.task_id == task_id)
                                 .order_by(DispatchRow.id)).all()
    evidence = session.scalars(select(EvidenceRow).where(EvidenceRow.task_id == task_id)
                               .order_by(EvidenceRow.id)).all()
    scene = runtime.tasks.records.scene_of(row)
    code = None if user is not None and user.role == "guard" else runtime.tasks.records.tags.code(session, row.site,
                                                                                                place=scene)
    return task_detail(row, sop, runtime.registry, list(log), list(dispatches), list(evidence), code)


def task_of_their_sites(session: Session, user: auth.User, task_id: int) -> None:
    """A task of another site than the user's is, to them, no task at all (404)."""
    if user.sites is not None:
        site = session.scalar(select(TaskRow.site).where(TaskRow.id == task_id))
        seen_or_missing(user, site, Refusal("task.not_found", f"no task {task_id}", status=404, task=task_id))


def guard_may_see(session: Session, user: auth.User, task_id: int) -> None:
    """A guard sees only the tasks they were dispatched to; anyone, only their sites' tasks."""
    task_of_their_sites(session, user, task_id)
    if user.role != "guard":
        return
    mine = session.scalar(select(DispatchRow.id).where(DispatchRow.task_id == task_id,
                                                       DispatchRow.guard == user.username).limit(1))
    if mine is None:
        raise Refusal("task.not_yours", "a guard sees only the tasks they were sent to", status=403)


def _detail_after(runtime: Runtime, user: auth.User, task_id: int) -> dict[str, Any]:
    with runtime.store.read() as session:
        guard_may_see(session, user, task_id)
        return load_detail(session, runtime, task_id, user)


@router.get("/tasks")
def list_tasks(
    session: ReadSession, runtime: RuntimeDep, user: TaskReader,
    state: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[dict[str, Any]]:
    query = (select(TaskRow).where(of_sites(user, TaskRow.site))
             .order_by(TaskRow.severity_rank, TaskRow.opened_at.desc()).limit(limit))
    if state != "all":
        query = query.where(TaskRow.state == state)
    if user.role == "guard":
        query = query.where(TaskRow.id.in_(select(DispatchRow.task_id).where(DispatchRow.guard == user.username)))
    return [task_summary(row, runtime.tasks.book.sops.get(row.sop_id), runtime.registry)
            for row in session.scalars(query)]


@router.get("/tasks/{task_id}")
def get_task(task_id: RowId, session: ReadSession, runtime: RuntimeDep, user: TaskReader) -> dict[str, Any]:
    guard_may_see(session, user, task_id)
    return load_detail(session, runtime, task_id, user)


@router.post("/tasks/{task_id}/steps/{step_id}")
def answer_step(task_id: RowId, step_id: str, body: AnswerBody, request: Request, runtime: RuntimeDep,
                user: TaskActor) -> dict[str, Any]:
    run_action(runtime, lambda s: runtime.tasks.answer(
        s, task_id, step_id, body.value, user.username, user.role, runtime.now(), body.action_id,
        client_address(request)), user, task_id)
    return _detail_after(runtime, user, task_id)


@router.post("/tasks/{task_id}/comments")
def add_comment(task_id: RowId, body: CommentBody, request: Request, runtime: RuntimeDep,
                user: TaskActor) -> dict[str, Any]:
    run_action(runtime, lambda s: runtime.tasks.comment(
        s, task_id, body.text, user.username, user.role, runtime.now(), body.action_id, client_address(request)),
        user, task_id)
    return _detail_after(runtime, user, task_id)


async def read_photo(request: Request, limit: int) -> tuple[bytes, str]:
    """A photo sent as the request body, read up to ``limit`` bytes (413 beyond), and its type."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal("photo.too_large", f"photos are at most {limit} bytes", status=413, max=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal("photo.too_large", f"photos are at most {limit} bytes", status=413, max=limit)
        chunks.append(chunk)
    return b"".join(chunks), request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.post("/tasks/{task_id}/photos", responses={413: {"description": "The photo is too large."}})
async def add_photo(
    task_id: RowId, request: Request, runtime: RuntimeDep, user: TaskActor,
    step: Annotated[str | None, Query(max_length=48)] = None,
    action_id: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
) -> dict[str, Any]:
    """The request body is the image itself (Content-Type image/jpeg, image/png or image/webp)."""
    content, content_type = await read_photo(request, runtime.settings.evidence.max_bytes)
    await run_in_threadpool(run_action, runtime, lambda s: runtime.tasks.add_photo(
        s, task_id, step, content, content_type, user.username, user.role, runtime.now(), action_id,
        client_address(request)), user, task_id)
    return await run_in_threadpool(_detail_after, runtime, user, task_id)


@router.get("/evidence/{evidence_id}", response_class=FileResponse, responses={
    200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
    410: {"description": "The file is no longer in the evidence folder."}})
def get_evidence(evidence_id: RowId, session: ReadSession, runtime: RuntimeDep, user: TaskReader) -> FileResponse:
    row = session.get(EvidenceRow, evidence_id)
    missing = Refusal("evidence.not_found", f"no evidence {evidence_id}", status=404, evidence=evidence_id)
    if row is None:
        raise missing
    # Of its task's site: another site's evidence is no evidence (not "no task", which names its task).
    seen_or_missing(user, session.scalar(select(TaskRow.site).where(TaskRow.id == row.task_id)), missing)
    guard_may_see(session, user, row.task_id)
    path = runtime.tasks.evidence_path(row.sha256)
    if not path.exists():
        raise Refusal("evidence.gone", "the file is no longer in the evidence folder", status=410)
    return FileResponse(path, media_type=row.content_type, headers={"X-Content-SHA256": row.sha256,
                                                                     "Cache-Control": "private, max-age=86400"})


@router.post("/tasks/{task_id}/dispatch")
def dispatch_guard(task_id: RowId, body: DispatchBody, request: Request, runtime: RuntimeDep,
                   user: AlarmActor) -> dict[str, Any]:
    run_action(runtime, lambda s: runtime.tasks.guards.dispatch(
        s, task_id, body.guard, user.username, runtime.now(), body.action_id, client_address(request)), user, task_id)
    return _detail_after(runtime, user, task_id)


@router.get("/tasks/{task_id}/dispatch/proposals")
def dispatch_proposals(task_id: RowId, session: ReadSession, runtime: RuntimeDep,
                       user: AlarmActor) -> list[dict[str, Any]]:
    task_of_their_sites(session, user, task_id)
    return runtime.tasks.guards.proposals(session, task_id)


@router.post("/tasks/{task_id}/close")
def close_task(task_id: RowId, body: CloseBody, request: Request, runtime: RuntimeDep,
               user: AlarmActor) -> dict[str, Any]:
    run_action(runtime, lambda s: runtime.tasks.close(
        s, task_id, user.username, user.role, runtime.now(), body.reason, body.action_id, client_address(request)),
        user, task_id)
    return _detail_after(runtime, user, task_id)
