"""Thin-lens defocus blur, rendered as stacks of precomputed blur levels.

Why this module exists: the blur is the one physical effect the autofocus measures, so it is
modelled from the profile's optics and nothing else (docs/design.md, "Optics and the lores grid"): a
subject at ``D`` dioptres is sharp at lens position ``D``; at lens position ``x`` its blur circle on
the sensor has the diameter ``profile.blur_um_per_dioptre * |x - D|`` (aperture * focal length *
defocus, about 12.5 um per dioptre for the IMX708, ~9 full-resolution pixels). The point-spread
function is that disk (pillbox) convolved with a small Gaussian "floor" that stands for diffraction
and the lens's residual aberrations, so that an in-focus image is not infinitely sharp.

Speed: a frame of the benchmark must cost well under a millisecond, so a texture is blurred once
per *level* (a discrete defocus, fine near focus and geometric further out), lazily, through one
FFT of the texture and the analytic transfer function of the disk (2 J1(z)/z). A frame then
linearly interpolates the two adjacent levels. Stacks are cached across rigs (the benchmark runs
many algorithms on the same scene).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np


@dataclass(frozen=True)
class OpticsModel:
    """The blur model's tuning. Units in the names."""

    #: sigma of the Gaussian floor on the sensor, um. Diffraction alone at f/1.8 and 550 nm gives an
    #: Airy core of sigma ~0.42 * lambda * N = 0.42 um; phone-class lenses resolve about 1-1.5 pixel
    #: pitches at best, so 1.2 um (0.86 full-resolution pixels) is assumed. *Assumption, not measured.*
    floor_sigma_um: float = 1.2
    #: the blur is computed on a grid this many times finer than the lores grid, then area-averaged
    #: down (the ISP's downscale), so that detail finer than a lores pixel aliases as it does on a Pi
    oversample: int = 2
    #: the largest defocus with its own level (beyond it the last level is used), dioptres
    max_defocus_dioptres: float = 16.0
    #: levels every ``fine_step_dioptres`` up to ``fine_limit_dioptres``, then geometric steps
    fine_step_dioptres: float = 0.05
    fine_limit_dioptres: float = 0.6
    coarse_ratio: float = 1.05

    def levels(self) -> np.ndarray:
        """The defocus (dioptres) of every level, ascending, starting at 0."""
        count = int(round(self.fine_limit_dioptres / self.fine_step_dioptres))
        values = [i * self.fine_step_dioptres for i in range(count + 1)]
        while values[-1] < self.max_defocus_dioptres:
            values.append(values[-1] * self.coarse_ratio)
        return np.array(values, dtype=np.float64)


