"""The HTTP API and the WebSocket: one router per resource, the role checks as dependencies
(deps.py), and the pages."""
