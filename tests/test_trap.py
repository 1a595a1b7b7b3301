"""Trap focus's detector (focusd.trap), on measure sequences made here (seeded)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from focusd.trap import ARM_FRAMES, FALL_FRAMES, TrapDetector, TrapPhase

LEVEL = 0.01


def peak_curve(frames: int, peak_at: int, width: float, height: float, noise: float, seed: int = 0) -> np.ndarray:
    """The window's sharpness as a subject passes through the plane: ``LEVEL`` far from it, up to
    ``LEVEL * (1 + height)`` at frame ``peak_at`` (a Gaussian of ``width`` frames), with noise
    of ``noise`` times the level."""
    rng = np.random.default_rng(seed)
    k = np.arange(frames)
    clean = LEVEL * (1 + height * np.exp(-0.5 * ((k - peak_at) / width) ** 2))
    return clean + rng.normal(0.0, noise * LEVEL, frames)


def feed(detector: TrapDetector, values, still=lambda k: True, first: int = 100):
    """Every value as one frame (sequence ``first + k``); the fires, with the frame they came at."""
    fires = []
    for k, value in enumerate(values):
        fire = detector.frame(first + k, float(value), still(k))
        if fire is not None:
            fires.append((first + k, fire))
    return fires


@pytest.mark.parametrize("noise", [0.002, 0.01, 0.05])
def test_a_still_scene_never_fires(noise):
    """10,000 frames of a still scene at three noise levels (a dark scene's is 5%): not one fire,
    and no image asked for."""
    detector = TrapDetector()
    rng = np.random.default_rng(int(noise * 1000))
    values = LEVEL * (1 + rng.normal(0.0, noise, 10_000))
    copies = 0
    for k, value in enumerate(values):
        assert detector.frame(k, float(value)) is None, k
        copies += k in detector.wanted
        assert len(detector.wanted) <= 2
    assert detector.phase is TrapPhase.WATCHING
    assert copies < 50  # a still scene asks for (almost) no image: no main-image copies on the camera thread


def test_a_pass_fires_once_on_the_peak_frame_after_the_fall():
    values = peak_curve(200, peak_at=120, width=12, height=0.6, noise=0.005)
    detector = TrapDetector()
    fires = feed(detector, values)
    assert len(fires) == 1
    at, fire = fires[0]
    assert abs(fire.peak_sequence - (100 + 120)) <= 2  # the peak frame, not the frame of the fire
    assert at > fire.peak_sequence + FALL_FRAMES  # known only once it has fallen
    assert fire.rise == pytest.approx(1.6, abs=0.05)
    assert detector.phase is TrapPhase.FIRED and not detector.wanted
    assert feed(detector, values[::-1], first=400) == []  # once per arming
    detector.reset()
    assert len(feed(detector, values, first=700)) == 1  # armed again: fires again


def test_the_peak_frame_was_asked_for_when_it_came():
    """The frame the detector names was in ``wanted`` right after it arrived (the camera thread
    copied its image then: it cannot go back for it)."""
    values = peak_curve(200, peak_at=90, width=6, height=1.0, noise=0.01, seed=3)
    detector = TrapDetector()
    asked = set()
    fire = None
    for k, value in enumerate(values):
        fire = detector.frame(k, float(value)) or fire
        asked |= detector.wanted
        assert len(detector.wanted) <= 2  # at most two images held at a time
    assert fire is not None and fire.peak_sequence in asked
    assert len(asked) < 40  # only frames near the rise were copied


def test_the_smoothed_peak_is_nearer_than_the_noisy_arg_max():
    """On a flat top with noise (a weak texture in dim light), the 3-frame smoothing picks a frame
    nearer the true peak than the raw arg-max does, over many seeds."""
    smoothed_errors, raw_errors = [], []
    for seed in range(40):
        values = peak_curve(300, peak_at=150, width=30, height=0.25, noise=0.01, seed=seed)
        fires = feed(TrapDetector(), values, first=0)
        assert len(fires) == 1
        smoothed_errors.append(abs(fires[0][1].peak_sequence - 150))
        raw_errors.append(abs(int(np.argmax(values)) - 150))
    assert np.mean(smoothed_errors) < np.mean(raw_errors)


def test_a_small_bump_is_not_a_rise():
    """Below RISE (8%) of the armed level: a passer-by far from the plane, or a flicker."""
    values = peak_curve(200, peak_at=100, width=8, height=0.05, noise=0.001)
    assert feed(TrapDetector(), values) == []


def test_a_rise_within_the_noise_is_not_a_rise():
    """In a noisy scene the rise must also clear RISE_SIGMAS times the measured noise."""
    values = peak_curve(300, peak_at=150, width=8, height=0.3, noise=0.05, seed=1)
    assert feed(TrapDetector(), values) == []
    clear = peak_curve(300, peak_at=150, width=8, height=1.5, noise=0.05, seed=1)
    assert len(feed(TrapDetector(), clear)) == 1


def test_a_subject_that_stops_in_the_plane_does_not_fire():
    k = np.arange(300)
    values = LEVEL * (1 + 0.8 / (1 + np.exp(-(k - 100) / 5)))  # rises and stays
    assert feed(TrapDetector(), values) == []


def test_a_fall_must_last_fall_frames():
    """Hysteresis: one low frame at the top (a glitch: three smoothed frames a quarter lower) does
    not fire, nor do FALL_FRAMES - 1 low smoothed frames; a real fall does."""
    values = list(LEVEL * np.ones(40)) + list(LEVEL * 1.8 * np.ones(40))
    values[60] = LEVEL
    detector = TrapDetector()
    assert feed(detector, values) == []
    assert detector.phase is TrapPhase.RISEN
    values[62] = LEVEL  # two frames down, one apart: four smoothed frames low
    assert len(feed(TrapDetector(), values)) == 1


def test_frames_of_a_moving_lens_are_not_measured():
    """The lens passing through focus on its way to the plane looks exactly like a pass: while the
    frames are not still it must not count, and the arming starts again once they are."""
    values = peak_curve(200, peak_at=40, width=6, height=1.0, noise=0.002)
    assert len(feed(TrapDetector(), values)) == 1  # had those frames counted, it would fire
    detector = TrapDetector()
    assert feed(detector, values, still=lambda k: k >= 80) == []
    assert detector.phase is TrapPhase.WATCHING
    assert detector.level == pytest.approx(LEVEL, rel=0.01)  # armed from the still frames only


def test_the_lens_moving_after_arming_arms_again():
    detector = TrapDetector()
    feed(detector, LEVEL * np.ones(20))
    assert detector.phase is TrapPhase.WATCHING
    detector.frame(500, LEVEL, still=False)
    assert detector.phase is TrapPhase.SETTLING and detector.level is None
    for k in range(ARM_FRAMES):
        detector.frame(501 + k, 2 * LEVEL)
    assert detector.level == pytest.approx(2 * LEVEL)


def test_the_armed_level_is_the_median_and_the_noise_free_of_a_trend():
    """A subject already approaching while armed: a steady trend is not noise."""
    detector = TrapDetector()
    values = [LEVEL * (1 + 0.01 * k) for k in range(ARM_FRAMES)]
    feed(detector, values)
    assert detector.level == pytest.approx(np.median(values))
    assert detector.noise == pytest.approx(0.002 * detector.level)  # the floor: second differences are 0
    assert math.isfinite(detector.rise_needed())
