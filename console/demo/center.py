"""A center on one machine: several ``mcc run`` instances of one site file in cluster mode, and
HAProxy in front of them (HTTP and WebSocket on one port, sent only to instances that answer
``/api/health/ready``). The processes a real center runs on several machines (README, "A
center"), started here from one command (``mcc center``); the tests use it too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from console.demo.broker import die_with_parent, free_port, terminate, wait_for_port
from console.errors import ConsoleError

HAPROXY = """\
# Written by mcc center: HAProxy in front of the console instances of one center.
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h          # a wall's WebSocket stays open for hours
    option redispatch          # a request that finds its instance gone goes to another
    retries 2

frontend web
    bind {bind}:{port}
    option forwardfor          # the consoles throttle logins per client address: tell them whose it is
    default_backend consoles

backend consoles
    balance roundrobin
    option httpchk GET /api/health/ready
    http-check expect status 200
    # A dead instance is out within about 3 s and the sockets it held are closed, so its walls
    # reconnect; a busy one gets 2 s to answer before a check counts against it.
    timeout check 2s
    default-server inter 1s fall 3 rise 2 on-marked-down shutdown-sessions
{servers}
"""


def render_haproxy(port: int, instances: dict[str, int], bind: str = "127.0.0.1") -> str:
    """HAProxy's configuration for ``instances`` (name → HTTP port on this machine)."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in instances.items())
    return HAPROXY.format(bind=bind, port=port, servers=servers)


@dataclass
class Center:
    site_file: Path
    folder: Path
    names: list[str]
    port: int = 0
    """HAProxy's port (0: a free one)."""
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    balancer: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()  # nothing left running behind a center that did not come up
            raise

    def _start(self, timeout: float) -> None:
        haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
        if haproxy is None:
            raise ConsoleError("haproxy is not installed (apt-get install haproxy)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        for name in self.names:
            self.ports[name] = free_port()
            self.start_instance(name)
        config = self.folder / "haproxy.cfg"
        config.write_text(render_haproxy(self.port, self.ports))
        log = open(self.folder / "haproxy.log", "ab")
        self.balancer = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)
        log.close()
        for name in self.names:
            if not wait_for_port("127.0.0.1", self.ports[name], timeout):
                raise ConsoleError(f"instance {name} did not come up; see {self.folder / (name + '.log')}")
        if not wait_for_port("127.0.0.1", self.port, 10):
            raise ConsoleError(f"haproxy did not start; see {self.folder / 'haproxy.log'}")

    def start_instance(self, name: str) -> None:
        """Start (or start again) one instance; its name keeps its MQTT session across restarts."""
        env = {**os.environ, "MCC_CLUSTER__ENABLED": "true", "MCC_CLUSTER__INSTANCE": name,
               "MCC_HTTP__HOST": "127.0.0.1", "MCC_HTTP__PORT": str(self.ports[name])}
        log = open(self.folder / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "console", "run", "--config", str(self.site_file)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.site_file.parent,
            preexec_fn=die_with_parent)  # a center killed with -9 leaves nothing running behind it
        log.close()

    def kill(self, name: str) -> None:
        """kill -9 one instance: no shutdown code runs."""
        process = self.processes[name]
        process.kill()
        process.wait(10)

    def stop(self) -> None:
        terminate(self.balancer)
        for process in self.processes.values():
            terminate(process, 15)


def run_center(site_file: Path, instances: int, port: int, folder: Path) -> int:
    """``mcc center``: the instances and the balancer until Ctrl-C."""
    center = Center(site_file, folder, [f"console-{i}" for i in range(1, instances + 1)], port)
    try:
        center.start()
        print(f"MCC center: {center.url} -> " + ", ".join(f"{n} :{p}" for n, p in center.ports.items()), flush=True)
        while all(p.poll() is None for p in center.processes.values()) and center.balancer is not None \
                and center.balancer.poll() is None:
            try:
                center.balancer.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        print("a process of the center ended; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        center.stop()
