"""The command inlet: presses and settings from anywhere but the GPIO pins.

A web page, a remote, a script or a test presses AF-ON or the shutter here. A press is a raw edge
stamped on the camera's clock and put on the same :class:`~focusd.service.buttons.EdgeQueue` the
GPIO callbacks fill, so from there it is a button press like any other: debounced by the same
debouncer, handed to the same controller, captured from the first frame exposed after it. Nothing
here touches the camera or the engine; an AF-window change is queued for the camera thread,
which applies it between frames.

Every method may be called from any thread and returns at once.
"""

from __future__ import annotations

from typing import Callable

from focusd.config.values import Invalid, check_window
from focusd.errors import ConfigError
from focusd.service.buttons import EdgeQueue
from focusd.signals import ButtonId, RawEdge


class CommandInlet:
    """Virtual buttons and live settings, through the daemon's own input paths."""

    def __init__(self, edges: EdgeQueue, now_ns: Callable[[], int], control: Callable[[tuple], None]):
        self._edges = edges
        self._now_ns = now_ns
        self._control = control

    def press(self, button: ButtonId) -> None:
        """As if ``button``'s contact closed now."""
        self._edges.put(RawEdge(ButtonId(button), True, self._now_ns()))

    def release(self, button: ButtonId) -> None:
        """As if ``button``'s contact opened now."""
        self._edges.put(RawEdge(ButtonId(button), False, self._now_ns()))

    def store_focus(self) -> None:
        """Store the lens position for focus recall, as a long press of the recall button does."""
        self._control(("recall", True))

    def recall_focus(self) -> None:
        """Send the lens to the stored position, as a press of the recall button does (ignored
        while AF-ON is held)."""
        self._control(("recall", False))
    def bracket(self) -> None:
        """Start a focus-bracketing series (docs/bracketing.md), as the shutter double-press does:
        on the camera thread, unless one runs, a focus input or a capture is held, or the camera
        is down. A press of any input stops it."""
        self._control(("bracket", None))

    def set_af_window(self, window) -> tuple[float, float, float, float]:
        """Move the AF window (x, y, width, height as fractions of the frame). Checked as the
        configuration's ``af.window`` is (a bad one raises ConfigError naming ``af.window``);
        applied at once when AF-ON is up or in continuous AF, else from the next AF-ON press."""
        try:
            checked = check_window(window)
        except Invalid as invalid:
            raise ConfigError("af.window", str(invalid), "command") from None
        self._control(("window", checked))
        return checked

    def change_settings(self, changes: dict, reply: Callable[[ConfigError | None], None]) -> None:
        """Change live settings (focusd.config.writeback.LIVE_KEYS) as a reload would, and write
        them to the configuration file; on the camera thread, between frames. ``reply(None)``
        once applied, ``reply(error)`` (naming the key) if refused: then nothing changed."""
        self._control(("settings", (changes, reply)))
