"""Focus motors driven over I2C, for modules whose lens libcamera cannot move: the only module in
focusd that imports smbus2.

Why: the Arducam OV5647 motorized-focus modules (and other voice-coil modules without libcamera AF
tuning) expose the voice-coil motor's DAC straight on the camera's I2C bus. focusd then moves the
lens itself, in dioptres like everywhere else: the profile's ``vcm.dioptre_map`` turns dioptres
into DAC codes (piecewise linear between its points, a nominal map, not a calibration).

Two write formats:

- ``i2c-ov5647``: Arducam's OV5647 motorized modules, VCM at 0x0c, 10-bit code, sent as two bytes
  with no register: ``((code >> 4) & 0x3F, (code << 4) & 0xF0)`` (the low 4 bits select the slew
  ramp; 0: none): docs/device-facts.md, "OV5647 motorized VCM". This is the register-less format of
  the AD5820 / DW9714 family, so a DW9714 module uses this driver too. The bus: 10 on a Pi 4 with
  libcamera, 0 on the legacy stack; on a Pi 5 the camera buses have other numbers (``i2cdetect -l``,
  then the bus where 0x0c answers): set ``camera.vcm_bus``, which overrides the profile's
  ``vcm.bus``.
- ``i2c-dac``: a generic VCM DAC with a position register: the code, left-aligned by ``shift``
  bits, written big-endian to ``register`` as an I2C block (``[register, high, low]``):
  DW9807/DW9817/AK7375-style parts.

A write goes out at once on the calling (camera) thread: two or three bytes, about 0.3 ms at
100 kHz, with no request queue in between (the adapter's ``lens_queue_frames`` is 0): when the
lens gets there is the profile's ``lens_latency_frames`` alone (measure it).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from typing import Protocol

from focusd.errors import LensError, ProfileError
from focusd.hw.base import Lens
from focusd.config.profiles import CameraProfile


class I2cBus(Protocol):
    """The part of smbus2.SMBus the drivers use (a test's bus stand-in provides the same)."""

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: bool | None = None) -> None: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int], force: bool | None = None) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DioptreMap:
    """Dioptres -> DAC code, piecewise linear through ``points`` (dioptres ascending)."""

    points: tuple[tuple[float, int], ...]

    @classmethod
    def from_profile(cls, raw, name: str) -> "DioptreMap":
        try:
            points = tuple((float(d), int(code)) for d, code in raw)
        except (TypeError, ValueError):
            raise ProfileError(f"{name}: vcm.dioptre_map must be a list of [dioptres, code] pairs") from None
        if len(points) < 2:
            raise ProfileError(f"{name}: vcm.dioptre_map needs at least two points")
        dioptres = [d for d, _ in points]
        if any(b <= a for a, b in zip(dioptres, dioptres[1:])):
            raise ProfileError(f"{name}: vcm.dioptre_map dioptres must strictly increase")
        codes = [c for _, c in points]
        rising = all(b > a for a, b in zip(codes, codes[1:]))
        falling = all(b < a for a, b in zip(codes, codes[1:]))
        if not (rising or falling):
            raise ProfileError(f"{name}: vcm.dioptre_map codes must be monotonic (one code per position)")
        return cls(points)

    @property
    def range(self) -> tuple[float, float]:
        return (self.points[0][0], self.points[-1][0])

    def code(self, dioptres: float) -> int:
        low, high = self.range
        if not math.isfinite(dioptres) or dioptres < 0:
            raise LensError(f"lens position {dioptres!r} refused: must be a finite number of dioptres >= 0")
        if dioptres < low - 1e-6 or dioptres > high + 1e-6:
            raise LensError(f"lens position {dioptres:.3f} D is outside the map's {low:g}-{high:g} D")
        dioptres = min(max(dioptres, low), high)
        index = min(max(bisect.bisect_right([d for d, _ in self.points], dioptres), 1), len(self.points) - 1)
        (d0, c0), (d1, c1) = self.points[index - 1], self.points[index]
        return int(round(c0 + (c1 - c0) * (dioptres - d0) / (d1 - d0)))


