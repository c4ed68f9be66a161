"""Contract: the deploy files agree with the console (issue #6, item 5).

What can be checked without Docker, Grafana, InfluxDB or systemd: the Grafana dashboard's Flux
queries name only the measurements, fields and tags the console writes
(console/sinks/points.py), the provisioning files parse and fit the compose mounts, the
compose file parses and wires every service the console needs, the compose site file passes the
console's own settings loader with the environment compose gives it, the preflight script
refuses the example's placeholders, the systemd unit has its keys, and the Dockerfile installs
with constraints.txt."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from console.settings import load_settings
from console.sinks import points as timeseries_points

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mcc.json"
DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "mcc-influxdb.yaml"
PROVIDER = DEPLOY / "grafana" / "provisioning" / "dashboards" / "mcc.yaml"
UNIT = DEPLOY / "systemd" / "mcc.service"

SECRETS = ("POSTGRES_PASSWORD", "MQTT_CONSOLE_PASSWORD", "INFLUX_ADMIN_PASSWORD",
           "INFLUX_TOKEN", "GRAFANA_ADMIN_PASSWORD")
# Values a site might really use: long, URL-safe, no placeholder.
REAL_ENV = {
    "POSTGRES_USER": "mcc", "POSTGRES_PASSWORD": "3f1c0e9a7b2d4c6e8f0a1b2c3d4e5f60",
    "POSTGRES_DB": "mcc",
    "MQTT_CONSOLE_USER": "mcc-console", "MQTT_CONSOLE_PASSWORD": "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "INFLUX_ADMIN_USER": "admin", "INFLUX_ADMIN_PASSWORD": "aa11bb22cc33dd44ee55ff6677889900",
    "INFLUX_ORG": "property-co", "INFLUX_BUCKET": "mcc", "INFLUX_RETENTION": "104w",
    "INFLUX_TOKEN": "c0ffee00c0ffee11c0ffee22c0ffee33c0ffee44",
    "GRAFANA_ADMIN_USER": "admin", "GRAFANA_ADMIN_PASSWORD": "5e5e5e5e6f6f6f6f7a7a7a7a8b8b8b8b",
    "MCC_PUBLISH_ADDRESS": "127.0.0.1", "GRAFANA_PUBLISH_ADDRESS": "127.0.0.1",
    "MQTT_PUBLISH_ADDRESS": "0.0.0.0", "MCC_SECURE_COOKIE": "false",
}


# --------------------------------------------------------------------------- what the console writes

def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _schema() -> dict[str, dict[str, set[str]]]:
    """{measurement: {"tags": ..., "fields": ...}} from the module's docstring, which lists each
    measurement as ``- ``name`` — ...; tags ``a``, ``b``; ... fields ``x``, ``y``.``"""
    doc = timeseries_points.__doc__ or ""
    schema: dict[str, dict[str, set[str]]] = {}
    for bullet in re.split(r"\n- ", doc)[1:]:
        bullet = bullet.split("\n\n")[0]
        match = re.match(r"``(mcc_\w+)``", bullet)
        if not match:
            continue
        tags: set[str] = set()
        fields: set[str] = set()
        for segment in re.split(r";|\.\s+(?=[A-Z])", bullet[match.end():]):
            names = set(re.findall(r"``(\w+)``", segment))
            if segment.strip().startswith("tags"):
                tags |= names
            elif re.search(r"\bfields?\b", segment):
                fields |= names
                if ":data:`TELEMETRY`" in segment:
                    fields |= set(timeseries_points.TELEMETRY)
        if match.group(1) == "mcc_device":
            tags |= set(getattr(timeseries_points, "TELEMETRY_TAGS", ()))
        schema[match.group(1)] = {"tags": tags, "fields": fields}
    return schema


SCHEMA = _schema()


def test_the_measurements_are_read_from_the_console() -> None:
    assert set(SCHEMA) == {"mcc_device", "mcc_events", "mcc_alarms", "mcc_parking", "mcc_task"}
    for name, parts in SCHEMA.items():
        assert "site" in parts["tags"], name
        assert parts["fields"], name
    # The docstring is not stale: every name it gives is written by the sink's code.
    written = (_string_constants(ROOT / "console" / "sinks" / "points.py")
               | _string_constants(ROOT / "console" / "sinks" / "timeseries.py") | set(timeseries_points.TELEMETRY))
    for name, parts in SCHEMA.items():
        assert name in written
        assert parts["tags"] <= written, (name, parts["tags"] - written)
        assert parts["fields"] <= written, (name, parts["fields"] - written)
    # And what the pure helpers really produce fits it.
    point = timeseries_points.telemetry_point({"site": "s1", "device_id": "z1", "kind": "device.heartbeat",
                                               "point": "p", "adapter": "zigbee2mqtt",
                                               "ts": "2026-01-01T00:00:00+08:00",
                                               "data": {"battery": 80, "linkquality": 120}})
    assert point is not None and point["measurement"] == "mcc_device"
    assert set(point["tags"]) <= SCHEMA["mcc_device"]["tags"]
    assert set(point["fields"]) <= SCHEMA["mcc_device"]["fields"]
    from datetime import datetime, timezone

    parks = timeseries_points.parking_points(
        "s1", [{"car_park": "P1", "occupied": 3, "free": 7, "capacity": 10}], datetime.now(timezone.utc))
    assert parks[0]["measurement"] == "mcc_parking"
    assert set(parks[0]["tags"]) == SCHEMA["mcc_parking"]["tags"]
    assert set(parks[0]["fields"]) == SCHEMA["mcc_parking"]["fields"]


# --------------------------------------------------------------------------- Grafana

def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _queries(dashboard: dict) -> list[tuple[str, str]]:
    out = [(f"panel {p['title']!r}", t["query"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    out += [(f"variable {v['name']!r}", v["query"]) for v in dashboard["templating"]["list"]
            if v.get("type") == "query"]
    return out


def _names(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def test_the_dashboard_parses_and_targets_current_grafana() -> None:
    dashboard = _dashboard()
    assert 38 <= dashboard["schemaVersion"] <= 41  # Grafana 10.0 … 11.6
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for p in dashboard["panels"]:
        grid = p["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, p["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"bucket", "site", "device"} <= set(variables)
    assert variables["site"]["multi"] and variables["device"]["multi"]


def test_every_query_names_only_what_the_console_writes() -> None:
    dashboard = _dashboard()
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    used: set[tuple[str, str]] = set()
    for where, query in _queries(dashboard):
        for ref in re.findall(r"\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)", query):
            name = ref[0] or ref[1]
            assert name in defined, f"{where}: ${name} is not a dashboard variable"
        assert not re.search(r"_measurement\s*(=~|!=|!~)", query), f"{where}: name measurements with =="
        assert not re.search(r"_field\s*(=~|!=|!~)", query), f"{where}: name fields with =="
        measurements = set(re.findall(r'_measurement\s*==\s*"([^"]+)"', query))
        if "from(" in query or "tagValues(" in query:
            assert measurements, f"{where}: reads no named measurement"
            assert "range(" in query or "start:" in query, f"{where}: unbounded in time"
        if not measurements:  # the bucket list: buckets() only
            assert "buckets()" in query, where
            continue
        assert measurements <= set(SCHEMA), f"{where}: unknown measurement(s) {measurements - set(SCHEMA)}"
        tags = set().union(*(SCHEMA[m]["tags"] for m in measurements))
        fields = set().union(*(SCHEMA[m]["fields"] for m in measurements))
        for field in re.findall(r'_field\s*==\s*"([^"]+)"', query):
            assert field in fields, f"{where}: {measurements} has no field {field!r}"
            used |= {(m, field) for m in measurements if field in SCHEMA[m]["fields"]}
        for column in re.findall(r"\br\.([A-Za-z]\w*)", query):  # tags, and fields after a pivot
            assert column in tags | fields, f"{where}: r.{column} is neither a tag nor a field of {measurements}"
        grouped = [name for block in re.findall(r"(?:group\(columns|rowKey):\s*\[([^\]]*)\]", query)
                   for name in _names(block)]
        grouped += re.findall(r'\btag:\s*"([^"]+)"', query)
        for column in grouped:
            assert column.startswith("_") or column in tags, f"{where}: {column!r} is not a tag of {measurements}"
        if "from(" in query:
            assert 'from(bucket: "${bucket}")' in query, f"{where}: read the bucket variable"
    # What the issue asks the dashboard to show is there.
    for pair in [("mcc_events", "count"), ("mcc_alarms", "raised"), ("mcc_device", "battery"),
                 ("mcc_device", "rssi"), ("mcc_parking", "occupied"), ("mcc_task", "to_acknowledge_s"),
                 ("mcc_task", "to_arrive_s"), ("mcc_task", "to_close_s")]:
        assert pair in used, f"no panel shows {pair}"


def test_the_panels_show_what_the_issue_asks_for() -> None:
    dashboard = _dashboard()
    panels = {p["title"]: p["targets"][0]["query"] for p in dashboard["panels"]}

    def find(measurement: str, panel_type: str | None = None) -> list[str]:
        return [q for t, q in panels.items() if f'"{measurement}"' in q
                and (panel_type is None or next(p for p in dashboard["panels"] if p["title"] == t)["type"] == panel_type)]

    assert any('group(columns: ["kind"])' in q for q in find("mcc_events", "timeseries"))
    assert any('group(columns: ["kind", "severity"])' in q for q in find("mcc_alarms", "timeseries"))
    device = find("mcc_device")
    assert device and all("${device:regex}" in q and "${site:regex}" in q for q in device)
    kpi = find("mcc_task")
    assert kpi and all("quantile(q: 0.5" in q and "quantile(q: 0.9" in q and '"sop"' in q for q in kpi)
    assert find("mcc_parking")
    for title, query in panels.items():
        assert "${site:regex}" in query, f"{title}: not filtered by the site variable"


def test_the_datasource_and_provider_fit_the_dashboard_and_compose() -> None:
    provisioned = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))
    assert provisioned["apiVersion"] == 1
    (source,) = provisioned["datasources"]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "Flux"
    for value in (source["url"], source["jsonData"]["organization"], source["jsonData"]["defaultBucket"],
                  source["secureJsonData"]["token"]):
        assert re.fullmatch(r"\$\{?[A-Z_]+\}?", value), f"{value!r} must come from the environment"
    uids = {p["datasource"]["uid"] for p in _dashboard()["panels"]}
    uids |= {v["datasource"]["uid"] for v in _dashboard()["templating"]["list"] if "datasource" in v}
    assert uids == {source["uid"]}

    provider = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    grafana = _compose()["services"]["grafana"]
    mounts = _bind_mounts(grafana)
    assert mounts.get(entry["options"]["path"]) == DASHBOARD.parent
    assert mounts.get("/etc/grafana/provisioning/datasources") == DATASOURCE.parent
    assert mounts.get("/etc/grafana/provisioning/dashboards") == PROVIDER.parent
    needed = {re.sub(r"[${}]", "", v) for v in (source["url"], source["jsonData"]["organization"],
                                                 source["jsonData"]["defaultBucket"],
                                                 source["secureJsonData"]["token"])}
    assert needed <= set(grafana["environment"]), needed - set(grafana["environment"])


# --------------------------------------------------------------------------- compose

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation: $$, ${X}, ${X:-default}, ${X-default}, ${X:?error}."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            if not value:
                raise KeyError(f"{name}: {arg}")
            return value
        return value or ""

    return _VAR.sub(substitute, text)


def _env_example() -> dict[str, str]:
    env = {}
    for line in (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _compose(env: dict[str, str] | None = None) -> dict:
    return yaml.safe_load(_interpolate((COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8"),
                                       REAL_ENV if env is None else env))


def _bind_mounts(service: dict) -> dict[str, Path]:
    """{container path: host path} of a service's bind mounts (short syntax)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out[target] = (COMPOSE_DIR / source).resolve()
    return out


