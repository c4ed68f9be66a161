"""A simulated fire-alarm transmission device (用户信息传输装置) for the demo: it connects to the
console's GB/T 26875.3 receiver over TCP, sends keep-alives, and now and then a detector's fire
alarm or fault and, a little later, its return to normal, in frames built to the standard.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.gb26875 import SEND, build_frame, time_label

log = logging.getLogger("mcc.simulator.gb")
KEEP_ALIVE = 128  # a vendor command: confirmed at once by the receiver, not stored
SMOKE = 42  # component type: point photoelectric smoke detector
# (component address, description as the panel's display shows it)
DETECTORS = [(3001, "3号楼1层大堂"), (3012, "3号楼5层电梯前室"), (3025, "3号楼9层西侧走廊"),
             (3040, "3号楼地下一层配电房")]


class GbDevice:
    def __init__(self, host: str, port: int, address: str, stop: threading.Event, seed: int | None = None,
                 zone: str = "Asia/Shanghai", centre: str = "000000000000", first_incident: float | None = None):
        self.host, self.port, self.address, self.centre = host, port, address, centre
        self.first_incident = first_incident
        self.stop = stop
        self.rng = random.Random(seed)
        self.zone = ZoneInfo(zone)
        self.serial = 0
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="mcc-sim-gb", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _frame(self, command: int, data: bytes = b"") -> bytes:
        self.serial = (self.serial + 1) & 0xFFFF
        return build_frame(self.serial, self.address, self.centre, command, data,
                           when=datetime.now(self.zone))

    def _detector(self, address: int, description: str, status: int) -> bytes:
        body = (bytes([1, 1, SMOKE]) + address.to_bytes(4, "little") + status.to_bytes(2, "little")
                + description.encode("gb18030").ljust(31, b"\0"))
        return self._frame(SEND, bytes([2, 1]) + body + time_label(datetime.now(self.zone)))

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection((self.host, self.port), timeout=5) as sock:
                    sock.settimeout(1.0)
                    self._talk(sock)
            except OSError as exc:
                log.debug("GB device %s: %s; reconnecting", self.address, exc)
                self.stop.wait(2.0)

    def _talk(self, sock: socket.socket) -> None:
        keep_alive_at = 0.0
        next_incident = self.first_incident if self.first_incident is not None else self.rng.uniform(20, 60)
        pending: list[tuple[float, bytes]] = []
        clock = 0.0
        while not self.stop.is_set():
            if clock >= keep_alive_at:
                sock.sendall(self._frame(KEEP_ALIVE))
                keep_alive_at = clock + 20
            if clock >= next_incident:
                address, description = self.rng.choice(DETECTORS)
                alarm = 0b11 if self.rng.random() < 0.5 else 0b101  # running + fire alarm, or + fault
                sock.sendall(self._detector(address, description, alarm))
                self.sent += 1
                pending.append((clock + self.rng.uniform(30, 90), self._detector(address, description, 0b01)))
                next_incident = clock + self.rng.uniform(120, 300)
            for item in [p for p in pending if p[0] <= clock]:
                sock.sendall(item[1])  # back to normal
                pending.remove(item)
            try:
                if not sock.recv(4096):  # confirms; an empty read means the console closed the link
                    return
            except TimeoutError:
                pass
            clock += 1.0
