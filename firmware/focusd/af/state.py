"""The engine's working state, all in one place, and what its stages return.

As libcamera's ``af.h`` lists the whole state of its AF, ``ScanState`` lists everything a scan
keeps between frames; the stages (focusd.af.sweep, focusd.af.probe, focusd.af.arrive) read it,
keep their own part of it up to date and return an outcome (a lens target, a peak found, a lock, a
failure). Only the engine (focusd.af.engine) changes the phase, from those outcomes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from focusd.af.fit import PeakFit
from focusd.af.track import SAME, LensTrack
from focusd.af.types import AfState


class Phase(enum.IntEnum):
    """The engine's phases, in the order a scan goes through them."""

    IDLE = 0  #: not started (AfState.IDLE)
    PRIME = 1  #: the first frames, still at the start: the noise of the focus measure (SCANNING)
    SWEEP = 2  #: the lens steps every frame until the peak has been passed (SCANNING)
    PROBE = 3  #: clean samples across the peak, each held long enough to be one position (SCANNING)
    ARRIVE = 4  #: sent to the peak: waiting for a clean frame there, and checking it (SCANNING)
    LOCKED = 5  #: FOCUSED; continuous mode watches for a change (FOCUSED)
    SERVO = 6  #: continuous: following a subject with small steps (SCANNING)
    FAILED = 7  #: no trustworthy peak: the lens is at the fallback (FAILED)


#: What each phase shows outside (libcamera's AfState).
STATE_OF_PHASE = {
    Phase.IDLE: AfState.IDLE, Phase.PRIME: AfState.SCANNING, Phase.SWEEP: AfState.SCANNING,
    Phase.PROBE: AfState.SCANNING, Phase.ARRIVE: AfState.SCANNING, Phase.LOCKED: AfState.FOCUSED,
    Phase.SERVO: AfState.SCANNING, Phase.FAILED: AfState.FAILED,
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One frame of a scan and the lens states its exposure may have seen (focusd.af.track)."""

    sequence: int
    value: float  #: the focus measure less its noise part
    states: tuple[float, ...]  #: D: the lens states the exposure may have seen, oldest first
    margin: int  #: frames of doubt of the track (0: from the metadata, 1: from the told latency)
    level: float = 0.0  #: the window's mean level, code values (the noise part moves with it)

    @property
    def low(self) -> float:
        return min(self.states)

    @property
    def high(self) -> float:
        return max(self.states)

    @property
    def clean(self) -> float | None:
        """D: the one lens position it was exposed at, or None if it may be a mix."""
        return self.states[-1] if self.high - self.low <= SAME else None

    def at(self, depth: int) -> float | None:
        """D: its position if the newest ``depth`` lens states agree (3: clean; fewer: clean only
        where the scan has shown that the glass moves that early, focusd.af.sweep.learn_dwell)."""
        newest = self.states[-min(depth + 2 * self.margin, len(self.states)):]
        return self.states[-1] if max(newest) - min(newest) <= SAME else None


# ---------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Move:
    """Stay in the phase; send the lens towards ``target`` (None: leave it). The engine never
    moves it more than max_slew in one frame: a longer move is sent again with the next."""

    target: float | None = None


@dataclass(frozen=True, slots=True)
class PeakPassed:
    """The sweep has passed a peak, which lies between ``low`` and ``high`` D."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class GoTo:
    """The probes located the peak: send the lens to ``target``; a clean frame there must measure
    at least confirm_ratio of ``expected`` (the sharpest clean sample)."""

    target: float
    expected: float
    fallback: float | None = None  #: D: the sharpest clean sample, to try if the target does not confirm


@dataclass(frozen=True, slots=True)
class Lock:
    """A clean frame at ``position`` confirmed the peak: FOCUSED."""

    position: float


@dataclass(frozen=True, slots=True)
class Fail:
    """No trustworthy peak: FAILED, for ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Rescan:
    """The peak did not confirm (the scene changed): scan again from where the lens is."""

    reason: str


Outcome = Move | PeakPassed | GoTo | Lock | Fail | Rescan


# ---------------------------------------------------------------------------------- the state


@dataclass
class ScanState:
    """Everything one scan keeps between frames (a new one per scan; continuous re-scans carry
    the noise and the metadata's trust over)."""

    # --- where and how it began
    start: float  #: D: where the lens was at AF-ON (or at the re-scan)
    track: LensTrack  #: commands sent and metadata seen: where the lens was for each frame
    began_at: int = 0  #: the engine's frame count when the scan began (max_frames counts from it)
    # --- the focus measure's noise (PRIME)
    noise: float = 0.0  #: the noise part of the focus measure on the still frames at the start
    noise_known: bool = False
    noise_level: float = 0.0  #: the window's mean level on those frames, code values
    jitter: float = 0.0  #: the measure's frame-to-frame scatter on a still lens (absolute)
    prime_frames: list = field(default_factory=list)  #: (sequence, Measurement) of the still frames at the start
    first_sequence: int | None = None  #: the scan's first frame
    # --- every frame of the scan, placed where the lens was
    samples: list[Sample] = field(default_factory=list)
    # --- the sweep (focusd.af.sweep)
    direction: int = 1  #: +1 towards near (larger dioptres), -1 towards infinity
    reversed: bool = False  #: the sweep has turned round once
    resume_at: float | None = None  #: D: after turning round, the sweep goes on from here
    dwell_left: int = 0  #: frames the current step is still held
    #: frames a position must be held for its last frame to be wholly there: clean_dwell until the
    #: scan's own frames show that the glass moves earlier (learn_dwell)
    dwell: int = 3
    dwell_evidence: list[int] = field(default_factory=list)  #: what each informative step showed
    # --- the probes (focusd.af.probe)
    plan: list[float] = field(default_factory=list)  #: D: probe commands still to send, one per frame
    #: every position probed this round, with the last frame it was sent in answer to
    probes: list[tuple[float, int]] = field(default_factory=list)
    extensions: int = 0  #: rounds of probes after the first
    fit: PeakFit | None = None  #: the peak fitted to the clean samples
    # --- the arrival (focusd.af.arrive)
    target: float | None = None  #: D: where the lens was sent to lock
    expected: float = 0.0  #: what a clean frame there must come close to
    fallback_target: float | None = None  #: D: the sharpest clean sample, tried if the target fails
    retries: int = 0  #: re-scans after a failed confirmation
