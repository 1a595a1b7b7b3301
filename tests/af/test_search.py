"""The search's arithmetic: attribution of frames to lens positions, the peak fit, the latency."""

from __future__ import annotations

import math

import numpy as np
import pytest
from focusd.af.search import LensHistory, arrival_latency, fit_peak, predict_peak


def lorentzian(x, peak=3.0, half_width=1.0, height=1.0):
    return height / (1 + ((np.asarray(x, float) - peak) / half_width) ** 2)


def test_a_command_is_first_seen_latency_plus_one_frames_later():
    history = LensHistory(1.0)
    history.command(10, 2.0)  # answering frame 10
    history.command(11, 3.0)
    assert [history.position(seq, 2) for seq in (11, 12, 13, 14, 15)] == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert [history.position(seq, 0) for seq in (10, 11, 12)] == [1.0, 2.0, 3.0]
    # a fractional latency: a frame exposed while the lens moved sees a blend
    assert history.position(13, 2.25) == pytest.approx(1.0 * 0.25 + 2.0 * 0.75)
    assert history.commanded_at(10) == 2.0 and history.commanded_at(9) == 1.0


def test_commands_must_come_in_order():
    history = LensHistory(0.0)
    history.command(5, 1.0)
    history.command(5, 1.5)  # a second answer to the same frame replaces the first
    assert history.last_command == 1.5
    with pytest.raises(ValueError):
        history.command(4, 2.0)


@pytest.mark.parametrize(
    "positions, peak",
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], 3.3),  # even spacing
        ([0.5, 1.5, 2.0, 2.5, 3.0, 4.5, 6.0], 2.2),  # uneven spacing
        ([5.0, 6.0, 6.5, 7.0, 8.5], 6.8),
        ([0.0, 1.0, 2.0], 0.4),  # the best sample at the end of the range
    ],
)
def test_fit_finds_the_peak_between_samples(positions, peak):
    fit = fit_peak(positions, lorentzian(positions, peak), bounds=(0.0, 12.0))
    assert fit is not None
    assert fit.position == pytest.approx(peak, abs=0.01)
    assert fit.value == pytest.approx(1.0, rel=0.01)
    assert fit.width == pytest.approx(1 / math.sqrt(2), rel=0.01)  # HWHM 1 D as a Gaussian sigma


def test_fit_beats_the_arg_max():
    positions = [1.0, 2.0, 3.0, 4.0]
    fit = fit_peak(positions, lorentzian(positions, 2.6))
    assert abs(fit.position - 2.6) < 0.05 < abs(positions[2] - 2.6)


def test_fit_refuses_an_unbracketed_peak():
    positions = [1.0, 2.0, 3.0]
    assert fit_peak(positions, lorentzian(positions, 5.0)) is None  # still rising
    assert fit_peak(positions, lorentzian(positions, 5.0), bounds=(0.0, 12.0)) is None  # not at an end
    assert fit_peak([1.0, 2.0], [1.0, 2.0]) is None


def test_fit_ignores_a_second_peak_far_away():
    positions = np.arange(0.0, 10.01, 0.5)
    values = lorentzian(positions, 2.0) + lorentzian(positions, 8.0, height=0.5)
    assert fit_peak(positions, values).position == pytest.approx(2.0, abs=0.1)


def test_prediction_points_at_the_peak_from_one_flank():
    positions = [0.0, 1.0, 2.0]
    position, value = predict_peak(positions, lorentzian(positions, 4.0))
    assert position == pytest.approx(4.0, abs=0.1)
    assert value == pytest.approx(1.0, rel=0.05)
    assert predict_peak(positions, [1.0, 1.01, 1.02]) is None  # a flat stretch predicts nothing


@pytest.mark.parametrize("true_latency", [1, 2, 3])
def test_arrival_shows_the_true_latency(true_latency):
    # the lens overshot to a blurred 0.1 and jumps back to the sharp 1.0 in answer to frame 20
    values = {seq: 0.1 for seq in range(15, 21 + true_latency)}
    values.update({seq: 1.0 for seq in range(21 + true_latency, 26)})
    assert arrival_latency(values, 20, told=2, expected=1.0, check_ratio=1.1) == true_latency


def test_arrival_not_seen_yet_or_uninformative():
    values = {18: 0.1, 19: 0.1, 20: 0.1, 21: 0.1, 22: 0.1}
    assert arrival_latency(values, 20, told=2, expected=1.0, check_ratio=1.1) is None
    flat = {seq: 1.0 for seq in range(18, 25)}
    assert arrival_latency(flat, 20, told=2, expected=1.02, check_ratio=1.1) == 2
