"""Builds the binary golden frames beside this file, byte by byte from the standard's table 1
(device-formats.md section 5), independently of adapters/gb26875.py.

    .venv/bin/python tests/payloads/gb26875/make_frames.py

Frame: @@ | serial 2 (low first) | version 2 (1, user) | time 6 (s, min, h, day, month, year-2000)
| source 6 (low first) | destination 6 | data length 2 (low first) | command 1 | data | checksum 1
(sum of everything after @@ up to the checksum, mod 256) | ##. Data unit: type flag 1, object
count 1, then the information bodies, each followed by a 6-byte time for types 1 2 3 4 8 21 24 28.
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path

HERE = Path(__file__).parent
DEVICE = bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0x06])  # on the wire; device_id "060504030201"
CENTRE = bytes(6)
SENT = bytes([30, 15, 10, 26, 11, 26])  # 2026-11-26 10:15:30 local time
AT = bytes([28, 15, 10, 26, 11, 26])  # 10:15:28, the objects' own time
SEND, CONFIRM = 2, 3


def frame(data: bytes, *, serial: int = 7, command: int = SEND, time: bytes = SENT, checksum: str = "sum",
          length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    head = serial.to_bytes(2, "little") + bytes([1, 0]) + time + DEVICE + CENTRE + size.to_bytes(2, "little")
    covered = head + bytes([command]) + data
    if checksum == "sum":  # the standard: bytes 3–27 plus the data
        check = sum(covered) % 256
    elif checksum == "sum-from-command":  # 赋安 FSCN8001: from the command byte on
        check = sum(covered[24:]) % 256
    elif checksum == "xor":
        check = reduce(lambda a, b: a ^ b, covered, 0)
    else:
        raise ValueError(checksum)
    return b"@@" + covered + bytes([check]) + b"##"


def unit(type_flag: int, *bodies: bytes) -> bytes:
    return bytes([type_flag, len(bodies)]) + b"".join(bodies)


def component(status: int, description: str, *, component_type: int = 42, address: int = 3,
              system: tuple[int, int] = (1, 1)) -> bytes:
    """Type 2: system type, system address, component type, component address 4, status 2,
    description 31 (GB 18030, NUL-padded), time."""
    text = description.encode("gb18030")
    assert len(text) <= 31
    return (bytes([*system, component_type]) + address.to_bytes(4, "little") + status.to_bytes(2, "little")
            + text.ljust(31, b"\0") + AT)


def system_state(status: int, system: tuple[int, int] = (1, 1)) -> bytes:
    return bytes(system) + status.to_bytes(2, "little") + AT  # type 1


def analog(component_type: int, address: int, analog_type: int, value: int,
           system: tuple[int, int] = (1, 1)) -> bytes:
    """Type 3: system type, system address, component type, component address 4, analog type 1,
    value int16 (signed, low byte first), time."""
    return (bytes([*system, component_type]) + address.to_bytes(4, "little") + bytes([analog_type])
            + value.to_bytes(2, "little", signed=True) + AT)


FRAMES: dict[str, bytes] = {
    # component 1-1, address 3: a point photoelectric smoke detector (42), status bits 0+1
    "fire_alarm.bin": frame(unit(2, component(0x0003, "1号楼3层东侧走廊"))),
    "fault.bin": frame(unit(2, component(0x0005, "1号楼3层东侧走廊")), serial=8),
    "restore.bin": frame(unit(2, component(0x0001, "1号楼3层东侧走廊")), serial=9),
    "test_mode.bin": frame(unit(2, component(0x0002, "1号楼3层东侧走廊")), serial=10),
    # a 4-byte GB 18030 character (U+4DAE) and full-width digits, 31 bytes exactly
    "gb18030_description.bin": frame(unit(2, component(0x0003, "Ｂ２层喷淋泵房䶮手报按钮",
                                                       component_type=23, address=0x00020011)), serial=11),
    "two_objects.bin": frame(unit(2, component(0x0003, "2层走廊", address=21),
                                  component(0x0101, "2层模块", component_type=86, address=22)), serial=12),
    # type 3: system 1-1, component 96 (flow indicator) at 5, analog type 4 (0.1 MPa), value 35
    "analog.bin": frame(unit(3, bytes([1, 1, 96]) + (5).to_bytes(4, "little") + bytes([4])
                             + (35).to_bytes(2, "little", signed=True) + AT), serial=13),
    # type 3: a temperature electrical fire monitor (18) at 1-1-12, analog type 3 (0.1 °C), -55 = -5.5 °C
    "analog_temperature.bin": frame(unit(3, analog(18, 12, 3, -55)), serial=26),
    # type 3, two objects: sprinkler 12-1 pressure switch (99) 0.1 kPa × 3500, gas detector (74) 0.1 %LEL × 125
    "analog_kpa_gas.bin": frame(unit(3, analog(99, 40, 5, 3500, system=(12, 1)), analog(74, 41, 6, 125)), serial=27),
    # type 3 with an analog type outside table 6 (200, a vendor's own): kept unscaled
    "analog_unknown_type.bin": frame(unit(3, analog(84, 9, 200, -300)), serial=28),
    # type 3 cut short: the value's high byte is missing (9 body bytes + time)
    "analog_truncated.bin": frame(unit(3, analog(96, 5, 4, 35)[:9] + AT), serial=29),
    # type 21: the transmission device's own state, bit 0 (monitoring) + bit 3 (mains fault)
    "device_mains_fault.bin": frame(unit(21, bytes([0x09]) + AT), serial=14),
    "device_link_fault.bin": frame(unit(21, bytes([0x21]) + AT), serial=15),
    "device_normal.bin": frame(unit(21, bytes([0x01]) + AT), serial=16),
    # type 1: fire alarm system 1-1 with fire + mains + standby power faults
    "system_fire_power.bin": frame(unit(1, system_state(0x0303)), serial=17),
    "system_reset.bin": frame(unit(1, system_state(0x2001)), serial=18),
    # type 1: normal, linkage control switched to manual (bit 11)
    "system_manual.bin": frame(unit(1, system_state(0x0801)), serial=30),
    # type 4: operations on system 1-1 by operator 5: reset, then manual alarm
    "operation_reset.bin": frame(unit(4, bytes([1, 1, 0x01, 5]) + AT), serial=19),
    "operation_manual_alarm.bin": frame(unit(4, bytes([1, 1, 0x04, 5]) + AT), serial=20),
    # type 24: the device's own operations, bit 5 = duty-check answer (查岗应答) by operator 2
    "duty_check_answer.bin": frame(unit(24, bytes([0x20, 2]) + AT), serial=21),
    "software_version.bin": frame(unit(5, bytes([1, 1, 2, 3])), serial=22),
    "checksum_from_command.bin": frame(unit(2, component(0x0003, "1号楼3层东侧走廊")), serial=23,
                                       checksum="sum-from-command"),
    "checksum_xor.bin": frame(unit(2, component(0x0005, "1号楼3层东侧走廊")), serial=24, checksum="xor"),
    "confirm_from_device.bin": frame(b"", serial=3, command=CONFIRM),
    "empty_upload.bin": frame(b"", serial=25),
}
good = FRAMES["fire_alarm.bin"]
FRAMES.update({
    "bad_checksum.bin": good[:-3] + bytes([(good[-3] + 1) % 256]) + b"##",
    "bad_start.bin": b"$$" + good[2:],
    "bad_end.bin": good[:-2] + b"#\0",
    "wrong_length.bin": frame(unit(2, component(0x0003, "1号楼3层东侧走廊")), length=40),
    "too_long.bin": frame(b"", length=2000),
    # the count says 2 objects, only one is there
    "truncated.bin": frame(bytes([2, 2]) + component(0x0003, "1号楼3层东侧走廊")),
    "left_over.bin": frame(unit(21, bytes([0x01]) + AT) + b"\0\0"),
    "reserved_type.bin": frame(unit(9, b"")),
    "download_type.bin": frame(unit(91, bytes([10]))),
    "reserved_command.bin": frame(b"", command=7),
    "bad_time.bin": frame(unit(21, bytes([0x01]) + bytes([0, 0, 0, 31, 13, 26]))),
    # dgiot's decoder test frame (apps/dgiot_gb26875/src/protocol/dgiot_gb26875_decoder.erl, test/0),
    # as published: serial 0, version 1.1, source 0, component status 0x0002 = fire in test mode
    "dgiot_test_frame.bin": bytes.fromhex(
        "40400000010118 0d11160a14 000000000000 060504030201 3000 02 0201 0103 00 d9000600 0200"
        " a3c1c7f8a3b1b2e3dfc8b2b8d7dfc0c8 000000000000000000000000000000 301213010814 68 2323".replace(" ", "")),
})

if __name__ == "__main__":
    for name, raw in FRAMES.items():
        (HERE / name).write_bytes(raw)
    print(f"wrote {len(FRAMES)} frames to {HERE}")
