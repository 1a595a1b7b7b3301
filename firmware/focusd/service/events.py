"""The event stream: what happens in the daemon, for whoever wants to know.

The camera thread publishes one event per thing that happened (an AF state change, a lens command,
a capture queued, written or failed, an LED pattern, an error, frame statistics); a front end
subscribes instead of reaching into the daemon. The LED, the systemd STATUS line, the demo's
status line, the journal and (later) a web page are all subscribers.

Publishing never blocks and never waits for a subscriber: each subscription is a bounded queue of
its own, and a subscriber that falls behind loses its oldest events (counted in ``dropped``), so a
slow reader can never slow the frame path. Events are frozen dataclasses, safe to hand across
threads. A :class:`Listener` is a subscription with a thread of its own that calls a handler for
each event (mopidy's listener pattern: the publisher does not know who listens).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Callable

from focusd.signals import ButtonId, LedPattern

log = logging.getLogger("focusd.events")

#: events a subscription holds before its oldest are dropped
DEFAULT_DEPTH = 256

# ----------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class FocusChanged:
    """The AF state changed (``state`` is an ``AfState`` name); ``reason`` says why it FAILED."""

    state: str
    time_ns: int
    lens_position: float = math.nan  #: the metadata's LensPosition of the frame that changed it
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LensCommanded:
    """The engine sent the lens a target; ``reported`` is the LensPosition of the frame it came
    from (the IPA's slewed state, docs/lens-path.md), not where the lens was during its exposure."""

    target: float
    reported: float
    sequence: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class InputChanged:
    """A debounced press or release of an input, from a GPIO button or the command inlet."""

    button: ButtonId
    pressed: bool
    time_ns: int


@dataclass(frozen=True, slots=True)
class CaptureQueued:
    """A press (or a burst frame) asked for a capture; it waits for its frame."""

    press_id: int
    reason: str
    burst_index: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class CaptureWritten:
    press_id: int
    path: str
    time_ns: int
    raw_path: str | None = None  #: the DNG written beside the image (capture.raw), None if none


@dataclass(frozen=True, slots=True)
class CaptureFailed:
    press_id: int
    error: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class LedChanged:
    pattern: LedPattern
    time_ns: int


@dataclass(frozen=True, slots=True)
class ErrorReported:
    """Something went wrong that the daemon survived (camera fault, refused reload, ...)."""

    message: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class AssistLampChanged:
    """The AF-assist lamp went on or off (focusd.service.assist); ``level``: the AF window's mean Y
    that decided it (None: not judged, e.g. the scan ended)."""

    lit: bool
    level: float | None
    time_ns: int


@dataclass(frozen=True, slots=True)
class FocusStored:
    """Focus recall stored a lens position (``ok``), or could not write it (``problem``; the
    position stored before, if any, stays)."""

    position: float
    ok: bool
    time_ns: int
    problem: str = ""


@dataclass(frozen=True, slots=True)
class FocusRecall:
    """A move back to the stored position: ``outcome`` "moving" (sent), "arrived" (the recalled
    lock: a frame exposed wholly there), "nothing stored" or "did not arrive"."""

    outcome: str
    target: float | None
    time_ns: int


@dataclass(frozen=True, slots=True)
class TrapArmed:
    """Trap focus (focusd.service.trap): press ``press_id`` armed a trap at ``plane`` D (the lens
    position it watches: the last command, else the frame's LensPosition)."""

    press_id: int
    plane: float
    time_ns: int


@dataclass(frozen=True, slots=True)
class TrapFired:
    """The trap of press ``press_id`` fired: frame ``peak_sequence`` (exposed at ``peak_time_ns``)
    was the sharpest of the pass, ``rise`` times the sharpness when armed; it is the capture."""

    press_id: int
    plane: float
    peak_sequence: int
    peak_time_ns: int
    rise: float
    time_ns: int


@dataclass(frozen=True, slots=True)
class TrapDisarmed:
    """The trap of press ``press_id`` was disarmed before it fired: ``reason`` "released" (the
    shutter let go) or "AF-ON" (focus taken back). A trap that fired is disarmed by its fire."""

    press_id: int
    reason: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class FrameStatistics:
    """Every ``FRAME_STATISTICS_EVERY`` frames: the frames so far, the rate over the last ones and
    the frames the camera dropped (gaps in the sequence numbers)."""

    frames: int
    fps: float
    dropped: int
    lens_position: float
    time_ns: int


@dataclass(frozen=True, slots=True)
class BracketStarted:
    """A focus-bracketing series was planned (focusd.service.bracket_series): its planes in
    shooting order (dioptres), from ``start`` (the lock) towards ``direction``."""

    number: int  #: the series' number in this run
    planes: tuple[float, ...]
    start: float
    direction: str  #: "infinity" | "near"
    depth_of_field: float  #: dioptres, at [bracket] coc_px
    step: float  #: dioptres between planes
    clipped: bool  #: the lens range cut the plan short
    time_ns: int


@dataclass(frozen=True, slots=True)
class BracketShot:
    """A series' shot was asked of the frame exposed wholly at its plane (its capture follows:
    CaptureQueued, then CaptureWritten with the file in the series' folder)."""

    number: int
    index: int  #: 1-based, in shooting order
    plane: float  #: dioptres
    sequence: int  #: the frame's
    lens_exposed: float  #: the estimate of the lens during its exposure (focusd.lens_estimate)
    frames: int  #: frames this plane took
    time_ns: int


@dataclass(frozen=True, slots=True)
class BracketFinished:
    """The series ended: ``reason`` "done" | "clipped" | "stopped" | "fault"; the exposure is released."""

    number: int
    reason: str
    shots: int
    planned: int
    detail: str  #: what stopped it ("shutter pressed", "daemon stopping", the fault); "" when done
    time_ns: int


Event = (FocusChanged | LensCommanded | InputChanged | CaptureQueued | CaptureWritten | CaptureFailed
         | LedChanged | ErrorReported | FrameStatistics | AssistLampChanged | FocusStored | FocusRecall
         | TrapArmed | TrapFired | TrapDisarmed | BracketStarted | BracketShot | BracketFinished)

# ------------------------------------------------------------------------------------ the stream


class Subscription:
    """One subscriber's bounded queue. ``get`` blocks (with a timeout); ``drain`` takes all."""

    def __init__(self, stream: "EventStream", name: str, depth: int):
        self.name = name
        self.offered = 0  #: events published to it (handled, queued or dropped)
        self.dropped = 0
        self._stream = stream
        self._events: collections.deque = collections.deque()
        self._depth = depth
        self._ready = threading.Condition()
        self.closed = False

    def _offer(self, event: Event) -> None:
        with self._ready:
            self.offered += 1
            if len(self._events) >= self._depth:
                self._events.popleft()  # the oldest goes: what is current matters most to a reader
                self.dropped += 1
            self._events.append(event)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (or once closed and empty)."""
        with self._ready:
            if not self._events and not self.closed:
                self._ready.wait(timeout)
            return self._events.popleft() if self._events else None

    def drain(self) -> list[Event]:
        with self._ready:
            events, self._events = list(self._events), collections.deque()
            return events

    def close(self) -> None:
        """No more events reach it; a waiting ``get`` returns."""
        self._stream._remove(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()


class EventStream:
    """Publish from any thread; each subscription gets every event published after it subscribed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    def subscribe(self, name: str, depth: int = DEFAULT_DEPTH) -> Subscription:
        if depth < 1:
            raise ValueError(f"subscription depth must be at least 1, not {depth}")
        subscription = Subscription(self, name, depth)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def listen(self, name: str, handler: Callable[[Event], None], depth: int = DEFAULT_DEPTH) -> "Listener":
        """A started :class:`Listener` calling ``handler`` for each event on its own thread."""
        listener = Listener(self.subscribe(name, depth), handler)
        listener.start()
        return listener

    def publish(self, event: Event) -> None:
        for subscription in self._subscriptions:  # a tuple, replaced whole: no lock needed to read
            subscription._offer(event)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)


