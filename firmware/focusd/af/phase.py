"""The autofocus engine's internal phases, in the order a scan goes through them.

Kept in a module of its own because both halves of the engine use them: the scan
(focusd.af.scan) moves through PRIME, CLIMB, RETURN and ARRIVE; the engine (focusd.af.engine) owns the
results (LOCKED, FAILED) and continuous AF (SERVO).
"""

from __future__ import annotations

import enum

from focusd.af.types import AfState


class Phase(enum.IntEnum):
    """The engine's internal phases, in the order a scan goes through them."""

    IDLE = 0  #: not started (AfState.IDLE)
    PRIME = 1  #: first frames: measuring the noise, first blind moves (SCANNING)
    CLIMB = 2  #: hill-climbing with an adaptive step until the peak is passed (SCANNING)
    RETURN = 3  #: probing where the top is unknown, then to the peak; latency checked (SCANNING)
    ARRIVE = 4  #: sent to the peak: waiting for a frame exposed there, and checking it (SCANNING)
    LOCKED = 5  #: FOCUSED; continuous mode watches for a change (FOCUSED)
    SERVO = 6  #: continuous: following a subject with small steps (SCANNING)
    FAILED = 7  #: no trustworthy peak: the lens is at the fallback (FAILED)


#: What each phase shows outside (libcamera's AfState).
STATE_OF_PHASE = {
    Phase.IDLE: AfState.IDLE, Phase.PRIME: AfState.SCANNING, Phase.CLIMB: AfState.SCANNING,
    Phase.RETURN: AfState.SCANNING, Phase.ARRIVE: AfState.SCANNING, Phase.LOCKED: AfState.FOCUSED,
    Phase.SERVO: AfState.SCANNING, Phase.FAILED: AfState.FAILED,
}
