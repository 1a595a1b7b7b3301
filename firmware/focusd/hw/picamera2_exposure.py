"""Exposure controls for the picamera2 adapter: ``[exposure]`` at start, and the exposure lock
(Camera.hold_exposure).

libcamera's controls (control_ids_core.yaml; docs/exposure.md has the table):

- ``AeEnable``: True lets the AGC/AEC algorithm choose exposure time and gain; False freezes it.
- ``ExposureTime`` (microseconds) and ``AnalogueGain``: a non-zero value fixes that one, auto
  exposure then choosing only the other; 0 hands it back to auto exposure. picamera2 (request.py,
  ``CompletedRequest.release``; picamera2.py ``start_``) turns each into libcamera's newer
  ``ExposureTimeMode`` / ``AnalogueGainMode`` (manual for a value, auto for 0) where those exist;
  the Raspberry Pi IPA's AGC reads 0 as "not fixed" too.
- ``ExposureValue``: compensation in stops; ``AeMeteringMode`` and ``AwbMode``: enums.

picamera2 passes the dicts with the next request (``Picamera2.set_controls``) or, at start, with
the configuration's controls. A control the camera does not advertise is left out (picamera2
would refuse the whole dict), with a warning.
"""

from __future__ import annotations

import logging
from typing import Any

from focusd.config.schema import ExposureConfig

log = logging.getLogger("focusd.camera")

#: EXIF's reading of the analogue gain as ISO (focusd.capture.files.ISO_PER_GAIN): gain = iso / 100
ISO_PER_GAIN = 100.0


def _enum_values() -> tuple[dict[str, Any], dict[str, Any]]:
    """exposure.awb and exposure.metering words -> the binding's enum members."""
    from libcamera import controls  # deferred: a device library (with picamera2, only on a Pi)

    awb = {"auto": controls.AwbModeEnum.Auto, "incandescent": controls.AwbModeEnum.Incandescent,
           "tungsten": controls.AwbModeEnum.Tungsten, "fluorescent": controls.AwbModeEnum.Fluorescent,
           "indoor": controls.AwbModeEnum.Indoor, "daylight": controls.AwbModeEnum.Daylight,
           "cloudy": controls.AwbModeEnum.Cloudy}
    metering = {"centre": controls.AeMeteringModeEnum.CentreWeighted, "spot": controls.AeMeteringModeEnum.Spot,
                "matrix": controls.AeMeteringModeEnum.Matrix}
    return awb, metering


def fixed_values(exposure: ExposureConfig) -> dict[str, Any]:
    """ExposureTime and AnalogueGain as configured: the fixed value, or 0 for auto exposure's."""
    return {"ExposureTime": 0 if exposure.shutter_us is None else int(round(exposure.shutter_us)),
            "AnalogueGain": 0.0 if exposure.iso is None else float(exposure.iso) / ISO_PER_GAIN}


def exposure_controls(exposure: ExposureConfig, camera_controls: dict[str, Any]) -> dict[str, Any]:
    """The start controls for ``exposure``, limited to what ``camera_controls`` (picamera2's
    ``camera_controls``: name -> (min, max, default)) advertises; a fixed gain is clamped to the
    camera's AnalogueGain range (with a warning)."""
    awb, metering = _enum_values()
    fixed = {name: value for name, value in fixed_values(exposure).items() if value}  # nothing to say for "auto"
    wanted: dict[str, Any] = {"AeEnable": bool(exposure.auto), **fixed, "AwbMode": awb[exposure.awb]}
    if exposure.auto:
        wanted["ExposureValue"] = float(exposure.compensation_ev)
        wanted["AeMeteringMode"] = metering[exposure.metering]
    if "AnalogueGain" in wanted and "AnalogueGain" in camera_controls:
        low, high = (float(v) for v in camera_controls["AnalogueGain"][:2])
        gain = min(max(wanted["AnalogueGain"], low), high)
        if gain != wanted["AnalogueGain"]:
            log.warning("exposure.iso = %g is outside the camera's analogue gain %g-%g: ISO %g used", exposure.iso,
                        low, high, gain * ISO_PER_GAIN)
            wanted["AnalogueGain"] = gain
    missing = [name for name in wanted if name not in camera_controls]
    if missing:
        log.warning("the camera does not advertise %s: [exposure] set without them", ", ".join(missing))
    return {name: value for name, value in wanted.items() if name in camera_controls}


def hold_controls(held: bool, metadata: dict[str, Any] | None, exposure: ExposureConfig | None = None) -> dict[str, Any]:
    """The controls that hold (``held``) or release the exposure of the frame whose metadata is
    ``metadata``. Releasing goes back to the configured exposure (``exposure``, default auto):
    auto exposure on if it is configured on, the fixed time and gain (or 0, auto exposure's)
    again. Holding without a frame yet gives no controls (nothing to hold)."""
    if held:
        if not metadata or "ExposureTime" not in metadata:
            return {}
        return {"AeEnable": False, "ExposureTime": int(metadata["ExposureTime"]),
                "AnalogueGain": float(metadata.get("AnalogueGain", 1.0))}
    exposure = exposure or ExposureConfig()
    return {"AeEnable": bool(exposure.auto), **fixed_values(exposure)}
