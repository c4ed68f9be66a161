"""Camera pictures made with OpenCV for the camera-health tests: a structured scene (a corridor),
the same scene with sensor noise, and the scene as a moved camera sees it."""

from __future__ import annotations

import cv2
import numpy as np


def corridor(width: int = 640, height: int = 360) -> np.ndarray:
    """A lit corridor with doors, pipes and an exit sign (BGR): shapes, not a noise texture."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = np.linspace(40, 140, height, dtype=np.uint8)[:, None, None]
    rng = np.random.default_rng(11)
    for _ in range(25):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        cv2.rectangle(image, (x, y), (x + int(rng.integers(20, 120)), y + int(rng.integers(20, 90))),
                      tuple(int(c) for c in rng.integers(30, 230, 3)), -1)
    for _ in range(10):
        cv2.line(image, tuple(int(c) for c in rng.integers(0, width, 2)),
                 tuple(int(c) for c in rng.integers(0, height, 2)), (220, 220, 220), 2)
    cv2.putText(image, "B1 EXIT", (50, 300), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return image


def live(image: np.ndarray, seed: int) -> np.ndarray:
    """The picture as a sensor gives it: with noise (a different ``seed``, a different frame)."""
    noise = np.random.default_rng(seed).normal(0, 4, image.shape)
    return np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def turned(image: np.ndarray, dx: float = 0, angle: float = 0) -> np.ndarray:
    """The scene as the camera sees it after a pan of ``dx`` pixels and a turn of ``angle`` degrees."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[0, 2] += dx
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()
