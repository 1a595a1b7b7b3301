"""The VCM model: moves start when told, approach the target without overshoot, settle."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focusd.sim.lens import LensModel, VcmLens


def test_at_rest_until_the_move_starts_then_settles():
    lens = VcmLens(1.0)
    lens.command(0.010, 9.0)
    assert lens.position(0.0099) == 1.0
    assert 1.0 < lens.position(0.012) < 9.0
    assert lens.position(0.010 + 0.04) == pytest.approx(9.0, abs=1e-3)
    samples, mean = lens.exposure(0.0, 0.005)
    assert samples == [(1.0, 1.0)] and mean == 1.0


def test_speed_is_limited():
    model = LensModel()
    lens = VcmLens(0.0, model)
    lens.command(0.0, 15.0)
    dt = 0.001
    assert lens.position(dt) <= model.slew_dioptres_per_s * dt + 1e-9


def test_a_command_at_the_same_time_replaces_the_previous():
    lens = VcmLens(2.0)
    lens.command(0.01, 5.0)
    lens.command(0.01, 3.0)
    assert lens.target == 3.0
    assert lens.position(1.0) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        lens.command(0.005, 4.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 15), st.lists(st.tuples(st.floats(0.0005, 0.02), st.floats(0, 15)), min_size=1, max_size=6))
def test_never_outside_the_commanded_span_and_continuous(start, moves):
    lens = VcmLens(start)
    t = 0.0
    targets = [start]
    for gap, target in moves:
        t += gap
        lens.command(t, target)
        targets.append(target)
    low, high = min(targets), max(targets)
    previous = lens.position(0.0)
    step = 0.0002
    for i in range(1, int((t + 0.05) / step)):
        x = lens.position(i * step)
        assert low - 1e-9 <= x <= high + 1e-9
        assert abs(x - previous) <= LensModel().slew_dioptres_per_s * step + 1e-6
        previous = x
