"""The browser pages: /login and /wall (served from web/, static files under /static)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from console import auth
from console.api.deps import COOKIE, get_runtime, token_from

WEB = Path(__file__).resolve().parents[2] / "web"
router = APIRouter(include_in_schema=False)


def _wall_html(timezone: str) -> str:
    # The site's zone goes into the page so the wall shows times as the control room reads them.
    html = (WEB / "wall.html").read_text(encoding="utf-8")
    meta = f'<meta name="mcc-timezone" content="{escape(timezone)}">'
    return html.replace("<head>", "<head>\n  " + meta, 1)


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

    def resolve() -> auth.User | None:
        with runtime.store.read() as session:
            return auth.resolve_token(session, token) if token else None

    user = await run_in_threadpool(resolve)
    if user is None or user.role not in auth.VIEW:
        return RedirectResponse("/login?next=/wall", status_code=303)
    response = HTMLResponse(_wall_html(runtime.settings.site.timezone))
    if request.query_params.get("token") and request.cookies.get(COOKIE) != token:
        # A kiosk opened /wall?token=…: keep it logged in across reloads without the URL.
        response.set_cookie(COOKIE, token or "", httponly=True, samesite="strict",
                            secure=runtime.settings.http.secure_cookie, path="/")
    return response
