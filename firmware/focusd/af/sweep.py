"""The first stages of a scan: PRIME (the noise) and SWEEP (step until a peak has been passed).

PRIME: the first two frames are exposed before any command can reach the lens; their difference
holds only sensor noise, which gives the noise part of the focus measure (subtracted from every
sample: what the scan compares is the scene's own contrast) and its scatter. The noise part moves
with the level (gain, the tone curve: a frame that is only brighter can measure less) in a way not
known, so a peak must also stand min_signal of the noise part above the lowest frame, with the
noise part of each taken as unfavourably as its level allows (AfTuning.noise_level_power).

SWEEP: the lens steps sweep_step at a time from where it is, towards where subjects usually are
(likely_position) first; every step is at most max_slew, so every write lands whole in the IPA's
lens state. Every frame becomes a sample placed where the lens was (focusd.af.track). A frame
exposed while the lens moved is a mix of the positions its exposure saw, in a share nobody knows;
so each step is held ``dwell`` frames, the last of which is wholly at one position, and the sweep
decides on those frames alone. The dwell starts at clean_dwell (3: clean whatever the mix, the
rolling shutter and the exposure) and is shortened only when the scan's own frames show, on two
steps that changed the measure clearly, that the glass arrives earlier (learn_dwell).

(Moving every frame while the measure is flat and holding only once it changes was tried: the
change is seen latency + 1 frames late, in a frame that mixed several positions, and going back
for it cost what moving faster saved, and more on the real stacks.)

The peak counts as passed once a held frame pass_margin beyond the sharpest measures less than
pass_ratio of it, and one on the way to it did too: the peak is then bracketed by the held frames
beside the sharpest, and the probes (focusd.af.probe) take over. If the measure only falls from
the start, the sweep turns round once and covers the other side. A scan FAILS only once the whole
range has been seen without a peak that stands out from the lowest measure and the noise: a
low-contrast scene whose peak is still ahead is not given up early.
"""

from __future__ import annotations

import math

import numpy as np

from focusd.af.measure import FocusMeasure, Measurement
from focusd.af.state import Fail, Move, Outcome, PeakPassed, Sample, ScanState
from focusd.af.track import SAME
from focusd.af.tuning import AfTuning

#: Frames of the still start that PRIME measures the noise on.
PRIME_FRAMES = 2
#: A step "changed the measure clearly" (and so tells how early the glass arrives) if the
#: amplitude (square root of the measure) moved by at least this fraction
INFORMATIVE_CHANGE = 0.2
#: A frame counts as wholly at the new position if it made at least this share of the change
ARRIVED_SHARE = 0.9
#: Informative steps that must agree before the dwell is shortened
EVIDENCE_STEPS = 2


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
        state.noise_level = (first.level + second.level) / 2
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
        state.dwell_left = state.dwell - 1
        return state.start + state.direction * tuning.sweep_step
    return state.track.last_command


def jitter(state: ScanState, tuning: AfTuning, value: float) -> float:
    """The scatter a measure of ``value`` has from frame to frame on a still lens (absolute)."""
    return max(tuning.noise_jitter * state.noise, tuning.scene_jitter * max(value, 0.0), state.jitter)


def noise_shift(state: ScanState, tuning: AfTuning, level: float) -> tuple[float, float]:
    """How far the noise part of a frame at ``level`` may differ from the one subtracted (measured
    at the still frames' level), as (most added, most removed): the signal of a sample lies
    between value - added and value + removed (AfTuning.noise_level_power)."""
    if state.noise <= 0 or level <= 0 or state.noise_level <= 0:
        return 0.0, 0.0
    extreme = (state.noise_level / level) ** tuning.noise_level_power
    return state.noise * max(extreme - 1.0, 0.0), state.noise * max(1.0 - extreme, 0.0)


def weak_peak(state: ScanState, tuning: AfTuning) -> str | None:
    """Why the sharpest held sample is no peak to lock on (None: it is one): compared with the
    lowest sample of the scan, with their noise parts taken as unfavourably as their levels
    allow (noise_shift)."""
    top = max(held_samples(state), key=lambda s: s.value)  # the callers have held samples
    bottom = min(state.samples, key=lambda s: s.value)
    best = top.value - noise_shift(state, tuning, top.level)[0]
    lowest = bottom.value + noise_shift(state, tuning, bottom.level)[1]
    if best < tuning.min_peak_ratio * max(lowest, 0.0):
        return f"flat focus curve: best {best:.3g} less than {tuning.min_peak_ratio}x the lowest {lowest:.3g}"
    if best - lowest < tuning.noise_sigmas * jitter(state, tuning, best):
        return f"no peak above the noise: best {best:.3g}, lowest {lowest:.3g}, noise {state.noise:.3g}"
    if state.noise > 0 and best - lowest < tuning.min_signal * state.noise:
        return f"contrast below noise: signal {best:.3g}, lowest {lowest:.3g}, noise {state.noise:.3g}"
    return None


def held_samples(state: ScanState) -> list[Sample]:
    """The scan's frames wholly at one position (at the dwell learned so far)."""
    return [sample for sample in state.samples if sample.at(state.dwell) is not None]


def held_curve(state: ScanState) -> tuple[np.ndarray, np.ndarray]:
    """The held samples as (positions, values)."""
    held = held_samples(state)
    return np.array([s.at(state.dwell) for s in held]), np.array([s.value for s in held])


