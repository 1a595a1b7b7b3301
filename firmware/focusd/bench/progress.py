"""A progress bar on stderr for long benchmark runs (no dependency for a dozen lines).

Drawn only when the stream is a terminal (or when forced), so logs and tests stay clean.
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``bar = ProgressBar(total, "trials")``; ``bar(done)`` redraws; ``bar.close()`` ends the line."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool | None = None, width: int = 30):
        self.total = max(1, total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled if enabled is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self._started = time.monotonic()
        self._drawn = False

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        fraction = min(1.0, done / self.total)
        filled = int(round(fraction * self.width))
        elapsed = time.monotonic() - self._started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{done}/{self.total} {elapsed:5.1f}s (eta {eta:4.0f}s) ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
