"""What a camera's picture shows, measured on one frame at a time (pure numpy and OpenCV, no I/O):
the figures the health probe (console/video/health.py) judges by, and :class:`FrameClassifier`,
which turns one camera's frames, probe after probe, into "ok", "dark", "blurred", "frozen" or
"moved".

- **dark** (covered, black): mean grey level under ``health_dark_brightness`` and standard
  deviation under ``health_dark_stddev``;
- **blurred** (also a lens covered by something bright and flat): variance of the Laplacian under
  ``health_blur_sharpness``;
- **frozen**: the same frame (mean absolute difference under ``health_frozen_difference``) at
  ``health_frozen_probes`` probes in a row;
- **moved** (turned, knocked, re-aimed): the scene unlike the camera's reference frame
  (similarity under ``health_moved_similarity``) at ``health_moved_probes`` probes in a row. The
  similarity is the median, over a 3×3 grid of tiles, of each tile's zero-mean normalised
  correlation with the reference (frames scaled to 96 px wide and band-passed: the fine noise
  and the broad gradients of light taken out, the scene's shapes left): a change of light keeps
  it near 1 (each tile is normalised), a person in front of the lens spoils only a few tiles (the
  median ignores them), a pan or a turn spoils them all. Measured on a synthetic corridor: light
  changes and a person ≥ 0.93, a 3° sway 0.86, a pan of 5 % 0.59, of 10 % 0.24, a turn of 8°
  0.35 (tests/unit/test_camera_health.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from console.settings.cameras import CamerasSection
from console.video.grab import GrabError

WIDTH = 320
"""Frames are measured in grey, scaled to this width: the thresholds do not depend on resolution."""
SCENE_WIDTH = 96
"""Frames are compared with the reference at this width, blurred: the scene, not its detail or noise."""
GRID = 3
FLAT = 1.0
"""A tile whose band-passed deviation is under this is flat (a bare wall, the sky): two flat tiles
are alike, a flat one and a detailed one are not."""


@dataclass(frozen=True)
class Figures:
    brightness: float
    stddev: float
    sharpness: float
    difference: float | None
    """Mean absolute difference to the previous probe's frame (None: no previous frame)."""
    similarity: float | None = None
    """Scene similarity to the reference frame, 1 = the same (None: no reference, or not compared)."""

    def as_dict(self) -> dict[str, float]:
        out = {"brightness": round(self.brightness, 2), "stddev": round(self.stddev, 2),
               "sharpness": round(self.sharpness, 2)}
        if self.difference is not None:
            out["difference"] = round(self.difference, 3)
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 3)
        return out


def grey(frame: np.ndarray) -> np.ndarray:
    """A BGR or grey frame as grey, scaled to WIDTH pixels wide."""
    import cv2

    image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    height, width = image.shape[:2]
    if width != WIDTH:
        image = cv2.resize(image, (WIDTH, max(1, round(height * WIDTH / width))), interpolation=cv2.INTER_AREA)
    return image


def measure(image: np.ndarray, previous: np.ndarray | None) -> Figures:
    import cv2

    mean, stddev = cv2.meanStdDev(image)
    sharpness = float(cv2.Laplacian(image, cv2.CV_64F).var())
    difference = None
    if previous is not None and previous.shape == image.shape:
        difference = float(np.mean(cv2.absdiff(image, previous)))
    return Figures(float(mean[0][0]), float(stddev[0][0]), sharpness, difference)


def scene(image: np.ndarray) -> np.ndarray:
    """A grey frame (as :func:`grey` gives it) reduced to its scene: SCENE_WIDTH wide, band-passed
    (a light blur less a broad one: no pixel noise, no gradient of light)."""
    import cv2

    height, width = image.shape[:2]
    small = cv2.resize(image, (SCENE_WIDTH, max(GRID, round(height * SCENE_WIDTH / width))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.GaussianBlur(small, (5, 5), 0) - cv2.GaussianBlur(small, (0, 0), 8)


def similarity(reference: np.ndarray, current: np.ndarray) -> float:
    """How alike two scenes (:func:`scene`) are: the median over GRID×GRID tiles of each tile's
    zero-mean normalised correlation (1 the same, 0 unrelated); two flat tiles count 1, one flat
    tile against a detailed one 0. Scenes of different shapes (a camera swapped for another of a
    different aspect) are 0."""
    if reference.shape != current.shape:
        return 0.0
    height, width = reference.shape
    values = []
    for row in range(GRID):
        for column in range(GRID):
            window = (slice(row * height // GRID, (row + 1) * height // GRID),
                      slice(column * width // GRID, (column + 1) * width // GRID))
            a, b = reference[window], current[window]
            sa, sb = float(a.std()), float(b.std())
            if sa < FLAT or sb < FLAT:
                values.append(1.0 if sa < FLAT and sb < FLAT else 0.0)
            else:
                values.append(float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb)))
    return float(np.median(values))


class FrameClassifier:
    """One camera's frames, probe after probe → "ok", "dark", "blurred", "frozen" or "moved". No I/O."""

    def __init__(self, section: CamerasSection):
        self.section = section
        self.previous: np.ndarray | None = None
        self.same = 1
        """Probes in a row that showed the same frame (1: this one differs from the one before)."""
        self.unlike = 0
        """Probes in a row whose scene was unlike the reference."""
        self.reference: np.ndarray | None = None
        """The reference frame's scene (:func:`scene`); None: none taken yet."""
        self.figures: Figures | None = None
        self.image: np.ndarray | None = None
        """The last classified frame in grey (:func:`grey`)."""

    def set_reference(self, image: np.ndarray) -> None:
        """A grey frame (:func:`grey`) becomes the reference."""
        self.reference = scene(image)
        self.unlike = 0

    def forget(self) -> None:
        """No frame came: the next one is compared with nothing."""
        self.previous = None
        self.same = 1

    def classify(self, frame: np.ndarray) -> str:
        s = self.section
        image = grey(frame)
        figures = measure(image, self.previous)
        if figures.difference is not None and figures.difference < s.health_frozen_difference:
            self.same += 1
        else:
            self.same = 1
        self.previous = self.image = image
        self.figures = figures
        unfit = self._unfit(figures)
        if unfit is not None:
            return unfit
        if self.same >= s.health_frozen_probes:
            return "frozen"
        if self.reference is not None and s.health_moved_similarity > 0:
            alike = similarity(self.reference, scene(image))
            self.figures = replace(figures, similarity=alike)
            self.unlike = self.unlike + 1 if alike < s.health_moved_similarity else 0
            if self.unlike >= s.health_moved_probes:
                return "moved"
        return "ok"

    def fit_for_reference(self, frame: np.ndarray) -> str | None:
        """Why a frame cannot be a reference ("dark", "blurred"), or None when it can."""
        return self._unfit(measure(grey(frame), None))

    def _unfit(self, figures: Figures) -> str | None:
        """"dark" or "blurred" when the picture itself shows nothing, else None."""
        s = self.section
        if figures.brightness < s.health_dark_brightness and figures.stddev < s.health_dark_stddev:
            return "dark"
        if figures.sharpness < s.health_blur_sharpness:
            return "blurred"
        return None


def decode(jpeg: bytes) -> np.ndarray:
    import cv2

    frame = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if frame is None or frame.size == 0:
        raise GrabError("the frame could not be decoded")
    return frame
