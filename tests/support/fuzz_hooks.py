"""Schemathesis hooks of the API fuzz (tests/integration/test_api_fuzz.py names this module in its
run's configuration).

Schemathesis may put a NUL character in a generated string, but in a short, deterministic run it
hardly ever does, while PostgreSQL refuses NUL in any text, even in a query's WHERE: a route that
lets one through answers a 500 only there. So every generated case may also be sent with a NUL in
its first string, in the body, the query or the path (one of the variants, chosen by the generator).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy


def with_nul(value: Any) -> Any:
    """``value`` with a NUL in its first string (depth first), or None when it holds no string."""
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if isinstance(value, dict):
        for key, item in value.items():
            changed = with_nul(item)
            if changed is not None:
                return {**value, key: changed}
    if isinstance(value, list):
        for index, item in enumerate(value):
            changed = with_nul(item)
            if changed is not None:
                return [*value[:index], changed, *value[index + 1:]]
    return None


@schemathesis.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> SearchStrategy[schemathesis.Case]:
    variants = [case]
    for part in ("body", "query", "path_parameters"):
        changed = with_nul(getattr(case, part, None))
        if changed is not None:
            variant = case.derive(keep_auth=True)
            setattr(variant, part, changed)
            variants.append(variant)
    return st.sampled_from(variants)
