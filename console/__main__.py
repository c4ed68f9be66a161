"""The ``mcc`` command: demo, run, health, check-config, user add, devices export/import, drill start, simulate,
audit verify, db upgrade, broker files/certs/bridge, display approve."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from console.broker_commands import add_broker_commands
from console.errors import AuthError, ConfigError, ConsoleError, StoreError
from console.settings import Settings, load_settings

log = logging.getLogger("mcc")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _plaintext_broker(url: str) -> str | None:
    """Why ``url`` sends the console's password and every alarm in clear over a network, or None.
    A warning, not an error: a broker on a separate, closed control-room network may be a choice."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "mqtt" or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (f"plaintext MQTT to {host}: the login and every alarm cross the network unencrypted; "
            "use mqtts:// (mcc broker certs) or a broker on this host")


def cmd_check_config(args: argparse.Namespace) -> int:
    from console.tasks.sop import load_site_sops

    path = args.file or args.config
    try:
        settings = load_settings(path)
        sops = load_site_sops(settings)
    except ConfigError as exc:
        for where, message in exc.problems:
            print(f"{path}: {where}: {message}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    if problem := _plaintext_broker(settings.mqtt.url):
        print(f"{path or '(environment)'}: mqtt.url: warning: {problem}", file=sys.stderr)
    print(f"{path or '(environment only)'}: OK (site {settings.site.id}, "
          f"{len(settings.devices.entries)} devices, {len(settings.adapters)} adapters, {len(sops.sops)} SOPs)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from console.api.ws_protocol import server_options
    from console.app import create_app
    from console.tasks.sop import load_site_sops

    settings = _settings(args)
    load_site_sops(settings)  # refuse to start with a broken procedure
    uvicorn.run(create_app(settings), host=settings.http.host, port=settings.http.port,
                log_level="info", access_log=False, **server_options(settings.http.ws_compression),
                proxy_headers=True, forwarded_allow_ips=settings.http.trusted_proxies)
    return 0


def cmd_display_approve(args: argparse.Namespace) -> int:
    """Approve the wall showing CODE on its /pair page, as the admin page does (audited as "cli")."""
    from datetime import datetime, timezone

    from console.people import pairing
    from console.store import audit
    from console.store.database import Store

    store = Store(_settings(args).database.url)
    store.migrate()
    try:
        with store.write() as session, session.begin():
            row = pairing.approve(session, args.code, args.user, args.name, "cli", datetime.now(timezone.utc))
            audit.record(session, "cli", "display.pairing_approved", target=f"user:{args.user}",
                         detail={"code": row.code, "wall": args.name, "wall_address": row.client})
    finally:
        store.dispose()
    print(f"approved {row.code}: the wall at {row.client or '?'} signs in as {args.user} on its next poll")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Ask the running console whether it is ready (GET /api/health/ready): exit 0 when it is, 1 when
    it is not or does not answer. With --wait, keep asking until it is ready or the time is up."""
    import time
    import urllib.error
    import urllib.request

    http = _settings(args).http
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::", "") else http.host
    url = args.url or f"http://{'[' + host + ']' if ':' in host else host}:{http.port}/api/health/ready"
    deadline = time.monotonic() + args.wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=4) as response:
                print(f"{url}: {response.status} ready")
                return 0
        except urllib.error.HTTPError as exc:
            answer = f"{exc.code} {exc.read()[:300].decode(errors='replace')}"
        except OSError as exc:
            answer = f"no answer ({exc})"
        if time.monotonic() >= deadline:
            print(f"{url}: {answer}", file=sys.stderr)
            return 1
        time.sleep(1.0)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from console.store.database import Store

    Store(_settings(args).database.url).migrate()
    print("database is at the newest schema")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from console.people import auth
    from console.store import audit
    from console.store.database import Store

    settings = _settings(args)
    sites = [s.strip() for s in args.sites.split(",") if s.strip()] if args.sites else None
    if unknown := sorted(set(sites or ()) - set(settings.site_ids)):
        print(f"unknown site(s) {', '.join(unknown)}; this deployment's sites: {', '.join(settings.site_ids)}",
              file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    store = Store(settings.database.url)
    store.migrate()
    with store.write() as session, session.begin():
        user = auth.add_user(session, args.name, password, args.role, args.display_name or "", sites)
        audit.record(session, getpass.getuser(), "user.add", target=f"user:{user.username}",
                     detail={"role": user.role, "sites": sites, "via": "cli"}, client="cli")
    where = f"sites {', '.join(user.sites)}" if user.sites is not None else "every site"
    print(f"user {user.username} added with role {user.role} ({where})")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from console.store import audit
    from console.store.database import Store

    try:
        anchors = [audit.parse_anchor(value) for value in args.anchor]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = Store(_settings(args).database.url)
    store.migrate()
    with store.read() as session:
        count, problems = audit.verify(session)
        problems += audit.check_anchors(session, anchors)
        head = audit.head(session)
    for problem in problems:
        print(f"audit row {problem.row_id}: {problem.message}", file=sys.stderr)
    if problems:
        print(f"audit chain BROKEN: {len(problems)} problem(s) in {count} rows", file=sys.stderr)
        return 1
    held = f", {len(anchors)} anchor(s) held" if anchors else ""
    print(f"audit chain OK: {count} rows{held}")
    if head is not None:
        print(f"head: {head.token} at {head.at.isoformat()} (keep it: --anchor {head.token})")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from console.demo.simulator import run_simulator

    stats = run_simulator(args.broker, args.site, rate=args.rate, seed=args.seed, duration=args.duration,
                          sites=args.sites)
    print(stats)
    return 0


def cmd_drill_start(args: argparse.Namespace) -> int:
    from console.people.drills import drill_message, publish_once
    from console.tasks.sop import load_site_sops

    settings = _settings(args)
    topic, body = drill_message(settings, load_site_sops(settings), args.device, args.kind, args.point or "",
                                args.note or "")
    publish_once(settings.mqtt.url, topic, body, ca_file=settings.mqtt.ca_file)
    print(f"drill started: {args.kind} at {args.device} {args.point or ''} (message {body['id']}); "
          "its task is labelled 演练 and notifies nobody unless notify.drills is set")
    return 0


def cmd_devices_export(args: argparse.Namespace) -> int:
    from console.devices import registry_io

    devices = _settings(args).devices.entries
    text = registry_io.to_csv(devices) if args.format == "csv" else registry_io.to_yaml(devices)
    sys.stdout.write(text)
    return 0


def cmd_devices_import(args: argparse.Namespace) -> int:
    from console.devices import registry_io

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    try:
        devices = registry_io.from_csv(text)
    except ConfigError as exc:
        for where, message in exc.problems:
            print(f"{args.file}: {where}: {message}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing written", file=sys.stderr)
        return 1
    output = registry_io.to_yaml(devices)
    if args.out is None:
        sys.stdout.write(output)
    else:
        args.out.write_text(output, encoding="utf-8")
        print(f"{len(devices)} devices written to {args.out}; point devices.file at it and run check-config",
              file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from console.demo.run import run_demo

    return run_demo(Path(args.data), port=args.port, rate=args.rate)


def cmd_center(args: argparse.Namespace) -> int:
    from console.demo.center import run_center

    if args.config is None:
        raise ConfigError([("--config", "a center needs its site file (database.url on PostgreSQL)")])
    _settings(args)  # refuse a broken site file before starting anything
    return run_center(args.config, args.instances, args.port, Path(args.data))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcc", description="MCC monitoring-center console")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", type=Path, default=None, help="site file (YAML); MCC_* variables override it")
        return p

    p = sub.add_parser("demo", help="the whole product on one machine, with simulated devices")
    p.add_argument("--data", default="var", help="data folder (default ./var)")
    p.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
    p.add_argument("--rate", type=float, default=3.0, help="simulated events per second")
    p.set_defaults(func=cmd_demo)

    p = with_config(sub.add_parser("run", help="run the console (production)"))
    p.set_defaults(func=cmd_run)

    p = with_config(sub.add_parser("center", help="several instances of one site file on PostgreSQL behind "
                                                  "HAProxy, on this machine"))
    p.add_argument("--instances", type=int, default=2, help="console instances (default 2)")
    p.add_argument("--port", type=int, default=8000, help="HAProxy's web port (default 8000)")
    p.add_argument("--data", default="var/center", help="folder for the logs and haproxy.cfg")
    p.set_defaults(func=cmd_center)

    display = sub.add_parser("display", help="wall displays").add_subparsers(dest="display_command", required=True)
    p = with_config(display.add_parser("approve", help="sign in the wall showing CODE on its /pair page"))
    p.add_argument("code", help="the code the wall shows, e.g. K7QM-3XPA")
    p.add_argument("--user", default="wall", help="the display login it signs in as (default wall)")
    p.add_argument("--name", default="", help="the wall's name in the displays list")
    p.set_defaults(func=cmd_display_approve)

    p = with_config(sub.add_parser("health", help="exit 0 when the running console is ready (GET /api/health/ready)"))
    p.add_argument("--wait", type=float, default=0.0, help="keep asking for up to this many seconds")
    p.add_argument("--url", default=None, help="default: http://<http.host>:<http.port>/api/health/ready")
    p.set_defaults(func=cmd_health)

    p = with_config(sub.add_parser("check-config", help="validate a site file; print every error with its path"))
    p.add_argument("file", nargs="?", type=Path, default=None)
    p.set_defaults(func=cmd_check_config)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    p = with_config(user.add_parser("add", help="add a user"))
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["admin", "supervisor", "operator", "guard", "display"])
    p.add_argument("--display-name", default="")
    p.add_argument("--sites", default=None, help="the sites they work for, comma-separated (default: every site)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    p = with_config(audit.add_parser("verify", help="check the hash chain; exit 1 on tampering"))
    p.add_argument("--anchor", action="append", default=[], metavar="ID:HASH",
                   help="a head kept outside the store (a report's audit anchor, the time series' mcc_audit_head): "
                        "fail if row ID is gone or its hash differs; HASH may be its first 12+ hex digits; repeatable")
    p.set_defaults(func=cmd_audit_verify)

    db = sub.add_parser("db", help="the store").add_subparsers(dest="db_command", required=True)
    p = with_config(db.add_parser("upgrade", help="apply migrations"))
    p.set_defaults(func=cmd_db_upgrade)

    devices = sub.add_parser("devices", help="the device registry as CSV or YAML").add_subparsers(
        dest="devices_command", required=True)
    p = with_config(devices.add_parser("export", help="print the site's registry as CSV or YAML"))
    p.add_argument("--format", choices=["csv", "yaml"], default="csv")
    p.set_defaults(func=cmd_devices_export)
    p = devices.add_parser("import", help="check a CSV registry; print or write it as a devices file (YAML)")
    p.add_argument("file", type=Path)
    p.add_argument("--out", type=Path, default=None, help="write the YAML here (default: standard output)")
    p.set_defaults(func=cmd_devices_import)

    drill = sub.add_parser("drill", help="drills (演练)").add_subparsers(dest="drill_command", required=True)
    p = with_config(drill.add_parser("start", help="raise a drill alarm that runs its SOP for real"))
    p.add_argument("--device", required=True, help="a registered device id, e.g. fp-1")
    p.add_argument("--kind", default="fire.alarm", help="the alarm kind (default fire.alarm)")
    p.add_argument("--point", default="", help="the device's point, e.g. 1-003")
    p.add_argument("--note", default="", help="shown with the drill, e.g. 2026年第四季度消防演练")
    p.set_defaults(func=cmd_drill_start)

    add_broker_commands(sub, with_config)

    p = sub.add_parser("simulate", help="publish a simulated site over MQTT")
    p.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    p.add_argument("--site", required=True)
    p.add_argument("--rate", type=float, default=5.0, help="normal events per second (per site)")
    p.add_argument("--sites", type=int, default=1, help="simulate N sites, SITE-001 ... SITE-N (default 1: SITE)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=float, default=None, help="seconds (default: until interrupted)")
    p.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for where, message in exc.problems:
            print(f"config: {where}: {message}", file=sys.stderr)
        return 2
    except (AuthError, StoreError, ConsoleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
