"""The bench's console as a center: N real ``mcc run`` instances of one site file in cluster mode
behind HAProxy (console/demo/center.py, as ``mcc center`` and the tests start them), seen by the
ingest and latency benchmarks as one console whose address is HAProxy's."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench.common import READER, Console
from console.demo.center import Center

SUMMED = ("stored", "duplicates", "quarantined", "batches")  # /api/health ingest figures added up


@dataclass
class CenterConsole(Console):
    instances: int = 1
    center: Center | None = None

    def start(self, timeout: float = 90.0) -> None:
        names = [f"console-{i}" for i in range(1, self.instances + 1)]
        self.center = Center(self.site_file, self.folder / "center", names)
        self.center.start(timeout)
        self.port = self.center.port  # the WebSocket client and the logins go through HAProxy
        deadline = time.monotonic() + timeout
        for base in [*self.instance_bases().values(), self.base]:  # every instance, then the balancer
            while not _ready(base):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{base} not ready in {timeout} s:\n{self.log_tail()}")
                if any(p.poll() is not None for p in self.center.processes.values()):
                    raise RuntimeError(f"an instance exited:\n{self.log_tail()}")
                time.sleep(0.2)

    def instance_bases(self) -> dict[str, str]:
        ports = self.center.ports if self.center is not None else {}
        return {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def stop(self) -> None:
        if self.center is not None:
            self.center.stop()

    def pids(self) -> list[int]:
        return [p.pid for p in self.center.processes.values()] if self.center is not None else []

    def log_tail(self, lines: int = 30) -> str:
        folder = self.folder / "center"
        return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                         for log in sorted(folder.glob("*.log")))

    def health(self) -> dict[str, Any]:
        """The ingest figures of every instance added up (each instance counts what it stored), and
        each instance's own under ``instances``."""
        if self.reader_token is None:
            self.reader_token = self.login(READER)
        each: dict[str, dict[str, Any]] = {}
        for name, base in self.instance_bases().items():
            request = urllib.request.Request(f"{base}/api/health",
                                             headers={"Authorization": f"Bearer {self.reader_token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                each[name] = json.loads(response.read())
        ingest = {key: sum(h["ingest"][key] for h in each.values()) for key in SUMMED}
        return {"ingest": ingest,
                "instances": {name: {"ingest": {k: h["ingest"][k] for k in SUMMED},
                                     "duties": (h.get("cluster") or {}).get("duties")} for name, h in each.items()}}


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/health/ready", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False
