"""The WebSocket protocol the web server speaks, with the compression the site file asks for
(``http.ws_compression``).

Every change goes to every screen, and permessage-deflate compresses it once per client (each
connection keeps its own compression context). At zlib's default level that was the biggest
single cost of the event loop with 50 walls at 1,000 events/s (bench/README.md). ``fast`` (the
default) compresses at level 1: about 3 times less CPU for frames a few percent larger. ``small``
is the web server's own default (level 6); ``off`` sends frames as they are, for a LAN where the
bytes do not matter (the browser then does no inflating either).
"""

from __future__ import annotations

from typing import Any, Literal

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

Compression = Literal["fast", "small", "off"]
LEVELS = {"fast": 1, "small": 6}


class FastDeflateProtocol(WebSocketsSansIOProtocol):
    """The web server's WebSocket protocol, its permessage-deflate at level 1."""

    level = LEVELS["fast"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.config.ws_per_message_deflate:
            return
        # The same offer as the server's own (window 2^12, memLevel 5), at another level.
        self.conn = ServerProtocol(
            extensions=[ServerPerMessageDeflateFactory(
                server_max_window_bits=12, client_max_window_bits=12,
                compress_settings={"memLevel": 5, "level": self.level})],
            max_size=self.config.ws_max_size, logger=self.conn.logger)


def server_options(compression: Compression) -> dict[str, Any]:
    """The web server's WebSocket options (``uvicorn.run(**...)``) for ``compression``."""
    if compression == "off":
        return {"ws": "websockets-sansio", "ws_per_message_deflate": False}
    if compression == "small":
        return {"ws": "websockets-sansio"}
    return {"ws": FastDeflateProtocol}
