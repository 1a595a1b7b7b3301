"""The engine on synthetic focus curves: a texture blurred by |lens - peak| on the lores grid,
with the latency contract in the harness (tests/af/synthetic_focus.py). Table-driven."""

from __future__ import annotations

import itertools
import logging
import math

import pytest
from af.synthetic_focus import SynthRig, run_scan
from focusd.af import AfMode, AfState, AutofocusEngine, Frame
from focusd.af.engine import Phase
from focusd.af.tuning import AfTuning
from focusd.errors import ConfigError

RANGE = (0.0, 12.0)


def engine(**tuning) -> AutofocusEngine:
    return AutofocusEngine(lens_range=RANGE, latency_frames=2, **tuning)


# (peak D, start D, true latency, light): the engine is always told latency 2
FOCUS_CASES = [
    (0.3, 1.0, 2, "bright"),
    (1.5, 1.0, 2, "bright"),
    (3.0, 1.0, 2, "indoor"),
    (6.0, 1.0, 2, "bright"),
    (10.0, 1.0, 2, "indoor"),
    (0.5, 4.0, 2, "bright"),
    (2.0, 12.0, 2, "bright"),
    (11.5, 0.0, 2, "bright"),
    (0.0, 4.0, 2, "indoor"),  # the peak at the end of the range
    (12.0, 9.0, 2, "bright"),  # and at the other end
    # the latency is a frame off from what the engine was told
    (0.8, 1.0, 1, "bright"),
    (4.5, 1.0, 1, "indoor"),
    (8.0, 1.0, 1, "bright"),
    (0.8, 1.0, 3, "bright"),
    (4.5, 1.0, 3, "indoor"),
    (8.0, 1.0, 3, "bright"),
]


@pytest.mark.parametrize("peak, start, latency, light", FOCUS_CASES)
def test_single_af_focuses_within_a_seventh_of_a_dioptre(peak, start, latency, light):
    af = engine()
    rig = SynthRig(peak=peak, light=light, latency=latency, start_lens=start, seed=int(peak * 10))
    outcome = run_scan(af, rig, AfMode.SINGLE)
    assert outcome.state is AfState.FOCUSED, af.failure_reason
    assert abs(outcome.final - peak) <= 0.15
    # the sweep's held steps (1 D) until the dwell is learned, then a step a frame, the probes and
    # a clean frame at the lock (a turn round costs a dozen): these cases take 20-44 frames
    assert outcome.frames <= 30 + 4 * abs(peak - start)
    assert af.lock_position == pytest.approx(outcome.final)
    assert af.failure_reason is None


def test_latency_one_frame_off_is_learned_from_the_data():
    for true_latency in (1, 3):
        af = engine()
        run_scan(af, SynthRig(peak=4.5, latency=true_latency, start_lens=1.0), AfMode.SINGLE)
        assert af.statistics.latency_estimate == true_latency


