"""Contract: the center's deploy files (deploy/center: issue 16, "Deploy files for it") agree with
the console, with each other and with HAProxy.

Without a Docker engine: the compose file is parsed with compose's interpolation and checked for
every service, its environment (two instances of one site file, distinct fixed names, one
database), restart policies, health checks and published ports; the site file passes
`mcc check-config` in-process with each instance's environment; the real `haproxy -c` accepts
haproxy.cfg (the servers' compose names do not resolve here, which the config must survive, as it
must while an instance's container is away); haproxy.cfg balances exactly what compose runs and
keeps everything `mcc center` writes for one machine; the preflight refuses the placeholders."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from console.__main__ import main
from console.demo.center import render_haproxy
from console.settings import load_settings
from tests.contract.test_deploy_files import _VAR, _interpolate

ROOT = Path(__file__).resolve().parents[2]
CENTER = ROOT / "deploy" / "center"
INSTANCES = ("console-1", "console-2")
SECRETS = ("POSTGRES_PASSWORD", "MQTT_CONSOLE_PASSWORD")
REAL_ENV = {
    "POSTGRES_USER": "mcc", "POSTGRES_PASSWORD": "3f1c0e9a7b2d4c6e8f0a1b2c3d4e5f60", "POSTGRES_DB": "mcc",
    "MQTT_CONSOLE_USER": "mcc-console", "MQTT_CONSOLE_PASSWORD": "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "MCC_PUBLISH_ADDRESS": "127.0.0.1", "MQTT_PUBLISH_ADDRESS": "0.0.0.0", "GB_PUBLISH_ADDRESS": "0.0.0.0",
    "MCC_SECURE_COOKIE": "false",
}
HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"  # where the official image reads it


def _env_example() -> dict[str, str]:
    env = {}
    for line in (CENTER / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _compose(env: dict[str, str] | None = None) -> dict:
    return yaml.safe_load(_interpolate((CENTER / "compose.yaml").read_text(encoding="utf-8"),
                                       REAL_ENV if env is None else env))


def _mounts(service: dict) -> dict[str, str]:
    """{container path: host path or volume name} (short syntax)."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}


def _published(service: dict) -> dict[int, str]:
    """{container port: host address} of a service's published ports ("ADDRESS:HOST:CONTAINER")."""
    out = {}
    for port in service.get("ports", []):
        address, host, container = str(port).split(":")
        assert host == container, port
        out[int(container)] = address
    return out


def _instance_env(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in _compose()["services"][name]["environment"].items()}


def _settings(name: str):
    return load_settings(CENTER / "site.yaml", env=_instance_env(name))


def _gb_ports() -> list[int]:
    raw = yaml.safe_load((CENTER / "site.yaml").read_text(encoding="utf-8"))
    return [int(entry["listen"].rpartition(":")[2]) for entry in raw["adapters"] if entry["type"] == "gb26875"]


# --------------------------------------------------------------------------- compose

