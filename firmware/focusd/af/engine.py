"""focusd's autofocus engine: a latency-aware hill-climbing contrast AF on the lores stream.

How it works (in the manner of libcamera's rpi af.h, which it replaces for AF-ON):

Each lores frame gives one focus measure on the AF window (focusd.af.measure: gradient energy at
one-pixel spacing, normalised by the window's brightness). From the two first frames, which are
exposed before any command can have reached the lens, the engine also measures the part of that
measure that is sensor noise (their difference holds only noise) and subtracts it, so what it climbs
is the scene's own contrast; a scene whose contrast does not rise clearly above the noise (dark,
featureless) ends FAILED instead of locking on noise.

The scan (focusd.af.scan) starts where the lens is (not at infinity) and keeps the lens moving
every frame. Phases, in order (focusd.af.phase.Phase):

PRIME: the first two frames (exposed before any command can reach the lens) give the noise. The
first move goes towards where subjects usually are (likely_position: from nearer than ~0.7 m it
looks further first, and vice versa) and is held for one frame.

CLIMB: a command answering frame n is only seen in frame n + latency + 1, so every frame's measure
is attributed to the position the lens had while that frame was exposed (focusd.af.search.
LensHistory), never to the position in its metadata. The held first move settles the latency the
data shows (the first frame that changed, checked against the held one: a frame early or late
is caught here) and how much of a frame a move blurs (the motion blend). While the log of the
measure rises at a steady rate (a flank) the step grows towards max_step; once the rise slows (the
top is within about a half-width) it drops to fine_step. If the measure keeps falling from the
start the scan turns round past its start. The peak counts as passed once the measure has fallen
clearly (pass_drop, never less than the noise allows) pass_margin beyond the best sample; then
1/measure is fitted with a parabola (a Lorentzian focus curve) over the samples around the best.

RETURN: where the climb's samples leave the top unknown (no sample within known_gap of the fitted
peak on a side), a probe refine_step beyond it on that side (held a frame after a long jump, whose
first frame saw the whole way); the lens goes on to the fitted peak at once, without waiting to
see the probes, and the refit with them moves it only if it differs by more than trim_limit. The
jump back from the overshoot also checks the latency again (the frame at which the measure steps
up is the arrival). If a frame still in flight when the climb turned back was clearly sharper than
the peak (two subjects), the climb goes on from there.

ARRIVE: FOCUSED is reported only once a frame exposed at the final position has been seen (a
focus-priority shutter fires on it, and takes the next frame) and is sharp: at least
confirm_ratio of the sharpest seen; if not, the scan starts again once, then fails. That frame is
a sample too: the refit with it may trim the lock by up to trim_limit (sent with the lock: inside
the depth of field) or, beyond that, send the lens there and look again, once.

FAILED (too dark, contrast below the noise, no peak in range, no confirmation, or max_frames spent)
commands the fallback position once and then leaves the lens alone. SINGLE mode stays locked or failed until the
next start(). CONTINUOUS mode (focusd.af.continuous) watches the measure and the scene's coarse
brightness pattern after the lock: a change that persists for retrigger_frames starts either a
servo (a small change: the lens dithers around the subject with small steps and follows it, with
its velocity predicted across the latency) or, for a large change, a new scan from where the lens
is. A static scene never moves the lens.

The engine is pure and frame-driven: no threads, no clock, no hardware; the same frames give the
same targets. One debug line per frame goes to the "focusd.af" logger.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from focusd.af.continuous import Monitor, Servo
from focusd.af.measure import FocusMeasure, Measurement
from focusd.af.phase import STATE_OF_PHASE, Phase
from focusd.af.arrive import Arrive
from focusd.af.scan import Scan
from focusd.af.tuning import AfTuning
from focusd.af.types import AfMode, AfState, Frame
from focusd.errors import ConfigError

log = logging.getLogger("focusd.af")


@dataclass
class AfStatistics:
    """What the benchmark reads after a run (all since the last start())."""

    frames: int = 0  #: frames given to update()
    frames_to_result: int | None = None  #: frames from start() to the first FOCUSED or FAILED
    travel: float = 0.0  #: dioptres: sum of |command - previous command|
    reversals: int = 0  #: changes of direction of the commanded lens position
    commands: int = 0  #: lens commands returned
    latency_estimate: float | None = None  #: frames: the latency the last scan's data agreed with
    scans: int = 0  #: scans run (the first and each full re-scan)


class AutofocusEngine(Scan, Arrive):
    """See the module docstring. Construct with the AF range, the told latency and any tuning."""

    def __init__(self, lens_range: tuple[float, float] = (0.0, 12.0), latency_frames: int = 2,
                 tuning: AfTuning | None = None, **overrides):
        low, high = (float(v) for v in lens_range)
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
            raise ConfigError("af.range", f"lens range {lens_range} must be 0 <= low < high dioptres")
        if not (isinstance(latency_frames, int) and 0 <= latency_frames <= 30):
            raise ConfigError("af.lens_latency_frames", f"{latency_frames!r} is not 0-30 frames")
        unknown = set(overrides) - set(AfTuning.names())
        if unknown:
            raise ConfigError(f"af.{min(unknown)}", "unknown tuning name")
        if "window" in overrides and overrides["window"] is not None:
            overrides["window"] = tuple(float(v) for v in overrides["window"])
        elif "window" in overrides:
            del overrides["window"]
        self.tuning = replace(tuning or AfTuning(), **overrides)
        self.lens_range = (low, high)
        self.latency_frames = latency_frames
        self._measure = FocusMeasure(self.tuning.window, self.tuning.measure)
        self.phase = Phase.IDLE
        self.mode = AfMode.SINGLE
        self.failure_reason: str | None = None
        self.lock_position: float | None = None
        self.statistics = AfStatistics()
        self._lens = low  # the last position commanded (or the start)
        self._origin = low
        self._previous_move = 0.0
        self._monitor: Monitor | None = None
        self._servo: Servo | None = None
        self._reset_scan(low)

    # ------------------------------------------------------------------------------ public

    @property
    def state(self) -> AfState:
        return STATE_OF_PHASE[self.phase]

    @property
    def window(self) -> tuple[float, float, float, float]:
        return self._measure.window

    @window.setter
    def window(self, value: tuple[float, float, float, float]) -> None:
        self.tuning = replace(self.tuning, window=tuple(float(v) for v in value))
        self._measure = FocusMeasure(self.tuning.window, self.tuning.measure)

    def start(self, mode: AfMode, lens_position: float) -> None:
        """Start focusing from ``lens_position`` (where the lens is now), in ``mode``."""
        self.mode = AfMode(mode)
        start = self._clamp(float(lens_position)) if math.isfinite(lens_position) else self.lens_range[0]
        self._lens = start
        self._previous_move = 0.0
        self.statistics = AfStatistics()
        self.failure_reason = None
        self.lock_position = None
        self._monitor = self._servo = None
        self._retries = 0
        self._origin = start  # where AF-ON found the lens: the fallback "start"
        self._begin_scan(start, noise=None)
        log.debug("af start %s at %.3f D range %.2f-%.2f latency %d", self.mode.name, start,
                  *self.lens_range, self.latency_frames)

    def stop(self) -> None:
        """Stop: the lens stays where it is (no further commands)."""
        self.phase = Phase.IDLE
        self._monitor = self._servo = None
        log.debug("af stop at %.3f D", self._lens)

    def update(self, frame: Frame) -> float | None:
        """Feed one lores frame; returns a lens position to command now, or None."""
        if self.phase is Phase.IDLE:
            return None
        before = self.phase
        measurement = self._measure(frame.y)
        self._measurement = measurement  # this frame's, for the stages that finish inside it
        self.statistics.frames += 1
        sequence = int(frame.sequence)
        handler = {
            Phase.PRIME: self._prime, Phase.CLIMB: self._climb, Phase.RETURN: self._return,
            Phase.ARRIVE: self._arrive, Phase.LOCKED: self._locked, Phase.SERVO: self._follow,
            Phase.FAILED: self._failed,
        }[self.phase]
        target = handler(sequence, measurement)
        # the first result comes within max_frames of start() (retries included), and every later
        # scan of continuous AF ends within max_frames of its own start
        limit = self.tuning.max_frames
        if self.phase in (Phase.PRIME, Phase.CLIMB, Phase.RETURN, Phase.ARRIVE) and (
                self.statistics.frames - self._scan_began_at >= limit
                or (self.statistics.frames_to_result is None and self.statistics.frames >= limit)):
            target = self._fail("timeout: no peak found within max_frames")
        target = self._issue(sequence, target)
        if STATE_OF_PHASE[self.phase] in (AfState.FOCUSED, AfState.FAILED) and self.statistics.frames_to_result is None:
            self.statistics.frames_to_result = self.statistics.frames
        log.debug("af frame %d %s%s lens %.3f measure %.5g level %.1f target %s", sequence, before.name,
                  f"->{self.phase.name}" if self.phase is not before else "", frame.lens_position,
                  measurement.focus, measurement.level, "-" if target is None else f"{target:.3f}")
        return target

    # ------------------------------------------------------------------------------ commands

    def _clamp(self, position: float) -> float:
        low, high = self.lens_range
        return min(max(position, low), high)

    def _issue(self, sequence: int, target: float | None) -> float | None:
        if target is None or not math.isfinite(target):
            return None
        target = self._clamp(float(target))
        move = target - self._lens
        if abs(move) < 1e-9:
            return None
        if self._previous_move and move * self._previous_move < 0:
            self.statistics.reversals += 1
        self._previous_move = move
        self.statistics.travel += abs(move)
        self.statistics.commands += 1
        self._lens = target
        self._history.command(sequence, target)
        return target

    # ------------------------------------------------------------------------------ results

    def _lock(self, measurement: Measurement) -> None:
        self.phase = Phase.LOCKED
        self.lock_position = self._lens
        self.failure_reason = None
        if self.mode is AfMode.CONTINUOUS:
            self._monitor = Monitor(self.tuning, self._signal(measurement), measurement.blocks,
                                    width=self._fit.width if self._fit is not None else math.inf)

    def _fail(self, reason: str) -> float:
        self.failure_reason = reason
        self.phase = Phase.FAILED
        self.lock_position = None
        fallback = self.tuning.fallback
        if fallback == "start":
            target = self._origin
        elif fallback == "hyperfocal":
            target = self.tuning.hyperfocal
        elif fallback == "infinity":
            target = self.lens_range[0]
        else:
            target = float(fallback)
        log.debug("af failed: %s; lens to fallback %.3f D", reason, target)
        self._monitor = None
        if self.mode is AfMode.CONTINUOUS:
            self._failed_blocks: np.ndarray | None = None
        return self._clamp(target)

    # ------------------------------------------------------------------------------ after a result

    def _failed(self, sequence: int, measurement: Measurement) -> float | None:
        """FAILED: single mode stays; continuous mode re-scans after a sustained scene change."""
        if self.mode is not AfMode.CONTINUOUS:
            return None
        if self._monitor is None:
            self._monitor = Monitor(self.tuning, max(measurement.focus, 1e-12), measurement.blocks,
                                    width=math.inf, watch_focus=False)
            return None
        if self._monitor.update(measurement.focus, measurement.blocks) is not None:
            self._retries = 0
            self._begin_scan(self._lens, noise=None)
        return None

    def _locked(self, sequence: int, measurement: Measurement) -> float | None:
        if self.mode is not AfMode.CONTINUOUS or self._monitor is None:
            return None
        change = self._monitor.update(self._signal(measurement), measurement.blocks)
        if change is None:
            return None
        if change == "small" and math.isfinite(self._monitor.width):
            self._servo = Servo(self.tuning, self._history, self._lens, self._monitor.width,
                                self.latency_frames if self.statistics.latency_estimate is None
                                else self.statistics.latency_estimate)
            self.phase = Phase.SERVO
            log.debug("af small change: following")
            return self._servo.first_command(sequence)
        log.debug("af scene changed: rescanning")
        self._retries = 0
        self._begin_scan(self._lens, noise=self._noise)
        return None

    def _follow(self, sequence: int, measurement: Measurement) -> float | None:
        servo = self._servo
        assert servo is not None
        target = servo.update(sequence, self._signal(measurement))
        if servo.result == "settled":
            self.phase = Phase.LOCKED
            self.lock_position = self._lens
            self._monitor = Monitor(self.tuning, servo.settled_value, measurement.blocks,
                                    width=servo.width)
            return servo.settled_position
        if servo.result == "lost":
            log.debug("af servo lost the subject: rescanning")
            self._retries = 0
            self._begin_scan(self._lens, noise=self._noise)
            return None
        return target
