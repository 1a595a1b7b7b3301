"""capture.directory's rule (focusd.config.capture_folder): absolute; never made with its parents;
for the service, inside the unit's writable paths. Each refusal is exit 78 naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from focusd.config import capture_folder
from focusd.config.settings import load_config
from focusd.errors import EX_CONFIG, ConfigError
from focusd.service.reload import reread

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "systemd" / "focusd.toml"
UNIT = REPO / "systemd" / "focusd.service"


def focusd(*arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != capture_folder.STATE_DIRECTORY_VARIABLE}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "focusd.cli", *arguments], capture_output=True, text=True,
                          env=environment, cwd=cwd, stdin=subprocess.DEVNULL, timeout=60)


def config_file(tmp_path: Path, directory: str) -> Path:
    path = tmp_path / "focusd.toml"
    text = SHIPPED.read_text()
    old = 'directory = "/var/lib/focusd/captures"'
    assert text.count(old) == 1
    path.write_text(text.replace(old, f'directory = "{directory}"').replace('backend = "picamera2"', 'backend = "sim"'))
    return path


def test_check_config_refuses_a_relative_folder(tmp_path):
    result = focusd("check-config", "--outside-the-unit", str(config_file(tmp_path, "captures")))
    assert result.returncode == EX_CONFIG, result.stdout
    assert "capture.directory: must be an absolute path" in result.stderr and "/run/focusd" in result.stderr


def test_check_config_refuses_a_folder_outside_the_units_writable_paths(tmp_path):
    path = config_file(tmp_path, "/srv/photos")
    result = focusd("check-config", str(path))
    assert result.returncode == EX_CONFIG, result.stdout
    assert "capture.directory" in result.stderr and '"/srv/photos" is outside' in result.stderr
    assert "/var/lib/focusd" in result.stderr and "ReadWritePaths=" in result.stderr
    # a file for `focusd run` by hand may capture anywhere absolute
    assert focusd("check-config", "--outside-the-unit", str(path)).returncode == 0
    inside = focusd("check-config", str(config_file(tmp_path, "/var/lib/focusd/captures/holiday")))
    assert inside.returncode == 0, inside.stderr


def test_the_shipped_units_writable_paths_are_the_ones_focusd_knows():
    assert capture_folder.unit_writable_paths(str(UNIT)) == capture_folder.SHIPPED_WRITABLE_PATHS
    assert capture_folder.unit_writable_paths(str(UNIT) + ".not-installed") == capture_folder.SHIPPED_WRITABLE_PATHS


def test_a_drop_in_adds_its_read_write_paths(tmp_path):
    unit = tmp_path / "focusd.service"
    unit.write_text(UNIT.read_text())
    (tmp_path / "focusd.service.d").mkdir()
    (tmp_path / "focusd.service.d" / "usb.conf").write_text("[Service]\nReadWritePaths=-/media/usb\n")
    writable = capture_folder.unit_writable_paths(str(unit))
    assert writable == (*capture_folder.SHIPPED_WRITABLE_PATHS, "/media/usb")
    capture_folder.check_in_unit_paths("/media/usb/photos", writable)
    with pytest.raises(ConfigError) as caught:
        capture_folder.check_in_unit_paths("/media/usbstick", writable)  # a prefix is not a folder inside
    assert caught.value.key == "capture.directory"


def test_the_configuration_folder_is_writable_for_the_daemon_but_never_a_capture_folder():
    # ReadWritePaths=/etc/focusd lets the daemon write the page's settings back, not put photos there
    assert "/etc/focusd" in UNIT.read_text()
    writable = capture_folder.unit_writable_paths(str(UNIT))
    assert "/etc/focusd" not in writable
    with pytest.raises(ConfigError) as caught:
        capture_folder.check_in_unit_paths("/etc/focusd/photos", writable)
    assert caught.value.key == "capture.directory"


def test_focusd_run_never_makes_the_parents_of_the_folder(tmp_path):
    missing = tmp_path / "nonexistent" / "deep" / "path"
    result = focusd("run", "--config", str(config_file(tmp_path, str(missing))))
    assert result.returncode == EX_CONFIG, result.stderr
    assert "capture.directory" in result.stderr and "never its parents" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_focusd_run_under_the_unit_refuses_a_folder_outside_its_state_directory(tmp_path):
    state = tmp_path / "state"
    (state / "captures").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    unit_env = {capture_folder.STATE_DIRECTORY_VARIABLE: f"{state}:{state / 'captures'}"}
    result = focusd("run", "--config", str(config_file(tmp_path, str(elsewhere))), env=unit_env)
    assert result.returncode == EX_CONFIG, result.stderr
    assert "capture.directory" in result.stderr and "outside the systemd unit's writable paths" in result.stderr
    assert str(state) in result.stderr
    assert not elsewhere.exists()


def test_the_unit_rule_applies_only_when_systemd_started_the_daemon(tmp_path):
    config = load_config(config_file(tmp_path, str(tmp_path / "captures")))
    capture_folder.check_at_start(config, environ={})  # by hand: any absolute folder with a parent
    with pytest.raises(ConfigError, match="outside the systemd unit's writable paths"):
        capture_folder.check_at_start(config, environ={"STATE_DIRECTORY": "/var/lib/focusd"})
    inside = load_config(config_file(tmp_path, str(tmp_path / "state" / "captures")))
    (tmp_path / "state").mkdir()
    capture_folder.check_at_start(inside, environ={"STATE_DIRECTORY": str(tmp_path / "state")})


def test_a_reload_refuses_a_folder_whose_parent_is_missing(tmp_path):
    path = config_file(tmp_path, str(tmp_path / "captures"))
    running = load_config(path)
    config_file(tmp_path, str(tmp_path / "card" / "captures"))  # the file edited: a card not mounted
    with pytest.raises(ConfigError, match="never its parents") as caught:
        reread(running)
    assert caught.value.key == "capture.directory"
    assert not (tmp_path / "card").exists()


def test_demo_refuses_a_captures_folder_whose_parent_is_missing(tmp_path):
    result = focusd("demo", "--captures", "no/such/folder", cwd=tmp_path)
    assert result.returncode == EX_CONFIG, result.stderr
    assert "capture.directory" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "no").exists()
