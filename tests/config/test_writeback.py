"""Live settings written back to the configuration file (focusd.config.writeback): only the
changed keys' values change, on the shipped file itself, atomically."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from focusd.config.settings import apply_overrides, load_config
from focusd.config.writeback import LIVE_KEYS, apply_live, check_live, live_settings, update_keys, write_keys
from focusd.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "systemd" / "focusd.toml"

#: a value for every live key other than the shipped default
CHANGED = {"af.mode": "single", "af.lock_on_delay_frames": 9, "af.lock_on_threshold": 0.2,
           "shutter.priority": "focus", "shutter.burst": False, "shutter.burst_fps": 2.5,
           "shutter.burst_limit": 3, "capture.format": "png"}


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new) if a != b]


def test_every_live_key_is_changed_on_its_own_line_of_the_shipped_file_and_nothing_else():
    assert set(CHANGED) == set(LIVE_KEYS)
    text = SHIPPED.read_text()
    updated = update_keys(text, CHANGED)
    data = tomllib.loads(updated)
    for dotted, value in CHANGED.items():
        section, key = dotted.split(".")
        assert data[section][key] == value
    lines = changed_lines(text, updated)
    assert len(lines) == len(CHANGED)  # one line each: every comment line and other key as it was
    for old, new in lines:
        comment = old[old.index("#"):]
        assert new.endswith(comment)  # the key's own comment kept
        assert new.index("#") == old.index("#")  # at its column (every new value fits)
    assert '\nmode = "single"         # "continuous": track' in updated


def test_a_missing_key_goes_under_its_section_and_a_missing_section_at_the_end():
    text = "# mine\n[af]\nrange = \"macro\"  # close-ups\n\n[pins]\nled = \"none\"\n"
    updated = update_keys(text, {"af.mode": "single", "capture.format": "png"})
    assert updated == ('# mine\n[af]\nrange = "macro"  # close-ups\nmode = "single"\n\n[pins]\nled = "none"\n'
                       '\n[capture]\nformat = "png"\n')


def test_a_string_holding_a_hash_and_a_long_new_value_keep_the_comment():
    text = '[capture]\nformat = "jp#eg" # the format\n[af]\nlock_on_delay_frames = 6 # frames\n'
    updated = update_keys(text, {"capture.format": "png", "af.lock_on_delay_frames": 123456})
    assert '\nformat = "png"   # the format\n' in updated
    assert "\nlock_on_delay_frames = 123456 # frames\n" in updated


def test_a_value_it_cannot_edit_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text('[af]\nmode = """single"""\n')  # a multi-line string: not this editor's to rewrite
    with pytest.raises(ValueError):
        update_keys(path.read_text(), {"af.mode": "continuous"})
    with pytest.raises(ConfigError) as refused:
        write_keys(str(path), {"af.mode": "continuous"})
    assert refused.value.key == "<file>" and "cannot be updated" in str(refused.value)
    assert path.read_text() == '[af]\nmode = """single"""\n'
    assert [p.name for p in tmp_path.iterdir()] == ["focusd.toml"]


def test_the_write_replaces_the_file_atomically_keeping_its_mode(tmp_path):
    path = tmp_path / "focusd.toml"
    shutil.copy(SHIPPED, path)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    write_keys(str(path), {"af.mode": "single"})
    assert path.stat().st_ino != inode  # a new file renamed over the old, not rewritten in place
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["focusd.toml"]  # no temporary file left
    assert load_config(path).af.mode == "single"


def test_a_bad_value_or_key_is_refused_naming_the_key_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "focusd.toml"
    shutil.copy(SHIPPED, path)
    running = load_config(path)
    before = path.read_bytes()
    cases = {"af.mode": ({"af.mode": "sometimes"}, "continuous"),
             "shutter.burst_limit": ({"shutter.priority": "focus", "shutter.burst_limit": -1}, "0"),
             # the checks across keys too: lock-on above the refocus threshold would be ignored
             "af.lock_on_threshold": ({"af.lock_on_threshold": 0.9}, "refocus_threshold"),
             "camera.backend": ({"camera.backend": "sim"}, "cannot be changed while running"),
             "pins.led": ({"pins.led": 5}, "cannot be changed while running")}
    for key, (changes, said) in cases.items():
        with pytest.raises(ConfigError) as refused:
            apply_live(running, changes)
        assert refused.value.key == key and said in str(refused.value), refused.value
    with pytest.raises(ConfigError, match="settings"):
        check_live({})
    assert path.read_bytes() == before


def test_a_good_change_is_written_read_back_and_replaces_a_command_line_override(tmp_path):
    path = tmp_path / "focusd.toml"
    shutil.copy(SHIPPED, path)
    running = apply_overrides(load_config(path), {"af.mode": "single", "camera.backend": "sim"})
    new = apply_live(running, {"af.mode": "continuous", "shutter.burst_fps": 2})
    assert new.af.mode == "continuous" and new.shutter.burst_fps == 2.0
    assert dict(new.overrides) == {"camera.backend": "sim"}  # the page's af.mode is the file's now
    again = load_config(path)
    assert live_settings(again) == live_settings(dataclasses.replace(new, camera=again.camera))
    assert "burst_fps = 2.0" in path.read_text()


def test_without_a_file_a_change_is_applied_in_memory_only():
    from focusd.config.settings import default_config

    assert apply_live(default_config(), {"capture.format": "png"}).capture.format == "png"
