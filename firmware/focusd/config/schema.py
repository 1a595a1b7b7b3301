"""focusd's configuration schema: the sections (frozen dataclasses, one per TOML table), their
defaults, and the check of each key's value (``CHECKS``).

Adding a key: a field with its default and a ``#:`` comment in its section's dataclass, its checker
in ``CHECKS``, its documentation in ``systemd/focusd.toml`` (tests/config check that every key is
documented there). Checks across keys are in focusd.config.settings (``_check_together``).
"""

from __future__ import annotations

import ipaddress
import os
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from focusd.af.tuning import AfTuning
from focusd.config.values import (
    Invalid,
    check_boolean,
    check_choice,
    check_integer,
    check_number,
    check_optional,
    check_size,
    check_text,
    check_window,
    describe,
)

@dataclass(frozen=True)
class PinsConfig:
    af_on: int = 17  #: BCM number of the AF-ON (thumb) button
    shutter: int = 27  #: BCM number of the shutter button
    remote: int | None = 22  #: remote-release jack's tip (full press: shutter); None: not fitted
    remote_focus: int | None = None  #: the jack's ring (half press: AF-ON) on a pin of its own; None: wired to af_on
    led: int | None = 23  #: status LED; None: not fitted
    af_assist: int | None = None  #: AF-assist lamp output (focusd.service.assist); None: not fitted
    recall: int | None = None  #: focus-recall button (long press: store, press: recall); None: not fitted
    pull: str = "up"  #: "up" | "down" | "none": internal pull resistor
    active_low: bool = True  #: a pressed button pulls the pin low (buttons to ground)
    bounce_ms: float = 20.0  #: contact bounce window: edges within it after an accepted edge are ignored


@dataclass(frozen=True)
class AfConfig:
    mode: str = "continuous"  #: "continuous" | "single"
    window: tuple[float, float, float, float] = (0.25, 1 / 3, 0.5, 1 / 3)  #: x, y, w, h fractions of the lores frame
    range: str = "normal"  #: "normal" | "macro" | "full" (the profile's af_ranges)
    fallback: str = "start"  #: where a failed scan leaves the lens: "start" | "hyperfocal" | "infinity"
    lens_latency_frames: int | None = None  #: measured end to end; None: profile + camera queue
    # continuous AF's lock-on (focusd.af.tuning.AfTuning, whose defaults these are):
    lock_on_delay_frames: int = AfTuning.retrigger_frames  #: successive changed frames before the lens moves
    lock_on_threshold: float = AfTuning.follow_ratio  #: change of the focus measure (fraction) that counts
    refocus_threshold: float = AfTuning.retrigger_ratio  #: fall of the focus measure (fraction) that rescans


@dataclass(frozen=True)
class AfAssistConfig:
    """The AF-assist lamp on ``pins.af_assist`` (focusd.service.assist)."""

    threshold: float = 48.0  #: mean Y (0-255) of the AF window, lamp off, below which a scan lights the lamp
    during_capture: bool = False  #: the lamp may stay lit while a capture's frame is exposed


@dataclass(frozen=True)
class ShutterConfig:
    priority: str = "release"  #: "release" (fire now) | "focus" (wait for FOCUSED/FAILED or the timeout)
    focus_timeout_ms: float = 500.0  #: with priority "focus": fire anyway after this long
    burst: bool = True  #: keep capturing while the shutter is held
    burst_fps: float = 5.0  #: burst rate
    burst_limit: int = 20  #: most frames in one burst (0: no limit)
    trap: bool = False  #: trap focus: the shutter held with AF-ON up arms a trap at the lens position (focusd.trap)


@dataclass(frozen=True)
class CaptureConfig:
    directory: str = "/var/lib/focusd/captures"
    format: str = "jpeg"  #: "jpeg" | "png"
    jpeg_quality: int = 92
    filename: str = "IMG_{date:%Y%m%d}_{time:%H%M%S}_{counter:05d}"  #: fields: date, time, counter, sequence
    queue_depth: int = 16  #: captures waiting to be written; a press beyond it is reported failed
    journal: str = "captures.jsonl"  #: one JSON line per capture, next to the images
    #: a DNG of the frame's raw (Bayer) stream beside each image, same name (focusd.capture.dng);
    #: the raw stream is configured when the camera starts: a reload that turns it on needs a restart
    raw: bool = False


