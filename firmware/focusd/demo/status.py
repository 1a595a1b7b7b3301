"""The demo's status line on a terminal, with log lines above it instead of on its end.

The status line is redrawn in place (``\\r``) ten times a second. A log line written while it is
shown would start at the status line's end; :class:`StatusTerminal` is the stream both go
through: before a log line it blanks the status line and returns to its start, after the line it
draws the status again, under one lock so a redraw never comes between.
"""

from __future__ import annotations

import threading
from typing import TextIO


class StatusTerminal:
    """A text stream over ``wrapped`` (stderr) that keeps one status line at the bottom."""

    def __init__(self, wrapped: TextIO):
        self.wrapped = wrapped  # focusd.service.logs.fatal looks for stderr here
        self._lock = threading.RLock()
        self._status = ""  # what the status line shows now ("" once finished)
        self._in_line = False  # a log line begun and not yet ended with its newline

    def status(self, text: str) -> None:
        """Show ``text`` as the status line (in place of the last one)."""
        with self._lock:
            padding = " " * max(0, len(self._status) - len(text))  # blank what a longer line left
            self._status = text
            if not self._in_line:
                self.wrapped.write("\r" + text + padding)
                self.wrapped.flush()

    def write(self, text: str) -> int:
        """A log line (or part of one): written above the status line."""
        with self._lock:
            if not self._in_line and self._status:
                self.wrapped.write("\r" + " " * len(self._status) + "\r")
            self.wrapped.write(text)
            self._in_line = not text.endswith("\n")
            if not self._in_line and self._status:
                self.wrapped.write(self._status)
            return len(text)

    def flush(self) -> None:
        with self._lock:
            self.wrapped.flush()

    def finish(self) -> None:
        """End the status line where it is (the last status stays shown); later text goes below it."""
        with self._lock:
            if self._status and not self._in_line:
                self.wrapped.write("\n")
            self._status = ""
            self.wrapped.flush()
