"""The SOP viewer: every procedure the console runs, as data (with the site's limit overrides)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter

from console.api.deps import RuntimeDep, require
from console.errors import Refusal
from console.people import auth
from console.runtime import Runtime
from console.tasks.sop import SOPS_DIR, Sop, SopBook

router = APIRouter(prefix="/api/sops", tags=["sops"])
Reader = Annotated[auth.User, require(auth.ACT_ON_ALARMS)]


@lru_cache(maxsize=8)
def _files(folder: Path) -> dict[str, str]:
    """SOP id → the file it came from (its name in the SOP folder)."""
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            out[data["id"]] = path.name if folder == SOPS_DIR else str(path)
    return out


def _source(runtime: Runtime, sop_id: str) -> str:
    folder = runtime.settings.sops.dir or SOPS_DIR
    name = _files(Path(folder)).get(sop_id, "")
    return f"sops/{name}" if name and folder == SOPS_DIR else name


def _summary(runtime: Runtime, sop: Sop) -> dict[str, Any]:
    return {"id": sop.id, "title": sop.title.model_dump(), "kind": sop.kind, "kinds": list(sop.applies_to),
            "steps": len(sop.steps), "source": _source(runtime, sop.id), "repeat": sop.repeat}


def _detail(runtime: Runtime, book: SopBook, sop: Sop) -> dict[str, Any]:
    steps = []
    for step in sop.steps:
        data = step.model_dump(mode="json")
        data["options"] = data.pop("choices")
        data["escalation"] = data.get("on_deadline")
        if step.deadline is not None:
            data["due_seconds"] = book.limit_seconds(sop.id, step.deadline.limit)
            data["due_after"] = step.deadline.after
            limit = sop.limits[step.deadline.limit]
            data["limit"] = {"name": step.deadline.limit, "proposed": limit.proposed, "source": limit.source,
                             "default_seconds": limit.seconds}
        else:
            data["due_seconds"] = None
            data["due_after"] = None
            data["limit"] = None
        steps.append(data)
    return {
        **_summary(runtime, sop),
        "title": sop.title.model_dump(),
        "sources": list(sop.sources),
        "limits": {name: {**limit.model_dump(), "seconds": book.limit_seconds(sop.id, name)}
                   for name, limit in sop.limits.items()},
        "close": sop.close.model_dump() if sop.close else None,
        "false_alarm": sop.false_alarm.model_dump() if sop.false_alarm else None,
        "correlate": sop.correlate.model_dump(mode="json") if sop.correlate else None,
        "steps": steps,
    }


@router.get("")
def list_sops(runtime: RuntimeDep, _user: Reader) -> list[dict[str, Any]]:
    """``[{id, title{zh,en}, kind, kinds, steps, source, repeat}]``, by id."""
    book = runtime.tasks.book
    return [_summary(runtime, sop) for _id, sop in sorted(book.sops.items())]


@router.get("/{sop_id}")
def get_sop(sop_id: str, runtime: RuntimeDep, _user: Reader) -> dict[str, Any]:
    book = runtime.tasks.book
    sop = book.sops.get(sop_id)
    if sop is None:
        raise Refusal("sop.not_found", f"no SOP {sop_id!r}", status=404, sop=sop_id)
    return _detail(runtime, book, sop)
