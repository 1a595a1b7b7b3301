"""[exposure] and capture.raw: defaults, bad values named in the ConfigError, and exit 78 through
the real command line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from focusd.config.settings import apply_overrides, parse_config
from focusd.errors import EX_CONFIG, ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_auto_exposure_and_no_raw():
    config = parse_config({})
    exposure = config.exposure
    assert (exposure.auto, exposure.shutter_us, exposure.iso, exposure.compensation_ev, exposure.awb,
            exposure.metering) == (True, None, None, 0.0, "auto", "centre")
    assert config.capture.raw is False


def test_manual_exposure_and_the_auto_words():
    config = parse_config({"exposure": {"auto": False, "shutter_us": 5000, "iso": 400, "awb": "daylight",
                                        "metering": "spot", "compensation_ev": -1.5}})
    assert (config.exposure.shutter_us, config.exposure.iso) == (5000.0, 400.0)
    config = parse_config({"exposure": {"shutter_us": "auto", "iso": "auto"}})
    assert (config.exposure.shutter_us, config.exposure.iso) == (None, None)


@pytest.mark.parametrize("key, value, words", [
    ("auto", "yes", []),
    ("shutter_us", 0, ["between 1 and"]),
    ("shutter_us", "fast", ['"auto"']),
    ("iso", 50, ["100"]),
    ("iso", 12800, ["6400"]),
    ("compensation_ev", 9, ["-8", "8"]),
    ("awb", "sunny", ["daylight"]),
    ("metering", "center", ["centre"]),
])
def test_a_bad_exposure_key_is_named(key, value, words):
    with pytest.raises(ConfigError) as caught:
        parse_config({"exposure": {key: value}})
    assert caught.value.key == f"exposure.{key}"
    for word in words:
        assert word in caught.value.reason


@pytest.mark.parametrize("given, missing", [({"shutter_us": 5000}, "exposure.iso"),
                                            ({"iso": 200}, "exposure.shutter_us")])
def test_manual_exposure_needs_both_time_and_gain(given, missing):
    with pytest.raises(ConfigError) as caught:
        parse_config({"exposure": {"auto": False, **given}})
    assert caught.value.key == missing and "exposure.auto = false" in caught.value.reason


def test_a_fixed_exposure_longer_than_a_frame_is_refused():
    # imx708's focusing mode runs at 56.03 fps: 17848 us a frame, the frame rate pinned
    parse_config({"exposure": {"shutter_us": 17000}})
    with pytest.raises(ConfigError) as caught:
        parse_config({"exposure": {"shutter_us": 20000}})
    assert caught.value.key == "exposure.shutter_us" and "longer than a frame" in caught.value.reason
    parse_config({"exposure": {"shutter_us": 60000}, "camera": {"sensor_mode": [4608, 2592]}})  # 14.35 fps


def test_capture_raw_must_be_a_boolean_and_can_be_set_from_the_command_line():
    with pytest.raises(ConfigError) as caught:
        parse_config({"capture": {"raw": "dng"}})
    assert caught.value.key == "capture.raw"
    assert apply_overrides(parse_config({}), {"capture.raw": True}).capture.raw is True


@pytest.mark.parametrize("text, key", [
    ('[exposure]\nawb = "sunny"\n', "exposure.awb"),
    ("[exposure]\nauto = false\nshutter_us = 4000\n", "exposure.iso"),
    ('[capture]\nraw = "yes"\n', "capture.raw"),
])
def test_check_config_exits_78_naming_the_key(tmp_path, text, key):
    path = tmp_path / "focusd.toml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "focusd.cli", "check-config", str(path)], capture_output=True,
                            text=True, timeout=60, cwd=REPO)
    assert result.returncode == EX_CONFIG, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
