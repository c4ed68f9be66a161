"""MCC: the monitoring-center console (ingest, alarms, API, WebSocket hub)."""

__version__ = "0.1.0"
