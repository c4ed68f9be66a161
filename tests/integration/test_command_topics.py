"""A command can never cut off the alarms (issue 15, finding 1): a lane registered with a command
topic the broker would reject (a control character, a wildcard) made Mosquitto drop the console's
connection on every resend, and fire alarms stopped being stored. The topic is now refused where it
enters (the API, the device import, the site file's check), and checked again before a command is
sent; a lane with a good topic opens its barrier and the alarms keep coming. Against a real
Mosquitto and a console process."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from console.contract import InboundMessage
from console.demo.broker import ManagedMosquitto
from console.settings import DeviceEntry
from console.wire.mqtt import MqttConnection
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.integration.test_floorplans_api import ok

BAD_TOPICS = {
    "mcc/v1/demo/sec-lane/cmd\u0017": "control character",
    "mcc/v1/demo/+/cmd": "wildcards",
    "mcc/v1/demo/#": "wildcards",
    "$SYS/cmd": "cannot start with $",
    "mcc/v1//cmd": "empty level",
    "/mcc/v1/demo/lane/cmd": "empty level",
    "mcc/v1/demo/lane\x00/cmd": "control character",
}


@pytest.mark.parametrize("topic", BAD_TOPICS)
def test_a_command_topic_the_broker_would_reject_is_not_a_valid_device(topic: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DeviceEntry(id="sec-lane", role="lane", command_topic=topic)
    assert BAD_TOPICS[topic] in str(refused.value)


def test_vendor_command_topics_that_are_topic_names_are_accepted() -> None:
    for topic in ("mcc/v1/demo/sec-lane/command", "zigbee2mqtt/车道闸 1/set", "cmnd/barrier-2/POWER"):
        assert DeviceEntry(id="sec-lane", role="lane", command_topic=topic).command_topic == topic


def lane(topic: str) -> dict[str, Any]:
    return {"id": "sec-lane", "name": "保安亭车道", "role": "lane", "building": "地下车库", "command_topic": topic}


def test_bad_command_topics_are_refused_at_entry_and_the_alarms_keep_coming(
        make_console: Any, sqlite_url: str, publisher: Publisher) -> None:
    console: ConsoleProcess = make_console(sqlite_url).staff({"root": "admin", "op": "operator"})
    for topic in ("mcc/v1/demo/sec-lane/cmd\u0017", "mcc/v1/demo/sec-lane/+"):
        refused = console.api("POST", "/api/devices", "root", json=lane(topic))
        assert refused.status_code == 422, refused.text
        assert console.api("POST", "/api/devices/sec-lane/open-barrier", "op",
                           json={"reason": "访客放行"}).status_code == 409, "no such lane was registered"
    imported = console.api("POST", "/api/devices/import?dry_run=false", "root",
                           content=yaml.safe_dump({"entries": [lane("mcc/v1/demo/#")]}, allow_unicode=True).encode(),
                           headers={"Content-Type": "application/yaml"})
    assert imported.status_code == 422 and "wildcards" in imported.text

    site = yaml.safe_load(console.site_file.read_text())
    site["devices"]["entries"].append(lane("mcc/v1/demo/sec-lane/cmd\u0017"))
    broken = console.site_file.with_name("broken.yaml")
    broken.write_text(yaml.safe_dump(site, allow_unicode=True))
    checked = console.cli("check-config", str(broken))
    assert checked.returncode == 1 and "command_topic" in checked.stderr and "control character" in checked.stderr

    # Outside the lane's own command namespace: another device's event topic (the console would read
    # its own command as a fire signal), another lane's command topic, a vendor tree not listed.
    for topic in ("mcc/v1/demo/fp-1/event", "mcc/v1/demo/lane-2/command", "cmnd/barrier-2/POWER"):
        refused = console.api("POST", "/api/devices", "root", json=lane(topic))
        assert refused.status_code == 422 and refused.json()["code"] == "registry.command_topic", refused.text
    site["devices"]["entries"][-1] = lane("cmnd/barrier-2/POWER")
    broken.write_text(yaml.safe_dump(site, allow_unicode=True))
    checked = console.cli("check-config", str(broken))
    assert checked.returncode == 1 and "is mcc/v1/demo/sec-lane/command (or below it)" in checked.stderr
    site["commands"] = {"topic_prefixes": ["cmnd/"]}
    broken.write_text(yaml.safe_dump(site, allow_unicode=True))
    assert console.cli("check-config", str(broken)).returncode == 0, "a vendor prefix the site file lists"

    ok(console.api("POST", "/api/devices", "root", json=lane("mcc/v1/demo/sec-lane/command/open")))
    sent = ok(console.api("POST", "/api/devices/sec-lane/open-barrier", "op", json={"reason": "访客放行"}))
    assert sent["state"] == "sent"
    publisher.publish(*native_event("fp-1", "fire-after-command", "fire.alarm", "1-003"))
    wait_until(lambda: [a for a in ok(console.api("GET", "/api/alarms?active=true", "op")) if a["kind"] == "fire.alarm"],
               timeout=5, message="a fire alarm after the command is stored within its normal time")
    assert console.health()["ingest"]["quarantine_total"] == 0, "the console does not quarantine its own command"


def test_a_publish_the_broker_refuses_never_touches_the_ingest_connection(
        broker: ManagedMosquitto, publisher: Publisher) -> None:
    """Forced past the checks, a command to a malformed topic: Mosquitto drops the connection that
    sent it. That is the command's own connection; the ingest connection stays up, is not
    reconnected, and fire alarms published during and after it arrive at once."""
    received: list[InboundMessage] = []
    ingest = MqttConnection(url=broker.url, client_id="console-cmd-test", subscriptions=["mcc/v1/demo/#"],
                            deliver=received.append, status_topic="mcc/console/demo/console-cmd-test/state")
    ingest.start()
    try:
        wait_until(ingest.connected.is_set, message="the ingest connection is up")
        bad = threading.Thread(target=lambda: results.append(
            ingest.publish("mcc/v1/demo/sec-lane/cmd\u0017", b'{"cmd":"open_barrier"}', timeout=3.0)))
        results: list[bool] = []
        bad.start()
        publisher.publish(*native_event("fp-1", "fire-during", "fire.alarm", "1-003"))
        bad.join(10)
        publisher.publish(*native_event("fp-1", "fire-after", "fire.alarm", "1-003"))
        wait_until(lambda: len([m for m in received if b"fire-" in m.payload]) == 2, timeout=3,
                   message="both fire alarms reach the ingest connection")
        assert results == [False], "the refused command is reported as not sent"
        assert ingest.connects == 1 and ingest.connected.is_set(), "the ingest connection never dropped"
        assert ingest.publish("mcc/v1/demo/sec-lane/command", b'{"cmd":"open_barrier"}') is True
    finally:
        ingest.stop()
