"""The device registry to CSV and back, and `mcc devices export / import` with line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console.__main__ import main
from console.devices import registry_io
from console.errors import ConfigError
from console.settings import load_settings

DEMO = Path(__file__).parents[2] / "deploy" / "demo" / "site.yaml"


def test_the_demo_registry_survives_a_round_trip_through_csv() -> None:
    devices = load_settings(DEMO, env={}).devices.entries
    text = registry_io.to_csv(devices)
    assert text.splitlines()[0].startswith("id,point,site,name")
    assert "1号楼 3层 东侧走廊 感烟探测器" in text
    assert registry_io.from_csv(text) == devices


def test_import_reports_every_bad_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(
        "\ufeffid,point,name,role,floor,zone,label,x,cameras,address,adapter\n"
        "fp-9,,9号楼火灾报警控制器,fire_panel,1F,消防控制室,9号楼 消防控制室,0.5,cam-9 cam-10,,\n"
        "fp-9,1-001,,,3F,走廊,9号楼 3层 走廊,1.7,,,\n"
        "door-9,,9号楼门禁,turnstile,,,,,,esp-door-9,esp-rfid\n"
        ",,nameless,sensor,,,,,,,\n"
        "smoke-1,,,sensor,,,,,,0x0015,zigbee2mqtt\n"
        "smoke-2,,,sensor,,,,,,0x0015,zigbee2mqtt\n", encoding="utf-8")
    out = tmp_path / "devices.yaml"
    assert main(["devices", "import", str(csv_file), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "line 3: x: Input should be less than or equal to 1" in err
    assert "line 4: role:" in err and "line 5: id is empty" in err
    assert not out.exists()
    with pytest.raises(ConfigError, match="share the address"):
        registry_io.from_csv("id,address,adapter\nsmoke-1,0x0015,zigbee2mqtt\nsmoke-2,0x0015,zigbee2mqtt\n")


def test_import_writes_a_devices_file_the_site_loads(tmp_path: Path) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text("id,point,name,role,kind,adapter,address,building,floor,zone,label,cameras\n"
                        "smoke-7,,厨房烟感,sensor,smoke_detector,zigbee2mqtt,0x00158d0001a2b3c4,3号楼,2F,厨房,3号楼 2层 厨房,cam-3\n"
                        "fp-3,,3号楼主机,fire_panel,,,,3号楼,1F,消防控制室,3号楼 消防控制室,\n"
                        "fp-3,1-004,,,,,,,4F,走廊,,\n", encoding="utf-8")
    out = tmp_path / "devices.yaml"
    assert main(["devices", "import", str(csv_file), "--out", str(out)]) == 0
    (tmp_path / "site.yaml").write_text("site: {id: demo}\ndevices: {file: devices.yaml}\n")
    devices = {d.id: d for d in load_settings(tmp_path / "site.yaml", env={}).devices.entries}
    assert devices["smoke-7"].address == "0x00158d0001a2b3c4" and devices["smoke-7"].cameras == ["cam-3"]
    assert devices["fp-3"].points["1-004"].floor == "4F"
    assert yaml.safe_load(out.read_text())[0]["kind"] == "smoke_detector"
