"""The configuration: bad files are refused through the real command line with exit status 78 and
a message naming the key; the shipped default is complete, documented and equal to the built-in
defaults; overrides and edge cases that are fine are accepted."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from focusd.config.settings import (
    CHECKS, SECTIONS, Config, ConfigError, apply_overrides, default_config, load_config, parse_config,
)
from focusd.errors import EX_CONFIG

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "systemd" / "focusd.toml"


def check_config_cli(*arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "focusd.cli", "check-config", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)


# (name, file text, keys the error message must name)
BAD_FILES = [
    ("unknown section", "[pinz]\naf_on = 17\n", ["pinz", "pins"]),
    ("unknown key, with suggestion", "[af]\nwindw = [0.1, 0.1, 0.5, 0.5]\n", ["af.windw", "'window'"]),
    ("section not a table", "pins = 17\n", ["pins"]),
    ("string for an integer", '[pins]\naf_on = "17"\n', ["pins.af_on"]),
    ("boolean for an integer", "[capture]\nqueue_depth = true\n", ["capture.queue_depth"]),
    ("float for an integer", "[shutter]\nburst_limit = 2.5\n", ["shutter.burst_limit"]),
    ("BCM pin out of range", "[pins]\nshutter = 28\n", ["pins.shutter"]),
    ("negative pin", "[pins]\nled = -1\n", ["pins.led"]),
    ("optional pin: wrong word", '[pins]\nremote = "no"\n', ["pins.remote", '"none"']),
    ("duplicate pins", "[pins]\naf_on = 5\nled = 5\n", ["pins.led", "pins.af_on"]),
    ("duplicate pin with a default", "[pins]\nremote = 27\n", ["pins.remote", "pins.shutter"]),
    ("remote focus on the AF-ON pin", "[pins]\nremote_focus = 17\n", ["pins.remote_focus", "pins.af_on"]),
    ("remote focus not a pin", "[pins]\nremote_focus = \"ring\"\n", ["pins.remote_focus"]),
    ("bounce out of range", "[pins]\nbounce_ms = 1500\n", ["pins.bounce_ms"]),
    ("not a finite number", "[pins]\nbounce_ms = nan\n", ["pins.bounce_ms"]),
    ("pull contradicts active level", '[pins]\npull = "down"\nactive_low = true\n', ["pins.active_low", "pins.pull"]),
    ("bad enum", '[af]\nmode = "servo"\n', ["af.mode"]),
    ("bad af range", '[af]\nrange = "near"\n', ["af.range"]),
    ("window outside the frame", "[af]\nwindow = [0.6, 0.2, 0.5, 0.3]\n", ["af.window"]),
    ("window of zero width", "[af]\nwindow = [0.2, 0.2, 0.0, 0.3]\n", ["af.window"]),
    ("window of three numbers", "[af]\nwindow = [0.2, 0.2, 0.3]\n", ["af.window"]),
    ("latency out of range", "[af]\nlens_latency_frames = 11\n", ["af.lens_latency_frames"]),
    ("lock-on delay zero", "[af]\nlock_on_delay_frames = 0\n", ["af.lock_on_delay_frames", "at least 1"]),
    ("lock-on delay not whole", "[af]\nlock_on_delay_frames = 2.5\n", ["af.lock_on_delay_frames", "integer"]),
    ("lock-on threshold of 1", "[af]\nlock_on_threshold = 1\n", ["af.lock_on_threshold", "less than 1"]),
    ("lock-on threshold of 0", "[af]\nlock_on_threshold = 0.0\n", ["af.lock_on_threshold", "more than 0"]),
    ("lock-on threshold as a word", '[af]\nlock_on_threshold = "low"\n', ["af.lock_on_threshold"]),
    ("refocus threshold above 1", "[af]\nrefocus_threshold = 1.5\n", ["af.refocus_threshold", "less than 1"]),
    ("refocus threshold of 1", "[af]\nrefocus_threshold = 1.0\n", ["af.refocus_threshold", "less than 1"]),
    ("lock-on threshold above the refocus one", "[af]\nlock_on_threshold = 0.6\nrefocus_threshold = 0.4\n",
     ["af.lock_on_threshold", "af.refocus_threshold"]),
    ("lock-on threshold above the refocus default", "[af]\nlock_on_threshold = 0.7\n",
     ["af.lock_on_threshold", "af.refocus_threshold"]),
    ("focus timeout out of range", "[shutter]\nfocus_timeout_ms = 20000\n", ["shutter.focus_timeout_ms"]),
    ("burst fps zero", "[shutter]\nburst_fps = 0\n", ["shutter.burst_fps"]),
    ("burst fps above 30", "[shutter]\nburst_fps = 31\n", ["shutter.burst_fps"]),
    ("burst fps above the sensor mode", "[camera]\nsensor_mode = [4608, 2592]\n[shutter]\nburst_fps = 20\n",
     ["shutter.burst_fps"]),
    ("negative burst limit", "[shutter]\nburst_limit = -1\n", ["shutter.burst_limit"]),
    ("queue depth zero", "[capture]\nqueue_depth = 0\n", ["capture.queue_depth"]),
    ("queue depth too deep", "[capture]\nqueue_depth = 1001\n", ["capture.queue_depth"]),
    ("jpeg quality", "[capture]\njpeg_quality = 101\n", ["capture.jpeg_quality"]),
    ("capture format", '[capture]\nformat = "tiff"\n', ["capture.format"]),
    ("empty directory", '[capture]\ndirectory = ""\n', ["capture.directory"]),
    ("file name without counter", '[capture]\nfilename = "IMG_{date:%Y%m%d}_{time:%H%M%S}"\n',
     ["capture.filename", "collide"]),
    ("file name with unknown field", '[capture]\nfilename = "IMG_{hour}_{counter}"\n', ["capture.filename", "{hour}"]),
    ("file name with a bad spec", '[capture]\nfilename = "IMG_{counter:%Y}"\n', ["capture.filename"]),
    ("file name with a folder", '[capture]\nfilename = "sub/IMG_{counter}"\n', ["capture.filename"]),
    ("file name unbalanced brace", '[capture]\nfilename = "IMG_{counter"\n', ["capture.filename"]),
    ("journal in a folder", '[capture]\njournal = "../captures.jsonl"\n', ["capture.journal"]),
    ("camera backend", '[camera]\nbackend = "usb"\n', ["camera.backend"]),
    ("unknown profile", '[camera]\nprofile = "imx999"\n', ["camera.profile", "imx708"]),
    ("sensor mode not in the profile", "[camera]\nsensor_mode = [1920, 1080]\n", ["camera.sensor_mode"]),
    ("odd lores size", "[camera]\nlores_size = [767, 432]\n", ["camera.lores_size", "even"]),
    ("lores larger than the sensor mode", "[camera]\nsensor_mode = [1536, 864]\nlores_size = [2304, 1296]\n",
     ["camera.lores_size"]),
    ("lores of one number", "[camera]\nlores_size = [768]\n", ["camera.lores_size"]),
    ("negative VCM bus", "[camera]\nvcm_bus = -1\n", ["camera.vcm_bus", "at least 0"]),
    ("VCM bus as a path", '[camera]\nvcm_bus = "/dev/i2c-10"\n', ["camera.vcm_bus", '"profile"']),
    ("VCM bus as a boolean", "[camera]\nvcm_bus = true\n", ["camera.vcm_bus"]),
    ("log level", '[logging]\nlevel = "verbose"\n', ["logging.level"]),
    ("boolean as a string", '[logging]\nframe_debug = "yes"\n', ["logging.frame_debug"]),
    ("TOML: key set twice", "[pins]\naf_on = 17\naf_on = 18\n", ["pins.af_on", "twice"]),
    ("TOML: missing value", "[shutter]\nburst = \n", ["shutter.burst"]),
    ("TOML: table declared twice", "[af]\n[logging]\n[af]\n", ["af", "twice"]),
]


@pytest.mark.parametrize("text, keys", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_exits_78_naming_the_key(tmp_path, text, keys):
    path = tmp_path / "focusd.toml"
    path.write_text(text)
    result = check_config_cli(str(path))
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stdout == ""
    for key in keys:
        assert key in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text, keys", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_raises_config_error_with_the_key(tmp_path, text, keys):
    path = tmp_path / "focusd.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    assert keys[0] in {key for key, _ in caught.value.problems} | {caught.value.key}
    assert isinstance(caught.value, ValueError) and caught.value.exit_status == EX_CONFIG


def test_missing_unreadable_and_binary_files_are_config_errors(tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[pins]\naf_on = 17 # \xff\xfe\n")
    for path in (tmp_path / "absent.toml", tmp_path, binary):
        result = check_config_cli(str(path))
        assert result.returncode == EX_CONFIG
        assert "<file>" in result.stderr and str(path) in result.stderr


def test_every_problem_in_a_file_is_listed(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text('[pins]\naf_on = 40\nled = 27\n[capture]\njpeg_quality = 0\n[logging]\nlevel = "loud"\n')
    result = check_config_cli(str(path))
    assert result.returncode == EX_CONFIG
    lines = result.stderr.strip().splitlines()
    named = [re.search(r": ([a-z_]+\.[a-z_]+): ", line).group(1) for line in lines]
    assert named == ["pins.af_on", "capture.jpeg_quality", "logging.level", "pins.led"]
    assert "pins.shutter" in lines[3]  # the duplicate names both keys


def test_a_bad_value_does_not_echo_into_other_checks():
    # pins.af_on is wrong; its default (17) must not then be reported as clashing with pins.led = 17
    with pytest.raises(ConfigError) as caught:
        parse_config({"pins": {"af_on": "seventeen", "led": 17}})
    assert [key for key, _ in caught.value.problems] == ["pins.af_on"]


# ------------------------------------------------------------------------------ the shipped file


def test_shipped_file_is_the_defaults():
    config = load_config(SHIPPED)
    # the file deliberately sets nothing apart from the defaults: it spells them out
    assert config == dataclasses.replace(default_config(), source=str(SHIPPED))
    assert config.camera.backend == "picamera2"
    assert config.capture.directory == "/var/lib/focusd/captures"


def test_shipped_file_has_every_key_documented():
    text = SHIPPED.read_text()
    data = tomllib.loads(text)
    lines = text.splitlines()
    assert set(data) == set(SECTIONS)
    for section, checks in CHECKS.items():
        assert set(data[section]) == set(checks), section
        for key in checks:
            (index,) = [i for i, line in enumerate(lines) if re.match(rf"{key}\s*=", line)
                        and _section_of(lines, i) == section]
            documented = "#" in lines[index] or lines[index - 1].lstrip().startswith("#")
            assert documented, f"{section}.{key} has no comment"


def _section_of(lines: list[str], index: int) -> str:
    for line in reversed(lines[:index]):
        if line.startswith("["):
            return line.strip("[] ")
    return ""


def test_check_config_accepts_the_shipped_file():
    result = check_config_cli(str(SHIPPED))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "imx708" in result.stdout and result.stderr == ""


def test_schema_and_checks_agree():
    # a field added to a dataclass without a check (or the reverse) would be unreachable from a file
    for name, section in SECTIONS.items():
        assert set(CHECKS[name]) == {f.name for f in dataclasses.fields(section)}
    assert set(SECTIONS) == {f.name for f in dataclasses.fields(Config)} - {"source", "overrides"}


# ------------------------------------------------------------------------------------- overrides


def test_overrides_apply_and_keep_the_source():
    config = apply_overrides(load_config(SHIPPED), {
        "camera.backend": "sim", "capture.directory": "/srv/captures", "pins.led": "none",
        "af.window": [0, 0, 1, 1], "camera.sensor_mode": [1536, 864], "shutter.burst_fps": 30,
    })
    assert config.camera.backend == "sim" and config.capture.directory == "/srv/captures"
    assert config.pins.led is None
    assert config.af.window == (0.0, 0.0, 1.0, 1.0) and isinstance(config.af.window, tuple)
    assert config.camera.sensor_mode == (1536, 864)
    assert config.shutter.burst_fps == 30.0 and isinstance(config.shutter.burst_fps, float)
    assert config.source == str(SHIPPED)
    assert apply_overrides(config, {"pins.led": 5}).pins.led == 5


@pytest.mark.parametrize("overrides, key", [
    ({"camera.backend": "usb"}, "camera.backend"),
    ({"camera.backnd": "sim"}, "camera.backnd"),
    ({"camra.backend": "sim"}, "camra.backend"),
    ({"backend": "sim"}, "backend"),
    ({"pins.shutter": 17}, "pins.shutter"),
    ({"capture.queue_depth": True}, "capture.queue_depth"),
])
def test_bad_overrides_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as caught:
        apply_overrides(default_config(), overrides)
    assert caught.value.key == key and caught.value.path == "override"
    assert key in str(caught.value)


def test_override_making_a_clash_with_the_file_names_both(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text("[pins]\nled = 4\n")
    result = check_config_cli(str(path), "--set", "pins.remote=4")
    assert result.returncode == EX_CONFIG
    assert "pins.remote" in result.stderr and "pins.led" in result.stderr
    result = check_config_cli(str(path), "--set", 'camera.backend="sim"', "--set", "pins.remote=none")
    assert result.returncode == 0 and "sim camera" in result.stdout and "remote -" in result.stdout


# ------------------------------------------------------------------------------ good edge cases


GOOD = [
    ("empty file: all defaults", "", {}),
    ("integers for numbers", "[pins]\nbounce_ms = 20\n[shutter]\nfocus_timeout_ms = 0\n",
     {("pins", "bounce_ms"): 20.0, ("shutter", "focus_timeout_ms"): 0.0}),
    ("range ends", "[pins]\naf_on = 0\nshutter = 26\nremote = 25\nled = 24\nbounce_ms = 1000\n"
     "[af]\nlens_latency_frames = 10\n[capture]\nqueue_depth = 1000\njpeg_quality = 1\n[shutter]\nburst_limit = 0\n",
     {("pins", "af_on"): 0, ("pins", "bounce_ms"): 1000.0, ("af", "lens_latency_frames"): 10,
      ("capture", "queue_depth"): 1000, ("shutter", "burst_limit"): 0}),
    ("pin 27 and latency 0", "[pins]\nshutter = 27\n[af]\nlens_latency_frames = 0\n", {("af", "lens_latency_frames"): 0}),
    ("optional things not fitted", '[pins]\nremote = "none"\nled = "none"\n[camera]\nsensor_mode = "profile"\n',
     {("pins", "remote"): None, ("pins", "led"): None, ("camera", "sensor_mode"): None}),
    ("whole-frame window", "[af]\nwindow = [0, 0, 1, 1]\n", {("af", "window"): (0.0, 0.0, 1.0, 1.0)}),
    ("thirds add up to one", "[af]\nwindow = [0.6666666666666666, 0.3333333333333333, 0.3333333333333334, 0.6666666666666667]\n", {}),
    ("fast burst in the fast mode", "[camera]\nsensor_mode = [1536, 864]\nlores_size = [1536, 864]\n[shutter]\nburst_fps = 30\n",
     {("camera", "lores_size"): (1536, 864), ("shutter", "burst_fps"): 30.0}),
    ("slow mode with the burst off", "[camera]\nsensor_mode = [4608, 2592]\n[shutter]\nburst = false\nburst_fps = 30\n", {}),
    ("pattern with sequence and braces", '[capture]\nfilename = "{{x}}_{sequence:08d}_{counter}"\nformat = "png"\n',
     {("capture", "filename"): "{{x}}_{sequence:08d}_{counter}"}),
    ("pull none, active high", '[pins]\npull = "none"\nactive_low = false\n', {("pins", "active_low"): False}),
    ("focus priority, single AF, macro", '[shutter]\npriority = "focus"\n[af]\nmode = "single"\nrange = "macro"\n', {}),
    ("lock-on tuned", "[af]\nlock_on_delay_frames = 1\nlock_on_threshold = 0.3\nrefocus_threshold = 0.3\n",
     {("af", "lock_on_delay_frames"): 1, ("af", "lock_on_threshold"): 0.3, ("af", "refocus_threshold"): 0.3}),
    ("lock-on thresholds as near 0 and 1 as they go", "[af]\nlock_on_threshold = 0.001\nrefocus_threshold = 0.999\n"
     "lock_on_delay_frames = 600\n",
     {("af", "lock_on_threshold"): 0.001, ("af", "refocus_threshold"): 0.999, ("af", "lock_on_delay_frames"): 600}),
    ("VCM bus of a Pi 4", "[camera]\nvcm_bus = 10\n", {("camera", "vcm_bus"): 10}),
    ("VCM bus 0", '[camera]\nprofile = "ov5647_motorized"\nvcm_bus = 0\n', {("camera", "vcm_bus"): 0}),
    ("VCM bus from the profile", '[camera]\nvcm_bus = "profile"\n', {("camera", "vcm_bus"): None}),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in GOOD], ids=[case[0] for case in GOOD])
def test_good_edge_cases_are_accepted(tmp_path, text, expected):
    path = tmp_path / "focusd.toml"
    path.write_text(text)
    config = load_config(path)
    for (section, key), value in expected.items():
        got = getattr(getattr(config, section), key)
        assert got == value and type(got) is type(value)
    assert parse_config({}) == default_config()


def test_check_config_accepts_an_edge_case_through_the_cli(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text(GOOD[2][1])
    result = check_config_cli(str(path))
    assert result.returncode == 0, result.stderr
    assert "af_on 0" in result.stdout


# ------------------------------------------------------------------------------ keys reaching their users


def test_lock_on_keys_reach_the_engine(tmp_path):

    from focusd.af.tuning import AfTuning
    from focusd.config.profiles import load_profile
    from focusd.service.cameras import build_camera, told_lens_path
    from focusd.service.cameras import build_engine

    path = tmp_path / "focusd.toml"
    path.write_text('[camera]\nbackend = "sim"\n[af]\nlock_on_delay_frames = 9\nlock_on_threshold = 0.2\n'
                    "refocus_threshold = 0.4\n")
    config = load_config(path)
    camera = build_camera(config, pacing="stepped")
    tuning = build_engine(config, told_lens_path(config, load_profile(config.camera.profile), camera)).tuning
    assert (tuning.retrigger_frames, tuning.follow_ratio, tuning.retrigger_ratio) == (9, 0.2, 0.4)
    # left out, they are the engine's own defaults
    assert (AfTuning.retrigger_frames, AfTuning.follow_ratio, AfTuning.retrigger_ratio) == (
        default_config().af.lock_on_delay_frames, default_config().af.lock_on_threshold,
        default_config().af.refocus_threshold)
