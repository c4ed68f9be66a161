"""A site that keeps working when the WAN fails (issue 16): the site's own Mosquitto, bridged to
the center's with the snippet `mcc broker bridge` writes, through a TCP link the test can cut.
While the link is down the site's events wait in the site broker; when it returns they reach the
center and its console stores each exactly once. Commands from the center reach the site's
devices through the same bridge, over TLS with the bridge's own login, also after a cut."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from console.demo.broker import ManagedMosquitto, free_port
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until, write_site
from tests.support.link import Link
from tests.support.stored import stored_count, stored_ids

RATE = 150.0
"""Events per second the site's devices publish, before, during and after the cut."""
CUT_SECONDS = 60.0
CONSOLE_PASSWORD = "center-console-login-1"


def _mcc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


class Watcher:
    """A paho client on one broker that records what it receives on ``topics``."""

    def __init__(self, port: int, *topics: str):
        self.received: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, msg: self.received.append((msg.topic, bytes(msg.payload)))
        self.client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe([(topic, 1) for topic in topics])
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), f"no SUBACK from the broker on {port}"

    def last(self, topic: str) -> bytes | None:
        return next((payload for t, payload in reversed(self.received) if t == topic), None)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Site:
    """The site's broker, bridged to the center through ``link`` by the file `mcc broker bridge` wrote."""

    broker: ManagedMosquitto
    link: Link
    bridge_file: Path
    state: Watcher

    STATE_TOPIC = "mcc/bridge/demo/state"  # the bridge's own notification, kept on the site broker

    def wait_bridge(self, up: bool, timeout: float = 20.0) -> None:
        want = b"1" if up else b"0"
        wait_until(lambda: self.state.last(self.STATE_TOPIC) == want, timeout,
                   message=f"the site broker reports its bridge {'up' if up else 'down'}")


