"""Logging that fits journald: one line per event, with a level.

Under systemd (``JOURNAL_STREAM`` set) each record becomes exactly one line that starts with the
syslog priority in angle brackets (``<3>``), which journald turns into the entry's priority and
strips; the journal adds the time. journald makes one entry per line, so a record that spans
lines (a traceback from ``log.exception``, a message with a newline) is folded into one line, its
lines joined with `` | ``: otherwise every line after the first would be an entry of its own at
the default priority (info), and ``journalctl -p err`` would show a traceback's first line only.
Uncaught exceptions (main thread and other threads) and Python warnings go through the same path.

On a terminal, lines carry the time and the level name instead, and tracebacks keep their lines.

:func:`fatal` is for the command line's last word (a bad configuration, no camera): an error
record like any other, so under journald it has its ``<3>`` too, and on stderr either way.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

#: libraries whose debug lines are about themselves, not focusd (Pillow's TIFF plugin logs every EXIF
#: tag of every capture it encodes: 144 of 161 lines at logging.level = "debug"); kept at info
QUIET_LIBRARIES = ("PIL",)
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
#: joins the lines of a folded record
FOLD = " | "


def journal_priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between the standard ones round down)."""
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


def fold(text: str) -> str:
    """One line: the non-blank lines of ``text``, stripped, joined with :data:`FOLD`."""
    return FOLD.join(line.strip() for line in text.splitlines() if line.strip())


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``, on one line, tracebacks and stack included."""

    def __init__(self) -> None:
        super().__init__("%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return f"<{journal_priority(record.levelno)}>{record.name}: {fold(super().format(record))}"


def under_journald(environ=None) -> bool:
    """Whether stderr goes to the journal (systemd sets ``JOURNAL_STREAM`` for the service)."""
    return bool((os.environ if environ is None else environ).get("JOURNAL_STREAM"))


def _handler(stream) -> logging.StreamHandler:
    handler = logging.StreamHandler(stream)
    if under_journald():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def setup_logging(level: str = "info", frame_debug: bool = False, stream=None) -> None:
    """Configure the root logger once for the process."""
    handler = _handler(stream or sys.stderr)
    journald = under_journald()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # the engine's one-line-per-frame debug output is opt-in even at debug level
    logging.getLogger("focusd.af").setLevel(logging.DEBUG if frame_debug else max(logging.INFO, root.level))
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))
    if journald:
        # Python's own printing of these is multi-line: through logging they are one entry each
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread


def fatal(message: str, *args) -> None:
    """The command line's last word before a non-zero exit: an error record, on stderr (with its
    ``<3>`` under journald) also when logging was not set up for it (the configuration failed)."""
    root = logging.getLogger()
    # a stream may wrap stderr (the demo's status line): ``wrapped`` is then the stream it writes to
    to_stderr = any(isinstance(h, logging.StreamHandler) and getattr(h.stream, "wrapped", h.stream) is sys.stderr
                    for h in root.handlers)
    extra = None if to_stderr else _handler(sys.stderr)
    if extra is not None:
        root.addHandler(extra)
    try:
        logging.getLogger("focusd").error(message, *args)
    finally:
        if extra is not None:
            root.removeHandler(extra)


def _log_uncaught(kind, value, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    logging.getLogger("focusd").critical("uncaught exception", exc_info=(kind, value, traceback))


def _log_uncaught_in_thread(args) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("focusd").critical("uncaught exception in thread %s", name,
                                         exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
