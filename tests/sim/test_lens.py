"""The lens path against the libcamera lines it follows (focusd.lens_path), and the glass's
timeline (focusd.sim.lens)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focusd.lens_path import ControllerClock, IpaLens, LensPath, controller_period_frames
from focusd.config.profiles import load_profile
from focusd.sim import SimRig, scenes
from focusd.sim.lens import LensModel, LensTimeline

from sim.sim_helpers import AF_WINDOW


@pytest.mark.parametrize("fps, period", [(120.13, 4), (56.03, 2), (30.0, 1), (14.35, 1), (60.0, 2), (90.0, 3)])
def test_controller_runs_at_most_at_30_hz_with_ipa_base_s_margin(fps, period):
    # ipa_base.cpp: a frame closer than 0.9 x 1/30 s to the last run skips the controller
    assert controller_period_frames(fps) == period
    clock = ControllerClock()
    frame_ns = 1e9 / fps
    runs = [k for k in range(24) if clock.runs(round(k * frame_ns))]
    assert runs == list(range(0, 24, period))


def test_a_write_moves_the_state_at_most_max_slew_and_a_controller_run_another():
    lens = IpaLens(1.0, 1.5, (0.0, 15.0))
    assert lens.write(7.0) is True  # af.cpp: changed = !(fsmooth_ == ftarget_)
    assert (lens.position, lens.target) == (2.5, 7.0)
    assert lens.controller_run() is True
    assert lens.position == 4.0
    assert lens.write(7.0) is True  # the same target written again continues the slew
    assert lens.position == 5.5
    lens.controller_run()
    assert lens.position == 7.0
    assert lens.write(7.0) is False and lens.controller_run() is False  # there: nothing changes
    assert lens.write(99.0) and lens.target == 15.0  # clamped to the map's domain


def test_an_unlimited_lens_goes_straight_there():
    lens = IpaLens(0.0, None, (0.0, 10.0))
    lens.write(9.0)
    assert lens.position == 9.0


def _first_frame_at(rig, target, limit=40):
    for _ in range(limit):
        frame = rig.next_frame()
        if frame.lens_actual == pytest.approx(target, abs=1e-9):
            return frame
    raise AssertionError("never arrived")


def test_a_6_dioptre_jump_at_120_fps_arrives_when_af_cpp_says():
    """A 6 D write sent once, at 120 fps (controller every 4th frame), imx708 max_slew 1.5 D:
    the write itself takes 1.5 D (setLensPosition -> updateLensPosition), and Af::prepare takes
    another 1.5 D on each controller run: 3 more runs, the last 3 x 4 frames after the first
    run that follows the write."""
    rig = SimRig(scenes.texture_scene("text", 1.0), mode=(1536, 864), lores_size=(768, 432), light="bright",
                 latency_frames=2, start_lens=0.0, lens=LensModel(move_phase=0.0))
    first = rig.next_frame()  # frame 0 runs the controller
    assert first.sequence == 0
    rig.set_lens_position(6.0)  # goes out with the request of frame 0 + 2
    reported = {}
    for _ in range(20):
        frame = rig.next_frame()
        reported[frame.sequence] = frame.lens_position
    # frame 2's request carries the write: its metadata shows one slew; the controller runs on
    # frames 0, 4, 8, 12, so frames 4..7 report 3.0 (after frame 4's run), 8..11 4.5, 12.. 6.0
    assert reported[1] == 0.0
    assert reported[2] == reported[3] == 1.5
    assert reported[4] == 1.5  # the metadata is read before that frame's controller run
    assert reported[5] == 3.0 and reported[9] == 4.5 and reported[13] == 6.0
    rig2 = SimRig(scenes.texture_scene("text", 1.0), mode=(1536, 864), lores_size=(768, 432), light="bright",
                  latency_frames=2, start_lens=0.0, lens=LensModel(move_phase=0.0))
    rig2.next_frame()
    rig2.set_lens_position(6.0)
    # the glass reaches 6 D after frame 12's run: frame 13 is the first exposed there
    assert _first_frame_at(rig2, 6.0).sequence == 13


def test_writing_the_target_with_every_request_speeds_the_slew():
    rig = SimRig(scenes.texture_scene("text", 1.0), mode=(1536, 864), lores_size=(768, 432), light="bright",
                 latency_frames=2, start_lens=0.0, lens=LensModel(move_phase=0.0))
    rig.next_frame()
    arrived = None
    for _ in range(20):
        rig.set_lens_position(6.0)
        frame = rig.next_frame()
        if arrived is None and frame.lens_actual == pytest.approx(6.0):
            arrived = frame.sequence
    # writes land on requests 2, 3, 4 (+ the controller run of frame 4): 1.5, 3.0, 6.0 -> frame 5
    assert arrived == 5


def test_the_instant_lens_condition_has_no_slew():
    rig = SimRig(scenes.texture_scene("text", 1.0), light="bright", latency_frames=2, start_lens=0.0,
                 lens=LensModel(slew_limited=False))
    rig.next_frame()
    rig.set_lens_position(9.0)
    frames = [rig.next_frame() for _ in range(4)]
    assert [f.lens_position for f in frames] == [0.0, 9.0, 9.0, 9.0]
    assert frames[2].lens_actual == 9.0


def test_lens_path_of_a_profile():
    imx708 = load_profile("imx708")
    path = LensPath.for_profile(imx708, latency_frames=4)
    assert (path.latency_frames, path.max_slew, path.controller_period) == (4, 1.5, 2)  # 56 fps focusing mode
    assert LensPath.for_profile(imx708, 2, fps=120.13).controller_period == 4
    i2c = LensPath.for_profile(load_profile("ov5647_motorized"), 1)
    assert i2c.max_slew is None and i2c.controller_period == 1


def test_timeline_steps_and_segments():
    timeline = LensTimeline(1.0)
    timeline.step(0.010, 3.0)
    timeline.step(0.020, 5.0)
    assert timeline.position(0.0099) == 1.0 and timeline.position(0.010) == 3.0 and timeline.last == 5.0
    assert timeline.segments(0.005, 0.015) == [(0.005, 0.010, 1.0), (0.010, 0.015, 3.0)]
    assert timeline.segments(0.021, 0.03) == [(0.021, 0.03, 5.0)]
    with pytest.raises(ValueError):
        timeline.step(0.001, 2.0)
    timeline.forget_before(0.015)
    assert timeline.position(0.016) == 3.0 and timeline.position(0.03) == 5.0


@settings(max_examples=60, deadline=None)
@given(phase=st.floats(0.0, 1.0), light=st.sampled_from(["bright", "indoor", "dim"]))
def test_a_frame_after_a_move_is_a_mix_between_old_and_new_and_two_frames_later_clean(phase, light):
    rig = SimRig(scenes.texture_scene("natural", 1.0), light=light, latency_frames=2, start_lens=2.0,
                 lens=LensModel(move_phase=phase), window=AF_WINDOW)
    rig.next_frame()
    rig.set_lens_position(3.0)  # one write within max_slew: lands whole
    frames = [rig.next_frame() for _ in range(6)]
    assert all(f.lens_actual == 2.0 for f in frames[:2])
    mixed = frames[2]  # the first frame that can see it: from none to all of it, by the phase
    assert 2.0 - 1e-9 <= mixed.lens_actual <= 3.0 + 1e-9
    # a late move in a long exposure spills into the next frame; two frames on it is clean
    assert frames[4].lens_actual == pytest.approx(3.0) and not frames[4].lens_moving
    if phase <= 0.2 and light == "bright":
        assert mixed.lens_actual == pytest.approx(3.0)  # short exposures, early move: the window all new
    if phase >= 0.8:
        assert mixed.lens_actual < 2.5  # the window's rows were read out before the move
    assert math.isfinite(frames[3].lens_actual)