def test_compose_has_every_service_the_console_needs() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"mosquitto", "influxdb", "postgres", "grafana", "console", "preflight"} <= set(services)
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["influxdb"]["image"].startswith("influxdb:2")
    assert re.fullmatch(r"postgres:1[56](\..*)?", services["postgres"]["image"])
    assert services["grafana"]["image"].startswith("grafana/grafana")
    console = services["console"]
    assert (COMPOSE_DIR / console["build"]["context"]).resolve() == ROOT
    assert (ROOT / console["build"]["dockerfile"]).is_file()
    assert {"mosquitto", "postgres", "influxdb", "preflight"} <= set(console["depends_on"])
    for name, service in services.items():
        if name != "preflight" and not service.get("profiles"):
            assert service["depends_on"]["preflight"]["condition"] == "service_completed_successfully", name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for source in service.get("volumes", []):
            host = source.split(":")[0]
            if host.startswith("./broker/"):  # written on the site's host by mcc broker certs; preflight checks it
                assert host == "./broker/ca.crt" and "BROKER_FILES" in services["preflight"]["environment"], host
            elif host.startswith("."):
                assert (COMPOSE_DIR / host).exists(), f"{name}: {host} does not exist"
            else:
                assert host in compose["volumes"], f"{name}: volume {host} is not declared"
    # Mosquitto runs MCC's broker settings: TLS on the container's interfaces, plaintext on its
    # loopback only, every client logged in and held to the ACL that `mcc broker files` writes.
    mosquitto_mounts = _bind_mounts(services["mosquitto"])
    conf_d = [target for target, source in mosquitto_mounts.items() if source == DEPLOY / "mosquitto" / "mcc.conf"]
    assert conf_d, "deploy/mosquitto/mcc.conf is not mounted"
    main_conf = (COMPOSE_DIR / "mosquitto.conf").read_text(encoding="utf-8")
    directives = [line.split() for line in main_conf.splitlines() if line.strip() and not line.startswith("#")]
    listeners = [d[1:] for d in directives if d[0] == "listener"]
    assert ["1883", "127.0.0.1"] in listeners and ["8883", "0.0.0.0"] in listeners, listeners
    assert all(len(listener) == 2 and (listener[0] == "8883" or listener[1] == "127.0.0.1") for listener in listeners)
    assert {"cafile", "certfile", "keyfile", "password_file", "acl_file"} <= {d[0] for d in directives}
    assert ["allow_anonymous", "false"] in directives
    include = [d[1] for d in directives if d[0] == "include_dir"]
    assert include and str(Path(conf_d[0]).parent) == include[0].rstrip("/")
    assert mosquitto_mounts["/mosquitto/broker"] == COMPOSE_DIR / "broker"
    assert [port.rsplit(":", 1)[-1] for port in services["mosquitto"]["ports"]] == ["8883"]
    assert "simulator" not in services, "a simulated site is not a registered one: mcc demo is the trial"
    mcc_conf = (DEPLOY / "mosquitto" / "mcc.conf").read_text(encoding="utf-8")
    assert re.search(r"^allow_anonymous false", mcc_conf, re.M)
    assert not re.search(r"^listener\s+\d+\s+127\.", mcc_conf, re.M), "mcc.conf binds the loopback only"
    # InfluxDB sets itself up from .env.
    influx = services["influxdb"]["environment"]
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == REAL_ENV["INFLUX_TOKEN"]
    assert influx["DOCKER_INFLUXDB_INIT_ORG"] == REAL_ENV["INFLUX_ORG"]
    assert influx["DOCKER_INFLUXDB_INIT_BUCKET"] == REAL_ENV["INFLUX_BUCKET"]


