"""The guard page opens without a network only if its service worker keeps every file the page
loads: each module guard.js imports (however deep, static or dynamic), its styles, its manifest
and icon, and the QR reader's WebAssembly. A module added to the page and not to the worker's list
would break the page in the basement, so this fails."""

from __future__ import annotations

import json
import re

from console.api.pages import PAGES
from tests.conftest import REPO

WEB = REPO / "web"
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+\.js)["']""")


def loaded_modules(entry: str) -> set[str]:
    seen: set[str] = set()
    todo = [WEB / entry]
    while todo:
        path = todo.pop()
        name = path.resolve().relative_to(WEB.resolve()).as_posix()
        if name in seen:
            continue
        seen.add(name)
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            todo.append((path.parent / target).resolve())
    return seen


def shell() -> set[str]:
    text = (WEB / "guard-sw.js").read_text(encoding="utf-8")
    listed = re.search(r"const SHELL = \[(.*?)\];", text, re.S)
    assert listed is not None
    return set(re.findall(r'"([^"]+)"', listed.group(1)))


def test_the_service_worker_keeps_every_file_the_guard_page_loads() -> None:
    page = PAGES["guard"]
    wanted = {f"/static/{name}" for name in loaded_modules(page.script)}
    wanted |= {f"/static/{css}" for css in ("common.css", *page.styles)}
    manifest = json.loads((WEB / str(page.manifest)).read_text(encoding="utf-8"))
    wanted |= {f"/static/{page.manifest}", *(icon["src"] for icon in manifest["icons"])}
    wanted |= {"/guard", "/static/vendor/zxing-wasm/reader/zxing_reader.wasm"}
    assert "/static/vendor/zxing-wasm/es/reader/index.js" in wanted, "the dynamic import of the reader is followed"
    assert sorted(wanted - shell()) == []
    for path in shell() - {"/guard"}:
        assert (WEB / path.removeprefix("/static/")).is_file(), path
