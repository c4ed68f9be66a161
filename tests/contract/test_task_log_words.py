"""Every entry the console writes into a task's log is worded in both languages: each action, each
way a step can be done without a person ("by"), and each deadline effect has its words in
web/messages-tasks.js, so the console never shows a raw word such as `correlated`."""

from __future__ import annotations

import ast
import typing

from console.tasks.dispatch import GUARD_ACTIONS
from console.tasks.machine import Effect
from tests.conftest import REPO
from tests.support.catalogues import entries


def written_log_entries() -> tuple[dict[str, str], dict[str, str]]:
    """(action → where it is written, by → where it is written), read from console/'s source."""
    actions: dict[str, str] = {}
    bys: dict[str, str] = {}
    for path in sorted((REPO / "console").rglob("*.py")):
        where = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else (
                    node.func.id if isinstance(node.func, ast.Name) else "")
                # TaskRecords.log(session, row, actor, "action", at, ...)
                if name == "log" and len(node.args) >= 4 and isinstance(node.args[3], ast.Constant) \
                        and isinstance(node.args[3].value, str):
                    actions.setdefault(node.args[3].value, f"{where}:{node.lineno}")
                # TaskLogRow(..., action="snapshot") and the notice log's rows
                for kw in node.keywords:
                    if kw.arg == "action" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str) \
                            and name in {"TaskLogRow", "log"}:
                        actions.setdefault(kw.value.value, f"{where}:{node.lineno}")
            if isinstance(node, ast.Dict):  # data={"by": "alarm_ack"}
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value == "by" and isinstance(v, ast.Constant):
                        bys.setdefault(v.value, f"{where}:{node.lineno}")
    for state in GUARD_ACTIONS.values():  # the dispatch log's action is the dispatch's new state
        actions.setdefault(state, "console/tasks/dispatch.py GUARD_ACTIONS")
    return actions, bys


def catalogue() -> dict[str, set[str]]:
    found = entries("messages-tasks.js", r'^    "(log\.[^"]+)": ')
    return {lang: {key for (key,) in keys} for lang, keys in found.items()}


def test_every_task_log_entry_has_words_in_both_languages() -> None:
    actions, bys = written_log_entries()
    assert {"opened", "answer", "correlated", "snapshot", "notified", "accepted"} <= set(actions), actions
    assert {"alarm_ack", "alarm_clear", "arrival", "correlation"} <= set(bys), bys
    effects = set(typing.get_args(typing.get_type_hints(Effect)["kind"]))
    words = catalogue()
    assert words["zh"] == words["en"]
    wanted = {f"log.{a}": w for a, w in actions.items()} | {f"log.by.{b}": w for b, w in bys.items()} \
        | {f"log.effect.{e}": "console/tasks/machine.py Effect" for e in effects}
    missing = sorted(set(wanted) - words["zh"])
    assert missing == [], [f"{key} ({wanted[key]})" for key in missing]
