"""The GB/T 26875.3-2011 receiver: a TCP server for user information transmission devices.

It cuts each connection's byte stream into frames (split, several in one read, bytes before an
``@@`` skipped) and hands them to ``submit`` as ``gb26875/<source address hex>`` messages:

- send data (2) with the device's checksum right: submitted with ``settle`` = send the confirm
  (3, echoing the serial number). The writer calls it after the commit that stored the frame
  (also into quarantine: a retransmission would read no better), from its own thread; the write
  is handed to this receiver's loop.
- a wrong checksum (under the variant ``checksum(source)`` names; "sum", the standard's, when
  None): deny (6) at once, and the frame is submitted without a reply on
  ``gb26875/<source>/bad-checksum/<variant>``: the adapter quarantines it with the reason.
- answer (5, to the centre's reads): submitted, not confirmed. Confirm (3) and deny (6) answer
  the centre's own commands: logged, not submitted. Vendors' own commands (128–255, often
  keep-alives) are confirmed at once and not submitted. Control (1) and request (4) go from the
  centre to the device, so from a device they are denied, as are the reserved commands.
- a start whose length is over 1024 or whose frame does not end with ``##`` is skipped up to the
  next ``@@``, with no deny: it has no trustworthy serial number or address to answer.

Supervision: a source heard before (a frame with a right checksum) and silent for
``supervise_seconds`` goes to ``on_silence`` once, and to ``on_back`` when it speaks again; both
are called on the receiver's loop and must not block (the writer's ``observe`` only queues). A device that never connects
after a restart is for the heartbeat budgets (health_watch). The centre's commands, once each:
``send_duty_check`` (control, type 91 查岗: the staff must answer, as type 24 bit 5 →
device.heartbeat) and ``sync_clock`` (control, type 90).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

from adapters.gb26875 import (
    ANSWER,
    CHECKSUM_VARIANTS,
    CONFIRM,
    CONTROL,
    DENY,
    DUTY_CHECK,
    END,
    MAX_DATA,
    SEND,
    START,
    SYNC_CLOCK,
    address_hex,
    build_frame,
    checksum,
    frame_length,
    time_label,
)
from console.contract import InboundMessage
from console.workers import Worker

log = logging.getLogger("mcc.gb26875")
DUTY_CHECK_MINUTES = 10
"""The 查岗 body: the minutes the staff have to answer (the section gives no body; decided)."""


class _Link(asyncio.Protocol):
    """One device connection: its receive buffer, the addresses heard on it, the centre's serial."""

    def __init__(self, receiver: Gb26875Receiver):
        self.receiver = receiver
        self.buffer = bytearray()
        self.sources: set[str] = set()
        self.centre = "000000000000"  # the destination the device writes to: our address for it
        self.serial = 0  # the centre's own serial number on this connection, 0 at connection
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's transports are
        self.receiver._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for frame in self.receiver._cut(self.buffer):
            try:
                self.receiver._on_frame(self, frame)
            except Exception:  # one bad frame must not end the link
                log.exception("GB/T 26875.3: a frame failed")

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiver._connections.discard(self)
        for source in self.sources:
            if self.receiver._links.get(source) is self:
                del self.receiver._links[source]

    def write(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)


