"""A site's Mosquitto bridged to the center's: the config snippet that forwards the site's native
events and states to the center and brings its devices' commands back, so a site keeps working
while its WAN link is down. QoS 1 both ways and a persistent session (``cleansession false``) on
both brokers: what the site publishes while the link is down waits in the site broker's queue for
the bridge, the center's queue keeps the commands, and both are sent when the link returns. A
message in flight when the link fails is sent again; the center console stores it once (by its
source id).

Mosquitto has no per-bridge queue limit: the bridge is one client of the site broker, held to the
broker-wide ``max_queued_messages`` (1000 by default, beyond which QoS 1 messages are dropped without
a word), so the snippet raises it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from console.errors import ConsoleError
from console.settings import Settings
from console.wire.broker_files import write_atomically
from console.wire.broker_policy import device_site

QUEUE_LIMIT = 1_000_000
"""Messages the site broker keeps for the bridge while the link is down: at 5 events/s, two days."""
SYSTEM_CAS = "/etc/ssl/certs"


@dataclass(frozen=True)
class Center:
    """Where the bridge connects: the center broker's address, its login, and how to trust it."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str, password: str | None = None) -> Center:
        """``mqtts://bridge-north:PASSWORD@center.example:8883`` (or ``mqtt://`` on a closed network).
        ``password`` is for a URL that names the login without one. Raises ConsoleError saying what
        is wrong with an unusable URL."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConsoleError(f"center URL {_shown(url)!r}: {exc}") from None
        url = _shown(url)  # from here on only for messages: never print the password
        if port == 0:
            raise ConsoleError(f"center URL {url!r}: port 0")
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConsoleError(f"center URL {url!r}: use mqtts://LOGIN:PASSWORD@HOST:8883 (or mqtt:// on a closed network)")
        host = parts.hostname or ""
        if not host:
            raise ConsoleError(f"center URL {url!r}: no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConsoleError(f"center URL {url!r}: a broker URL has no path, query or fragment")
        try:
            if ipaddress.ip_address(host).version == 6:
                raise ConsoleError(f"center URL {url!r}: Mosquitto's bridge address takes a host name or IPv4 "
                                   "address; give the center's IPv6 address a name")
        except ValueError:
            pass
        for ch in host:
            if ch.isspace() or ch in "#\"'":
                raise ConsoleError(f"center URL {url!r}: {ch!r} in the host name")
        username = unquote(parts.username) if parts.username else None
        in_url = unquote(parts.password) if parts.password is not None else None
        if in_url is not None and password is not None:
            raise ConsoleError("the center URL has a password already; give it once")
        password = in_url if in_url is not None else password
        if password is not None and not username:
            raise ConsoleError(f"center URL {url!r}: a password without a login")
        if username and not password:
            raise ConsoleError(f"center URL {url!r}: the login {username} has no password "
                               "(in the URL or --password-file)")
        for name, value in (("login", username), ("password", password)):
            if value is not None and (not value.isprintable() or any(ch.isspace() for ch in value)):
                raise ConsoleError(f"the center {name} has a space or control character, which a Mosquitto "
                                   "config line cannot hold")
        tls = parts.scheme == "mqtts"
        return cls(host, port or (8883 if tls else 1883), tls, username, password)


def _shown(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{hostpart}"


def bridge_sites(settings: Settings) -> list[str]:
    """The sites whose topics the site broker carries: the site's own and any its registry names."""
    return sorted({settings.site.id} | {device_site(settings, d) for d in settings.devices.entries})


def client_id(site: str) -> str:
    """The bridge's client id on the center: stable per site, so the center keeps its session (and
    the commands queued for it) across reconnects and site broker restarts."""
    return f"mcc-bridge-{site}"


def render_bridge(settings: Settings, center: Center, *, ca_file: str | None = None,
                  queue_limit: int = QUEUE_LIMIT) -> str:
    """The snippet for the site broker's ``include_dir`` (or its mosquitto.conf's end)."""
    if queue_limit < 0:
        raise ConsoleError("the queue limit is a count of messages, 0 for none")
    if ca_file is not None and not center.tls:
        raise ConsoleError("--ca is for a TLS link: use an mqtts:// center URL")
    site = settings.site.id
    out = [
        "# Written by `mcc broker bridge` for site " + site + ": this site's broker forwards its devices'",
        "# events and states to the center and takes their commands from it, QoS 1 both ways.",
        "",
        "# While the link is down the bridge's messages wait here, up to max_queued_messages: beyond it",
        "# Mosquitto drops QoS 1 messages silently (its default is 1000). 0 means no limit (memory only).",
        f"max_queued_messages {queue_limit}",
        "# Enough messages in flight to drain a long queue quickly over a slow link.",
        "max_inflight_messages 1000",
        "# Keep the queue through a restart of this broker (persistence_location: where it may write).",
        "persistence true",
        "",
        f"connection mcc-{site}",
        f"address {center.host}:{center.port}",
        "bridge_protocol_version mqttv311",
        "try_private true",
        "# A persistent session on both brokers: nothing queued on either side is dropped on reconnect.",
        "cleansession false",
        f"remote_clientid {client_id(site)}",
        f"local_clientid {client_id(site)}-local",
        "start_type automatic",
        "# Try again 1 s after the link fails, backing off to at most 10 s.",
        "restart_timeout 1 10",
        "keepalive_interval 30",
        "# The bridge's up/down state stays here (the center's ACL gives the bridge nothing else).",
        "notifications true",
        "notifications_local_only true",
        f"notification_topic mcc/bridge/{site}/state",
    ]
    if center.username:
        out += [f"remote_username {center.username}", f"remote_password {center.password}"]
    if center.tls:
        out.append(f"bridge_cafile {ca_file}" if ca_file else f"bridge_capath {SYSTEM_CAS}")
        out.append("bridge_insecure false")
    out += ["", "# Out to the center: native events and states (retained states stay retained)."]
    for name in bridge_sites(settings):
        out += [f"topic mcc/v1/{name}/+/event out 1", f"topic mcc/v1/{name}/+/state out 1"]
    out.append("# In from the center: the devices' commands (mcc/v1/<site>/<device>/command and below).")
    for name in bridge_sites(settings):
        out.append(f"topic mcc/v1/{name}/+/command/# in 1")
    prefixes = settings.commands.topic_prefixes
    if prefixes:
        out.append("# ... and vendor devices' commands under commands.topic_prefixes.")
        out += [f"topic {prefix}# in 1" for prefix in prefixes]
    return "\n".join(out) + "\n"


def write_bridge(path: Path, text: str) -> None:
    """Mode 0600 from the start: the snippet may hold the bridge's password for the center."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text, 0o600)
