"""What the simulated devices that speak a vendor's format send, instead of the native format.

A device in the demo registry with ``adapter`` and ``address`` publishes as that vendor's
equipment does (zigbee2mqtt state objects, esp-rfid JSON on ``/rfid/send``, Frigate events), so
the demo exercises the real adapters. Anything the vendor's device cannot say (esp-rfid has no
duress message) goes out in the native format, the way a site's gateway would relay it.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

# The level key each zigbee2mqtt sensor kind reports, and the alarm it raises.
Z2M_KEYS = {"smoke_detector": ("smoke", "fire.alarm"), "gas": ("gas", "safety.gas"),
            "water_leak": ("water_leak", "safety.water_leak")}


def vendor_message(adapter: str, address: str, sensor: str, kind: str, ts: datetime, data: dict[str, Any],
                   serial: int, rng: random.Random) -> tuple[str, str] | None:
    """(topic, payload) in the vendor's format, or None when the vendor cannot say ``kind``."""
    if adapter == "zigbee2mqtt":
        return _zigbee(address, sensor, kind, ts, data, rng)
    if adapter == "esp-rfid":
        return _esp_rfid(address, kind, ts, data, serial)
    if adapter == "frigate":
        return _frigate(address, kind, ts, data, serial, rng)
    return None


def _zigbee(address: str, sensor: str, kind: str, ts: datetime, data: dict[str, Any],
            rng: random.Random) -> tuple[str, str] | None:
    key, alarm = Z2M_KEYS.get(sensor, ("smoke", "fire.alarm"))
    state: dict[str, Any] = {"battery": rng.randint(60, 100), "linkquality": rng.randint(40, 200),
                             "last_seen": int(ts.timestamp() * 1000)}
    if kind == alarm:
        state[key] = True
    elif kind.endswith(".restore") or kind == "device.heartbeat":
        state[key] = False  # a full state report: the all-clear repeats, the console keeps only changes
    elif kind == "device.battery_low":
        state.update(battery=int(data.get("battery", 10)), battery_low=True, **{key: False})
    else:
        return None
    return f"zigbee2mqtt/{address}", json.dumps(state)


ESP_DOOR = {"access.door_forced": ("WARN", "tamper", "Door was tampered!"),
            "access.door_held_open": ("WARN", "tamper", "Door wasn't closed within max open time!"),
            "access.door_closed": ("INFO", "door", "Door Closed")}


def _esp_rfid(hostname: str, kind: str, ts: datetime, data: dict[str, Any], serial: int) -> tuple[str, str] | None:
    epoch = int(ts.timestamp())
    if kind in ("access.granted", "access.denied"):
        known = kind == "access.granted"
        body: dict[str, Any] = {"type": "access", "time": epoch, "isKnown": "true" if known else "false",
                                "access": "Always" if known else "Denied",
                                "username": data.get("person", "住户") if known else "Unknown",
                                "uid": str(data.get("card", "0")), "hostname": hostname}
    elif kind == "device.heartbeat":
        body = {"type": "heartbeat", "time": epoch, "uptime": 3600 + serial * 7, "ip": "10.20.1.31",
                "hostname": hostname}
    elif kind in ESP_DOOR:
        level, src, desc = ESP_DOOR[kind]
        body = {"type": level, "src": src, "desc": desc, "data": "", "time": epoch, "cmd": "event",
                "hostname": hostname}
    else:
        return None
    return "/rfid/send", json.dumps(body, ensure_ascii=False)


def _frigate(camera: str, kind: str, ts: datetime, data: dict[str, Any], serial: int,
             rng: random.Random) -> tuple[str, str] | None:
    if kind not in ("parking.entry", "parking.exit") or not data.get("plate"):
        return None
    start = ts.timestamp()
    event = {"id": f"{start:.6f}-{serial:06x}", "camera": camera, "label": "car", "sub_label": None,
             "start_time": start, "end_time": None, "frame_time": start, "false_positive": False,
             "top_score": round(rng.uniform(0.8, 0.97), 2), "recognized_license_plate": data["plate"],
             "recognized_license_plate_score": round(rng.uniform(0.85, 0.99), 2),
             "current_zones": [], "entered_zones": []}
    return "frigate/events", json.dumps({"type": "new", "before": event, "after": event}, ensure_ascii=False)
