"""The third-party files the pages load are the pinned ones web/vendor/README.md names (a changed
byte there is an update that must say so), with their licence alongside."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import REPO

VENDOR = REPO / "web" / "vendor"


def test_vendored_files_match_their_recorded_hashes() -> None:
    recorded = re.findall(r"^    ([0-9a-f]{64})  (\S+)$", (VENDOR / "README.md").read_text(encoding="utf-8"), re.M)
    assert len(recorded) == 3
    for digest, name in recorded:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (VENDOR / "zxing-wasm" / "LICENSE").read_text(encoding="utf-8")
