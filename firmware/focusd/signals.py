"""The signals between the photographer and the body: which input, an edge of it, the LED's pattern.

A bottom module: the pure controller, the button debouncer, the GPIO adapters, the demo's button
scripts and the command inlet all speak these types, so none of them has to import the hardware
layer (``focusd.hw``) to name a button.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ButtonId(enum.Enum):
    """The physical inputs."""

    AF_ON = "af_on"
    SHUTTER = "shutter"
    REMOTE = "remote"  #: the remote-release jack's tip (full press): behaves as the shutter
    REMOTE_FOCUS = "remote_focus"  #: the remote-release jack's ring (half press): behaves as AF-ON
    RECALL = "recall"  #: the focus-recall button: a long press stores the lens position, a press recalls it


@dataclass(frozen=True, slots=True)
class RawEdge:
    """One edge of a button contact as the GPIO callback saw it, stamped on the camera clock.

    ``pressed`` is the logical level after the edge (True: contact closed). Bounces are not
    filtered here: ``focusd.service.buttons.Debouncer`` does that on the camera thread.
    """

    button: ButtonId
    pressed: bool
    time_ns: int


class LedPattern(enum.Enum):
    """What the status LED shows (see ``focusd.service.controller`` for when)."""

    OFF = "off"  #: idle
    BLINK = "blink"  #: scanning: 0.25 s on, 0.25 s off
    STEADY = "steady"  #: focused
    FAST_BLINK = "fast_blink"  #: focus failed: 0.05 s on, 0.05 s off
    FLASH = "flash"  #: one short flash on each capture, then back to the AF pattern
    ERROR = "error"  #: a capture or camera error: three short flashes, a pause, repeated
