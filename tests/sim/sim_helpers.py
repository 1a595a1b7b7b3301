"""Shared helpers for the simulator tests."""

from __future__ import annotations

import numpy as np

AF_WINDOW = (0.25, 1 / 3, 0.5, 1 / 3)


def window_cut(y: np.ndarray, window=AF_WINDOW) -> np.ndarray:
    h, w = y.shape
    x0, y0, fw, fh = window
    return y[int(y0 * h):int((y0 + fh) * h), int(x0 * w):int((x0 + fw) * w)].astype(np.float32)


def gradient_energy(y: np.ndarray, window=AF_WINDOW) -> float:
    """Brightness-normalised gradient energy in the window (a plain focus measure)."""
    cut = window_cut(y, window)
    energy = (np.diff(cut, axis=0) ** 2).mean() + (np.diff(cut, axis=1) ** 2).mean()
    return float(energy / cut.mean() ** 2)


def settled_frame(rig, position: float, frames: int = 4):
    """Command ``position`` and return the first frame after the lens has surely settled."""
    rig.set_lens_position(position)
    for _ in range(frames):
        frame = rig.next_frame()
    return frame
