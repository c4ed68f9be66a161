"""Invariants over every adapter in the REGISTRY: names, filters, kinds, good and bad samples."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import get_args

import pytest

from adapters import BY_NAME, REGISTRY
from adapters.base import AdapterContext, AdapterDef, matches
from console.contract import ALL_KINDS, InboundMessage, check_topic_filter
from console.errors import PayloadError
from console.events import validate_event
from console.settings import AdapterEntry

NOW = datetime(2026, 11, 26, 2, 30, tzinfo=timezone.utc)


def context(adapter: AdapterDef) -> AdapterContext:
    return AdapterContext(site="demo", topic=adapter.topic.replace("{site}", "demo"))


def test_adapter_names_are_unique_and_match_the_site_file_types() -> None:
    names = [adapter.name for adapter in REGISTRY]
    assert len(names) == len(set(names))
    assert set(BY_NAME) == set(names)
    site_file_types = set(get_args(AdapterEntry.model_fields["type"].annotation))
    assert site_file_types == set(names), "every registered adapter can be enabled, and only those"


@pytest.mark.parametrize("adapter", REGISTRY, ids=lambda a: a.name)
def test_topic_filter_is_a_valid_subscription(adapter: AdapterDef) -> None:
    check_topic_filter(context(adapter).topic)


@pytest.mark.parametrize("adapter", REGISTRY, ids=lambda a: a.name)
def test_every_emitted_kind_is_canonical(adapter: AdapterDef) -> None:
    assert adapter.emits and adapter.emits <= ALL_KINDS
    for route in adapter.routes:
        assert route.emit in ALL_KINDS


@pytest.mark.parametrize("adapter", REGISTRY, ids=lambda a: a.name)
def test_every_adapter_ships_good_samples_that_become_canonical_events(adapter: AdapterDef) -> None:
    assert adapter.samples, "each adapter has good cases"
    ctx = context(adapter)
    for topic, payload in adapter.samples:
        assert matches(ctx.topic, topic), topic
        message = InboundMessage(topic, payload, False, NOW)
        drafts = adapter.handle(message, ctx)
        # An adapter that announces devices may answer a sample with the device instead of events.
        assert drafts or (adapter.inventory is not None and adapter.inventory(message, ctx)), topic
        for draft in drafts:
            event = validate_event(draft, adapter.name, NOW)
            assert event.kind in adapter.emits


@pytest.mark.parametrize("adapter", REGISTRY, ids=lambda a: a.name)
def test_every_adapter_ships_bad_samples_that_raise_payload_errors(adapter: AdapterDef) -> None:
    assert adapter.bad_samples, "each adapter has bad cases"
    ctx = context(adapter)
    for topic, payload in adapter.bad_samples:
        with pytest.raises(PayloadError):
            for draft in adapter.handle(InboundMessage(topic, payload, False, NOW), ctx):
                validate_event(draft, adapter.name, NOW)


@pytest.mark.parametrize("adapter", REGISTRY, ids=lambda a: a.name)
def test_oversized_payloads_are_refused_before_decoding(adapter: AdapterDef) -> None:
    ctx = context(adapter)
    topic = adapter.samples[0][0]
    with pytest.raises(PayloadError, match="exceeds the limit"):
        adapter.handle(InboundMessage(topic, b" " * (ctx.limits.max_payload_bytes + 1), False, NOW), ctx)