@dataclass(frozen=True)
class CameraConfig:
    backend: str = "picamera2"  #: "picamera2" | "sim"
    profile: str = "imx708"  #: camera-module profile (focusd/config/profiles/*.toml)
    sensor_mode: tuple[int, int] | None = None  #: None: the profile's focus mode
    lores_size: tuple[int, int] | None = None  #: None: the profile's lores size
    full_resolution_captures: bool = False  #: capture by mode switch (0.5-0.7 s) instead of from the stream
    vcm_bus: int | None = None  #: /dev/i2c-N of the focus motor (lens_driver "i2c-*"); None: the profile's


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"  #: "debug" | "info" | "warning" | "error"
    frame_debug: bool = False  #: one debug line per frame from the autofocus engine


@dataclass(frozen=True)
class WebConfig:
    """The viewfinder page (``focusd web``, its own process and unit) and the daemon's bridge to it."""

    enabled: bool = False  #: the daemon opens its bridge socket and focusd-web serves the page
    addresses: tuple[str, ...] = ("0.0.0.0",)  #: where focusd-web listens
    port: int = 8080
    runtime_dir: str = "/run/focusd/web"  #: the bridge's Unix socket (web.sock) goes here
    password_file: str = "/etc/focusd/web-password"  #: the scrypt hash ``focusd web-password`` writes
    preview_fps: float = 15.0  #: most preview frames a second the daemon hands the bridge


@dataclass(frozen=True)
class BracketConfig:
    """Focus bracketing for focus stacking (focusd.bracket: the planes; docs/bracketing.md)."""

    shots: int = 5  #: planes in a series
    step: float = 1.0  #: distance between planes, in depths of field (1.0: the fields just touch)
    direction: str = "infinity"  #: from the lock: "infinity" (towards 0 D) | "near" (towards the near limit)
    coc_px: float = 2.0  #: circle of confusion, full-resolution pixels: blur up to this counts as sharp
    #: a shutter double-press with AF-ON up starts a series (false: only the command inlet does, and
    #: every shutter press is a photo)
    gesture: bool = True


@dataclass(frozen=True)
class RecallConfig:
    """Focus recall (focusd.service.recall): a stored lens position kept across restarts."""

    state_file: str = "/var/lib/focusd/recall.json"  #: the stored position (the unit's StateDirectory)
    long_press_ms: float = 800.0  #: a recall press held this long stores the lens position


@dataclass(frozen=True)
class ExposureConfig:
    """Exposure control (docs/exposure.md)."""

    lock_in_bursts: bool = False  #: hold the exposure time and gain of a burst's first frame for the whole burst
    # the camera's exposure, applied when it starts (libcamera controls: docs/exposure.md)
    auto: bool = True  #: auto exposure (AeEnable); false: shutter_us and iso fix both, and must be set
    shutter_us: float | None = None  #: fixed exposure time, microseconds (ExposureTime); None ("auto"): AE's
    iso: float | None = None  #: fixed analogue gain as ISO, 100 = gain 1.0 (AnalogueGain); None ("auto"): AE's
    compensation_ev: float = 0.0  #: exposure compensation in stops, -8 to 8 (ExposureValue; with auto exposure)
    awb: str = "auto"  #: white balance (AwbMode): one of AWB_MODES
    metering: str = "centre"  #: auto exposure's metering (AeMeteringMode): "centre" | "spot" | "matrix"


