"""``mcc broker files | bridge | certs``: who may speak on the Mosquitto broker, made from the
registry (logins, ACL, listeners), a site broker's bridge to its center, and the TLS certificates.
The work is in console/wire/broker_*.py; here are the commands' arguments and what they print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.settings import load_settings

WithConfig = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


def cmd_broker_files(args: argparse.Namespace) -> int:
    from console.wire.broker_files import write_broker_files

    written = write_broker_files(load_settings(args.config), args.dir, console_user=args.console_user, renew=tuple(args.renew),
                                 broker_folder=args.broker_dir, port=args.port, tls_port=args.tls_port,
                                 tls_bind=args.tls_bind, bridges=tuple(args.bridge))
    by_role: dict[str, int] = {}
    for login in written.logins:
        by_role[login.role] = by_role.get(login.role, 0) + 1
    print(f"{args.dir}: passwd, acl and mosquitto-mcc.conf for {len(written.logins)} logins "
          f"({', '.join(f'{n} {role}' for role, n in by_role.items())})")
    if written.credentials:
        print(f"{len(written.new)} new password(s) in {written.credentials} (mode 0600): hand them out, then delete it")
    if written.removed:
        print(f"removed logins no longer in the registry: {', '.join(written.removed)}", file=sys.stderr)
    return 0


def cmd_broker_bridge(args: argparse.Namespace) -> int:
    from console.wire.broker_bridge import Center, render_bridge, write_bridge

    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ConsoleError(f"cannot read a password from {args.password_file}: {exc}") from None
    settings = load_settings(args.config)
    center = Center.parse(args.center, password)
    ca = str(args.ca.resolve()) if args.ca is not None else None
    if args.ca is not None and not args.ca.is_file():
        raise ConsoleError(f"--ca {args.ca}: no such file")
    text = render_bridge(settings, center, ca_file=args.broker_ca or ca, queue_limit=args.queue_limit)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_bridge(args.out, text)
    link = "TLS" if center.tls else "plaintext"
    print(f"{args.out} (mode 0600): site {settings.site.id}'s bridge to {center.host}:{center.port} ({link}); "
          "include it in the site broker's config and restart it", file=sys.stderr)
    if not center.tls:
        print(f"warning: plaintext MQTT to {center.host}: use mqtts:// across a WAN", file=sys.stderr)
    return 0


def cmd_broker_certs(args: argparse.Namespace) -> int:
    from console.wire.broker_certs import make_broker_certs

    certs = make_broker_certs(args.dir, args.host or ["localhost", "127.0.0.1"])
    made = "a new CA" if certs.ca_created else "the existing CA"
    print(f"{certs.server_cert} and {certs.server_key} issued by {made} {certs.ca_cert}; "
          f"give devices {certs.ca_cert.name}, never ca.key")
    return 0



def add_broker_commands(sub: Any, with_config: WithConfig) -> None:
    """The ``broker`` group on ``mcc``'s subcommands."""
    broker = sub.add_parser("broker", help="the Mosquitto broker's logins, ACL and TLS").add_subparsers(
        dest="broker_command", required=True)
    p = with_config(broker.add_parser("files", help="write the password file, the ACL and a listener snippet "
                                                    "from the device registry"))
    p.add_argument("--dir", type=Path, required=True, help="where to write them (existing passwords are kept)")
    p.add_argument("--console-user", default=None, help="the console's login (default: mqtt.url's, or mcc-console)")
    p.add_argument("--renew", action="append", default=[], metavar="LOGIN", help="issue a new password for it")
    p.add_argument("--broker-dir", default=None, help="the folder as the broker sees it (e.g. in a container)")
    p.add_argument("--port", type=int, default=1883, help="plaintext listener, bound to 127.0.0.1 (default 1883)")
    p.add_argument("--tls-port", type=int, default=8883, help="TLS listener (default 8883)")
    p.add_argument("--tls-bind", default="", help="the TLS listener's address (default: every interface)")
    p.add_argument("--bridge", action="append", default=[], metavar="SITE",
                   help="a login bridge-SITE for SITE's broker bridged to this one (repeat per site)")
    p.set_defaults(func=cmd_broker_files)
    p = with_config(broker.add_parser("bridge", help="write the site broker's bridge to the center's broker "
                                                     "(QoS 1, queued while the link is down)"))
    p.add_argument("--center", required=True, metavar="URL",
                   help="the center's broker: mqtts://bridge-SITE:PASSWORD@HOST:8883 (or mqtt://)")
    p.add_argument("--password-file", type=Path, default=None,
                   help="the bridge's password for the center, when the URL has none (its first line)")
    p.add_argument("--ca", type=Path, default=None,
                   help="the CA that issued the center's certificate (default: the system's CAs)")
    p.add_argument("--broker-ca", default=None,
                   help="the --ca file's path as the site broker sees it (e.g. in a container)")
    p.add_argument("--queue-limit", type=int, default=1_000_000,
                   help="messages the site broker keeps while the link is down (default 1000000; 0: no limit)")
    p.add_argument("--out", type=Path, default=None, help="write it here, mode 0600 (default: standard output)")
    p.set_defaults(func=cmd_broker_bridge)
    p = broker.add_parser("certs", help="make a private CA (once) and issue the broker's TLS certificate")
    p.add_argument("--dir", type=Path, required=True, help="where ca.crt, server.crt and server.key go")
    p.add_argument("--host", action="append", default=[], help="a name or address devices connect to "
                                                               "(repeat; default localhost and 127.0.0.1)")
    p.set_defaults(func=cmd_broker_certs)
