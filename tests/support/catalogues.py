"""The pages' message catalogues (web/messages-*.js) as the contract tests read them: each
language's block of ``"key": "text",`` lines."""

from __future__ import annotations

import re

from tests.conftest import REPO


def entries(file: str, pattern: str) -> dict[str, list[tuple[str, ...]]]:
    """For zh and en: every match of ``pattern`` (a regex over one line of the block) in ``file``."""
    text = (REPO / "web" / file).read_text(encoding="utf-8")
    out: dict[str, list[tuple[str, ...]]] = {}
    for lang in ("zh", "en"):
        block = text[text.index(f"  {lang}: {{"):]
        block = block[:block.index("\n  },")]
        out[lang] = [m if isinstance(m, tuple) else (m,) for m in re.findall(pattern, block, re.M)]
    return out
