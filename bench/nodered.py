"""The peer that bench/relay.py measures MCC against: Node-RED as a site would install it (the exact
version pinned in bench/nodered/package.json and its package-lock.json, from npm), running one flow,
`mqtt in` (QoS 1, the native events' topic) -> `json` -> `websocket out` on a path of Node-RED's own
HTTP port. It stores nothing: it is the relay a site would wire up instead of a console.

The bench installs it on first use (`npm ci` into bench/nodered/node_modules, which git ignores) and
starts it with a generated settings file and flow file in a temporary userDir: no editor, no admin
API, no credentials."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from console.demo.broker import free_port, terminate

HERE = Path(__file__).resolve().parent / "nodered"
WS_PATH = "/ws/events"
TOPIC = "mcc/v1/{site}/+/event"  # what MCC's native adapter takes for a site: its devices' events


def pinned_version() -> str:
    """The exact node-red version bench/nodered/package.json pins."""
    return str(json.loads((HERE / "package.json").read_text())["dependencies"]["node-red"])


def installed_version() -> str | None:
    try:
        return str(json.loads((HERE / "node_modules" / "node-red" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed() -> str:
    """Install the pinned Node-RED from the lock file unless it is already there; returns its version."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("the relay benchmark needs node and npm on the PATH (Node.js 18.5 or later)")
    if installed_version() != pinned_version():
        print(f"  installing node-red {pinned_version()} into {HERE / 'node_modules'} (npm ci) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--omit=dev"], cwd=HERE, check=True,
                       capture_output=True, timeout=600)
    version = installed_version()
    if version != pinned_version():
        raise RuntimeError(f"node-red {version} installed, {pinned_version()} pinned")
    return version


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()


def flow(broker_port: int, site: str, path: str = WS_PATH) -> list[dict[str, Any]]:
    """The flow as the editor would export it: mqtt in (QoS 1, payload as a UTF-8 string) -> json
    (to an object) -> websocket out (which serialises it again and sends it to every client)."""
    return [
        {"id": "relay-tab", "type": "tab", "label": "MQTT to WebSocket relay", "disabled": False, "info": ""},
        {"id": "relay-broker", "type": "mqtt-broker", "name": "site broker", "broker": "127.0.0.1",
         "port": str(broker_port), "clientid": "", "autoConnect": True, "usetls": False, "protocolVersion": "4",
         "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
         "birthTopic": "", "birthQos": "0", "birthRetain": "false", "birthPayload": "", "birthMsg": {},
         "closeTopic": "", "closeQos": "0", "closeRetain": "false", "closePayload": "", "closeMsg": {},
         "willTopic": "", "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": {},
         "userProps": "", "sessionExpiry": ""},
        {"id": "relay-in", "type": "mqtt in", "z": "relay-tab", "name": "device events",
         "topic": TOPIC.format(site=site), "qos": "1", "datatype": "utf8", "broker": "relay-broker",
         "nl": False, "rap": True, "rh": 0, "inputs": 0, "x": 130, "y": 80, "wires": [["relay-json"]]},
        {"id": "relay-json", "type": "json", "z": "relay-tab", "name": "parse", "property": "payload",
         "action": "obj", "pretty": False, "x": 310, "y": 80, "wires": [["relay-ws"]]},
        {"id": "relay-ws", "type": "websocket out", "z": "relay-tab", "name": "to walls", "server": "relay-listener",
         "client": "", "x": 470, "y": 80, "wires": []},
        {"id": "relay-listener", "type": "websocket-listener", "path": path, "wholemsg": "false"},
    ]


def settings(port: int) -> str:
    """settings.js: HTTP on 127.0.0.1:port for the websocket node only (editor and admin API off)."""
    return f"""module.exports = {{
    flowFile: "flows.json",
    credentialSecret: false,
    uiHost: "127.0.0.1",
    uiPort: {port},
    httpAdminRoot: false,
    httpNodeRoot: "/",
    diagnostics: {{ enabled: false, ui: false }},
    runtimeState: {{ enabled: false, ui: false }},
    telemetry: {{ enabled: false, updateNotification: false }},
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
    exportGlobalContextKeys: false,
    externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }}, modules: {{ allowInstall: false }} }},
}};
"""


class NodeRed:
    """One Node-RED process (`node red.js`, so its pid is the process whose CPU is measured)."""

    def __init__(self, folder: Path, broker_port: int, site: str):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.js").write_text(settings(self.port))
        (folder / "flows.json").write_text(json.dumps(flow(broker_port, site), indent=1))

    @property
    def log_path(self) -> Path:
        return self.folder / "node-red.log"

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until its MQTT node has connected (the websocket path is up by then)."""
        red = HERE / "node_modules" / "node-red" / "red.js"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["node", str(red), "--userDir", str(self.folder), "--settings", str(self.folder / "settings.js")],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node-red exited with {self.process.returncode}:\n{self.log_tail()}")
            text = self.log_path.read_text(errors="replace")
            if "Connected to broker" in text and "Started flows" in text:
                return
            time.sleep(0.1)
        raise RuntimeError(f"node-red did not connect to the broker in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process is not None else []

    def stop(self) -> None:
        terminate(self.process, 15)
