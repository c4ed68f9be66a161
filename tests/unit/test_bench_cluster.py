"""The center benchmark's arithmetic (bench/cluster.py): ratios to the 1-instance figures, and the
percentile the latency figures use. No timing: the figures here are made up."""

from __future__ import annotations

from typing import Any

from bench.cluster import passed, ratio, summary
from bench.common import percentile


def _row(instances: int, stored: float | None, p99: float, once: bool = True, lost: int = 0) -> dict[str, Any]:
    return {
        "instances": instances,
        "ingest": {"committed_rate": stored, "committed_rate_after_publishing": stored, "all_stored_seconds": 10.0,
                   "exactly_once": once, "cpu_share": {"console": 0.5}},
        "latency": {"p50_ms": p99 / 4, "p99_ms": p99, "lost": lost, "background_received_rate": 1000.0,
                    "ws_instance": "console-1"},
    }


def test_ratios_are_to_the_one_instance_figures_whatever_the_order() -> None:
    lines = summary([_row(3, 3000.0, 90.0), _row(1, 2000.0, 60.0), _row(2, 2500.0, 30.0)])
    assert [s["instances"] for s in lines] == [1, 2, 3]
    assert [s["stored_ratio"] for s in lines] == [1.0, 1.25, 1.5]
    assert [s["p99_ratio"] for s in lines] == [1.0, 0.5, 1.5]


def test_without_a_one_instance_figure_there_is_no_ratio() -> None:
    lines = summary([_row(2, 2500.0, 30.0)])
    assert lines[0]["stored_ratio"] is None and lines[0]["p99_ratio"] is None
    assert ratio(None, 10.0) is None and ratio(5.0, 0.0) is None and ratio(5.0, None) is None


def test_a_run_passes_only_with_every_event_stored_once_and_no_probe_lost() -> None:
    assert passed([_row(1, 2000.0, 60.0), _row(2, 2500.0, 30.0)])
    assert not passed([_row(1, 2000.0, 60.0, once=False)])
    assert not passed([_row(1, 2000.0, 60.0, lost=1)])


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values[::-1], 100) == 100.0
    assert percentile([7.0], 99) == 7.0
