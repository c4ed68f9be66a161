"""Places guards can be at, and "nearest" ranking.

A place names a zone the way the device registry does (building, floor, zone). A guard proves
where they stand by scanning the place's printed label, whose code is signed (console/tasks/tags.py):
at a patrol checkpoint the console learns where they are, at an alarm's scene the scan proves arrival.

"Nearest" is by the registry's hierarchy, because most sites have no coordinates for their zones:
same zone, then same floor, then the same building ordered by how many floors away, then anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.errors import Refusal


class PlaceError(Refusal):
    """A scanned code that is not a tag of this console's sites."""

    status = 422


@dataclass(frozen=True)
class Place:
    building: str = ""
    floor: str = ""
    zone: str = ""

    @property
    def known(self) -> bool:
        return bool(self.building or self.floor or self.zone)

    def label(self) -> str:
        return " ".join(part for part in (self.building, self.floor, self.zone) if part) or "?"


_BASEMENT = re.compile(r"^B(\d+)", re.IGNORECASE)
_LEVEL = re.compile(r"(\d+)")


def floor_number(floor: str) -> int | None:
    """B2 → -2, 1F / 1层 / 1 → 1, RF / 屋顶 → 200 (above every numbered floor); None if unknown."""
    text = floor.strip()
    if not text:
        return None
    if match := _BASEMENT.match(text):
        return -int(match.group(1))
    if text.upper().startswith("RF") or "屋顶" in text:
        return 200
    if match := _LEVEL.search(text):
        return int(match.group(1))
    return None


def distance(guard: Place, scene: Place) -> int:
    """Smaller is nearer. 0 same zone; 1 same floor; 2 + floors apart in the same building;
    500 another building; 1000 where the guard is unknown."""
    if not guard.known:
        return 1000
    if guard.building != scene.building:
        return 500
    if guard.floor == scene.floor:
        return 0 if guard.zone == scene.zone else 1
    here, there = floor_number(guard.floor), floor_number(scene.floor)
    if here is None or there is None:
        return 100
    return 2 + min(abs(here - there), 90)
