"""The focus measure: one number per lores frame that peaks where the AF window is sharpest.

Why this measure. On the lores stream one dioptre of defocus is only about 1.5 lores pixels of
blur-circle diameter (docs/design.md, "Optics and the lores grid": 12.5 um/D on the sensor, 2x
binning, 3x ISP downscale), so the change that tells 0.1 D apart lives in the highest frequencies
the lores grid holds. The default measure is therefore the *gradient energy at one-pixel spacing*
(the mean of squared horizontal and vertical neighbour differences, a Tenengrad without the Sobel
smoothing, which would throw away exactly the band that matters). A 4-neighbour Laplacian energy is
offered as the alternative; it weights the band nearer Nyquist still, and so also the noise.

Brightness. Both are divided by the window's mean level squared: a change of exposure or gain
scales the differences and the mean alike, so it is not read as a change of focus. (Noise does not
scale away: in the dark the measure is dominated by noise, and the search's flat-curve test turns
that into FAILED rather than a lock on noise.)

Cost. Everything that depends only on the frame size and the window (the slices) is computed once
per size; per frame the work is one float32 conversion of the window and two difference passes.
``python -m focusd.af`` prints the cost per frame at the default lores size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Block grid (rows, columns) of the coarse brightness pattern used to notice a changed scene.
SCENE_BLOCKS = (4, 8)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the engine learns from one frame's window."""

    focus: float  #: the brightness-normalised focus measure (dimensionless, larger = sharper)
    level: float  #: mean code value (0-255) of the window
    blocks: np.ndarray  #: SCENE_BLOCKS block means divided by ``level`` (the scene's coarse pattern)
    window: np.ndarray  #: the window's pixels as float32 (kept for the noise measurement)


class FocusMeasure:
    """Computes the focus measure of frames on a fixed window.

    ``window`` is (x, y, w, h) as fractions of the frame; ``kind`` is "gradient" or "laplacian".
    The pixel window for a frame size is worked out on the first frame of that size and kept.
    """

    def __init__(self, window: tuple[float, float, float, float], kind: str = "gradient"):
        if kind not in ("gradient", "laplacian"):
            raise ValueError(f"unknown focus measure {kind!r}")
        self.window = tuple(float(v) for v in window)
        self.kind = kind
        self._shape: tuple[int, int] | None = None
        self._rows = slice(0, 0)
        self._cols = slice(0, 0)
        self._block_shape = (1, 1)

    def pixel_window(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """The window in pixels (x, y, w, h) for a frame of ``shape`` (rows, columns)."""
        self._prepare(shape)
        return (self._cols.start, self._rows.start, self._cols.stop - self._cols.start,
                self._rows.stop - self._rows.start)

    def _prepare(self, shape: tuple[int, int]) -> None:
        if self._shape == shape:
            return
        height, width = shape
        x, y, w, h = self.window
        block_rows, block_cols = SCENE_BLOCKS
        # Whole blocks, and at least 3 pixels each way so that both measures have an interior.
        cols = max(3 * block_cols, round(w * width) // block_cols * block_cols)
        rows = max(3 * block_rows, round(h * height) // block_rows * block_rows)
        cols, rows = min(cols, width), min(rows, height)
        left = min(max(0, round(x * width)), width - cols)
        top = min(max(0, round(y * height)), height - rows)
        self._rows = slice(top, top + rows)
        self._cols = slice(left, left + cols)
        self._block_shape = (max(1, rows // block_rows), max(1, cols // block_cols))
        self._shape = shape

    def __call__(self, y_plane: np.ndarray) -> Measurement:
        if y_plane.ndim != 2:
            raise ValueError(f"expected a 2-D Y plane, got shape {y_plane.shape}")
        self._prepare(y_plane.shape)
        window = y_plane[self._rows, self._cols].astype(np.float32)
        level = float(window.mean())
        energy = self._energy(window)
        scale = max(level, 1.0)
        block_rows, block_cols = SCENE_BLOCKS
        br, bc = self._block_shape
        blocks = window[: block_rows * br, : block_cols * bc].reshape(block_rows, br, block_cols, bc)
        blocks = blocks.mean(axis=(1, 3)) / scale
        return Measurement(focus=energy / (scale * scale), level=level, blocks=blocks, window=window)

    def noise_floor(self, first: Measurement, second: Measurement) -> float:
        """The part of the focus measure that is sensor noise, from two frames of a still lens.

        Their difference holds no scene, only the noise of both frames (twice one frame's
        variance), so half the measure's energy of the difference is one frame's noise energy.
        """
        if first.window.shape != second.window.shape:
            return 0.0
        scale = max((first.level + second.level) / 2, 1.0)
        return self._energy(second.window - first.window) / 2 / (scale * scale)

    def _energy(self, window: np.ndarray) -> float:
        """Mean squared high-pass response of ``window`` (float32), in code values squared."""
        if self.kind == "gradient":
            dx = window[:, 1:] - window[:, :-1]
            dy = window[1:, :] - window[:-1, :]
            energy = (float(np.vdot(dx, dx)) / dx.size + float(np.vdot(dy, dy)) / dy.size)
        else:
            centre = window[1:-1, 1:-1]
            lap = (window[:-2, 1:-1] + window[2:, 1:-1] + window[1:-1, :-2] + window[1:-1, 2:]
                   - 4.0 * centre)
            energy = float(np.vdot(lap, lap)) / lap.size
        return energy

