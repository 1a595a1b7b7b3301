"""The first stages of a scan: PRIME (the noise) and SWEEP (step until a peak has been passed).

PRIME: the first two frames are exposed before any command can reach the lens; their difference
holds only sensor noise, which gives the noise part of the focus measure (subtracted from every
sample: what the scan compares is the scene's own contrast) and its scatter. The noise part moves
with the level (gain, the tone curve: a frame that is only brighter can measure less), so a peak
must also stand min_signal of the noise part above the lowest frame.

SWEEP: the lens steps from where it is, towards where subjects usually are (likely_position)
first, holding each step sweep_dwell frames. Each step is at most max_slew, so that every write
lands whole in the IPA's lens state. Every frame becomes a sample placed where the lens was
(focusd.af.track). A frame exposed while the lens moved is a mix of the positions its exposure
saw, in a share nobody knows, so it is no sample of the focus curve; the last frame of each held
step is settled (one position), and the sweep decides on those alone. (Moving every frame would be
no faster at finding a narrow peak: the glass only ever holds the positions written, and a frame
would not say which of two it saw.) The step is sweep_step while the measure is flat and
near_step once it stands clearly above the lowest seen.

The peak counts as passed once a settled frame pass_margin beyond the sharpest measures less than
pass_ratio of it, and one on the way to it did too: the peak is then bracketed by the settled
frames beside the sharpest, and the probes (focusd.af.probe) take over. If the measure only falls
from the start, the sweep turns round once and covers the other side. A scan FAILS only once the
whole range has been seen without a peak that stands out from the lowest measure and the noise:
a low-contrast scene whose peak is still ahead is not given up early.
"""

from __future__ import annotations

import math

import numpy as np

from focusd.af.measure import FocusMeasure, Measurement
from focusd.af.state import Fail, Move, Outcome, PeakPassed, ScanState
from focusd.af.track import SAME
from focusd.af.tuning import AfTuning

#: Frames of the still start that PRIME measures the noise on.
PRIME_FRAMES = 2


def prime(state: ScanState, tuning: AfTuning, measure: FocusMeasure, measurement: Measurement,
          sequence: int) -> Outcome | None:
    """Collect the still frames at the start; None once the noise is known (the sweep begins)."""
    if state.first_sequence is None:
        state.first_sequence = sequence
    state.prime_frames.append((sequence, measurement))
    if measurement.level < tuning.dark_level and len(state.prime_frames) >= PRIME_FRAMES:
        return Fail(f"too dark: window level {measurement.level:.1f} < {tuning.dark_level}")
    if not state.noise_known and len(state.prime_frames) >= PRIME_FRAMES:
        (_, first), (_, second) = state.prime_frames[:2]
        state.noise = measure.noise_floor(first, second)
        state.noise_known = True
        state.jitter = abs(second.focus - first.focus) / math.sqrt(2)
    # frames before the first command can be seen: two, whatever the latency (0 or more)
    hold = 0 if state.noise_known else max(0, PRIME_FRAMES - max(state.track.told_latency, 1))
    if sequence - state.first_sequence < hold:
        return Move(None)
    return None if state.noise_known else Move(first_step(state, tuning))


def first_step(state: ScanState, tuning: AfTuning) -> float:
    """The first command of a sweep (sent while the noise is still being measured if the
    latency leaves the frames at the start untouched)."""
    if state.track.first_command_sequence is None:
        state.dwell_left = tuning.sweep_dwell - 1
        return state.start + state.direction * tuning.sweep_step
    return state.track.last_command


def jitter(state: ScanState, tuning: AfTuning, value: float) -> float:
    """The scatter a measure of ``value`` has from frame to frame on a still lens (absolute)."""
    return max(tuning.noise_jitter * state.noise, tuning.scene_jitter * max(value, 0.0), state.jitter)


def weak_peak(state: ScanState, tuning: AfTuning, best: float, lowest: float) -> str | None:
    """Why the sharpest sample is no peak to lock on (None: it is one)."""
    if best < tuning.min_peak_ratio * max(lowest, 0.0):
        return f"flat focus curve: best {best:.3g} less than {tuning.min_peak_ratio}x the lowest {lowest:.3g}"
    if best - lowest < tuning.noise_sigmas * jitter(state, tuning, best):
        return f"no peak above the noise: best {best:.3g}, lowest {lowest:.3g}, noise {state.noise:.3g}"
    if state.noise > 0 and best - lowest < tuning.min_signal * state.noise:
        return f"contrast below noise: signal {best:.3g}, lowest {lowest:.3g}, noise {state.noise:.3g}"
    return None


