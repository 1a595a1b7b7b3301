"""Logging that fits journald: one line per event, with a level.

Under systemd (``JOURNAL_STREAM`` set) each line starts with the syslog priority in angle
brackets (``<3>``), which journald turns into the entry's priority and strips; the journal adds the
time. On a terminal, lines carry the time and the level name instead.
"""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


def setup_logging(level: str = "info", frame_debug: bool = False, stream=None) -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # the engine's one-line-per-frame debug output is opt-in even at debug level
    logging.getLogger("focusd.af").setLevel(logging.DEBUG if frame_debug else max(logging.INFO, root.level))
