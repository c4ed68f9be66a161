"""The files that make Mosquitto enforce the broker policy (broker_policy.py): the password file in
Mosquitto 2's PBKDF2-SHA512 format, the ACL file, and a config snippet with the listeners (TLS for
the network, plaintext on the loopback only). Running it again keeps every existing login's hash,
so only new (or renewed) logins get a password, written once to a 0600 file and never printed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from console.errors import ConfigError
from console.settings import BrokerAddress, Settings
from console.wire.broker_policy import Login, plan_logins, render_acl

ITERATIONS = 1000
"""PBKDF2 rounds. mosquitto_passwd 2.0.11 uses 101; the broker reads the count from each line and
hashes on every CONNECT, so a reconnect storm of a few hundred devices stays cheap. The generated
passwords are 256-bit random, which no round count protects further."""
SALT_BYTES = 12
DEFAULT_CONSOLE_USER = "mcc-console"
PASSWORD_FILE, ACL_FILE, CONF_FILE, CREDENTIALS_FILE = "passwd", "acl", "mosquitto-mcc.conf", "new-credentials.txt"


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, as ``mosquitto_passwd`` writes."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]), len(digest))
    return hmac.compare_digest(actual, digest)


def read_password_file(path: Path) -> dict[str, str]:
    """login → stored hash; empty when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, stored = line.partition(":")
            out[name] = stored
    return out


def render_listeners(folder: str, port: int = 1883, tls_port: int = 8883, tls_bind: str = "") -> str:
    """The listeners and access control, for ``include_dir`` or to paste into mosquitto.conf.
    ``folder`` is where the broker finds these files (it differs inside a container)."""
    bind = f" {tls_bind}" if tls_bind else ""
    return (
        "# Written by `mcc broker files`. Devices and remote consoles connect with TLS; plaintext MQTT\n"
        "# is for this host only (the console beside the broker, health checks).\n"
        f"listener {port} 127.0.0.1\n\n"
        f"listener {tls_port}{bind}\n"
        f"cafile {folder}/ca.crt\n"
        f"certfile {folder}/server.crt\n"
        f"keyfile {folder}/server.key\n\n"
        "# Every client logs in; the ACL lets each login write only its own devices' topics.\n"
        "allow_anonymous false\n"
        f"password_file {folder}/{PASSWORD_FILE}\n"
        f"acl_file {folder}/{ACL_FILE}\n"
    )


@dataclass(frozen=True)
class BrokerFiles:
    folder: Path
    logins: tuple[Login, ...]
    new: tuple[str, ...]
    """Logins that got a password in this run (they are in the credentials file)."""
    removed: tuple[str, ...]
    """Logins of the old password file that the registry no longer has."""
    credentials: Path | None


def write_broker_files(settings: Settings, folder: Path, *, console_user: str | None = None,
                       renew: tuple[str, ...] = (), broker_folder: str | None = None,
                       port: int = 1883, tls_port: int = 8883, tls_bind: str = "",
                       bridges: tuple[str, ...] = ()) -> BrokerFiles:
    """Write the password file, the ACL and the listener snippet into ``folder``. The console's
    password is the one in ``mqtt.url`` when that URL names the console's login; other logins keep
    their hash, and new ones (or those in ``renew``) get a random password. ``bridges``: sites whose
    brokers are bridged to this one, each with its own login (``bridge-<site>``)."""
    address = BrokerAddress.parse(settings.mqtt.url)
    console_user = console_user or address.username or DEFAULT_CONSOLE_USER
    logins = plan_logins(settings, console_user, bridges)
    names = [login.name for login in logins]
    unknown = [name for name in renew if name not in names]
    if unknown:
        raise ConfigError([("--renew", f"no such login: {', '.join(unknown)}")])

    folder.mkdir(parents=True, exist_ok=True)
    existing = read_password_file(folder / PASSWORD_FILE)
    hashes: dict[str, str] = {}
    issued: dict[str, str] = {}
    for name in names:
        known = address.password if name == console_user and address.username == console_user else None
        if known is not None:
            stored = existing.get(name, "")
            hashes[name] = stored if verify_password(known, stored) else hash_password(known)
        elif name in existing and name not in renew:
            hashes[name] = existing[name]
        else:
            issued[name] = secrets.token_urlsafe(32)
            hashes[name] = hash_password(issued[name])

    write_atomically(folder / PASSWORD_FILE, "".join(f"{name}:{hashes[name]}\n" for name in names), 0o600)
    write_atomically(folder / ACL_FILE, render_acl(logins), 0o644)
    listeners = render_listeners(broker_folder or str(folder.resolve()), port, tls_port, tls_bind)
    write_atomically(folder / CONF_FILE, listeners, 0o644)
    credentials = _append_credentials(folder / CREDENTIALS_FILE, issued, settings) if issued else None
    return BrokerFiles(folder, tuple(logins), tuple(issued), tuple(n for n in existing if n not in names),
                       credentials)


def write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` at once (the broker may reload it at any moment) with ``mode`` from the start."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _append_credentials(path: Path, issued: dict[str, str], settings: Settings) -> Path:
    """Appended, not replaced: passwords of an earlier run not yet handed out stay readable (only
    their hash is in the password file). Mode 0600 whoever's umask."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = [f"# {stamp} site {settings.site.id}: new MQTT logins. Hand each to its device, then delete this file."]
    lines += [f"{name} {password}" for name, password in issued.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return path