def settled_curve(state: ScanState) -> tuple[np.ndarray, np.ndarray]:
    """The scan's settled samples: (positions, values)."""
    pairs = [(s.settled, s.value) for s in state.samples if s.settled is not None]
    return np.array([p for p, _ in pairs]), np.array([v for _, v in pairs])


def sweep(state: ScanState, tuning: AfTuning, lens_range: tuple[float, float]) -> Outcome:
    track = state.track
    if state.resume_at is not None:
        if abs(track.last_command - state.resume_at) > SAME:
            return Move(state.resume_at)
        state.resume_at = None
        state.dwell_left = tuning.sweep_dwell - 1
        return Move(None)
    latest = state.samples[-1]
    if latest.settled is None:
        # the decisions wait for settled frames; the lens goes on meanwhile
        return _next_step(state, tuning, lens_range)
    positions, values = settled_curve(state)
    best = int(np.argmax(values))
    top, top_at = float(values[best]), float(positions[best])
    lowest = min(float(values.min()), min(s.value for s in state.samples))
    direction = state.direction
    drop = max(top * (1 - tuning.pass_ratio), tuning.noise_sigmas * jitter(state, tuning, top))
    low, high = lens_range
    weak = weak_peak(state, tuning, top, lowest)
    newest, newest_value = latest.settled, latest.value
    if weak is None and newest_value <= top - drop and direction * (newest - top_at) >= tuning.pass_margin:
        behind = direction * (positions - top_at) <= -tuning.pass_margin / 2
        approach_end = low if direction > 0 else high
        if (values[behind] <= top - drop).any() or abs(top_at - approach_end) <= tuning.pass_margin:
            return PeakPassed(*bracket(tuning, lens_range, positions, values, best))
        if not state.reversed:
            return turn(state, tuning, lens_range, positions, values, best)
    end = high if direction > 0 else low
    if abs(track.last_command - end) <= SAME and abs(newest - end) <= SAME:
        # at the end of the range, and a settled frame there seen
        if weak is None and abs(top_at - end) <= tuning.pass_margin:
            return PeakPassed(*bracket(tuning, lens_range, positions, values, best))
        if not state.reversed:
            return turn(state, tuning, lens_range, positions, values, best)
        return whole_range_seen(tuning, lens_range, positions, values, best, weak)
    state.near = state.near or (
        newest_value >= tuning.rise_ratio * max(lowest, 1e-12)
        and newest_value - lowest >= tuning.noise_sigmas * jitter(state, tuning, newest_value))
    return _next_step(state, tuning, lens_range)


def _next_step(state: ScanState, tuning: AfTuning, lens_range) -> Move:
    if state.dwell_left > 0:
        state.dwell_left -= 1
        return Move(None)
    low, high = lens_range
    step = tuning.near_step if state.near else tuning.sweep_step
    target = min(max(state.track.last_command + state.direction * step, low), high)
    if abs(target - state.track.last_command) <= SAME:
        return Move(None)  # at the end of the range: wait for it to show
    state.dwell_left = tuning.sweep_dwell - 1
    return Move(target)


def turn(state: ScanState, tuning: AfTuning, lens_range, positions: np.ndarray, values: np.ndarray,
         best: int) -> Outcome:
    """The measure only fell from the start: cover the other side, once."""
    state.reversed = True
    state.direction = -state.direction
    low, high = lens_range
    edge = float(positions.min()) if state.direction < 0 else float(positions.max())
    other_end = low if state.direction < 0 else high
    if state.direction * (other_end - edge) <= SAME:
        lowest = min(float(values.min()), min(s.value for s in state.samples))
        weak = weak_peak(state, tuning, float(values.max()), lowest)
        return whole_range_seen(tuning, lens_range, positions, values, best, weak)
    state.resume_at = min(max(edge + state.direction * tuning.sweep_step, low), high)
    return Move(state.resume_at)


def whole_range_seen(tuning: AfTuning, lens_range, positions: np.ndarray, values: np.ndarray, best: int,
                     weak: str | None) -> Outcome:
    if weak is not None:
        return Fail(weak)
    return PeakPassed(*bracket(tuning, lens_range, positions, values, best))


def bracket(tuning: AfTuning, lens_range, positions: np.ndarray, values: np.ndarray, best: int) -> tuple[float, float]:
    """Where the peak is: between the settled positions beside the sharpest."""
    low, high = lens_range
    centre = float(positions[best])
    below = positions[positions < centre - SAME]
    above = positions[positions > centre + SAME]
    left = float(below.max()) if below.size else low
    right = float(above.min()) if above.size else high
    return left, right
