"""Light, exposure, sensor noise and the ISP's tone curve: from scene reflectance to lores Y codes.

Why this module exists: contrast AF fails in the dark because noise, not detail, fills the focus
measure; a simulator without honest noise would tune an engine that locks on noise on a Pi. So
the signal is counted in photo-electrons per full-resolution pixel, the noise is what those
electrons and the readout give, and binning and the ISP's downscale average it down exactly as
many sensor pixels as they combine.

The numbers and their basis (all per full-resolution 1.4 um pixel; *assumptions* where marked):

- Light levels (illuminance on the scene): bright daylight 10 000 lux (outdoors, overcast or in
  shade), indoor 300 lux (office), dim 20 lux (living room at night), dark 0.2 lux (a moonlit
  night; a room lit only from the street). Typical photometry tables. At 0.2 lux the IMX708 at
  1/56 s and gain 16 collects ~1 e- per pixel: the focus measure of any texture is within its
  noise (no reliable peak), while 20 lux still focuses.
- Electrons per second at reflectance 1: illuminance on the sensor E * R * T / (4 N^2) (Lambertian
  scene, thin lens) with T = 0.9 lens transmission, N = the profile's f-number; 1 lux of
  daylight-like light ~ 1e16 photons / (s m^2) in the visible band; effective quantum efficiency
  0.3 (peak QE ~0.75 times the ~0.4 of visible photons a Bayer filter passes to one channel).
  For the IMX708 (1.4 um, f/1.8): about 410 e-/s per lux. *Assumption, order of magnitude.*
- Full well 6000 e- (typical of 1.4 um pixels), read noise 2.5 e- rms per pixel (modern BSI
  sensors: 1.5-3 e-), 10-bit ADC: full scale = full well / analogue gain. *Assumptions.*
- Shot noise: Poisson, as a Gaussian of variance = signal (exact enough above a few electrons
  once binning and the downscale have summed dozens of pixels). Quantisation: the 10-bit step's
  variance (step^2 / 12) per pixel, which the averaging then reduces like the rest. Dark current
  and fixed-pattern noise are left out (small at these exposures).
- Binning (2x2) and the ISP downscale average ``n`` full-resolution pixels per lores pixel, so the
  noise variance of a lores pixel is the per-pixel variance / n. Read noise is counted per pixel
  (digital binning), the conservative choice.
- Auto exposure, like the Pi's AGC: the mean linear level is brought to 18% of full scale with
  exposure time first (up to the frame duration), then analogue gain (up to 16), nothing more: in
  the dark the image stays dark and noisy. It converges over frames (``ae_speed``) when the light
  changes; a manual exposure can be set instead.
- The ISP's tone curve: the sRGB transfer curve (linear toe, then a 1/2.4 power), standing in
  for the Pi's rpi.contrast gamma curve. Output: 8-bit Y. The ISP's denoise is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from focusd.errors import ConfigError

#: the simulator's light levels, brightest first
LIGHT_LEVELS: tuple[str, ...] = ("bright", "indoor", "dim", "dark")

#: the AF-assist lamp's illuminance at 1 m, lux (a 1 W white LED with a ~30 degree lens gives about
#: 50-100 lux at 1 m; *assumption*). It falls with the square of the distance (focusd.sim.rig).
ASSIST_LAMP_LUX_AT_1M = 60.0

#: illuminance on the scene in lux for each light level (see the module docstring)
LIGHT_LUX: dict[str, float] = {"bright": 10_000.0, "indoor": 300.0, "dim": 20.0, "dark": 0.2}


@dataclass(frozen=True)
class SensorModel:
    """Sensor and ISP numbers (units in the names; basis in the module docstring)."""

    full_well_e: float = 6000.0
    read_noise_e: float = 2.5
    adc_bits: int = 10
    max_analogue_gain: float = 16.0
    photons_per_lux_s_m2: float = 1.0e16
    lens_transmission: float = 0.9
    effective_qe: float = 0.3
    ae_target: float = 0.18  #: mean linear level the AE aims for, fraction of full scale
    ae_speed: float = 0.25  #: fraction of the log-exposure error corrected per frame
    noise_bank_frames: int = 3  #: independent noise fields kept per output shape

    def electrons_per_lux_s(self, pixel_size_um: float, f_number: float) -> float:
        """Photo-electrons per second per full-resolution pixel for reflectance 1 under 1 lux."""
        area_m2 = (pixel_size_um * 1e-6) ** 2
        sensor_lux = self.lens_transmission / (4.0 * f_number * f_number)
        return self.photons_per_lux_s_m2 * area_m2 * sensor_lux * self.effective_qe


def light_lux(light: str | float) -> float:
    """Lux for a light level name, or a number of lux as given."""
    if isinstance(light, str):
        try:
            return LIGHT_LUX[light]
        except KeyError:
            raise ConfigError("light", f"unknown light level {light!r} (known: {', '.join(LIGHT_LEVELS)})") from None
    if not light > 0:
        raise ConfigError("light", f"illuminance must be > 0 lux, got {light!r}")
    return float(light)


def auto_exposure(electrons_per_s_mean: float, frame_duration_s: float, model: SensorModel) -> tuple[float, float]:
    """(exposure_s, analogue_gain) that bring a scene whose mean pixel collects
    ``electrons_per_s_mean`` to the AE target: exposure first, then gain."""
    wanted_e = model.ae_target * model.full_well_e
    needed_s = wanted_e / max(electrons_per_s_mean, 1e-9)
    exposure = min(needed_s, frame_duration_s)
    exposure = max(exposure, 20e-6)  # the sensor's shortest useful exposure (a few lines)
    gain = min(max(needed_s / exposure, 1.0), model.max_analogue_gain)
    return exposure, gain


def _srgb_lut(size: int) -> np.ndarray:
    v = np.linspace(0.0, 1.0, size)
    y = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


#: linear level (fraction of full scale, in 1/LUT_SIZE steps) -> 8-bit Y
LUT_SIZE = 8192
TONE_LUT = _srgb_lut(LUT_SIZE + 1)


def srgb_to_linear(codes: np.ndarray) -> np.ndarray:
    """Inverse of the tone curve: 8-bit codes (uint8) or 0-1 floats to linear 0-1 (float32)."""
    v = np.asarray(codes).astype(np.float32)
    if np.asarray(codes).dtype == np.uint8:
        v /= 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


class NoiseBank:
    """Standard-normal fields reused with random offsets (fresh Gaussian numbers for a window cost
    more than the rest of a frame). Two independent fields at independent offsets are summed, so
    consecutive frames do not share a noise pattern."""

    PAD = 61

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator, count: int):
        h, w = shape
        self.shape = shape
        # each field has variance 1/2, so the sum of two has variance 1
        self._fields = [rng.standard_normal((h + self.PAD, w + self.PAD), dtype=np.float32) * np.float32(0.70710678)
                        for _ in range(max(count, 2))]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.shape
        count = len(self._fields)
        oy, ox, py, px, first, shift = rng.integers(0, self.PAD + 1, size=6)
        i = int(first) % count
        j = (i + 1 + int(shift) % (count - 1)) % count
        return self._fields[i][oy:oy + h, ox:ox + w] + self._fields[j][py:py + h, px:px + w]


def expose(reflectance: np.ndarray, electrons_per_s: float, exposure_s: float, gain: float,
           pixels_averaged: float, model: SensorModel, noise: np.ndarray | None) -> np.ndarray:
    """Linear reflectance (lores region, float32) -> noisy 8-bit Y codes.

    ``electrons_per_s`` is the per-pixel rate at reflectance 1; ``pixels_averaged`` is how many
    full-resolution pixels one output pixel averages (binning x ISP downscale); ``noise`` a
    standard-normal field of the same shape (None: noiseless, for tests of the optics).

    Worked in tone-curve LUT units throughout (one pass per step: this runs on every frame). A
    pixel saturates at the ADC's full scale, which at gain >= 1 is at or below the full well.
    """
    full_scale_e = model.full_well_e / gain
    to_lut = LUT_SIZE / full_scale_e  # LUT steps per electron
    signal = np.multiply(reflectance, np.float32(electrons_per_s * exposure_s * to_lut))
    # a blur computed by FFT rings slightly below 0 beside hard edges: no light is negative
    np.maximum(signal, 0, out=signal)
    if noise is not None:
        step_e = full_scale_e / (2 ** model.adc_bits - 1)
        floor_var_e = model.read_noise_e ** 2 + step_e * step_e / 12.0
        # variance of the average of n pixels, in LUT steps^2: (signal_e + floor) / n * to_lut^2
        std = np.multiply(signal, np.float32(to_lut / pixels_averaged))
        std += np.float32(floor_var_e * to_lut * to_lut / pixels_averaged)
        np.sqrt(std, out=std)
        std *= noise
        signal += std
    np.clip(signal, 0, LUT_SIZE, out=signal)
    return TONE_LUT.take(signal.astype(np.uint16))
