"""HTTP API and WebSocket: one router per resource."""
