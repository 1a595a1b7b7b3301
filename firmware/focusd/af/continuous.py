"""Continuous AF (AF-ON held) after the lock: watching for change, and following a subject.

Why apart from the scan: once locked, the question is no longer "where is the peak" but "has
anything changed enough, for long enough, to move the lens" (a camera's AF lock-on setting), and,
for a subject moving in depth, "where is it going". A lens that hunts on a static scene is the worst
thing continuous AF can do, so the watcher only ever answers after a sustained change, and it first
learns how much the measure scatters on its own so that noise never counts as change.

Monitor: after the lock it learns the measure's level and scatter over ``learn_frames`` frames,
then counts successive frames whose measure is off by more than ``follow_ratio`` (or more than the
learned scatter allows) or whose coarse brightness pattern changed by more than ``scene_change``.
After ``retrigger_frames`` such frames it reports "small" (the same scene, a bit out of focus:
follow it) or "large" (a new scene, or the measure fell by more than ``retrigger_ratio``: scan).

Servo: follows a subject with small steps. The lens dithers by +-track_step/2 around the predicted
subject position, each position held as long as the scan found a frame needs to be wholly at one
(focusd.af.sweep.learn_dwell); only such frames teach it. Near the peak the log of the measure is a parabola of known width (from the fit
that locked), so two successive samples at different positions give the peak position directly:
  peak = (x_a + x_b)/2 - width^2 * (ln S_a - ln S_b) / (x_b - x_a)
An alpha-beta filter smooths these estimates into a position and a velocity, and each command aims
where the subject will be when that command is first seen (latency + 1 frames ahead). When the
velocity has stayed near zero for ``settle_frames`` frames the servo settles and the lock resumes.
"""

from __future__ import annotations

import math

import numpy as np

from focusd.af.tuning import AfTuning

#: Frames the monitor spends learning the locked level and scatter before it may trigger.
LEARN_FRAMES = 4
#: Alpha-beta filter gains of the servo (position, velocity): smooth over a few dither cycles.
SERVO_ALPHA = 0.35
SERVO_BETA = 0.06
#: The servo's width is kept within these bounds (D): too wide a width overcorrects (the estimate
#: scales with its square) and makes the servo unstable; too narrow only slows it.
WIDTH_BOUNDS = (0.5, 1.0)


class Monitor:
    """Decides, frame by frame, whether a locked (or failed) scene has changed for long enough."""

    def __init__(self, tuning: AfTuning, value: float, blocks: np.ndarray, width: float,
                 watch_focus: bool = True):
        self.tuning = tuning
        self.width = width
        self.watch_focus = watch_focus
        self._learning: list[float] = [value]
        self._reference = value
        self._scatter = 0.0
        self._blocks = blocks.copy()
        self._changed = 0
        self._large = 0

    def update(self, value: float, blocks: np.ndarray) -> str | None:
        """None while nothing has changed for long enough; else "small" or "large"."""
        tuning = self.tuning
        scene = float(np.mean(np.abs(blocks - self._blocks))) > tuning.scene_change
        ratio = value / max(self._reference, 1e-12)
        # the scatter learned on the first frames (only from frames that look unchanged) can
        # raise the threshold above follow_ratio, never above retrigger_ratio
        threshold = min(max(tuning.follow_ratio, tuning.noise_sigmas * self._scatter), tuning.retrigger_ratio)
        focus = self.watch_focus and abs(ratio - 1) > threshold
        if len(self._learning) < LEARN_FRAMES and not scene and not focus:
            self._learning.append(value)
            self._reference = float(np.mean(self._learning))
            self._scatter = float(np.std(self._learning) / max(self._reference, 1e-12))
            self._changed = self._large = 0
            return None
        large = scene or (self.watch_focus and ratio < 1 - tuning.retrigger_ratio)
        if focus or scene:
            self._changed += 1
            self._large = self._large + 1 if large else 0
        else:
            self._changed = self._large = 0
        if self._changed >= tuning.retrigger_frames:
            self._changed = 0
            return "large" if self._large >= tuning.retrigger_frames else "small"
        return None


class Servo:
    """Follows a subject moving in depth with a dithering, velocity-predicting lens."""

    def __init__(self, tuning: AfTuning, centre: float, width: float, latency: float, dwell: int = 1):
        self.tuning = tuning
        self.dwell = max(1, int(dwell))  #: frames each dither position is held (the scan's clean dwell)
        self.width = min(max(width, WIDTH_BOUNDS[0]), WIDTH_BOUNDS[1])
        self.latency = latency
        self.centre = centre
        self.velocity = 0.0  #: D per frame
        self.result: str | None = None  #: None while following; "settled" or "lost"
        self.settled_position = centre
        self.settled_value = 0.0
        self._sign = 1
        self._previous: tuple[float, float] | None = None
        self._still = 0
        self._frames = 0
        self._peak_value = 0.0
        self._low = 0
        self._held = 0

    def _command(self) -> float:
        self._held = 0
        ahead = self.centre + self.velocity * (self.latency + self.dwell)
        self._sign = -self._sign
        return ahead + self._sign * self.tuning.track_step / 2

    def first_command(self, sequence: int) -> float:
        return self._command()

    def update(self, sequence: int, value: float, position: float | None) -> float | None:
        """One frame: ``position`` is where the lens was for it, None if it may be a mix (then it
        teaches nothing). Returns the next dither command, every ``dwell`` frames."""
        self._frames += 1
        # the filter's prediction for this frame
        self.centre += self.velocity
        self._held += 1
        if position is None:
            return self._command() if self._held >= self.dwell else None
        if self._previous is not None:
            x_a, value_a = self._previous
            separation = position - x_a
            if abs(separation) >= self.tuning.track_step / 4:
                estimate = (x_a + position) / 2 - self.width**2 * (
                    math.log(max(value_a, 1e-12)) - math.log(max(value, 1e-12))) / separation
                residual = estimate - self.centre
                limit = self.width  # one wild pair must not throw the lens
                residual = min(max(residual, -limit), limit)
                self.centre += SERVO_ALPHA * residual
                self.velocity += SERVO_BETA * residual
        self._previous = (position, value)
        self._peak_value = max(self._peak_value * 0.98, value)
        self._low = self._low + 1 if value < (1 - self.tuning.retrigger_ratio) * self._peak_value else 0
        if self._low >= self.tuning.retrigger_frames:
            self.result = "lost"
            return None
        self._still = self._still + 1 if abs(self.velocity) < self.tuning.settle_velocity else 0
        if self._still >= self.tuning.settle_frames and self._frames >= 2 * self.tuning.settle_frames:
            self.result = "settled"
            self.settled_position = self.centre
            self.settled_value = value
            return None
        return self._command() if self._held >= self.dwell else None
