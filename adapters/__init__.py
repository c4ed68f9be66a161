"""Adapters turn vendor payloads into canonical events. REGISTRY is the explicit list of them."""

from adapters.base import AdapterDef
from adapters.esp_rfid import ESP_RFID
from adapters.frigate import FRIGATE
from adapters.native import NATIVE
from adapters.openalpr import OPENALPR
from adapters.tasmota_rfid import TASMOTA_RFID
from adapters.zigbee2mqtt import ZIGBEE2MQTT

REGISTRY: tuple[AdapterDef, ...] = (NATIVE, ZIGBEE2MQTT, ESP_RFID, TASMOTA_RFID, FRIGATE, OPENALPR)
BY_NAME: dict[str, AdapterDef] = {adapter.name: adapter for adapter in REGISTRY}

__all__ = ["REGISTRY", "BY_NAME", "AdapterDef"]