def start_site(tmp_path: Path, center_port: int, center_url: str, *bridge_args: str) -> Iterator[Site]:
    """Write the site's bridge with the real command, start the site broker with it included."""
    link = Link(center_port)
    port = free_port()
    site_file = write_site(tmp_path / "site", f"mqtt://127.0.0.1:{port}", f"sqlite:///{tmp_path / 'site.db'}",
                           free_port())
    conf_d = tmp_path / "site-broker-conf.d"
    bridge_file = conf_d / "mcc-bridge.conf"
    # The snippet comes last, so its queue limit is the one that holds (not the test broker's).
    broker = ManagedMosquitto(tmp_path / "site-broker", port, after=f"include_dir {conf_d}\n")
    state: Watcher | None = None
    try:
        result = _mcc("broker", "bridge", "--config", str(site_file), "--center",
                      center_url.format(port=link.port), "--out", str(bridge_file), *bridge_args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert bridge_file.stat().st_mode & 0o777 == 0o600
        broker.start()
        state = Watcher(port, Site.STATE_TOPIC)
        site = Site(broker, link, bridge_file, state)
        site.wait_bridge(up=True)
        yield site
    finally:
        if state is not None:
            state.close()
        broker.stop()
        link.close()


@pytest.fixture
def site(tmp_path: Path, broker: ManagedMosquitto) -> Iterator[Site]:
    """A site bridged to the center broker (the ``broker`` fixture, which make_console uses)."""
    yield from start_site(tmp_path, broker.port, "mqtt://127.0.0.1:{port}")


class Stream:
    """The site's devices: a steady QoS 1 stream of native events to the SITE broker, from a thread,
    until ``stop()``. ``publisher.acked`` counts the site broker's PUBACKs."""

    def __init__(self, port: int, rate: float):
        self.publisher = Publisher(port, client_id="site-devices")
        self.rate = rate
        self.ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        devices = ("door-1", "lane-in", "fp-1")
        while not self._stop.is_set():
            i = len(self.ids)
            source_id = f"site-{i:06d}"
            topic, body = native_event(devices[i % 3], source_id, "device.heartbeat")
            self.publisher.publish(topic, body, wait=False)
            self.ids.append(source_id)
            delay = start + (i + 1) / self.rate - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def stop(self) -> list[str]:
        """Stop publishing; return every id sent once the site broker has taken them all."""
        self._stop.set()
        self._thread.join(10)
        wait_until(lambda: self.publisher.acked >= len(self.ids), 30, message="the site broker acks every event")
        self.publisher.close()
        return list(self.ids)


@pytest.mark.slow
@pytest.mark.timeout(240)  # the one-minute cut, the queue's drain, and a console start
def test_events_wait_in_the_site_broker_while_the_wan_is_cut_and_are_stored_exactly_once(
    make_console: Any, db_url: str, site: Site,
) -> None:
    make_console(db_url)  # on the center broker
    stream = Stream(site.broker.port, RATE)
    try:
        wait_until(lambda: stored_count(db_url) >= 2 * RATE, 30, message="events flow through the bridge")

        site.link.cut()
        site.wait_bridge(up=False)
        # What had crossed the link before the cut is still on its way from the center broker to the
        # console; once the count holds still for a second, nothing more is on the center's side.
        previous = [-1]

        def settled() -> int | None:
            now = stored_count(db_url)
            steady = now == previous[0]
            previous[0] = now
            return now if steady else None

        at_cut = wait_until(settled, 15, interval=1.0, message="the console takes what crossed before the cut")
        acked_at_cut = stream.publisher.acked
        cut_ends = time.monotonic() + CUT_SECONDS
        while time.monotonic() < cut_ends:  # the link is down for a minute, under load
            assert stored_count(db_url) == at_cut, "an event reached the center while the link was cut"
            time.sleep(1.0)
        waited = stream.publisher.acked - acked_at_cut
        assert waited >= 0.8 * RATE * (CUT_SECONDS - 2), f"the site broker took only {waited} events during the cut"
        assert site.link.refused >= 1, "the bridge kept trying to reach the center during the cut"

        accepted = site.link.accepted
        site.link.restore()
        site.wait_bridge(up=True, timeout=15)  # restart_timeout 1 10: back within about ten seconds
        assert site.link.accepted > accepted
        wait_until(lambda: stored_count(db_url) > at_cut, 15, message="the queued events move again")
        time.sleep(3.0)  # the devices go on publishing while the queue drains
    finally:
        sent = stream.stop()

    assert len(sent) >= RATE * CUT_SECONDS
    wait_until(lambda: stored_count(db_url) >= len(sent), 60, interval=0.5,
               message=f"all {len(sent)} events stored at the center")
    ids = stored_ids(db_url)
    assert len(ids) == len(set(ids)) == len(sent), "an event was stored twice"
    assert set(ids) == set(sent)


@dataclass
class TlsCenter:
    broker: ManagedMosquitto
    tls_port: int
    files: Path
    console: ConsoleProcess


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    result = _mcc("broker", "certs", "--dir", str(folder), cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def tls_center(tmp_path: Path, certs: Path, sqlite_url: str) -> Iterator[TlsCenter]:
    """The center's broker as production runs it: `mcc broker files --bridge demo` (a login per
    device, the console's and the site bridge's) and `mcc broker certs`; the console beside it."""
    port, tls_port = free_port(), free_port()
    site_file = write_site(tmp_path / "center", f"mqtt://mcc-console:{CONSOLE_PASSWORD}@127.0.0.1:{port}",
                           sqlite_url, free_port())
    files = tmp_path / "center-broker-files"
    result = _mcc("broker", "files", "--config", str(site_file), "--dir", str(files), "--port", str(port),
                  "--tls-port", str(tls_port), "--tls-bind", "127.0.0.1", "--bridge", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy2(certs / name, files / name)
    broker = ManagedMosquitto(tmp_path / "center-broker", port, listeners=(files / "mosquitto-mcc.conf").read_text())
    broker.start()
    console = ConsoleProcess(site_file, int(yaml.safe_load(site_file.read_text())["http"]["port"]),
                             tmp_path / "console.log")
    try:
        console.start()
        yield TlsCenter(broker, tls_port, files, console)
    finally:
        console.stop()
        broker.stop()


def _bridge_password(files: Path) -> str:
    for line in (files / "new-credentials.txt").read_text().splitlines():
        if line.startswith("bridge-demo "):
            return line.split()[1]
    raise AssertionError("no password issued for bridge-demo")


def test_a_barrier_command_from_the_center_reaches_the_lane_through_the_bridge_even_after_a_cut(
    tmp_path: Path, tls_center: TlsCenter,
) -> None:
    password_file = tmp_path / "bridge-password"
    password_file.write_text(_bridge_password(tls_center.files) + "\n")
    site_gen = start_site(tmp_path, tls_center.tls_port, "mqtts://bridge-demo@127.0.0.1:{port}",
                          "--password-file", str(password_file), "--ca", str(tls_center.files / "ca.crt"))
    site = next(site_gen)
    lane = Watcher(site.broker.port, "mcc/v1/demo/lane-in/command")
    try:
        console = tls_center.console.staff({"op": "operator"})
        # An event from the site crosses the TLS link with the bridge's login and is stored.
        device = Publisher(site.broker.port)
        device.publish(*native_event("lane-in", "over-tls-1", "parking.entry"))
        device.close()
        wait_until(lambda: "over-tls-1" in stored_ids(console.db_url), 15, message="the site's event is stored")

        def lift(reason: str) -> str:
            response = console.api("POST", "/api/devices/lane-in/open-barrier", "op", json={"reason": reason})
            assert response.status_code == 200, response.text
            return str(response.json()["command_id"])

        first = lift("访客登记后放行")
        wait_until(lambda: lane.received, 15, message="the lane at the site gets the command")
        assert json.loads(lane.received[0][1])["id"] == first

        # With the link down the center broker keeps the command in the bridge's session (the
        # console's "sent" means the center broker took it) and hands it over when the link returns.
        site.link.cut()
        site.wait_bridge(up=False)
        second = lift("收费争议，放行")
        assert len(lane.received) == 1
        site.link.restore()
        site.wait_bridge(up=True, timeout=15)
        wait_until(lambda: len(lane.received) == 2, 15, message="the command queued at the center arrives")
        assert [json.loads(payload)["id"] for _, payload in lane.received] == [first, second]
        assert {topic for topic, _ in lane.received} == {"mcc/v1/demo/lane-in/command"}
    finally:
        lane.close()
        next(site_gen, None)

