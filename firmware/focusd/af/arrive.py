"""ARRIVE: the lens goes to the peak, and FOCUSED waits for a clean frame there that confirms it.

Why apart: reporting FOCUSED is a promise to the rest of the camera (the LED goes steady, a
focus-priority shutter fires and takes the next frame), so when it may be made is kept in one
place: only on a frame exposed wholly at the lock (focusd.af.track: the three lens states its
exposure may have seen are all the lock), once that frame measures at least confirm_ratio of the
sharpest probe (clean against clean: a mixed or noisy frame is never the reference). The next
frame is then clean too: the metadata already shows no move after it. If the fitted peak does not
confirm, the sharpest probe itself is tried; if that does not either, the scene has changed.
"""

from __future__ import annotations

from focusd.af.state import GoTo, Lock, Move, Outcome, Rescan, ScanState
from focusd.af.sweep import jitter
from focusd.af.track import SAME
from focusd.af.tuning import AfTuning


def arrive(state: ScanState, tuning: AfTuning) -> Outcome:
    track = state.track
    target = state.target
    if abs(track.last_command - target) > SAME:
        return Move(target)  # still on the way (a move longer than max_slew takes several writes)
    latest = state.samples[-1]
    if latest.clean is None or abs(latest.clean - target) > SAME:
        return Move(None)
    allowance = tuning.noise_sigmas * jitter(state, tuning, state.expected)
    if latest.value >= tuning.confirm_ratio * state.expected - allowance:
        return Lock(target)
    fallback = state.fallback_target
    if fallback is not None and abs(fallback - target) > SAME:
        return GoTo(fallback, state.expected)  # exactly there: on a narrow peak hundredths of a D matter
    return Rescan(f"could not confirm the peak ({latest.value:.3g} < {tuning.confirm_ratio} x {state.expected:.3g})")
