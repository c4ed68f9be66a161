"""The browser pages: /login, /wall, /guard and /console (served from web/, static files under /static)."""

from __future__ import annotations

import functools
import hashlib
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from console import __version__
from console.api.deps import COOKIE, get_runtime, token_from
from console.people import auth

WEB = Path(__file__).resolve().parents[2] / "web"
router = APIRouter(include_in_schema=False)


@functools.cache
def build_id(web: Path = WEB) -> str:
    """A short hash of the package version and every file the pages load (web/): a wall that
    sees another build id in the WebSocket hello reloads itself."""
    digest = hashlib.sha256(__version__.encode())
    if web.is_dir():
        for path in sorted(p for p in web.rglob("*") if p.is_file()):
            digest.update(b"\0" + path.relative_to(web).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]



def _page_html(name: str, timezone: str) -> str:
    # The site's zone goes into the page so it shows times as the control room reads them.
    html = (WEB / name).read_text(encoding="utf-8")
    meta = f'<meta name="mcc-timezone" content="{escape(timezone)}">'
    return html.replace("<head>", "<head>\n  " + meta, 1)


def _wall_html(timezone: str) -> str:
    return _page_html("wall.html", timezone)


async def _user_of(request: Request, allow_query: bool = False) -> auth.User | None:
    runtime = get_runtime(request)
    token = token_from(request, allow_query=allow_query)

    def resolve() -> auth.User | None:
        with runtime.store.read() as session:
            return auth.resolve_token(session, token) if token else None

    return await run_in_threadpool(resolve)


async def _role_page(request: Request, path: str, page: str, roles: frozenset[str]) -> Response:
    """A page for some roles only; anyone else (or nobody) is sent to the login page."""
    user = await _user_of(request)
    if user is None or user.role not in roles:
        return RedirectResponse(f"/login?next={path}", status_code=303)
    return HTMLResponse(_page_html(page, get_runtime(request).settings.site.timezone))


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/wall", status_code=303)


@router.get("/login")
def login_page() -> FileResponse:
    return FileResponse(WEB / "login.html")


@router.get("/wall")
async def wall_page(request: Request) -> Response:
    runtime = get_runtime(request)
    token = token_from(request, allow_query=True)
    user = await _user_of(request, allow_query=True)
    if user is None or user.role not in auth.VIEW:
        return RedirectResponse("/login?next=/wall", status_code=303)
    response = HTMLResponse(_wall_html(runtime.settings.site.timezone))
    if request.query_params.get("token") and request.cookies.get(COOKIE) != token:
        # A kiosk opened /wall?token=…: keep it logged in across reloads without the URL.
        response.set_cookie(COOKIE, token or "", httponly=True, samesite="strict",
                            secure=runtime.settings.http.secure_cookie, path="/")
    return response


@router.get("/guard")
async def guard_page(request: Request) -> Response:
    """The guard's phone: shift, scans, dispatches and the guard's steps."""
    return await _role_page(request, "/guard", "guard.html", frozenset({"guard"}))


@router.get("/console")
async def console_page(request: Request) -> Response:
    """The operators' task console."""
    return await _role_page(request, "/console", "console.html", auth.ACT_ON_ALARMS)


@router.get("/admin")
async def admin_page(request: Request) -> Response:
    """Administration: users, device import, floor plans, SOPs, quarantine, shelves and plate lists.
    Supervisors see the parts that are theirs (SOPs, quarantine, shelves, plates); the rest is the admin's."""
    return await _role_page(request, "/admin", "admin.html", frozenset({"admin", "supervisor"}))
