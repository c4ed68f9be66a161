"""Camera costs, without a console: what the health probe's classifier costs per frame, what a grab
costs through the grab processes, and what those processes hold in memory.

- **classify**: FrameClassifier.classify (grey + figures + the scene against a reference) on
  frames of 640×360, 1280×720 and 1920×1080, timed in this process.
- **grab**: ProcessGrabber with ``workers`` processes against the demo's MJPEG cameras
  (console/demo/cameras.py: OpenCV-drawn, served from this process over local HTTP), ``grabs``
  grabs spread over ``cameras`` cameras, ``workers`` at a time; each grab's wall time from the
  request to its JPEG; grabs per second overall. Then one grab of a camera that accepts and never
  answers: its time is the camera's limit plus the grace, and its process is killed.
- **memory**: the resident size (VmRSS) of one grab process after its grabs (OpenCV loaded).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import percentile
from console.demo.cameras import DemoCameras, scene
from console.settings.cameras import CamerasSection
from console.video.frames import FrameClassifier, grey
from console.video.grab import GrabTimeout, ProcessGrabber

SIZES = ((640, 360), (1280, 720), (1920, 1080))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def classify_costs(frames: int = 200) -> list[dict[str, Any]]:
    import cv2

    out = []
    base = scene("bench-camera")
    rng = np.random.default_rng(3)
    for width, height in SIZES:
        picture = cv2.resize(base, (width, height), interpolation=cv2.INTER_LINEAR)
        noisy = [np.clip(picture + rng.normal(0, 3, picture.shape), 0, 255).astype(np.uint8) for _ in range(8)]
        classifier = FrameClassifier(CamerasSection())
        classifier.set_reference(grey(noisy[0]))
        times = []
        for n in range(frames):
            started = time.perf_counter()
            classifier.classify(noisy[n % len(noisy)])
            times.append((time.perf_counter() - started) * 1000)
        out.append({"size": f"{width}x{height}", "frames": frames, "mean_ms": sum(times) / len(times),
                    "p95_ms": percentile(times, 95)})
    return out


def grab_costs(grabs: int = 120, cameras: int = 8, workers: int = 4, timeout: float = 3.0) -> dict[str, Any]:
    ids = {f"cam-{n:02d}": f"Bench camera {n}" for n in range(cameras)}
    served = DemoCameras(ids).start()
    grabber = ProcessGrabber(workers)
    try:
        grabber.warm(workers)
        for _ in range(workers):  # every process has loaded OpenCV before the clock starts
            grabber.grab(served.url("cam-00"), timeout)
        urls = [served.url(f"cam-{n % cameras:02d}") for n in range(grabs)]

        def one(url: str) -> float:
            started = time.perf_counter()
            jpeg = grabber.grab(url, timeout)
            assert jpeg[:2] == b"\xff\xd8"
            return (time.perf_counter() - started) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            times = list(pool.map(one, urls))
        seconds = time.perf_counter() - started
        rss = [_rss_mb(w.process.pid) for w in grabber._idle]
    finally:
        grabber.close()
        served.stop()

    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
    dead = ProcessGrabber(1, grace=1.0)
    try:
        dead.grab(f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg", 0.1)  # spawn, OpenCV loaded
    except Exception:  # noqa: BLE001 - the first try only loads OpenCV in the process
        pass
    started = time.perf_counter()
    try:
        dead.grab(f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg", timeout)
        dead_outcome = "answered"
    except GrabTimeout:
        dead_outcome = "killed"
    except Exception:  # noqa: BLE001 - OpenCV gave up by itself within the limit
        dead_outcome = "OpenCV gave up"
    dead_seconds = time.perf_counter() - started
    dead.close()
    silent.close()
    for conn in held:
        conn.close()
    return {"grabs": grabs, "cameras": cameras, "workers": workers, "size": "640x360",
            "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "max_ms": max(times),
            "grabs_per_second": grabs / seconds, "process_rss_mb": max(rss) if rss else float("nan"),
            "dead_camera_seconds": dead_seconds, "dead_camera_outcome": dead_outcome, "timeout": timeout}


def run() -> dict[str, Any]:
    return {"classify": classify_costs(), "grab": grab_costs()}


def print_table(result: dict[str, Any]) -> None:
    print("\nCamera health classifier, per frame (in this process)")
    print(f"{'size':>10}{'frames':>8}{'mean ms':>9}{'p95 ms':>8}")
    for r in result["classify"]:
        print(f"{r['size']:>10}{r['frames']:>8}{r['mean_ms']:>9.2f}{r['p95_ms']:>8.2f}")
    g = result["grab"]
    print(f"\nGrabs through {g['workers']} grab processes, {g['grabs']} grabs of {g['cameras']} local MJPEG "
          f"cameras ({g['size']})")
    print(f"{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'grabs/s':>9}{'RSS MB/process':>16}{'dead camera s':>15}")
    print(f"{g['p50_ms']:>8.1f}{g['p95_ms']:>8.1f}{g['max_ms']:>8.1f}{g['grabs_per_second']:>9.1f}"
          f"{g['process_rss_mb']:>16.0f}{g['dead_camera_seconds']:>15.2f}  ({g['dead_camera_outcome']}, "
          f"limit {g['timeout']:g} s)")
