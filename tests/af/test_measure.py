"""The focus measure: peaks at focus, ignores exposure, reads only its window, measures its noise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from af.synthetic_focus import LORES, SynthRig
from focusd.af.measure import FocusMeasure
from focusd.af.tuning import STOCK_WINDOW


def frame_at(lens: float, peak: float = 3.0, light: str = "bright", seed: int = 0) -> np.ndarray:
    rig = SynthRig(peak=peak, light=light, start_lens=lens, seed=seed)
    return rig.next_frame().y


@pytest.mark.parametrize("kind", ["gradient", "laplacian"])
def test_measure_is_highest_at_focus_and_falls_both_ways(kind):
    measure = FocusMeasure(STOCK_WINDOW, kind)
    positions = [0.0, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0]
    values = [measure(frame_at(x)).focus for x in positions]
    best = int(np.argmax(values))
    assert positions[best] == 3.0
    assert all(a < b for a, b in itertools.pairwise(values[:best + 1]))  # rising to the peak
    assert all(a > b for a, b in itertools.pairwise(values[best:]))  # falling after it


@pytest.mark.parametrize("kind", ["gradient", "laplacian"])
def test_exposure_change_is_not_read_as_focus(kind):
    measure = FocusMeasure(STOCK_WINDOW, kind)
    y = frame_at(2.5).astype(np.float64)
    darker = np.clip(np.rint(y * 0.5), 0, 255).astype(np.uint8)
    full = measure(y.astype(np.uint8)).focus
    half = measure(darker).focus
    assert half == pytest.approx(full, rel=0.05)
    # while a quarter dioptre of defocus changes it by more than that
    assert abs(measure(frame_at(2.75)).focus / full - 1) > 0.05


def test_default_window_is_the_stock_centre_window():
    measure = FocusMeasure(STOCK_WINDOW)
    assert measure.pixel_window((432, 768)) == (192, 144, 384, 144)


def test_only_the_window_counts_and_a_window_can_be_set():
    measure = FocusMeasure(STOCK_WINDOW)
    y = frame_at(3.0)
    outside = y.copy()
    outside[:100, :] = np.random.default_rng(1).integers(0, 255, size=(100, LORES[1]), dtype=np.uint8)
    assert measure(outside).focus == measure(y).focus
    corner = FocusMeasure((0.0, 0.0, 0.2, 0.2))
    assert corner.pixel_window((432, 768)) == (0, 0, 152, 84)
    assert corner(outside).focus != corner(y).focus


def test_noise_floor_matches_the_sensor_noise():
    # a flat grey frame with Gaussian noise sigma: gradient energy of the noise is 4 sigma^2
    rng = np.random.default_rng(0)
    sigma, level = 3.0, 100.0
    frames = [np.clip(np.rint(level + rng.normal(0, sigma, LORES)), 0, 255).astype(np.uint8) for _ in range(2)]
    measure = FocusMeasure(STOCK_WINDOW)
    first, second = measure(frames[0]), measure(frames[1])
    expected = 4 * (sigma**2 + 1 / 12) / level**2  # plus the rounding to whole codes
    assert measure.noise_floor(first, second) == pytest.approx(expected, rel=0.05)
    # and the measure of a featureless frame is its noise
    assert first.focus == pytest.approx(expected, rel=0.05)


def test_scene_blocks_follow_the_pattern_not_the_exposure():
    measure = FocusMeasure(STOCK_WINDOW)
    y = frame_at(3.0)
    half = np.clip(np.rint(y * 0.5), 0, 255).astype(np.uint8)
    assert np.abs(measure(y).blocks - measure(half).blocks).mean() < 0.02
    changed = y.copy()
    changed[144:216, 192:384] = 20
    assert np.abs(measure(y).blocks - measure(changed).blocks).mean() > 0.12


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        FocusMeasure(STOCK_WINDOW, "sobel")
    with pytest.raises(ValueError):
        FocusMeasure(STOCK_WINDOW)(np.zeros((4, 4, 3), dtype=np.uint8))
