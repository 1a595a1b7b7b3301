"""The AF-assist lamp's decisions: when the lamp on ``pins.af_assist`` is lit, and how long a
capture waits so that its frame is not lit by it.

Why this is its own collaborator: the rules need the lamp's switching history on the camera clock
(was it on during a given frame's exposure?), which neither the pure controller nor the engine
has; the daemon feeds it each frame and carries out what it returns (the GPIO write, the event).

The rules (docs/design.md, "AF-assist lamp"):

- Lit by a scan: the engine is SCANNING while a focus input is held, and the AF window's mean Y,
  measured on a frame exposed wholly with the lamp off, is below ``af_assist.threshold``. Once lit
  it stays lit until the scan ends (single AF: FOCUSED/FAILED) or the input is released
  (continuous AF, whose lock watches the brightness: the lamp going off would look like a new
  scene). It is never re-judged on frames it lights itself, which would flicker it. Once its light is in (the first
  frame exposed wholly under it, and SETTLE_FRAMES more for the auto exposure), the scan starts
  again (``Rescan``): the engine's noise and measures so far were taken in the dark.
- Never lit during a capture's exposure (unless ``af_assist.during_capture``): a capture turns the
  lamp off at once (the GPIO write takes microseconds) and waits for the first frame exposed wholly
  after that. A frame's ``timestamp_ns`` is the start of its exposure, but a rolling shutter starts
  its rows over the readout, up to one frame duration before the last row: so the capture's moment
  becomes at least ``off + frame_duration``. It costs one to two frames of shutter lag, only when
  the lamp was lit. The lamp then stays off until the focus input is released (a burst is not lit
  between its frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from focusd.config.schema import AfAssistConfig
from focusd.service import events as ev

#: frames after the first frame exposed wholly under the lamp before the scan starts again: the
#: auto exposure follows the new light over a few frames (libcamera's AGC, the simulator's ae_speed)
SETTLE_FRAMES = 4
#: lamp-on spans kept for ``lit_during`` (captures look back at most 500 ms: plenty)
KEPT_SPANS = 64


@dataclass(frozen=True)
class Rescan:
    """An outcome: the lamp's light is in and the exposure has followed it; start the scan again
    (its noise and its measures so far were taken in the dark, at another brightness)."""

    time_ns: int


@dataclass(frozen=True)
class LampChange:
    """An outcome: switch the lamp to ``lit`` now; ``level`` is the window's mean Y that decided it."""

    lit: bool
    level: float | None
    time_ns: int


def window_level(y: np.ndarray, window: tuple[float, float, float, float]) -> float:
    """Mean Y (0-255) of the AF window (fractions x, y, w, h of the lores frame)."""
    h, w = y.shape[:2]
    x0, y0, ww, wh = window
    cols = slice(int(x0 * w), max(int((x0 + ww) * w), int(x0 * w) + 1))
    rows = slice(int(y0 * h), max(int((y0 + wh) * h), int(y0 * h) + 1))
    return float(np.mean(y[rows, cols]))


class AssistLampRules:
    """The lamp's state and history on the camera clock (see the module docstring)."""

    def __init__(self, config: AfAssistConfig, frame_duration_ns: int):
        self.config = config
        self.frame_duration_ns = int(frame_duration_ns)
        self.lit = False
        self.level: float | None = None  #: the last window level judged
        self._off_ns: float = -float("inf")  # when the lamp last went off
        self._spans: list[list[float]] = []  # [on_ns, off_ns (inf while lit)]
        self._held_off = False  # a capture came during this scan: off until it ends
        self._rescan_at_ns: float | None = None  # lit: the first frame timestamp that rescans

    def frame(self, y: np.ndarray, timestamp_ns: int, *, held: bool, scanning: bool, continuous: bool,
              window: tuple[float, float, float, float], now_ns: int) -> LampChange | Rescan | None:
        """After the engine has seen the frame. ``held``: a focus input is held (the engine runs);
        ``scanning``: the engine is SCANNING; ``continuous``: continuous AF, which keeps a lit lamp
        on while the input is held (its lock watches the scene's brightness: the lamp going off
        would look like a new scene and start a scan in the dark)."""
        if not held:
            self._held_off = False
            return self._switch(False, None, now_ns)
        if self.lit:
            if not (scanning or continuous):
                return self._switch(False, None, now_ns)  # single AF: the scan ended
            if self._rescan_at_ns is not None and timestamp_ns >= self._rescan_at_ns:
                self._rescan_at_ns = None
                return Rescan(now_ns)
            return None
        if self._held_off or not scanning or timestamp_ns - self.frame_duration_ns < self._off_ns:
            return None  # held off, not scanning, or a frame the lamp lit in part: not a measure of the dark
        self.level = window_level(y, window)
        if self.level < self.config.threshold:
            return self._switch(True, self.level, now_ns)
        return None

    def capture(self, due_ns: int, now_ns: int) -> tuple[int, LampChange | None]:
        """A capture was queued: its new moment (the first frame exposed wholly with the lamp off)
        and the switch that turns the lamp off, if any. Unchanged with ``during_capture``."""
        if self.config.during_capture:
            return due_ns, None
        self._held_off = True
        change = self._switch(False, self.level, now_ns)
        return int(max(due_ns, self._off_ns + self.frame_duration_ns)), change

    def lit_during(self, timestamp_ns: int, exposure_time_us: float) -> bool:
        """Whether the lamp was on while a frame was exposed: from a frame duration before its
        timestamp (its first rows, rolling shutter) to the end of its exposure."""
        start = timestamp_ns - self.frame_duration_ns
        end = timestamp_ns + exposure_time_us * 1e3
        return any(on < end and off > start for on, off in self._spans)

    def _switch(self, lit: bool, level: float | None, now_ns: int) -> LampChange | None:
        if lit == self.lit:
            return None
        self.lit = lit
        if lit:
            self._spans = [*self._spans[-KEPT_SPANS:], [now_ns, float("inf")]]
            self._rescan_at_ns = now_ns + (1 + SETTLE_FRAMES) * self.frame_duration_ns
        else:
            self._rescan_at_ns = None
            self._spans[-1][1] = now_ns
            self._off_ns = now_ns
        return LampChange(lit, level, now_ns)


class AssistLamp:
    """The rules and the lamp's output together, on the camera thread: :meth:`carry_out` does a
    LampChange (the GPIO write and its event) and hands a Rescan back (the engine is the daemon's)."""

    def __init__(self, rules: AssistLampRules, output, events: ev.EventStream):
        self.rules = rules
        self.output = output  #: focusd.hw.assist_lamp: set(lit), close()
        self._events = events

    def carry_out(self, outcome: LampChange | Rescan | None) -> Rescan | None:
        if isinstance(outcome, LampChange):
            self.output.set(outcome.lit)
            self._events.publish(ev.AssistLampChanged(outcome.lit, outcome.level, outcome.time_ns))
            return None
        return outcome

    def close(self) -> None:
        self.output.close()
