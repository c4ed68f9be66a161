"""Fixtures of the integration tests: ``desk``, the task engine on a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