@dataclass(frozen=True)
class VcmSettings:
    """A profile's ``[vcm]`` table, checked."""

    bus: int  #: /dev/i2c-N
    address: int  #: 7-bit I2C address (0x0c for every module here)
    bits: int  #: DAC resolution: codes are 0 .. 2**bits - 1
    dioptre_map: DioptreMap
    register: int = 0  #: i2c-dac: the register of the code's high byte
    shift: int = 0  #: i2c-dac: left shift of the code inside the 16-bit value (e.g. 4 for a 12-bit AK7375)

    @classmethod
    def from_profile(cls, profile: CameraProfile) -> "VcmSettings":
        table, name = profile.vcm, profile.name
        try:
            settings = cls(bus=int(table["bus"]), address=int(table["address"]), bits=int(table["bits"]),
                           dioptre_map=DioptreMap.from_profile(table["dioptre_map"], name),
                           register=int(table.get("register", 0)), shift=int(table.get("shift", 0)))
        except KeyError as missing:
            raise ProfileError(f"{name}: vcm table is missing {missing}") from None
        if not 0 <= settings.address < 0x80:
            raise ProfileError(f"{name}: vcm.address 0x{settings.address:x} is not a 7-bit I2C address")
        codes = [c for _, c in settings.dioptre_map.points]
        if min(codes) < 0 or max(codes) >= 1 << settings.bits:
            raise ProfileError(f"{name}: vcm.dioptre_map codes must be 0..{(1 << settings.bits) - 1} ({settings.bits}-bit)")
        if settings.bits + settings.shift > 16:
            raise ProfileError(f"{name}: vcm.bits + vcm.shift must fit 16 bits")
        return settings


class VcmLens(Lens):
    """A voice-coil lens on I2C. ``bus`` is an open smbus2.SMBus (or a test's stand-in)."""

    def __init__(self, settings: VcmSettings, bus: I2cBus, write_format: str):
        if write_format not in ("ov5647", "dac"):
            raise ProfileError(f"unknown VCM write format {write_format!r}")
        self.settings = settings
        self.write_format = write_format
        self._bus: I2cBus | None = bus
        self.code: int | None = None  #: the last code written

    @property
    def lens_range(self) -> tuple[float, float]:
        return self.settings.dioptre_map.range

    def move_to(self, dioptres: float) -> None:
        if self._bus is None:
            raise LensError("the lens's I2C bus is closed")
        code = self.settings.dioptre_map.code(float(dioptres))
        address = self.settings.address
        try:
            if self.write_format == "ov5647":
                # two bytes, no register: an SMBus "write byte data" puts exactly these on the wire
                self._bus.write_byte_data(address, (code >> 4) & 0x3F, (code << 4) & 0xF0)
            else:
                value = code << self.settings.shift
                self._bus.write_i2c_block_data(address, self.settings.register, [(value >> 8) & 0xFF, value & 0xFF])
        except OSError as error:
            raise LensError(f"I2C write to the VCM at 0x{address:02x} on bus {self.settings.bus} failed: {error}") from error
        self.code = code

    def close(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()


#: profile lens_driver -> VcmLens write format
DRIVERS = {"i2c-ov5647": "ov5647", "i2c-dac": "dac"}


def open_lens(profile: CameraProfile, bus: I2cBus | None = None, bus_number: int | None = None) -> VcmLens:
    """The I2C lens of an ``i2c-*`` profile; opens /dev/i2c-N with smbus2 unless ``bus`` is given.

    ``bus_number`` (``camera.vcm_bus``) replaces the profile's ``vcm.bus`` when not None: the
    camera's I2C bus differs between Pi models (10 on a Pi 4, other numbers on a Pi 5).
    """
    if profile.lens_driver not in DRIVERS:
        raise ProfileError(f"{profile.name}: lens_driver {profile.lens_driver!r} is not an I2C driver "
                           f"({', '.join(DRIVERS)})")
    settings = VcmSettings.from_profile(profile)
    if bus_number is not None:
        settings = dataclasses.replace(settings, bus=int(bus_number))
    if bus is None:
        try:
            # deferred: a device library, installed on a Pi (the "pi" extra); a desktop passes a bus
            from smbus2 import SMBus

            bus = SMBus(settings.bus)
        except ImportError:
            raise LensError("smbus2 is not installed (pip install smbus2) but the profile needs an I2C lens") from None
        except OSError as error:
            raise LensError(f"cannot open I2C bus {settings.bus} (/dev/i2c-{settings.bus}): {error}; "
                            f"set camera.vcm_bus to the camera's bus (hw/config-txt.md)") from error
    return VcmLens(settings, bus, DRIVERS[profile.lens_driver])
