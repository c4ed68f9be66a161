"""Adapters turn vendor payloads into canonical events. REGISTRY is the explicit list of them."""

from adapters.base import AdapterDef
from adapters.dahua_vto2mqtt import DAHUA_VTO2MQTT
from adapters.esp_rfid import ESP_RFID
from adapters.esphome import ESPHOME
from adapters.frigate import FRIGATE
from adapters.gb26875 import GB26875
from adapters.ha_discovery import HA_DISCOVERY
from adapters.hikvision_isapi import HIKVISION_ISAPI
from adapters.homie import HOMIE
from adapters.native import NATIVE
from adapters.openalpr import OPENALPR
from adapters.openmqttgateway import OPENMQTTGATEWAY
from adapters.patrol_wand import PATROL_WAND
from adapters.sparkplug_b import SPARKPLUG_B
from adapters.tasmota_rfid import TASMOTA_RFID
from adapters.zigbee2mqtt import ZIGBEE2MQTT

REGISTRY: tuple[AdapterDef, ...] = (
    NATIVE, ZIGBEE2MQTT, ESP_RFID, TASMOTA_RFID, ESPHOME, HOMIE, OPENMQTTGATEWAY, DAHUA_VTO2MQTT,
    HIKVISION_ISAPI, FRIGATE, OPENALPR, SPARKPLUG_B, HA_DISCOVERY, GB26875, PATROL_WAND,
)
BY_NAME: dict[str, AdapterDef] = {adapter.name: adapter for adapter in REGISTRY}

__all__ = ["REGISTRY", "BY_NAME", "AdapterDef"]
