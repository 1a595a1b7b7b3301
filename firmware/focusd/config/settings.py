"""focusd's configuration: one TOML file, read with the standard library's tomllib.

The shipped default, with every key documented, is ``systemd/focusd.toml``. This module is the one
place that checks a file against it, so that a
bad file is refused at start-up with the dotted key and the reason (exit status 78, EX_CONFIG)
instead of failing later inside the camera or the GPIO library. Every problem in a file is found
in one pass; the ConfigError raised names the first and carries all of them in ``problems``.
The schema (sections, defaults, the check of each key) is focusd.config.schema; the checks of a
single value (types, ranges, words) and the problem list are in focusd.config.values; every public
name is imported from here.

TOML has no null: an optional key is set to "not fitted" / "the profile's value" with a word
(``pins.led = "none"``, ``camera.sensor_mode = "profile"``); Python callers may also pass None.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from typing import Any

from focusd.config.exposure_checks import check_exposure, check_exposure_in_mode
from focusd.config.profiles import available_profiles, load_profile
from focusd.config.schema import (  # noqa: F401 (the schema's names are focusd.config.settings' too)
    BCM_PINS, CHECKS, FILENAME_FIELDS, MAX_NAME, MIN_LORES, NONE_WORDS, SECTIONS, AfConfig, CameraConfig,
    CaptureConfig, Config, LoggingConfig, PinsConfig, ShutterConfig, WebConfig, default_config,
)
from focusd.config.values import Invalid, Problems, config_error, describe, quoted, unknown_name
from focusd.errors import ConfigError, ProfileError



# ------------------------------------------------------------------------------------- parsing


def parse_config(data: dict, source: str | None = None) -> Config:
    """A Config from a TOML document's dict (or any mapping of sections to mappings).

    Raises ConfigError(key, reason, source) for unknown sections or keys, wrong types, values out
    of range, duplicate pins and values the camera profile cannot satisfy. Missing keys take their
    defaults. The error's ``problems`` lists every (key, reason) found.
    """
    problems = Problems()
    sections: dict[str, Any] = {}
    if not isinstance(data, dict):
        raise config_error("<file>", f"must be a table of sections, not {describe(data)}", source)
    for name, table in data.items():
        if name not in SECTIONS:
            problems.add(str(name), unknown_name(str(name), SECTIONS, "section"))
            continue
        if not isinstance(table, dict):
            problems.add(name, f"must be a table ([{name}]), not {describe(table)}")
            continue
        values = {}
        for key, value in table.items():
            dotted = f"{name}.{key}"
            if key not in CHECKS[name]:
                problems.add(dotted, unknown_name(str(key), CHECKS[name]))
                continue
            try:
                values[key] = CHECKS[name][key](value)
            except Invalid as invalid:
                problems.add(dotted, str(invalid))
        sections[name] = SECTIONS[name](**values)  # bad values fall back to defaults for the checks below
    config = Config(**sections, source=source)
    _check_together(config, problems)
    problems.raise_if_any(source)
    return config


def _check_together(config: Config, problems: Problems) -> None:
    """Checks across keys; a key already found bad is left out of them (no echo of one mistake)."""
    bad = problems.keys()
    pins = config.pins
    taken: dict[int, str] = {}
    for name in ("af_on", "shutter", "remote", "remote_focus", "led", "af_assist", "recall"):
        number = getattr(pins, name)
        if number is None or f"pins.{name}" in bad:
            continue
        if number in taken:
            problems.add(f"pins.{name}", f"GPIO {number} is already used by {taken[number]}")
        else:
            taken[number] = f"pins.{name}"
    if not {"pins.pull", "pins.active_low"} & bad and pins.pull != "none":
        # gpiozero's pull-up makes a button active-low, a pull-down active-high: no other pairing works
        wanted = pins.pull == "up"
        if pins.active_low != wanted:
            problems.add("pins.active_low", f'must be {str(wanted).lower()} with pins.pull = "{pins.pull}" '
                         f'(a pulled-{pins.pull} button reads {"low" if wanted else "high"} when pressed)')
    af = config.af
    if not {"af.lock_on_threshold", "af.refocus_threshold"} & bad and af.lock_on_threshold > af.refocus_threshold:
        # the engine never waits for more than the refocus change: a larger lock-on one would be ignored
        problems.add("af.lock_on_threshold", f"{af.lock_on_threshold:g} must be at most af.refocus_threshold "
                     f"({af.refocus_threshold:g}): a change that large already counts, so it would be ignored")
    check_exposure(config.exposure, problems, bad)
    _check_camera(config, problems, bad)


def _check_camera(config: Config, problems: Problems, bad: set[str]) -> None:
    camera = config.camera
    if "camera.profile" in bad:
        return
    known = available_profiles()
    if camera.profile not in known:
        problems.add("camera.profile", f'unknown camera profile "{camera.profile}" (known: {", ".join(known)})')
        return
    try:
        profile = load_profile(camera.profile)
    except ProfileError as error:
        problems.add("camera.profile", f"the profile is broken: {error}")
        return
    if "af.range" not in bad and config.af.range not in profile.af_ranges:
        problems.add("af.range", f'"{config.af.range}" is not one of {profile.name}\'s AF ranges '
                     f"({quoted(profile.af_ranges)})")
    if "camera.sensor_mode" in bad:
        return
    sizes = [mode.size for mode in profile.modes]
    mode_size = camera.sensor_mode or profile.focus_mode
    if mode_size not in sizes:
        listed = ", ".join(f"[{w}, {h}]" for w, h in sizes)
        problems.add("camera.sensor_mode", f"{profile.name} has no sensor mode {mode_size[0]}x{mode_size[1]} "
                     f"(modes: {listed})")
        return
    mode = profile.mode(mode_size)
    if "camera.lores_size" not in bad:
        lores = camera.lores_size or profile.lores_size
        key = "camera.lores_size" if camera.lores_size else "camera.sensor_mode"
        whose = "" if camera.lores_size else f"the profile's lores size {lores[0]}x{lores[1]} "
        if camera.lores_size and (lores[0] % 2 or lores[1] % 2):
            problems.add(key, f"{lores[0]}x{lores[1]}: width and height must be even (YUV420 halves them)")
        elif camera.lores_size and min(lores) < MIN_LORES:
            problems.add(key, f"{lores[0]}x{lores[1]} is too small for autofocus (at least {MIN_LORES}x{MIN_LORES})")
        elif lores[0] > mode.size[0] or lores[1] > mode.size[1]:
            problems.add(key, f"{whose}{lores[0]}x{lores[1]} is larger than the sensor mode "
                         f"{mode.size[0]}x{mode.size[1]} (picamera2 refuses a lores stream larger than main)")
    shutter = config.shutter
    if shutter.burst and not {"shutter.burst", "shutter.burst_fps"} & bad and shutter.burst_fps > mode.fps:
        problems.add("shutter.burst_fps", f"{shutter.burst_fps:g} is faster than the sensor mode "
                     f"{mode.size[0]}x{mode.size[1]} delivers ({mode.fps:g} frames per second)")
    check_exposure_in_mode(config.exposure, problems, bad, mode)


# --------------------------------------------------------------------------------- files, overrides

_TOML_LOCATION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_HEADER = re.compile(r"^\s*\[+\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]+")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def load_config(path: str | os.PathLike) -> Config:
    """Read and check a configuration file; every failure (missing, unreadable, not TOML, not
    valid) is a ConfigError naming the key (``<file>`` when the whole file is at fault)."""
    path_text = os.fspath(path)
    try:
        with open(path_text, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise config_error("<file>", "no such file", path_text) from None
    except OSError as error:
        raise config_error("<file>", f"cannot be read: {error.strerror or error}", path_text) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise config_error("<file>", f"is not UTF-8 text (byte {error.start})", path_text) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        key, reason = _toml_error(str(error), text)
        raise config_error(key, reason, path_text) from None
    return parse_config(data, source=path_text)


def _toml_error(message: str, text: str) -> tuple[str, str]:
    """(key, reason) for a TOML syntax error: the dotted key on the offending line when it can be
    told (a duplicate key, a bad value), else "line N"."""
    match = _TOML_LOCATION.search(message)
    if not match:
        return "<file>", f"is not valid TOML: {message}"
    line_number, column = int(match.group(1)), int(match.group(2))
    what = message[:match.start()]
    if what.startswith("Cannot overwrite a value"):
        what = "the key is set twice"
    elif what.startswith("Cannot declare"):
        what = "the table is declared twice"
    reason = f"is not valid TOML at line {line_number}, column {column}: {what}"
    lines = text.splitlines()
    line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
    header = _TOML_HEADER.match(line)
    if header:
        return header.group(1).replace('"', "").replace("'", ""), reason
    key = _TOML_KEY.match(line)
    if not key:
        return f"line {line_number}", reason
    section = ""
    for earlier in reversed(lines[:line_number - 1]):
        found = _TOML_HEADER.match(earlier)
        if found:
            section = found.group(1).replace('"', "").replace("'", "") + "."
            break
    return section + key.group(1).replace('"', "").replace("'", ""), reason


def apply_overrides(config: Config, overrides: dict[str, object]) -> Config:
    """``config`` with dotted keys replaced ("camera.backend": "sim"), checked as a file is.

    Arrays may be lists or tuples; None (or the key's word, e.g. "none") clears an optional key.
    A problem in an override is reported with the path "override".
    """
    data = {name: {f.name: getattr(getattr(config, name), f.name) for f in dataclasses.fields(cls)}
            for name, cls in SECTIONS.items()}
    unknown = Problems()
    for dotted, value in overrides.items():
        section, _, key = str(dotted).partition(".")
        if not key or "." in key:
            unknown.add(str(dotted), "an override key is SECTION.KEY, e.g. camera.backend")
        elif section not in SECTIONS:
            unknown.add(str(dotted), unknown_name(section, SECTIONS, "section"))
        elif key not in CHECKS[section]:
            unknown.add(str(dotted), unknown_name(key, CHECKS[section]))
        else:
            data[section][key] = value
    unknown.raise_if_any("override")
    try:
        merged = dict(config.overrides) | dict(overrides)
        return dataclasses.replace(parse_config(data, source=config.source), overrides=tuple(merged.items()))
    except ConfigError as error:
        if error.key not in overrides:
            raise
        raise config_error(error.key, error.reason, "override", error.problems) from None
