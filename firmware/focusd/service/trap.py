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
images at a time; none on a still scene far from a rise; on the simulator the image is rendered
only when the capture asks, CameraFrame.keep_main). With
``camera.full_resolution_captures`` the trap still writes that kept stream image: a mode switch
after the fire would show a later moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from focusd.af.measure import FocusMeasure
from focusd.capture.order import Capture
from focusd.capture.path import CapturePath
from focusd.hw.base import CameraFrame
from focusd.lens_estimate import ExposedLens, LensEstimate
from focusd.service import events as ev
from focusd.service.trap_rows import ArmTrap, DisarmTrap, TrapTriggered
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

    def event(self) -> ev.TrapFired:
        return ev.TrapFired(self.press_id, self.plane, self.kept.frame.sequence, self.kept.frame.timestamp_ns,
                            round(self.fire.rise, 4), self.time_ns)

    def triggered(self) -> TrapTriggered:
        """What the controller is told (its capture is this peak frame)."""
        return TrapTriggered(self.press_id, self.kept.frame.timestamp_ns, self.time_ns)


def keep(frame: CameraFrame, exposed: ExposedLens | None) -> KeptFrame:
    """A copy of ``frame`` that outlives its buffer: its main image copied now (on the simulator,
    rendered when the capture asks: CameraFrame.keep_main)."""
    copy = CameraFrame(y=np.array(frame.y, copy=True), sequence=frame.sequence, lens_position=frame.lens_position,
                       timestamp_ns=frame.timestamp_ns, exposure_time_us=frame.exposure_time_us,
                       analogue_gain=frame.analogue_gain, frame_duration_us=frame.frame_duration_us,
                       metadata=dict(frame.metadata), grab_main=frame.keep_main())
    return KeptFrame(copy, exposed)


class TrapWatch:
    """The armed trap's state on the camera thread (see the module docstring)."""

    def __init__(self, window: tuple[float, float, float, float]):
        self.window = tuple(window)
        self.detector = TrapDetector()
        self.press_id: int | None = None  #: the press that armed it; None: not armed
        self.plane: float | None = None  #: D: where the lens was when armed (the metadata's)
        self.images_kept = 0  #: image copies made (each costs a main-image copy on the camera thread)
        self.most_held = 0  #: the most images held at once (the detector wants at most two)
        self.sprung: Sprung | None = None  #: the last fire, until its capture is taken
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

    def command(self, command: ArmTrap | DisarmTrap, frame: CameraFrame | None, commanded: float | None,
                window: tuple[float, float, float, float]) -> ev.TrapArmed | ev.TrapDisarmed:
        """Carry out the controller's ArmTrap or DisarmTrap; the event to publish. The plane is the
        last lens command (where the lens is or is arriving), else the frame's LensPosition."""
        if isinstance(command, DisarmTrap):
            self.disarm()
            return ev.TrapDisarmed(command.press_id, command.reason, command.time_ns)
        plane = commanded if commanded is not None else (frame.lens_position if frame is not None else float("nan"))
        self.arm(command.press_id, plane, window)
        log.info("trap armed at %.3f D", self.plane)
        return ev.TrapArmed(command.press_id, self.plane, command.time_ns)

    def take(self, capture: Capture, captures: CapturePath, af_state: str) -> None:
        """The controller's capture of the fire: the kept peak frame goes to the writer now."""
        sprung, self.sprung = self.sprung, None
        if sprung is None or sprung.press_id != capture.press_id:  # (cannot happen: it follows the fire)
            captures.queue(capture)
            return
        captures.take_kept(capture, sprung.kept.frame, sprung.kept.exposed, af_state, trap_plane=sprung.plane,
                           trap_rise=round(sprung.fire.rise, 4))

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
        if fire is None:
            wanted = self.detector.wanted  # what it no longer wants goes first: at most two held
            self._kept = {s: k for s, k in self._kept.items() if s in wanted}
            if frame.sequence in wanted:
                self._kept[frame.sequence] = keep(frame, estimate.exposed(frame.sequence))
                self.images_kept += 1
                self.most_held = max(self.most_held, len(self._kept))
            return None
        kept = self._kept.get(fire.peak_sequence)
        press_id, plane = self.press_id, self.plane
        self.disarm()  # once per arming: the controller re-arms on the next press only
        if kept is None:  # (cannot happen: the detector names only frames it asked to keep)
            log.error("trap fired on frame %d, whose image was not kept", fire.peak_sequence)
            return None
        log.info("trap fired: frame %d, %.2fx the sharpness when armed", fire.peak_sequence, fire.rise)
        self.sprung = Sprung(press_id, plane, fire, kept, frame.timestamp_ns)
        return self.sprung
