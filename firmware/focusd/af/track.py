"""Where the lens was while each frame was exposed: the commands sent and the metadata seen.

Why from the metadata. On a Pi the ``LensPosition`` in frame k's metadata is the IPA's lens state
after the controls of request k were applied (libcamera ``ipa_base.cpp`` applies them in
``prepareIsp``, once frame k has been read out, then ``fillDeviceStatus`` reads ``af.cpp``'s
``fsmooth_``); the lens driver is written with that state then, so the glass moves after frame k
was exposed, at a moment in frame k + 1 focusd cannot know. So frame j is exposed while the lens
holds, in order, the states S(j-3), S(j-2) and S(j-1) (docs/lens-path.md):

- S(j-1) arrives during frame j's exposure: frame j is a mix of S(j-2) and S(j-1), in a share
  nobody knows (exposure time, rolling shutter, when the write lands);
- in a long exposure the move made after frame j-2 may still spill into frame j's first rows: a
  share of S(j-3);
- so frame j is *clean* (one lens position, whatever the mix) if S(j-3) = S(j-2) = S(j-1), and
  *settled* (at most a spill) if S(j-2) = S(j-1).

That holds whatever the latency really is: the metadata shows when the IPA took each command, so
the told latency is not needed to attribute frames. It is needed only where the metadata does not
follow the commands (a lens driven over I2C reports what was last sent, not the IPA's state): the
track then falls back on the told latency, S(k) = the command answering frame k - latency, and
widens every window by a frame each way (the latency is known only to about a frame).

Pure: no clock, no threads; a function of the commands sent and the metadata seen.
"""

from __future__ import annotations

import bisect
import math

#: D: lens states closer than this are the same (libcamera passes LensPosition as a float32)
SAME = 1e-3


class LensTrack:
    """The commands one scan sent and the metadata it saw, by frame sequence."""

    def __init__(self, start: float, told_latency: int, trusted: bool | None = None):
        self.start = float(start)
        self.told_latency = int(told_latency)
        #: True: the metadata follows the commands (the IPA's state); False: it does not (use the
        #: told latency); None: not known yet (until the first command shows, or should have)
        self.trusted = trusted
        #: frames between a command and the first metadata showing it (None until seen)
        self.metadata_lag: int | None = None
        self._command_sequences: list[int] = []
        self._command_positions: list[float] = []
        self._reported: dict[int, float] = {}
        self._first_sequence: int | None = None
        self._latest = -1

    # ------------------------------------------------------------------------------ recording

    def command(self, sequence: int, position: float) -> None:
        """``position`` was commanded in answer to frame ``sequence``."""
        if self._command_sequences and sequence == self._command_sequences[-1]:
            self._command_positions[-1] = float(position)
            return
        self._command_sequences.append(int(sequence))
        self._command_positions.append(float(position))

    def observe(self, sequence: int, reported: float) -> None:
        """Frame ``sequence`` arrived with ``reported`` as its metadata's LensPosition."""
        if self._first_sequence is None:
            self._first_sequence = int(sequence)
        self._latest = max(self._latest, int(sequence))
        if math.isfinite(reported):
            self._reported[int(sequence)] = float(reported)
        if self.trusted is None:
            self._judge_metadata(int(sequence))

    def _judge_metadata(self, sequence: int) -> None:
        """Trust the metadata once the first command that moved the lens shows in it within a
        frame of the told latency; distrust it if it shows too early, or not by then."""
        moved = next(((s, p) for s, p in zip(self._command_sequences, self._command_positions)
                      if abs(p - self.start) > 10 * SAME), None)
        if moved is None:
            return
        issued, _ = moved
        told = self.told_latency
        for k in range(issued + 1, sequence + 1):
            value = self._reported.get(k)
            if value is not None and abs(value - self.start) > SAME:
                self.metadata_lag = k - issued
                self.trusted = told - 1 <= self.metadata_lag <= told + 1
                return
        if sequence > issued + told + 1:
            self.trusted = False

    # ------------------------------------------------------------------------------ commands

    @property
    def latest_sequence(self) -> int:
        """The newest frame observed (-1 before the first)."""
        return self._latest

    @property
    def last_command(self) -> float:
        return self._command_positions[-1] if self._command_positions else self.start

    @property
    def first_command_sequence(self) -> int | None:
        return self._command_sequences[0] if self._command_sequences else None

    def commanded_at(self, sequence: int) -> float:
        """The latest command sent in answer to a frame up to ``sequence`` (the start if none)."""
        index = bisect.bisect_right(self._command_sequences, sequence) - 1
        return self._command_positions[index] if index >= 0 else self.start

    # ------------------------------------------------------------------------------ lens states

    @property
    def margin(self) -> int:
        """Frames of doubt each way: 0 on the metadata, 1 on the told latency."""
        return 0 if self.trusted else 1

    def state(self, k: int) -> float | None:
        """S(k): the IPA's lens state after request k (None: not known, a dropped frame).
        Without trusted metadata: the command the told latency puts in request k."""
        if not self.trusted:
            return self.commanded_at(k - self.told_latency)
        if self._first_sequence is not None and k < self._first_sequence:
            # before the scan: where the lens was when the scan began (as its first frame showed)
            return self._reported.get(self._first_sequence, self.start)
        value = self._reported.get(k)
        if value is None:
            # a dropped frame: the IPA state only moves towards a target, so where the frames
            # around it agree it did not move (the camera drops frames while it is busy)
            before = next((self._reported[i] for i in range(k - 1, k - 8, -1) if i in self._reported), None)
            after = next((self._reported[i] for i in range(k + 1, k + 8) if i in self._reported), None)
            if before is not None and after is not None and abs(before - after) <= SAME:
                return after
        return value

    def states(self, sequence: int) -> tuple[float, ...] | None:
        """The lens states frame ``sequence`` may have been exposed at, oldest first: S(j-3) to
        S(j-1) on the metadata; on the told latency, a frame more each way (never a command
        answering frame j itself or later). None if one of them is not known (a dropped frame)."""
        if self.trusted:
            keys = range(sequence - 3, sequence)
        else:
            newest = sequence - 1 + (1 if self.told_latency >= 1 else 0)
            keys = range(sequence - 4, newest + 1)
        out = []
        for k in keys:
            value = self.state(k)
            if value is None:
                return None
            out.append(value)
        return tuple(out)

    def forget_before(self, sequence: int) -> None:
        """Drop what no frame from ``sequence`` on needs (keeps a long servo's track short)."""
        self._reported = {k: v for k, v in self._reported.items() if k >= sequence - 4}
        keep = bisect.bisect_right(self._command_sequences, sequence - 8) - 1
        if keep > 0:
            del self._command_sequences[:keep]
            del self._command_positions[:keep]

    def reported(self, sequence: int) -> float | None:
        """The metadata's LensPosition of frame ``sequence`` (None if not seen)."""
        return self._reported.get(sequence)
