"""The broker files written from the registry: the ACL's lines per login, hashes that
mosquitto_passwd's own agree with, passwords kept on a re-run, 0600 files, the TLS certificate,
and check-config's warning about plaintext MQTT across a network."""

from __future__ import annotations

import base64
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml

from console.__main__ import main
from console.errors import ConfigError
from console.settings import Settings, load_settings
from console.wire.broker_certs import make_broker_certs
from console.wire.broker_files import hash_password, read_password_file, verify_password, write_broker_files
from console.wire.broker_policy import plan_logins, render_acl

SITE = {
    "site": {"id": "demo"},
    "mqtt": {"url": "mqtt://mcc-console:console-pass-1@127.0.0.1:1883"},
    "commands": {"topic_prefixes": ["parking/"]},
    "devices": {"entries": [
        {"id": "gw-1", "role": "gateway"},
        {"id": "lane-in", "role": "lane", "command_topic": "parking/lane-in/open"},
        {"id": "smoke-1", "adapter": "zigbee2mqtt", "address": "0x00158d0001"},
        {"id": "fp-9", "adapter": "gb26875", "address": "000000000009"},
    ]},
    "adapters": [{"type": "native"}, {"type": "zigbee2mqtt"}, {"type": "zigbee2mqtt", "topic": "z2m-garage/#"},
                 {"type": "gb26875", "listen": "127.0.0.1:9000"}],
}


def site(tmp_path: Path, **changes: object) -> Settings:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({**SITE, **changes}), encoding="utf-8")
    return load_settings(path, env={})


def blocks(acl: str) -> dict[str, list[str]]:
    """{login: its topic lines} of an acl_file."""
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for line in acl.splitlines():
        if line.startswith("user "):
            current = out.setdefault(line.split(" ", 1)[1], [])
        elif line.startswith("topic "):
            current.append(line)
        else:
            assert not line.strip() or line.startswith("#"), line
    return out


def test_each_login_may_write_only_its_own_topics_and_only_the_console_reads_the_site(tmp_path: Path) -> None:
    acl = blocks(render_acl(plan_logins(site(tmp_path), "mcc-console")))
    assert set(acl) == {"mcc-console", "gw-1", "lane-in", "adapter-zigbee2mqtt", "adapter-zigbee2mqtt-2"}
    assert acl["gw-1"] == ["topic write mcc/v1/demo/gw-1/event", "topic write mcc/v1/demo/gw-1/state",
                           "topic read mcc/v1/demo/gw-1/command"]
    assert acl["lane-in"][-1] == "topic read parking/lane-in/open"
    assert acl["adapter-zigbee2mqtt"] == ["topic read mcc/v1/demo/smoke-1/command", "topic readwrite zigbee2mqtt/#"]
    assert acl["adapter-zigbee2mqtt-2"][-1] == "topic readwrite z2m-garage/#"
    console = acl["mcc-console"]
    for line in ("topic read mcc/v1/demo/#", "topic read zigbee2mqtt/#", "topic read z2m-garage/#",
                 "topic write mcc/v1/demo/+/command", "topic write parking/lane-in/open",
                 "topic write mcc/console/demo/#"):
        assert line in console, line
    assert not any("gb26875" in line for line in console), "the GB/T 26875 receiver is TCP, not MQTT"
    for login, lines in acl.items():
        reads = [line.split()[-1] for line in lines if line.split()[1] in ("read", "readwrite")]
        assert "#" not in reads, login
        if login != "mcc-console":
            assert not any(line.startswith("topic write") and "command" in line for line in lines), login
            assert not any(topic.startswith("mcc/v1/demo/#") or "+" in topic for topic in reads), login


def test_a_login_name_used_twice_is_refused(tmp_path: Path) -> None:
    devices = {"entries": [{"id": "adapter-zigbee2mqtt"}]}
    with pytest.raises(ConfigError, match="adapter-zigbee2mqtt"):
        plan_logins(site(tmp_path, devices=devices), "mcc-console")
    with pytest.raises(ConfigError, match="gw-1"):
        plan_logins(site(tmp_path), "gw-1")


def test_hashes_agree_with_mosquitto_passwd(tmp_path: Path) -> None:
    # Debian's mosquitto package ships it, and scripts/setup.sh installs that package: absent means
    # a broken install, which must fail here rather than skip.
    assert shutil.which("mosquitto_passwd"), "mosquitto_passwd missing: install the mosquitto package"
    theirs = tmp_path / "theirs"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(theirs), "alice", "s3cret pass"], check=True, timeout=30)
    stored = read_password_file(theirs)["alice"]
    assert verify_password("s3cret pass", stored)
    assert not verify_password("s3cret pas", stored)
    iterations, salt = stored.split("$")[2], base64.b64decode(stored.split("$")[3])
    assert hash_password("s3cret pass", int(iterations), salt) == stored
    assert re.fullmatch(r"\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==", hash_password("x"))


