"""The demo and its stand-ins for the outside world: ``mcc demo``, the device simulator (native,
vendor formats and a GB/T 26875.3 device), a managed Mosquitto and the demo's cameras. It ships
with the product so that ``mcc demo`` runs wherever MCC is installed, but no product module
imports it (an import contract checks that)."""
