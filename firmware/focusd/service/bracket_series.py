"""The focus-bracketing sequencer, on the camera thread: one series of shots, plane after plane.

A collaborator of the daemon (docs/bracketing.md, "The sequencer"). :meth:`BracketSeries.start`
arms a series; from the next frame on, :meth:`BracketSeries.frame` plans it from the lock
(focusd.bracket.plan_for): the last lens position commanded by anything but a series (the
autofocus, focus recall), so that a series after a series starts from the same lock rather than
from the last plane (the lens goes back first); it holds the exposure
(``Camera.hold_exposure``) and, frame by frame:

1. commands the lens towards the plane through ``FocusDriver.move_lens`` (the only way to command
   it), at most the lens path's ``max_slew`` from the last command per frame, so that each write
   lands whole in the IPA's slew-limited state (docs/lens-path.md, section 1) and the estimate of
   where the lens is stays right whether it rests on the metadata or on the commands;
2. once the plane is commanded, waits for the first frame that ``LensEstimate.exposed`` says was
   exposed wholly at it: not moving, every state the exposure may have seen within
   ``PLANE_TOLERANCE_D`` of the plane;
3. asks for a :class:`~focusd.capture.order.Capture` of exactly that frame (due at its own start
   of exposure, handed to the capture path in the same frame) and commands the next plane (with
   ``camera.full_resolution_captures``, whose capture is a mode switch after the frame, at the
   next frame: the lens never moves while that capture is exposed).

It never calls into the daemon: each call returns outcomes (:class:`Started`, :class:`Shot`,
:class:`Finished`) that the daemon carries out (queue the capture, publish the events, tell the
controller). The exposure is released when the series ends, however it ends: all planes shot
(``done``, or ``clipped`` when the lens range cut the plan short), a press (``stopped``), a camera
fault or a plane the lens never settled at (``fault``), or the daemon stopping (``stopped``).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from focusd.bracket import BracketPlan, plan_for
from focusd.capture.order import Capture, SeriesShot
from focusd.errors import CameraError
from focusd.hw.base import Camera, CameraFrame
from focusd.lens_estimate import ExposedLens
from focusd.service import events as ev

log = logging.getLogger("focusd.daemon")

#: D: a frame is "at the plane" when every lens state its exposure may have seen is this close to it
PLANE_TOLERANCE_D = 0.01
#: D: a last command this close to the plane is the plane (the plan rounds to 1e-6 D): no new write
SAME_PLANE_D = 1e-5
#: frames a plane may take (from its first command to its shot) before the series ends as a fault
MAX_FRAMES_PER_SHOT = 60
#: the journal's ``reason`` of a series' shot
REASON = "bracket"
#: the ``press_id`` of a series' shots: they belong to no press
PRESS_ID = 0


@dataclass(frozen=True)
class Started:
    number: int  #: the series' number in this run (the capture writer names its folder)
    plan: BracketPlan
    start: float  #: the lens position the plan starts from (the lock), dioptres
    direction: str
    time_ns: int


@dataclass(frozen=True)
class Shot:
    capture: Capture  #: of exactly the frame handed to ``frame``: queue it before the frame's captures are taken
    exposed: ExposedLens
    frames: int  #: frames this plane took, from the one after the last shot (or the start) to its shot
    sequence: int  #: the frame's


@dataclass(frozen=True)
class Finished:
    number: int
    reason: str  #: "done" | "clipped" | "stopped" | "fault"
    shots: int  #: shots asked for
    planned: int  #: planes in the plan
    detail: str  #: what stopped it ("shutter pressed", the camera's error, ...); "" when done
    time_ns: int


Outcome = Started | Shot | Finished


class BracketSeries:
    """At most one series at a time. ``focus`` is the daemon's FocusDriver (the lens and its
    estimate), ``settings`` the ``[bracket]`` section, ``profile`` the camera profile (optics)."""

    def __init__(self, settings, profile, camera: Camera, focus, full_resolution: bool = False):
        self.settings = settings  #: [bracket]; a reload applies from the next series
        self.profile = profile
        self.camera = camera
        self.focus = focus
        #: camera.full_resolution_captures: the shot is a mode switch after its frame, so the next
        #: plane is commanded a frame later (never while that capture is exposed)
        self.full_resolution = full_resolution
        self.number = 0  #: series started in this run
        self._armed = False
        self._plan: BracketPlan | None = None
        self._index = 0  #: the plane being shot
        self._frames = 0  #: frames the plane has taken so far
        self._last_command: float | None = None
        self._held = False
        self._lock: float | None = None  #: where the last series started
        self._left_at: float | None = None  #: where the last series left the lens (its last command)

    @property
    def running(self) -> bool:
        """A series is armed or running: the daemon hands it every frame."""
        return self._armed or self._plan is not None

    def start(self) -> None:
        """Arm a series: it is planned at the next frame (where the lens is then)."""
        if not self.running:
            self._armed = True

    def stop(self, reason: str, detail: str, time_ns: int) -> list[Outcome]:
        """End the series now (a press, a fault, shutdown); nothing if none runs."""
        if not self.running:
            return []
        if self._plan is None:  # armed, never planned: nothing was held or shot
            self._armed = False
            return []
        return [self._finish(reason, detail, time_ns)]

    def frame(self, frame: CameraFrame) -> list[Outcome]:
        """Per frame, after ``focus.observe(frame)`` and before the frame's captures are taken."""
        outcomes: list[Outcome] = []
        if self._armed:
            outcomes.append(self._begin(frame))
        if self._plan is None:
            return outcomes
        self._frames += 1
        plane = self._plan.planes[self._index]
        if self._last_command is not None and abs(self._last_command - plane) > SAME_PLANE_D:
            self._command_towards(plane, frame)
        else:
            exposed = self.focus.lens_estimate.exposed(frame.sequence)
            if at_plane(exposed, plane):
                outcomes.append(self._shoot(frame, plane, exposed))
                if self._index >= len(self._plan.planes):
                    reason = "clipped" if self._plan.clipped else "done"
                    outcomes.append(self._finish(reason, "", frame.timestamp_ns))
                    return outcomes
                if not self.full_resolution:
                    self._command_towards(self._plan.planes[self._index], frame)
                return outcomes
        if self._frames >= MAX_FRAMES_PER_SHOT:
            outcomes.append(self._finish("fault", f"the lens did not settle at {plane:.3f} D within "
                                         f"{MAX_FRAMES_PER_SHOT} frames", frame.timestamp_ns))
        return outcomes

    # ------------------------------------------------------------------------------ internals

    def _begin(self, frame: CameraFrame) -> Started:
        self._armed = False
        here = self.focus.commanded
        if here is not None and self._left_at is not None and abs(here - self._left_at) <= SAME_PLANE_D:
            start = self._lock  # nothing moved the lens since the last series: its lock still holds
        else:
            start = here if here is not None else float(frame.lens_position)
        self._lock = start
        self._plan = plan_for(self.profile, self.settings, start)
        self.number += 1
        self._index, self._frames = 0, 0
        self._last_command = self.focus.commanded
        self._hold(True)
        log.info("bracketing series %d: %d planes from %.3f D towards %s, step %.3f D%s", self.number,
                 len(self._plan.planes), start, self.settings.direction, self._plan.step,
                 " (clipped by the lens range)" if self._plan.clipped else "")
        return Started(self.number, self._plan, start, self.settings.direction, frame.timestamp_ns)

    def _command_towards(self, plane: float, frame: CameraFrame) -> None:
        """One write per frame, at most max_slew from the last: each lands whole in the IPA's state."""
        here = self._last_command if self._last_command is not None else float(frame.lens_position)
        slew = self.focus.lens_path.max_slew
        target = plane if slew is None else min(max(plane, here - slew), here + slew)
        self.focus.move_lens(target, frame)
        self._last_command = target

    def _shoot(self, frame: CameraFrame, plane: float, exposed: ExposedLens) -> Shot:
        planes = len(self._plan.planes)
        self._index += 1
        shot = SeriesShot(self.number, self._index, plane, planes)
        capture = Capture(PRESS_ID, frame.timestamp_ns, frame.timestamp_ns, REASON, self._index - 1, None, shot)
        frames, self._frames = self._frames, 0
        return Shot(capture, exposed, frames, frame.sequence)

    def _finish(self, reason: str, detail: str, time_ns: int) -> Finished:
        finished = Finished(self.number, reason, self._index, len(self._plan.planes), detail, time_ns)
        self._plan = None
        self._left_at = self._last_command
        self._hold(False)
        log.info("bracketing series %d %s: %d of %d shots%s", finished.number, reason, finished.shots,
                 finished.planned, f" ({detail})" if detail else "")
        return finished

    def _hold(self, held: bool) -> None:
        if held == self._held:
            return
        self._held = held
        with contextlib.suppress(CameraError):  # a failed camera: its exposure goes with it
            self.camera.hold_exposure(held)


def at_plane(exposed: ExposedLens | None, plane: float, tolerance: float = PLANE_TOLERANCE_D) -> bool:
    """The frame was exposed wholly at ``plane``: the lens did not move, and every state it may
    have seen is within ``tolerance`` of the plane (None: not known, so not)."""
    return (exposed is not None and not exposed.moving
            and abs(exposed.low - plane) <= tolerance and abs(exposed.high - plane) <= tolerance)


def bracket_event(outcome: Outcome) -> ev.Event:
    """The event an outcome publishes on the stream."""
    match outcome:
        case Started(number=number, plan=plan, start=start, direction=direction, time_ns=t):
            return ev.BracketStarted(number, plan.planes, start, direction, plan.depth_of_field, plan.step,
                                     plan.clipped, t)
        case Shot(capture=capture, exposed=exposed, frames=frames, sequence=sequence):
            shot = capture.series
            return ev.BracketShot(shot.number, shot.index, shot.plane, sequence, exposed.position, frames,
                                  capture.due_ns)
        case Finished(number=number, reason=reason, shots=shots, planned=planned, detail=detail, time_ns=t):
            return ev.BracketFinished(number, reason, shots, planned, detail, t)
    raise TypeError(f"not a bracketing outcome: {outcome!r}")
