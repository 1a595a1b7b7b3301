"""The simulated lens: when a command moves the glass, and what a frame exposed meanwhile sees.

Why this module exists: an AF engine that assumes the lens is where it was told is wrong on a Pi.
Three effects are modelled (docs/lens-path.md has the sources):

1. *Latency* (docs/design.md, "The latency contract"): a position set after frame n was delivered goes
   out with the request of frame n + latency; the IPA applies it when that frame has been read out,
   so frame n + latency + 1 is the first that can see it.
2. *The IPA's slew* (``focusd.lens_path.IpaLens``, from libcamera's af.cpp): each write moves the
   IPA's lens state at most ``max_slew`` D, and each run of its controller (at most 30 Hz) another
   ``max_slew``; the glass follows that state, and a frame's metadata reports it.
3. *The mix*: when, after that readout, the glass really moves is something focusd cannot know
   (when the driver's write lands, the rolling shutter's rows, the exposure time). It is
   ``move_phase`` frames after the readout (0-1; the bench draws it at random per trial, so no
   engine can learn it). With a rolling shutter (rows read out over ``readout_fraction`` of the
   frame), the rows of the next frame exposed wholly before the move see the old position, those
   exposed after it the new one, and rows whose exposure spans it a time-weighted mix; a late move
   in a long exposure spills into the frame after. A voice-coil lens settles in a few ms, small
   beside the frame and the phase's spread, so the move is a step at that moment.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LensModel:
    """How the simulated lens moves. Units in the names."""

    #: frames after the readout of the frame whose request carried a lens write at which the glass
    #: moves (0-1): the unknown mix; the bench draws it per trial
    move_phase: float = 0.0
    #: rolling shutter: time to read all rows out, as a fraction of the frame duration (the rest
    #: is vertical blanking). *Assumption*: close to 1 in a sensor's fastest modes
    readout_fraction: float = 0.9
    #: False: the named bench condition "instant" (every write lands whole, no IPA slew, the glass
    #: moves right at the readout): the lens focusd's simulator had before the IPA was modelled
    slew_limited: bool = True

    def __post_init__(self) -> None:
        if not (0.0 <= self.move_phase <= 1.0 and 0.0 < self.readout_fraction <= 1.0):
            raise ValueError(f"move_phase must be 0-1 and readout_fraction in (0, 1], got {self}")


class LensTimeline:
    """The glass's true position over (virtual) time: a start and steps (time s, position)."""

    def __init__(self, start: float):
        self._times: list[float] = [-math.inf]
        self._positions: list[float] = [float(start)]

    @property
    def last(self) -> float:
        return self._positions[-1]

    def step(self, time_s: float, position: float) -> None:
        """The glass is at ``position`` from ``time_s`` on (times must not go backwards)."""
        if time_s < self._times[-1]:
            raise ValueError("lens moves must not go back in time")
        if time_s == self._times[-1]:
            self._positions[-1] = float(position)
        elif float(position) != self._positions[-1]:
            self._times.append(float(time_s))
            self._positions.append(float(position))

    def position(self, t: float) -> float:
        return self._positions[bisect.bisect_right(self._times, t) - 1]

    def segments(self, start_s: float, end_s: float) -> list[tuple[float, float, float]]:
        """The constant stretches (from, to, position) covering [start_s, end_s]."""
        first = max(bisect.bisect_right(self._times, start_s) - 1, 0)
        out = []
        for index in range(first, len(self._times)):
            begin = max(self._times[index], start_s)
            if begin >= end_s and out:
                break
            end = self._times[index + 1] if index + 1 < len(self._times) else math.inf
            out.append((begin, min(end, end_s), self._positions[index]))
        return out

    def forget_before(self, t: float) -> None:
        """Drop steps that were superseded before ``t`` (keeps the lists short)."""
        keep = bisect.bisect_right(self._times, t) - 1
        if keep > 0:
            self._times = [-math.inf, *self._times[keep + 1:]]
            self._positions = self._positions[keep:]
