"""The camera health classifier on numpy frames, and which changes become events (no I/O: a fake
grab and a fake ingest path)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import cv2
import numpy as np
import pytest

from console.contract import Draft
from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.settings.cameras import CamerasSection
from console.store.database import Store
from console.store.tables import AuditRow, CameraReferenceRow
from console.video.frames import FrameClassifier, grey, similarity
from console.video.frames import scene as scene_of
from console.video.grab import GrabError, ThreadGrabber
from console.video.health import CameraHealthWatch, ReferenceRefused
from tests.support.scenes import corridor, jpeg, live, turned


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


def alike(a: np.ndarray, b: np.ndarray) -> float:
    return similarity(scene_of(grey(a)), scene_of(grey(b)))


def test_the_scene_similarity_ignores_light_and_a_person_in_front_but_not_a_pan_or_a_turn() -> None:
    base = corridor()
    reference = live(base, 1)
    person = base.copy()
    cv2.rectangle(person, (250, 80), (380, 360), (20, 20, 20), -1)
    dimmed = (base * 0.5).astype(np.uint8)
    brighter = np.clip(base * 1.3 + 30, 0, 255).astype(np.uint8)
    for same in (base, person, dimmed, brighter):
        assert alike(reference, live(same, 2)) > 0.9
    assert alike(reference, cv2.imdecode(cv2.imencode(".jpg", live(base, 3), [cv2.IMWRITE_JPEG_QUALITY, 40])[1],
                                         cv2.IMREAD_COLOR)) > 0.9
    assert alike(reference, live(turned(base, angle=3), 4)) > 0.5, "a slight sway is not a move"
    for moved in (turned(base, dx=64), turned(base, dx=128), turned(base, angle=10), turned(base, angle=20),
                  cv2.flip(base, 1)):
        assert alike(reference, live(moved, 5)) < 0.5
    assert alike(reference, cv2.resize(base, (320, 320))) == 0.0, "another aspect: another camera"


def test_unlike_the_reference_at_two_probes_in_a_row_is_moved() -> None:
    classifier = FrameClassifier(section())
    assert classifier.classify(live(corridor(), 1)) == "ok"  # no reference yet: not compared
    assert classifier.figures is not None and classifier.figures.similarity is None
    assert classifier.image is not None
    classifier.set_reference(classifier.image)
    away = turned(corridor(), dx=100)
    assert [classifier.classify(live(away, n)) for n in range(2, 5)] == ["ok", "moved", "moved"]
    assert classifier.figures is not None and classifier.figures.similarity is not None
    assert classifier.figures.similarity < 0.5
    assert classifier.classify(live(corridor(), 6)) == "ok", "back in place"
    # one odd frame (a truck passing) is not a move
    assert [classifier.classify(live(f, n)) for n, f in enumerate([away, corridor(), away, corridor()], 7)] == ["ok"] * 4
    off = FrameClassifier(section(health_moved_similarity=0))
    off.classify(corridor())
    assert off.image is not None
    off.set_reference(off.image)
    assert [off.classify(live(away, n)) for n in range(3)] == ["ok"] * 3


class Observed:
    """Stands in for the single writer: keeps what the watch hands to the alarm path."""

    def __init__(self) -> None:
        self.drafts: list[Draft] = []

    def observe(self, drafts: list[Draft], *, silenced: bool = False) -> None:
        assert not silenced
        self.drafts.extend(drafts)


def watch(frames: list[Any], store: Store | None = None, **fields: Any) -> tuple[CameraHealthWatch, Observed]:
    pending = list(frames)
    if store is None:
        fields.setdefault("health_moved_similarity", 0)  # no store to keep a reference in

    def grab(_url: str, _timeout: float) -> bytes:
        item = pending.pop(0)
        if item is None:
            raise GrabError("could not open the stream")
        return jpeg(item)

    ingest = Observed()
    at = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)  # one clock reading: source ids must still differ
    registry = DeviceRegistry.from_settings(Settings(site={"id": "demo"}))
    health = CameraHealthWatch(section(**fields), "demo", store, registry, ingest, lambda: at,
                               grabber=ThreadGrabber(grab))
    return health, ingest


def run(health: CameraHealthWatch, ingest: Observed, rounds: int) -> list[tuple[str, str]]:
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


@pytest.fixture
def store(sqlite_url: str) -> Any:
    made = Store(sqlite_url)
    made.migrate()
    yield made
    made.dispose()


def test_the_first_good_frame_is_the_reference_kept_audited_and_a_move_is_tamper(store: Store) -> None:
    black = np.zeros((240, 320, 3), np.uint8)
    away = turned(corridor(), dx=110)
    health, ingest = watch([black, live(corridor(), 1), live(corridor(), 2), live(away, 3), live(away, 4), live(away, 5),
                            live(corridor(), 6)], store)
    assert run(health, ingest, 7) == [
        "camera.tamper:dark|dark",          # a dark picture is never the reference
        "camera.restore:camera.tamper|ok",  # this one is
        "|ok", "|ok",
        "camera.tamper:moved|moved", "|moved",
        "camera.restore:camera.tamper|ok",
    ]
    moved = [d for d in ingest.drafts if d.data.get("reason") == "moved"][0]
    assert moved.data["similarity"] < 0.5
    with store.read() as session:
        row = session.get(CameraReferenceRow, ("demo", "cam-1"))
        assert row is not None and row.taken_by == "system"
        kept = cv2.imdecode(np.frombuffer(row.image, np.uint8), cv2.IMREAD_COLOR)
        assert kept.shape == (360, 640, 3), "the grab as it came, not the reduced scene"
        audits = session.query(AuditRow).filter(AuditRow.action == "camera.reference").all()
        assert [json.loads(a.detail)["sha256"] for a in audits] == [row.sha256]
    # after a restart the stored reference is used: the moved scene is still moved
    again, ingest = watch([live(away, 7), live(away, 8)], store)
    again.load_references()
    assert run(again, ingest, 2) == ["|ok", "camera.tamper:moved|moved"]
    assert again.cameras_view()["cam-1"]["reference"]["sha256"] == row.sha256


def test_a_new_reference_taken_on_request_restores_a_moved_camera(store: Store) -> None:
    away = turned(corridor(), dx=110)
    health, ingest = watch([live(corridor(), 1), live(away, 2), live(away, 3), np.zeros((240, 320, 3), np.uint8),
                            None, live(away, 4)], store)
    assert run(health, ingest, 3)[-1] == "camera.tamper:moved|moved"
    with pytest.raises(ReferenceRefused, match="dark"):
        health.retake("cam-1", "sup1")
    with pytest.raises(ReferenceRefused, match="no frame"):
        health.retake("cam-1", "sup1")
    with pytest.raises(KeyError):
        health.retake("cam-9", "sup1")
    view = health.retake("cam-1", "sup1", "10.0.0.7")
    assert view["taken_by"] == "sup1"
    restore = ingest.drafts[-1]
    assert (restore.kind, restore.data["of"], restore.data["was"], restore.data["by"]) == (
        "camera.restore", "camera.tamper", "moved", "sup1")
    assert health.status()["states"]["cam-1"] == "ok"
    with store.read() as session:
        audits = session.query(AuditRow).filter(AuditRow.action == "camera.reference").order_by(AuditRow.id).all()
        assert [(a.actor, a.client) for a in audits] == [("system", ""), ("sup1", "10.0.0.7")]
        assert json.loads(audits[1].detail)["previous_sha256"] == json.loads(audits[0].detail)["sha256"]


def test_a_new_camera_device_is_announced_online_at_its_first_frame() -> None:
    health, ingest = watch([scene(0), scene(1)])
    health.unannounced = {"cam-1"}  # registered as a device, state still unknown
    assert run(health, ingest, 2) == ["camera.online:|ok", "|ok"]
    assert ingest.drafts[0].data == {"via": "probe", "first": True}
    quiet, ingest = watch([None, None, scene(2)], health_offline_probes=2)
    quiet.unannounced = {"cam-1"}
    assert run(quiet, ingest, 3) == ["|unknown", "camera.offline:|offline", "camera.online:|ok"]
