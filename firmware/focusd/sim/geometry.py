"""Where the simulator renders: sensor mode, lores grid, the rendered region and its margins.

Why this module exists: the chain "sensor pixels -> mode crop and binning -> ISP downscale to the
lores size" fixes how many full-resolution pixels one lores pixel spans, and so how big a
dioptre of defocus is on the lores grid and how much noise averages away. Scenes and the sweep
replay both need the same answer; this is the one place that computes it.

Binning and the ISP downscale are modelled together as one area average over the full-resolution
pixels a lores pixel spans (``lores_pitch`` per axis): a texture is sampled on a grid
``oversample`` times finer than the lores grid, blurred there and area-averaged down. Lores
pixels are taken as square (lores aspect = the mode's crop aspect, as in every shipped profile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from focusd.config.profiles import CameraProfile, SensorMode
from focusd.sim.optics import OpticsModel, blur_margin_lores, blur_px_per_dioptre, floor_sigma_px, next_fast_size
from focusd.sim.textures import TextureGrid

#: libcamera's default AF window as frame fractions (x, y, w, h): middle half of the width,
#: middle third of the height (docs/device-facts.md, "Lens control")
AF_WINDOW: tuple[float, float, float, float] = (0.25, 1 / 3, 0.5, 1 / 3)

#: lores pixels rendered around a requested window (so that a slightly different cut still sees
#: real content)
WINDOW_PAD_LORES = 8


@dataclass(frozen=True)
class Geometry:
    """The rendering geometry of one rig. ``region`` is the rendered part of the lores frame
    (x, y, w, h in lores pixels; the whole frame unless a window was asked for)."""

    profile: CameraProfile
    mode: SensorMode
    lores_size: tuple[int, int]
    optics: OpticsModel
    region: tuple[int, int, int, int]

    @classmethod
    def build(cls, profile: CameraProfile, mode_size: tuple[int, int], lores_size: tuple[int, int],
              optics: OpticsModel, window: tuple[float, float, float, float] | None) -> "Geometry":
        mode = profile.mode(tuple(mode_size))
        lw, lh = lores_size
        if window is None:
            region = (0, 0, lw, lh)
        else:
            fx, fy, fw, fh = window
            x0 = max(0, int(math.floor(fx * lw)) - WINDOW_PAD_LORES)
            y0 = max(0, int(math.floor(fy * lh)) - WINDOW_PAD_LORES)
            x1 = min(lw, int(math.ceil((fx + fw) * lw)) + WINDOW_PAD_LORES)
            y1 = min(lh, int(math.ceil((fy + fh) * lh)) + WINDOW_PAD_LORES)
            region = (x0, y0, x1 - x0, y1 - y0)
        return cls(profile, mode, (int(lw), int(lh)), optics, region)

    @property
    def key(self) -> tuple:
        """Everything that makes two geometries render the same pixels."""
        return (self.profile.name, self.profile.blur_um_per_dioptre, self.mode.size, self.mode.crop,
                self.lores_size, self.region, self.optics)

    @property
    def lores_pitch(self) -> float:
        """Full-resolution sensor pixels per lores pixel (binning x ISP downscale)."""
        return self.mode.crop[2] / self.lores_size[0]

    @property
    def pixels_averaged(self) -> float:
        """Full-resolution pixels averaged into one lores pixel."""
        return (self.mode.crop[2] / self.lores_size[0]) * (self.mode.crop[3] / self.lores_size[1])

    @property
    def lores_px_per_dioptre(self) -> float:
        return blur_px_per_dioptre(self.profile.blur_um_per_dioptre, self.profile.pixel_size_um, self.lores_pitch)

    @property
    def margin(self) -> int:
        return blur_margin_lores(self.optics, self.lores_px_per_dioptre)

    @property
    def render_region(self) -> tuple[int, int, int, int]:
        """The region blurred (lores pixels): ``region`` plus the blur margin, sized for a fast FFT."""
        x, y, w, h = self.region
        m = self.margin
        return (x - m, y - m, next_fast_size(w + 2 * m), next_fast_size(h + 2 * m))

    @property
    def out_slices(self) -> tuple[slice, slice]:
        """``region`` inside the render region (lores pixels)."""
        m = self.margin
        return (slice(m, m + self.region[3]), slice(m, m + self.region[2]))

    @property
    def render_px_per_dioptre(self) -> float:
        return self.lores_px_per_dioptre * self.optics.oversample

    @property
    def render_floor_sigma_px(self) -> float:
        return floor_sigma_px(self.optics, self.profile.pixel_size_um, self.lores_pitch / self.optics.oversample)

    def texture_grid(self) -> TextureGrid:
        """The render region on the sensor, for sampling a texture."""
        rx, ry, rw, rh = self.render_region
        o = self.optics.oversample
        pitch = self.lores_pitch
        return TextureGrid(x0=self.mode.crop[0] + rx * pitch, y0=self.mode.crop[1] + ry * pitch,
                           pitch=pitch / o, shape=(rh * o, rw * o))

    def fraction_coverage(self, rect: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis coverage (rows, columns) of the render grid by a frame-fraction rectangle: the
        anti-aliased mask is their outer product."""
        rx, ry, rw, rh = self.render_region
        o = self.optics.oversample
        lw, lh = self.lores_size
        fx, fy, fw, fh = rect

        def axis(start_lores: float, stop_lores: float, origin: int, count: int) -> np.ndarray:
            a = (start_lores - origin) * o
            b = (stop_lores - origin) * o
            i = np.arange(count, dtype=np.float64)
            return np.clip(np.minimum(i + 1, b) - np.maximum(i, a), 0.0, 1.0)

        rows = axis(fy * lh, (fy + fh) * lh, ry, rh * o)
        cols = axis(fx * lw, (fx + fw) * lw, rx, rw * o)
        return rows, cols
