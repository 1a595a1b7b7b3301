"""What the controller asks of the capture path: one capture, whose press it is and from when.

Here, in the capture package, so that the capture path needs nothing from the service above it;
the pure controller (``focusd.service.controller``) makes these and the daemon hands them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from focusd.signals import ButtonId


@dataclass(frozen=True, slots=True)
class SeriesShot:
    """One shot of a focus-bracketing series (focusd.service.bracket_series): the writer puts the
    series in a folder of its own, ``BRACKET_<counter>``, named when its first shot is written."""

    number: int  #: the series' number in this run of the daemon (which shots share a folder)
    index: int  #: 1-based, in shooting order (the file's number in the folder)
    plane: float  #: dioptres, the plane the lens was sent to
    planes: int  #: planes in the series' plan


@dataclass(frozen=True, slots=True)
class Capture:
    """Capture the first frame exposed at or after ``press_time_ns`` (burst: ``due_ns``)."""

    press_id: int
    press_time_ns: int
    due_ns: int
    reason: str
    burst_index: int = 0
    #: the input whose press it is (the journal's ``input``); not part of what a capture is
    button: ButtonId | None = field(default=None, compare=False)
    series: SeriesShot | None = None  #: a focus-bracketing shot: its series, index and plane
