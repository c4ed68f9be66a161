"""A test's WebSocket client of a running console: connect as a user, read until a message comes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.conftest import ConsoleProcess


@contextlib.contextmanager
def ws_connect(console: ConsoleProcess, user: str, query: str = "", *,
               hello: bool = True) -> Iterator[ClientConnection]:
    """/ws as ``user`` (their bearer token). With ``hello`` the first message, always the hello with
    the build id, is checked and read, so the next one is the snapshot (or a resume's replay)."""
    url = f"ws://127.0.0.1:{console.port}/ws{query}"
    with connect(url, additional_headers={"Authorization": f"Bearer {console.tokens[user]}"}, open_timeout=5) as ws:
        if hello:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        yield ws


def receive_until(ws: ClientConnection, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Collect messages until one satisfies ``predicate``; return everything received."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"no matching message in {timeout} s; got {[m['type'] for m in seen]}")
