"""BurstExposureLock: holds the camera's exposure while a burst runs (``exposure.lock_in_bursts``),
so that every frame of a burst has the exposure time and gain of its first."""

from __future__ import annotations

from focusd.hw.base import Camera


class BurstExposureLock:
    """Follows whether a burst runs and holds or releases the exposure on each change."""

    def __init__(self, camera: Camera, enabled: bool):
        self.camera = camera
        self.enabled = enabled
        self.held = False

    def follow(self, bursting: bool) -> bool | None:
        """Tell of the burst state; returns the new hold (True/False) on a change, else None."""
        want = self.enabled and bursting
        if want == self.held:
            return None
        self.held = want
        self.camera.hold_exposure(want)
        return want
