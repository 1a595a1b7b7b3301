"""Properties of the engine that hold for any scene, start, range and latency (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from af.synthetic_focus import SynthRig
from focusd.af import AfMode, AfState, AutofocusEngine, Frame
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def drive(af: AutofocusEngine, frames, low: float, high: float, limit: int):
    """Feed frames (a callable giving the next one, and one taking a command); check every
    target; return the frame count at the first FOCUSED/FAILED (None if never)."""
    next_frame, command = frames
    for count in range(1, limit + 1):
        target = af.update(next_frame())
        if target is not None:
            assert isinstance(target, float)
            assert math.isfinite(target)
            assert low - 1e-9 <= target <= high + 1e-9
            command(target)
        if af.state in (AfState.FOCUSED, AfState.FAILED):
            return count
    return None


@SETTINGS
@given(
    peak=st.floats(0.0, 15.0),
    start=st.floats(0.0, 15.0),
    low=st.sampled_from([0.0, 3.0]),
    span=st.sampled_from([9.0, 12.0]),
    told=st.integers(0, 4),
    error=st.integers(-1, 1),
    light=st.sampled_from(["bright", "indoor", "dim", "dark"]),
    featureless=st.booleans(),
    blend=st.sampled_from([0.0, 0.2]),
    seed=st.integers(0, 50),
)
def test_scans_stay_in_range_end_in_bounded_frames_and_never_yield_nan(
        peak, start, low, span, told, error, light, featureless, blend, seed):
    high = low + span
    af = AutofocusEngine(lens_range=(low, high), latency_frames=told)
    rig = SynthRig(peak=peak, light=light, latency=max(told + error, 0), start_lens=start, seed=seed,
                   blend=blend, featureless=featureless)
    af.start(AfMode.SINGLE, lens_position=start)
    frames = drive(af, (rig.next_frame, rig.set_lens_position), low, high, af.tuning.max_frames + 1)
    assert frames is not None and frames <= af.tuning.max_frames
    assert af.state in (AfState.FOCUSED, AfState.FAILED)
    assert (af.failure_reason is None) == (af.state is AfState.FOCUSED)


@SETTINGS
@given(seed=st.integers(0, 10_000), told=st.integers(0, 3), start=st.floats(0.0, 12.0),
       level=st.integers(0, 255), mode=st.sampled_from([AfMode.SINGLE, AfMode.CONTINUOUS]))
@example(seed=5079, told=3, start=11.5, level=42, mode=AfMode.SINGLE)  # a retry once outran max_frames
def test_garbage_frames_never_drive_the_lens_out_of_range(seed, told, start, level, mode):
    rng = np.random.default_rng(seed)
    af = AutofocusEngine(lens_range=(0.0, 12.0), latency_frames=told)
    af.start(mode, lens_position=start)
    sequence = iter(range(10_000))
    state = {"lens": start}

    def next_frame():
        kind = rng.integers(0, 3)
        if kind == 0:
            y = rng.integers(0, 256, size=(120, 160), dtype=np.uint8)
        elif kind == 1:
            y = np.full((120, 160), level, dtype=np.uint8)
        else:
            y = np.clip(level + rng.normal(0, 5, (120, 160)), 0, 255).astype(np.uint8)
        return Frame(y=y, lens_position=state["lens"], sequence=next(sequence))

    def command(target):
        state["lens"] = target

    frames = drive(af, (next_frame, command), 0.0, 12.0, 200)
    assert frames is not None and frames <= af.tuning.max_frames
    for _ in range(100):  # and after the result too, in either mode
        target = af.update(next_frame())
        assert target is None or (0.0 <= target <= 12.0 and math.isfinite(target))


@SETTINGS
@given(peak=st.floats(0.5, 11.5), start=st.floats(0.0, 12.0), seed=st.integers(0, 50))
def test_a_clear_scene_at_the_told_latency_is_found(peak, start, seed):
    af = AutofocusEngine(lens_range=(0.0, 12.0), latency_frames=2)
    rig = SynthRig(peak=peak, light="bright", latency=2, start_lens=start, seed=seed)
    af.start(AfMode.SINGLE, lens_position=start)
    frames = drive(af, (rig.next_frame, rig.set_lens_position), 0.0, 12.0, af.tuning.max_frames + 1)
    assert af.state is AfState.FOCUSED, af.failure_reason
    assert abs(rig.commanded() - peak) <= 0.15
    assert frames <= 45 + 3 * abs(peak - start)  # a turn round near the start costs a dozen or two
