"""The camera thread's own counters: written by that thread alone, read by the demo's summary and
by the tests (``Daemon.wait_until``). Everything a front end shows comes from the event stream
(``focusd.service.events``) instead, which is thread-safe."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class DaemonStats:
    """The camera thread's counters (written by it alone), for the demo's summary and the tests.
    Everything a front end shows comes from the event stream instead."""

    frames: int = 0
    presses: int = 0  #: shutter and remote presses that asked for a capture (each has a press id)
    captures_requested: int = 0
    captures_written: int = 0
    captures_failed: int = 0
    af_locks: int = 0
    af_failures: int = 0
    lens_commands: int = 0
    camera_faults: int = 0
    reloads: int = 0
    af_state: str = "IDLE"
    lens_position: float = math.nan
    last_error: str | None = None

    def lens_text(self) -> str:
        """The last lens command, "-" before the first."""
        return "-" if math.isnan(self.lens_position) else f"{self.lens_position:.2f}D"
