"""Seeded procedural textures: what the simulated camera looks at.

Why generated: no package that ships real photographs is a dependency (the real stacks shipped in
focusd/bench/stacks are replayed by ``focusd.sim.sweep`` instead). The textures cover what makes
contrast AF easy or hard: broadband natural detail (1/f), fine high-contrast strokes (text), leafy
patches with soft and hard edges (foliage), a regular pattern with strong edges (bricks), a weave
near or above the lores Nyquist frequency that aliases (fabric), low-contrast smooth detail
(skin) and a few large edges on flat areas (architecture).

Every texture is a reflectance map in [0.02, 0.95] defined in *full-resolution sensor pixel*
coordinates (feature sizes below are in those pixels), sampled on whatever grid the renderer asks
for (``TextureGrid``): so a cropped sensor mode magnifies the same features, as on the device.
Position-defined textures (text, bricks, fabric, architecture) show the same content wherever
they are sampled; the noise-based ones are statistically, not pixel-for-pixel, the same between
grids. A texture is a function of (name, seed, grid) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from focusd.errors import ConfigError


@dataclass(frozen=True)
class TextureGrid:
    """Where to sample: the top-left corner (x0, y0) in full-resolution sensor pixels, the pitch
    (full-resolution pixels per grid pixel) and the shape (rows, columns)."""

    x0: float
    y0: float
    pitch: float
    shape: tuple[int, int]

    def axes(self, supersample: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Sample coordinates (ys, xs) in full-resolution pixels, ``supersample`` per grid pixel
        per axis (for anti-aliased edges)."""
        h, w = self.shape
        step = self.pitch / supersample
        ys = self.y0 + (np.arange(h * supersample) + 0.5) * step
        xs = self.x0 + (np.arange(w * supersample) + 0.5) * step
        return ys, xs