def learn_dwell(state: ScanState, tuning: AfTuning) -> None:
    """On the clean frame of a step, see which of the frames since the metadata showed the step
    already made the whole change from the last clean frame of the position before; after
    EVIDENCE_STEPS informative steps, hold later steps only that long. The amplitude (the square
    root of the measure) of a mix is the mix of the amplitudes."""
    track = state.track
    if not tuning.learn_dwell or not track.trusted or len(state.dwell_evidence) >= EVIDENCE_STEPS:
        return
    latest = state.samples[-1]
    position = latest.clean
    if position is None or len(state.samples) < 3:
        return
    first, second = state.samples[-3], state.samples[-2]
    if first.sequence != latest.sequence - 2 or second.sequence != latest.sequence - 1:
        return  # a dropped frame
    before = first.states[-2]
    if abs(first.states[-1] - position) > SAME or abs(before - position) <= SAME:
        return  # not the first clean frame after a step
    reference = next((s.value for s in reversed(state.samples[:-3]) if s.clean is not None
                      and abs(s.clean - before) <= SAME), None)
    if reference is None:
        return
    a0, a1, a2, a3 = (math.sqrt(max(v, 0.0)) for v in (reference, first.value, second.value, latest.value))
    change = a3 - a0
    # the amplitude's scatter: d(sqrt v) = dv / (2 sqrt v)
    noise = tuning.noise_sigmas * jitter(state, tuning, latest.value) / (2 * max(a0, a3, 1e-12))
    if abs(change) < INFORMATIVE_CHANGE * max(a0, a3) or abs(change) < 2 * noise:
        return
    shares = [(a - a0) / change for a in (a1, a2)]
    depth = next((i + 1 for i, share in enumerate(shares)
                  if ARRIVED_SHARE <= share <= 2 - ARRIVED_SHARE), tuning.clean_dwell)
    state.dwell_evidence.append(depth)
    if len(state.dwell_evidence) >= EVIDENCE_STEPS:
        state.dwell = max(state.dwell_evidence)


def sweep(state: ScanState, tuning: AfTuning, lens_range: tuple[float, float]) -> Outcome:
    track = state.track
    if state.resume_at is not None:
        if abs(track.last_command - state.resume_at) > SAME:
            return Move(state.resume_at)
        state.resume_at = None
        state.dwell_left = state.dwell - 1
        return Move(None)
    latest = state.samples[-1]
    newest = latest.at(state.dwell)
    if newest is None:
        # the decisions wait for frames wholly at one position; the lens goes on meanwhile
        return _next_step(state, tuning, lens_range)
    positions, values = held_curve(state)
    best = int(np.argmax(values))
    top, top_at = float(values[best]), float(positions[best])
    direction = state.direction
    drop = max(top * (1 - tuning.pass_ratio), tuning.noise_sigmas * jitter(state, tuning, top))
    low, high = lens_range
    weak = weak_peak(state, tuning)
    if weak is None and latest.value <= top - drop and direction * (newest - top_at) >= tuning.pass_margin:
        behind = direction * (positions - top_at) <= -tuning.pass_margin / 2
        approach_end = low if direction > 0 else high
        if (values[behind] <= top - drop).any() or abs(top_at - approach_end) <= tuning.pass_margin:
            return PeakPassed(*bracket(lens_range, positions, best))
        if not state.reversed:
            return turn(state, tuning, lens_range, positions, values, best)
    end = high if direction > 0 else low
    if abs(track.last_command - end) <= SAME and abs(newest - end) <= SAME:
        # at the end of the range, and a frame wholly there seen: a peak at the end, or one that
        # held frames on both sides show lower (less than pass_ratio below it: the end came first)
        # is bracketed; only a measure that fell from the start all the way sends the sweep round
        lower = values < top - tuning.noise_sigmas * jitter(state, tuning, top)
        both_sides = (lower & (positions < top_at - SAME)).any() and (lower & (positions > top_at + SAME)).any()
        if weak is None and (abs(top_at - end) <= tuning.pass_margin or both_sides):
            return PeakPassed(*bracket(lens_range, positions, best))
        if not state.reversed:
            return turn(state, tuning, lens_range, positions, values, best)
        return whole_range_seen(lens_range, positions, values, best, weak)
    return _next_step(state, tuning, lens_range)


def _next_step(state: ScanState, tuning: AfTuning, lens_range) -> Move:
    if state.dwell_left > 0:
        state.dwell_left -= 1
        return Move(None)
    low, high = lens_range
    target = min(max(state.track.last_command + state.direction * tuning.sweep_step, low), high)
    if abs(target - state.track.last_command) <= SAME:
        return Move(None)  # at the end of the range: wait for it to show
    state.dwell_left = state.dwell - 1
    return Move(target)


def turn(state: ScanState, tuning: AfTuning, lens_range, positions: np.ndarray, values: np.ndarray,
         best: int) -> Outcome:
    """The measure only fell from the start: cover the other side, once."""
    state.reversed = True
    state.direction = -state.direction
    low, high = lens_range
    seen = np.array([p for s in state.samples for p in s.states] + [state.start])
    edge = float(seen.min()) if state.direction < 0 else float(seen.max())
    other_end = low if state.direction < 0 else high
    if state.direction * (other_end - edge) <= SAME:
        weak = weak_peak(state, tuning)
        return whole_range_seen(lens_range, positions, values, best, weak)
    state.resume_at = min(max(edge + state.direction * tuning.sweep_step, low), high)
    return Move(state.resume_at)


def whole_range_seen(lens_range, positions: np.ndarray, values: np.ndarray, best: int,
                     weak: str | None) -> Outcome:
    if weak is not None:
        return Fail(weak)
    return PeakPassed(*bracket(lens_range, positions, best))


def bracket(lens_range, positions: np.ndarray, best: int) -> tuple[float, float]:
    """Where the peak is: between the held positions beside the sharpest."""
    low, high = lens_range
    centre = float(positions[best])
    below = positions[positions < centre - SAME]
    above = positions[positions > centre + SAME]
    return (float(below.max()) if below.size else low), (float(above.min()) if above.size else high)
