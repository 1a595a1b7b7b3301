"""The peak fit: where a focus curve sampled at a few lens positions is sharpest.

Kept apart from the engine's stages so that it can be tested on its own: a pure function of the
positions and measures given.

A gradient-energy focus curve of a natural scene (power falling as 1/frequency^2) under a disk blur
is close to a Lorentzian in dioptres, A / (1 + ((x - peak) / h)^2): 1/measure is a parabola in the
lens position. So 1/measure is fitted with a parabola (weighted least squares over the samples
near the best one, weights for equal relative errors); its vertex is the peak. (A Gaussian, a
parabola in log measure, is too round at the top of these cusped curves: it pulls the peak towards
the wider-spaced side.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class PeakFit:
    """A peak fitted to a focus curve."""

    position: float  #: dioptres: the vertex (clamped to the span of the samples used)
    value: float  #: the fitted measure at the vertex
    width: float  #: dioptres: the width of the top, as the sigma of a Gaussian matching it; inf if flat
    residual: float  #: weighted RMS relative error of the fit
    samples: int  #: how many (aggregated) positions took part
    span: tuple[float, float]  #: dioptres: the lowest and highest position used


def aggregate(positions: np.ndarray, values: np.ndarray, resolution: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge samples at the same position (within ``resolution`` D): (positions, means, counts)."""
    order = np.argsort(positions, kind="stable")
    positions, values = positions[order], values[order]
    out_x: list[float] = []
    out_v: list[float] = []
    out_n: list[int] = []
    for x, v in zip(positions, values):
        if out_x and abs(x - out_x[-1]) <= resolution:
            n = out_n[-1]
            out_x[-1] = (out_x[-1] * n + x) / (n + 1)
            out_v[-1] = (out_v[-1] * n + v) / (n + 1)
            out_n[-1] = n + 1
        else:
            out_x.append(float(x))
            out_v.append(float(v))
            out_n.append(1)
    return np.array(out_x), np.array(out_v), np.array(out_n)


#: Going out from the best sample, a sample may exceed the one before it by this factor (noise)
#: and still belong to the same peak; a larger rise is the flank of another peak.
UNIMODAL_SLACK = 1.03


def fit_peak(positions, values, fit_fraction: float = 0.6, floor: float = 1e-12,
             bounds: tuple[float, float] | None = None, reach: float | None = None) -> PeakFit | None:
    """Fit the peak of a focus curve sampled at ``positions`` (D) with ``values`` (> 0).

    Uses the best sample, its nearest neighbours on each side, and every other sample at or above
    ``fit_fraction`` of the best. Returns None if fewer than three positions are usable or the
    samples do not bracket a maximum (the best is at either end of the span), unless that end is
    one of ``bounds`` (the AF range): then the peak is fitted from that side and kept in range.
    """
    x_all, v_all, n_all = aggregate(np.asarray(positions, float), np.asarray(values, float))
    v_all = np.maximum(v_all, floor)
    if len(x_all) < 3:
        return None
    best = int(np.argmax(v_all))
    edge = None
    if best == 0 or best == len(x_all) - 1:
        if bounds is None:
            return None
        end = bounds[0] if best == 0 else bounds[1]
        if abs(x_all[best] - end) > 0.05:
            return None
        edge = end
    keep = v_all >= fit_fraction * v_all[best]
    # two neighbours each side at least: one close pair of samples alone says nothing of curvature
    for neighbour in (best - 2, best - 1, best + 1, best + 2):
        if 0 <= neighbour < len(x_all):
            keep[neighbour] = True
    # keep the run of kept samples around the best only (a second peak far off does not take part)
    # and only while the curve keeps falling away from the best: past a dip it is another peak's
    low = best
    # With ``reach`` (D): every kept sample that close to the best takes part, rises and dips
    # alike (a real focus curve is scalloped at the scale of its frames; the top of the envelope
    # is what is wanted), as long as the run of kept samples is unbroken.
    def belongs(index: int, towards: int) -> bool:
        if not keep[index]:
            return False
        if abs(index - best) == 1:
            return True  # the samples beside the best always bound the fit
        if reach is not None:
            return abs(x_all[index] - x_all[best]) <= reach + 1e-9
        return v_all[index] <= v_all[index - towards] * UNIMODAL_SLACK

    low = best
    while low - 1 >= 0 and belongs(low - 1, -1):
        low -= 1
    high = best
    while high + 1 < len(x_all) and belongs(high + 1, 1):
        high += 1
    if high - low < 2:
        return None
    x = x_all[low:high + 1]
    inverse = 1.0 / v_all[low:high + 1]
    weights = np.sqrt(n_all[low:high + 1]) * (v_all[low:high + 1] / v_all[best])
    centre = x_all[best]
    design = np.stack([np.ones_like(x), x - centre, (x - centre) ** 2], axis=1)
    try:
        coef, *_ = np.linalg.lstsq(design * (weights / inverse)[:, None], weights, rcond=None)
    except np.linalg.LinAlgError:
        return None
    c0, c1, c2 = (float(c) for c in coef)
    span = (float(x[0]), float(x[-1]))
    if edge is not None:
        span = (edge, float(x[1])) if best == 0 else (float(x[-2]), edge)
    if not all(math.isfinite(c) for c in (c0, c1, c2)) or c2 <= 0:
        # not curved downwards: take the best sample itself
        peak, value, width = float(centre), float(v_all[best]), math.inf
    else:
        offset = -c1 / (2 * c2)
        peak = float(min(max(centre + offset, span[0]), span[1]))
        at_peak = c0 + c1 * (peak - centre) + c2 * (peak - centre) ** 2
        value = float(1.0 / at_peak) if at_peak > 0 else float(v_all[best])
        # half width at half maximum of the Lorentzian, as the sigma of the Gaussian that matches
        # it near the top (what the continuous servo needs)
        vertex = c0 - c1 * c1 / (4 * c2)
        width = float(math.sqrt(vertex / c2) / math.sqrt(2)) if vertex > 0 else math.inf
    predicted = design @ np.array([c0, c1, c2])
    relative = (inverse - predicted) / inverse
    residual = float(np.sqrt(np.sum(weights**2 * relative**2) / np.sum(weights**2)))
    return PeakFit(peak, value, width, residual, len(x), span)
