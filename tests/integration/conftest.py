"""Fixtures of the integration tests: ``desk``, the task engine on a controllable clock; ``mjpeg``,
``silent`` and ``streams``, cameras served from the test (tests/support/cameras.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cameras import MjpegServer, SilentServer, Stream, make_frames
from tests.support.desk import Desk


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Desk] = []

    def make(**sections: Any) -> Desk:
        made.append(Desk(db_url, tmp_path, **sections))
        return made[-1]

    yield make
    for d in made:
        d.close()


@pytest.fixture
def mjpeg() -> Iterator[MjpegServer]:
    with MjpegServer(make_frames()) as server:
        yield server


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    """Streams a test starts (``streams.append(Stream(...).start())``), stopped after it."""
    made: list[Stream] = []
    yield made
    for stream in made:
        stream.stop()
