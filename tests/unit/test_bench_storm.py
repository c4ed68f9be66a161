"""The storm and soak benchmarks' own arithmetic: every storm event raises an alarm of its own on a
registered device (so the run counts N alarms and N tasks), the lower storm stays below fire, and the
soak's memory growth is read between the right samples."""

from __future__ import annotations

import json

from bench.common import PANEL_POINTS, SITE, site_devices
from bench.soak import _memory
from bench.soakload import templates
from bench.stormload import FIRE, LOWER, fire_message, storm_messages
from console.alarms.rules import RAISES, SEVERITY_RANK


def _alarms(variant: str, n: int) -> list[tuple[str, str, str]]:
    registered = {d["id"] for d in site_devices()}
    out = []
    for topic, payload in storm_messages(variant, n, "t"):
        _, _, site, device, channel = topic.decode().split("/")
        assert (site, channel) == (SITE, "event") and device in registered
        body = json.loads(payload)
        out.append((device, body["point"], body["type"]))
    return out


def test_each_storm_event_raises_an_alarm_of_its_own() -> None:
    for variant in (FIRE, LOWER):
        alarms = _alarms(variant, 10_000)
        assert len(set(alarms)) == 10_000
        assert all(kind in RAISES for _, _, kind in alarms)


def test_the_fire_storm_uses_points_of_its_own_and_the_lower_storm_ranks_below_fire() -> None:
    fire = _alarms(FIRE, 10_000)
    assert {kind for _, _, kind in fire} == {"fire.alarm"}
    assert not {point for _, point, _ in fire} & set(PANEL_POINTS)
    assert max(point for _, point, _ in fire) == "L20-250"  # 2 panels x 20 loops x 250 addresses
    lower = _alarms(LOWER, 10_000)
    assert min(SEVERITY_RANK[RAISES[kind]] for _, _, kind in lower) > SEVERITY_RANK[RAISES["fire.alarm"]]
    assert json.loads(fire_message("x")[1])["type"] == "fire.alarm"


def test_the_soak_reads_growth_from_the_sixth_of_the_run_to_its_end() -> None:
    samples = [{"t": t, "rss_mb": 100.0 + t / 10} for t in range(10, 3610, 10)]
    samples.append({"t": 3620.0, "rss_mb": 999.0})  # after the load: not the end
    memory = _memory(samples, 3600)
    assert (memory["mark_seconds"], memory["rss_mark_mb"]) == (600, 160.0)
    assert (memory["end_seconds"], memory["rss_end_mb"]) == (3600, 460.0)
    assert memory["growth_pct"] == 187.5


def test_the_soak_templates_take_an_id_and_a_time() -> None:
    import random

    pool = templates(random.Random(1))
    assert all(b'"@ID@"' in payload and b'"@TS@"' in payload for _, payload in pool)
