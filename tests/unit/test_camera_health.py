"""The camera health classifier on numpy frames, and which changes become events (no I/O: a fake
grab and a fake ingest path)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import cv2
import numpy as np
import pytest

from console.camera_health import CameraHealthWatch, FrameClassifier
from console.cameras import GrabError, ThreadGrabber
from console.events import Draft
from console.settings_cameras import CamerasSection


def section(**fields: Any) -> CamerasSection:
    return CamerasSection(entries=[{"id": "cam-1", "url": "http://127.0.0.1:1/x.mjpg"}], **fields)


def scene(n: int = 0) -> np.ndarray:
    """A sharp, lit frame; ``n`` moves a box and changes a caption (a live picture)."""
    rng = np.random.default_rng(7)
    image = rng.integers(60, 200, (240, 320, 3), dtype=np.uint8)  # texture
    cv2.rectangle(image, (10 + 8 * n, 60), (70 + 8 * n, 120), (0, 0, 255), -1)
    cv2.putText(image, f"MCC {n:02d}", (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    return image


def test_a_live_sharp_picture_is_ok() -> None:
    classifier = FrameClassifier(section())
    assert [classifier.classify(scene(n)) for n in range(5)] == ["ok"] * 5


def test_the_same_frame_at_three_probes_in_a_row_is_frozen_and_a_change_ends_it() -> None:
    classifier = FrameClassifier(section())
    assert [classifier.classify(scene(1)) for _ in range(4)] == ["ok", "ok", "frozen", "frozen"]
    assert classifier.classify(scene(2)) == "ok"
    # a live sensor's noise alone (±1 grey level) is a live picture; the threshold is a setting
    noisy = np.clip(scene(2).astype(int) + np.random.default_rng(1).integers(-1, 2, (240, 320, 3)), 0, 255)
    assert classifier.classify(noisy.astype(np.uint8)) == "ok"
    assert [classifier.classify(scene(2)) for _ in range(3)] == ["ok", "ok", "frozen"]
    strict = FrameClassifier(section(health_frozen_difference=0.0))
    assert [strict.classify(scene(1)) for _ in range(3)] == ["ok", "ok", "ok"]
    # the same frame re-encoded as JPEG by a camera that repeats its last picture is still frozen
    again = cv2.imdecode(cv2.imencode(".jpg", scene(3))[1], cv2.IMREAD_COLOR)
    frames = [again, cv2.imdecode(cv2.imencode(".jpg", again)[1], cv2.IMREAD_COLOR), again]
    repeating = FrameClassifier(section())
    assert [repeating.classify(f) for f in frames] == ["ok", "ok", "frozen"]


def test_a_missing_frame_restarts_the_frozen_count() -> None:
    classifier = FrameClassifier(section())
    classifier.classify(scene(1))
    classifier.classify(scene(1))
    classifier.forget()
    assert classifier.classify(scene(1)) == "ok"


def test_black_and_covered_frames_are_dark_a_dim_but_detailed_scene_is_not() -> None:
    classifier = FrameClassifier(section())
    assert classifier.classify(np.zeros((480, 640, 3), np.uint8)) == "dark"
    noise = np.random.default_rng(3).integers(0, 12, (480, 640, 3), dtype=np.uint8)  # a hand over the lens
    assert FrameClassifier(section()).classify(noise) == "dark"
    dim = (scene(0) // 6).astype(np.uint8)  # a night scene: dark, but with detail
    figures_state = FrameClassifier(section(health_dark_stddev=5)).classify(dim)
    assert figures_state == "ok"


def test_a_blurred_or_flat_bright_frame_is_blurred() -> None:
    blurred = cv2.GaussianBlur(scene(0), (0, 0), 8)
    classifier = FrameClassifier(section())
    assert classifier.classify(blurred) == "blurred"
    assert classifier.figures is not None and classifier.figures.sharpness < 10
    assert FrameClassifier(section()).classify(np.full((240, 320, 3), 180, np.uint8)) == "blurred"
    assert FrameClassifier(section()).classify(scene(0)) == "ok"
    assert FrameClassifier(section(health_blur_sharpness=1e9)).classify(scene(0)) == "blurred"


def test_a_grey_frame_and_other_resolutions_are_measured_the_same_way() -> None:
    small = cv2.resize(scene(0), (160, 120))
    assert FrameClassifier(section()).classify(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)) == "ok"
    big = cv2.resize(scene(0), (1920, 1440), interpolation=cv2.INTER_NEAREST)
    assert FrameClassifier(section()).classify(big) == "ok"


class FakeIngest:
    def __init__(self) -> None:
        self.drafts: list[Draft] = []

    def process_console_drafts(self, drafts: list[Draft], now: datetime, silenced: bool = False) -> list[Any]:
        assert not silenced
        self.drafts.extend(drafts)
        return []


def jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def watch(frames: list[Any], **fields: Any) -> tuple[CameraHealthWatch, FakeIngest]:
    pending = list(frames)

    def grab(_url: str, _timeout: float) -> bytes:
        item = pending.pop(0)
        if item is None:
            raise GrabError("could not open the stream")
        return jpeg(item)

    ingest = FakeIngest()
    at = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)  # one clock reading: source ids must still differ
    health = CameraHealthWatch(section(**fields), "demo", ingest, lambda _m: None, lambda: at,
                               grabber=ThreadGrabber(grab))
    return health, ingest


def run(health: CameraHealthWatch, ingest: FakeIngest, rounds: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(rounds):
        before = len(ingest.drafts)
        health.probe_all()
        out.append(",".join(f"{d.kind}:{d.data.get('reason') or d.data.get('of') or ''}"
                            for d in ingest.drafts[before:]) + f"|{health.status()['states']['cam-1']}")
    return out  # type: ignore[return-value]


def test_only_changes_of_state_are_events() -> None:
    black = np.zeros((240, 320, 3), np.uint8)
    health, ingest = watch([scene(0), scene(1), None, None, None, scene(2), scene(3), scene(3), scene(3),
                            black, black, scene(4), scene(5)], health_offline_probes=2)
    assert run(health, ingest, 13) == [
        "|ok", "|ok",
        "|ok",                              # one failure: not offline yet
        "camera.offline:|offline", "|offline",
        "camera.online:|ok", "|ok", "|ok",
        "camera.tamper:frozen|frozen",
        "camera.tamper:dark|dark", "|dark",
        "camera.restore:camera.tamper|ok", "|ok",
    ]
    offline = [d for d in ingest.drafts if d.kind == "camera.offline"][0]
    assert offline.device_id == "cam-1" and offline.site == "demo" and offline.data["via"] == "probe"
    assert "could not open" in offline.data["error"]
    assert len({d.source_id for d in ingest.drafts}) == len(ingest.drafts)
    status = health.status()
    assert status["state_counts"] == {"ok": 1} and status["probes"] == 13 and status["probe_failures"] == 3


def test_a_camera_that_never_answered_is_unknown_until_offline() -> None:
    health, ingest = watch([None, None], health_offline_probes=2)
    assert run(health, ingest, 2) == ["|unknown", "camera.offline:|offline"]


@pytest.mark.parametrize("restored, frames, expected", [
    ("offline", [scene(0)], ["camera.online:|ok"]),
    ("tamper", [scene(0)], ["camera.restore:camera.tamper|ok"]),
    ("tamper", [np.zeros((240, 320, 3), np.uint8)], ["|dark"]),  # still tampered: no second event
])
def test_a_restart_with_an_open_camera_alarm_clears_it_at_the_first_good_frame(
    restored: str, frames: list[Any], expected: list[str]
) -> None:
    health, ingest = watch(frames)
    if restored == "offline":
        health.stats.by_camera["cam-1"].offline = True
    else:
        health.stats.by_camera["cam-1"].condition = "tamper"
    assert run(health, ingest, 1) == expected
