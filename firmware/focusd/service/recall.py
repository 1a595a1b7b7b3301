"""The stored focus position of the recall button: one lens position (D) kept in a state file.

This is the first piece of focus recall (issue 12, item 4): the collaborator that owns the
stored position and its file. The controller rows, the button and the daemon wiring are not
built yet. The file survives a restart; it is written atomically (a temporary file in the same
folder, fsync, rename, fsync of the folder), so a failed write leaves the old file intact. A
corrupt or unreadable file counts as nothing stored and is reported, never raised.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

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