class Listener:
    """A subscription and a thread that calls ``handler(event)`` for each of its events, in order.

    A handler that raises is logged and the listener goes on. :meth:`wait_idle` lets a caller
    (a test, a shutdown) wait until every event published so far has been handled.
    """

    def __init__(self, subscription: Subscription, handler: Callable[[Event], None]):
        self.subscription = subscription
        self._handler = handler
        self._thread = threading.Thread(target=self._run, name=f"focusd-{subscription.name}", daemon=True)
        self._idle = threading.Condition()
        self._handled = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            event = self.subscription.get(timeout=None)
            if event is None:
                if self.subscription.closed:
                    return
                continue
            try:
                self._handler(event)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not end its thread silently
                log.exception("event listener %s failed on %r", self.subscription.name, event)
            with self._idle:
                self._handled += 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once every event offered to this listener so far is handled (or was dropped)."""
        target = self.subscription.offered
        with self._idle:
            return self._idle.wait_for(lambda: self._handled + self.subscription.dropped >= target, timeout)

    def close(self, timeout: float = 2.0) -> None:
        self.subscription.close()
        self._thread.join(timeout)


# ------------------------------------------------------------------------- the status, from events


@dataclass
class StatusBoard:
    """The daemon's status as its events tell it: what the status lines show (systemd's STATUS=,
    the demo's line). Fed by one listener, read by others: ``line()`` takes a consistent copy."""

    af_state: str = "IDLE"
    lens_position: float = math.nan  #: the last lens target
    frames: int = 0
    dropped: int = 0
    fps: float = 0.0
    captures_written: int = 0
    captures_failed: int = 0
    led: LedPattern = LedPattern.OFF
    held: set[ButtonId] = field(default_factory=set)
    last_error: str | None = None
    trap: str | None = None  #: trap focus: "armed", "fired", "off"; None (not shown) until first armed
    bracket: tuple[int, int] | None = None  #: (shots, planes) of the series running, None: none
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, event: Event) -> None:
        with self._lock:
            match event:
                case FocusChanged(state=state):
                    self.af_state = state
                case LensCommanded(target=target):
                    self.lens_position = target
                case InputChanged(button=button, pressed=pressed):
                    (self.held.add if pressed else self.held.discard)(button)
                case CaptureWritten():
                    self.captures_written += 1
                case CaptureFailed(error=error):
                    self.captures_failed += 1
                    self.last_error = error
                case LedChanged(pattern=pattern):
                    self.led = pattern
                case ErrorReported(message=message):
                    self.last_error = message
                case FrameStatistics(frames=frames, fps=fps, dropped=dropped):
                    self.frames, self.fps, self.dropped = frames, fps, dropped
                case TrapArmed() | TrapFired() | TrapDisarmed():
                    self.trap = {TrapArmed: "armed", TrapFired: "fired", TrapDisarmed: "off"}[type(event)]
                case BracketStarted(planes=planes):
                    self.bracket = (0, len(planes))
                case BracketShot(index=index) if self.bracket is not None:
                    self.bracket = (index, self.bracket[1])
                case BracketFinished():
                    self.bracket = None

    def line(self) -> str:
        with self._lock:
            lens = "-" if math.isnan(self.lens_position) else f"{self.lens_position:.2f}D"
            held = "+".join(sorted(b.value for b in self.held)) or "-"
            series = "" if self.bracket is None else f" bracket={self.bracket[0]}/{self.bracket[1]}"
            return (f"af={self.af_state} lens={lens} led={self.led.value} held={held} frames={self.frames} "
                    f"fps={self.fps:.0f} captures={self.captures_written} failed={self.captures_failed}{series}"
                    + (f" trap={self.trap}" if self.trap else ""))


