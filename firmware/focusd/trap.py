"""Trap focus's detector: has a subject just passed through the armed plane?

Trap focus (catch-in focus, ``shutter.trap``): the lens stays where it is (AF-ON is up) and the
shutter is held; the capture fires when a subject moving in depth passes through the plane the
lens is focused on. That moment is where the AF window's sharpness peaks. A peak is only known
once the sharpness has started to fall, one or more frames later, so the detector names the *peak
frame* (whose image the camera thread has kept, focusd.service.trap) rather than firing "now".

The measure is the engine's own (focusd.af.measure.FocusMeasure on the AF window of the lores Y
plane). It is smoothed over three frames (the mean of a frame and its two neighbours) before any
test, and the peak frame is the one whose smoothed value is the highest: sensor noise on the flat
top of the curve moves a raw arg-max by tenths of a dioptre with the weak textures in dim light,
the smoothed one far less (``focusd bench --trap``). The smoothed value of frame k is known at
frame k + 1, which is why the detector asks for the image of the latest frame as well as the best
one (:attr:`TrapDetector.wanted`).

The rules, all relative to what was measured once armed (never absolute numbers, which depend
on the texture and the light):

1. **Settle.** Frames exposed while the lens may still be moving (the lens of the AF-ON release
   arriving; frames that mix lens positions) are not measured: ``still=False`` restarts the
   arming. Once ``ARM_FRAMES`` still frames are in, the *armed level* is their median and the
   *noise* the RMS of their second differences divided by sqrt(6) (the frame-to-frame noise of
   the measure, free of a linear trend such as a subject already moving), at least
   ``NOISE_FLOOR`` of the level.
2. **Rise.** A peak counts only once the smoothed sharpness has risen above the armed level by at
   least ``RISE`` of it *and* by ``RISE_SIGMAS`` times the noise: a static scene, in focus or not,
   only wanders within its noise and never gets there.
3. **Fall, with hysteresis.** Then it fires when the smoothed sharpness has fallen below the peak
   by at least ``FALL`` of the rise (peak minus armed level) and by ``FALL_SIGMAS`` times the
   noise, on ``FALL_FRAMES`` frames in a row. A new higher value before that moves the peak on.
4. **Once.** After firing it does nothing more until :meth:`TrapDetector.reset` (the controller
   re-arms only on a new shutter press).

A subject that arrives in the plane and stops there never fires (no fall): the trap is for
subjects passing through. Pure: no clock, no threads, no camera.
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass

#: still frames measured after arming (or after the lens moved) to take the armed level and noise
ARM_FRAMES = 6
#: the smoothed sharpness must rise above the armed level by this fraction of it ...
RISE = 0.08
#: ... and by this many times the measure's noise
RISE_SIGMAS = 10.0
#: the fall from the peak that fires: this fraction of the rise ...
FALL = 0.2
#: ... and this many times the noise ...
FALL_SIGMAS = 4.0
#: ... on this many frames in a row (one raw frame touches three smoothed ones: a single odd frame,
#: a flicker or a bird crossing, never fires)
FALL_FRAMES = 4
#: the noise is taken as at least this fraction of the armed level
NOISE_FLOOR = 0.002


class TrapPhase(enum.Enum):
    SETTLING = "settling"  #: waiting for still frames, measuring the armed level
    WATCHING = "watching"  #: armed: waiting for a rise
    RISEN = "risen"  #: a real rise: waiting for the fall
    FIRED = "fired"  #: done until reset


@dataclass(frozen=True, slots=True)
class TrapFire:
    """The trap fired: frame ``peak_sequence`` was the sharpest (its image is the capture)."""

    peak_sequence: int
    peak: float  #: its smoothed focus measure
    level: float  #: the armed level
    noise: float  #: the measure's noise when armed

    @property
    def rise(self) -> float:
        """The peak over the armed level (1.3: 30% sharper than when armed)."""
        return self.peak / self.level if self.level > 0 else math.inf


class TrapDetector:
    """Feed one :meth:`frame` per camera frame while armed; see the module docstring."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Armed anew: measure the armed level again."""
        self.phase = TrapPhase.SETTLING
        self.level: float | None = None  #: the armed level (median of the arming frames)
        self.noise: float | None = None
        self._arming: list[float] = []
        self._recent: list[tuple[int, float]] = []  # the last 3 (sequence, measure)
        self._peak: tuple[int, float] | None = None  # (sequence, smoothed) of the best kept frame
        self._kept: set[int] = set()  # frames whose images the camera thread holds (``wanted``)
        self._falling = 0

    @property
    def wanted(self) -> frozenset[int]:
        """The frames whose images may still become the capture: the latest when it is "hot" (its
        smoothed value, known only at the next frame, may be the peak: its own value is half of
        the way to a real rise and, once risen, not well below the peak), and the peak so far. A
        still scene far from a rise wants none, so the camera thread copies no image for it; a pass
        wants one a frame from half-way up the rise to just past the peak."""
        return frozenset(self._kept)

    def frame(self, sequence: int, focus: float, still: bool = True) -> TrapFire | None:
        """Frame ``sequence`` had focus measure ``focus``; ``still``: the lens held one position
        throughout its exposure (and is where it will stay). The fire, when this frame shows it."""
        if self.phase is TrapPhase.FIRED:
            return None
        if not still:
            if self.phase is not TrapPhase.SETTLING or self._arming:
                self.reset()  # the lens moved: whatever was measured was of another plane
            return None
        if self.phase is TrapPhase.SETTLING:
            return self._arm(sequence, focus)
        self._recent = [*self._recent[-2:], (sequence, float(focus))]
        fire = None
        if len(self._recent) == 3:
            centre = self._recent[1][0]
            smoothed = sum(value for _, value in self._recent) / 3
            fire = self._judge(centre, smoothed)
        self._keep(sequence, float(focus))
        return fire

    def _keep(self, sequence: int, focus: float) -> None:
        """Which images to hold from here on: the peak's and, when hot, this frame's."""
        if self.phase is TrapPhase.FIRED:
            self._kept = set()
            return
        hot = focus - self.level >= self.rise_needed() / 2
        if self._peak is not None and self.phase is TrapPhase.RISEN:
            # past the peak: a frame well below it will not be the new one (its smoothed value
            # would have to beat the peak's)
            hot = focus >= self._peak[1] - max(FALL * (self._peak[1] - self.level) / 2, 2 * self.noise)
        self._kept = {s for s in (self._peak[0] if self._peak else None,) if s is not None}
        if hot:
            self._kept.add(sequence)

    # ---------------------------------------------------------------------------------------------

    def _arm(self, sequence: int, focus: float) -> None:
        self._arming.append(float(focus))
        self._recent = [*self._recent[-2:], (sequence, float(focus))]
        if len(self._arming) < ARM_FRAMES:
            return None
        values = self._arming
        self.level = statistics.median(values)
        second = [values[i - 1] - 2 * values[i] + values[i + 1] for i in range(1, len(values) - 1)]
        rms = math.sqrt(sum(d * d for d in second) / len(second)) / math.sqrt(6.0)
        self.noise = max(rms, NOISE_FLOOR * self.level)
        self.phase = TrapPhase.WATCHING
        return None

    def rise_needed(self) -> float:
        """How far above the armed level the smoothed sharpness must get for a peak to count."""
        return max(RISE * self.level, RISE_SIGMAS * self.noise)

    def _judge(self, sequence: int, smoothed: float) -> TrapFire | None:
        """The smoothed value of frame ``sequence`` (the middle of the last three) is known. Only a
        frame whose image was kept can become the peak (the capture); every frame counts for the fall."""
        kept = sequence in self._kept
        level, noise = self.level, self.noise
        if self.phase is TrapPhase.WATCHING:
            if kept and (self._peak is None or smoothed >= self._peak[1]):
                self._peak = (sequence, smoothed)  # the best so far, kept in case the rise completes
            if self._peak is not None and self._peak[1] - level >= self.rise_needed():
                self.phase = TrapPhase.RISEN
            return None
        peak_sequence, peak = self._peak
        if smoothed > peak:
            if kept:
                self._peak = (sequence, smoothed)
            self._falling = 0
            return None
        fall_needed = max(FALL * (peak - level), FALL_SIGMAS * noise)
        if peak - smoothed >= fall_needed:
            self._falling += 1
        else:
            self._falling = 0
        if self._falling < FALL_FRAMES:
            return None
        self.phase = TrapPhase.FIRED
        return TrapFire(peak_sequence, peak, level, noise)
