"""A managed Mosquitto child process: generated config, a free local port, stopped with its owner.

Used by ``mcc demo`` and by the test fixtures. The settings that decide loss and latency are
raised from Mosquitto's defaults (see shared STACK notes): the default ``max_queued_messages
1000`` silently drops QoS 1 messages to a subscriber that falls behind.
"""

from __future__ import annotations

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from console.errors import ConsoleError
from console.workers import WorkerStatus

BROKER_SETTINGS = """\
persistence true
persistence_location {data}/
autosave_interval 60
max_queued_messages 1000000
max_inflight_messages 1000
max_packet_size 2097152
set_tcp_nodelay true
log_type error
log_type warning
log_type notice
"""


def terminate(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM a child process and wait for it; SIGKILL if it is still there after ``timeout`` s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> bool:
    """True once something accepts connections on host:port, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def die_with_parent() -> None:
    # Linux: the broker gets SIGTERM when its owner dies, even by kill -9.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ManagedMosquitto:
    def __init__(self, folder: Path, port: int | None = None, tie_to_parent: bool = True,
                 listeners: str | None = None, after: str = ""):
        """``listeners`` replaces the default anonymous loopback listener: config lines (listeners,
        password_file, acl_file...) that must still open a listener on 127.0.0.1:``port``.
        ``after``: lines after the broker settings, whose settings win over them (a bridge's
        ``include_dir``, which sets its own queue limit)."""
        self.folder = Path(folder)
        self.port = port or free_port()
        self.tie_to_parent = tie_to_parent
        self.listeners = listeners
        self.after = after
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "mosquitto.log"

    def write_config(self) -> Path:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        # Run as the invoking user (as root, Mosquitto would otherwise switch to user
        # "mosquitto", which cannot write this folder).
        listeners = self.listeners or f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        conf.write_text(f"{listeners.rstrip()}\nuser {getpass.getuser()}\n" + BROKER_SETTINGS.format(data=data)
                        + self.after)
        return conf

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
        if binary is None:
            raise ConsoleError("mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)")
        conf = self.write_config()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if self.tie_to_parent else None,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConsoleError(f"mosquitto exited at start; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise ConsoleError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def processes(self) -> list[WorkerStatus]:
        """The broker as /api/health lists it (the supervisor adopts it in `mcc demo`)."""
        if self.process is None:
            return []
        alive = self.process.poll() is None
        return [WorkerStatus(f"mosquitto :{self.port}", "process", "running" if alive else "exited", alive,
                             pid=self.process.pid)]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto writes its persistence file, so queued messages survive a restart."""
        terminate(self.process, timeout)

    def restart(self) -> None:
        self.stop()
        self.start()
