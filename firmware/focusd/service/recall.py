"""Focus recall: one stored lens position (D), kept in a state file, and the move back to it.

The controller (focusd.service.controller) decides what a press of ``pins.recall`` means: held
``recall.long_press_ms`` it stores, shorter it recalls (only while AF-ON is up: AF-ON owns the lens
while held). The daemon carries those out here, on the camera thread:

- :class:`RecallStore` owns the position and its file. The file survives a restart; it is written
  atomically (a temporary file in the same folder, fsync, rename, fsync of the folder), so a failed
  write leaves the old file intact. A corrupt or unreadable file counts as nothing stored and is
  reported, never raised.
- :class:`RecallMove` is one move back: the lens is sent straight to the stored position (the
  shortest path: no scan, one target), the target written again with each request until the
  metadata's slewed state reaches it (each write continues the IPA's slew, docs/lens-path.md), and
  it has *arrived* on the first frame whose whole exposure was at the position (LensEstimate: not
  moving, within ``ARRIVED_D``): only then does the AF state show the recalled lock.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from focusd.lens_estimate import ExposedLens
from focusd.service import events as ev

from focusd.capture.files import fsync_folder

log = logging.getLogger("focusd.recall")


@dataclass(frozen=True)
class RecallOutcome:
    """What a load or a store did: ``ok`` false with a ``problem`` sentence when it failed."""

    ok: bool
    position: float | None
    problem: str = ""


class RecallStore:
    """The stored lens position (D) and the state file that keeps it across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.position: float | None = None

    def load(self) -> RecallOutcome:
        """Read the state file; a missing file is nothing stored, a bad one is reported."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.position = None
            return RecallOutcome(True, None)
        except OSError as error:
            return self._unreadable(f"cannot read {self.path}: {error}")
        try:
            position = float(json.loads(text)["position"])
        except (ValueError, KeyError, TypeError) as error:
            return self._unreadable(f"corrupt {self.path}: {error!r}")
        if not math.isfinite(position) or position < 0:
            return self._unreadable(f"corrupt {self.path}: position {position}")
        self.position = position
        return RecallOutcome(True, position)

    def store(self, position: float) -> RecallOutcome:
        """Keep ``position`` and write it atomically; on failure the old file and value stay."""
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"position": float(position)}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            fsync_folder(self.path.parent)
        except OSError as error:
            try:
                temporary.unlink()
            except OSError:
                pass  # the temporary file was never made, or the folder is gone
            problem = f"cannot write {self.path}: {error}"
            log.warning("focus recall: %s", problem)
            return RecallOutcome(False, self.position, problem)
        self.position = float(position)
        return RecallOutcome(True, self.position)

    def _unreadable(self, problem: str) -> RecallOutcome:
        log.warning("focus recall: %s; nothing stored", problem)
        self.position = None
        return RecallOutcome(False, None, problem)


#: dioptres: a frame exposed wholly within this of the stored position has arrived there
ARRIVED_D = 0.01
#: frames a move back may take before it is given up (a 12 D move at 120 fps takes about 32)
MOVE_FRAMES_LIMIT = 240


@dataclass(frozen=True)
class MoveStep:
    """What a move back asks of the daemon for one frame: ``write`` the target again (or None),
    and whether it ``arrived`` (the recalled lock) or was ``given_up`` (the lens never got there)."""

    write: float | None = None
    arrived: bool = False
    given_up: bool = False


class RecallMove:
    """One move of the lens back to ``target`` (D), from the frame that asked for it. Pure."""

    def __init__(self, target: float) -> None:
        self.target = float(target)
        self.frames = 0  #: frames seen since the first write

    def frame(self, reported: float, exposed: ExposedLens | None) -> MoveStep:
        """The frame's metadata LensPosition and the estimate of its exposure: the next step."""
        self.frames += 1
        if exposed is not None and not exposed.moving and abs(exposed.position - self.target) <= ARRIVED_D:
            return MoveStep(arrived=True)
        if self.frames > MOVE_FRAMES_LIMIT:
            return MoveStep(given_up=True)
        # the slewed state short of the target: write it again, which continues the slew now
        # instead of at the controller's next 30 Hz run
        return MoveStep(write=self.target if abs(float(reported) - self.target) > ARRIVED_D / 10 else None)


class FocusRecall:
    """The daemon's side of focus recall: the controller's StoreFocus and RecallFocus carried out
    on the camera thread, with their events. Owns the store; drives the lens only through the
    daemon's FocusDriver (focusd.service.focus), which owns every lens command."""

    def __init__(self, store: RecallStore, events, now_ns) -> None:
        self.store = store
        self._events = events
        self._now_ns = now_ns

    def load(self) -> RecallOutcome:
        """At start-up: the position a previous run stored (a bad file is reported, not raised)."""
        return self.store.load()

    def store_from(self, focus) -> RecallOutcome:
        """Store where the lens is: the last position commanded, else the last frame's metadata."""
        position = focus.commanded if focus.commanded is not None else focus.last_reported
        if position is None:
            outcome = RecallOutcome(False, self.store.position, "no lens position known yet")
        else:
            outcome = self.store.store(position)
        self._events.publish(ev.FocusStored(math.nan if position is None else float(position), outcome.ok,
                                             self._now_ns(), outcome.problem))
        return outcome

    def recall_to(self, focus, frame) -> bool:
        """Send the lens to the stored position; False (reported) when nothing is stored."""
        if self.store.position is None:
            self._events.publish(ev.FocusRecall("nothing stored", None, self._now_ns()))
            return False
        focus.recall(self.store.position, frame)
        return True

