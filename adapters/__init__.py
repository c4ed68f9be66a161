"""Adapters turn vendor payloads into canonical events. REGISTRY is the explicit list of them."""

from adapters.base import AdapterDef
from adapters.native import NATIVE

REGISTRY: tuple[AdapterDef, ...] = (NATIVE,)
BY_NAME: dict[str, AdapterDef] = {adapter.name: adapter for adapter in REGISTRY}

__all__ = ["REGISTRY", "BY_NAME", "AdapterDef"]
