"""The shipped camera-module profiles: each loads, is consistent, and configures."""

from __future__ import annotations

import pytest

from focusd.config.settings import parse_config
from focusd.errors import ProfileError
from focusd.hw.vcm import DRIVERS, VcmSettings
from focusd.config.profiles import available_profiles, load_profile

SHIPPED = {"imx708", "imx708_wide", "imx519", "arducam_64mp", "ov5647_motorized"}


def test_every_supported_module_has_a_profile():
    assert SHIPPED <= set(available_profiles())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_profile_is_consistent(name):
    profile = load_profile(name)
    low, high = profile.lens_range
    assert 0 <= low < high
    for range_name, (a, b) in profile.af_ranges.items():
        assert low <= a < b <= high, range_name
    assert {"normal", "macro", "full"} <= set(profile.af_ranges)
    width, height = profile.full_resolution
    for mode in profile.modes:
        x, y, w, h = mode.crop
        assert x >= 0 and y >= 0 and mode.fps > 0
        assert (w, h) == (mode.size[0] * mode.binning, mode.size[1] * mode.binning), mode.name  # crop = what is read
        assert mode.size[0] <= width and mode.size[1] <= height
    focus = profile.mode()
    lores_w, lores_h = profile.lores_size
    assert lores_w % 2 == 0 and lores_h % 2 == 0
    assert lores_w <= focus.size[0] and lores_h <= focus.size[1]  # picamera2 refuses a larger lores
    assert max(m.size for m in profile.modes) == tuple(profile.full_resolution)
    assert 0 <= profile.lens_latency_frames <= 10
    assert profile.lens_driver in ("libcamera", *DRIVERS)
    parse_config({"camera": {"profile": name}})  # the configuration checks accept it as shipped


@pytest.mark.parametrize("name", sorted(n for n in SHIPPED if load_profile(n).lens_driver in DRIVERS))
def test_i2c_profiles_carry_a_usable_vcm_map(name):
    profile = load_profile(name)
    settings = VcmSettings.from_profile(profile)
    assert settings.dioptre_map.range == tuple(profile.lens_range)
    assert settings.address == 0x0C


def test_camera_module_3_matches_the_device_facts():
    profile = load_profile("imx708")
    assert profile.lens_range == (0.0, 15.0)
    assert {m.size: m.fps for m in profile.modes} == {(1536, 864): 120.13, (2304, 1296): 56.03, (4608, 2592): 14.35}
    wide = load_profile("imx708_wide")
    assert wide.lens_range == (0.0, 35.0) and wide.sensor == "imx708_wide"
    assert [m.size for m in wide.modes] == [m.size for m in profile.modes]


def test_ov5647_vcm_is_arducams():
    vcm = load_profile("ov5647_motorized").vcm
    assert (vcm["address"], vcm["bits"], vcm["bus"]) == (0x0C, 10, 10)


def test_sensor_names_are_unique():
    sensors = [load_profile(name).sensor for name in available_profiles()]
    assert len(sensors) == len(set(sensors))


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="imx519"):
        load_profile("imx999")