def test_compose_refuses_to_run_without_the_secrets() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert set(SECRETS) <= required
    with pytest.raises(KeyError):
        _compose({})
    # .env.example names every variable compose reads, and nothing else.
    # ($$NAME is the container's own variable, not compose's.)
    referenced = {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}
    assert referenced <= set(_env_example()), referenced - set(_env_example())
    assert set(_env_example()) <= referenced | {"COMPOSE_PROJECT_NAME"}, set(_env_example()) - referenced


def test_the_example_env_holds_only_placeholders() -> None:
    example = _env_example()
    for name in SECRETS:
        assert "change-me" in example[name], f"{name} in .env.example must be an obvious placeholder"
    assert not (COMPOSE_DIR / ".env").exists() or "change-me" not in (COMPOSE_DIR / ".env").read_text()
    git_ignored = (ROOT / ".gitignore").read_text().splitlines() + (COMPOSE_DIR / ".gitignore").read_text().splitlines()
    assert ".env" in git_ignored or "deploy/compose/.env" in git_ignored
    assert "**/.env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_preflight_refuses_the_placeholders_and_accepts_real_secrets() -> None:
    script = COMPOSE_DIR / "preflight.sh"
    clean = {"PATH": "/usr/bin:/bin"}
    refused = subprocess.run(["sh", str(script)], env={**clean, **_env_example()}, capture_output=True,
                             text=True, timeout=30)
    assert refused.returncode != 0
    for name in SECRETS:
        assert f"{name} still holds the placeholder" in refused.stderr
    accepted = subprocess.run(["sh", str(script)], env={**clean, **REAL_ENV}, capture_output=True,
                              text=True, timeout=30)
    assert accepted.returncode == 0, accepted.stderr
    for bad in ("short", "has spaces and @ signs in it!!", ""):
        result = subprocess.run(["sh", str(script)], env={**clean, **REAL_ENV, "POSTGRES_PASSWORD": bad},
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and "POSTGRES_PASSWORD" in result.stderr, bad
    # Every secret preflight checks is one compose gives it.
    preflight_env = set(_compose()["services"]["preflight"]["environment"])
    assert set(SECRETS) <= preflight_env


def test_preflight_refuses_to_start_without_the_broker_files(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **REAL_ENV, "BROKER_FILES": str(tmp_path)}
    script = str(COMPOSE_DIR / "preflight.sh")
    refused = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "broker/passwd is missing" in refused.stderr
    for name in ("passwd", "acl", "ca.crt", "server.crt", "server.key"):
        (tmp_path / name).write_text("x")
    accepted = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=30)
    assert accepted.returncode == 0, accepted.stderr


