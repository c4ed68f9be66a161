"""Where the files the console serves and reads live: the pages (web/), the procedures (sops/) and
the demo site (deploy/demo/). An installed wheel carries them as package data in console/_data/
(setup.py copies them there when the wheel is built); a source checkout has them at the top of the
repository, where the _data folder does not exist."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource(name: str) -> Path:
    """The folder or file ``name`` (as it is named in the repository, e.g. ``deploy/demo``)."""
    bundled = PACKAGE / "_data" / name
    return bundled if bundled.exists() else PACKAGE.parent / name


WEB = resource("web")
SOPS = resource("sops")
DEMO_SITE = resource("deploy/demo") / "site.yaml"
DEMO_DEVICES = resource("deploy/demo") / "devices.yaml"
