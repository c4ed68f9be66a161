"""A real Mosquitto run with the files `mcc broker files` and `mcc broker certs` write: each device
login publishes only its own topics and reads only its own commands, only the console reads the
site and sends commands, TLS works with the generated CA, and a console logged in as the console
stores what devices send. What Mosquitto 2 does with a forbidden subscription is asserted as it
really happens: the SUBACK grants it, and nothing of anyone else is ever delivered."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from console.demo.broker import ManagedMosquitto, free_port
from console.wire.broker_certs import make_broker_certs
from tests.conftest import DEVICES, ConsoleProcess, native_event, wait_until, write_site

CONSOLE_PASSWORD = "console-login-for-tests-1"
EXTRA_DEVICES = [
    {"id": "gw-1", "name": "2号楼网关", "role": "gateway"},
    {"id": "smoke-1", "role": "sensor", "kind": "smoke_detector", "adapter": "zigbee2mqtt", "address": "0x00158d0001"},
]


@dataclass
class Client:
    """A paho client (MQTT 5, so a refused publish shows in its PUBACK) that records what it gets."""

    mqtt: mqtt.Client
    received: list[tuple[str, bytes]] = field(default_factory=list)
    granted: list[list[ReasonCode]] = field(default_factory=list)
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    connack: list[ReasonCode] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.received]

    def subscribe(self, topic: str) -> list[ReasonCode]:
        before = len(self.granted)
        self.mqtt.subscribe(topic, qos=1)
        wait_until(lambda: len(self.granted) > before, 5, message=f"SUBACK for {topic}")
        return self.granted[before]

    def publish(self, topic: str, payload: bytes = b"x") -> ReasonCode:
        """Publish at QoS 1 and return the reason code of the broker's PUBACK."""
        info = self.mqtt.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        return wait_until(lambda: self.acks.get(info.mid), 5, message=f"PUBACK for {topic}")  # type: ignore[no-any-return]


