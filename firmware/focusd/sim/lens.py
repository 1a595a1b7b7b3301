"""The voice-coil lens: when a command takes effect, and how the lens gets there.

Why this module exists: an AF engine that assumes the lens is where it was told is wrong on a Pi.
Two effects are modelled here. *Latency* (DESIGN.md, "The autofocus engine"): a position
commanded after frame n was delivered is first seen in frame n + latency + 1, frames
n+1 .. n+latency still show the old position. The rig turns that into a time: the lens starts
moving when frame n+latency's exposure ends (its readout), so frame n+latency is untouched and
frame n+latency+1's exposure starts at or after the move began. *Settling*: the VCM then follows
a slew-limited first-order response (time constant ``settle_tau_s``, speed at most
``slew_dioptres_per_s``), so a frame whose exposure overlaps the move sees a time-weighted blend
of positions. VCM ringing is not modelled (the DW9817's ramp modes damp it); nor is the
position's drift with temperature and orientation. Both time constants are *assumptions*:
measure them on a device (``focusd measure-latency``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LensModel:
    """VCM dynamics. Units in the names."""

    settle_tau_s: float = 0.004  #: first-order settling time constant (a few ms for a VCM)
    slew_dioptres_per_s: float = 1500.0  #: top speed: the full 15 D range in ~10 ms
    blend_samples: int = 4  #: sub-exposure positions blended for a frame exposed during a move
    settled_dioptres: float = 1e-4  #: closer than this to the target counts as settled
    #: when the move starts, in frames after the readout the latency contract names (0: at that
    #: readout). On a device it depends on when the driver writes the VCM relative to the frame
    #: and on the rolling shutter (the AF window's rows are exposed later than the first row):
    #: a fraction of a frame, to be measured. The bench runs 0 and 0.5.
    move_delay_frames: float = 0.0


class VcmLens:
    """The lens's true position over (virtual) time, built from commands with their start times."""

    def __init__(self, start: float, model: LensModel = LensModel()):
        self.model = model
        # segments: (start time s, position at start, target); the first one is at rest
        self._segments: list[tuple[float, float, float]] = [(-math.inf, start, start)]

    @property
    def target(self) -> float:
        return self._segments[-1][2]

    def command(self, start_s: float, target: float) -> None:
        """The lens starts towards ``target`` at ``start_s`` (times must not go backwards; a second
        command with the same start time replaces the first)."""
        last_start, last_x, _ = self._segments[-1]
        if start_s <= last_start:
            if start_s < last_start:
                raise ValueError("lens commands must not go back in time")
            self._segments[-1] = (last_start, last_x, target)
            return
        self._segments.append((start_s, self.position(start_s), target))

    def _segment_position(self, segment: tuple[float, float, float], t: float) -> float:
        start_s, x0, target = segment
        distance = target - x0
        if start_s == -math.inf or distance == 0.0:
            return target
        dt = t - start_s
        tau, slew = self.model.settle_tau_s, self.model.slew_dioptres_per_s
        sign = 1.0 if distance > 0 else -1.0
        linear_reach = slew * tau  # below this distance the first-order response is slower than slew
        if abs(distance) > linear_reach:
            t_linear = (abs(distance) - linear_reach) / slew
            if dt < t_linear:
                return x0 + sign * slew * dt
            return target - sign * linear_reach * math.exp(-(dt - t_linear) / tau)
        return target - distance * math.exp(-dt / tau)

    def position(self, t: float) -> float:
        """The true position at time ``t`` (seconds, virtual clock)."""
        for segment in reversed(self._segments):
            if segment[0] <= t:
                return self._segment_position(segment, t)
        return self._segments[0][1]

    def exposure(self, start_s: float, end_s: float) -> tuple[list[tuple[float, float]], float]:
        """Positions and weights to blend for an exposure over [start_s, end_s], and the true mean
        position over it. A lens at rest gives one position with weight 1."""
        a, b = self.position(start_s), self.position(end_s)
        moving = any(start_s < s[0] < end_s for s in self._segments)
        moving = moving or abs(a - b) > self.model.settled_dioptres
        moving = moving or abs(self._target_at(start_s) - a) > self.model.settled_dioptres
        if not moving:
            return [(a, 1.0)], a
        n = self.model.blend_samples
        duration = end_s - start_s
        samples = [(self.position(start_s + (i + 0.5) * duration / n), 1.0 / n) for i in range(n)]
        fine = 16
        mean = sum(self.position(start_s + (i + 0.5) * duration / fine) for i in range(fine)) / fine
        return samples, mean

    def _target_at(self, t: float) -> float:
        for segment in reversed(self._segments):
            if segment[0] <= t:
                return segment[2]
        return self._segments[0][2]

    def forget_before(self, t: float) -> None:
        """Drop segments that ended before ``t`` (keeps the list short)."""
        keep = len(self._segments) - 1
        while keep > 0 and self._segments[keep][0] > t:
            keep -= 1
        if keep > 0:
            self._segments = self._segments[keep:]
