"""The site file's `cameras` section: the camera registry (console/video/linker.py) and the camera
health thresholds (console/video/health.py), and the check that cameras and devices name each other."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from console.errors import ConfigError
from console.settings.base import ID_PATTERN, Section

if TYPE_CHECKING:
    from console.settings.site import Settings

_CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https", "file")


class CameraLocation(Section):
    building: str = ""
    floor: str = ""
    zone: str = ""


class CameraEntry(Section):
    """One camera: where its picture comes from and which alarms it shows (console/video/linker.py)."""

    id: str = Field(pattern=ID_PATTERN)
    site: str | None = Field(None, description="The site it watches (one of the deployment's sites); defaults "
                                               "to site.id.")
    name: str = Field("", description="Shown under its snapshots (Chinese first).")
    url: str = Field(min_length=1, description="rtsp://, http(s):// (an MJPEG stream or a still-image URL), "
                                               "file:///path or a plain path to a video file.")
    location: CameraLocation = CameraLocation()
    devices: list[str] = Field(default_factory=list, description="Device ids it covers, or DEVICE/POINT for one "
                                                                 "point (a detector of a fire panel).")
    zones: list[str] = Field(default_factory=list, description="Zone names it covers: any alarm located there.")
    snapshot_offsets: list[float] = Field(default_factory=lambda: [0.0, 3.0], min_length=1, max_length=10,
                                          description="Seconds after the alarm at which a frame is grabbed.")
    timeout_seconds: float = Field(3.0, gt=0, le=60, description="Time limit of one grab (open and read).")

    def site_or(self, default_site: str) -> str:
        """The site it watches: its own ``site``, else the site file's (``default_site``)."""
        return self.site or default_site

    @field_validator("url")
    @classmethod
    def _camera_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if len(parts.scheme) <= 1:  # a plain path (a Windows drive letter is one letter)
            return value
        if parts.scheme not in _CAMERA_SCHEMES:
            raise ValueError("use rtsp://, http(s)://, file:// or a path to a video file")
        if parts.scheme != "file" and not parts.hostname:
            raise ValueError("a host is required")
        return value

    @field_validator("snapshot_offsets")
    @classmethod
    def _offsets(cls, value: list[float]) -> list[float]:
        if any(offset < 0 or offset > 600 for offset in value):
            raise ValueError("offsets are seconds after the alarm, 0 to 600")
        return sorted(set(value))


class CamerasSection(Section):
    entries: list[CameraEntry] = Field(default_factory=list, description="The site's cameras.")
    workers: int = Field(4, ge=1, le=64, description="Grabs running at once; a camera has at most one at a "
                                                     "time (a hung one is not started again).")
    queue_max: int = Field(200, ge=1, le=100000, description="Grabs waiting for their time; beyond it new ones "
                                                            "are dropped (and counted on /api/health).")
    plate_snapshots: bool = Field(True, description="A snapshot from the lane camera for each plate event "
                                                    "(parking evidence); off where the plate-reading system "
                                                    "keeps its own pictures.")
    snapshot_keep_days: int = Field(90, ge=0, le=36500, description="Days a snapshot is kept once its case is "
                                                                     "over (console/video/retention.py); "
                                                                     "0 = kept for ever. At least 30: video "
                                                                     "is kept 30 days or more (F18, F25).")
    # Camera health (console/video/health.py): every camera probed through the same grab processes.
    health_seconds: float = Field(60.0, ge=0, le=86400, description="Seconds between health probes of every "
                                                                    "camera; 0 = no probes.")
    health_offline_probes: int = Field(2, ge=1, le=100, description="Probes in a row without a frame before "
                                                                    "camera.offline.")
    health_frozen_probes: int = Field(3, ge=2, le=100, description="The same frame at this many probes in a row "
                                                                   "→ frozen (camera.tamper, reason frozen).")
    health_frozen_difference: float = Field(0.2, ge=0, le=255, description="Mean absolute difference (grey "
                                                                           "levels) under which two frames are "
                                                                           "the same (a live sensor's noise "
                                                                           "alone is about 0.5; a frame "
                                                                           "re-encoded as JPEG about 0.06).")
    health_dark_brightness: float = Field(30.0, ge=0, le=255, description="Mean grey level under which a frame "
                                                                         "is dark (with the deviation below).")
    health_dark_stddev: float = Field(12.0, ge=0, le=255, description="Grey-level standard deviation under "
                                                                     "which a dark frame is covered / black.")
    health_blur_sharpness: float = Field(10.0, ge=0, description="Variance of the Laplacian (frame scaled to "
                                                                 "320 px wide) under which it is blurred.")
    health_moved_similarity: float = Field(0.5, ge=0, le=1, description="Scene similarity to the reference "
                                                                        "frame (median of 3×3 tiles' "
                                                                        "correlation, 1 = the same) under "
                                                                        "which the camera has moved; 0 = not "
                                                                        "checked. 0.5 catches a pan of about "
                                                                        "a tenth of the picture or a turn of "
                                                                        "about 8°; a person in front or a "
                                                                        "change of light does not.")
    health_moved_probes: int = Field(2, ge=1, le=100, description="Probes in a row unlike the reference before "
                                                                  "moved (camera.tamper, reason moved).")

    @field_validator("snapshot_keep_days")
    @classmethod
    def _keep_days(cls, value: int) -> int:
        if 0 < value < 30:
            raise ValueError("keep snapshots at least 30 days (F18, F25), or 0 to keep them for ever")
        return value

    @model_validator(mode="after")
    def _unique_cameras(self) -> CamerasSection:
        seen: set[str] = set()
        for index, camera in enumerate(self.entries):
            if camera.id in seen:
                raise ValueError(f"entries[{index}].id: duplicate camera id {camera.id!r}")
            seen.add(camera.id)
        return self


def check_camera_links(settings: Settings) -> None:
    """Cameras name devices that exist, and devices name cameras that exist (after the devices file)."""
    devices = {d.id: d for d in settings.devices.entries}
    cameras = {c.id for c in settings.cameras.entries}
    problems: list[tuple[str, str]] = []
    for index, camera in enumerate(settings.cameras.entries):
        site = camera.site_or(settings.site.id)
        if site not in settings.site_ids:
            problems.append((f"cameras.entries[{index}].site", f"no site {site!r} (site, sites or a device's site)"))
        for n, ref in enumerate(camera.devices):
            device_id, _, point = ref.partition("/")
            device = devices.get(device_id)
            if device is None:
                problems.append((f"cameras.entries[{index}].devices[{n}]", f"no device {device_id!r}"))
            elif (device.site or settings.site.id) != site:
                problems.append((f"cameras.entries[{index}].devices[{n}]",
                                 f"device {device_id!r} is of site {device.site or settings.site.id!r}, "
                                 f"the camera of {site!r}"))
            elif point and device.points and point not in device.points:
                problems.append((f"cameras.entries[{index}].devices[{n}]",
                                 f"device {device_id!r} has no point {point!r}"))
    if cameras:  # before the cameras section, a device's cameras named camera devices: both still pass
        for index, device in enumerate(settings.devices.entries):
            for n, camera_id in enumerate(device.cameras):
                if camera_id not in cameras and camera_id not in devices:
                    problems.append((f"devices.entries[{index}].cameras[{n}]", f"no camera {camera_id!r}"))
    if problems:
        raise ConfigError(problems)
