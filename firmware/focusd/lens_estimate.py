"""Where the lens was while a captured frame was exposed: an estimate for the files.

A frame's ``LensPosition`` metadata is not that. On a Pi it is the IPA's slewed lens state once
that frame's request was applied, after the frame was read out (docs/lens-path.md, section 2;
docs/device-facts.md, "Lens control"); on a lens written over I2C it is the last position sent.
The glass moves after frame k's metadata was made, at a moment in frame k + 1 nobody reports, so
frame j was exposed while the lens held the states S(j-3), S(j-2), S(j-1) of the frames before it,
mostly S(j-2) and S(j-1) (the first only spills into a long exposure). That is the rule the
autofocus attributes frames by (:class:`focusd.af.track.LensTrack`); this module keeps one such
track over the whole run, fed by the daemon with every frame's metadata and every lens command,
and answers for a captured frame:

- ``position``: the middle of S(j-2) and S(j-1), the two states that share the exposure (the share
  is unknown: it depends on when the driver's write lands, on the rolling shutter and on the
  exposure time; section 3);
- ``low``, ``high``: every position the frame may have seen;
- ``moving``: whether those states differ, i.e. the lens may have moved during the exposure and
  the frame may mix positions (False: it held one position throughout);
- ``basis``: "metadata" where the metadata has been seen to follow the commands (the IPA's
  state), "commands" where it has not (yet): then S(k) is the command the told latency puts in
  request k, and the range is a frame wider each way.

Pure: no clock, no threads, no camera.
"""

from __future__ import annotations

from dataclasses import dataclass

from focusd.af.track import SAME, LensTrack
from focusd.lens_path import LensPath


@dataclass(frozen=True, slots=True)
class ExposedLens:
    """The lens during one frame's exposure, as far as it can be known (dioptres)."""

    position: float
    low: float
    high: float
    moving: bool
    basis: str  #: "metadata" | "commands"


class LensEstimate:
    """One run's lens track. Call :meth:`observe` for every frame (before asking about it) and
    :meth:`command` for every lens command; :meth:`exposed` for a frame being captured."""

    def __init__(self, lens_path: LensPath):
        self.told_latency = int(lens_path.latency_frames)
        self._track: LensTrack | None = None

    def observe(self, sequence: int, reported: float) -> None:
        """Frame ``sequence`` arrived with ``reported`` as its metadata's LensPosition. A sequence
        that goes back (a restarted camera numbers its frames anew) starts a new track."""
        track = self._track
        if track is None or sequence <= track.latest_sequence:
            trusted = None if track is None else track.trusted  # the same lens after a restart
            track = self._track = LensTrack(float(reported), self.told_latency, trusted=trusted)
        track.observe(sequence, float(reported))
        track.forget_before(sequence)

    def command(self, sequence: int, target: float) -> None:
        """``target`` was commanded in answer to frame ``sequence``."""
        if self._track is not None:
            self._track.command(sequence, float(target))

    def exposed(self, sequence: int) -> ExposedLens | None:
        """The lens during frame ``sequence``'s exposure; None when a state it may have seen is not
        known (frames dropped just before it, or no frame observed yet)."""
        track = self._track
        if track is None:
            return None
        states = track.states(sequence)
        earlier, later = track.state(sequence - 2), track.state(sequence - 1)
        if states is None or earlier is None or later is None:
            return None
        low, high = min(states), max(states)
        return ExposedLens(position=(earlier + later) / 2, low=low, high=high, moving=high - low > SAME,
                           basis="metadata" if track.trusted else "commands")
