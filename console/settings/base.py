"""What every site-file section shares (console/settings/__init__.py and console/settings/cameras.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Section(BaseModel):
    """Every section rejects unknown keys: a typo in a site file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)
