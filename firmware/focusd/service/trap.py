"""Trap focus on the camera thread: the detector fed with every frame while armed, and the peak
frame's image kept until it fires.

Why this is its own collaborator: the trap needs the frame (the AF window's focus measure, the
image of the frame that may become the capture), the lens estimate (a frame that may mix lens
positions is not measured) and the armed plane, none of which the pure controller has. The daemon
tells it when the controller arms or disarms, feeds it every frame, and carries out what it
returns: the events, and a fire (:class:`Sprung`) that the controller turns into the capture.

The capture is the **peak frame** itself, not the frame after the fire: the detector knows the
peak only once the sharpness has fallen for a few frames, by which time a subject at 3 D/s has
moved on by more than the 0.2 D the trap promises. So while the trap is armed and the sharpness is
near a rise, the image (``main_image()``, a copy) of each frame that may become the peak is kept,
with its metadata and the lens estimate of its exposure (focusd.trap's ``wanted``: at most two
images at a time; none on a still scene far from a rise). With
``camera.full_resolution_captures`` the trap still writes that kept stream image: a mode switch
after the fire would show a later moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from focusd.af.measure import FocusMeasure
from focusd.hw.base import CameraFrame
from focusd.lens_estimate import ExposedLens, LensEstimate
from focusd.trap import TrapDetector, TrapFire

log = logging.getLogger("focusd.daemon")

#: D: how close to the last command the lens must be (over the whole exposure) to count as still
STILL_TOLERANCE = 0.02


def lens_still(estimate: LensEstimate, sequence: int, commanded: float | None) -> bool:
    """Whether frame ``sequence`` was exposed with the lens at one position, the one it will stay
    at (the last command, if any): a frame that may mix positions, or of a lens still on its way
    after the AF-ON release, is not a measure of the armed plane."""
    exposed = estimate.exposed(sequence)
    if exposed is None or exposed.moving:
        return False
    return commanded is None or abs(exposed.position - commanded) <= STILL_TOLERANCE


@dataclass(frozen=True)
class KeptFrame:
    """A frame that may become the trap's capture: a copy of its image and what its journal line
    needs (the buffer itself went back to the camera long ago)."""

    frame: CameraFrame  #: its metadata, with a copy of the image behind ``main_image``
    exposed: ExposedLens | None


@dataclass(frozen=True)
class Sprung:
    """An outcome: the trap fired. ``kept`` is the peak frame (the capture)."""

    press_id: int
    plane: float
    fire: TrapFire
    kept: KeptFrame
    time_ns: int


def keep(frame: CameraFrame, exposed: ExposedLens | None) -> KeptFrame:
    """A copy of ``frame`` that outlives its buffer: the main image copied now."""
    image = frame.main_image()
    copy = CameraFrame(y=np.array(frame.y, copy=True), sequence=frame.sequence, lens_position=frame.lens_position,
                       timestamp_ns=frame.timestamp_ns, exposure_time_us=frame.exposure_time_us,
                       analogue_gain=frame.analogue_gain, frame_duration_us=frame.frame_duration_us,
                       metadata=dict(frame.metadata), grab_main=lambda: image)
    return KeptFrame(copy, exposed)


class TrapWatch:
    """The armed trap's state on the camera thread (see the module docstring)."""

    def __init__(self, window: tuple[float, float, float, float]):
        self.window = tuple(window)
        self.detector = TrapDetector()
        self.press_id: int | None = None  #: the press that armed it; None: not armed
        self.plane: float | None = None  #: D: where the lens was when armed (the metadata's)
        self.images_kept = 0  #: image copies made (each costs a main-image copy on the camera thread)
        self._measure = FocusMeasure(self.window)
        self._kept: dict[int, KeptFrame] = {}

    @property
    def armed(self) -> bool:
        return self.press_id is not None

    def arm(self, press_id: int, plane: float, window: tuple[float, float, float, float]) -> None:
        """Armed by press ``press_id`` with the lens at ``plane`` D, watching ``window``."""
        if tuple(window) != self.window:
            self.window = tuple(window)
            self._measure = FocusMeasure(self.window)
        self.press_id, self.plane = press_id, float(plane)
        self.detector.reset()
        self._kept = {}

    def disarm(self) -> None:
        self.press_id = self.plane = None
        self._kept = {}

    def frame(self, frame: CameraFrame, estimate: LensEstimate, commanded: float | None) -> Sprung | None:
        """One frame while armed (nothing when not armed). The fire when this frame shows the
        sharpness has fallen from its peak."""
        if not self.armed:
            return None
        still = lens_still(estimate, frame.sequence, commanded)
        fire = self.detector.frame(frame.sequence, self._measure(frame.y).focus, still)
        wanted = self.detector.wanted
        if frame.sequence in wanted and frame.sequence not in self._kept:
            self._kept[frame.sequence] = keep(frame, estimate.exposed(frame.sequence))
            self.images_kept += 1
        if fire is None:
            self._kept = {s: k for s, k in self._kept.items() if s in wanted}
            return None
        kept = self._kept.get(fire.peak_sequence)
        press_id, plane = self.press_id, self.plane
        self.disarm()  # once per arming: the controller re-arms on the next press only
        if kept is None:  # (cannot happen: the detector names only frames it asked to keep)
            log.error("trap fired on frame %d, whose image was not kept", fire.peak_sequence)
            return None
        return Sprung(press_id, plane, fire, kept, frame.timestamp_ns)
