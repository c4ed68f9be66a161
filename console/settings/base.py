"""What every site-file section shares (console/settings/__init__.py and console/settings/cameras.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from console.contract import unclean

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Section(BaseModel):
    """Every section rejects unknown keys: a typo in a site file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        """No control characters and no NaN or infinity anywhere in a site file or a registry entry."""
        if isinstance(data, dict) and (problem := unclean(data)):
            raise ValueError(problem)
        return data
