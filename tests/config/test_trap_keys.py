"""shutter.trap: its default, a bad value exits 78 naming the key, and a good one reaches the controller."""

import subprocess
import sys
from pathlib import Path

import pytest

from focusd.config.settings import parse_config
from focusd.errors import EX_CONFIG, ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_trap_is_off_by_default():
    assert parse_config({}).shutter.trap is False
    assert parse_config({"shutter": {"trap": True}}).shutter.trap is True


@pytest.mark.parametrize("value", ["yes", 1, 0.0])
def test_a_bad_trap_value_is_named(value):
    with pytest.raises(ConfigError, match="shutter.trap"):
        parse_config({"shutter": {"trap": value}})


def test_check_config_exits_78_naming_shutter_trap(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text('[shutter]\ntrap = "on"\n')
    result = subprocess.run([sys.executable, "-m", "focusd.cli", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == EX_CONFIG
    assert "shutter.trap" in result.stderr and str(path) in result.stderr