class Gb26875Receiver(Worker):
    def __init__(self, host: str, port: int, submit: Callable[[InboundMessage], None],
                 checksum: Callable[[str], str] | None = None, supervise_seconds: float = 0.0,
                 on_silence: Callable[[str], None] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 on_back: Callable[[str], None] | None = None, timezone: str = "Asia/Shanghai",
                 topic_prefix: str = "gb26875", peers: Callable[[str], list[str]] | None = None,
                 on_heard: Callable[[str], None] | None = None):
        super().__init__(f"gb26875 {host}:{port}")
        self.host, self.port, self.submit, self.checksum = host, port, submit, checksum
        self.peers = peers
        """source address → the IP addresses it may speak from (empty: any)."""
        self.on_heard = on_heard
        """Told of every source heard (in a cluster, whose supervision is the store's); must not block."""
        self.supervise_seconds, self.on_silence, self.on_back, self.now = supervise_seconds, on_silence, on_back, now
        self.zone = ZoneInfo(timezone)  # the devices' time labels are local time
        self.topic_prefix = topic_prefix
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._watch: asyncio.Task[None] | None = None
        self._connections: set[_Link] = set()
        self._links: dict[str, _Link] = {}  # source address → the connection it last spoke on
        self._heard: dict[str, float] = {}  # source address → monotonic time of its last frame
        self._silent: set[str] = set()

    # -- life cycle (the worker's) -------------------------------------------------------------

    def prepare(self) -> None:
        """Bind before the thread starts: ``start()`` returns once listening (``port`` is then the
        real port, also when 0 was asked for) and raises what binding raised."""
        loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(loop.create_server(lambda: _Link(self), self.host, self.port))
        except BaseException:
            loop.close()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self.name = f"gb26875 {self.host}:{self.port}"
        self._watch = loop.create_task(self._supervise()) if self.supervise_seconds > 0 else None
        self._loop = loop
        log.info("GB/T 26875.3 receiver listening on %s:%d", self.host, self.port)

    def run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.call_soon(self._beat_on_loop)
        loop.run_forever()  # until interrupt() stops it

    def _beat_on_loop(self) -> None:
        self.beat()
        if self._loop is not None and not self.stopping.is_set():
            self._loop.call_later(1.0, self._beat_on_loop)

    def interrupt(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)

    def finish(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or self._server is None:
            return
        server, watch = self._server, self._watch

        async def drain() -> None:
            server.close()
            for link in list(self._connections):
                if link.transport is not None:
                    link.transport.close()
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            for _ in range(3):  # let the closed transports call connection_lost
                await asyncio.sleep(0)
            await server.wait_closed()

        loop.run_until_complete(drain())
        loop.close()

    def detail(self) -> dict[str, object]:
        return {"links": len(self._connections), "silent": sorted(self._silent)}

    # -- link supervision callbacks --------------------------------------------------------------

    def _tell(self, callback: Callable[[str], None] | None, source: str) -> None:
        if callback is None:
            return
        try:
            callback(source)
        except Exception:
            log.exception("GB/T 26875.3: link callback failed for %s", source)

    # -- the centre's commands (thread-safe; not from this receiver's own loop) ----------------

    def expect(self, source: str) -> None:
        """Supervise ``source`` from now even before it connects: a registered device that does not
        come back after the console starts is reported silent like one that stops talking."""
        self._heard.setdefault(source, time.monotonic())

    def send_duty_check(self, source: str, minutes: int = DUTY_CHECK_MINUTES) -> bool:
        """查岗 to the device's open connection; False when it has none."""
        return self._command(source, bytes([DUTY_CHECK, 1, minutes & 0xFF]))

    def sync_clock(self, source: str) -> bool:
        """同步时钟: set the device's clock to the console's (local time)."""
        return self._command(source, bytes([SYNC_CLOCK, 1]) + time_label(self._local()))

    def _command(self, source: str, data: bytes, timeout: float = 5.0) -> bool:
        loop = self._loop
        if loop is None or loop.is_closed():
            return False

        async def send() -> bool:
            link = self._links.get(source)
            if link is None or link.transport is None or link.transport.is_closing():
                return False
            link.write(build_frame(link.serial, link.centre, source, CONTROL, data, when=self._local(),
                                   variant=self._variant(source)))
            link.serial = (link.serial + 1) & 0xFFFF
            return True

        try:
            return asyncio.run_coroutine_threadsafe(send(), loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            return False  # the receiver stopped meanwhile

    # -- framing and replies (on the loop) -------------------------------------------------------

    @staticmethod
    def _cut(buffer: bytearray) -> list[bytes]:
        """Take the whole frames off the front of ``buffer``; leave a partial one for later."""
        frames: list[bytes] = []
        while True:
            start = buffer.find(START)
            if start < 0:  # keep a trailing "@": it may be the first half of the next start
                del buffer[:len(buffer) - 1 if buffer.endswith(b"@") else len(buffer)]
                return frames
            del buffer[:start]
            if len(buffer) < 26:
                return frames
            total = frame_length(buffer)
            if total - 30 > MAX_DATA:
                log.warning("GB/T 26875.3: skipped a start with data length %d", total - 30)
                del buffer[:1]
                continue
            if len(buffer) < total:
                later = _whole_frame_after(buffer)  # a false start in garbage must not stall the link
                if later is None:
                    return frames
                del buffer[:later]
                continue
            if buffer[total - 2:total] != END:
                log.warning("GB/T 26875.3: skipped a start whose frame does not end with ##")
                del buffer[:1]
                continue
            frames.append(bytes(buffer[:total]))
            del buffer[:total]

    def _on_frame(self, link: _Link, frame: bytes) -> None:
        source, command, serial = address_hex(frame[12:18]), frame[26], int.from_bytes(frame[2:4], "little")
        message = InboundMessage(f"{self.topic_prefix}/{source}", frame, False, self.now())
        variant = self._variant(source)
        if checksum(frame[:-3], variant) != frame[-3]:
            log.warning("GB/T 26875.3 frame %d from %s: bad checksum, denied", serial, source)
            link.write(self._reply(frame, DENY))
            self.submit(InboundMessage(f"{message.topic}/bad-checksum/{variant}", frame, False,
                                       message.received_at))  # kept: quarantined with the reason
            return
        allowed = self.peers(source) if self.peers is not None else []
        peer = (link.transport.get_extra_info("peername") or ("?",))[0] if link.transport else "?"
        if allowed and peer not in allowed:
            # Anyone can write any source address into a frame: a pinned device speaks only from
            # its own address, or its frames are denied and quarantined.
            log.warning("GB/T 26875.3 frame %d claims source %s from %s: not an allowed peer, denied",
                        serial, source, peer)
            link.write(self._reply(frame, DENY))
            self.submit(InboundMessage(f"{message.topic}/wrong-peer/{peer}", frame, False, message.received_at))
            return
        self._heard[source] = time.monotonic()
        if self.on_heard is not None:
            self._tell(self.on_heard, source)
        if source in self._silent:
            self._silent.discard(source)
            self._tell(self.on_back, source)
        self._links[source] = link
        link.sources.add(source)
        link.centre = address_hex(frame[18:24])
        if command == SEND:
            confirm = self._reply(frame, CONFIRM)
            self.submit(InboundMessage(message.topic, frame, False, message.received_at,
                                        settle=functools.partial(self._write_threadsafe, link, confirm)))
        elif command == ANSWER:
            self.submit(message)
        elif command in (CONFIRM, DENY):  # the device's answer to one of the centre's commands
            log.log(logging.INFO if command == CONFIRM else logging.WARNING, "GB/T 26875.3: %s %s command %d",
                    source, "confirmed" if command == CONFIRM else "denied", serial)
        elif command >= 128:
            link.write(self._reply(frame, CONFIRM))
        else:
            log.warning("GB/T 26875.3: %s sent command %d, which a device does not send: denied", source, command)
            link.write(self._reply(frame, DENY))

    def _reply(self, frame: bytes, command: int) -> bytes:
        """Confirm or deny ``frame``: its serial number, addresses swapped, no data."""
        source = address_hex(frame[12:18])
        return build_frame(int.from_bytes(frame[2:4], "little"), address_hex(frame[18:24]), source, command,
                           when=self._local(), version=(frame[4], frame[5]), variant=self._variant(source))

    def _write_threadsafe(self, link: _Link, frame: bytes) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(link.write, frame)

    def _variant(self, source: str) -> str:
        variant = self.checksum(source) if self.checksum is not None else "sum"
        if variant not in CHECKSUM_VARIANTS:
            log.error("GB/T 26875.3: unknown checksum variant %r for %s; using the standard's", variant, source)
            return "sum"
        return variant

    def _local(self) -> datetime:
        return self.now().astimezone(self.zone)

    # -- link supervision ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        tick = min(max(self.supervise_seconds / 5, 0.05), 1.0)
        while True:
            await asyncio.sleep(tick)
            moment = time.monotonic()
            for source, last in list(self._heard.items()):
                if source not in self._silent and moment - last >= self.supervise_seconds:
                    self._silent.add(source)
                    log.warning("GB/T 26875.3: %s silent for %.1f s", source, moment - last)
                    self._tell(self.on_silence, source)


def _whole_frame_after(buffer: bytearray) -> int | None:
    """Where a later ``@@`` begins a whole, well-ended frame in ``buffer``; None if none does."""
    at = buffer.find(START, 1)
    while at >= 0:
        if len(buffer) - at >= 26:
            total = frame_length(buffer[at:at + 26])
            if total - 30 <= MAX_DATA and at + total <= len(buffer) and buffer[at + total - 2:at + total] == END:
                return at
        at = buffer.find(START, at + 1)
    return None