def test_the_compose_site_file_loads_with_the_compose_environment() -> None:
    raw = yaml.safe_load((COMPOSE_DIR / "site.yaml").read_text(encoding="utf-8"))
    assert "token" not in raw["influx"], "the token comes from MCC_INFLUX__TOKEN, never the file"
    for url in (raw["mqtt"]["url"], raw["database"]["url"]):
        assert urlsplit(url).password is None, f"{url}: no password in the site file"

    console = _compose()["services"]["console"]
    env = {key: str(value) for key, value in console["environment"].items()}
    assert set(env) >= {"MCC_MQTT__URL", "MCC_DATABASE__URL", "MCC_INFLUX__TOKEN"}
    assert _bind_mounts(console)["/etc/mcc/site.yaml"] == COMPOSE_DIR / "site.yaml"
    settings = load_settings(COMPOSE_DIR / "site.yaml", env=env)
    mqtt = urlsplit(settings.mqtt.url)
    assert (mqtt.hostname, mqtt.port, mqtt.username, mqtt.password) == (
        "mosquitto", 8883, REAL_ENV["MQTT_CONSOLE_USER"], REAL_ENV["MQTT_CONSOLE_PASSWORD"])
    assert settings.mqtt.url.startswith("mqtts://") and settings.devices.unknown == "quarantine"
    assert settings.mqtt.ca_file is not None and _bind_mounts(console)[str(settings.mqtt.ca_file)] == (
        COMPOSE_DIR / "broker" / "ca.crt")
    database = urlsplit(settings.database.url)
    assert settings.database.url.startswith("postgresql+psycopg://")
    assert (database.hostname, database.password) == ("postgres", REAL_ENV["POSTGRES_PASSWORD"])
    assert urlsplit(settings.influx.url).hostname == "influxdb"
    assert settings.influx.token.get_secret_value() == REAL_ENV["INFLUX_TOKEN"]
    assert (settings.influx.org, settings.influx.bucket) == (REAL_ENV["INFLUX_ORG"], REAL_ENV["INFLUX_BUCKET"])
    assert settings.http.host == "0.0.0.0"
    port = settings.http.port
    assert any(str(p).endswith(f":{port}") for p in console["ports"])
    assert settings.evidence.dir is not None and str(settings.evidence.dir).startswith("/var/lib/mcc")
    assert any(v.endswith(":/var/lib/mcc") for v in console["volumes"])
    # The site file alone (no environment) also loads: nothing in it depends on a secret.
    load_settings(COMPOSE_DIR / "site.yaml", env={})


