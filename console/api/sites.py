"""The sites this deployment watches, as the signed-in user may see them: one for a single site's
console; a central monitoring center's communities for a group supervisor; only their own for
staff limited to some sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from console.api.deps import RuntimeDep, Viewer

router = APIRouter(prefix="/api/sites", tags=["sites"])


@router.get("")
def list_sites(runtime: RuntimeDep, user: Viewer) -> list[dict[str, Any]]:
    """Each site the user works for: id, name, time zone, location (``site`` first, as listed)."""
    settings = runtime.settings
    return [settings.site_entry(site).model_dump() for site in settings.site_ids if user.sees(site)]
