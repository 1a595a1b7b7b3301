"""The lens path: where libcamera's Raspberry Pi IPA puts the lens when focusd writes LensPosition.

focusd drives the lens in AfMode Manual by writing ``LensPosition`` with a request. What the IPA
then does is not "move there": it is a slew-limited state machine, transcribed here from
libcamera's Raspberry Pi IPA (``src/ipa/rpi/controller/rpi/af.cpp`` and
``src/ipa/rpi/common/ipa_base.cpp``; see docs/lens-path.md for the lines and what follows):

- ``Af::setLensPosition`` (each write, applied in ``IpaBase::applyControls`` when the request
  carrying it reaches ``prepareIsp``) sets ``ftarget_`` and calls ``updateLensPosition``, which
  moves the IPA's lens state ``fsmooth_`` at most ``maxSlew`` dioptres towards it (imx708 tuning,
  normal speed: 1.5 D; af.cpp's default where a tuning gives none: 2.0 D); the driver is written
  with that slewed state.
- ``Af::prepare`` runs ``updateLensPosition`` again, so the rest of a long move is made one
  ``maxSlew`` at a time, but only on the frames where the IPA's controller runs:
  ``IpaBase::prepareIsp`` skips frames whose timestamp is closer than 0.9 x 1/30 s to the last
  run (``controllerMinFrameDuration``). At 120 fps that is every 4th frame, at 56 fps every 2nd.
- Writing the same target again with a later request continues the slew (each write is another
  ``updateLensPosition``); a write whose target equals the state changes nothing.
- The ``LensPosition`` in a frame's metadata is ``fsmooth_`` as ``fillDeviceStatus`` reads it,
  right after that request's controls were applied and before ``prepare`` runs: neither the
  target nor where the lens was while the frame was exposed.

``IpaLens`` is that state machine, ``ControllerClock`` the rate limit, and ``LensPath`` what the
rest of focusd needs to know about the path of one camera: the latency a command takes, the slew
per write and how often the controller runs. Pure: no clock, no threads, no hardware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: ipa_base.cpp ``controllerMinFrameDuration``: the controller's algorithms run at most at 30 Hz
CONTROLLER_MIN_FRAME_DURATION_S = 1.0 / 30.0
#: ipa_base.cpp: "Allow a 10% margin on the comparison below" (delta < min duration * 0.9 skips)
CONTROLLER_MARGIN = 0.9
#: af.cpp ``SpeedDependentParams`` default ``maxSlew`` where a tuning file gives none, dioptres
DEFAULT_MAX_SLEW = 2.0


def controller_period_frames(fps: float) -> int:
    """Every how many frames the IPA's controller runs at a steady ``fps`` (ipa_base.cpp): the
    smallest whole number of frame durations that is at least 0.9 x 1/30 s."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    limit = CONTROLLER_MIN_FRAME_DURATION_S * CONTROLLER_MARGIN
    return max(1, math.ceil(limit * fps - 1e-9))


class IpaLens:
    """af.cpp's lens state in AfMode Manual: ``fsmooth_`` (``position``) and ``ftarget_``
    (``target``). ``max_slew`` None models a lens driven directly (an I2C VCM): no slew limit."""

    def __init__(self, position: float, max_slew: float | None, lens_range: tuple[float, float]):
        self.low, self.high = (float(v) for v in lens_range)
        self.max_slew = None if max_slew is None else float(max_slew)
        self.position = self._clamp(position)
        self.target = self.position

    def _clamp(self, dioptres: float) -> float:
        # setLensPosition: cfg_.map.domain().clamp(dioptres)
        return min(max(float(dioptres), self.low), self.high)

    def _slew(self) -> None:
        # updateLensPosition: fsmooth_ = clamp(ftarget_, fsmooth_ - maxSlew, fsmooth_ + maxSlew)
        if self.max_slew is None:
            self.position = self.target
        else:
            self.position = min(max(self.target, self.position - self.max_slew), self.position + self.max_slew)

    def write(self, dioptres: float) -> bool:
        """A request's ``LensPosition`` (Af::setLensPosition); True if the driver is written
        (af.cpp: ``changed = !(initted_ && fsmooth_ == ftarget_)``)."""
        self.target = self._clamp(dioptres)
        changed = self.position != self.target
        self._slew()
        return changed

    def controller_run(self) -> bool:
        """The controller's ``Af::prepare`` on this frame; True if the lens state moved."""
        before = self.position
        self._slew()
        return self.position != before


class ControllerClock:
    """Which frames the IPA's controller runs on (ipa_base.cpp ``prepareIsp``): the first, then
    each one whose timestamp is at least 0.9 x 1/30 s after the last run."""

    def __init__(self) -> None:
        self._last_run_ns: int | None = None

    def runs(self, timestamp_ns: int) -> bool:
        limit_ns = CONTROLLER_MIN_FRAME_DURATION_S * CONTROLLER_MARGIN * 1e9
        if self._last_run_ns is not None and timestamp_ns - self._last_run_ns < limit_ns:
            return False
        self._last_run_ns = int(timestamp_ns)
        return True


@dataclass(frozen=True)
class LensPath:
    """How a lens command travels on one camera: what the engine plans with, and what the
    simulator models as the truth (each built from its own numbers: the engine's are what it is
    told, the simulator's what it is)."""

    latency_frames: int
    """A command returned for frame n reaches the IPA with the request of frame n + latency and is
    first seen (at least in part) in frame n + latency + 1 (docs/design.md, "The latency contract")."""
    max_slew: float | None = 1.5
    """D the IPA moves its lens state per write and per controller run (None: not limited)."""
    controller_period: int = 1
    """Frames between two runs of the IPA's controller (2 at 56 fps, 4 at 120 fps)."""
    lens_range: tuple[float, float] | None = None
    """Dioptres the lens is driven within (the AF range of the profile within the camera's own)."""

    @classmethod
    def for_profile(cls, profile, latency_frames: int, fps: float | None = None) -> "LensPath":
        """The path of a profile's lens at ``fps`` (default: its focusing mode's rate)."""
        rate = profile.mode().fps if fps is None else fps
        libcamera = profile.lens_driver == "libcamera"
        return cls(int(latency_frames), profile.max_slew if libcamera else None,
                   controller_period_frames(rate) if libcamera else 1)

    def frames_to_reach(self, distance: float, rewrite: bool) -> int:
        """Writes (frames) until the IPA's state has moved ``distance`` D: one write takes
        max_slew, each later frame another one if the write is repeated (``rewrite``), else only
        on controller runs (at worst a whole period after the write)."""
        if self.max_slew is None or distance <= self.max_slew:
            return 1
        rest = math.ceil(distance / self.max_slew - 1e-9) - 1
        return 1 + (rest if rewrite else rest * self.controller_period)
