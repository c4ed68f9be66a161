"""Device simulator: a believable residential site in the native MQTT format. `Traffic` makes
the messages on its own clock from a seeded RNG (pure, testable without sleeping);
`run_simulator` paces them in real time and publishes them with paho."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from console import resources
from console.demo.vendors import Z2M_KEYS, vendor_message

log = logging.getLogger("mcc.simulator")

DEFAULT_DEVICES = resources.DEMO_DEVICES
SITE_TZ = ZoneInfo("Asia/Shanghai")
ROUTINE_KINDS = frozenset({"access.granted", "parking.entry", "parking.exit", "device.heartbeat"})
# A few incidents a minute at the default 5 events/s; both scale with `rate`.
INCIDENTS_PER_EVENT = 3 / 60 / 5
PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # Chinese plates never use I or O
PLATE_REGIONS = ["粤B"] * 12 + ["粤A", "粤S", "湘A", "赣B"]  # mostly local (Shenzhen) cars


@dataclass(frozen=True)
class Device:
    id: str
    role: str
    floor: str
    zone: str
    points: dict[str, str] = field(default_factory=dict, hash=False)  # address -> point kind
    adapter: str = ""  # a vendor format the device speaks (simulator_vendors.py); "" = native
    address: str = ""  # its id in that format
    kind: str = ""  # what a sensor is (smoke_detector, gas, water_leak, elevator, power_monitor)
    name: str = ""


@dataclass(frozen=True)
class Message:
    at: float  # seconds after the simulation started
    topic: str
    payload: str
    retain: bool
    kind: str  # the event type, or "state.online" / "state.offline"


@dataclass
class SimulatorStats:
    published: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.published.values())


def load_devices(path: Path = DEFAULT_DEVICES) -> list[Device]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Device(
            id=e["id"], role=e["role"], floor=str(e.get("floor", "")), zone=e.get("zone", ""),
            points={addr: p.get("kind", "") for addr, p in (e.get("points") or {}).items()},
            adapter=e.get("adapter", ""), address=e.get("address", ""), kind=e.get("kind", ""),
            name=e.get("name", ""),
        )
        for e in entries
    ]


Step = Callable[[float], list[Message]]
Mix = list[tuple[float, Callable[[Device], bool], Callable[[float, Device], list[Message]]]]


def _role(*roles: str) -> Callable[[Device], bool]:
    return lambda d: d.role in roles


def _vendor(adapter: str) -> Callable[[Device], bool]:
    return lambda d: d.adapter == adapter


def _kind(*kinds: str) -> Callable[[Device], bool]:
    return lambda d: d.kind in kinds


def _lane(exit_lane: bool) -> Callable[[Device], bool]:
    # The registry has no direction key; a lane's zone names it (车库入口 / 车库出口).
    return lambda d: d.role == "lane" and ("出口" in d.zone) == exit_lane


class Traffic:
    """An endless, time-ordered stream of `Message`s; same seed and start, same stream."""

    def __init__(self, devices: list[Device], site: str, rate: float, rng: random.Random,
                 start: datetime) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._site, self._rate, self._rng, self._start = site, rate, rng, start
        # Cameras are not simulated; a GB/T 26875.3 device speaks TCP (simulator_gb.py).
        self._devices = [d for d in devices if d.role != "camera" and d.adapter != "gb26875"]
        self._by_id = {d.id: d for d in self._devices}
        self._heap: list[tuple[float, int, Step]] = []
        self._order = itertools.count()
        self._counters: Counter[str] = Counter()
        self._offline: set[str] = set()
        self._busy: set[tuple[str, str | None]] = set()  # (device, point) with a condition open
        self._parked: dict[str, str] = {}  # plate -> resident | visitor
        self._cards = [str(rng.randrange(10**9, 10**10)) for _ in range(80)]
        self._routine_mix: Mix = [
            (50, _role("door"), self._granted),
            (18, _lane(exit_lane=False), self._entry),
            (17, _lane(exit_lane=True), self._exit),
            (15, _role("fire_panel", "lane", "sensor"), self._heartbeat),
            (4, _vendor("esp-rfid"), self._heartbeat),
        ]
        self._incident_mix: Mix = [
            (2, _role("fire_panel"), self._fire_alarm),
            (2, _role("fire_panel"), self._fire_fault),
            (1, _kind(*Z2M_KEYS), self._sensor_alarm),
            (0.6, _kind("gas"), self._sensor_alarm),
            (0.8, _kind("elevator"), self._lift_trapped),
            (0.3, _kind("elevator"), self._lift_fault),
            (0.4, _kind("power_monitor"), self._power_failure),
            (4, _role("door"), self._denied),
            (1, _role("door"), self._forced),
            (2, _role("door"), self._held_open),
            (1, _role("lane"), self._barrier_fault),
            (0.2, _role("door"), self._duress),
            (1, _role("door", "fire_panel"), self._battery_low),
            (1.5, _role("door", "lane"), self._goes_offline),
        ]
        self._later(0.0, lambda at: [self._state(at, d.id, "online") for d in self._devices])
        self._later(rng.expovariate(rate), self._routine)
        # The first incident comes within seconds and always raises an alarm (a single denied
        # card does not), so a new demo wall has something to show.
        self._later(rng.uniform(1.0, 3.0), self._opening)

    def states(self) -> dict[str, str]:
        return {d.id: "offline" if d.id in self._offline else "online" for d in self._devices}

    def __iter__(self) -> Iterator[Message]:
        while self._heap:
            at, _, step = heapq.heappop(self._heap)
            yield from step(at)

    # -- plumbing ---------------------------------------------------------------------------

    def _later(self, at: float, step: Step) -> None:
        heapq.heappush(self._heap, (at, next(self._order), step))

    def _happen(self, at: float, mix: Mix) -> list[Message]:
        _, where, make = self._rng.choices(mix, weights=[weight for weight, _, _ in mix])[0]
        candidates = [d for d in self._devices if d.id not in self._offline and where(d)]
        if not candidates:
            return []
        # Top-floor devices (the roof fire door) see only the odd maintenance visit.
        weights = [0.05 if d.floor == "RF" else 1 for d in candidates]
        return make(at, self._rng.choices(candidates, weights=weights)[0])

    def _event(self, at: float, device: str, kind: str, point: str | None = None,
               **data: object) -> Message:
        self._counters[device] += 1
        body: dict[str, object] = {
            "id": f"{device}-{self._counters[device]}-{self._rng.getrandbits(24):06x}",
            "ts": (self._start + timedelta(seconds=at)).isoformat(timespec="milliseconds"),
            "type": kind,
        }
        if point is not None:
            body["point"] = point
        body["data"] = data
        speaker = self._by_id.get(device)
        if speaker is not None and speaker.adapter:
            said = vendor_message(speaker.adapter, speaker.address, speaker.kind, kind,
                                  self._start + timedelta(seconds=at), data, self._counters[device], self._rng)
            if said is not None:
                return Message(at, said[0], said[1], False, kind)
        return Message(at, f"mcc/v1/{self._site}/{device}/event",
                       json.dumps(body, ensure_ascii=False), False, kind)

    def _state(self, at: float, device: str, state: str) -> Message:
        if state == "offline":
            self._offline.add(device)
        else:
            self._offline.discard(device)
        return Message(at, f"mcc/v1/{self._site}/{device}/state", state, True, f"state.{state}")

    def _episode(self, at: float, device: str, point: str | None, kind: str,
                 data: dict[str, object], delay: tuple[float, float], clear_kind: str,
                 clear_data: dict[str, object],
                 after_clear: Callable[[float], None] | None = None) -> list[Message]:
        """A condition that clears itself later; one open condition at a time per point."""
        key = (device, point)
        if key in self._busy:
            return []
        self._busy.add(key)

        def clear(t: float) -> list[Message]:
            self._busy.discard(key)
            if after_clear:
                after_clear(t)
            return [self._event(t, device, clear_kind, point, **clear_data)]

        self._later(at + self._rng.uniform(*delay), clear)
        return [self._event(at, device, kind, point, **data)]

    # -- everyday traffic -------------------------------------------------------------------

    def _routine(self, at: float) -> list[Message]:
        self._later(at + self._rng.expovariate(self._rate), self._routine)
        return self._happen(at, self._routine_mix)

    def _granted(self, at: float, door: Device) -> list[Message]:
        person = "工程维修" if door.floor == "RF" else self._rng.choices(
            ["住户", "访客", "保洁", "快递"], weights=[85, 6, 5, 4])[0]
        direction = self._rng.choices(["in", "out"], weights=[75, 25])[0]
        return [self._event(at, door.id, "access.granted", card=self._rng.choice(self._cards),
                            person=person, direction=direction)]

    def _plate(self) -> str:
        region = self._rng.choice(PLATE_REGIONS)
        if self._rng.random() < 0.2:  # new-energy plates: D/F + 5 digits, 8 characters in all
            return region + self._rng.choice("DF") + "".join(self._rng.choices("0123456789", k=5))
        return region + "".join(self._rng.choice(PLATE_CHARS) if self._rng.random() < 0.2
                                else self._rng.choice("0123456789") for _ in range(5))

    def _entry(self, at: float, lane: Device) -> list[Message]:
        plate = self._plate()
        vehicle = self._rng.choices(["resident", "visitor"], weights=[80, 20])[0]
        if len(self._parked) < 300:
            self._parked[plate] = vehicle
        return [self._event(at, lane.id, "parking.entry", plate=plate, vehicle=vehicle)]

    def _exit(self, at: float, lane: Device) -> list[Message]:
        if self._parked:  # mostly cars seen coming in
            plate = self._rng.choice(sorted(self._parked))
            vehicle = self._parked.pop(plate)
        else:
            plate, vehicle = self._plate(), "resident"
        fee = self._rng.choice([0, 5, 10, 15]) if vehicle == "visitor" else 0
        return [self._event(at, lane.id, "parking.exit", plate=plate, vehicle=vehicle, fee=fee)]

    def _heartbeat(self, at: float, device: Device) -> list[Message]:
        return [self._event(at, device.id, "device.heartbeat")]

    # -- incidents --------------------------------------------------------------------------

    def _opening(self, at: float) -> list[Message]:
        self._later(at + self._rng.expovariate(self._rate * INCIDENTS_PER_EVENT), self._incident)
        return self._happen(at, [entry for entry in self._incident_mix if entry[2] != self._denied])

    def _incident(self, at: float) -> list[Message]:
        self._later(at + self._rng.expovariate(self._rate * INCIDENTS_PER_EVENT), self._incident)
        return self._happen(at, self._incident_mix)

    def _fire_alarm(self, at: float, panel: Device) -> list[Message]:
        if not panel.points:
            return []
        point = self._rng.choice(sorted(panel.points))

        def maybe_reset(t: float) -> None:
            if self._rng.random() < 0.4:  # the operator resets the panel after the all-clear
                self._later(t + self._rng.uniform(5, 30),
                            lambda t2: [self._event(t2, panel.id, "fire.reset")])

        return self._episode(at, panel.id, point, "fire.alarm", {"detector": panel.points[point]},
                             (20, 90), "fire.restore", {"of": "fire.alarm"}, maybe_reset)

    def _sensor_alarm(self, at: float, sensor: Device) -> list[Message]:
        _key, alarm = Z2M_KEYS.get(sensor.kind, ("smoke", "fire.alarm"))
        family = alarm.split(".")[0]
        return self._episode(at, sensor.id, None, alarm, {}, (20, 90), f"{family}.restore", {"of": alarm})

    def _lift_trapped(self, at: float, lift: Device) -> list[Message]:
        # Someone presses the car's alarm button; the lift box reports the car's floor. The
        # contractor releases them a few minutes later (in the demo; the limit is 30 min).
        floor = self._rng.choice(["2F", "3F", "5F", "8F", "B1"])
        return self._episode(at, lift.id, None, "elevator.trapped",
                             {"car": lift.name or lift.id, "floor": floor, "people": self._rng.randint(1, 4)},
                             (120, 600), "elevator.restore", {"of": "elevator.trapped"})

    def _lift_fault(self, at: float, lift: Device) -> list[Message]:
        code = self._rng.choice(["E30 门锁回路断开", "E12 平层感应器故障", "E51 变频器过热"])
        return self._episode(at, lift.id, None, "elevator.fault", {"code": code.split()[0], "cause": code},
                             (60, 300), "elevator.restore", {"of": "elevator.fault"})

    def _power_failure(self, at: float, monitor: Device) -> list[Message]:
        return self._episode(at, monitor.id, None, "power.failure", {"on_backup": True, "supply": "市电"},
                             (60, 300), "power.restore", {"of": "power.failure"})

    def _fire_fault(self, at: float, panel: Device) -> list[Message]:
        if not panel.points:
            return []
        point = self._rng.choice(sorted(panel.points))
        reason = self._rng.choice(["探测器通讯故障", "探测器污染", "回路短路"])
        return self._episode(at, panel.id, point, "fire.fault", {"reason": reason},
                             (30, 180), "fire.restore", {"of": "fire.fault"})

    def _denied(self, at: float, door: Device) -> list[Message]:
        card = str(self._rng.randrange(10**9, 10**10))
        reason = self._rng.choice(["unknown_card", "expired", "no_permission"])
        if self._rng.random() < 0.7:
            return [self._event(at, door.id, "access.denied", card=card, reason=reason)]
        t = at  # a burst: someone tries the same bad card over and over at one reader
        for _ in range(self._rng.randint(5, 8)):
            t += self._rng.uniform(1, 4)
            self._later(t, lambda t2: [] if door.id in self._offline else [
                self._event(t2, door.id, "access.denied", card=card, reason=reason)])
        return []

    def _forced(self, at: float, door: Device) -> list[Message]:
        return self._episode(at, door.id, None, "access.door_forced", {}, (5, 40),
                             "access.door_closed", {})

    def _held_open(self, at: float, door: Device) -> list[Message]:
        return self._episode(at, door.id, None, "access.door_held_open", {"open_seconds": 60},
                             (20, 120), "access.door_closed", {})

    def _barrier_fault(self, at: float, lane: Device) -> list[Message]:
        reason = self._rng.choice(["道闸电机过流", "地感线圈故障", "闸杆被撞"])
        return self._episode(at, lane.id, None, "parking.barrier_fault", {"reason": reason},
                             (30, 180), "parking.restore", {"of": "parking.barrier_fault"})

    def _duress(self, at: float, door: Device) -> list[Message]:
        return [self._event(at, door.id, "access.duress", card=self._rng.choice(self._cards))]

    def _battery_low(self, at: float, device: Device) -> list[Message]:
        return [self._event(at, device.id, "device.battery_low", battery=self._rng.randint(5, 19))]

    def _goes_offline(self, at: float, device: Device) -> list[Message]:
        if any(key[0] == device.id for key in self._busy):
            return []  # so that no pending follow-up comes from an offline device
        self._later(at + self._rng.uniform(30, 120),
                    lambda t: [self._state(t, device.id, "online")])
        return [self._state(at, device.id, "offline")]


class _Publisher:
    """The paho client: parses the broker URL, reconnects on its own, counts PUBACKs."""

    def __init__(self, broker_url: str, site: str) -> None:
        url = urlsplit(broker_url)
        if url.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"unsupported broker URL {broker_url!r}: use mqtt:// or mqtts://")
        self.acked = 0
        self.connects = 0
        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"mcc-sim-{site}-{secrets.token_hex(3)}")
        if url.username:
            client.username_pw_set(unquote(url.username),
                                   unquote(url.password) if url.password is not None else None)
        if url.scheme == "mqtts":
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda _c, _u, _f, reason, _p: log.info("disconnected: %s", reason)
        client.on_publish = self._on_publish
        # connect_async: paho's loop thread keeps retrying until the broker is reachable, and
        # QoS 1 messages published meanwhile are queued and sent once it is.
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        client.connect_async(url.hostname or "localhost", port, keepalive=30)
        client.loop_start()
        self.client = client

    def _on_connect(self, _c: object, _u: object, _f: object, reason: ReasonCode,
                    _p: object) -> None:
        log.info("connected to the broker: %s", reason)
        if not reason.is_failure:
            self.connects += 1

    def _on_publish(self, _c: object, _u: object, _mid: int, _reason: object, _p: object) -> None:
        self.acked += 1

    def close(self, sent: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < sent and time.monotonic() < deadline:  # let queued QoS 1 land
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()


def simulated_sites(site: str, count: int) -> list[str]:
    """The site ids ``mcc simulate --sites N`` publishes for: ``site`` alone, or ``site-001`` ...
    (a center's site file lists them under ``sites``)."""
    return [site] if count <= 1 else [f"{site}-{i:03d}" for i in range(1, count + 1)]


def run_simulator(broker_url: str, site: str, rate: float = 5.0, seed: int | None = None,
                  duration: float | None = None, stop: threading.Event | None = None,
                  devices_file: Path | None = None, sites: int = 1) -> SimulatorStats:
    """Publish a believable site (or ``sites`` of them, each at ``rate``, one connection) until
    ``duration`` or ``stop``."""
    devices = load_devices(devices_file or DEFAULT_DEVICES)
    rng, now = random.Random(seed), datetime.now(SITE_TZ)
    by_site = {site_id: Traffic(devices, site_id, rate, random.Random(rng.random()), now)
               for site_id in simulated_sites(site, sites)}
    traffic: Iterable[Message] = heapq.merge(*by_site.values(), key=lambda m: m.at)
    stop = stop or threading.Event()
    end = float("inf") if duration is None else duration
    stats = SimulatorStats()
    publisher = _Publisher(broker_url, site)
    started, connects = time.monotonic(), 1
    try:
        for message in traffic:
            if stop.wait(max(0.0, min(message.at, end) - (time.monotonic() - started))):
                break
            if message.at > end:
                break
            if publisher.connects > connects:
                # Like a gateway's birth message: a restarted broker may have lost the retained
                # states, so every reconnect restates them.
                connects = publisher.connects
                for site_id, one in by_site.items():
                    for device, state in one.states().items():
                        publisher.client.publish(f"mcc/v1/{site_id}/{device}/state", state, qos=1,
                                                 retain=True)
                        stats.published[f"state.{state}"] += 1
            publisher.client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            stats.published[message.kind] += 1
            if message.kind not in ROUTINE_KINDS and message.at > 0:  # not the start-up states
                log.info("%s %s", message.topic, message.payload)
    finally:
        publisher.close(sent=stats.total)
    log.info("simulator stopped after %d messages", stats.total)
    return stats
