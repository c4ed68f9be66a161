"""The open WebSockets per user name, so that disabling a user, changing their role or password (or
their logout) closes them: the handshake alone checks the token. One per app (``app.state.sockets``)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class OpenSockets:
    """The open WebSockets per user name, so that disabling a user, changing their role or password
    (or their logout) closes them: the handshake alone checks the token. Thread-safe: sockets come
    and go on the event loop, the users API runs in the thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[str, dict[int, tuple[str, Callable[[], None]]]] = {}

    def add(self, username: str, connection: int, token_digest: str, close: Callable[[], None]) -> None:
        """``close`` must be safe to call from any thread (it closes the socket with 1008)."""
        with self._lock:
            self._by_user.setdefault(username, {})[connection] = (token_digest, close)

    def remove(self, username: str, connection: int) -> None:
        with self._lock:
            sockets = self._by_user.get(username)
            if sockets is not None:
                sockets.pop(connection, None)
                if not sockets:
                    del self._by_user[username]

    def close_user(self, username: str, keep_token_digest: str | None = None) -> int:
        """Close every open socket of ``username`` (but the one signed in with ``keep_token_digest``)."""
        with self._lock:
            closers = [close for digest, close in self._by_user.get(username, {}).values()
                       if keep_token_digest is None or digest != keep_token_digest]
        for close in closers:
            close()
        return len(closers)

    def close_token(self, token_digest: str) -> int:
        """Close the sockets signed in with one session (its logout)."""
        with self._lock:
            closers = [close for sockets in self._by_user.values()
                       for digest, close in sockets.values() if digest == token_digest]
        for close in closers:
            close()
        return len(closers)

    def count(self, username: str) -> int:
        with self._lock:
            return len(self._by_user.get(username, {}))
