"""focusd's configuration: one TOML file, read with the standard library's tomllib.

The shipped default, with every key documented, is ``systemd/focusd.toml``. This module is the one
place that knows the schema (the frozen dataclasses below) and checks a file against it, so that a
bad file is refused at start-up with the dotted key and the reason (exit status 78, EX_CONFIG)
instead of failing later inside the camera or the GPIO library. Every problem in a file is found
in one pass; the ConfigError raised names the first and carries all of them in ``problems``.

TOML has no null: an optional key is set to "not fitted" / "the profile's value" with a word
(``pins.led = "none"``, ``camera.sensor_mode = "profile"``); Python callers may also pass None.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Callable

from focusd.errors import ConfigError, ProfileError


@dataclass(frozen=True)
class PinsConfig:
    af_on: int = 17  #: BCM number of the AF-ON (thumb) button
    shutter: int = 27  #: BCM number of the shutter button
    remote: int | None = 22  #: remote-release jack input; None: not fitted
    led: int | None = 23  #: status LED; None: not fitted
    pull: str = "up"  #: "up" | "down" | "none": internal pull resistor
    active_low: bool = True  #: a pressed button pulls the pin low (buttons to ground)
    bounce_ms: float = 20.0  #: contact bounce window: edges within it after an accepted edge are ignored


@dataclass(frozen=True)
class AfConfig:
    mode: str = "continuous"  #: "continuous" | "single"
    window: tuple[float, float, float, float] = (0.25, 1 / 3, 0.5, 1 / 3)  #: x, y, w, h fractions of the lores frame
    range: str = "normal"  #: "normal" | "macro" | "full" (the profile's af_ranges)
    fallback: str = "start"  #: where a failed scan leaves the lens: "start" | "hyperfocal" | "infinity"
    lens_latency_frames: int | None = None  #: None: the camera profile's value


@dataclass(frozen=True)
class ShutterConfig:
    priority: str = "release"  #: "release" (fire now) | "focus" (wait for FOCUSED/FAILED or the timeout)
    focus_timeout_ms: float = 500.0  #: with priority "focus": fire anyway after this long
    burst: bool = True  #: keep capturing while the shutter is held
    burst_fps: float = 5.0  #: burst rate
    burst_limit: int = 20  #: most frames in one burst (0: no limit)


@dataclass(frozen=True)
class CaptureConfig:
    directory: str = "/var/lib/focusd/captures"
    format: str = "jpeg"  #: "jpeg" | "png"
    jpeg_quality: int = 92
    filename: str = "IMG_{date:%Y%m%d}_{time:%H%M%S}_{counter:05d}"  #: fields: date, time, counter, sequence
    queue_depth: int = 16  #: captures waiting to be written; a press beyond it is reported failed
    journal: str = "captures.jsonl"  #: one JSON line per capture, next to the images


@dataclass(frozen=True)
class CameraConfig:
    backend: str = "picamera2"  #: "picamera2" | "sim"
    profile: str = "imx708"  #: camera-module profile (focusd/profiles/*.toml)
    sensor_mode: tuple[int, int] | None = None  #: None: the profile's focus mode
    lores_size: tuple[int, int] | None = None  #: None: the profile's lores size
    full_resolution_captures: bool = False  #: capture by mode switch (0.5-0.7 s) instead of from the stream


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"  #: "debug" | "info" | "warning" | "error"
    frame_debug: bool = False  #: one debug line per frame from the autofocus engine


@dataclass(frozen=True)
class Config:
    pins: PinsConfig = field(default_factory=PinsConfig)
    af: AfConfig = field(default_factory=AfConfig)
    shutter: ShutterConfig = field(default_factory=ShutterConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    source: str | None = None  #: the file it was read from


SECTIONS: dict[str, type] = {
    "pins": PinsConfig, "af": AfConfig, "shutter": ShutterConfig,
    "capture": CaptureConfig, "camera": CameraConfig, "logging": LoggingConfig,
}

#: the word that stands for None (TOML has no null) in each optional key
NONE_WORDS = {
    "pins.remote": "none", "pins.led": "none",
    "af.lens_latency_frames": "profile", "camera.sensor_mode": "profile", "camera.lores_size": "profile",
}
#: the fields a capture file-name pattern may use (focusd.capture_files.FilenamePattern)
FILENAME_FIELDS = ("date", "time", "counter", "sequence")
#: BCM GPIO numbers on the 40-pin header
BCM_PINS = (0, 27)
#: smallest lores stream accepted: the AF window (a fraction of it) must still hold a usable image
MIN_LORES = 64
#: longest file name most Linux file systems accept (NAME_MAX), less room for the extension
MAX_NAME = 250


def default_config() -> Config:
    """The built-in defaults (what ``systemd/focusd.toml`` spells out)."""
    return Config()


# ------------------------------------------------------------------------------ value checkers


class _Invalid(Exception):
    """One value is wrong: ``reason`` says why (the caller adds the key)."""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date/time"
    return type(value).__name__


def _integer(value: Any, low: int, high: int | None, what: str = "") -> int:
    # bool is a subclass of int in Python, but `true` is never a sensible pin or count
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"must be an integer{what}, not {_describe(value)}")
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _Invalid(f"must be {span}{what}, not {value}")
    return value


def _number(value: Any, low: float, high: float, unit: str, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"must be a number ({unit}), not {_describe(value)}")
    if not math.isfinite(value):
        raise _Invalid(f"must be a finite number ({unit}), not {value}")
    if (value <= low if low_open else value < low) or value > high:
        span = f"more than {low:g} and at most {high:g}" if low_open else f"between {low:g} and {high:g}"
        raise _Invalid(f"must be {span} {unit}, not {value:g}")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_describe(value)}")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid(f"must be one of {_quoted(choices)}, not {_describe(value)}")
        if value not in choices:
            raise _Invalid(f'"{value}" is not one of {_quoted(choices)}')
        return value
    return check


def _quoted(choices) -> str:
    return ", ".join(f'"{choice}"' for choice in choices)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_describe(value)}")
    if not value or "\0" in value:
        raise _Invalid("must be a non-empty string")
    return value


def _optional(key: str, check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    word = NONE_WORDS[key]

    def optional(value: Any) -> Any:
        if value is None or value == word:
            return None
        try:
            return check(value)
        except _Invalid as invalid:
            raise _Invalid(f'{invalid} (or "{word}")') from None
    return optional


def _array(value: Any, length: int, what: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or len(value) != length:
        raise _Invalid(f"must be an array of {length} ({what}), not {_describe(value)}")
    return tuple(value)


def _size(value: Any) -> tuple[int, int]:
    width, height = _array(value, 2, "width, height in pixels")
    return (_integer(width, 1, None, " (width in pixels)"), _integer(height, 1, None, " (height in pixels)"))


def _window(value: Any) -> tuple[float, float, float, float]:
    x, y, w, h = (_number(v, 0.0, 1.0, "(a fraction of the frame)")
                  for v in _array(value, 4, "x, y, width, height as fractions of the frame"))
    if w <= 0 or h <= 0:
        raise _Invalid(f"width and height must be more than 0, not {w:g} x {h:g}")
    # a little slack: 1/3 + 2/3 need not add up to exactly 1.0 in floating point
    if x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise _Invalid(f"[{x:g}, {y:g}, {w:g}, {h:g}] reaches outside the frame (x + w and y + h must be at most 1)")
    return (x, y, w, h)


def _pin(value: Any) -> int:
    return _integer(value, *BCM_PINS, " (a BCM GPIO number)")


def _filename(value: Any) -> str:
    """A capture file-name pattern: formats with the four fields and always names a new file."""
    pattern = _text(value)
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as error:
        raise _Invalid(f"is not a valid pattern ({error}); write a literal brace as {{{{ or }}}}") from None
    fields = [name for _, name, _, _ in parsed if name is not None]
    for name in fields:
        if name not in FILENAME_FIELDS:
            shown = "{}" if name == "" else "{" + name + "}"
            raise _Invalid(f"unknown field {shown} (fields: {', '.join(FILENAME_FIELDS)})")
    if "counter" not in fields:
        raise _Invalid("must contain {counter} (e.g. {counter:05d}): without it two captures in the "
                       "same second, or a burst, get the same name and collide")
    moment = datetime(2024, 1, 2, 3, 4, 5)
    try:
        first = pattern.format(date=moment, time=moment, counter=1, sequence=1)
        second = pattern.format(date=moment, time=moment, counter=2, sequence=1)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise _Invalid(f"cannot be formatted: {error}") from None
    if first == second:
        raise _Invalid("the {counter} field must show in the name, or captures collide")
    if "/" in first or "\0" in first or first.startswith("."):
        raise _Invalid(f'must give a plain file name (no "/", not starting with "."), not "{first}"')
    if len(first.encode()) > MAX_NAME:
        raise _Invalid(f"gives a name longer than {MAX_NAME} bytes")
    return pattern


def _journal(value: Any) -> str:
    name = _text(value)
    if "/" in name or name.startswith("."):
        raise _Invalid(f'must be a plain file name (no "/", not starting with "."), not "{name}"')
    return name


#: section -> key -> checker turning a TOML value into the field's value (or raising _Invalid)
CHECKS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "pins": {
        "af_on": _pin, "shutter": _pin,
        "remote": _optional("pins.remote", _pin), "led": _optional("pins.led", _pin),
        "pull": _choice("up", "down", "none"), "active_low": _boolean,
        "bounce_ms": lambda v: _number(v, 0, 1000, "milliseconds"),
    },
    "af": {
        "mode": _choice("continuous", "single"), "window": _window,
        "range": _choice("normal", "macro", "full"), "fallback": _choice("start", "hyperfocal", "infinity"),
        "lens_latency_frames": _optional("af.lens_latency_frames", lambda v: _integer(v, 0, 10, " (frames)")),
    },
    "shutter": {
        "priority": _choice("release", "focus"),
        "focus_timeout_ms": lambda v: _number(v, 0, 10000, "milliseconds"),
        "burst": _boolean,
        "burst_fps": lambda v: _number(v, 0, 30, "frames per second", low_open=True),
        "burst_limit": lambda v: _integer(v, 0, None, " (frames; 0: no limit)"),
    },
    "capture": {
        "directory": _text, "format": _choice("jpeg", "png"),
        "jpeg_quality": lambda v: _integer(v, 1, 100), "filename": _filename,
        "queue_depth": lambda v: _integer(v, 1, 1000, " (captures)"), "journal": _journal,
    },
    "camera": {
        "backend": _choice("picamera2", "sim"), "profile": _text,
        "sensor_mode": _optional("camera.sensor_mode", _size),
        "lores_size": _optional("camera.lores_size", _size),
        "full_resolution_captures": _boolean,
    },
    "logging": {"level": _choice("debug", "info", "warning", "error"), "frame_debug": _boolean},
}


def _unknown(name: str, known, what: str = "key") -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what}: {hint}(known: {', '.join(known)})"


# ------------------------------------------------------------------------------------- parsing


def _config_error(key: str, reason: str, path: str | None, problems=None) -> ConfigError:
    """A ConfigError whose ``problems`` lists every (key, reason) found (check-config prints them)."""
    error = ConfigError(key, reason, path)
    error.problems = list(problems or [(key, reason)])
    return error


class _Problems:
    """Every problem found, in file order; raised as one ConfigError naming the first."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, reason: str) -> None:
        self.items.append((key, reason))

    def keys(self) -> set[str]:
        return {key for key, _ in self.items}

    def raise_if_any(self, path: str | None) -> None:
        if not self.items:
            return
        key, reason = self.items[0]
        if len(self.items) > 1:
            others = "; ".join(f"{k}: {r}" for k, r in self.items[1:])
            reason = f"{reason} [also {others}]"
        raise _config_error(key, reason, path, self.items)


