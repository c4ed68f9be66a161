"""Devices: the registry (who a device is and where), their status and health (last seen,
online, silent past a budget), registration from the console, floor plans, car parks, and
which subsystem each belongs to."""
