"""`mcc broker bridge`: the site broker's bridge snippet (topics, session, TLS, queue limit), the
center URL it refuses, and the center's bridge login from `mcc broker files --bridge`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console.__main__ import main
from console.errors import ConfigError, ConsoleError
from console.settings import Settings
from console.wire.broker_bridge import Center, render_bridge
from console.wire.broker_policy import plan_logins, render_acl

SITE = {
    "site": {"id": "north"},
    "commands": {"topic_prefixes": ["cmnd/"]},
    "devices": {"entries": [
        {"id": "lane-in", "role": "lane"},
        {"id": "plug-1", "role": "sensor", "command_topic": "cmnd/plug-1/POWER"},
    ]},
}


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_the_snippet_forwards_events_and_states_and_brings_commands_back_at_qos_1() -> None:
    text = render_bridge(Settings(**SITE), Center.parse("mqtts://bridge-north:pw-1@center.example:8883"),
                         ca_file="/etc/mosquitto/center-ca.crt")
    conf = lines(text)
    assert [line for line in conf if line.startswith("topic ")] == [
        "topic mcc/v1/north/+/event out 1", "topic mcc/v1/north/+/state out 1",
        "topic mcc/v1/north/+/command/# in 1", "topic cmnd/# in 1"]
    for line in ("connection mcc-north", "address center.example:8883", "cleansession false",
                 "bridge_protocol_version mqttv311", "try_private true", "restart_timeout 1 10",
                 "remote_clientid mcc-bridge-north", "local_clientid mcc-bridge-north-local",
                 "remote_username bridge-north", "remote_password pw-1",
                 "bridge_cafile /etc/mosquitto/center-ca.crt", "bridge_insecure false",
                 "max_queued_messages 1000000", "notifications_local_only true"):
        assert line in conf, line
    # Broker-wide settings come before `connection`, which starts the bridge's own section.
    assert conf.index("max_queued_messages 1000000") < conf.index("connection mcc-north")


def test_a_plaintext_center_without_login_and_the_system_cas_for_a_public_certificate() -> None:
    plain = lines(render_bridge(Settings(**SITE), Center.parse("mqtt://10.0.0.9"), queue_limit=0))
    assert "address 10.0.0.9:1883" in plain and "max_queued_messages 0" in plain
    assert not [line for line in plain if line.startswith(("remote_username", "remote_password", "bridge_ca"))]
    public = lines(render_bridge(Settings(**SITE), Center.parse("mqtts://b:pw@center.example")))
    assert "address center.example:8883" in public and "bridge_capath /etc/ssl/certs" in public


@pytest.mark.parametrize("url, problem", [
    ("http://center.example", "use mqtts://"),
    ("mqtts://", "no host"),
    ("mqtts://center.example:70000", "out of range"),
    ("mqtts://center.example/mcc", "no path"),
    ("mqtts://bridge-north@center.example", "has no password"),
    ("mqtts://:secret-1@center.example", "a password without a login"),
    ("mqtts://[2001:db8::1]:8883", "IPv6"),
    ("mqtts://b:pass%20word@center.example", "space or control character"),
])
def test_an_unusable_center_url_is_refused_without_showing_its_password(url: str, problem: str) -> None:
    with pytest.raises(ConsoleError) as raised:
        Center.parse(url)
    assert problem in str(raised.value)
    assert "secret-1" not in str(raised.value)


def test_the_command_writes_the_snippet_mode_0600_and_fails_clearly(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(SITE))
    (tmp_path / "pw").write_text("from-file-1\n")
    out = tmp_path / "conf.d" / "bridge.conf"
    assert main(["broker", "bridge", "--config", str(site), "--center", "mqtts://bridge-north@c.example:8883",
                 "--password-file", str(tmp_path / "pw"), "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert "remote_password from-file-1" in out.read_text()
    assert main(["broker", "bridge", "--config", str(site), "--center", "mqtt://c.example:1883:1883"]) == 1
    assert "center URL" in capsys.readouterr().err
    assert main(["broker", "bridge", "--config", str(site), "--center", "mqtt://c.example",
                 "--ca", str(tmp_path / "pw")]) == 1
    assert "--ca is for a TLS link" in capsys.readouterr().err


def test_the_center_gives_each_bridged_site_a_login_held_to_its_own_topics() -> None:
    center = Settings(site={"id": "north"}, commands={"topic_prefixes": ["cmnd/"]},
                      devices={"entries": [*SITE["devices"]["entries"],  # type: ignore[index]
                                           {"id": "gate-s", "site": "south", "role": "lane"}]})
    logins = {login.name: login for login in plan_logins(center, "mcc-console", ("north", "south"))}
    north = logins["bridge-north"]
    assert north.role == "bridge"
    assert north.writes == ("mcc/v1/north/+/event", "mcc/v1/north/+/state")
    assert north.reads == ("mcc/v1/north/+/command/#", "cmnd/plug-1/POWER")
    assert logins["bridge-south"].writes == ("mcc/v1/south/+/event", "mcc/v1/south/+/state")
    assert logins["bridge-south"].reads == ("mcc/v1/south/+/command/#",)
    assert "user bridge-north\ntopic write mcc/v1/north/+/event\n" in render_acl(list(logins.values()))
    with pytest.raises(ConfigError, match="no such site"):
        plan_logins(center, "mcc-console", ("east",))
