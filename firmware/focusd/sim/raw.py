"""The simulator's raw (Bayer) stream: the main stream's linear scene as the sensor reads it out,
before the ISP: one colour per photosite, the ADC's bit depth, a black level, noise per photosite.

Why: with ``capture.raw = true`` the capture path writes a DNG from each frame's raw stream; on a
desktop the simulator must give one, so that the path (unpacking, DNG tags, the atomic pair of
files) runs everywhere, and a test can decode the DNG with LibRaw and compare it with what was made.

The numbers (*assumptions* where marked):

- Pattern RGGB, 10 bits, black level 64: the IMX708's native SRGGB10 and libcamera's
  SensorBlackLevels of 4096 in 16-bit units (64 at 10 bits). Every profile gets the same.
- Colour response under white light, relative to green: red 0.52, blue 0.62 (*assumption*: what
  the Pi's AWB gains of about 1.9 and 1.6 in daylight undo). The scenes are grey, so each
  photosite sees the grey reflectance times its colour's response.
- Signal and noise per photosite as focusd.sim.sensor's ``expose`` counts them (shot noise, read
  noise, the 10-bit step), without the tone curve: linear codes, black level added, clipped at
  the white level. A raw pixel of a binned mode averages as many full-resolution pixels as a
  main-stream pixel does.
- Size: the simulator's main stream's (``oversample`` x the lores size: 1536x864 for the IMX708's
  768x432 lores), not the sensor mode's (2304x1296 on a Pi): the simulator renders no finer.
"""

from __future__ import annotations

import numpy as np

from focusd.hw.base import RawImage
from focusd.sim.sensor import SensorModel

#: the simulated sensor's colour filter order (top-left 2x2 cell, row by row)
SIM_CFA = "RGGB"
#: the black level at the ADC's bit depth (10 bits: libcamera's 4096 >> 6)
SIM_BLACK_LEVEL = 64
#: each colour's response to white light relative to green (see the module docstring)
CHANNEL_RESPONSE = {"R": 0.52, "G": 1.0, "B": 0.62}
#: libcamera's SensorBlackLevels are in 16-bit units whatever the sensor's depth
BLACK_LEVEL_BITS = 16


def response_mosaic(shape: tuple[int, int], cfa: str = SIM_CFA) -> np.ndarray:
    """Each photosite's colour response (float32, ``shape``) for the pattern ``cfa``."""
    cell = np.array([[CHANNEL_RESPONSE[cfa[0]], CHANNEL_RESPONSE[cfa[1]]],
                     [CHANNEL_RESPONSE[cfa[2]], CHANNEL_RESPONSE[cfa[3]]]], dtype=np.float32)
    rows, cols = shape
    return np.tile(cell, (-(-rows // 2), -(-cols // 2)))[:rows, :cols]


def bayer(reflectance: np.ndarray, electrons_per_s: float, exposure_s: float, gain: float, pixels_averaged: float,
          model: SensorModel, noise: np.ndarray | None, cfa: str = SIM_CFA,
          black_level: int = SIM_BLACK_LEVEL) -> RawImage:
    """Linear reflectance (H, W float32) -> the raw frame a sensor with ``model`` reads out.

    The ADC's full scale (white level less black) is the full well over the analogue gain, as in
    ``expose``; ``noise`` is a standard-normal field of the same shape (None: noiseless)."""
    white = 2 ** model.adc_bits - 1
    full_scale_e = model.full_well_e / gain
    codes_per_e = (white - black_level) / full_scale_e
    signal_e = np.maximum(reflectance, 0) * response_mosaic(reflectance.shape, cfa)
    signal_e *= np.float32(electrons_per_s * exposure_s)
    codes = signal_e * np.float32(codes_per_e)
    if noise is not None:
        step_e = full_scale_e / white
        floor_e = model.read_noise_e ** 2 + step_e * step_e / 12.0
        codes += np.sqrt((signal_e + np.float32(floor_e)) / np.float32(pixels_averaged)) * np.float32(codes_per_e) * noise
    codes += np.float32(black_level)
    pixels = np.clip(np.rint(codes), 0, white).astype(np.uint16)
    return RawImage(pixels=pixels, cfa=cfa, bit_depth=model.adc_bits, black_level=black_level)


def black_levels_metadata(black_level: int = SIM_BLACK_LEVEL, bit_depth: int = 10) -> list[int]:
    """libcamera's SensorBlackLevels for a black level at ``bit_depth``: four values (one per
    colour channel, R Gr Gb B) in 16-bit units."""
    return [int(black_level) << (BLACK_LEVEL_BITS - bit_depth)] * 4