def _supersampled(grid: TextureGrid, supersample: int, paint: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Paint on a grid ``supersample`` times finer and area-average: anti-aliased edges."""
    ys, xs = grid.axes(supersample)
    fine = paint(ys[:, None], xs[None, :]).astype(np.float32)
    if supersample == 1:
        return fine
    h, w = grid.shape
    return fine.reshape(h, supersample, w, supersample).mean(axis=(1, 3))


def noise_field(rng: np.random.Generator, grid: TextureGrid, exponent: float = 1.0,
                min_period_px: float = 0.0, max_period_px: float = 4000.0) -> np.ndarray:
    """Gaussian noise with amplitude spectrum 1/f**exponent between the two periods (full-res
    pixels), unit standard deviation."""
    h, w = grid.shape
    spectrum = rng.standard_normal((h, w // 2 + 1)) + 1j * rng.standard_normal((h, w // 2 + 1))
    fy = np.fft.fftfreq(h)[:, None] / grid.pitch
    fx = np.fft.rfftfreq(w)[None, :] / grid.pitch
    f = np.sqrt(fy * fy + fx * fx)
    low = 1.0 / max_period_px
    amplitude = 1.0 / np.maximum(f, low) ** exponent
    if min_period_px > 0:
        amplitude = amplitude * np.exp(-(f * min_period_px) ** 2)
    amplitude[0, 0] = 0.0
    field = np.fft.irfft2(spectrum * amplitude, s=(h, w))
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)


def _finish(image: np.ndarray, mean: float, std: float) -> np.ndarray:
    image = image - image.mean()
    current = image.std()
    if current > 0:
        image = image * (std / current)
    return np.clip(image + mean, 0.02, 0.95).astype(np.float32)


def natural(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """1/f noise, the spectrum of natural images."""
    return _finish(noise_field(rng, grid, 1.0, min_period_px=2.0), 0.42, 0.16)


def _glyphs(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random 5x7 glyphs made of 2-4 strokes (and a blank, the space, at index 0)."""
    glyphs = np.zeros((count, 7, 5), dtype=bool)
    for g in range(1, count):
        for _ in range(rng.integers(2, 5)):
            if rng.random() < 0.5:  # a vertical stroke
                c = rng.integers(0, 5)
                r0, r1 = sorted(rng.integers(0, 8, size=2))
                glyphs[g, r0:max(r1, r0 + 3), c] = True
            else:  # a horizontal stroke
                r = rng.integers(0, 7)
                c0, c1 = sorted(rng.integers(0, 6, size=2))
                glyphs[g, r, c0:max(c1, c0 + 2)] = True
    return glyphs


def text(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """Lines of dark glyph strokes on light paper (a page at reading distance)."""
    stroke = float(rng.uniform(6.0, 10.0))  # full-res pixels per glyph cell
    glyphs = _glyphs(rng, 48)
    table = rng.integers(1, 48, size=(97, 211))
    table[rng.random(table.shape) < 0.18] = 0  # word spaces
    line_cells, char_cells = 10, 6  # a 5x7 glyph in a 6x10 cell: letter and line spacing

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        cy = np.floor(ys / stroke).astype(np.int64)
        cx = np.floor(xs / stroke).astype(np.int64)
        line, row = np.divmod(cy, line_cells)
        char, col = np.divmod(cx, char_cells)
        glyph = table[line % table.shape[0], char % table.shape[1]]
        inside = (row < 7) & (col < 5)
        ink = glyphs[glyph, np.minimum(row, 6), np.minimum(col, 4)] & inside
        return np.where(ink, 0.08, 0.82)

    base = _supersampled(grid, 2, paint)
    paper = noise_field(rng, grid, 1.0, min_period_px=4.0)
    return np.clip(base + 0.015 * paper, 0.02, 0.95).astype(np.float32)


def foliage(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """Overlapping leaves: patches with hard edges at several scales, shading, fine veins."""
    image = 0.25 + 0.08 * noise_field(rng, grid, 1.5, max_period_px=800.0)
    for scale in (160.0, 80.0, 40.0):
        blobs = noise_field(rng, grid, 2.5, max_period_px=scale)
        shade = 0.35 + 0.25 * rng.random() + 0.08 * noise_field(rng, grid, 1.5, max_period_px=scale)
        image = np.where(blobs > 0.4, shade, image)
    veins = noise_field(rng, grid, 0.8, min_period_px=3.0)
    return _finish(image + 0.05 * veins, 0.38, 0.13)


def bricks(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """A brick wall: running bond, mortar joints, per-brick shade, fine grain."""
    brick_w, brick_h, joint = float(rng.uniform(200, 260)), float(rng.uniform(70, 90)), 10.0
    shades = 0.35 + 0.2 * rng.random((64, 64))

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        row = np.floor(ys / brick_h).astype(np.int64)
        shifted = xs + (row % 2) * brick_w / 2
        col = np.floor(shifted / brick_w).astype(np.int64)
        in_joint = ((ys % brick_h) < joint) | ((shifted % brick_w) < joint)
        return np.where(in_joint, 0.7, shades[row % 64, col % 64])

    base = _supersampled(grid, 2, paint)
    grain = noise_field(rng, grid, 0.7, min_period_px=2.0)
    return np.clip(base + 0.04 * grain, 0.02, 0.95).astype(np.float32)


def fabric(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """A fine weave, slightly rotated: its period (9-16 full-res pixels) is near or above the
    lores Nyquist frequency, so it aliases into moire there, as real fabric does."""
    period = float(rng.uniform(9.0, 16.0))
    angle = float(rng.uniform(-0.2, 0.2))
    cos, sin = np.cos(angle), np.sin(angle)

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u = (xs * cos + ys * sin) * (2 * np.pi / period)
        v = (-xs * sin + ys * cos) * (2 * np.pi / period)
        warp = np.sin(u) > 0
        return np.where(np.sin(v) > 0, np.where(warp, 0.7, 0.3), np.where(warp, 0.35, 0.65))

    base = _supersampled(grid, 2, paint)
    shade = noise_field(rng, grid, 1.5, max_period_px=600.0)
    return np.clip(base * (1.0 + 0.15 * shade) * 0.8, 0.02, 0.95).astype(np.float32)


def skin(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """Low-contrast smooth detail: soft shading and faint pores (hard for contrast AF)."""
    soft = noise_field(rng, grid, 2.0, max_period_px=1500.0)
    pores = noise_field(rng, grid, 0.5, min_period_px=4.0)
    return np.clip(0.55 + 0.05 * soft + 0.012 * pores, 0.02, 0.95).astype(np.float32)


def architecture(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """A facade: large flat panels and window frames with straight edges, a gentle gradient."""
    rects = []
    for _ in range(40):
        w, h = rng.uniform(150, 900), rng.uniform(100, 600)
        x, y = rng.uniform(-500, 4608), rng.uniform(-400, 2592)
        rects.append((x, y, w, h, rng.uniform(0.15, 0.8)))
    columns = rng.uniform(0, 4608, size=6)

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        out = np.full(np.broadcast_shapes(ys.shape, xs.shape), 0.5, dtype=np.float32)
        for x, y, w, h, value in rects:
            inside = ((ys >= y) & (ys < y + h)) & ((xs >= x) & (xs < x + w))
            out[inside] = value
        for x in columns:
            out[np.broadcast_to((xs >= x) & (xs < x + 24), out.shape)] = 0.1
        return out

    base = _supersampled(grid, 2, paint)
    ys, xs = grid.axes()
    gradient = 0.08 * (xs[None, :] / 4608.0 - 0.5)
    return np.clip(base + gradient + 0.01 * noise_field(rng, grid, 1.0, 2.0), 0.02, 0.95).astype(np.float32)


def flat_wall(rng: np.random.Generator, grid: TextureGrid) -> np.ndarray:
    """A featureless wall: uniform reflectance with a gentle illumination gradient (10% across the
    sensor), nothing else."""
    ys, xs = grid.axes()
    level = 0.5 + 0.05 * (xs[None, :] / 4608.0 - 0.5) + 0.03 * (ys[:, None] / 2592.0 - 0.5)
    return np.broadcast_to(level, grid.shape).astype(np.float32)


#: texture name -> generator(rng, grid) -> reflectance (float32)
GENERATORS: dict[str, Callable[[np.random.Generator, TextureGrid], np.ndarray]] = {
    "natural": natural,
    "text": text,
    "foliage": foliage,
    "bricks": bricks,
    "fabric": fabric,
    "skin": skin,
    "architecture": architecture,
}

#: the textures a scene can be made of (``flat`` is the featureless wall's)
TEXTURES: list[str] = list(GENERATORS)


def make_texture(name: str, seed: int, grid: TextureGrid) -> np.ndarray:
    """The reflectance map of texture ``name`` with ``seed`` on ``grid``."""
    if name == "flat":
        return flat_wall(np.random.default_rng(seed), grid)
    try:
        generator = GENERATORS[name]
    except KeyError:
        raise ConfigError("texture", f"unknown texture {name!r} (known: {', '.join(TEXTURES)}, flat)") from None
    return generator(np.random.default_rng([seed, sum(map(ord, name))]), grid)
