"""Drills (演练): a test-flagged alarm published to the site's broker, so it takes the real path
(adapter, store, alarm, task, dispatch) and runs its SOP for real. The task is marked ``drill``,
shown as 演练 everywhere, scored at close, kept out of real KPIs, and notifies nobody unless the
site file says ``notify.drills: true``. A device's own test flag (``data.test``) does the same.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt

from console.errors import Refusal
from console.settings import BrokerAddress, Settings
from console.tasks.sop import SopBook


class DrillError(Refusal):
    """The drill cannot start: unknown device, no SOP for the kind, broker unreachable (a refusal
    with its code, for the pages; the command line prints the text)."""


def drill_message(settings: Settings, book: SopBook, device: str, kind: str, point: str = "",
                  note: str = "") -> tuple[str, dict[str, object]]:
    """The native topic and payload of a drill alarm; checked against the registry and the SOPs."""
    if kind not in book.by_alarm:
        kinds = ", ".join(sorted(book.by_alarm))
        raise DrillError("drill.no_sop", f"no SOP handles {kind!r}; drills run one of: {kinds}", kind=kind)
    entry = next((d for d in settings.devices.entries if d.id == device), None)
    if entry is None:
        raise DrillError("drill.unknown_device",
                         f"device {device!r} is not in the registry: a drill needs a real place to send guards to",
                         device=device)
    if point and entry.points and point not in entry.points:
        raise DrillError("drill.unknown_point", f"device {device} has no point {point!r} "
                         f"(it has: {', '.join(entry.points)})", device=device, point=point)
    site = entry.site or settings.site.id
    body: dict[str, object] = {
        "id": f"drill-{uuid.uuid4().hex[:12]}",
        "ts": datetime.now(timezone.utc).isoformat(),
        "type": kind,
        "data": {"test": True, "drill": True, **({"note": note} if note else {})},
    }
    if point:
        body["point"] = point
    return f"mcc/v1/{site}/{device}/event", body


def publish_once(url: str, topic: str, payload: dict[str, object], timeout: float = 10.0,
                 ca_file: Path | None = None) -> None:
    """Publish one QoS 1 message and wait for the broker's PUBACK."""
    address = BrokerAddress.parse(url, ca_file)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"mcc-drill-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set_context(address.ssl_context())
    acked = threading.Event()
    client.on_publish = lambda *_args: acked.set()
    try:
        client.connect(address.host, address.port, keepalive=30)
    except OSError as exc:
        raise DrillError("drill.no_broker", f"cannot reach the broker at {address.host}:{address.port}: {exc}",
                         status=503) from exc
    client.loop_start()
    try:
        client.publish(topic, json.dumps(payload, ensure_ascii=False), qos=1)
        if not acked.wait(timeout):
            raise DrillError("drill.not_sent", f"the broker did not confirm the drill message within {timeout:.0f} s",
                             status=503)
    finally:
        client.disconnect()
        client.loop_stop()
