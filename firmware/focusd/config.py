"""focusd's configuration: one TOML file, read with the standard library's tomllib.

The shipped default, with every key documented, is ``systemd/focusd.toml``.
SCHEMA STUB: the loader and validation are being written; the dataclasses below are the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
