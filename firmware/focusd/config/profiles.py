"""Camera-module profiles: data (``focusd/config/profiles/*.toml``), not code.

A profile holds what the firmware must know about a module that the camera cannot tell it:
optics (for the simulator and for reasoning about blur), the sensor modes with their frame rates,
the lens range and AF ranges in dioptres, the lens command latency in frames (counted from the
request carrying the command reaching the ISP, so that it holds whatever the camera's buffer count),
and for modules driven over I2C the dioptre-to-DAC-code map.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources

from focusd.errors import ProfileError


@dataclass(frozen=True)
class SensorMode:
    """One sensor mode. ``crop`` is the sensor area read out, in full-resolution pixels
    (x, y, w, h); ``binning`` is how many sensor pixels one output pixel spans per axis."""

    size: tuple[int, int]
    fps: float
    binning: int
    crop: tuple[int, int, int, int]
    name: str = ""

    @property
    def frame_duration_ns(self) -> int:
        return int(round(1e9 / self.fps))


@dataclass(frozen=True)
class CameraProfile:
    name: str  #: short id, the file's stem ("imx708")
    display_name: str
    sensor: str  #: libcamera's sensor name, as picamera2 reports it in camera_properties["Model"]
    lens_range: tuple[float, float]  #: dioptres, what camera_controls["LensPosition"] reports
    af_ranges: dict[str, tuple[float, float]]  #: "normal", "macro", "full"
    #: frames from the request carrying a lens command reaching the ISP (an I2C lens: from the write)
    #: to the first frame exposed at the new position. Not end to end: the engine is told this plus
    #: the camera's own request queue (``Camera.lens_queue_frames``; focusd.service.cameras.told_lens_path)
    lens_latency_frames: int
    focal_length_mm: float
    f_number: float
    pixel_size_um: float
    full_resolution: tuple[int, int]
    modes: tuple[SensorMode, ...]
    focus_mode: tuple[int, int]  #: output size of the sensor mode used while focusing
    lores_size: tuple[int, int]  #: default lores (autofocus) stream size
    lens_driver: str = "libcamera"  #: "libcamera", "i2c-ov5647", "i2c-dac"
    #: D the IPA's lens state moves per LensPosition write and per controller run (the tuning's
    #: rpi.af max_slew at normal speed; focusd.lens_path); unused by I2C lens drivers
    max_slew: float = 2.0
    vcm: dict = field(default_factory=dict)  #: i2c drivers: bus, address, bits, dioptre_map

    def mode(self, size: tuple[int, int] | None = None) -> SensorMode:
        """The sensor mode of that output size (default: the focusing mode)."""
        wanted = tuple(size or self.focus_mode)
        for mode in self.modes:
            if mode.size == wanted:
                return mode
        sizes = ", ".join(f"{m.size[0]}x{m.size[1]}" for m in self.modes)
        raise ProfileError(f"{self.name}: no sensor mode {wanted[0]}x{wanted[1]} (modes: {sizes})")

    @property
    def blur_um_per_dioptre(self) -> float:
        """Blur-circle diameter on the sensor per dioptre of defocus: aperture * f (docs/design.md,
        "Optics and the lores grid")."""
        aperture_m = self.focal_length_mm * 1e-3 / self.f_number
        return aperture_m * self.focal_length_mm * 1e-3 * 1e6


def _pair(value, what: str, name: str) -> tuple:
    if not (isinstance(value, list) and len(value) == 2):
        raise ProfileError(f"{name}: {what} must be a list of two numbers")
    return tuple(value)


def parse_profile(name: str, data: dict) -> CameraProfile:
    """Build a profile from its TOML table; raises ProfileError naming what is wrong."""
    try:
        modes = tuple(
            SensorMode(
                size=_pair(m["size"], "modes.size", name),
                fps=float(m["fps"]),
                binning=int(m.get("binning", 1)),
                crop=tuple(m["crop"]),
                name=m.get("name", ""),
            )
            for m in data["modes"]
        )
        profile = CameraProfile(
            name=name,
            display_name=data["display_name"],
            sensor=data["sensor"],
            lens_range=_pair(data["lens_range"], "lens_range", name),
            af_ranges={k: _pair(v, f"af_ranges.{k}", name) for k, v in data["af_ranges"].items()},
            lens_latency_frames=int(data["lens_latency_frames"]),
            focal_length_mm=float(data["focal_length_mm"]),
            f_number=float(data["f_number"]),
            pixel_size_um=float(data["pixel_size_um"]),
            full_resolution=_pair(data["full_resolution"], "full_resolution", name),
            modes=modes,
            focus_mode=_pair(data["focus_mode"], "focus_mode", name),
            lores_size=_pair(data["lores_size"], "lores_size", name),
            lens_driver=data.get("lens_driver", "libcamera"),
            max_slew=float(data.get("max_slew", 2.0)),
            vcm=dict(data.get("vcm", {})),
        )
    except KeyError as missing:
        raise ProfileError(f"{name}: missing key {missing}") from None
    profile.mode()  # the focusing mode must be one of the modes
    return profile


def available_profiles() -> list[str]:
    folder = resources.files("focusd.config") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name: str) -> CameraProfile:
    """Load a shipped profile by name ("imx708")."""
    if name not in available_profiles():
        raise ProfileError(f"unknown camera profile {name!r} (known: {', '.join(available_profiles())})")
    text = (resources.files("focusd.config") / "profiles" / f"{name}.toml").read_text()
    return parse_profile(name, tomllib.loads(text))
