"""A lean WebSocket client (RFC 6455, permessage-deflate offered as a browser does) for the relay
benchmark's walls: 50 sockets that each receive 30,000 messages in a burst are 1.5 million messages,
and the `websockets` client costs about 14 us a message here, which would make the client the
bottleneck on 2 cores. This one parses frames straight from the bytes read (about a quarter of
that); each message is handed to ``on_message`` as bytes, with the time its bytes were read.

It reads server frames (text, binary, continuations, ping, close) and sends only pong and close.
No TLS, no redirects: a bench tool for 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
import zlib
from collections.abc import Callable
from typing import cast

TAIL = b"\x00\x00\xff\xff"  # permessage-deflate strips it from each message
OnMessage = Callable[[bytes, float], None]


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask): FIN, opcode, masked payload (control frames: < 126 bytes)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def request(host: str, port: int, target: str, headers: dict[str, str]) -> tuple[bytes, str]:
    """The opening handshake's request, and the Sec-WebSocket-Key it carries."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class Socket(asyncio.Protocol):
    """One WebSocket connection; ``opened`` resolves after the handshake, ``closed`` when it ends."""

    def __init__(self, request: bytes, on_message: OnMessage):
        self.request = request
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()  # the close code, if any
        self.buffer = bytearray()
        self.inflate: zlib._Decompress | None = None
        self.deflated = False  # the server agreed to permessage-deflate
        self.fragments: list[bytes] = []
        self.fragments_compressed = False
        self.messages = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but acts as one
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.opened.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self._handshake(bytes(self.buffer[:end]).decode("latin-1")):
                return
            del self.buffer[:end + 4]
        self._frames(now)

    def _handshake(self, head: str) -> bool:
        status, *lines = head.split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            self.opened.set_exception(ConnectionError(f"handshake refused: {status}"))
            self._close()
            return False
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        if "permessage-deflate" in headers.get("sec-websocket-extensions", ""):
            self.deflated = True
            self.inflate = zlib.decompressobj(-15)  # 15 bits reads any window the server chose
        self.opened.set_result(None)
        return True

    def _frames(self, now: float) -> None:
        buf = self.buffer
        n, pos = len(buf), 0
        while n - pos >= 2:
            b0, length = buf[pos], buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            end = pos + head + length
            if end > n:
                break
            payload = bytes(buf[pos + head:end])
            pos = end
            opcode = b0 & 0x0F
            if opcode >= 8:
                self._control(opcode, payload)
                continue
            if opcode:  # the first (or only) frame of a message
                self.fragments_compressed = bool(b0 & 0x40)
            if not b0 & 0x80:
                self.fragments.append(payload)
                continue
            if self.fragments:
                payload, self.fragments = b"".join(self.fragments) + payload, []
            if self.fragments_compressed and self.inflate is not None:
                payload = self.inflate.decompress(payload + TAIL)
            self.messages += 1
            self.on_message(payload, now)
        del buf[:pos]

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x9 and self.transport is not None:  # ping: pong with its payload
            self.transport.write(masked_frame(0xA, payload))
        elif opcode == 0x8:  # close: answer it and let the server close the TCP connection
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            if not self.closed.done():
                self.closed.set_result(code)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(masked_frame(0x8, payload[:2]))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        """Send a normal close (1000) and drop the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(0x8, struct.pack("!H", 1000)))
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_socket(port: int, target: str, on_message: OnMessage, headers: dict[str, str] | None = None,
                      timeout: float = 10.0) -> Socket:
    """Connect to ws://127.0.0.1:port<target> and complete the handshake."""
    loop = asyncio.get_running_loop()
    data, _ = request("127.0.0.1", port, target, headers or {})
    _, sock = await loop.create_connection(lambda: Socket(data, on_message), "127.0.0.1", port)
    await asyncio.wait_for(asyncio.shield(sock.opened), timeout)
    return sock
