"""Every registered adapter against its golden cases (tests/payloads/<adapter>/golden.yaml):
documented vendor samples and hand-written edge cases become exactly the expected events, and
bad ones raise a PayloadError with a reason (the ingest quarantines them)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import REGISTRY
from console.errors import PayloadError
from tests.support import golden

CASES = [(adapter, case) for adapter in REGISTRY for case in golden.cases(adapter.name)]


def test_every_adapter_has_golden_cases_good_and_bad() -> None:
    for adapter in REGISTRY:
        loaded = golden.cases(adapter.name)
        assert any("expect" in c for c in loaded) and any("error" in c for c in loaded), adapter.name


@pytest.mark.parametrize(("adapter", "case"), [c for c in CASES if "expect" in c[1]],
                         ids=lambda v: v["name"] if isinstance(v, dict) else v.name)
def test_golden_payload_becomes_the_expected_events(adapter: Any, case: dict[str, Any]) -> None:
    golden.check(golden.run(adapter, case), case["expect"])
    if "expect_devices" in case:
        golden.check_inventory(golden.run_inventory(adapter, case), case["expect_devices"])


@pytest.mark.parametrize(("adapter", "case"), [c for c in CASES if "error" in c[1]],
                         ids=lambda v: v["name"] if isinstance(v, dict) else v.name)
def test_bad_payload_raises_a_payload_error_with_its_reason(adapter: Any, case: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as raised:
        golden.run(adapter, case)
    assert case["error"] in raised.value.reason
