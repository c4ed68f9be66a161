"""A bare MQTT 3.1.1 QoS 1 publisher on a plain socket: the sites benchmark's bursts of 20,000
events/s need more than paho gives on 2 shared cores (about 40 us a message in Python, against a
few here: the packets are built as bytes and sent in batches). It publishes and counts PUBACKs;
nothing else (no subscriptions, no retries: the broker is local and the session clean)."""

from __future__ import annotations

import select
import socket
import time
import uuid

CONNACK_OK = b"\x20\x02\x00\x00"
PUBACK = 0x40


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str) -> bytes:
    cid = client_id.encode()
    # protocol "MQTT" level 4, clean session, keep-alive 0 (off: the publisher sends all the time)
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH."""
    head = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big")
    return b"\x32" + remaining_length(len(head) + len(payload)) + head + payload


class RawPublisher:
    def __init__(self, port: int, name: str, window: int = 20000):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(f"{name}-{uuid.uuid4().hex[:6]}"))
        if self.sock.recv(4) != CONNACK_OK:
            raise RuntimeError("the broker refused the publisher")
        self.window = window  # at most this many unacknowledged (packet ids are 1..65535)
        self.out = bytearray()
        self.sent = self.acked = 0
        self._next_id = 1
        self._in = b""

    def publish(self, topic: bytes, payload: bytes) -> None:
        """Queue one QoS 1 message; ``flush`` sends what is queued."""
        if self.sent - self.acked >= self.window:
            self.flush()
            while self.sent - self.acked >= self.window:
                self.read_acks(1.0)
        self.out += publish_packet(topic, payload, self._next_id)
        self._next_id = self._next_id % 65535 + 1
        self.sent += 1

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(self.out)
            self.out.clear()

    def read_acks(self, timeout: float = 0.0) -> None:
        """Count the PUBACKs that have arrived (waiting up to ``timeout`` s for the first)."""
        while select.select([self.sock], [], [], timeout)[0]:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the broker closed the publisher's connection")
            data, whole = self._in + data, (len(self._in) + len(data)) // 4 * 4
            if any(data[i] != PUBACK for i in range(0, whole, 4)):
                raise RuntimeError("the publisher got a packet that is not a PUBACK")
            self.acked += whole // 4
            self._in = data[whole:]
            timeout = 0.0

    def wait_acked(self, seconds: float) -> None:
        self.flush()
        deadline = time.monotonic() + seconds
        while self.acked < self.sent and time.monotonic() < deadline:
            self.read_acks(0.1)

    def close(self) -> None:
        self.flush()
        self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()
