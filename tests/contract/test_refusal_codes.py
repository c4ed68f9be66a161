"""Every refusal the server can answer with has its words in both languages: each code raised in
console/ (Refusal and its subclasses, the import's and the validation's codes) has an err.<code>
entry in web/messages-errors.js, zh and en, with the same placeholders; and no entry is left over."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO
from tests.support.catalogues import entries


def refusal_classes() -> set[str]:
    """Refusal and every class in console/ that derives from it, however deep."""
    bases: dict[str, set[str]] = {}
    for path in sorted((REPO / "console").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    found = {"Refusal"}
    while grown := {name for name, parents in bases.items() if parents & found} - found:
        found |= grown
    return found


REFUSALS = refusal_classes()
CODE = re.compile(r"^[a-z][a-z_]*\.[a-z0-9_]+$")


def raised_codes() -> dict[str, str]:
    """code → where it is raised."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "console").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            constants: list[ast.AST] = []
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else (
                    node.func.attr if isinstance(node.func, ast.Attribute) else "")
                if name in REFUSALS or name == "__init__":
                    constants = node.args[:1]
            elif isinstance(node, ast.Dict):  # {"detail": ..., "code": "import.problems", ...}
                constants = [v for k, v in zip(node.keys, node.values)
                             if isinstance(k, ast.Constant) and k.value == "code"]
            elif isinstance(node, ast.Assign) and any(  # code, who = ("step.needs_...", ...) if ... else (...)
                    isinstance(t, ast.Tuple) and any(isinstance(e, ast.Name) and e.id == "code" for e in t.elts)
                    for t in node.targets):
                constants = list(ast.walk(node.value))
            for constant in constants:
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str) and CODE.match(constant.value):
                    found.setdefault(constant.value, f"{path.relative_to(REPO)}:{constant.lineno}")
    return found


def raised_params() -> dict[str, list[set[str]]]:
    """code → the keyword parameters of each call that raises it (what the pages can fill in)."""
    found: dict[str, list[set[str]]] = {}
    for path in sorted((REPO / "console").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            first = node.args[0]
            if (name in REFUSALS or name == "__init__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str) and CODE.match(first.value):
                found.setdefault(first.value, []).append({k.arg for k in node.keywords if k.arg} - {"status", "headers"})
    return found


def catalogue() -> dict[str, dict[str, str]]:
    found = entries("messages-errors.js", r'^    "err\.([^"]+)": "((?:[^"\\]|\\.)*)",$')
    return {lang: dict(pairs) for lang, pairs in found.items()}


def test_every_refusal_code_is_worded_in_both_languages_with_its_placeholders() -> None:
    codes = raised_codes()
    assert len(codes) > 80, "the scan found the refusals"
    words = catalogue()
    assert set(words["zh"]) == set(words["en"])
    missing = sorted(set(codes) - set(words["zh"]))
    assert missing == [], [f"{code} ({codes[code]})" for code in missing]
    for code in codes:
        zh, en = (set(re.findall(r"\{(\w+)\}", words[lang][code])) for lang in ("zh", "en"))
        assert zh == en, f"err.{code}: placeholders differ: {zh} / {en}"


def test_every_raise_gives_the_parameters_its_words_name() -> None:
    words = catalogue()["en"]
    for code, calls in raised_params().items():
        named = set(re.findall(r"\{(\w+)\}", words.get(code, "")))
        for given in calls:
            assert named <= given, f"err.{code} names {sorted(named - given)}, which a raise of it does not give"


def test_no_catalogue_entry_is_left_over() -> None:
    assert sorted(set(catalogue()["zh"]) - set(raised_codes())) == []
