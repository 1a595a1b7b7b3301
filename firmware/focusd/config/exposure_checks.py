"""The checks of ``[exposure]`` across its keys and against the sensor mode (focusd.config.settings
runs them with the other checks across keys; docs/exposure.md)."""

from __future__ import annotations

from focusd.config.schema import ExposureConfig
from focusd.config.values import Problems


def check_exposure(exposure: ExposureConfig, problems: Problems, bad: set[str]) -> None:
    """Manual exposure (``auto = false``) needs both the exposure time and the gain: libcamera would
    otherwise keep whatever the auto exposure left behind, a value nobody chose."""
    if exposure.auto or "exposure.auto" in bad:
        return
    for key, value in (("shutter_us", exposure.shutter_us), ("iso", exposure.iso)):
        if value is None and f"exposure.{key}" not in bad:
            problems.add(f"exposure.{key}", 'must be set (not "auto") when exposure.auto = false: manual '
                         "exposure fixes both the exposure time and the gain")


def check_exposure_in_mode(exposure: ExposureConfig, problems: Problems, bad: set[str], mode) -> None:
    """A fixed exposure time must fit in one frame of the sensor mode: the frame rate is pinned to
    the mode's (focusd.hw.picamera2_tuning, fixed_frame_rate), so libcamera would shorten it."""
    if exposure.shutter_us is None or "exposure.shutter_us" in bad:
        return
    frame_us = 1e6 / mode.fps
    if exposure.shutter_us > frame_us:
        problems.add("exposure.shutter_us", f"{exposure.shutter_us:g} is longer than a frame of the sensor mode "
                     f"{mode.size[0]}x{mode.size[1]} ({frame_us:.0f} us at {mode.fps:g} frames per second)")