@dataclass(frozen=True)
class Config:
    pins: PinsConfig = field(default_factory=PinsConfig)
    af: AfConfig = field(default_factory=AfConfig)
    shutter: ShutterConfig = field(default_factory=ShutterConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    web: WebConfig = field(default_factory=WebConfig)
    bracket: BracketConfig = field(default_factory=BracketConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    af_assist: AfAssistConfig = field(default_factory=AfAssistConfig)
    source: str | None = None  #: the file it was read from
    #: command-line overrides (``--set``) laid over the file: a reload lays them over the new one
    overrides: tuple[tuple[str, object], ...] = ()


SECTIONS: dict[str, type] = {
    "pins": PinsConfig, "af": AfConfig, "shutter": ShutterConfig,
    "capture": CaptureConfig, "camera": CameraConfig, "logging": LoggingConfig, "web": WebConfig,
    "bracket": BracketConfig,
    "recall": RecallConfig,
    "exposure": ExposureConfig,
    "af_assist": AfAssistConfig,
}

#: the word that stands for None (TOML has no null) in each optional key
NONE_WORDS = {
    "pins.remote": "none", "pins.remote_focus": "none", "pins.led": "none", "pins.af_assist": "none",
    "pins.recall": "none",
    "af.lens_latency_frames": "profile", "camera.sensor_mode": "profile", "camera.lores_size": "profile",
    "camera.vcm_bus": "profile",
    "exposure.shutter_us": "auto", "exposure.iso": "auto",
}
#: exposure.awb's words: libcamera's AwbMode modes (focusd.hw.picamera2_exposure maps them)
AWB_MODES = ("auto", "incandescent", "tungsten", "fluorescent", "indoor", "daylight", "cloudy")
#: exposure.metering's words: libcamera's AeMeteringMode modes (centre-weighted, spot, matrix)
METERING_MODES = ("centre", "spot", "matrix")
#: exposure.iso's range: gain 1 to 64 (each camera's own AnalogueGain range clamps it further at start)
ISO_RANGE = (100.0, 6400.0)
#: the fields a capture file-name pattern may use (focusd.capture.files.FilenamePattern)
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


def _optional(key: str, check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return check_optional(NONE_WORDS[key], check)


def _pin(value: Any) -> int:
    return check_integer(value, *BCM_PINS, " (a BCM GPIO number)")


def _filename(value: Any) -> str:
    """A capture file-name pattern: formats with the four fields and always names a new file."""
    pattern = check_text(value)
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as error:
        raise Invalid(f"is not a valid pattern ({error}); write a literal brace as {{{{ or }}}}") from None
    fields = [name for _, name, _, _ in parsed if name is not None]
    for name in fields:
        if name not in FILENAME_FIELDS:
            shown = "{}" if name == "" else "{" + name + "}"
            raise Invalid(f"unknown field {shown} (fields: {', '.join(FILENAME_FIELDS)})")
    if "counter" not in fields:
        raise Invalid("must contain {counter} (e.g. {counter:05d}): without it two captures in the "
                      "same second, or a burst, get the same name and collide")
    moment = datetime(2024, 1, 2, 3, 4, 5)
    try:
        first = pattern.format(date=moment, time=moment, counter=1, sequence=1)
        second = pattern.format(date=moment, time=moment, counter=2, sequence=1)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise Invalid(f"cannot be formatted: {error}") from None
    if first == second:
        raise Invalid("the {counter} field must show in the name, or captures collide")
    if "/" in first or "\0" in first or first.startswith("."):
        raise Invalid(f'must give a plain file name (no "/", not starting with "."), not "{first}"')
    if len(first.encode()) > MAX_NAME:
        raise Invalid(f"gives a name longer than {MAX_NAME} bytes")
    return pattern


def _fraction(value: Any, of: str) -> float:
    return check_number(value, 0.0, 1.0, f"(a fraction {of})", low_open=True, high_open=True)


def _directory(value: Any) -> str:
    """An absolute folder (focusd.config.capture_folder, rule 1: the unit's working directory
    /run/focusd is emptied at every stop, so a relative folder's captures would vanish)."""
    folder = check_text(value)
    if not os.path.isabs(folder):
        raise Invalid(f'must be an absolute path, not "{folder}" (relative to which folder? under the systemd '
                      "unit it would be /run/focusd, emptied at every stop)")
    return folder


def _addresses(value: Any) -> tuple[str, ...]:
    """A non-empty list of IP addresses (checked with ipaddress: a host name would need DNS)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise Invalid(f"must be a non-empty list of IP addresses, e.g. [\"0.0.0.0\"], not {describe(value)}")
    for item in value:
        try:
            ipaddress.ip_address(check_text(item))
        except ValueError:
            raise Invalid(f"{describe(item)} is not an IP address") from None
    return tuple(value)


def _absolute_path(value: Any) -> str:
    path = check_text(value)
    if not path.startswith("/") and not path.startswith("."):
        raise Invalid(f'must be a path (absolute, or relative starting with "."), not "{path}"')
    return path


def _journal(value: Any) -> str:
    name = check_text(value)
    if "/" in name or name.startswith("."):
        raise Invalid(f'must be a plain file name (no "/", not starting with "."), not "{name}"')
    return name


#: section -> key -> checker turning a TOML value into the field's value (or raising Invalid)
CHECKS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "pins": {
        "af_on": _pin, "shutter": _pin,
        "remote": _optional("pins.remote", _pin), "remote_focus": _optional("pins.remote_focus", _pin),
        "led": _optional("pins.led", _pin), "af_assist": _optional("pins.af_assist", _pin),
        "recall": _optional("pins.recall", _pin),
        "pull": check_choice("up", "down", "none"), "active_low": check_boolean,
        "bounce_ms": lambda v: check_number(v, 0, 1000, "milliseconds"),
    },
    "af": {
        "mode": check_choice("continuous", "single"), "window": check_window,
        "range": check_choice("normal", "macro", "full"), "fallback": check_choice("start", "hyperfocal", "infinity"),
        "lens_latency_frames": _optional("af.lens_latency_frames", lambda v: check_integer(v, 0, 10, " (frames)")),
        "lock_on_delay_frames": lambda v: check_integer(v, 1, None, " (frames)"),
        "lock_on_threshold": lambda v: _fraction(v, "of the focus measure at the lock"),
        "refocus_threshold": lambda v: _fraction(v, "of the focus measure at the lock"),
    },
    "exposure": {
        "lock_in_bursts": check_boolean, "auto": check_boolean,
        "shutter_us": _optional("exposure.shutter_us", lambda v: check_number(v, 1, 1_000_000, "microseconds")),
        "iso": _optional("exposure.iso", lambda v: check_number(v, *ISO_RANGE, "ISO, 100 = analogue gain 1.0")),
        "compensation_ev": lambda v: check_number(v, -8, 8, "stops"),
        "awb": check_choice(*AWB_MODES), "metering": check_choice(*METERING_MODES),
    },
    "shutter": {
        "priority": check_choice("release", "focus"),
        "focus_timeout_ms": lambda v: check_number(v, 0, 10000, "milliseconds"),
        "burst": check_boolean,
        "burst_fps": lambda v: check_number(v, 0, 30, "frames per second", low_open=True),
        "burst_limit": lambda v: check_integer(v, 0, None, " (frames; 0: no limit)"),
        "trap": check_boolean,
    },
    "capture": {
        "directory": _directory, "format": check_choice("jpeg", "png"),
        "jpeg_quality": lambda v: check_integer(v, 1, 100), "filename": _filename,
        "queue_depth": lambda v: check_integer(v, 1, 1000, " (captures)"), "journal": _journal,
        "raw": check_boolean,
    },
    "camera": {
        "backend": check_choice("picamera2", "sim"), "profile": check_text,
        "sensor_mode": _optional("camera.sensor_mode", check_size),
        "lores_size": _optional("camera.lores_size", check_size),
        "full_resolution_captures": check_boolean,
        "vcm_bus": _optional("camera.vcm_bus", lambda v: check_integer(v, 0, None, " (an I2C bus number: /dev/i2c-N)")),
    },
    "logging": {"level": check_choice("debug", "info", "warning", "error"), "frame_debug": check_boolean},
    "web": {
        "enabled": check_boolean, "addresses": _addresses,
        "port": lambda v: check_integer(v, 1, 65535, " (a TCP port)"),
        "runtime_dir": _absolute_path, "password_file": _absolute_path,
        "preview_fps": lambda v: check_number(v, 1, 30, "frames per second"),
    },
    "bracket": {
        "shots": lambda v: check_integer(v, 2, 100, " (planes)"),
        "step": lambda v: check_number(v, 0, 4, "depths of field", low_open=True),
        "direction": check_choice("infinity", "near"),
        "coc_px": lambda v: check_number(v, 0, 100, "pixels", low_open=True),
        "gesture": check_boolean,
    },
    "recall": {
        "state_file": _absolute_path,
        "long_press_ms": lambda v: check_number(v, 100, 10000, "milliseconds"),
    },
    "af_assist": {
        "threshold": lambda v: check_number(v, 0, 255, "(a mean Y code value)"),
        "during_capture": check_boolean,
    },
}