def test_typical_scans_are_fast():
    # peaks at 1-6 D from a start of 1 D (the stock default) at the told latency
    frames = []
    for seed, peak in enumerate([0.3, 0.6, 2.0, 3.0, 4.0, 5.0, 6.0]):
        outcome = run_scan(engine(), SynthRig(peak=peak, start_lens=1.0, seed=seed), AfMode.SINGLE)
        frames.append(outcome.frames)
    frames.sort()
    assert frames[len(frames) // 2] <= 28  # these seeded scenes: 26 (a third of the stock CDAF's)


def test_starts_from_where_the_lens_is_and_holds_each_step_until_a_frame_is_clean():
    af = engine()
    rig = SynthRig(peak=6.0, start_lens=4.0, blend=0.5)
    af.start(AfMode.SINGLE, lens_position=4.0)
    targets = []
    for _ in range(8):
        target = af.update(rig.next_frame())
        targets.append(target)
        if target is not None:
            rig.set_lens_position(target)
    # the first command is one sweep step from the start (towards infinity first: 4 D is nearer
    # than where subjects usually are), not a jump to an end of the range
    assert targets[0] == pytest.approx(4.0 - af.tuning.sweep_step)
    # each step is held clean_dwell frames (the last of them is then wholly at it, whatever the
    # mix): a command every third frame, and none between
    dwell = af.tuning.clean_dwell
    assert all(t is None for t in targets[1:dwell]) and targets[dwell] is not None
    assert all(abs(b - a) <= af.tuning.max_slew + 1e-9 for a, b in itertools.pairwise(
        [4.0] + [t for t in targets if t is not None]))


@pytest.mark.parametrize("light, featureless", [("dark", False), ("bright", True), ("indoor", True)])
def test_dark_or_featureless_fails_and_returns_to_the_start(light, featureless):
    af = engine()
    rig = SynthRig(peak=3.0, light=light, featureless=featureless, start_lens=2.5, seed=3)
    outcome = run_scan(af, rig, AfMode.SINGLE, after=10)  # the way back, a max_slew per frame
    assert outcome.state is AfState.FAILED
    assert af.failure_reason
    assert outcome.final == pytest.approx(2.5)  # the fallback: where it started
    assert af.lock_position is None


@pytest.mark.parametrize("fallback, expected", [("infinity", 0.0), ("hyperfocal", 0.25), (7.0, 7.0)])
def test_fallback_position_is_configurable(fallback, expected):
    af = engine(fallback=fallback)
    outcome = run_scan(af, SynthRig(peak=3.0, featureless=True, start_lens=2.5), AfMode.SINGLE, after=10)
    assert outcome.state is AfState.FAILED
    assert outcome.final == pytest.approx(expected)


def test_single_locks_and_stays_locked():
    af = engine()
    rig = SynthRig(peak=3.0, light="indoor", start_lens=1.0)
    outcome = run_scan(af, rig, AfMode.SINGLE)
    assert outcome.state is AfState.FOCUSED
    commands = af.statistics.commands
    rig.peak = 7.0  # the subject moves: single AF does not follow
    for _ in range(200):
        assert af.update(rig.next_frame()) is None
    assert af.state is AfState.FOCUSED and af.statistics.commands == commands


def test_continuous_static_scene_never_moves_the_lens_after_the_lock():
    af = engine()
    rig = SynthRig(peak=2.0, light="indoor", start_lens=1.0, seed=5)
    outcome = run_scan(af, rig, AfMode.CONTINUOUS)
    assert outcome.state is AfState.FOCUSED
    for _ in range(1000):
        assert af.update(rig.next_frame()) is None
    assert af.state is AfState.FOCUSED


def test_continuous_refocuses_after_a_sustained_change():
    af = engine()
    rig = SynthRig(peak=2.0, start_lens=1.0, seed=2)
    run_scan(af, rig, AfMode.CONTINUOUS)
    assert af.state is AfState.FOCUSED
    rig.peak = 5.0  # a new subject, 3 D nearer
    for _ in range(80):
        target = af.update(rig.next_frame())
        if target is not None:
            rig.set_lens_position(target)
    assert af.state is AfState.FOCUSED
    assert abs(rig.commanded() - 5.0) <= 0.15


def test_continuous_ignores_a_brief_change():
    af = engine()
    rig = SynthRig(peak=2.0, start_lens=1.0, seed=2)
    run_scan(af, rig, AfMode.CONTINUOUS)
    rig.peak = 5.0
    for _ in range(af.tuning.retrigger_frames - 2):  # shorter than the lock-on delay
        assert af.update(rig.next_frame()) is None
    rig.peak = 2.0
    for _ in range(100):
        assert af.update(rig.next_frame()) is None
    assert af.state is AfState.FOCUSED


def test_continuous_follows_a_subject_moving_in_depth():
    # 2 D/s at 56 fps is 0.036 D per frame
    af = engine()
    rig = SynthRig(peak=1.0, start_lens=1.0, velocity=0.036, seed=4)
    run_scan(af, rig, AfMode.CONTINUOUS)
    errors = []
    for _ in range(150):
        frame = rig.next_frame()
        errors.append(abs(rig.actual[-1] - rig.truths[-1]))
        target = af.update(frame)
        if target is not None:
            rig.set_lens_position(target)
    tracking = errors[50:]  # once the servo has caught on
    assert sum(tracking) / len(tracking) <= 0.3


def test_stop_leaves_the_lens_alone():
    af = engine()
    rig = SynthRig(peak=5.0, start_lens=1.0)
    af.start(AfMode.CONTINUOUS, lens_position=1.0)
    for _ in range(4):
        target = af.update(rig.next_frame())
        if target is not None:
            rig.set_lens_position(target)
    af.stop()
    assert af.state is AfState.IDLE and af.phase is Phase.IDLE
    for _ in range(20):
        assert af.update(rig.next_frame()) is None


def test_idle_engine_ignores_frames():
    af = engine()
    assert af.state is AfState.IDLE
    assert af.update(SynthRig(peak=1.0).next_frame()) is None


def test_one_debug_line_per_frame(caplog):
    af = engine()
    rig = SynthRig(peak=3.0, start_lens=1.0)
    with caplog.at_level(logging.DEBUG, logger="focusd.af"):
        af.start(AfMode.SINGLE, lens_position=1.0)
        for _ in range(12):
            target = af.update(rig.next_frame())
            if target is not None:
                rig.set_lens_position(target)
    frame_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("af frame")]
    assert len(frame_lines) == 12
    assert any("PRIME->SWEEP" in line for line in frame_lines)