@dataclass
class PolicyBroker:
    broker: ManagedMosquitto
    folder: Path
    site_file: Path
    tls_port: int
    passwords: dict[str, str]
    clients: list[Client] = field(default_factory=list)

    def connect(self, login: str, password: str | None = None, tls: bool = False,
                ca: Path | None = None, expect_ok: bool = True) -> Client:
        paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{login}-{uuid.uuid4().hex[:6]}",
                           protocol=mqtt.MQTTv5)
        client = Client(paho)
        paho.username_pw_set(login, self.passwords[login] if password is None else password)
        if tls:
            paho.tls_set(ca_certs=str(ca or self.folder / "ca.crt"), cert_reqs=ssl.CERT_REQUIRED)
        paho.on_message = lambda _c, _u, msg: client.received.append((msg.topic, bytes(msg.payload)))
        paho.on_subscribe = lambda _c, _u, _mid, codes, _p: client.granted.append(list(codes))
        paho.on_publish = lambda _c, _u, mid, code, _p: client.acks.__setitem__(mid, code)

        def on_connect(_c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
            client.connack.append(code)
            client.connected.set()

        paho.on_connect = on_connect
        paho.connect("127.0.0.1", self.tls_port if tls else self.broker.port)
        paho.loop_start()
        self.clients.append(client)
        assert client.connected.wait(10), f"no CONNACK for {login}"
        if expect_ok:
            assert not client.connack[0].is_failure, client.connack
        return client

    def close(self) -> None:
        for client in self.clients:
            client.mqtt.disconnect()
            client.mqtt.loop_stop()


def _mcc(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=120,
                            cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mcc broker certs` once per module: making the RSA keys takes a second or two."""
    folder = tmp_path_factory.mktemp("certs")
    _mcc("broker", "certs", "--dir", str(folder), cwd=folder)
    return folder


@pytest.fixture
def policy(tmp_path: Path, certs: Path) -> Iterator[PolicyBroker]:
    """A site with native devices, a gateway and a zigbee2mqtt sensor; the broker runs exactly the
    listener snippet, password file, ACL and certificates that the commands wrote."""
    port, tls_port = free_port(), free_port()
    url = f"mqtt://mcc-console:{CONSOLE_PASSWORD}@127.0.0.1:{port}"
    site = write_site(tmp_path / "site", url, f"sqlite:///{tmp_path / 'mcc.db'}", free_port(),
                      devices={"entries": DEVICES + EXTRA_DEVICES, "unknown": "quarantine"},
                      adapters=[{"type": "native"}, {"type": "zigbee2mqtt"}])
    files = tmp_path / "broker-files"
    _mcc("broker", "files", "--config", str(site), "--dir", str(files), "--port", str(port),
         "--tls-port", str(tls_port), "--tls-bind", "127.0.0.1", cwd=tmp_path)
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy2(certs / name, files / name)
    passwords = {"mcc-console": CONSOLE_PASSWORD}
    for line in (files / "new-credentials.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            login, password = line.split()
            passwords[login] = password
    assert set(passwords) == {"mcc-console", "fp-1", "door-1", "lane-in", "gw-1", "adapter-zigbee2mqtt"}
    broker = ManagedMosquitto(tmp_path / "mosquitto", port, listeners=(files / "mosquitto-mcc.conf").read_text())
    broker.start()
    made = PolicyBroker(broker, files, site, tls_port, passwords)
    try:
        yield made
    finally:
        made.close()
        broker.stop()


def test_a_gateway_cannot_publish_for_another_device(policy: PolicyBroker) -> None:
    console = policy.connect("mcc-console")
    console.subscribe("mcc/v1/demo/#")
    gateway = policy.connect("gw-1")
    assert gateway.publish("mcc/v1/demo/fp-1/event", b'{"spoofed":1}').is_failure
    assert gateway.publish("mcc/v1/demo/fp-1/state", b"offline").is_failure
    assert not gateway.publish("mcc/v1/demo/gw-1/event", b'{"own":1}').is_failure
    # The gateway's own event comes after the refused ones on the same connection: once it is in,
    # the others would have been too.
    wait_until(lambda: "mcc/v1/demo/gw-1/event" in console.topics(), 5)
    assert console.topics() == ["mcc/v1/demo/gw-1/event"]


def test_a_vendor_bridge_publishes_only_under_its_own_base_topic(policy: PolicyBroker) -> None:
    console = policy.connect("mcc-console")
    console.subscribe("mcc/v1/demo/#")
    console.subscribe("zigbee2mqtt/#")
    bridge = policy.connect("adapter-zigbee2mqtt")
    assert bridge.publish("mcc/v1/demo/fp-1/event", b"{}").is_failure
    assert not bridge.publish("zigbee2mqtt/0x00158d0001", b'{"smoke":true}').is_failure
    wait_until(lambda: console.received, 5)
    assert console.topics() == ["zigbee2mqtt/0x00158d0001"]


def test_a_device_subscribed_to_everything_receives_only_its_own_commands(policy: PolicyBroker) -> None:
    gateway = policy.connect("gw-1")
    # Mosquitto 2 grants the subscription (no 0x80 in the SUBACK) and then delivers only what the
    # login may read: its own command topic.
    assert [code.value for code in gateway.subscribe("#")] == [1]
    panel, console = policy.connect("fp-1"), policy.connect("mcc-console")
    panel.publish("mcc/v1/demo/fp-1/event", b'{"id":"a"}')
    panel.publish("mcc/v1/demo/fp-1/state", b"online")
    policy.connect("adapter-zigbee2mqtt").publish("zigbee2mqtt/0x00158d0001", b"{}")
    console.publish("mcc/v1/demo/fp-1/command", b'{"cmd":"reset"}')
    console.publish("mcc/v1/demo/gw-1/command", b'{"cmd":"ping"}')
    wait_until(lambda: gateway.received, 5)
    assert gateway.received == [("mcc/v1/demo/gw-1/command", b'{"cmd":"ping"}')]


def test_only_the_console_sends_commands(policy: PolicyBroker) -> None:
    lane = policy.connect("lane-in")
    lane.subscribe("mcc/v1/demo/lane-in/command")
    gateway = policy.connect("gw-1")
    assert gateway.publish("mcc/v1/demo/lane-in/command", b'{"cmd":"open","by":"gw"}').is_failure
    assert gateway.publish("mcc/v1/demo/gw-1/command", b'{"cmd":"self"}').is_failure
    console = policy.connect("mcc-console")
    assert not console.publish("mcc/v1/demo/lane-in/command", b'{"cmd":"open"}').is_failure
    wait_until(lambda: lane.received, 5)
    assert lane.received == [("mcc/v1/demo/lane-in/command", b'{"cmd":"open"}')]


def test_tls_listener_takes_the_generated_ca_and_refuses_a_wrong_password(policy: PolicyBroker,
                                                                         tmp_path: Path) -> None:
    console = policy.connect("mcc-console")
    console.subscribe("mcc/v1/demo/#")
    over_tls = policy.connect("door-1", tls=True)
    assert not over_tls.publish("mcc/v1/demo/door-1/event", b'{"via":"tls"}').is_failure
    wait_until(lambda: console.received == [("mcc/v1/demo/door-1/event", b'{"via":"tls"}')], 5)

    for tls in (True, False):
        wrong = policy.connect("door-1", password="not-the-password", tls=tls, expect_ok=False)
        assert wrong.connack[0].getName() in ("Not authorized", "Bad user name or password"), wrong.connack
        nobody = policy.connect("door-1", password="", tls=tls, expect_ok=False)
        assert nobody.connack[0].is_failure
    # A client that trusts another CA (another site's) does not get past the handshake.
    other = make_broker_certs(tmp_path / "other-site", ["localhost", "127.0.0.1"])
    context = ssl.create_default_context(cafile=str(other.ca_cert))
    with socket.create_connection(("127.0.0.1", policy.tls_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="127.0.0.1").close()


@pytest.mark.parametrize("scheme", ["mqtt", "mqtts"])
def test_a_console_with_the_console_login_stores_what_devices_send(policy: PolicyBroker, tmp_path: Path,
                                                                   scheme: str) -> None:
    site = yaml.safe_load(policy.site_file.read_text())
    if scheme == "mqtts":  # over the TLS listener, trusting the site's CA alone
        site["mqtt"]["url"] = f"mqtts://mcc-console:{CONSOLE_PASSWORD}@127.0.0.1:{policy.tls_port}"
        site["mqtt"]["ca_file"] = "../broker-files/ca.crt"  # relative to the site file
        policy.site_file.write_text(yaml.safe_dump(site, allow_unicode=True))
    console = ConsoleProcess(policy.site_file, site["http"]["port"], tmp_path / "console.log")
    console.start()
    try:
        console.staff({"root": "admin"})
        gateway = policy.connect("gw-1")
        topic, body = native_event("fp-1", "spoofed-1", "fire.alarm", point="1-003")
        assert gateway.publish(topic, json.dumps(body).encode()).is_failure
        topic, body = native_event("gw-1", "gw-own-1", "device.heartbeat")
        assert not gateway.publish(topic, json.dumps(body).encode()).is_failure
        panel = policy.connect("fp-1")
        topic, body = native_event("fp-1", "fp-own-1", "fire.alarm", point="1-003")
        assert not panel.publish(topic, json.dumps(body).encode()).is_failure

        def stored() -> set[str]:
            return {e["id"] for e in console.api("GET", "/api/events?limit=100", "root").json()}

        wait_until(lambda: {"gw-own-1", "fp-own-1"} <= stored(), 15)
        assert "spoofed-1" not in stored()
        assert console.health()["broker"]["connected"]
    finally:
        console.stop()


def test_the_compose_broker_config_serves_tls_and_holds_devices_to_the_acl(policy: PolicyBroker,
                                                                          tmp_path: Path) -> None:
    """deploy/compose/mosquitto.conf with deploy/mosquitto/mcc.conf, as the container runs them, with
    the container's paths and ports pointed at this test's files."""
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    shutil.copy(deploy / "mosquitto" / "mcc.conf", conf_d / "mcc.conf")
    text = (deploy / "compose" / "mosquitto.conf").read_text()
    # ManagedMosquitto adds its own persistence_location (and the user to run as) after these lines.
    for old, new in (("/mosquitto/config/mcc", str(policy.folder)), ("/mosquitto/config/conf.d", str(conf_d)),
                     ("persistence_location /mosquitto/data/\n", ""),
                     ("listener 8883 0.0.0.0", f"listener {policy.tls_port} 127.0.0.1"),
                     ("listener 1883 127.0.0.1", f"listener {policy.broker.port} 127.0.0.1")):
        assert old in text, old
        text = text.replace(old, new)
    policy.broker.stop()
    compose_broker = ManagedMosquitto(tmp_path / "compose-broker", policy.broker.port, listeners=text)
    compose_broker.start()
    try:
        console = policy.connect("mcc-console", tls=True)
        console.subscribe("mcc/v1/demo/#")
        gateway = policy.connect("gw-1", tls=True)
        assert gateway.publish("mcc/v1/demo/fp-1/event", b"{}").is_failure
        assert not gateway.publish("mcc/v1/demo/gw-1/event", b"{}").is_failure
        wait_until(lambda: console.received, 5)
        assert console.topics() == ["mcc/v1/demo/gw-1/event"]
        anonymous = policy.connect("gw-1", password="", tls=True, expect_ok=False)
        assert anonymous.connack[0].is_failure
    finally:
        policy.close()
        compose_broker.stop()
