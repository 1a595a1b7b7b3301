"""When to reopen a camera that failed: a backoff that spans faults.

Why apart from focusd.service.daemon: the policy is a few numbers and a rule, and the daemon's camera
thread only asks it two questions (how long to wait now; a fault happened after so many frames).
Kept on its own, the rule is plain to read and the daemon stays about its loop.

The rule: every failed start waits, and the wait doubles up to a longest. A fault soon after a
start (fewer than ``healthy_frames`` frames: a relapse, or a camera that opens but sends nothing)
waits the next, longer, delay before reopening instead of reopening at once, so a broken camera is
not reopened every frame timeout for ever; only a healthy run starts the waits over.
"""

from __future__ import annotations


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
