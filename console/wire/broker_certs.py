"""A private certificate authority and the broker's server certificate for MQTT over TLS, made with
the ``openssl`` command (the console has no X.509 library among its dependencies, and Debian and
the Mosquitto image ship openssl). The CA is made once and kept, so devices that trust it keep
trusting the broker when its certificate is issued again (new host names, expiry)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from console.errors import ConsoleError

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest that Apple and browsers accept; devices rarely care, people do


@dataclass(frozen=True)
class BrokerCerts:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    ca_created: bool


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise ConsoleError("openssl is not installed (Debian/Ubuntu: apt-get install openssl)")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ConsoleError(f"openssl {args[0]} failed: {result.stderr.strip()[-500:]}")


def subject_alt_names(hosts: list[str]) -> str:
    """``DNS:broker.example,IP:10.0.0.5``: an address is an IP entry, anything else a DNS name."""
    names = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def make_broker_certs(folder: Path, hosts: list[str], ca_name: str = "MCC broker CA") -> BrokerCerts:
    """Issue ``server.crt``/``server.key`` for ``hosts`` from ``ca.crt``/``ca.key`` in ``folder``,
    making the CA first if there is none. Keys are RSA 2048 (the gateways' TLS stacks all take it)
    and mode 0600."""
    if not hosts:
        raise ConsoleError("name at least one host name or address for the broker's certificate")
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = folder / "ca.crt", folder / "ca.key"
    server_cert, server_key = folder / "server.crt", folder / "server.key"
    ca_created = not (ca_cert.exists() and ca_key.exists())
    old_umask = os.umask(0o077)  # keys are created 0600, never readable for a moment
    try:
        if ca_created:
            _openssl("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-sha256", "-days", str(CA_DAYS),
                     "-keyout", str(ca_key), "-out", str(ca_cert), "-subj", f"/CN={ca_name}",
                     "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with tempfile.TemporaryDirectory() as scratch:
            csr, extensions = Path(scratch) / "server.csr", Path(scratch) / "server.ext"
            extensions.write_text(
                f"subjectAltName={subject_alt_names(hosts)}\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
            _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(server_key), "-out", str(csr),
                     "-subj", f"/CN={hosts[0]}")
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                     "-CAcreateserial", "-CAserial", str(Path(scratch) / "ca.srl"), "-sha256",
                     "-days", str(SERVER_DAYS), "-extfile", str(extensions), "-out", str(server_cert))
    finally:
        os.umask(old_umask)
    ca_cert.chmod(0o644)
    server_cert.chmod(0o644)
    return BrokerCerts(ca_cert, server_cert, server_key, ca_created)
