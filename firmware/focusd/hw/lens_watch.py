"""Noticing a LensPosition that never reached libcamera, so that it can be sent again.

Why: picamera2 hands the controls set since the last request over to the next request re-queued
(``CompletedRequest.release``) by reading them and then replacing them with new ones, without a
lock against ``set_controls``. When the camera thread falls more than a frame behind, picamera2's
event loop re-queues the older finished requests itself, on its own thread, and a LensPosition
set in that window is lost: the lens stays where it was, and the AF engine, which commands a
position once, never learns why.

Why not simply re-send every frame: on libcamera's Raspberry Pi IPA each write of a target moves
the lens another max_slew towards it (docs/lens-path.md), so extra writes would change how the
lens moves. A write is repeated only once the metadata shows the IPA's lens state has stayed
away from the commanded position for longer than a delivered command ever lets it: past the
frames the request queue delays it, and past two runs of the IPA's controller, which moves a
lens that is still on its way at least one max_slew per run. Such a repeat is the write that was
lost, only later.
"""

from __future__ import annotations

import logging

from focusd.lens_path import controller_period_frames

log = logging.getLogger("focusd.camera")

#: metadata within this of the command shows it (libcamera rounds LensPosition to float32), dioptres
SHOWN_TOLERANCE_D = 1e-3
#: repeats of one command before giving up (and saying so): a lost write is rare, a lens that never
#: shows the command after this many is stuck or reports something else
MAX_REPEATS = 5


class LensCommandWatch:
    """Follows the latest commanded LensPosition through the frames' metadata.

    ``commanded`` when the position is set (with the sequence of the last frame handed out);
    ``observe`` with every frame's sequence and metadata LensPosition, which answers True when the
    command must be sent again (it is then watched afresh). ``forget`` after a (re)start: the
    position went with the configuration's controls, which nothing can lose.
    """

    def __init__(self, queue_frames: int):
        #: frames a command may take to show: the requests queued ahead of it, the frame whose
        #: request carries it, and one spare
        self.grace_frames = queue_frames + 2
        self._target: float | None = None
        self._since = 0  # sequence the command (or its last repeat) was sent at
        self._repeats = 0
        self._last_seen: float | None = None
        self._last_change = 0  # sequence at which the metadata last moved

    def commanded(self, position: float, sequence: int) -> None:
        self._target, self._since, self._repeats = float(position), sequence, 0

    def forget(self) -> None:
        self._target, self._last_seen = None, None

    def observe(self, sequence: int, shown: float, frame_duration_ns: int) -> bool:
        if shown != self._last_seen:
            self._last_seen, self._last_change = shown, sequence
        if self._target is None:
            return False
        if abs(shown - self._target) <= SHOWN_TOLERANCE_D:
            return False  # still watched: a lens slewing on to an older target only passes through
        still_frames = 2 * controller_period_frames(1e9 / frame_duration_ns) + 1
        if sequence - self._since <= self.grace_frames or sequence - self._last_change < still_frames:
            return False  # still on its way, or the lens still moving
        if self._repeats >= MAX_REPEATS:
            log.warning("lens position %.3f D never shown in the metadata (lens at %.3f D) after %d repeats: "
                        "given up", self._target, shown, self._repeats)
            self._target = None
            return False
        self._repeats += 1
        self._since = sequence
        log.info("lens position %.3f D lost on its way to the camera (lens stays at %.3f D): sent again",
                 self._target, shown)
        return True