# --------------------------------------------------------------------------- systemd

def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's INI dialect: repeated keys are lists."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, line
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_systemd_unit_is_hardened_and_runs_the_console() -> None:
    unit = _unit(UNIT)
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["User"] == "mcc"
    assert service["WorkingDirectory"].startswith("/")
    assert service["EnvironmentFile"] == "/etc/mcc/mcc.env"
    command = service["ExecStart"].split()
    assert command[0].startswith("/") and command[0].endswith("/.venv/bin/mcc")
    assert command[1:] == ["run", "--config", "/etc/mcc/site.yaml"]
    ready = service["ExecStartPost"].split()  # started means ready, not only forked
    assert ready[0] == command[0] and ready[1:4] == ["health", "--config", "/etc/mcc/site.yaml"] and "--wait" in ready
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/mcc" in service["ReadWritePaths"].split()
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality"):
        assert service[key] == "yes", key
    assert service["CapabilityBoundingSet"] == ""
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]


# --------------------------------------------------------------------------- Dockerfile

def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_the_dockerfile_installs_with_the_constraints_and_runs_unprivileged() -> None:
    steps = _dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    copied = [rest.split()[:-1] for instruction, rest in steps if instruction == "COPY"]
    sources = {source for group in copied for source in group}
    assert "constraints.txt" in sources and "pyproject.toml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
    # What the console finds beside its package at run time (console/*.py: parents[1] / ...).
    for needed in ("console", "adapters", "web", "sops", "deploy/demo"):
        assert needed in sources, needed
    installs = [rest for instruction, rest in steps if instruction == "RUN" and "pip install" in rest]
    assert installs and all(re.search(r"(-c|--constraint)\s+constraints\.txt", rest) for rest in installs)
    users = [rest for instruction, rest in steps if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    (healthcheck,) = [rest for instruction, rest in steps if instruction == "HEALTHCHECK"]
    assert json.loads(healthcheck.split("CMD", 1)[1]) == ["mcc", "health", "--config", "/etc/mcc/site.yaml"]
    (cmd,) = [rest for instruction, rest in steps if instruction == "CMD"]
    assert json.loads(cmd) == ["mcc", "run", "--config", "/etc/mcc/site.yaml"]
    assert not [rest for instruction, rest in steps if instruction == "ENTRYPOINT"]
    # The build context leaves local state and secrets out, and keeps what the COPY lines need.
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for pattern in (".git", ".venv", "var", "**/.env", "tests"):
        assert pattern in ignored, pattern
    for source in sources:
        top = source.split("/")[0]
        assert top not in ignored or f"!{source}" in ignored, f"{source} is excluded from the build context"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """systemd-analyze verify (offline) with ExecStart pointed at this checkout's mcc, which exists."""
    import sys

    mcc = Path(sys.executable).parent / "mcc"
    if not mcc.exists():
        pytest.skip("no mcc script beside this interpreter")
    unit = tmp_path / "mcc.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/mcc/.venv/bin/mcc", str(mcc)), encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "mcc.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
