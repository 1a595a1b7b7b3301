"""The search's arithmetic: which lens position each frame saw, and where the peak is.

Kept apart from the engine's state machine (focusd.af.engine) so that it can be tested on its own:
everything here is a pure function of the commands sent and the measures seen.

Attribution. The engine keeps the lens moving every frame, so a frame's measure belongs to the
position the lens had *while that frame was exposed*, which is the command sent latency + 1 frames
earlier (DESIGN.md's latency contract), not the position in its metadata. ``LensHistory`` answers
that for any latency, whole or fractional: a fractional latency stands for a frame exposed while the
lens moved between two commands, attributed to the blend of the two.

Peak fit. A gradient-energy focus curve of a natural scene (power falling as 1/frequency^2) under
a disk blur is close to a Lorentzian in dioptres, A / (1 + ((x - peak) / h)^2): 1/measure is a
parabola in the lens position. So 1/measure is fitted with a parabola (weighted least squares over
the samples near the best one, weights for equal relative errors); its vertex is the peak. (A
Gaussian, a parabola in log measure, is too round at the top of these cusped curves: it pulls the
peak towards the wider-spaced side.)

Latency from the data (``arrival_latency``): the told latency may be a frame off. When the lens
jumps back to the fitted peak, the measure steps up from the blurred overshoot to the sharp peak;
the frame at which it does shows the true latency. The engine then re-attributes every sample
with it and refits. (A lens that moves during an exposure is a fractional part on top: the
engine's ``motion_blend``.)
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np


class LensHistory:
    """The commands sent during one scan, by the sequence number of the frame that produced them."""

    def __init__(self, start_position: float):
        self.start_position = float(start_position)
        self._sequences: list[int] = []
        self._positions: list[float] = []

    def command(self, sequence: int, position: float) -> None:
        """Record that ``position`` was commanded in answer to frame ``sequence``."""
        if self._sequences and sequence < self._sequences[-1]:
            raise ValueError("commands must be recorded in sequence order")
        if self._sequences and sequence == self._sequences[-1]:
            self._positions[-1] = float(position)
            return
        self._sequences.append(int(sequence))
        self._positions.append(float(position))

    @property
    def last_command(self) -> float:
        return self._positions[-1] if self._positions else self.start_position

    @property
    def visited(self) -> list[float]:
        """Every position the lens was sent to (and the start), in order."""
        return [self.start_position, *self._positions]

    @property
    def last_sequence(self) -> int | None:
        """The frame the last command answered (None before the first command)."""
        return self._sequences[-1] if self._sequences else None

    @property
    def first_sequence(self) -> int | None:
        return self._sequences[0] if self._sequences else None

    def commanded_at(self, sequence: int) -> float:
        """The latest command sent in answer to a frame up to ``sequence`` (start if none)."""
        index = bisect.bisect_right(self._sequences, sequence) - 1
        return self._positions[index] if index >= 0 else self.start_position

    def position(self, sequence: int, latency: float) -> float:
        """Where the lens was while frame ``sequence`` was exposed, if the latency is ``latency``.

        A command answering frame n is first seen in frame n + latency + 1. A fractional latency
        blends the two neighbouring whole-frame answers linearly.
        """
        low = math.floor(latency)
        fraction = latency - low
        near = self.commanded_at(sequence - low - 1)
        if fraction <= 1e-9:
            return near
        far = self.commanded_at(sequence - low - 2)
        return near + (far - near) * fraction

    def moved_since(self, sequence: int, latency: float) -> bool:
        """True if frame ``sequence`` may have seen a command (any of the latency hypotheses)."""
        first = self.first_sequence
        return first is not None and sequence >= first + latency + 1


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
             bounds: tuple[float, float] | None = None) -> PeakFit | None:
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
    while low - 1 >= 0 and keep[low - 1] and v_all[low - 1] <= v_all[low] * UNIMODAL_SLACK:
        low -= 1
    high = best
    while high + 1 < len(x_all) and keep[high + 1] and v_all[high + 1] <= v_all[high] * UNIMODAL_SLACK:
        high += 1
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


def predict_peak(positions, values, count: int = 4, min_ratio: float = 1.15) -> tuple[float, float] | None:
    """Where the peak is likely to be, from the ``count`` best positions seen so far.

    A focus curve falls off roughly as 1/defocus^2 away from its peak (a Lorentzian), so 1/measure
    is close to a parabola in the lens position even far out on a flank; its vertex predicts the
    peak before the climb has reached it: (position, measure there). None without three positions,
    or if they differ by less than ``min_ratio`` (a flat stretch predicts nothing), or without an
    upward curvature. Far out on a flank the tail falls off more slowly than a Lorentzian and the
    prediction falls short of the peak.
    """
    x, v, _ = aggregate(np.asarray(positions, float), np.asarray(values, float))
    if len(x) < 3:
        return None
    top = np.sort(np.argsort(v)[-count:])
    if v[top].max() < min_ratio * max(v[top].min(), 1e-12):
        return None
    x, inverse = x[top], 1.0 / np.maximum(v[top], 1e-12)
    centre = float(x.mean())
    design = np.stack([np.ones_like(x), x - centre, (x - centre) ** 2], axis=1)
    weights = 1.0 / inverse  # relative errors are alike: weight by the measure
    try:
        coef, *_ = np.linalg.lstsq(design * weights[:, None], inverse * weights, rcond=None)
    except np.linalg.LinAlgError:
        return None
    c0, c1, c2 = (float(c) for c in coef)
    if not (math.isfinite(c1) and math.isfinite(c2)) or c2 <= 0:
        return None
    vertex = c0 - c1 * c1 / (4 * c2)
    value = 1.0 / vertex if vertex > 0 else math.inf
    return centre - c1 / (2 * c2), value


def arrival_latency(values: dict[int, float], jump_sequence: int, told: int, expected: float,
                    check_ratio: float) -> int | None:
    """The latency shown by the frames around a jump to a sharp position, or None if not yet seen.

    ``values`` maps frame sequence to measure; the jump was commanded in answer to frame
    ``jump_sequence``; ``expected`` is the measure expected at the target. The frame
    ``jump_sequence + max(told - 1, 0)`` still shows the old, blurred position under every
    hypothesis (told +- 1); the first frame after it whose log measure is past half way to
    ``expected`` is the arrival. An uninformative jump (less than ``check_ratio`` of contrast)
    returns ``told``.
    """
    before = jump_sequence + max(told - 1, 0)
    low = values.get(before)
    if low is None or low <= 0 or expected <= 0:
        return told
    if expected < low * check_ratio:
        return told
    middle = (math.log(low) + math.log(expected)) / 2
    frame = before + 1
    while frame in values:
        if math.log(max(values[frame], 1e-12)) >= middle:
            return min(max(frame - jump_sequence - 1, told - 1, 0), told + 1)
        frame += 1
    return None
