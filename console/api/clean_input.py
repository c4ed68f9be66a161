"""Every request's path, query and JSON body hold no control characters and no non-finite numbers.

One check in front of every route (an ASGI middleware), so no route can forget it: NUL in a plate
or a floor-plan name would break PostgreSQL text or a report, ESC would rewrite an operator's
terminal, and ``NaN`` or ``1e999999`` (read as infinity) would be stored as null. Such a request is
refused with 422 ``{"detail", "code": "input.control_character" | "input.not_finite", "params"}``;
text fields may still hold tab, line feed and carriage return. A JSON body that does not parse is
left to the route, which answers its own 422. JSON bodies are read whole, up to ``MAX_JSON`` bytes
(larger: 413): they are forms and commands, never files.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.contract import control_character, unclean

MAX_JSON = 4 * 1024 * 1024


class _NotFinite(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotFinite(name)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotFinite(text[:32])
    return value


def _url_problem(scope: Scope) -> tuple[str, str, str] | None:
    if found := control_character(scope.get("path", ""), name=True):
        code, text, field = "input.control_character", f"the path holds a control character ({found})", "path"
        return code, text, field
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True) if query else ():
        if found := control_character(key + value, name=True):
            code, text, field = ("input.control_character",
                                 f"query parameter {key[:64]!r} holds a control character ({found})", key[:64])
            return code, text, field
    return None


def _body_problem(body: bytes) -> tuple[str, str, str] | None:
    try:
        value = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
    except _NotFinite as exc:
        code, text, field = "input.not_finite", f"the body holds a number that is not finite ({exc})", "body"
        return code, text, field
    except ValueError:  # not JSON (or not UTF-8): the route's own validation answers
        return None
    except RecursionError:
        return None
    problem = unclean(value)
    if problem is None:
        return None
    code = "input.not_finite" if problem.endswith("not a finite number") else "input.control_character"
    field = problem.split(":", 1)[0]
    return code, f"the body's {problem}", field


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return bool(kind == b"application/json" or kind.endswith(b"+json"))
    return False


class CleanInput:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        if problem is None and scope["type"] == "http" and _is_json(scope):
            body, too_large = await _read(receive)
            if too_large:
                code, text, field = "request.too_large", f"a JSON body is at most {MAX_JSON} bytes", "body"
                await _refuse(send, 413, code, text, field)
                return
            problem = _body_problem(body)
            receive = _replay(body, receive)
        if problem is not None:
            await _refuse(send, 422, *problem)
            return
        await self.app(scope, receive, send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_JSON:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the client's own messages (a disconnect when it goes)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _refuse(send: Send, status: int, code: str, text: str, field: str) -> None:
    body = json.dumps({"detail": text, "code": code, "params": {"field": field}}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
