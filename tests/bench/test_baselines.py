"""The benchmark's baselines: the stock Pi CDAF's documented schedule, the sweep ceiling, the
golden-section search, on the simulator's frames (seeded: the figures are deterministic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from focusd.af.types import AfMode, AfState, Frame
from focusd.bench.baselines import ExhaustiveSweep, GoldenSection, SearchTuning, gaussian_peak
from focusd.bench.runner import make_rig
from focusd.bench.stock import StockCdaf, StockTuning, stock_focus_fom
from focusd.bench.suite import SceneSpec, TrialSpec


def drive(algorithm, spec: TrialSpec, max_frames: int = 400):
    """Run one algorithm on a trial's rig; return (frames to the end state, commanded path)."""
    rig = make_rig(spec)
    algorithm.start(AfMode.SINGLE, lens_position=spec.start)
    commands = []
    for n in range(1, max_frames + 1):
        frame = rig.next_frame()
        target = algorithm.update(Frame(y=frame.y, lens_position=frame.lens_position, sequence=frame.sequence))
        if target is not None:
            rig.set_lens_position(target)
            commands.append((n, target))
        if algorithm.state in (AfState.FOCUSED, AfState.FAILED):
            return n, commands, rig.truth()
    raise AssertionError(f"{type(algorithm).__name__} did not finish in {max_frames} frames")


def trial(texture="text", distance_m=1.0, start=1.0, light="bright", latency=2, told=2, seed=3, kind="texture"):
    return TrialSpec(index=0, block="test", scene=SceneSpec(kind, texture, distance_m, seed=seed), light=light,
                     latency=latency, told_latency=told, start=start, seed=seed)


# The documented frame counts of the stock AF: docs/device-facts.md, "Stock contrast AF".


def test_stock_normal_takes_about_the_documented_45_frames_to_1m():
    frames, commands, truth = drive(StockCdaf("normal"), trial(distance_m=1.0, start=1.0))
    assert 40 <= frames <= 55, frames  # about 45 frames to a subject at 1 m
    # the scan starts at infinity and steps nearer by 1.0 D, a step every 6 frames
    positions = [p for _, p in commands]
    assert positions[0] == 0.0
    assert positions[1:3] == [1.0, 2.0]
    assert commands[2][0] - commands[1][0] == 6


def test_stock_fast_takes_about_the_documented_20_frames_to_1m():
    frames, commands, _ = drive(StockCdaf("fast"), trial(distance_m=1.0, start=1.0))
    assert 18 <= frames <= 30, frames  # about 20 frames (fast)
    positions = [p for _, p in commands]
    assert positions[:3] == [0.0, 1.25, 2.5]


def test_stock_normal_to_10cm_is_about_96_frames():
    frames, _, _ = drive(StockCdaf("normal"), trial(distance_m=0.1, start=1.0))
    assert 85 <= frames <= 110, frames  # about 96 frames at 10 cm


def test_stock_libcamera_exact_fine_scan_costs_more_frames():
    documented, _, _ = drive(StockCdaf("normal"), trial())
    exact, _, _ = drive(StockCdaf("normal", tuning=StockTuning(libcamera_exact=True)), trial())
    assert exact > documented


def test_stock_ipa_at_half_the_frame_rate_doubles_the_frames():
    every, _, _ = drive(StockCdaf("normal"), trial())
    half, _, _ = drive(StockCdaf("normal", tuning=StockTuning(frames_per_ipa_run=2)), trial())
    assert 1.8 * every <= half <= 2.2 * every


def test_stock_slews_at_most_max_slew_per_frame():
    _, commands, _ = drive(StockCdaf("normal"), trial(distance_m=0.1, start=12.0))
    # af.cpp's trigger frame slews twice (startProgrammedScan and prepare each call
    # updateLensPosition): 2 x 1.5 D; every later frame at most max_slew
    assert commands[0][1] == pytest.approx(12.0 - 2 * 1.5)
    previous = commands[0][1]
    for _, position in commands[1:]:
        assert abs(position - previous) <= 1.5 + 1e-9
        previous = position


@pytest.mark.parametrize("speed", ["normal", "fast"])
def test_stock_fails_on_a_featureless_wall(speed):
    algorithm = StockCdaf(speed)
    drive(algorithm, trial(kind="featureless", start=3.0))
    assert algorithm.state == AfState.FAILED  # a flat curve: its minimum is above 0.75 x max


@pytest.mark.parametrize("cls", [ExhaustiveSweep, GoldenSection])
def test_probing_baselines_end_failed_on_a_featureless_wall(cls):
    algorithm = cls()
    drive(algorithm, trial(kind="featureless", start=3.0))
    assert algorithm.state == AfState.FAILED


@pytest.mark.parametrize("distance_m", [0.2, 1.0, math.inf])
def test_exhaustive_sweep_is_accurate(distance_m):
    algorithm = ExhaustiveSweep()
    rig_spec = trial(distance_m=distance_m, start=4.0)
    drive(algorithm, rig_spec)
    assert algorithm.state == AfState.FOCUSED
    final = algorithm._result()
    truth = 0.0 if math.isinf(distance_m) else 1.0 / distance_m
    assert abs(final - truth) <= 0.15


def test_exhaustive_sweep_covers_the_range_in_fine_steps():
    frames, commands, _ = drive(ExhaustiveSweep(), trial())
    positions = [p for _, p in commands[:-1]]  # the last command is the fitted peak
    assert positions[0] == 0.0 and positions[-1] == 12.0
    assert np.allclose(np.diff(positions), 0.25)
    # each position is read latency + 3 frames after it was commanded
    assert commands[1][0] - commands[0][0] == 2 + 3


def test_golden_section_probes_then_settles():
    algorithm = GoldenSection()
    frames, commands, _ = drive(algorithm, trial(distance_m=0.5, start=1.0))
    probes = len(commands) - 1
    # ln(12 / 0.1) / ln(1.618) ~ 10 bracket reductions (+1 first probe); each probe latency + 2
    # frames, the first sent on frame 1; then the final move and latency + 1 frames to arrive
    assert 10 <= probes <= 12
    assert frames == 1 + probes * 4 + 3
    assert algorithm.state in (AfState.FOCUSED, AfState.FAILED)


def test_baselines_are_idle_after_stop_and_leave_the_lens_alone():
    for algorithm in (StockCdaf("normal"), ExhaustiveSweep(), GoldenSection()):
        algorithm.start(AfMode.SINGLE, lens_position=2.0)
        algorithm.stop()
        assert algorithm.state == AfState.IDLE
        y = np.full((432, 768), 100, dtype=np.uint8)
        assert algorithm.update(Frame(y=y, lens_position=2.0, sequence=1)) is None


def test_stock_rejects_an_unknown_speed():
    with pytest.raises(ValueError, match="speed"):
        StockCdaf("turbo")


def test_gaussian_peak_finds_the_vertex_of_a_gaussian():
    positions = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    values = [math.exp(-((p - 0.81) ** 2) / 0.3) for p in positions]
    assert gaussian_peak(positions, values) == pytest.approx(0.81, abs=1e-6)


def test_stock_focus_fom_is_larger_for_a_sharper_image():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, size=(90, 160)).astype(np.uint8)
    soft = ((sharp[:, :-1].astype(int) + sharp[:, 1:]) // 2).astype(np.uint8)
    assert stock_focus_fom(sharp) > stock_focus_fom(soft)


def test_search_tuning_defaults_are_latency_tolerant():
    tuning = SearchTuning()
    assert tuning.sweep_hold_frames >= 3  # reads a clean frame when the true latency is told + 1