def parse_config(data: dict, source: str | None = None) -> Config:
    """A Config from a TOML document's dict (or any mapping of sections to mappings).

    Raises ConfigError(key, reason, source) for unknown sections or keys, wrong types, values out
    of range, duplicate pins and values the camera profile cannot satisfy. Missing keys take their
    defaults. The error's ``problems`` lists every (key, reason) found.
    """
    problems = _Problems()
    sections: dict[str, Any] = {}
    if not isinstance(data, dict):
        raise _config_error("<file>", f"must be a table of sections, not {_describe(data)}", source)
    for name, table in data.items():
        if name not in SECTIONS:
            problems.add(str(name), _unknown(str(name), SECTIONS, "section"))
            continue
        if not isinstance(table, dict):
            problems.add(name, f"must be a table ([{name}]), not {_describe(table)}")
            continue
        values = {}
        for key, value in table.items():
            dotted = f"{name}.{key}"
            if key not in CHECKS[name]:
                problems.add(dotted, _unknown(str(key), CHECKS[name]))
                continue
            try:
                values[key] = CHECKS[name][key](value)
            except _Invalid as invalid:
                problems.add(dotted, str(invalid))
        sections[name] = SECTIONS[name](**values)  # bad values fall back to defaults for the checks below
    config = Config(**sections, source=source)
    _check_together(config, problems)
    problems.raise_if_any(source)
    return config