class FrameCounter:
    """Frames the camera dropped (gaps in the sequence numbers) and the frame rate, as a
    :class:`FrameStatistics` every ``every`` frames."""

    def __init__(self, every: int):
        self.every = every
        self.dropped = 0
        self._last_sequence: int | None = None
        self._mark: tuple[int, int] | None = None  # (frames, timestamp) at the last statistics

    def restarted(self) -> None:
        """The camera was restarted: its sequence numbers start anew (no gap to count)."""
        self._last_sequence = None

    def count(self, frame, frames: int) -> FrameStatistics | None:
        """``frame`` is the ``frames``-th; the statistics when they are due."""
        if self._last_sequence is not None and frame.sequence > self._last_sequence + 1:
            self.dropped += frame.sequence - self._last_sequence - 1
        self._last_sequence = frame.sequence
        if self._mark is None:
            self._mark = (frames, frame.timestamp_ns)
        if frames % self.every:
            return None
        marked_frames, marked_ns = self._mark
        elapsed_s = (frame.timestamp_ns - marked_ns) / 1e9
        fps = (frames - marked_frames) / elapsed_s if elapsed_s > 0 else 0.0
        self._mark = (frames, frame.timestamp_ns)
        return FrameStatistics(frames, fps, self.dropped, float(frame.lens_position), frame.timestamp_ns)
