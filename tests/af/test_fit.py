"""The peak fit (focusd.af.fit): the vertex of a Lorentzian through samples of a focus curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from focusd.af.fit import fit_peak


def lorentzian(x, peak=3.0, half_width=1.0, height=1.0):
    return height / (1 + ((np.asarray(x, float) - peak) / half_width) ** 2)


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
    assert fit_peak(positions, values, reach=0.65).position == pytest.approx(2.0, abs=0.1)


def test_with_reach_the_fit_follows_the_top_of_a_scalloped_curve():
    """A real stack's curve dips between its frames: two maxima 0.3 D apart on one broad top. The
    fit over the kept samples within reach finds the envelope's top between them; without reach it
    stops at the dip and stays on the one that happens to measure a hair more."""
    positions = np.array([8.3, 8.55, 8.8, 9.05, 9.3, 9.55, 9.8])
    envelope = lorentzian(positions, 9.05, 0.6)
    scallop = np.where(np.isin(np.round(positions, 2), [8.8, 9.3]), 1.0, 0.8)
    values = envelope * scallop
    values[2] *= 1.01  # 8.8 a hair above 9.3
    assert fit_peak(positions, values, fit_fraction=0.6).position < 8.95
    assert fit_peak(positions, values, fit_fraction=0.6, reach=0.65).position == pytest.approx(9.05, abs=0.1)
