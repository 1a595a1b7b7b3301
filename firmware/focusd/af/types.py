"""The autofocus engine's contract types (docs/design.md, "The autofocus engine").

Other tools (the benchmark, the sweep replay, the daemon) build ``Frame`` objects and read
``AfState``; keep these stable and change them only together with everything that uses them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class AfMode(enum.Enum):
    """How AF-ON drives the engine."""

    SINGLE = "single"  #: scan once, lock, stay locked until the next start()
    CONTINUOUS = "continuous"  #: scan, lock, keep watching and re-focus while started


class AfState(enum.IntEnum):
    """The engine's externally visible state, ordered as libcamera's AfState."""

    IDLE = 0  #: not started, or stopped: the lens is left alone
    SCANNING = 1  #: searching for the peak (or re-focusing in continuous mode)
    FOCUSED = 2  #: locked on a peak
    FAILED = 3  #: no trustworthy peak (dark, featureless): lens at the fallback position


@dataclass(frozen=True, slots=True)
class Frame:
    """One lores frame as the engine sees it.

    ``y`` is the full lores Y plane (2-D uint8); the engine cuts its own window.
    ``lens_position`` is what the frame's metadata reports: the IPA's slewed lens state after this
    frame's request (dioptres), neither the target nor where the lens was during the exposure
    (docs/lens-path.md); the engine places frames by it (focusd.af.track). ``sequence`` is the camera's frame
    counter (gaps mean dropped frames).
    """

    y: np.ndarray
    lens_position: float
    sequence: int
