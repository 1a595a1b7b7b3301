"""The daemon's own subscribers to its event stream: the LED, systemd's STATUS line, the journal.

Each is a handler for a :class:`~focusd.service.events.Listener`, so it runs on the listener's
thread, never on the frame path: a slow LED driver or a stalled journal loses events, not frames.
"""

from __future__ import annotations

import logging
from typing import Callable

from focusd.hw.base import Indicator
from focusd.service import events as ev
from focusd.service.notify import SystemdNotifier


def led_handler(indicator: Callable[[], Indicator | None]) -> Callable[[ev.Event], None]:
    """Shows each LedChanged on the indicator ``indicator()`` returns (None: closed, nothing shown)."""

    def handle(event: ev.Event) -> None:
        if isinstance(event, ev.LedChanged):
            shown = indicator()
            if shown is not None:
                shown.show(event.pattern)

    return handle


def status_handler(board: ev.StatusBoard, notifier: SystemdNotifier) -> Callable[[ev.Event], None]:
    """Keeps ``board`` up to date; with each frame statistics, systemd's STATUS= line follows."""

    def handle(event: ev.Event) -> None:
        board.apply(event)
        if isinstance(event, ev.FrameStatistics):
            notifier.status(board.line())

    return handle


def journal_handler(log: logging.Logger) -> Callable[[ev.Event], None]:
    """The journal's view of the stream: captures written with their path, frames the camera
    dropped, and (at debug level) every AF state change and lens command. Errors are logged where
    they happen, with their context, and not again here."""
    dropped_logged = 0

    def handle(event: ev.Event) -> None:
        nonlocal dropped_logged
        match event:
            case ev.CaptureWritten(press_id=press_id, path=path, raw_path=raw_path):
                log.info("capture of press %d written: %s%s", press_id, path, f" and {raw_path}" if raw_path else "")
            case ev.FrameStatistics(dropped=dropped, fps=fps) if dropped > dropped_logged:
                log.warning("the camera dropped %d frame(s) (%d in all; %.1f fps)",
                            dropped - dropped_logged, dropped, fps)
                dropped_logged = dropped
            case ev.FocusChanged(state=state, lens_position=lens, reason=reason):
                log.debug("AF %s at %.3f D%s", state, lens, f": {reason}" if reason else "")
            case ev.FocusStored(position=position, ok=True):
                log.info("focus recall: %.3f D stored", position)
            case ev.FocusRecall(outcome=outcome, target=target):
                log.info("focus recall: %s%s", outcome, "" if target is None else f" ({target:.3f} D)")
            case ev.LensCommanded(target=target, reported=reported, sequence=sequence):
                log.debug("lens to %.3f D after frame %d (reported %.3f D)", target, sequence, reported)

    return handle