def test_the_center_runs_two_instances_of_one_site_file_on_one_database() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"preflight", "postgres", "mosquitto", *INSTANCES, "haproxy"}
    assert re.fullmatch(r"postgres:1[56](\..*)?", services["postgres"]["image"])
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["haproxy"]["image"].split(":")[0] == "haproxy"  # the official image

    consoles = [services[name] for name in INSTANCES]
    envs = [_instance_env(name) for name in INSTANCES]
    for name, console, env in zip(INSTANCES, consoles, envs):
        assert (CENTER / console["build"]["context"]).resolve() == ROOT
        assert (ROOT / console["build"]["dockerfile"]).is_file()
        assert env["MCC_CLUSTER__ENABLED"] == "true", name
        assert env["MCC_CLUSTER__INSTANCE"] == name, "a fixed name: its MQTT session outlives a restart"
        assert {"preflight", "mosquitto", "postgres"} <= set(console["depends_on"]), name
        assert console["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert console["healthcheck"]["test"] == ["CMD", "mcc", "health", "--config", "/etc/mcc/site.yaml"]
        assert not console.get("ports"), f"{name} is reached through HAProxy only"
    # The same image, site file and shared data; only the instance differs.
    assert consoles[0]["image"] == consoles[1]["image"] and consoles[0]["build"] == consoles[1]["build"]
    assert _mounts(consoles[0]) == _mounts(consoles[1])
    assert _mounts(consoles[0])["/etc/mcc/site.yaml"] == "./site.yaml"
    assert _mounts(consoles[0])["/var/lib/mcc"] in compose["volumes"], "photos on a volume both instances share"
    assert {k: v for k, v in envs[0].items() if k != "MCC_CLUSTER__INSTANCE"} == \
           {k: v for k, v in envs[1].items() if k != "MCC_CLUSTER__INSTANCE"}
    assert len({env["MCC_CLUSTER__INSTANCE"] for env in envs}) == len(INSTANCES)
    database = urlsplit(envs[0]["MCC_DATABASE__URL"])
    assert (database.hostname, database.path, database.password) == (
        "postgres", f"/{REAL_ENV['POSTGRES_DB']}", REAL_ENV["POSTGRES_PASSWORD"])
    assert services["postgres"]["environment"]["POSTGRES_DB"] == REAL_ENV["POSTGRES_DB"]

    for name, service in services.items():
        if name == "preflight":
            assert service["restart"] == "no"
            continue
        # A shared-subscription member that stays down strands its share of the messages.
        assert service["restart"] in ("unless-stopped", "always"), name
        assert service["depends_on"]["preflight"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for target, source in _mounts(service).items():
            if source.startswith("./broker"):  # written by mcc broker certs/files; preflight checks it
                assert "BROKER_FILES" in services["preflight"]["environment"], source
            elif source.startswith("."):
                assert (CENTER / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"


def test_the_center_publishes_haproxy_and_the_broker_only() -> None:
    services = _compose()["services"]
    haproxy = services["haproxy"]
    assert _mounts(haproxy)[HAPROXY_CONFIG_PATH] == "./haproxy.cfg"
    settings = _settings("console-1")
    published = _published(haproxy)
    assert published[settings.http.port] == REAL_ENV["MCC_PUBLISH_ADDRESS"], "the web port stays on the loopback"
    gb_ports = _gb_ports()
    assert gb_ports, "site.yaml has a GB/T 26875.3 receiver"
    for port in gb_ports:
        assert published[port] == REAL_ENV["GB_PUBLISH_ADDRESS"], port
    assert set(published) == {settings.http.port, *gb_ports}
    assert list(_published(services["mosquitto"])) == [8883], "sites bridge in over TLS"
    assert not services["postgres"].get("ports")
    # The broker keeps deploy/compose's listeners (TLS 8883, plaintext on the loopback) and MCC's settings.
    mosquitto = _mounts(services["mosquitto"])
    assert (CENTER / mosquitto["/mosquitto/config/mosquitto.conf"]).resolve() == ROOT / "deploy/compose/mosquitto.conf"
    assert (CENTER / mosquitto["/mosquitto/config/conf.d/mcc.conf"]).resolve() == ROOT / "deploy/mosquitto/mcc.conf"
    # HAProxy's health check asks its status frontend, which fails when no instance is ready.
    assert haproxy["healthcheck"]["test"][:2] == ["CMD", "wget"]
    assert "http://127.0.0.1:8404/healthz" in haproxy["healthcheck"]["test"]


def test_the_consoles_believe_the_forwarded_addresses_of_haproxy_alone() -> None:
    compose = _compose()
    address = compose["services"]["haproxy"]["networks"]["default"]["ipv4_address"]
    (subnet,) = [ipaddress.ip_network(c["subnet"]) for c in compose["networks"]["default"]["ipam"]["config"]]
    assert ipaddress.ip_address(address) in subnet
    for name in INSTANCES:
        assert _settings(name).http.trusted_proxies == [address], name


def test_the_center_compose_refuses_to_run_without_the_secrets() -> None:
    text = (CENTER / "compose.yaml").read_text(encoding="utf-8")
    assert set(SECRETS) <= set(re.findall(r"\$\{(\w+):\?", text))
    with pytest.raises(KeyError):
        _compose({})
    referenced = {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}
    example = _env_example()
    assert referenced == set(example), referenced ^ set(example)
    for name in SECRETS:
        assert "change-me" in example[name], f"{name} in .env.example must be an obvious placeholder"
    assert ".env" in (CENTER / ".gitignore").read_text().splitlines()
    assert not (CENTER / ".env").exists() or "change-me" not in (CENTER / ".env").read_text()
    assert (CENTER / "broker" / ".gitignore").read_text().splitlines()[-3:] == ["*", "!.gitignore", "!README.md"]


def test_the_center_preflight_refuses_the_placeholders_and_accepts_real_secrets(tmp_path: Path) -> None:
    preflight = _compose()["services"]["preflight"]
    script = CENTER / _mounts(preflight)["/preflight.sh"]
    given = {key: str(value) for key, value in preflight["environment"].items()}
    names = given["PREFLIGHT_NAMES"].split()
    assert set(SECRETS) <= set(names) and set(names) <= set(given), "preflight checks what compose gives it"
    clean = {"PATH": "/usr/bin:/bin", "PREFLIGHT_NAMES": given["PREFLIGHT_NAMES"],
             "PREFLIGHT_ENV_FILE": given["PREFLIGHT_ENV_FILE"]}
    assert (ROOT / given["PREFLIGHT_ENV_FILE"]).parent == CENTER

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(script)], env={**clean, **env}, capture_output=True, text=True, timeout=30)

    refused = run(_env_example())
    assert refused.returncode != 0
    for name in SECRETS:
        assert f"{name} still holds the placeholder" in refused.stderr
    assert "edit deploy/center/.env" in refused.stderr
    assert "INFLUX" not in refused.stderr, "the center has no InfluxDB secrets to ask for"
    accepted = run(REAL_ENV)
    assert accepted.returncode == 0, accepted.stderr
    for bad in ("short", "has spaces and @ signs in it!!", ""):
        result = run({**REAL_ENV, "MQTT_CONSOLE_PASSWORD": bad})
        assert result.returncode != 0 and "MQTT_CONSOLE_PASSWORD" in result.stderr, bad
    # Without the broker's files (mcc broker certs / files) nothing starts either.
    missing = run({**REAL_ENV, "BROKER_FILES": str(tmp_path)})
    assert missing.returncode != 0 and "broker/passwd is missing" in missing.stderr


# --------------------------------------------------------------------------- the site file

def test_the_center_site_file_passes_check_config_for_each_instance(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load((CENTER / "site.yaml").read_text(encoding="utf-8"))
    for url in (raw["mqtt"]["url"], raw["database"]["url"]):
        assert urlsplit(url).password is None, f"{url}: no password in the site file"
    # The file says so too, not only the environment compose gives it.
    assert raw["cluster"]["enabled"] is True and "instance" not in raw["cluster"]
    assert raw["mqtt"]["url"].startswith("mqtts://") and raw["database"]["url"].startswith("postgresql")
    for name in INSTANCES:
        for key, value in _instance_env(name).items():
            monkeypatch.setenv(key, value)
        assert main(["check-config", str(CENTER / "site.yaml")]) == 0, name
        out, err = capsys.readouterr()
        assert "OK (site center" in out and not err, err  # no warning (a plaintext broker, ...)

    first, second = (_settings(name) for name in INSTANCES)
    for settings, name in ((first, "console-1"), (second, "console-2")):
        assert settings.cluster.enabled and settings.cluster.instance == name
        mqtt = urlsplit(settings.mqtt.url)
        assert settings.mqtt.url.startswith("mqtts://")
        assert (mqtt.hostname, mqtt.port, mqtt.username, mqtt.password) == (
            "mosquitto", 8883, REAL_ENV["MQTT_CONSOLE_USER"], REAL_ENV["MQTT_CONSOLE_PASSWORD"])
        assert settings.mqtt.ca_file is not None
        mounts = _mounts(_compose()["services"][name])
        assert mounts[str(settings.mqtt.ca_file)] == "./broker/ca.crt"
        assert settings.database.url.startswith("postgresql+psycopg://")
        assert settings.devices.unknown == "quarantine"
        assert settings.http.host == "0.0.0.0"
        assert settings.evidence.dir is not None and str(settings.evidence.dir).startswith("/var/lib/mcc/")
    assert first.database.url == second.database.url
    assert (first.client_id, second.client_id) == ("mcc-console-center-console-1", "mcc-console-center-console-2")
    # The site file alone also loads: nothing in it depends on a secret (cluster needs PostgreSQL).
    load_settings(CENTER / "site.yaml", env={"MCC_CLUSTER__INSTANCE": "console-1"})


# --------------------------------------------------------------------------- HAProxy

def _haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        pytest.fail("haproxy is not installed: bash scripts/setup.sh --test (apt-get install haproxy)")
    return found


def _sections(text: str) -> dict[str, list[str]]:
    """HAProxy's sections ("backend consoles") → their directives, comments and blank lines dropped,
    whitespace collapsed."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        body = " ".join(line.split("#", 1)[0].split())
        if not body:
            continue
        if not line[0].isspace():
            current = sections.setdefault(body, [])
        else:
            assert current is not None, line
            current.append(body)
    return sections


def _config() -> dict[str, list[str]]:
    return _sections((CENTER / "haproxy.cfg").read_text(encoding="utf-8"))


def _backend_of(config: dict[str, list[str]], frontend: str) -> list[str]:
    (default,) = [d.split()[1] for d in config[f"frontend {frontend}"] if d.startswith("default_backend ")]
    return config[f"backend {default}"]


def test_haproxy_accepts_the_center_config() -> None:
    """The real haproxy -c. The servers' names resolve only inside compose: with init-addr ending in
    none, HAProxy starts anyway and keeps them down until Docker's DNS answers; that is the only
    warning allowed, and there must be no alert."""
    result = subprocess.run([_haproxy(), "-c", "-f", str(CENTER / "haproxy.cfg")],
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    assert "[ALERT]" not in output, output
    for line in output.splitlines():
        if "[WARNING]" in line:
            assert re.search(r"could not resolve address '(console-\d+)'", line), line
            assert re.search(r"could not resolve address '(console-\d+)'", line)[1] in INSTANCES, line


def test_haproxy_balances_what_compose_runs() -> None:
    config = _config()
    compose = _compose()
    settings = _settings("console-1")
    published = _published(compose["services"]["haproxy"])
    defaults = config["defaults"]
    assert "option redispatch" in defaults
    assert any(d.startswith("timeout tunnel ") for d in defaults), "long-lived sockets"
    assert any(d.startswith("nameserver ") and d.endswith("127.0.0.11:53") for d in config["resolvers docker"])

    def check_backend(backend: list[str], port: int, mode: str) -> None:
        servers = [d.split() for d in backend if d.startswith("server ")]
        assert [s[1] for s in servers] == list(INSTANCES), "a server per console service, named after it"
        for server in servers:
            assert server[2] == f"{server[1]}:{port}", server
            assert "check" in server[3:], server
            if mode == "tcp":  # the link is checked by the instance's readiness on its web port
                assert server[server.index("port") + 1] == str(settings.http.port), server
        (default_server,) = [d.split() for d in backend if d.startswith("default-server ")]
        assert default_server[default_server.index("on-marked-down") + 1] == "shutdown-sessions"
        assert default_server[default_server.index("resolvers") + 1] == "docker", "new addresses after a restart"
        assert default_server[default_server.index("init-addr") + 1].split(",")[-1] == "none"
        assert "option httpchk GET /api/health/ready" in backend
        assert "http-check expect status 200" in backend

    web = _backend_of(config, "web")
    assert f"bind :{settings.http.port}" in config["frontend web"] and settings.http.port in published
    assert "option forwardfor" in config["frontend web"]
    check_backend(web, settings.http.port, "http")
    # Each instance can be asked by name (deploy/README.md: watching each one's cluster duties).
    for name in INSTANCES:
        assert f"use-server {name} if {{ req.hdr(x-mcc-instance) -m str {name} }}" in web, name

    gb_frontends = [name.split()[1] for name, body in config.items()
                    if name.startswith("frontend ") and "mode tcp" in body]
    bound = {}
    for frontend in gb_frontends:
        (bind,) = [d for d in config[f"frontend {frontend}"] if d.startswith("bind ")]
        port = int(bind.rpartition(":")[2])
        bound[port] = frontend
        backend = _backend_of(config, frontend)
        assert "mode tcp" in backend and "balance leastconn" in backend
        check_backend(backend, port, "tcp")
    assert sorted(bound) == sorted(_gb_ports()), "a TCP frontend per gb26875 listen port, and no other"
    # The status frontend stays inside the container.
    assert "bind 127.0.0.1:8404" in config["frontend status"]
    assert 8404 not in published


def test_haproxy_keeps_what_mcc_center_writes() -> None:
    """Everything `mcc center` (console/demo/center.py) puts in its haproxy.cfg is in the center's,
    but for addresses (bind, server) and the default-server options this file adds to."""
    ours = _config()
    rendered = _sections(render_haproxy(8000, {name: 8000 for name in INSTANCES}))
    for section, directives in rendered.items():
        assert section in ours, section
        for directive in directives:
            if directive.startswith(("bind ", "server ")):
                continue
            if directive.startswith("default-server "):
                (mine,) = [d for d in ours[section] if d.startswith("default-server ")]
                assert directive in mine, (section, directive)  # the same options, then more
                continue
            assert directive in ours[section], (section, directive)
