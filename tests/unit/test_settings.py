"""The site file: validation with paths, MCC_* overrides, and `mcc check-config`."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.__main__ import main
from console.errors import ConfigError
from console.settings import load_settings

GOOD = """\
site: {id: demo, name: 演示小区}
mqtt: {url: "mqtt://user:secret@127.0.0.1:1883"}
database: {url: "sqlite:///var/mcc.db"}
devices:
  file: devices.yaml
"""
DEVICES = """\
- {id: fp-1, name: 1号楼火灾报警控制器, role: fire_panel, points: {"1-003": {floor: 3F, label: 感烟}}}
- {id: door-1, role: door}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "devices.yaml").write_text(DEVICES)
    path = tmp_path / "site.yaml"
    path.write_text(GOOD)
    return path


def test_good_site_file_loads_with_its_device_file(site: Path) -> None:
    settings = load_settings(site, env={})
    assert settings.site.id == "demo" and settings.site.timezone == "Asia/Shanghai"
    assert [d.id for d in settings.devices.entries] == ["fp-1", "door-1"]
    assert settings.adapters[0].type == "native"
    assert settings.client_id == "mcc-console-demo"


def test_environment_wins_over_the_file(site: Path) -> None:
    settings = load_settings(site, env={
        "MCC_MQTT__URL": "mqtts://broker.example:8883", "MCC_HTTP__PORT": "9001",
        "MCC_DATABASE__URL": "postgresql+psycopg://mcc@db/mcc",
    })
    assert settings.mqtt.url == "mqtts://broker.example:8883"
    assert settings.http.port == 9001
    assert settings.database.url.startswith("postgresql+psycopg://")
    assert settings.site.name == "演示小区"  # untouched keys keep the file's value


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "site: {id: 'bad id!', timezone: Mars/Olympus}\n"
        "mqtt: {url: 'http://x', keepalive: -1, colour: blue}\n"
        "adapters: [{type: native, topic: 'a/#/b'}, {type: telepathy}]\n"
        "surprise: true\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    paths = {where for where, _ in raised.value.problems}
    assert {"site.id", "site.timezone", "mqtt.url", "mqtt.keepalive", "mqtt.colour",
            "adapters[0].topic", "adapters[1].type", "surprise"} <= paths


def test_device_file_errors_name_the_file_and_the_entry(site: Path) -> None:
    (site.parent / "devices.yaml").write_text("- {id: fp-1, role: toaster}\n- {id: fp-1}\n- {name: no id}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(site, env={})
    messages = [f"{where}: {msg}" for where, msg in raised.value.problems]
    assert any("[0].role" in m for m in messages)
    assert any("[1].id" in m and "duplicate" in m for m in messages)
    assert any("[2].id" in m for m in messages)
    assert all("devices.yaml" in m for m in messages)


def test_check_config_prints_every_error_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("site: {id: demo}\nhttp: {port: 99999, hots: x}\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: http.port:" in err and f"{path}: http.hots: Extra inputs are not permitted" in err
    assert "2 problem(s) found" in err


def test_check_config_checks_the_alarm_notices_and_the_duty_log_rhythm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("site: {id: demo}\n"
                    "notify:\n  targets: [{url: 'json://127.0.0.1:9/x', roles: [supervisor]}]\n"
                    "  alarms: [{roles: [project_manager], unacknowledged_seconds: 120}]\n"
                    "duty_log: {interval_minutes: 50}\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "alarms[0].roles: no notify target serves project_manager" in err
    assert "interval_minutes: 50 does not divide a day" in err


def test_check_config_reports_yaml_syntax_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("site:\n  id: demo\n  name: [unclosed\n")
    assert main(["check-config", str(path)]) == 1
    assert "YAML syntax error at line" in capsys.readouterr().err


def test_check_config_accepts_the_shipped_demo_site(capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).parents[2] / "deploy" / "demo" / "site.yaml"
    assert main(["check-config", str(demo)]) == 0
    assert "OK (site demo" in capsys.readouterr().out


def test_notification_targets_are_checked_with_apprise(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "site: {id: demo}\n"
        "notify:\n"
        "  targets:\n"
        "    - {url: 'dingtalk://0123456789abcdef', roles: [supervisor], name: 主管群}\n"
        "    - {url: 'carrier-pigeon://loft', roles: [supervisor]}\n"
        "    - {url: 'mailto://user:pass@example.com'}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    problems = dict(raised.value.problems)
    assert "apprise" in problems["notify.targets[1].url"]
    assert "names the roles or the users" in problems["notify.targets[2]"]
    assert "notify.targets[0].url" not in problems


def test_a_site_enabling_every_adapter_passes_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from adapters import REGISTRY

    path = tmp_path / "site.yaml"
    adapters = "".join(f"  - {{type: {adapter.name}}}\n" if adapter.transport == "mqtt" else
                       f"  - {{type: {adapter.name}, listen: '0.0.0.0:9000', checksum: sum-from-command}}\n"
                       for adapter in REGISTRY)
    path.write_text(f"site: {{id: demo}}\nadapters:\n{adapters}")
    assert main(["check-config", str(path)]) == 0
    assert f"{len(REGISTRY)} adapters" in capsys.readouterr().out
    path.write_text("site: {id: demo}\nadapters:\n  - {type: hikvision-xml}\n")
    assert main(["check-config", str(path)]) == 1
    path.write_text("site: {id: demo}\nadapters:\n  - {type: gb26875}\n  - {type: frigate, listen: ':1'}\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "gb26875 needs listen" in err and "apply to gb26875, not frigate" in err


def test_a_site_file_with_a_control_character_or_an_infinite_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text('site: {id: demo, name: "小区\\u0000"}\nhealth: {stall_seconds: .inf}\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    problems = dict(raised.value.problems)
    assert "control character U+0000" in problems["site"] and "not a finite number" in problems["health"]


def test_a_cluster_needs_postgresql_and_gives_each_instance_its_own_session(tmp_path: Path) -> None:
    from console.devices.registry import DeviceRegistry
    from console.runtime import subscriptions
    from console.wire.ingest import Ingest

    on_sqlite = tmp_path / "sqlite.yaml"
    on_sqlite.write_text("site: {id: demo}\ncluster: {enabled: true, instance: a}\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(on_sqlite)
    assert "share one PostgreSQL database" in str(refused.value)

    path = tmp_path / "pg.yaml"
    path.write_text("site: {id: demo}\ndatabase: {url: 'postgresql+psycopg://mcc@db/mcc'}\n"
                    "cluster: {enabled: true, instance: console-2}\n")
    settings = load_settings(path)
    assert settings.client_id == "mcc-console-demo-console-2"
    ingest = Ingest(settings, None, DeviceRegistry.from_settings(settings))  # type: ignore[arg-type]  # no store read
    assert subscriptions(settings, ingest) == ["$share/mcc/mcc/v1/demo/#"]
    single = load_settings(path, env={"MCC_CLUSTER__ENABLED": "false"})
    assert single.client_id == "mcc-console-demo"
