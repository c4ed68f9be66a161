"""A WAN link that a test can cut: a TCP forwarder from a local port to a target. ``cut()`` resets
every connection through it (what was read from one side and not yet written to the other is lost,
as on a failed line) and resets each new one at once until ``restore()``. Neither end is
restarted; each sees its peer vanish, as it would when the WAN fails."""

from __future__ import annotations

import select
import socket
import struct
import threading
from types import TracebackType

from console.demo.broker import free_port


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): unsent data is dropped, the peer gets 'connection reset'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Link:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.accepted = 0
        """Connections accepted while the link was up (a reconnect shows here)."""
        self.refused = 0
        """Connections reset at once because the link was cut."""
        self._up = True
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.2)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"link:{self.port}", daemon=True)
        self._thread.start()

    @property
    def up(self) -> bool:
        return self._up

    def cut(self) -> None:
        with self._lock:
            self._up = False
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _reset(a)
            _reset(b)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._thread.join(5)
        self._listener.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if not self._up:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self.accepted += 1
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        """Both directions in one thread; ends when either side closes or the link is cut."""
        peer = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    peer[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: select on a socket closed by cut()
            pass
        finally:
            with self._lock:
                if (a, b) in self._pairs:
                    self._pairs.remove((a, b))
            if self._up:  # an end closed: pass it on (after a cut, both are reset already)
                a.close()
                b.close()
