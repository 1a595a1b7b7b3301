"""The gesture that starts a focus-bracketing series: a shutter double-press while AF-ON is up.

Pure (times are handed in, in seconds), so the controller can consult it beside other shutter
gestures (trap focus). The first press still takes its normal photo: this only says whether a
press is the second of a double-press. Holding AF-ON, or a press too long after the last release,
is never a double-press, so a series cannot start by accident.
"""

from __future__ import annotations


class DoublePressGesture:
    """Tells a shutter press that completes a double-press (second press within ``window_s`` of
    the first press's release, AF-ON up throughout)."""

    def __init__(self, window_s: float = 0.4):
        self.window_s = window_s
        self._released_at: float | None = None  #: the last lone press's release; None: no candidate
        self._lone = False  #: the press now down may be the first of a double-press

    def shutter_pressed(self, now: float, af_on_held: bool) -> bool:
        """True: this press is the second of a double-press (start the series)."""
        released, self._released_at = self._released_at, None
        second = not af_on_held and released is not None and now - released <= self.window_s
        # neither a press with AF-ON held nor the second of a pair can open a new window
        self._lone = not af_on_held and not second
        return second

    def shutter_released(self, now: float, af_on_held: bool) -> None:
        """The release of a lone press (AF-ON up at press and release) opens the window; after a
        double-press it does not, so a triple press is one series, not two."""
        self._released_at = now if self._lone and not af_on_held else None
        self._lone = False

    def af_on_pressed(self) -> None:
        """AF-ON between the presses breaks the gesture."""
        self._released_at = None
        self._lone = False
