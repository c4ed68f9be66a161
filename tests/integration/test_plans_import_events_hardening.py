"""Hardening of the floor-plan upload, the markers, the device import and the event search:
uploads refused before their body is read, same-floor uploads and marker/delete races without
500s, image size limits with a clear reason, MPO accepted, a large import, bad search bounds."""

from __future__ import annotations

import io
import select as selectors
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from console.devices.registry import DeviceRegistry
from console.settings import DeviceEntry
from console.store.database import Store
from console.store.tables import FloorPlanRow, RegisteredDeviceRow
from tests.conftest import ConsoleProcess, _postgres_database
from tests.integration.test_floorplans_api import ok
from tests.support.images import floor_plan_png

MB = 1024 * 1024


@pytest.fixture
def pg_url() -> Any:
    yield from _postgres_database()


def admin_console(make_console: Any, db_url: str) -> ConsoleProcess:
    console: ConsoleProcess = make_console(db_url)
    console.add_user("root", "admin")
    console.login("root")
    return console


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment, one thread each."""
    out: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        out[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def png(color: str | tuple[int, int, int], size: tuple[int, int] = (20, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


# -- the upload's body is read only for an admin, and only up to the limit ------------------------

def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _start_upload(console: ConsoleProcess, token: str | None, length: int | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", console.port), timeout=20)
    head = ["POST /api/floorplans HTTP/1.1", "Host: 127.0.0.1", "Content-Type: multipart/form-data; boundary=XyZ"]
    head.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if token:
        head.append(f"Authorization: Bearer {token}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return sock


def _send_until_answered(sock: socket.socket, chunked: bool, most: int) -> tuple[int, int]:
    """Send zeros (a never-ending file part) until the console answers; (status, bytes sent)."""
    sock.sendall(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
                 if not chunked else _chunk(b'--XyZ\r\nContent-Disposition: form-data; name="file"; '
                                            b'filename="a.png"\r\n\r\n'))
    piece = bytes(256 * 1024)
    sent = 0
    while sent < most:
        readable, _w, _x = selectors.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(_chunk(piece) if chunked else piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            break
        sent += len(piece)
    return _read_status(sock), sent


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_is_refused_before_its_body_is_read(sqlite_url: str, make_console: Any, chunked: bool) -> None:
    console = admin_console(make_console, sqlite_url)
    console.add_user("op", "operator")
    console.login("op")
    declared = None if chunked else 400 * MB

    # No credentials, or not an admin: the answer comes after a few MB of the 400 MB announced.
    for token, expected in [(None, 401), (console.tokens["op"], 403)]:
        sock = _start_upload(console, token, declared)
        try:
            status, sent = _send_until_answered(sock, chunked, most=64 * MB)
        finally:
            sock.close()
        assert status == expected and sent < 64 * MB, (status, sent)

    # An admin announcing 400 MB: 413 before a byte of the body.
    if not chunked:
        sock = _start_upload(console, console.tokens["root"], declared)
        try:
            assert _read_status(sock) == 413
        finally:
            sock.close()
    # An admin sending without a length: read up to the limit (8 MB and the form), then 413.
    else:
        sock = _start_upload(console, console.tokens["root"], None)
        try:
            status, sent = _send_until_answered(sock, True, most=64 * MB)
        finally:
            sock.close()
        assert status == 413 and sent < 64 * MB, (status, sent)

    # The console still works, and nothing was stored.
    assert ok(console.api("GET", "/api/floorplans", "root")) == []
    uploaded = ok(console.api("POST", "/api/floorplans", "root", data={"building": "1号楼", "floor": "1F"},
                              files={"file": ("a.png", floor_plan_png(300, 200), "image/png")}))
    assert uploaded["width"] == 300


def test_upload_form_fields_are_checked(sqlite_url: str, make_console: Any) -> None:
    console = admin_console(make_console, sqlite_url)
    image = png("red")
    missing = console.api("POST", "/api/floorplans", "root", data={"floor": "1F"},
                          files={"file": ("a.png", image, "image/png")})
    assert missing.status_code == 422 and "building is required" in missing.json()["detail"]
    no_file = console.api("POST", "/api/floorplans", "root", data={"building": "A", "floor": "1F"})
    assert no_file.status_code == 422 and "file is required" in no_file.json()["detail"]
    long_floor = console.api("POST", "/api/floorplans", "root", data={"building": "A", "floor": "F" * 17},
                             files={"file": ("a.png", image, "image/png")})
    assert long_floor.status_code == 422 and "floor is at most 16" in long_floor.json()["detail"]
    two_files = console.api("POST", "/api/floorplans", "root", data={"building": "A", "floor": "1F"},
                            files=[("file", ("a.png", image, "image/png")), ("x", ("b.png", image, "image/png"))])
    assert two_files.status_code == 400
    assert ok(console.api("GET", "/api/floorplans", "root")) == []


# -- races on PostgreSQL --------------------------------------------------------------------------

def test_simultaneous_first_uploads_of_a_floor_both_succeed(pg_url: str, make_console: Any) -> None:
    console = admin_console(make_console, pg_url)
    codes: Counter[int] = Counter()
    for index in range(8):
        def upload(color: str, building: str = f"B{index}") -> Callable[[], int]:
            return lambda: console.api("POST", "/api/floorplans", "root", data={"building": building, "floor": "1F"},
                                       files={"file": ("a.png", png(color), "image/png")}).status_code
        codes.update(together([upload("red"), upload("blue")]))
    assert codes == Counter({200: 16}), codes
    plans = ok(console.api("GET", "/api/floorplans", "root"))
    assert len(plans) == 8 and all(p["revision"] == 2 for p in plans)  # one added, the other replaced
    assert "IntegrityError" not in console.log_tail(400)


def test_markers_racing_a_plan_delete_answer_200_204_or_404(pg_url: str, make_console: Any) -> None:
    console = admin_console(make_console, pg_url)
    codes: Counter[str] = Counter()
    for _ in range(15):
        plan = ok(console.api("POST", "/api/floorplans", "root", data={"building": "1号楼", "floor": "1F"},
                              files={"file": ("a.png", png("red"), "image/png")}))
        path = f"/api/floorplans/{plan['id']}"
        put, delete = together([
            lambda: console.api("PUT", f"{path}/markers", "root", json={"device_id": "door-1", "x": 0.5, "y": 0.5}),
            lambda: console.api("DELETE", path, "root")])
        codes.update([f"put:{put.status_code}", f"delete:{delete.status_code}"])
    assert set(codes) <= {"put:200", "put:404", "delete:204"}, codes
    assert "Traceback" not in console.log_tail(2000)


# -- image limits, MPO ------------------------------------------------------------------------------

def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_too_large_images_get_a_clear_reason_and_mpo_is_accepted(sqlite_url: str, make_console: Any) -> None:
    console = admin_console(make_console, sqlite_url)

    def upload(content: bytes, floor: str) -> Any:
        return console.api("POST", "/api/floorplans", "root", data={"building": "A", "floor": floor},
                           files={"file": ("plan", content, "application/octet-stream")})

    for content, size in [(png("white", (8193, 10)), "8193×10"), (png("white", (7000, 7000)), "7000×7000"),
                          (_png_header_only(100_000, 100_000), "100000×100000"),
                          (_png_header_only(1, 60_000_000), "1×60000000")]:
        refused = upload(content, "1F")
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == (f"the image is too large: {size} pixels; floor plans are at most "
                                            "8192 px a side and 40 million pixels")

    mpo = io.BytesIO()
    Image.new("RGB", (120, 80), "navy").save(mpo, "MPO", save_all=True, append_images=[Image.new("RGB", (120, 80))])
    assert Image.open(io.BytesIO(mpo.getvalue())).format == "MPO"
    plan = ok(upload(mpo.getvalue(), "2F"))
    assert (plan["content_type"], plan["width"], plan["height"]) == ("image/jpeg", 120, 80)
    image = console.api("GET", f"/api/floorplans/{plan['id']}/image", "root")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == mpo.getvalue()

    edge = ok(upload(png("white", (8192, 16)), "3F"))  # at the limit: accepted
    assert edge["width"] == 8192
    store = Store(console.db_url)
    try:
        with store.read() as session:
            assert sorted(row.floor for row in session.query(FloorPlanRow)) == ["2F", "3F"]
    finally:
        store.dispose()


# -- device import ----------------------------------------------------------------------------------

def test_an_import_of_3000_devices_is_written_in_bulk(db_url: str, make_console: Any) -> None:
    console = admin_console(make_console, db_url)
    rows = ["id,point,name,role,building,floor,address,adapter"]
    for i in range(3000):
        rows.append(f"imp-{i},,设备{i},sensor,1号楼,1F,{f'addr-{i}' if i % 3 == 0 else ''},"
                    f"{'zigbee2mqtt' if i % 3 == 0 else ''}")
    rows.append("imp-7,p1,,,,2F,,")
    text = "\n".join(rows) + "\n"
    headers = {"Content-Type": "text/csv"}
    dry = ok(console.api("POST", "/api/devices/import?dry_run=true", "root", content=text.encode(), headers=headers))
    assert len(dry["added"]) == 3000 and dry["errors"] == []
    done = console.api("POST", "/api/devices/import?dry_run=false", "root", content=text.encode(), headers=headers)
    assert done.status_code == 200, done.text[:300]
    assert len(done.json()["added"]) == 3000

    devices = {d["device_id"]: d for d in ok(console.api("GET", "/api/devices", "root"))}
    assert all(devices[f"imp-{i}"]["registered"] for i in range(3000))
    assert devices["imp-2999"]["name"] == "设备2999"
    page = ok(console.api("GET", "/api/devices/imp-7", "root"))
    assert [p["point"] for p in page["device"]["points"]] == ["p1"]
    assert page["device"]["source"] == "console"

    # Again, with one device changed: one update, the rest unchanged.
    again = text.replace("imp-5,,设备5,", "imp-5,,五号,")
    result = ok(console.api("POST", "/api/devices/import?dry_run=false", "root", content=again.encode(),
                            headers=headers))
    assert (result["updated"], len(result["unchanged"]), result["added"]) == (["imp-5"], 2999, [])
    assert ok(console.api("GET", "/api/devices/imp-5", "root"))["device"]["name"] == "五号"
    store = Store(console.db_url)
    try:
        with store.read() as session:
            assert session.query(RegisteredDeviceRow).count() == 3000
            assert session.get(RegisteredDeviceRow, ("demo", "imp-5")).entry["name"] == "五号"
    finally:
        store.dispose()


def test_an_import_above_5000_devices_is_refused(sqlite_url: str, make_console: Any) -> None:
    console = admin_console(make_console, sqlite_url)
    text = "id,name\n" + "".join(f"many-{i},x\n" for i in range(5001))
    refused = console.api("POST", "/api/devices/import?dry_run=true", "root", content=text.encode(),
                          headers={"Content-Type": "text/csv"})
    assert refused.status_code == 413 and "at most 5000 devices" in refused.json()["detail"]
    yaml_text = "".join(f"- id: many-{i}\n" for i in range(5001))
    refused = console.api("POST", "/api/devices/import?dry_run=true", "root", content=yaml_text.encode(),
                          headers={"Content-Type": "application/yaml"})
    assert refused.status_code == 413 and "5001 devices" in refused.json()["detail"]


def test_yaml_import_errors_keep_their_lines(sqlite_url: str, make_console: Any) -> None:
    console = admin_console(make_console, sqlite_url)
    text = "- id: y-1\n  name: one\n- id: y-2\n  heartbeat_seconds: lots\n- id: y-3\n"
    refused = ok(console.api("POST", "/api/devices/import?dry_run=true", "root", content=text.encode(),
                             headers={"Content-Type": "application/yaml"}))
    assert [e["line"] for e in refused["errors"]] == [4]
    broken = ok(console.api("POST", "/api/devices/import?dry_run=true", "root", content=b"- id: [a,\n",
                            headers={"Content-Type": "application/yaml"}))
    assert broken["errors"][0]["message"].startswith("not YAML")


def test_registry_add_many_rebuilds_once_and_keeps_address_owners() -> None:
    registry = DeviceRegistry([DeviceEntry(id="site-1", address="a-1", adapter="zigbee2mqtt")], "demo")
    registry.add_many([DeviceEntry(id=f"d-{i}", address=f"x-{i}", adapter="zigbee2mqtt") for i in range(2000)])
    assert len(registry) == 2001
    assert registry.address_owner("demo", "x-1999") == "d-1999" and registry.address_owner("demo", "a-1") == "site-1"
    assert registry.resolve("demo", "zigbee2mqtt", "x-5") == "d-5"
    registry.add_many([DeviceEntry(id="d-5", address="y-5", adapter="zigbee2mqtt")])
    assert registry.address_owner("demo", "x-5") is None and registry.address_owner("demo", "y-5") == "d-5"
    registry.remove("demo", "d-5")
    assert registry.address_owner("demo", "y-5") is None and len(registry) == 2000


# -- event search bounds ----------------------------------------------------------------------------

def test_event_search_bounds_are_422_not_500(db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    console.add_user("op", "operator")
    console.login("op")
    for params, reason in [({"before": 10**20}, None), ({"before": 2**63}, None),
                           ({"since": "0001-01-01T00:00:00+01:00"}, "out of range"),
                           ({"until": "9999-12-31T23:59:59-01:00"}, "out of range"),
                           ({"since": "yesterday"}, None), ({"since": "2026-11-26T10:00:00"}, "offset")]:
        answer = console.api("GET", "/api/events", "op", params=params)
        assert answer.status_code == 422, (params, answer.status_code, answer.text)
        if reason:
            assert reason in answer.json()["detail"]
    assert ok(console.api("GET", "/api/events", "op", params={"before": 2**63 - 1})) == []
    assert ok(console.api("GET", "/api/events", "op", params={"since": "0001-01-01T02:00:00+01:00",
                                                               "until": "9999-12-31T22:59:59-01:00"})) == []
