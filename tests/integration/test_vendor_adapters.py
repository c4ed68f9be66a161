"""Every registered adapter over a real broker, on its real topic shape: a console with the
adapter enabled stores what each of the adapter's good samples means, and quarantines each bad
sample with the adapter's name and a reason, while the flow goes on."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from adapters import REGISTRY
from adapters.base import AdapterContext, AdapterDef
from console.contract import InboundMessage
from tests.conftest import Publisher, wait_until
from tests.support.golden import NOW

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("adapter", [a for a in REGISTRY if a.transport == "mqtt"], ids=lambda a: a.name)
def test_samples_on_the_wire_are_stored_and_bad_ones_quarantined(
    adapter: AdapterDef, make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    console = make_console(sqlite_url, adapters=[{"type": adapter.name}])
    console.add_user("root", "admin")
    console.login("root")
    for topic, payload in adapter.samples:
        publisher.publish(topic, payload)
    for topic, payload in adapter.bad_samples:
        publisher.publish(topic, payload)

    def stored() -> list[dict[str, Any]]:
        return console.api("GET", "/api/events?limit=1000", "root").json()  # type: ignore[no-any-return]

    def quarantined() -> list[dict[str, Any]]:
        return console.api("GET", "/api/quarantine", "root").json()["items"]  # type: ignore[no-any-return]

    wait_until(lambda: len(quarantined()) >= len(adapter.bad_samples), timeout=15,
               message=f"{adapter.name}: every bad sample quarantined")
    rows = quarantined()
    assert {row["adapter"] for row in rows} == {adapter.name}
    assert all(row["reason"] for row in rows)
    # What each good sample means, worked out off the wire by the same adapter code.
    expected: list[tuple[str, str]] = []
    ctx = AdapterContext(site="demo", topic=adapter.topic.replace("{site}", "demo"), adapter=adapter.name)
    for topic, payload in adapter.samples:
        drafts = adapter.handle(InboundMessage(topic, payload, False, NOW), ctx)
        # A restore read from a sensor's level that clears nothing is not kept (see Ingest).
        expected += [(d.device_id, d.kind) for d in drafts
                     if not (d.kind.endswith(".restore") and d.data.get("via") == "state")]

    def all_stored() -> bool:
        have = Counter((e["device_id"], e["kind"]) for e in stored())
        return not (Counter(expected) - have)

    wait_until(all_stored, timeout=15, message=f"{adapter.name}: every good sample stored: {expected}")
    if adapter.inventory is not None:  # an adapter that announces devices: they are registered
        announced = {item.device_id for topic, payload in adapter.samples
                     for item in adapter.inventory(InboundMessage(topic, payload, False, NOW), ctx)}

        def registered() -> set[str]:
            return {d["device_id"] for d in console.api("GET", "/api/devices", "root").json() if d["registered"]}

        wait_until(lambda: announced <= registered(), timeout=15, message=f"{adapter.name}: {announced} registered")
    health = console.health()
    assert health["ingest"]["quarantined"] == len(adapter.bad_samples)


def test_a_device_announced_by_home_assistant_discovery_is_registered_and_read(
    make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    console = make_console(sqlite_url, adapters=[{"type": "native"}, {"type": "ha-discovery"}])
    console.add_user("root", "admin")
    console.login("root")
    config = "homeassistant/binary_sensor/b3/smoke/config"
    state = "homeassistant/binary_sensor/b3/smoke/state"
    publisher.publish(config, {"name": "3号楼走廊烟感", "device_class": "smoke", "state_topic": state,
                               "unique_id": "b3_corridor_smoke"}, retain=True)

    def device(device_id: str) -> dict[str, Any] | None:
        return next((d for d in console.api("GET", "/api/devices", "root").json() if d["device_id"] == device_id), None)

    wait_until(lambda: (device("ha-b3-smoke") or {}).get("registered"), message="registered by its config")
    publisher.publish(state, b"ON")
    alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "root").json(), message="smoke")[0]
    assert (alarm["kind"], alarm["device_id"], alarm["device_name"]) == ("fire.alarm", "ha-b3-smoke",
                                                                         "3号楼走廊烟感")
    assert alarm["task_id"] is not None
    publisher.publish(config, b"", retain=True)  # withdrawn
    wait_until(lambda: not (device("ha-b3-smoke") or {}).get("registered"), message="withdrawn")
    assert console.cli("audit", "verify").returncode == 0
