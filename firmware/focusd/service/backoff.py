"""When to reopen a camera that failed: a backoff that spans faults, and the starter that uses it.

Why apart from focusd.service.daemon: the policy is a few numbers and a rule, and the daemon's camera
thread only asks it two questions (how long to wait now; a fault happened after so many frames).
Kept on its own, the rule is plain to read and the daemon stays about its loop.

The rule: every failed start waits, and the wait doubles up to a longest. A fault soon after a
start (fewer than ``healthy_frames`` frames: a relapse, or a camera that opens but sends nothing)
waits the next, longer, delay before reopening instead of reopening at once, so a broken camera is
not reopened every frame timeout for ever; only a healthy run starts the waits over.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from focusd.errors import CameraError, CameraUnavailable

log = logging.getLogger("focusd.daemon")


class Backoff:
    """Waits between camera starts (seconds), growing across faults until a healthy run."""

    def __init__(self, shortest_s: float, longest_s: float, healthy_frames: int = 100):
        self.shortest_s = shortest_s
        self.longest_s = longest_s
        self.healthy_frames = healthy_frames
        self._next_s: float | None = None  # None: the shortest
        self._started_at_frame = 0

    def next_wait(self) -> float:
        """The wait before the next start; the one after it doubles, up to the longest."""
        delay = self.shortest_s if self._next_s is None else self._next_s
        self._next_s = min(delay * 2, self.longest_s)
        return delay

    def started(self, frame_count: int) -> None:
        """The camera started when the daemon had seen ``frame_count`` frames."""
        self._started_at_frame = frame_count

    def frames_since_start(self, frame_count: int) -> int:
        return frame_count - self._started_at_frame

    def after_fault(self, frame_count: int) -> float | None:
        """A fault at ``frame_count``: the wait before reopening (None: reopen at once, after a
        healthy run, which also starts the waits over)."""
        if self.frames_since_start(frame_count) >= self.healthy_frames:
            self._next_s = None
            return None
        return self.next_wait()


class CameraStarter:
    """Starts a camera, retrying with a :class:`Backoff`, on the camera thread.

    ``wait(seconds)`` waits between tries and returns True if told to stop (default: wait on
    ``stop``); ``on_error(message)`` hears of each failed start (the daemon logs and publishes it).
    """

    def __init__(self, camera, backoff: Backoff, stop: threading.Event,
                 wait: Callable[[float], bool] | None, on_error: Callable[[str], None]):
        self.camera = camera
        self.backoff = backoff
        self._stop = stop
        self._wait = wait or stop.wait
        self._on_error = on_error

    def start(self, frame_count: int, wait_first_s: float | None = None) -> bool:
        """Start the camera, retrying with a growing backoff; False if told to stop before it worked.

        ``wait_first_s``: wait that long before the first try (a relapse: opened at once, the camera
        would only fail at once again). The backoff is not reset here: see :meth:`Backoff.after_fault`.
        ``CameraUnavailable`` (picamera2 missing) is permanent and raised: retrying would only loop.
        """
        if wait_first_s is not None and self._pause(wait_first_s):
            return False
        while True:
            try:
                self.camera.start()
            except CameraUnavailable:
                raise
            except CameraError as error:
                delay = self.backoff.next_wait()
                log.error("camera did not start: %s (retrying in %.1f s)", error, delay)
                self._on_error(str(error))
                if self._pause(delay):
                    return False
                continue
            self.backoff.started(frame_count)
            return True

    def _pause(self, seconds: float) -> bool:
        """Wait between camera starts; True if a stop was requested (before or during the wait)."""
        if self._stop.is_set():
            return True
        return bool(self._wait(seconds)) or self._stop.is_set()
