"""A local HTTP server that keeps every request it gets: the stand-in for a group bot's webhook
(DingTalk, WeCom and Feishu cannot be reached from here; apprise's json:// speaks to this)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CaptureServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if capture.fail_next > 0:
                    capture.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                capture.requests.append({"path": self.path, "json": json.loads(body or b"{}")})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def messages(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r["json"] for r in list(self.requests) if path is None or r["path"] == f"/{path}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
