"""The architecture's import contracts (.importlinter) hold, and they are not decoration: the same
check run on a copy of the code with one forbidden import added fails and names the contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / ".importlinter"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_code_keeps_every_import_contract() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("adapters/native.py", "from console.settings import Settings", "Adapters stand on the contract alone"),
    ("console/store/tables/signals.py", "from console.api import deps", "The console's rooms"),
    ("console/tasks/machine.py", "from console.demo import simulator", "The console's rooms"),
    ("console/wire/translate.py", "from console.wire import ingest", "No import cycles"),
], ids=["adapter-imports-settings", "store-imports-api", "product-imports-demo", "cycle-in-wire"])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    for name in ("console", "adapters"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    text = target.read_text(encoding="utf-8")
    head, _, body = text.partition("from __future__ import annotations\n")
    target.write_text(f"{head}from __future__ import annotations\n{line}  # noqa\n{body}", encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [block for block in result.stdout.split("\n\n") if "BROKEN" in block]
    assert any(contract in " ".join(block.split()) for block in broken), result.stdout