def test_window_is_settable():
    af = engine(window=(0.1, 0.1, 0.3, 0.3))
    assert af.window == pytest.approx((0.1, 0.1, 0.3, 0.3))
    af.window = (0.25, 0.25, 0.5, 0.5)
    assert af.window == pytest.approx((0.25, 0.25, 0.5, 0.5))


def test_statistics_for_the_bench():
    af = engine()
    outcome = run_scan(af, SynthRig(peak=4.0, start_lens=1.0), AfMode.SINGLE)
    stats = af.statistics
    assert stats.frames_to_result == outcome.frames
    assert stats.travel >= 3.0 and stats.commands >= 3 and stats.reversals >= 1


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"lens_range": (5.0, 1.0)}, "af.range"),
        ({"lens_range": (-1.0, 12.0)}, "af.range"),
        ({"latency_frames": -1}, "af.lens_latency_frames"),
        ({"latency_frames": 1.5}, "af.lens_latency_frames"),
        ({"sweep_step": 0.0}, "af.sweep_step"),
        ({"sweep_step": 2.0}, "af.sweep_step"),  # more than max_slew: would not land in one write
        ({"window": (0.8, 0.0, 0.5, 0.5)}, "af.window"),
        ({"fallback": "somewhere"}, "af.fallback"),
        ({"measure": "sobel"}, "af.measure"),
        ({"no_such_knob": 1}, "af.no_such_knob"),
    ],
)
def test_bad_tuning_is_refused_naming_the_key(kwargs, key):
    arguments = {"lens_range": RANGE, "latency_frames": 2} | kwargs
    with pytest.raises(ConfigError) as error:
        AutofocusEngine(**arguments)
    assert error.value.key == key


def test_tuning_defaults_are_valid_and_every_field_is_documented():
    import ast
    import inspect

    import focusd.af.tuning as module

    assert AfTuning().problems() == []
    tree = ast.parse(inspect.getsource(module))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AfTuning").body
    documented = {
        statement.target.id
        for statement, following in itertools.pairwise(body)
        if isinstance(statement, ast.AnnAssign) and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)
    }
    assert set(AfTuning.names()) == documented


def test_start_clamps_into_the_range_and_handles_nan():
    af = engine()
    af.start(AfMode.SINGLE, lens_position=20.0)
    target = af.update(Frame(y=SynthRig(peak=1.0).next_frame().y, lens_position=20.0, sequence=0))
    assert target is not None and RANGE[0] <= target <= RANGE[1]
    af.start(AfMode.SINGLE, lens_position=math.nan)
    target = af.update(Frame(y=SynthRig(peak=1.0).next_frame().y, lens_position=0.0, sequence=0))
    assert target is not None and math.isfinite(target)


@pytest.mark.parametrize("peak", [2.12, 3.37, 5.61, 7.88, 9.43])
def test_the_lock_is_fitted_between_the_probes(peak):
    """The probes are 0.25 D apart; the lock is the vertex of the curve fitted to them, so it lands
    far closer to the peak than the nearest probe would (within 0.05 D on these seeded scenes)."""
    af = engine()
    outcome = run_scan(af, SynthRig(peak=peak, light="bright", start_lens=1.0, seed=7), AfMode.SINGLE)
    assert outcome.state is AfState.FOCUSED, af.failure_reason
    assert abs(outcome.final - peak) <= 0.05
