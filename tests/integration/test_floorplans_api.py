"""Floor plans: upload (Pillow-checked), replace, markers placed and removed, the image, roles, audit."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image
from sqlalchemy import select
from websockets.sync.client import connect

from console.store.database import Store
from console.store.tables import AuditRow
from tests.conftest import DEVICES
from tests.support.images import floor_plan_png
from tests.support.websocket import receive_until


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, f"{response.status_code}: {response.text}"
    return response.json() if code != 204 else None


def audit_actions(console: Any) -> list[str]:
    store = Store(console.db_url)
    try:
        with store.read() as session:
            return list(session.scalars(select(AuditRow.action).order_by(AuditRow.id)))
    finally:
        store.dispose()


def test_floor_plan_upload_markers_and_image(db_url: str, make_console: Any) -> None:
    devices = [dict(d) for d in DEVICES]
    devices[1] = {**devices[1], "x": 0.25, "y": 0.5}  # door-1 on 1号楼 1F, placed in the site file
    console = make_console(db_url, devices={"entries": devices})
    for name, role in [("admin", "admin"), ("op", "operator"), ("wall", "display"), ("g1", "guard")]:
        console.add_user(name, role)
        console.login(name)
    assert ok(console.api("GET", "/api/floorplans", "wall")) == []

    image = floor_plan_png(400, 250)
    with connect(f"ws://127.0.0.1:{console.port}/ws", open_timeout=5,
                 additional_headers={"Authorization": f"Bearer {console.tokens['wall']}"}) as ws:
        receive_until(ws, lambda m: m["type"] == "snapshot")
        plan = ok(console.api("POST", "/api/floorplans", "admin", data={"building": "1号楼", "floor": "1F"},
                              files={"file": ("plan.png", image, "image/png")}))
        updated = receive_until(ws, lambda m: m["type"] == "floorplan.updated")[-1]
    assert updated["data"]["id"] == plan["id"]
    assert (plan["site"], plan["building"], plan["floor"], plan["width"], plan["height"], plan["revision"]) == \
        ("demo", "1号楼", "1F", 400, 250, 1)
    assert plan["image_url"] == f"/api/floorplans/{plan['id']}/image?v={plan['sha256'][:16]}"
    assert [(m["device_id"], m["point"], m["x"], m["y"], m["state"], m["subsystem"]) for m in plan["markers"]] == \
        [("door-1", "", 0.25, 0.5, "unknown", "access")]
    assert plan["unplaced"] == []

    picture = console.api("GET", plan["image_url"], "wall")
    assert picture.status_code == 200 and picture.content == image
    assert picture.headers["content-type"] == "image/png"
    assert picture.headers["etag"] == f'"{plan["sha256"]}"'
    assert picture.headers["cache-control"] == "private, max-age=86400"
    assert console.api("GET", plan["image_url"], "g1").status_code == 403

    # The floor above the fire panel's point: the point is unplaced until the admin places it.
    upper = ok(console.api("POST", "/api/floorplans", "admin",
                           data={"building": "1号楼", "floor": "3F", "name": "1号楼三层"},
                           files={"file": ("p.png", floor_plan_png(800, 600), "image/png")}))
    assert upper["markers"] == []
    assert [(u["device_id"], u["point"], u["subsystem"]) for u in upper["unplaced"]] == [("fp-1", "1-003", "fire")]
    placed = ok(console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "admin",
                            json={"device_id": "fp-1", "point": "1-003", "x": 0.4, "y": 0.7}))
    assert [(m["device_id"], m["point"], m["x"], m["y"]) for m in placed["markers"]] == [("fp-1", "1-003", 0.4, 0.7)]
    assert placed["unplaced"] == [] and placed["revision"] == 2
    moved = ok(console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "admin",
                           json={"device_id": "fp-1", "point": "1-003", "x": 0.5, "y": 0.5}))
    assert [(m["x"], m["y"]) for m in moved["markers"]] == [(0.5, 0.5)]
    wrong_floor = console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "admin",
                              json={"device_id": "door-1", "x": 0.5, "y": 0.5})
    assert wrong_floor.status_code == 422 and "not on this plan" in wrong_floor.json()["detail"]
    assert console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "admin",
                       json={"device_id": "nope", "x": 0.5, "y": 0.5}).status_code == 404
    assert console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "admin",
                       json={"device_id": "fp-1", "point": "1-003", "x": 1.5, "y": 0.5}).status_code == 422
    assert console.api("PUT", f"/api/floorplans/{upper['id']}/markers", "op",
                       json={"device_id": "fp-1", "point": "1-003", "x": 0.1, "y": 0.1}).status_code == 403

    plans = ok(console.api("GET", "/api/floorplans", "op"))
    assert [(p["floor"], len(p["markers"])) for p in plans] == [("1F", 1), ("3F", 1)]
    assert plans[1]["name"] == "1号楼三层"

    removed = ok(console.api("DELETE", f"/api/floorplans/{upper['id']}/markers?device_id=fp-1&point=1-003", "admin"))
    assert removed["markers"] == [] and [u["point"] for u in removed["unplaced"]] == ["1-003"]

    # The same floor again replaces the image: same plan, next revision.
    replaced = ok(console.api("POST", "/api/floorplans", "admin", data={"building": "1号楼", "floor": "1F"},
                              files={"file": ("new.png", floor_plan_png(500, 300, background=(1, 2, 3)), "image/png")}))
    assert replaced["id"] == plan["id"] and replaced["revision"] == 2 and replaced["width"] == 500
    assert replaced["sha256"] != plan["sha256"] and replaced["image_url"].endswith(f"?v={replaced['sha256'][:16]}")

    # Not an image, a GIF, a damaged PNG, too big: refused with the reason, nothing stored.
    text = console.api("POST", "/api/floorplans", "admin", data={"building": "2号楼", "floor": "1F"},
                       files={"file": ("plan.png", b"this is not a picture", "image/png")})
    assert text.status_code == 422 and "not a PNG or JPEG" in text.json()["detail"]
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    refused = console.api("POST", "/api/floorplans", "admin", data={"building": "2号楼", "floor": "1F"},
                          files={"file": ("plan.gif", gif.getvalue(), "image/gif")})
    assert refused.status_code == 422 and "must be PNG or JPEG" in refused.json()["detail"]
    damaged = console.api("POST", "/api/floorplans", "admin", data={"building": "2号楼", "floor": "1F"},
                          files={"file": ("plan.png", image[: len(image) // 2], "image/png")})
    assert damaged.status_code == 422, damaged.text
    big = console.api("POST", "/api/floorplans", "admin", data={"building": "2号楼", "floor": "1F"},
                      files={"file": ("plan.png", image + bytes(8 * 1024 * 1024), "image/png")})
    assert big.status_code == 422 and "at most 8 MB" in big.json()["detail"]
    assert console.api("POST", "/api/floorplans", "op", data={"building": "2号楼", "floor": "1F"},
                       files={"file": ("plan.png", image, "image/png")}).status_code == 403
    assert len(ok(console.api("GET", "/api/floorplans", "admin"))) == 2

    ok(console.api("DELETE", f"/api/floorplans/{upper['id']}", "admin"), 204)
    assert console.api("GET", f"/api/floorplans/{upper['id']}/image", "admin").status_code == 404
    assert [p["floor"] for p in ok(console.api("GET", "/api/floorplans", "admin"))] == ["1F"]

    actions = [a for a in audit_actions(console) if a.startswith("floorplan.")]
    assert actions == ["floorplan.add", "floorplan.add", "floorplan.marker", "floorplan.marker",
                       "floorplan.marker_remove", "floorplan.replace", "floorplan.remove"]
    verify = console.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.dumps(plans, ensure_ascii=False)  # JSON all the way down
