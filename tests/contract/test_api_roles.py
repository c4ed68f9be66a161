"""Every HTTP route and the WebSocket check credentials; the fixed interface paths exist."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from console.app import create_app
from console.settings import Settings

OPEN = {"/api/health", "/api/health/live", "/api/health/ready", "/api/auth/login", "/api/displays/pairing", "/pair", "/login", "/", "/wall"}
FIXED = {
    ("GET", "/api/health"), ("POST", "/api/auth/login"), ("GET", "/api/alarms"),
    ("POST", "/api/alarms/{alarm_id}/ack"), ("GET", "/api/events"), ("GET", "/api/tasks/{task_id}"),
}


def app_client(tmp_path: Path) -> TestClient:
    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'c.db'}"})
    return TestClient(create_app(settings, start_pipeline=False))


def test_fixed_interface_routes_exist(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        spec = client.get("/openapi.json").json()
    present = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert FIXED <= present


def test_every_api_route_but_health_and_login_refuses_anonymous_callers(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        spec = client.get("/openapi.json").json()
        checked = 0
        for path, item in spec["paths"].items():
            if path in OPEN:
                continue
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            for method in item:
                response = client.request(method.upper(), concrete)
                assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
                checked += 1
                # A body that is not even JSON, or breaks the route's rules: still "sign in" first,
                # never the route's body rules (FastAPI reads a JSON body before the login check).
                for body in (b"not json", b'{"unexpected": [1, 2]}', b"[]"):
                    response = client.request(method.upper(), concrete, content=body,
                                              headers={"Content-Type": "application/json"})
                    assert response.status_code == 401, f"{method} {path} {body!r} answered {response.status_code}"
        assert checked >= 8


def test_pages_send_security_headers(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        response = client.get("/login")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "wasm" not in response.headers["content-security-policy"], "only the guard page compiles WebAssembly"
    directives = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert directives["connect-src"] == "'self'", "fetch and WebSocket only to the console itself"
    assert response.headers["x-content-type-options"] == "nosniff"