def _check_together(config: Config, problems: _Problems) -> None:
    """Checks across keys; a key already found bad is left out of them (no echo of one mistake)."""
    bad = problems.keys()
    pins = config.pins
    taken: dict[int, str] = {}
    for name in ("af_on", "shutter", "remote", "led"):
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
    _check_camera(config, problems, bad)


def _check_camera(config: Config, problems: _Problems, bad: set[str]) -> None:
    from focusd.profiles import available_profiles, load_profile

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
                     f"({_quoted(profile.af_ranges)})")
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
        raise _config_error("<file>", "no such file", path_text) from None
    except OSError as error:
        raise _config_error("<file>", f"cannot be read: {error.strerror or error}", path_text) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _config_error("<file>", f"is not UTF-8 text (byte {error.start})", path_text) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        key, reason = _toml_error(str(error), text)
        raise _config_error(key, reason, path_text) from None
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
    unknown = _Problems()
    for dotted, value in overrides.items():
        section, _, key = str(dotted).partition(".")
        if not key or "." in key:
            unknown.add(str(dotted), "an override key is SECTION.KEY, e.g. camera.backend")
        elif section not in SECTIONS:
            unknown.add(str(dotted), _unknown(section, SECTIONS, "section"))
        elif key not in CHECKS[section]:
            unknown.add(str(dotted), _unknown(key, CHECKS[section]))
        else:
            data[section][key] = value
    unknown.raise_if_any("override")
    try:
        return parse_config(data, source=config.source)
    except ConfigError as error:
        if error.key not in overrides:
            raise
        raise _config_error(error.key, error.reason, "override", error.problems) from None
