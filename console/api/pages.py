"""The browser pages: /login, /wall, /guard and /console (served from web/, static files under /static)."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from console import __version__, resources
from console.api.deps import get_runtime, signed_in
from console.people import auth

WEB = resources.WEB
router = APIRouter(include_in_schema=False)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Every response's Content-Security-Policy (app.py sets it where a route has not)."""
GUARD_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
"""The guard page's: its QR reader compiles WebAssembly (web/vendor/README.md); no other page does."""


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



@dataclass(frozen=True)
class Page:
    title_key: str
    title: str
    script: str
    styles: tuple[str, ...] = ()
    manifest: str | None = None
    """An installable page's web app manifest (under /static)."""


# Every page is web/page.html (the head they share) around its own body (web/<name>.html).
PAGES = {
    "login": Page("login.doc_title", "监控中心 · 登录", "login.js"),
    "pair": Page("pair.doc_title", "监控中心 · 大屏配对", "pair.js"),
    "wall": Page("wall.doc_title", "监控中心 · 报警墙", "wall.js", ("floorplan.css", "wall.css")),
    "console": Page("console.doc_title", "监控中心 · 处置台", "console.js", ("console.css",)),
    "guard": Page("guard.doc_title", "监控中心 · 保安任务", "guard.js", ("guard.css",), "guard.webmanifest"),
    "admin": Page("adm.doc_title", "监控中心 · 管理", "admin.js", ("admin.css",)),
}


@functools.cache
def _shell() -> str:
    return (WEB / "page.html").read_text(encoding="utf-8")


def page_html(name: str, timezone: str) -> str:
    """The page ``name``: the shared head (with the site's zone, so the page shows times as the
    control room reads them) and the page's own body."""
    page = PAGES[name]
    styles = "".join(f'  <link rel="stylesheet" href="/static/{css}">\n' for css in page.styles)
    if page.manifest:
        styles += (f'  <link rel="manifest" href="/static/{page.manifest}">\n'
                   '  <meta name="theme-color" content="#0b121b">\n  <link rel="icon" href="/static/icon.svg">\n')
    fields = {"timezone": escape(timezone), "title_key": page.title_key, "title": page.title, "styles": styles,
              "script": page.script, "body": (WEB / f"{name}.html").read_text(encoding="utf-8")}
    return re.sub(r"\{(\w+)\}", lambda m: fields.get(m.group(1), m.group(0)), _shell())


async def _user_of(request: Request) -> auth.User | None:
    return await run_in_threadpool(signed_in, request, get_runtime(request))


async def _role_page(request: Request, path: str, page: str, roles: frozenset[str]) -> Response:
    """A page for some roles only; anyone else (or nobody) is sent to the login page."""
    user = await _user_of(request)
    if user is None or user.role not in roles:
        return RedirectResponse(f"/login?next={path}", status_code=303)
    return HTMLResponse(page_html(page, get_runtime(request).settings.site.timezone))


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/wall", status_code=303)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return HTMLResponse(page_html("login", get_runtime(request).settings.site.timezone))


@router.get("/wall")
async def wall_page(request: Request) -> Response:
    runtime = get_runtime(request)
    user = await _user_of(request)
    if user is None or user.role not in auth.VIEW:
        return RedirectResponse("/login?next=/wall", status_code=303)
    return HTMLResponse(page_html("wall", runtime.settings.site.timezone))


@router.get("/pair")
async def pair_page(request: Request) -> Response:
    """A wall PC's start page: it shows a code an admin approves, then opens the wall signed in
    (console/api/displays.py). A wall already signed in goes straight to the wall."""
    user = await _user_of(request)
    if user is not None and user.role in auth.VIEW:
        name = request.query_params.get("name", "")
        return RedirectResponse("/wall" + (f"?name={quote(name[:64])}" if name else ""), status_code=303)
    return HTMLResponse(page_html("pair", get_runtime(request).settings.site.timezone))


@router.get("/guard")
async def guard_page(request: Request) -> Response:
    """The guard's phone: shift, rounds and scans, dispatches and the guard's steps."""
    response = await _role_page(request, "/guard", "guard", frozenset({"guard"}))
    response.headers["Content-Security-Policy"] = GUARD_CSP
    return response


@router.get("/guard-sw.js")
def guard_service_worker() -> FileResponse:
    """The guard page's service worker, served from the root so that it may control /guard."""
    return FileResponse(WEB / "guard-sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/guard"})


@router.get("/console")
async def console_page(request: Request) -> Response:
    """The operators' task console."""
    return await _role_page(request, "/console", "console", auth.ACT_ON_ALARMS)


@router.get("/admin")
async def admin_page(request: Request) -> Response:
    """Administration: users, device import, floor plans, SOPs, quarantine, shelves and plate lists.
    Supervisors see the parts that are theirs (SOPs, quarantine, shelves, plates); the rest is the admin's."""
    return await _role_page(request, "/admin", "admin", frozenset({"admin", "supervisor"}))
