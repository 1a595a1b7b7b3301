"""Baseline autofocus algorithms that focusd's engine is benchmarked against.

The benchmark reports focusd's speed as ratios against baselines measured on the very same simulated
frames, so every baseline here has the engine's interface (docs/design.md, "The autofocus engine")
and is, like the engine, pure and frame-driven (no clock, no threads, no hardware):

    algorithm.start(mode, lens_position)
    target = algorithm.update(frame)        # a lens position (D) to command now, or None
    algorithm.state                         # AfState
    algorithm.stop()

- ``StockCdaf(speed="normal" | "fast")``: the stock Raspberry Pi contrast AF (``focusd.bench.stock``).
- ``ExhaustiveSweep``: samples the whole range in fine steps, then goes to the fitted peak. It is
  slow on purpose: it is the accuracy ceiling that a fast search is judged against.
- ``GoldenSection``: the textbook golden-section search for a unimodal maximum over the range,
  waiting out the lens latency at every probe.

The bench compares single AF (press, focus, lock); ``AfMode.CONTINUOUS`` is accepted by every
baseline and runs the same single search.

Both sweep and golden-section use the engine's focus measure (``focusd.af.measure``) on the stock
AF window, so their differences from the engine are differences of search, not of measure.

Latency-aware attribution: a position commanded by ``update(frame n)`` is first seen in frame n +
latency + 1 (docs/design.md, "The latency contract"), and that first frame may be a blend if the
lens was still moving. Golden-section reads frame n + latency + 2 (one frame of margin); the sweep,
being the accuracy ceiling, reads frame n + latency + 3, which is clean even when the true latency
is one frame more than it was told, and still shows the position when it is one frame less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from focusd.af.measure import FocusMeasure
from focusd.af.tuning import STOCK_WINDOW
from focusd.af.types import AfMode, AfState, Frame

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...


@dataclass(frozen=True)
class SearchTuning:
    """Tuning shared by the sweep and golden-section baselines."""

    window: tuple[float, float, float, float] = STOCK_WINDOW  #: (x, y, w, h) fractions of the frame
    sweep_step: float = 0.25  #: D between sweep samples
    sweep_hold_frames: int = 3  #: sweep reads frame n + latency + this (3: clean at latency +-1)
    probe_hold_frames: int = 2  #: golden-section reads frame n + latency + this
    tolerance: float = 0.1  #: D: golden-section stops when the bracket is narrower than this
    min_peak_ratio: float = 1.25  #: FAILED unless the best measure >= this x the lowest one


def gaussian_peak(positions: list[float], values: list[float], half_width: int = 2) -> float:
    """The sweep's peak of sampled focus values: a parabola through log(value) (a Gaussian) on the
    best sample and up to ``half_width`` neighbours each side, clamped to the neighbouring samples
    (not the engine's ``focusd.af.fit.fit_peak``, a Lorentzian fit)."""
    order = np.argsort(positions)
    xs = np.asarray(positions, dtype=float)[order]
    ys = np.asarray(values, dtype=float)[order]
    best = int(np.argmax(ys))
    lo, hi = max(0, best - half_width), min(len(xs), best + half_width + 1)
    if hi - lo < 3:
        return float(xs[best])
    logs = np.log(np.maximum(ys[lo:hi], 1e-12))
    a, b, _ = np.polyfit(xs[lo:hi], logs, 2)
    if a >= 0:
        return float(xs[best])
    vertex = -b / (2.0 * a)
    left = xs[max(0, best - 1)]
    right = xs[min(len(xs) - 1, best + 1)]
    return float(min(max(vertex, left), right))


class _ProbingBaseline:
    """Shared machinery: command a position, read the measure latency + 2 frames later, finish by
    moving to the result and declaring the state once the lens is seen there."""

    def __init__(self, lens_range=(0.0, 12.0), latency_frames: int = 2, tuning: SearchTuning | None = None):
        self.tuning = tuning or SearchTuning()
        self.window = self.tuning.window
        self.lens_range = (float(lens_range[0]), float(lens_range[1]))
        self.latency_frames = int(latency_frames)
        self._measure = FocusMeasure(self.window)
        self._state = AfState.IDLE
        self._active = False

    @property
    def state(self) -> AfState:
        return self._state

    def stop(self) -> None:
        self._active = False
        self._state = AfState.IDLE

    def start(self, mode: AfMode, lens_position: float) -> None:
        self._state = AfState.SCANNING
        self._active = True
        self._frame = 0
        self._samples: list[tuple[float, float]] = []  # (position, measure)
        self._pending: tuple[int, float] | None = None  # (frame to read, position)
        self._finish_at: int | None = None
        self._finish_state = AfState.FOCUSED
        self._begin()

    def update(self, frame: Frame) -> float | None:
        if not self._active:
            return None
        self._frame += 1
        if self._finish_at is not None:
            if self._frame >= self._finish_at:
                self._state = self._finish_state
                self._active = False
            return None
        if self._pending is None:
            return self._command(self._next_position())
        due, position = self._pending
        if self._frame < due:
            return None
        self._samples.append((position, self._measure(frame.y).focus))
        self._pending = None
        return self._command(self._next_position())

    def _command(self, position: float | None) -> float | None:
        if position is None:  # the search is over
            return self._finish()
        position = min(max(position, self.lens_range[0]), self.lens_range[1])
        self._pending = (self._frame + self.latency_frames + self._hold(), position)
        return position

    def _finish(self) -> float | None:
        values = [v for _, v in self._samples]
        if not values or max(values) < self.tuning.min_peak_ratio * max(min(values), 1e-12):
            # flat curve: nothing to focus on; the lens stays where the search left it
            self._finish_state = AfState.FAILED
            self._finish_at = self._frame
            self._state = AfState.FAILED
            self._active = False
            return None
        self._finish_state = AfState.FOCUSED
        self._finish_at = self._frame + self.latency_frames + 1
        return min(max(self._result(), self.lens_range[0]), self.lens_range[1])

    # subclasses
    def _hold(self) -> int:
        return self.tuning.probe_hold_frames

    def _begin(self) -> None:
        raise NotImplementedError

    def _next_position(self) -> float | None:
        raise NotImplementedError

    def _result(self) -> float:
        raise NotImplementedError


class ExhaustiveSweep(_ProbingBaseline):
    """Every ``sweep_step`` D from infinity to the near end, then the fitted peak: the ceiling."""

    def _begin(self) -> None:
        lo, hi = self.lens_range
        count = int(math.floor((hi - lo) / self.tuning.sweep_step + 1e-9)) + 1
        self._positions = [lo + i * self.tuning.sweep_step for i in range(count)]
        if self._positions[-1] < hi - 1e-9:
            self._positions.append(hi)
        self._index = 0

    def _hold(self) -> int:
        return self.tuning.sweep_hold_frames

    def _next_position(self) -> float | None:
        if self._index >= len(self._positions):
            return None
        position = self._positions[self._index]
        self._index += 1
        return position

    def _result(self) -> float:
        positions = [p for p, _ in self._samples]
        values = [v for _, v in self._samples]
        return gaussian_peak(positions, values)


class GoldenSection(_ProbingBaseline):
    """Golden-section search for the maximum over the whole range (assumes a unimodal curve)."""

    def _begin(self) -> None:
        lo, hi = self.lens_range
        self._lo, self._hi = lo, hi
        self._c = hi - GOLDEN * (hi - lo)
        self._d = lo + GOLDEN * (hi - lo)
        self._values: dict[str, float] = {}
        self._asking: str | None = None

    def _next_position(self) -> float | None:
        if self._asking is not None and self._samples:
            self._values[self._asking] = self._samples[-1][1]
            self._asking = None
        for name in ("c", "d"):
            if name not in self._values:
                self._asking = name
                return self._c if name == "c" else self._d
        # both probes known: shrink the bracket, keep the surviving probe's value
        if self._values["c"] >= self._values["d"]:
            self._hi, self._d = self._d, self._c
            self._values = {"d": self._values["c"]}
            self._c = self._hi - GOLDEN * (self._hi - self._lo)
        else:
            self._lo, self._c = self._c, self._d
            self._values = {"c": self._values["d"]}
            self._d = self._lo + GOLDEN * (self._hi - self._lo)
        if self._hi - self._lo < self.tuning.tolerance:
            return None
        return self._next_position()

    def _result(self) -> float:
        return 0.5 * (self._lo + self._hi)
