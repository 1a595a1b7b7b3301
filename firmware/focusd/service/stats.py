"""The camera thread's own counters: written by that thread alone, read by the demo's summary and
by the tests (``Daemon.wait_until``). Everything a front end shows comes from the event stream
(``focusd.service.events``) instead, which is thread-safe."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class DaemonStats:
    """The camera thread's counters (written by it alone), for the demo's summary and the tests.
    Everything a front end shows comes from the event stream instead."""

    frames: int = 0
    presses: int = 0  #: shutter and remote presses that asked for a capture (each has a press id)
    captures_requested: int = 0
    captures_written: int = 0
    captures_failed: int = 0
    af_locks: int = 0
    af_failures: int = 0
    lens_commands: int = 0
    camera_faults: int = 0
    reloads: int = 0
    af_state: str = "IDLE"
    lens_position: float = math.nan
    last_error: str | None = None

    def lens_text(self) -> str:
        """The last lens command, "-" before the first."""
        return "-" if math.isnan(self.lens_position) else f"{self.lens_position:.2f}D"


class StatsWatch:
    """Waiting, on any thread, for the camera thread's counters to reach a state: the camera thread
    calls :meth:`changed` after each frame and capture, and :meth:`finished` when it stops."""

    def __init__(self, stats: DaemonStats) -> None:
        self.stats = stats
        self.stopped = threading.Event()  #: the camera thread returned from run()
        self._changed = threading.Condition()

    def wait_until(self, predicate: Callable[[DaemonStats], bool], timeout: float) -> bool:
        """Block until ``predicate(stats)`` holds; False after ``timeout`` seconds, or once
        stopped if it does not hold then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.stats):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopped.is_set():
                    return predicate(self.stats)
                self._changed.wait(remaining)
            return True

    def changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def finished(self) -> None:
        self.stopped.set()
        self.changed()
