"""focusd's autofocus engine: a contrast AF on the lores stream for the lens path a Pi really drives.

How it works (in the manner of libcamera's rpi af.h, which it replaces for AF-ON):

Each lores frame gives one focus measure on the AF window (focusd.af.measure: gradient energy at
one-pixel spacing, normalised by the window's brightness), less the part of it that is sensor
noise (measured on the first two frames): what the scan compares is the scene's own contrast, and
a scene whose contrast does not stand clearly above the noise ends FAILED instead of locking on it.

The lens is libcamera's: a LensPosition write moves the IPA's lens state at most max_slew, the
state shows in the metadata of the frame whose request carried the write, and the glass moves at
a moment in the next frame that nobody knows, so a frame exposed meanwhile is a mix of positions.
So every frame is placed where the metadata says the lens was (focusd.af.track: the three lens
states its exposure may have seen), not where the told latency guesses; a frame exposed at one
position only (clean) is told apart from a mix; and no command moves the lens further
than max_slew, so each write lands whole. The told latency is used only where the metadata does
not follow the commands (a lens on I2C).

Phases, in order (focusd.af.state.Phase); each stage returns an outcome, and only this engine
changes the phase:

PRIME (focusd.af.sweep): two still frames give the noise.
SWEEP (focusd.af.sweep): 1 D steps from where the lens is, towards where subjects usually are
  first, each held until a frame is clean there (three frames, fewer once the scan's own frames
  show the glass arrives earlier), until a clean frame well past the sharpest measures clearly less
  and one on the way to it did too (the peak is bracketed); turning round once if it only falls.
PROBE (focusd.af.probe): clean samples probe_step apart in the gaps beside the sharpest, held
  like the steps, sent one after another (a gap still open beside the sharpest probe, wider than
  the top, once more); the peak is the Lorentzian fitted over the top.
ARRIVE (focusd.af.arrive): the lens goes to the peak; FOCUSED on the first clean frame there that
  measures close to the sharpest probe (the next frame, which a focus-priority shutter takes, is
  clean too); otherwise the sharpest probe itself, then a re-scan, then FAILED.

FAILED (too dark, no peak above the lowest measure and the noise in the whole range, no
confirmation, or max_frames spent) sends the lens to the fallback position and then leaves it
alone. SINGLE mode stays locked or failed until the next start(). CONTINUOUS mode
(focusd.af.continuous) watches the measure and the scene's coarse brightness pattern after the
lock: a change that persists for retrigger_frames consecutive frames starts either a servo (a small
change: the lens dithers around the subject and follows it) or, for a large change, a new scan
from where the lens is. A static scene never moves the lens.

The engine is pure and frame-driven: no threads, no clock, no hardware; the same frames give the
same targets. One debug line per frame goes to the "focusd.af" logger.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

from focusd.af.arrive import arrive
from focusd.af.continuous import WIDTH_BOUNDS, Monitor, Servo
from focusd.af.measure import FocusMeasure, Measurement
from focusd.af.probe import plan_probes, probe
from focusd.af.state import (STATE_OF_PHASE, Fail, GoTo, Lock, Move, Outcome, PeakPassed, Phase, Rescan, Sample,
                             ScanState)
from focusd.af.sweep import first_step, learn_dwell, prime, sweep
from focusd.af.track import SAME, LensTrack
from focusd.af.tuning import AfTuning
from focusd.af.types import AfMode, AfState, Frame
from focusd.errors import ConfigError

log = logging.getLogger("focusd.af")

#: Phases in which every frame is a sample of the scan.
SCANNING = (Phase.PRIME, Phase.SWEEP, Phase.PROBE, Phase.ARRIVE)


@dataclass
class AfStatistics:
    """What the benchmark reads after a run (all since the last start())."""

    frames: int = 0  #: frames given to update()
    frames_to_result: int | None = None  #: frames from start() to the first FOCUSED or FAILED
    travel: float = 0.0  #: dioptres: sum of |command - previous command|
    reversals: int = 0  #: changes of direction of the commanded lens position
    commands: int = 0  #: lens commands returned
    latency_estimate: float | None = None  #: frames from a command to the metadata showing it


class AutofocusEngine:
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
        # --- the engine's state (the scan's own lives in ScanState)
        self.phase = Phase.IDLE
        self.mode = AfMode.SINGLE
        self.failure_reason: str | None = None
        self.lock_position: float | None = None
        self.statistics = AfStatistics()
        self._lens = low  #: D: the last position commanded (or the start)
        self._origin = low  #: D: where AF-ON found the lens (the fallback "start")
        self._fallback: float | None = None  #: D: where FAILED is taking the lens
        self._previous_move = 0.0  #: D: the last command's move (for the reversal count)
        self._scan = ScanState(start=low, track=LensTrack(low, latency_frames))
        self._monitor: Monitor | None = None
        self._servo: Servo | None = None

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
        self._lens = self._origin = start
        self._previous_move = 0.0
        self._fallback = None
        self.statistics = AfStatistics()
        self.failure_reason = None
        self.lock_position = None
        self._monitor = self._servo = None
        self._begin_scan(start, previous=None)
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
        self.statistics.frames += 1
        sequence = int(frame.sequence)
        scan = self._scan
        if self.phase in SCANNING or self.phase is Phase.SERVO:
            scan.track.observe(sequence, float(frame.lens_position))
            if scan.track.trusted and scan.track.metadata_lag is not None:
                self.statistics.latency_estimate = float(scan.track.metadata_lag)
        if self.phase in SCANNING and self.phase is not Phase.PRIME:
            self._add_sample(sequence, measurement)
            learn_dwell(scan, self.tuning)
        target = self._step(sequence, measurement)
        # the first result comes within max_frames of start() (retries included), and every later
        # scan of continuous AF ends within max_frames of its own start
        limit = self.tuning.max_frames
        if self.phase in SCANNING and (self.statistics.frames - scan.began_at >= limit or (
                self.statistics.frames_to_result is None and self.statistics.frames >= limit)):
            target = self._fail("timeout: no peak found within max_frames")
        target = self._issue(sequence, target)
        if self.state in (AfState.FOCUSED, AfState.FAILED) and self.statistics.frames_to_result is None:
            self.statistics.frames_to_result = self.statistics.frames
        log.debug("af frame %d %s%s lens %.3f measure %.5g level %.1f target %s", sequence, before.name,
                  f"->{self.phase.name}" if self.phase is not before else "", frame.lens_position,
                  measurement.focus, measurement.level, "-" if target is None else f"{target:.3f}")
        return target

    # ------------------------------------------------------------------------------ the scan

    def _begin_scan(self, start: float, previous: ScanState | None) -> None:
        """A new scan from ``start``; a re-scan keeps what the last one learned of the noise and
        of the metadata."""
        track = LensTrack(start, self.latency_frames, trusted=previous.track.trusted if previous else None)
        if previous is not None:
            track.metadata_lag = previous.track.metadata_lag
        scan = ScanState(start=start, track=track, began_at=self.statistics.frames, dwell=self.tuning.clean_dwell)
        if previous is not None and previous.noise_known:
            scan.noise, scan.noise_known, scan.jitter = previous.noise, True, previous.jitter
            scan.noise_level = previous.noise_level
            scan.retries = previous.retries
        low, high = self.lens_range
        # subjects are most often beyond half a metre: from nearer than that, look further first
        likely = min(max(self.tuning.likely_position, low), high)
        if start > likely + 1e-9:
            scan.direction = -1
        elif start < likely - 1e-9:
            scan.direction = 1
        else:
            scan.direction = 1 if high - start >= start - low else -1
        self._scan = scan
        self.phase = Phase.PRIME

    def _add_sample(self, sequence: int, measurement: Measurement) -> None:
        track = self._scan.track
        states = track.states(sequence)
        if states is not None:
            self._scan.samples.append(Sample(sequence, self._signal(measurement), states, track.margin,
                                             measurement.level))

    def _step(self, sequence: int, measurement: Measurement) -> float | None:
        scan, tuning = self._scan, self.tuning
        if self.phase is Phase.PRIME:
            outcome = prime(scan, tuning, self._measure, measurement, sequence)
            if outcome is not None:
                return self._apply(outcome, measurement)
            self.phase = Phase.SWEEP
            for seq, primed in scan.prime_frames:
                self._add_sample(seq, primed)
            if scan.track.first_command_sequence is None:
                return self._apply(Move(first_step(scan, tuning)), measurement)
            return self._apply(sweep(scan, tuning, self.lens_range), measurement)
        if self.phase is Phase.SWEEP:
            return self._apply(sweep(scan, tuning, self.lens_range), measurement)
        if self.phase is Phase.PROBE:
            return self._apply(probe(scan, tuning, self.lens_range), measurement)
        if self.phase is Phase.ARRIVE:
            return self._apply(arrive(scan, tuning), measurement)
        if self.phase is Phase.LOCKED:
            return self._locked(sequence, measurement)
        if self.phase is Phase.SERVO:
            return self._follow(sequence, measurement)
        return self._failed(measurement)

    def _apply(self, outcome: Outcome, measurement: Measurement) -> float | None:
        """The one place the phase changes: from a stage's outcome."""
        scan, tuning = self._scan, self.tuning
        if isinstance(outcome, Move):
            return outcome.target
        if isinstance(outcome, PeakPassed):
            log.debug("af peak passed between %.3f and %.3f D: probing", outcome.low, outcome.high)
            plan_probes(scan, tuning, self.lens_range)
            self.phase = Phase.PROBE
            return self._apply(probe(scan, tuning, self.lens_range), measurement)
        if isinstance(outcome, GoTo):
            target = self._clamp(outcome.target)
            log.debug("af to the peak %.3f D (expecting %.3g)", target, outcome.expected)
            scan.target, scan.expected, scan.fallback_target = target, outcome.expected, outcome.fallback
            self.phase = Phase.ARRIVE
            return self._apply(arrive(scan, tuning), measurement)
        if isinstance(outcome, Lock):
            self._lock(outcome.position, measurement)
            return None
        if isinstance(outcome, Rescan):
            if scan.retries < tuning.max_retries:
                log.debug("af %s: rescanning", outcome.reason)
                scan.retries += 1
                self._begin_scan(self._lens, previous=scan)
                return None
            return self._fail(outcome.reason)
        assert isinstance(outcome, Fail)
        return self._fail(outcome.reason)

    # ------------------------------------------------------------------------------ commands

    def _clamp(self, position: float) -> float:
        low, high = self.lens_range
        return min(max(position, low), high)

    def _issue(self, sequence: int, target: float | None) -> float | None:
        """Send ``target``, at most max_slew from the last command (a longer move is finished by
        the next frames' commands, each landing whole in the IPA's state)."""
        if target is None or not math.isfinite(target):
            return None
        target = self._clamp(float(target))
        slew = self.tuning.max_slew
        target = min(max(target, self._lens - slew), self._lens + slew)
        move = target - self._lens
        if abs(move) <= SAME:
            return None  # no move the lens states could tell apart (focusd.af.track.SAME)
        if self._previous_move and move * self._previous_move < 0:
            self.statistics.reversals += 1
        self._previous_move = move
        self.statistics.travel += abs(move)
        self.statistics.commands += 1
        self._lens = target
        self._scan.track.command(sequence, target)
        return target

    # ------------------------------------------------------------------------------ results

    def _signal(self, measurement: Measurement) -> float:
        """The focus measure less its noise part (kept positive for the fits)."""
        noise = self._scan.noise
        return max(measurement.focus - noise, 1e-3 * max(noise, 1e-12), 1e-12)

    def _lock(self, position: float, measurement: Measurement) -> None:
        self.phase = Phase.LOCKED
        self.lock_position = position
        self.failure_reason = None
        log.debug("af focused at %.3f D", position)
        if self.mode is AfMode.CONTINUOUS:
            fit = self._scan.fit
            # the servo needs the top's width; a fit that could not tell it (a flat-topped or
            # scalloped curve) leaves the servo's own bounds to it
            width = fit.width if fit is not None and math.isfinite(fit.width) else WIDTH_BOUNDS[1]
            self._monitor = Monitor(self.tuning, self._signal(measurement), measurement.blocks, width=width)

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
        self._fallback = self._clamp(target)
        log.debug("af failed: %s; lens to fallback %.3f D", reason, self._fallback)
        self._monitor = None
        return self._fallback

    # ------------------------------------------------------------------------------ after a result

    def _failed(self, measurement: Measurement) -> float | None:
        """FAILED: the lens goes on to the fallback (a max_slew per frame); single mode then
        stays; continuous mode re-scans after a sustained scene change."""
        if self._fallback is not None and abs(self._lens - self._fallback) > SAME:
            return self._fallback
        if self.mode is not AfMode.CONTINUOUS:
            return None
        if self._monitor is None:
            self._monitor = Monitor(self.tuning, max(measurement.focus, 1e-12), measurement.blocks,
                                    width=math.inf, watch_focus=False)
            return None
        if self._monitor.update(measurement.focus, measurement.blocks) is not None:
            self._scan.retries = 0
            self._begin_scan(self._lens, previous=self._scan)
        return None

    def _locked(self, sequence: int, measurement: Measurement) -> float | None:
        if self.mode is not AfMode.CONTINUOUS or self._monitor is None:
            return None
        change = self._monitor.update(self._signal(measurement), measurement.blocks)
        if change is None:
            return None
        if change == "small" and math.isfinite(self._monitor.width):
            scan = self._scan
            latency = scan.track.metadata_lag if scan.track.trusted else self.latency_frames
            scan.track = LensTrack(self._lens, self.latency_frames, trusted=scan.track.trusted)
            scan.track.metadata_lag = latency if scan.track.trusted else None
            self._servo = Servo(self.tuning, self._lens, self._monitor.width,
                                float(latency if latency is not None else self.latency_frames), scan.dwell)
            self.phase = Phase.SERVO
            log.debug("af small change: following")
            return self._servo.first_command(sequence)
        log.debug("af scene changed: rescanning")
        self._scan.retries = 0
        self._begin_scan(self._lens, previous=self._scan)
        return None

    def _servo_position(self, sequence: int) -> float | None:
        """Where the lens was for frame ``sequence`` while the servo follows, if wholly at one
        position (the track's view at the scan's dwell); None for a frame that may be a mix."""
        track = self._scan.track
        states = track.states(sequence)
        if states is None:
            return None
        return Sample(sequence, 0.0, states, track.margin).at(self._scan.dwell)

    def _follow(self, sequence: int, measurement: Measurement) -> float | None:
        servo = self._servo
        assert servo is not None
        target = servo.update(sequence, self._signal(measurement), self._servo_position(sequence))
        self._scan.track.forget_before(sequence - 16)
        if servo.result == "settled":
            self.phase = Phase.LOCKED
            self.lock_position = self._clamp(servo.settled_position)
            self._monitor = Monitor(self.tuning, servo.settled_value, measurement.blocks, width=servo.width)
            return self.lock_position
        if servo.result == "lost":
            log.debug("af servo lost the subject: rescanning")
            self._scan.retries = 0
            self._begin_scan(self._lens, previous=self._scan)
            return None
        return target
