"""The wheel's package data beyond the Python modules: the pages (web/), the procedures (sops/) and
the demo site (deploy/demo/) are copied into console/_data/ when the wheel is built, so that an
installed MCC serves its pages and runs `mcc demo` wherever it is (console/resources.py finds them).
The project's metadata is in pyproject.toml; this file only adds that step."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("web", "sops", "deploy/demo")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "console" / "_data"
        shutil.rmtree(target, ignore_errors=True)  # no file of an earlier build lingers
        for name in DATA:
            shutil.copytree(root / name, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