def bessel_j1_over_x(x: np.ndarray) -> np.ndarray:
    """J1(x)/x for x >= 0 (Abramowitz & Stegun 9.4.4 and 9.4.6, error < 1e-7); 0.5 at x = 0.

    numpy has no Bessel functions and scipy is not a dependency; these polynomial fits are the
    textbook ones.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    small = x <= 3.0
    t = (x[small] / 3.0) ** 2
    out[small] = 0.5 + t * (-0.56249985 + t * (0.21093573 + t * (-0.03954289 + t * (
        0.00443319 + t * (-0.00031761 + t * 0.00001109)))))
    xl = x[~small]
    u = 3.0 / xl
    f1 = 0.79788456 + u * (0.00000156 + u * (0.01659667 + u * (0.00017105 + u * (
        -0.00249511 + u * (0.00113653 - u * 0.00020033)))))
    theta = xl - 2.35619449 + u * (0.12499612 + u * (0.00005650 + u * (-0.00637879 + u * (
        0.00074348 + u * (0.00079824 - u * 0.00029166)))))
    out[~small] = f1 * np.cos(theta) / (np.sqrt(xl) * xl)
    return out


def disk_otf(rho: np.ndarray, diameter_px: float) -> np.ndarray:
    """Optical transfer function of a uniform disk of ``diameter_px`` at radial frequency ``rho``
    (cycles per pixel): 2 J1(pi d rho) / (pi d rho)."""
    if diameter_px <= 0:
        return np.ones_like(rho)
    return 2.0 * bessel_j1_over_x(np.pi * diameter_px * rho)


def next_fast_size(n: int, multiple: int = 1) -> int:
    """The smallest m >= n that is a multiple of ``multiple`` with only 2, 3, 5 as prime factors."""
    m = max(n, 1)
    while True:
        if m % multiple == 0:
            r = m
            for p in (2, 3, 5):
                while r % p == 0:
                    r //= p
            if r == 1:
                return m
        m += 1


def area_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks (the ISP's downscale, as area averaging). Strided sums:
    several times faster than a reshaped mean."""
    if factor == 1:
        return np.asarray(image, dtype=np.float32)
    h, w = image.shape
    h, w = h - h % factor, w - w % factor
    out = np.zeros((h // factor, w // factor), dtype=np.float32)
    for dy in range(factor):
        for dx in range(factor):
            out += image[dy:h:factor, dx:w:factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


#: radii at which the (radial) transfer functions are evaluated; nearest-radius gather
RADIAL_BINS = 8192


class _BlurGrid:
    """An image's spectrum on one grid and its radial-frequency lookup: blur it by any disk."""

    def __init__(self, image: np.ndarray, floor_sigma_px: float):
        self.shape = image.shape
        self.spectrum = np.fft.rfft2(image.astype(np.float32))
        fy = np.fft.fftfreq(image.shape[0])[:, None]
        fx = np.fft.rfftfreq(image.shape[1])[None, :]
        # the transfer functions are radial: evaluate them on RADIAL_BINS radii and gather, which is
        # ~20x cheaper than evaluating the Bessel fit on every frequency of every level
        rho = np.sqrt(fy * fy + fx * fx)
        self.rho_bins = np.linspace(0.0, float(rho.max()), RADIAL_BINS)
        self.rho_index = np.rint(rho / self.rho_bins[-1] * (RADIAL_BINS - 1)).astype(np.uint16)
        self.floor = np.exp(-2.0 * (np.pi * floor_sigma_px) ** 2 * self.rho_bins ** 2)

    @property
    def nbytes(self) -> int:
        return self.spectrum.nbytes + self.rho_index.nbytes

    def blur(self, diameter_px: float) -> np.ndarray:
        radial = (disk_otf(self.rho_bins, diameter_px) * self.floor).astype(np.float32)
        return np.fft.irfft2(self.spectrum * radial[self.rho_index], s=self.shape)


class BlurStack:
    """One image (a texture, or a mask) blurred at every defocus level, computed on demand.

    ``image`` is on the render grid (``oversample`` times the lores grid, with a margin all round
    so the FFT's wrap-around falls outside ``out``); ``render_px_per_dioptre`` converts defocus to
    a blur diameter on that grid; ``out`` (row slice, column slice) cuts the wanted region of the
    lores-scale result.

    Levels whose blur is at least ``LORES_BLUR_PX`` lores pixels across are blurred on the lores
    grid (the image area-averaged first: 4x cheaper). The order of blur and downscale matters only
    through aliasing near the lores Nyquist frequency, where such a disk has left < 7% contrast.
    """

    #: blur diameter (lores pixels) from which a level is computed on the lores grid
    LORES_BLUR_PX = 4.0

    def __init__(self, image: np.ndarray, render_px_per_dioptre: float, render_floor_sigma_px: float,
                 model: OpticsModel, out: tuple[slice, slice]):
        self.model = model
        self.levels = model.levels()
        self._out = out
        self._px_per_dioptre = render_px_per_dioptre
        self._fine = _BlurGrid(image, render_floor_sigma_px)
        o = model.oversample
        self._coarse = _BlurGrid(area_downscale(image, o), render_floor_sigma_px / o) if o > 1 else None
        self._cache: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.mean = float(image[out[0].start * o: out[0].stop * o, out[1].start * o: out[1].stop * o].mean())

    def nbytes(self) -> int:
        coarse = self._coarse.nbytes if self._coarse is not None else 0
        return self._fine.nbytes + coarse + sum(a.nbytes for a in self._cache.values())

    def render(self, defocus_dioptres: float, downscale: bool = True) -> np.ndarray:
        """The image at exactly this defocus (one inverse FFT): lores region, or the whole render
        grid when ``downscale`` is False (the main stream)."""
        diameter = abs(defocus_dioptres) * self._px_per_dioptre
        o = self.model.oversample
        rows, cols = self._out
        if not downscale:
            return self._fine.blur(diameter)
        if self._coarse is not None and diameter >= self.LORES_BLUR_PX * o:
            return np.ascontiguousarray(self._coarse.blur(diameter / o)[rows, cols], dtype=np.float32)
        blurred = self._fine.blur(diameter)
        return area_downscale(blurred[rows.start * o:rows.stop * o, cols.start * o:cols.stop * o], o)

    def warm(self) -> None:
        """Compute every level now. A level is otherwise computed on first use, an inverse FFT of
        tens of milliseconds: on the frame path of a real-time camera that drops frames."""
        for index in range(len(self.levels)):
            self.level(index)

    def level(self, index: int) -> np.ndarray:
        image = self._cache.get(index)
        if image is None:
            image = self.render(float(self.levels[index]))
            with self._lock:
                self._cache[index] = image
        return image

    def level_weights(self, defocus_dioptres: float) -> list[tuple[int, float]]:
        """The levels around ``defocus_dioptres`` and their linear-interpolation weights."""
        defocus = abs(defocus_dioptres)
        levels = self.levels
        if defocus >= levels[-1]:
            return [(len(levels) - 1, 1.0)]
        upper = int(np.searchsorted(levels, defocus, side="right"))
        lower = upper - 1
        weight = float((defocus - levels[lower]) / (levels[upper] - levels[lower]))
        return [(lower, 1.0 - weight), (upper, weight)]

    def sample(self, defocus_dioptres: float) -> np.ndarray:
        """The lores region at ``defocus_dioptres``, interpolated linearly between the two levels
        around it (beyond the last level: the last level). May return a cached array: read only."""
        return self.blend([(defocus_dioptres, 1.0)])

    def blend(self, items: list[tuple[float, float]]) -> np.ndarray:
        """The weighted mean of the images at several (defocus, weight) pairs: a lens moving during
        the exposure. Weights per level are gathered first, so nearby positions cost one level."""
        weights: dict[int, float] = {}
        for defocus, weight in items:
            for index, share in self.level_weights(defocus):
                weights[index] = weights.get(index, 0.0) + weight * share
        used = [(i, w) for i, w in weights.items() if w >= 1e-3]
        total = sum(w for _, w in used)
        if len(used) == 1:
            return self.level(used[0][0])
        (first, w0), *rest = used
        out = np.multiply(self.level(first), np.float32(w0 / total))
        scratch = np.empty_like(out)
        for index, weight in rest:
            np.multiply(self.level(index), np.float32(weight / total), out=scratch)
            out += scratch
        return out


class StackCache:
    """Blur stacks shared across rigs, keyed by everything that determines them, least recently
    used dropped beyond ``max_bytes`` (the benchmark renders the same scene for many algorithms)."""

    def __init__(self, max_bytes: int = 1_200_000_000):
        self.max_bytes = max_bytes
        self._stacks: OrderedDict[Hashable, BlurStack] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], BlurStack]) -> BlurStack:
        with self._lock:
            stack = self._stacks.get(key)
            if stack is not None:
                self._stacks.move_to_end(key)
                return stack
        stack = build()
        with self._lock:
            self._stacks[key] = stack
            self._trim()
        return stack

    def _trim(self) -> None:
        total = sum(s.nbytes() for s in self._stacks.values())
        while total > self.max_bytes and len(self._stacks) > 1:
            _, dropped = self._stacks.popitem(last=False)
            total -= dropped.nbytes()

    def clear(self) -> None:
        with self._lock:
            self._stacks.clear()


#: the process-wide stack cache
STACKS = StackCache()


def blur_px_per_dioptre(blur_um_per_dioptre: float, pixel_size_um: float, full_px_per_grid_px: float) -> float:
    """Blur-circle diameter in grid pixels per dioptre of defocus, for a grid whose pixel spans
    ``full_px_per_grid_px`` full-resolution sensor pixels."""
    return blur_um_per_dioptre / pixel_size_um / full_px_per_grid_px


def floor_sigma_px(model: OpticsModel, pixel_size_um: float, full_px_per_grid_px: float) -> float:
    return model.floor_sigma_um / pixel_size_um / full_px_per_grid_px


def blur_margin_lores(model: OpticsModel, lores_px_per_dioptre: float) -> int:
    """Lores pixels of margin that hold the largest blur's radius plus a few pixels."""
    return int(math.ceil(model.max_defocus_dioptres * lores_px_per_dioptre / 2)) + 4
