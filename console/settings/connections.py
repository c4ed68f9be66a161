"""Where the console connects: the site itself, the broker, the database, the HTTP listener and
the time-series database."""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from console.settings.base import ID_PATTERN, Section


class SiteSection(Section):
    id: str = Field(pattern=ID_PATTERN, description="Site id; the second level of native topics.")
    name: str = Field("", description="Display name (Chinese first).")
    timezone: str = Field("Asia/Shanghai", description="IANA zone for times shown to people.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class SiteEntry(SiteSection):
    """Another site (community) this deployment watches besides ``site``: a central monitoring center
    lists its communities here. Its native devices publish under ``mcc/v1/<id>/...``; vendor
    adapters and devices name it with their ``site``."""

    location: str = Field("", max_length=200, description="Where it is (district, address), for people.")
    sop_limits: dict[str, dict[str, int]] = Field(default_factory=dict, description=(
        "This site's own SOP time limits in seconds, by SOP id and limit name (over sops.limits), e.g. "
        "{fire.alarm: {confirm: 180}} for a site whose guards walk further."))


class MqttSection(Section):
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://user:pass@host:port or mqtts://")
    ca_file: Path | None = Field(None, description="mqtts://: the CA that signed the broker's certificate (PEM, e.g. "
                                                   "ca.crt of `mcc broker certs`), relative to the site file; "
                                                   "default: the system's trusted CAs.")
    client_id: str | None = Field(None, description="Persistent-session id; default mcc-console-<site>.")
    keepalive: int = Field(30, ge=5, le=3600, description="Seconds between pings.")
    reconnect_min: float = Field(0.5, gt=0, description="First reconnect delay, seconds.")
    reconnect_max: float = Field(30.0, gt=0, description="Longest reconnect delay, seconds.")

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("a host is required")
        try:
            _ = parts.port  # raises on a non-numeric port
        except ValueError as exc:
            raise ValueError("port is not a number") from exc
        return value


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str, ca_file: Path | str | None = None) -> BrokerAddress:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=str(ca_file) if ca_file is not None else None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the broker's certificate and host name: against ``ca_file`` alone when given
        (a site's private CA), else against the system's CAs."""
        return ssl.create_default_context(cafile=self.ca_file)


class DatabaseSection(Section):
    url: str = Field("sqlite:///var/mcc.db", description="SQLAlchemy URL: sqlite:///… or postgresql+psycopg://…")

    @field_validator("url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith("postgresql+psycopg://")):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value


class HttpSection(Section):
    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(8000, ge=0, le=65535, description="Listen port (0 = any free port).")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="Lifetime of a login token.")
    wall_session_days: float = Field(30.0, gt=0, le=366, description=(
        "Lifetime of a paired wall's session (/pair, approved by an admin); pair it again after."))
    secure_cookie: bool = Field(False, description=(
        "Always mark the session cookie Secure. It is Secure anyway when the request came over HTTPS, or through "
        "a trusted proxy that says so (X-Forwarded-Proto: https)."))
    trusted_proxies: list[str] = Field(["127.0.0.1"], description=(
        "Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed (a TLS proxy in front); '*' trusts all."))
    allowed_origins: list[str] = Field(default_factory=list, description=(
        "Origins (scheme://host[:port]) besides the console's own whose pages may open /ws with a user's cookie, "
        "e.g. a wall served from another name. A browser's WebSocket from any other origin is refused (403)."))
    login_free_failures: int = Field(5, ge=1, le=100, description=(
        "Failed logins to one account name before it is locked out (429 + Retry-After); a client address gets "
        "four times as many."))
    login_lockout_seconds: float = Field(30.0, ge=1, le=3600, description=(
        "The first lockout; each further failure doubles it."))
    login_lockout_max_seconds: float = Field(900.0, ge=1, le=86400, description="The longest lockout.")
    password_checks_at_once: int = Field(2, ge=1, le=64, description=(
        "Password checks (argon2id, 64 MiB each) running at once; more logins wait, then get 429."))
    ws_compression: Literal["fast", "small", "off"] = Field("fast", description=(
        "WebSocket compression (permessage-deflate): fast (zlib level 1, the default), small (level 6: smaller "
        "frames, about 3 times the CPU per screen) or off (a LAN where bandwidth does not matter)."))


def _host_instance() -> str:
    """This machine's name as an instance id: a container's host name, or a server's."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname())[:64].strip("-.") or "console"
    return name if name[0].isalnum() else f"i{name}"[:64]


class ClusterSection(Section):
    """Several ``mcc run`` instances on one PostgreSQL behind a load balancer (README, "A center"):
    each takes its share of the MQTT messages through a shared subscription, every change reaches
    every instance's WebSocket clients through the store, and work that must run once (deadlines,
    the silence watch, camera probes, ...) is owned by one instance at a time (an advisory lock)."""

    enabled: bool = Field(False, description="Run as one of several instances on PostgreSQL (off: a single console).")
    instance: str = Field(default_factory=_host_instance, pattern=ID_PATTERN, description=(
        "This instance's name, unique in the cluster and the same after a restart (its MQTT session keeps the "
        "messages it had not acknowledged); default: the host name."))
    share_group: str = Field("mcc", pattern=r"^[A-Za-z0-9_\-]{1,32}$", description=(
        "The MQTT shared-subscription group ($share/<group>/...) the instances take their messages from."))
    election_seconds: float = Field(1.0, gt=0, le=60, description=(
        "How often an instance tries to take over work whose owner has gone."))
    relay_keep_seconds: int = Field(900, ge=10, le=86400, description=(
        "How long the store keeps the changes sent to WebSocket clients, so one that reconnects to another "
        "instance with ?since= resumes without a gap."))


class InfluxSection(Section):
    """The time-series sink (console/sinks/timeseries.py): telemetry, counts and KPIs written with the
    InfluxDB v2 write API, off the alarm path. An empty url turns it off."""

    url: str = Field("", description="InfluxDB 2/3 (or VictoriaMetrics) base URL, http(s)://host:port; "
                                     "empty = off.")
    org: str = Field("-", description="InfluxDB organisation (name or id).")
    bucket: str = Field("mcc", min_length=1, description="Bucket the points are written to.")
    token: SecretStr = Field(SecretStr(""), description="API token with write access; never logged or shown.")
    batch_size: int = Field(500, ge=1, le=50000, description="Most points in one write.")
    flush_seconds: float = Field(5.0, gt=0, le=3600, description="A smaller batch is written after this long.")
    buffer_max: int = Field(100000, ge=1, le=10_000_000,
                            description="Points kept in memory while the database is away; beyond it the "
                                        "oldest are dropped (and counted on /api/health).")
    timeout_seconds: float = Field(5.0, gt=0, le=120, description="Time limit of one write.")
    count_seconds: int = Field(60, ge=1, le=3600, description="Width of the event and alarm count buckets.")
    backoff_max_seconds: float = Field(60.0, gt=0, le=3600, description="Longest wait between retries.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("use http://HOST:PORT or https://HOST:PORT (empty = off)")
        return value
