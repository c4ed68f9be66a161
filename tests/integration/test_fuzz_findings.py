"""What the API fuzz (test_api_fuzz.py) found, each pinned once on PostgreSQL: every one was a 500,
or a status or body the OpenAPI document did not list (issue 15)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ConsoleProcess
from tests.integration.test_floorplans_api import ok


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text[:300]}"
    body: dict[str, Any] = response.json()
    assert body["code"] == code and set(body) >= {"detail", "code", "params"}, body
    return body


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_what_the_fuzz_found_is_refused_with_a_4xx(make_console: Any, db_url: str) -> None:
    console: ConsoleProcess = make_console(db_url).staff({"root": "admin", "sup": "supervisor"})

    # Days at the ends of the calendar: their window does not exist in UTC.
    for path in ("/api/reports/monthly?month=0000-01", "/api/reports/monthly?month=9999-12",
                 "/api/reports/daily?date=9999-12-31", "/api/reports/daily?date=0001-01-01",
                 "/api/duty-log?date=0001-01-01"):
        refused(console.api("GET", path, "sup"), 422, "time.out_of_range")
    refused(console.api("GET", f"/api/reports/shift?handover={2**63}", "sup"), 422, "request.invalid")
    ok(console.api("GET", "/api/reports/monthly?month=2026-12", "sup"))

    # A null for a checkpoint's NOT NULL column; a null wand tag still removes the tag.
    checkpoint = ok(console.api("POST", "/api/patrol/checkpoints", "sup", json={"name": "大堂", "wand_tag": "0A1B"}))
    for field in ("name", "photo_required", "active"):
        refused(console.api("PATCH", f"/api/patrol/checkpoints/{checkpoint['id']}", "sup", json={field: None}),
                422, "request.invalid")
    assert ok(console.api("PATCH", f"/api/patrol/checkpoints/{checkpoint['id']}", "sup",
                          json={"wand_tag": None}))["wand_tag"] is None

    # NUL characters, which PostgreSQL cannot hold in text, in a body, a path and a query.
    body = refused(console.api("POST", "/api/plates", "sup", json={"plate": "京A\x0012", "list": "block",
                                                                   "reason": "欠费"}), 422, "input.control_character")
    assert body["params"]["field"] == "plate"
    refused(console.api("GET", "/api/devices/fp%00-1", "sup"), 422, "input.control_character")
    refused(console.api("GET", "/api/events?device_id=fp%00-1", "sup"), 422, "input.control_character")
    refused(console.api("GET", "/api/locations/labels?zone=%00", "sup"), 422, "input.control_character")

    # A device on a site this console does not serve: its places had no label key, and the
    # location list then refused everyone.
    refused(console.api("POST", "/api/devices", "root", json={"id": "far-1", "site": "\x18"}), 422,
            "input.control_character")
    refused(console.api("POST", "/api/devices", "root", json={"id": "far-1", "site": "elsewhere"}), 422,
            "registry.other_site")
    ok(console.api("POST", "/api/devices", "root", json={"id": "near-1", "site": "demo", "building": "2号楼"}))
    assert any(p["building"] == "2号楼" for p in ok(console.api("GET", "/api/locations", "sup")))

    # FastAPI's and Starlette's own refusals come in the console's shape.
    refused(console.api("GET", "/api/no-such-thing", "sup"), 404, "request.no_route")
    refused(console.api("DELETE", "/api/health", "sup"), 405, "request.no_route")


def test_the_openapi_document_lists_the_refusals_with_their_body(make_console: Any, sqlite_url: str) -> None:
    console: ConsoleProcess = make_console(sqlite_url)
    spec = ok(httpx.get(f"{console.base}/openapi.json"))
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}}
    assert set(spec["components"]["schemas"]["Refused"]["required"]) == {"detail", "code", "params"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]

    ack = spec["paths"]["/api/alarms/{alarm_id}/ack"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "422"} <= set(ack)
    assert all(ack[status]["content"] == error for status in ack if status != "200")
    assert set(spec["paths"]["/api/alarms"]["get"]["responses"]) == {"200", "401", "403", "422"}
    assert set(spec["paths"]["/api/auth/login"]["post"]["responses"]) == {"200", "400", "401", "422", "429"}
    assert set(spec["paths"]["/api/health"]["get"]["responses"]) == {"200"}
    assert {"413", "415"} <= set(spec["paths"]["/api/devices/import"]["post"]["responses"])
    assert set(spec["paths"]["/api/reports/daily"]["get"]["responses"]["200"]["content"]) == {
        "application/json", "text/csv", "text/html"}
