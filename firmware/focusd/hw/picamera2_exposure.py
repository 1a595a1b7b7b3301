"""Exposure controls for the picamera2 adapter: the exposure lock (Camera.hold_exposure).

libcamera's controls (control_ids_core.yaml): ``AeEnable`` False freezes the AGC/AEC algorithm, and
with it the manual ``ExposureTime`` (microseconds) and ``AnalogueGain`` apply; ``AeEnable`` True
hands both back to it. picamera2 passes the dict to the next request (``Picamera2.set_controls``).
See docs/exposure.md.
"""

from __future__ import annotations

from typing import Any


def hold_controls(held: bool, metadata: dict[str, Any] | None, auto_exposure: bool = True) -> dict[str, Any]:
    """The controls that hold (``held``) or release the exposure of the frame whose metadata is
    ``metadata``. Releasing re-enables auto exposure only if it is configured on; holding without
    a frame yet gives no controls (nothing to hold)."""
    if held:
        if not metadata or "ExposureTime" not in metadata:
            return {}
        return {"AeEnable": False, "ExposureTime": int(metadata["ExposureTime"]),
                "AnalogueGain": float(metadata.get("AnalogueGain", 1.0))}
    return {"AeEnable": True} if auto_exposure else {}