def test_a_rerun_keeps_every_password_and_issues_only_new_logins(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    first = write_broker_files(site(tmp_path), out)
    assert set(first.new) == {"gw-1", "lane-in", "adapter-zigbee2mqtt", "adapter-zigbee2mqtt-2"}
    stored = read_password_file(out / "passwd")
    assert verify_password("console-pass-1", stored["mcc-console"])  # from mqtt.url, not in the credentials
    issued = dict(line.split() for line in (out / "new-credentials.txt").read_text().splitlines()
                  if not line.startswith("#"))
    assert set(issued) == set(first.new)
    for login, password in issued.items():
        assert verify_password(password, stored[login])

    again = write_broker_files(site(tmp_path), out)
    assert again.new == () and again.credentials is None
    assert read_password_file(out / "passwd") == stored

    entries = [entry for entry in SITE["devices"]["entries"] if entry["id"] != "lane-in"]  # type: ignore[index]
    grown = write_broker_files(site(tmp_path, devices={"entries": [*entries, {"id": "door-7", "role": "door"}]}), out,
                               renew=("gw-1",))
    assert set(grown.new) == {"door-7", "gw-1"} and grown.removed == ("lane-in",)
    now = read_password_file(out / "passwd")
    assert now["adapter-zigbee2mqtt"] == stored["adapter-zigbee2mqtt"] and now["gw-1"] != stored["gw-1"]
    assert "lane-in" not in now
    # Earlier runs' passwords stay in the credentials file until someone deletes it.
    assert (out / "new-credentials.txt").read_text().count("# ") == 2


def test_secrets_are_written_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        written = write_broker_files(site(tmp_path), tmp_path / "broker")
    finally:
        os.umask(old)
    assert written.credentials is not None
    assert (tmp_path / "broker" / "passwd").stat().st_mode & 0o777 == 0o600
    assert written.credentials.stat().st_mode & 0o777 == 0o600
    conf = (tmp_path / "broker" / "mosquitto-mcc.conf").read_text()
    assert "listener 1883 127.0.0.1\n" in conf and "allow_anonymous false\n" in conf


def test_the_command_prints_no_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site(tmp_path)
    assert main(["broker", "files", "--config", str(tmp_path / "site.yaml"), "--dir", str(tmp_path / "b")]) == 0
    printed = capsys.readouterr()
    issued = [line.split()[1] for line in (tmp_path / "b" / "new-credentials.txt").read_text().splitlines()
              if not line.startswith("#")]
    assert issued and not any(password in printed.out + printed.err for password in issued)
    assert "console-pass-1" not in printed.out + printed.err


def test_the_certificate_names_the_hosts_and_the_ca_is_kept(tmp_path: Path) -> None:
    first = make_broker_certs(tmp_path, ["mosquitto", "192.0.2.7"])
    ca = first.ca_cert.read_bytes()
    again = make_broker_certs(tmp_path, ["broker.site1.example"])
    assert first.ca_created and not again.ca_created and again.ca_cert.read_bytes() == ca
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    assert again.server_key.stat().st_mode & 0o777 == 0o600
    # The new server certificate is signed by the kept CA and names the new host.
    context = ssl.create_default_context(cafile=str(again.ca_cert))
    context.load_cert_chain(again.server_cert, again.server_key)
    text = subprocess.run(["openssl", "x509", "-in", str(again.server_cert), "-noout", "-text"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    assert "DNS:broker.site1.example" in text
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(again.ca_cert), str(again.server_cert)],
                            capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0, verify.stderr


@pytest.mark.parametrize(("url", "warned"), [
    ("mqtt://u:p@10.0.0.5:1883", True),
    ("mqtt://broker.site1.example", True),
    ("mqtt://u:p@127.0.0.1:1883", False),
    ("mqtt://localhost", False),
    ("mqtt://[::1]:1883", False),
    ("mqtts://u:p@10.0.0.5:8883", False),
])
def test_check_config_warns_about_plaintext_mqtt_across_a_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        url: str, warned: bool) -> None:
    site(tmp_path, mqtt={"url": url})
    monkeypatch.delenv("MCC_MQTT__URL", raising=False)
    assert main(["check-config", str(tmp_path / "site.yaml")]) == 0
    err = capsys.readouterr().err
    assert ("warning: plaintext MQTT" in err) is warned, err
