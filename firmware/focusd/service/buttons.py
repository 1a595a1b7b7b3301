"""From raw contact edges to clean presses: the edge queue and the debouncer.

A GPIO callback runs on gpiozero's thread on the Pi (inside ``drive_low()`` under the mock), so it
must only queue: it puts a :class:`~focusd.hw.base.RawEdge` on an :class:`EdgeQueue` and returns.
The camera thread drains the queue once per frame and feeds the edges to a :class:`Debouncer`.

Debouncing is done here rather than by gpiozero's ``bounce_time`` on purpose: lgpio's debounce is a
stability filter that reports an edge only after the level has held for the whole bounce time, which
would delay every shutter press by that long. This debouncer is *leading-edge*: the first edge after
a quiet period is accepted at once (instant shutter), edges inside the bounce window after it are
ignored, and when the window has passed the logical state settles to the contact's last raw level,
so a bounce that ends on a different level than it started is never lost.

The queue is bounded so that a chattering contact cannot grow memory without bound; an edge that
does not fit is counted and dropped, but the latest raw level of each input is always kept, so the
debouncer still settles to the truth. Queueing an edge and keeping its level is one step under one
lock, and so is the drain: the edges a drain returns and the levels it returns are the same moment,
and only inputs that lost edges come with a level (an edge that arrives during a drain is in the
next one, with its own time, never a bare level settled at the frame's time).
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from focusd.service.controller import ButtonEvent
from focusd.signals import ButtonId, RawEdge


class EdgeQueue:
    """A bounded, thread-safe queue of raw edges that never blocks the producer."""

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self._edges: collections.deque[RawEdge] = collections.deque()
        self._levels: dict[ButtonId, bool] = {}
        self._lossy: set[ButtonId] = set()  #: inputs with an edge dropped since the last drain
        self._lock = threading.Lock()
        self.dropped = 0
        self.accepting = True

    def put(self, edge: RawEdge) -> None:
        """Called from the GPIO callback: queue the edge, or count it as dropped."""
        if not self.accepting:
            return
        with self._lock:
            self._levels[edge.button] = edge.pressed
            if len(self._edges) < self.maxsize:
                self._edges.append(edge)
            else:
                self.dropped += 1
                self._lossy.add(edge.button)

    def drain(self) -> tuple[list[RawEdge], dict[ButtonId, bool]]:
        """All queued edges, oldest first, and the latest raw level of each input whose edges were
        dropped since the last drain (the others' levels are their last edges)."""
        with self._lock:
            edges = list(self._edges)
            self._edges.clear()
            levels = {button: self._levels[button] for button in self._lossy}
            self._lossy.clear()
        return edges, levels

    def __len__(self) -> int:
        with self._lock:
            return len(self._edges)


@dataclass
class _InputState:
    logical: bool = False  #: the debounced state
    raw: bool = False  #: the contact's last known level
    accepted_ns: int | None = None  #: time of the last accepted change


class Debouncer:
    """Leading-edge debouncer for every input (pure: time comes with the edges)."""

    def __init__(self, bounce_ns: int):
        self.bounce_ns = bounce_ns
        self._inputs: dict[ButtonId, _InputState] = {}
        self.ignored = 0  #: edges swallowed as bounce

    def _input(self, button: ButtonId) -> _InputState:
        return self._inputs.setdefault(button, _InputState())

    def _in_window(self, state: _InputState, now_ns: int) -> bool:
        return state.accepted_ns is not None and now_ns - state.accepted_ns < self.bounce_ns

    def feed(self, edges: list[RawEdge], levels: dict[ButtonId, bool] | None = None) -> list[ButtonEvent]:
        """Debounce a batch of edges; ``levels`` (from :meth:`EdgeQueue.drain`) corrects the raw
        level of inputs whose last edges were dropped."""
        events = []
        for edge in edges:
            state = self._input(edge.button)
            state.raw = edge.pressed
            if self._in_window(state, edge.time_ns):
                self.ignored += 1
                continue
            if edge.pressed != state.logical:
                state.logical = edge.pressed
                state.accepted_ns = edge.time_ns
                events.append(ButtonEvent(edge.button, edge.pressed, edge.time_ns))
        for button, level in (levels or {}).items():
            self._input(button).raw = level
        return events

    def poll(self, now_ns: int) -> list[ButtonEvent]:
        """Once the bounce window has passed, settle each input to its raw level."""
        events = []
        for button, state in self._inputs.items():
            if state.raw != state.logical and not self._in_window(state, now_ns):
                state.logical = state.raw
                state.accepted_ns = now_ns
                events.append(ButtonEvent(button, state.raw, now_ns))
        return events

    def pressed(self, button: ButtonId) -> bool:
        return self._input(button).logical
