"""MCC as a packaged product: the wheel built from this checkout, installed into a fresh virtual
environment outside the repository, checks a site file and runs `mcc demo` from there, with its
pages, procedures and demo site coming from the wheel itself (console/_data), and serves the wall."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from console.demo.broker import free_port
from tests.conftest import REPO, wait_until

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MCC_"))}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.mark.timeout(600)
def test_the_wheel_installs_outside_the_repository_and_runs_the_demo(tmp_path: Path) -> None:
    # Built from a copy of the sources, so nothing of an earlier build (build/, egg-info) is reused.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "var", "tests", "bench"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", source, cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("mcc-*.whl")
    place = tmp_path / "elsewhere"
    venv.create(place / "venv", with_pip=True)
    python, mcc = place / "venv" / "bin" / "python", place / "venv" / "bin" / "mcc"
    run(python, "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", wheel, cwd=place, timeout=540)

    where = run(python, "-c", "import console, console.resources as r; print(console.__file__); print(r.WEB)",
                cwd=place).stdout.split()
    assert all(Path(p).is_relative_to(place / "venv") for p in where), where  # nothing of the checkout
    assert (Path(where[1]) / "page.html").is_file() and (Path(where[1]) / "wall.html").is_file()
    assert (Path(where[1]) / "vendor" / "zxing-wasm" / "reader" / "zxing_reader.wasm").is_file()

    (place / "site.yaml").write_text("site: {id: wheel-check, name: 安装检查}\n", encoding="utf-8")
    checked = run(mcc, "check-config", "site.yaml", cwd=place).stdout
    sops = len(list((REPO / "sops").glob("*.yaml")))
    assert "OK (site wheel-check" in checked and f"{sops} SOPs" in checked, checked

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MCC_"))}
    log = open(place / "demo.log", "wb")
    demo = subprocess.Popen([str(mcc), "demo", "--data", "var", "--port", str(port), "--rate", "1"], cwd=place,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            assert demo.poll() is None, (place / "demo.log").read_text(errors="replace")[-3000:]
            try:
                return httpx.get(f"{base}/api/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=90, interval=0.5, message="the installed demo answers")
        logins = json.loads((place / "var" / "demo-logins.json").read_text())
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.post("/api/auth/login", json={"username": "wall", "password": logins["wall"]}).status_code == 200
            wall = client.get("/wall")
            assert wall.status_code == 200 and '<script type="module" src="/static/wall.js">' in wall.text
            assert client.get("/static/wall-queue.js").status_code == 200
            assert client.get("/api/health").json() == {"status": "up"}, "the wall's login sees only up/down"
            login = {"username": "operator", "password": logins["operator"]}
            assert client.post("/api/auth/login", json=login).status_code == 200
            health = client.get("/api/health").json()
        assert health["site"] == "demo" and health["broker"]["connected"] is True
        assert "mosquitto" in " ".join(w["name"] for w in health["workers"]), "the demo's broker is listed"
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
        log.close()
