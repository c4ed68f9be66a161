"""MCC benchmarks: sustained ingest and publish->WebSocket latency; run with `python -m bench`."""
