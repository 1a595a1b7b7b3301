"""Focus bracketing's planes (focusd.bracket) and its [bracket] settings."""

import pytest

from focusd.bracket import depth_of_field_dioptres, plan_for, plan_planes
from focusd.config.profiles import load_profile
from focusd.config.schema import BracketConfig
from focusd.config.settings import parse_config
from focusd.errors import ConfigError


def test_depth_of_field_matches_the_blur_relation():
    profile = load_profile("imx708")
    coc_um = 2.0 * profile.pixel_size_um
    dof = depth_of_field_dioptres(profile.f_number, profile.focal_length_mm, coc_um)
    # at half the field from focus the blur circle is exactly the circle of confusion
    assert profile.blur_um_per_dioptre * dof / 2 == pytest.approx(coc_um)


def test_imx708_figure():
    # f/1.8, 4.74 mm, 1.4 um pixels, 2 px CoC: 2 * 2.8e-6 * 1.8 / 4.74e-3**2 = 0.449 D
    profile = load_profile("imx708")
    plan = plan_for(profile, BracketConfig(shots=5, step=1.0, coc_px=2.0), start=2.0)
    assert plan.depth_of_field == pytest.approx(2 * 2 * profile.pixel_size_um * 1e-6 * profile.f_number
                                                / (profile.focal_length_mm * 1e-3) ** 2)
    assert len(plan.planes) == 5 and plan.planes[0] == 2.0
    assert all(b < a for a, b in zip(plan.planes, plan.planes[1:]))


def test_planes_step_and_direction():
    plan = plan_planes(3.0, 4, 0.5, "near", 0.4, (0.0, 10.0))
    assert plan.planes == (3.0, 3.2, 3.4, 3.6)
    plan = plan_planes(3.0, 4, 1.0, "infinity", 0.4, (0.0, 10.0))
    assert plan.planes == pytest.approx((3.0, 2.6, 2.2, 1.8))
    assert not plan.clipped


def test_planes_stop_at_the_lens_range():
    plan = plan_planes(0.5, 5, 1.0, "infinity", 0.2, (0.0, 10.0))
    assert plan.planes == pytest.approx((0.5, 0.3, 0.1))
    assert plan.clipped
    assert plan_planes(9.9, 3, 1.0, "near", 0.2, (0.0, 10.0)).planes == (9.9,)


def test_coverage_every_depth_between_first_and_last_plane_is_sharp_somewhere():
    profile = load_profile("imx708")
    settings = BracketConfig(shots=6, step=1.0, coc_px=2.0)
    plan = plan_for(profile, settings, start=3.0)
    coc_um = settings.coc_px * profile.pixel_size_um
    lo, hi = min(plan.planes), max(plan.planes)
    for i in range(1001):
        depth = lo + (hi - lo) * i / 1000
        best = min(profile.blur_um_per_dioptre * abs(p - depth) for p in plan.planes)
        assert best <= coc_um * (1 + 1e-9)


def test_a_wider_step_leaves_gaps():
    profile = load_profile("imx708")
    plan = plan_for(profile, BracketConfig(shots=3, step=1.5, coc_px=2.0), start=3.0)
    middle = (plan.planes[0] + plan.planes[1]) / 2
    best = min(profile.blur_um_per_dioptre * abs(p - middle) for p in plan.planes)
    assert best > 2.0 * profile.pixel_size_um


@pytest.mark.parametrize("key, value", [("shots", 1), ("shots", "5"), ("step", 0), ("step", 5),
                                        ("direction", "far"), ("coc_px", 0), ("coc_px", True)])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"bracket.{key}"):
        parse_config({"bracket": {key: value}})


def test_defaults_and_good_values():
    config = parse_config({"bracket": {"shots": 8, "step": 0.8, "direction": "near", "coc_px": 1.5}})
    assert config.bracket == BracketConfig(8, 0.8, "near", 1.5)
    assert parse_config({}).bracket == BracketConfig()


def test_a_bad_bracket_key_in_the_file_exits_78_naming_it(tmp_path):
    import subprocess
    import sys

    from focusd.errors import EX_CONFIG

    path = tmp_path / "focusd.toml"
    path.write_text('[bracket]\ndirection = "sideways"\nshots = 1\n')
    result = subprocess.run([sys.executable, "-m", "focusd.cli", "check-config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == EX_CONFIG == 78, result.stderr
    assert "bracket.direction" in result.stderr and "bracket.shots" in result.stderr


def test_the_gesture_key_is_a_boolean():
    assert parse_config({"bracket": {"gesture": False}}).bracket.gesture is False
    with pytest.raises(ConfigError, match="bracket.gesture"):
        parse_config({"bracket": {"gesture": "yes"}})
