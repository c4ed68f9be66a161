"""create_app(settings) -> FastAPI; the lifespan starts the store, the pipeline and the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from console import __version__
from console.api import (
    alarms,
    auth,
    cameras,
    commands,
    devices,
    displays,
    drills,
    duty_log,
    events,
    floorplans,
    guards,
    health,
    kpis,
    pages,
    patrol,
    plates,
    reports,
    shelves,
    sites,
    snapshots,
    sops,
    tags,
    tasks,
    users,
    ws,
)
from console.api.clean_input import CleanInput
from console.api.deps import needs_login, signed_in
from console.api.openapi import document_refusals
from console.api.pages import CSP
from console.api.sockets import OpenSockets
from console.errors import Refusal
from console.runtime import Runtime
from console.settings import Settings
from console.workers import ChildProcesses


def create_app(settings: Settings, *, start_pipeline: bool = True,
               children: Iterable[ChildProcesses] = ()) -> FastAPI:
    """The web app; its lifespan builds the runtime and starts (then stops) every worker.
    ``children``: processes started beside the console (the demo's broker) for /api/health's list."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime.build, settings)
        for child in children:
            runtime.supervisor.adopt(child)
        app.state.runtime = runtime
        app.state.sockets = OpenSockets()
        if start_pipeline:
            # Off the event loop: starting may block (a receiver binding, a worker loading its state).
            await run_in_threadpool(runtime.start, asyncio.get_running_loop())
        try:
            yield
        finally:
            await run_in_threadpool(runtime.stop)

    app = FastAPI(title="MCC monitoring-center console", version=__version__, lifespan=lifespan)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/static/"):
            # Revalidate every time (a cheap 304 with the ETag): after an upgrade the wall reloads
            # and must not keep the old build's ES modules from its cache.
            response.headers.setdefault("Cache-Control", "no-cache")
        return response

    app.add_middleware(CleanInput)

    for module in (health, auth, users, sites, alarms, shelves, events, devices, floorplans, displays, kpis, sops, plates,
                   tasks, tags, guards, patrol, reports, duty_log, commands, drills, snapshots, cameras, ws, pages):
        app.include_router(module.router)
    @app.exception_handler(Refusal)
    async def refused(_request: Request, exc: Refusal) -> JSONResponse:
        # What the person asked cannot be done now (409), is not theirs to do (403), names nothing
        # (404)...: the English text for API clients, the code and its parameters for the pages.
        return JSONResponse({"detail": exc.text, "code": exc.code, "params": jsonable_encoder(exc.params)},
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI reads a JSON body before the route's dependencies run: without this, a stranger
        # would learn a protected route's body rules (422) instead of being told to sign in (401).
        if needs_login(request.scope.get("route")) and await run_in_threadpool(
                signed_in, request, request.app.state.runtime) is None:
            return JSONResponse({"detail": "login required", "code": "auth.required", "params": {}},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        errors = jsonable_encoder(exc.errors())
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in errors})
        return JSONResponse({"detail": errors, "code": "request.invalid", "params": {"fields": ", ".join(fields)}},
                            status_code=422)

    @app.exception_handler(HTTPException)
    async def not_handled(request: Request, exc: HTTPException) -> Response:
        # What FastAPI and Starlette refuse themselves, in the same shape as every other refusal: a
        # body that cannot be parsed (not JSON, not UTF-8), a path or method that is no route.
        if exc.status_code < 400:
            return await http_exception_handler(request, exc)
        headers = dict(exc.headers or {})
        if exc.status_code == 400:
            refusal = Refusal("request.malformed", str(exc.detail), status=400, headers=headers)
        elif exc.status_code in (404, 405):
            refusal = Refusal("request.no_route", str(exc.detail), status=exc.status_code, headers=headers)
        else:
            refusal = Refusal("request.refused", str(exc.detail), status=exc.status_code, headers=headers)
        return await refused(request, refusal)

    @app.exception_handler(OperationalError)
    async def store_away(_request: Request, exc: OperationalError) -> JSONResponse:
        # A full disk, a read-only or locked store, a database server gone: nothing was saved, and
        # trying again later may work. A 503 says so (a 500 would read as a bug in the console).
        return JSONResponse({"detail": f"the store cannot be written now: {str(exc.orig)[:200]}",
                             "code": "store.unavailable", "params": {}},
                            status_code=503, headers={"Retry-After": "5"})

    app.mount("/static", StaticFiles(directory=pages.WEB), name="static")
    document_refusals(app)
    return app
