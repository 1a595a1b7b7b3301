"""PROBE: settled samples across the bracket the sweep found, then the peak fitted to them.

Why apart from the sweep: the sweep's settled frames are a step apart; a narrow peak (a real scene
at macro distances: a few tenths of a dioptre wide) lies anywhere between them. The probes fill the
bracket in at probe_step, skipping positions a settled frame has already shown, each held
probe_dwell frames so that its last frame is settled (one position, whatever the mix). They go
across from the end the lens is nearest to, one after another without waiting to see them; once
the last is sent the lens goes straight on to the peak fitted to what has been seen so far, so that
it is already there when the last probes come in. If the sharpest then turns out to be the last
one probed on a side, the probes go on past it (max_extensions). The peak is the vertex of the
Lorentzian fitted to the settled samples around the sharpest (focusd.af.fit), kept within a probe
step of it.
"""

from __future__ import annotations

import math

import numpy as np

from focusd.af.fit import fit_peak
from focusd.af.state import Fail, GoTo, Move, Outcome, ScanState
from focusd.af.sweep import settled_curve, weak_peak
from focusd.af.track import SAME
from focusd.af.tuning import AfTuning


def plan_probes(state: ScanState, tuning: AfTuning, low: float, high: float) -> None:
    """Probes across [low, high] D, probe_step apart at most, from the end nearest the lens,
    leaving out positions a settled frame has already shown."""
    count = max(1, math.ceil((high - low) / tuning.probe_step - 1e-9)) + 1
    seen, _ = settled_curve(state)
    positions = [float(p) for p in np.linspace(low, high, count)
                 if not (seen.size and np.min(np.abs(seen - p)) < tuning.probe_step / 2)]
    if abs(state.track.last_command - high) < abs(state.track.last_command - low):
        positions.reverse()
    state.low, state.high = low, high
    state.plan = [p for p in positions for _ in range(tuning.probe_dwell)]
    state.probes = []


def _extend(state: ScanState, tuning: AfTuning, lens_range, towards: int) -> bool:
    """Two more probes past the side the sharpest is on; False if the range ends there."""
    low, high = lens_range
    edge = state.high if towards > 0 else state.low
    positions: list[float] = []
    for i in (1, 2):
        p = min(max(edge + towards * tuning.probe_step * i, low), high)
        if abs(p - edge) > SAME and all(abs(p - q) > SAME for q in positions):
            positions.append(p)
    if not positions:
        return False
    state.extensions += 1
    if towards > 0:
        state.high = positions[-1]
    else:
        state.low = positions[-1]
    state.plan = [p for p in positions for _ in range(tuning.probe_dwell)]
    return True


def _seen(state: ScanState, position: float) -> bool:
    return any(s.settled is not None and abs(s.settled - position) <= SAME for s in state.samples)


def probe(state: ScanState, tuning: AfTuning, lens_range: tuple[float, float]) -> Outcome:
    track = state.track
    if state.plan:
        target = state.plan[0]
        if abs(track.last_command - target) > tuning.max_slew + SAME:
            return Move(target)  # still on the way to the first probe: the dwell starts there
        state.plan.pop(0)
        if not state.probes or abs(state.probes[-1] - target) > SAME:
            state.probes.append(target)
        return Move(target)
    positions, values = settled_curve(state)
    best = int(np.argmax(values))
    top_at, top = float(positions[best]), float(values[best])
    lowest = min(float(values.min()), min(s.value for s in state.samples))
    weak = weak_peak(state, tuning, top, lowest)
    fit = fit_peak(positions, values, tuning.fit_fraction, bounds=lens_range)
    low, high = lens_range
    target = top_at if fit is None else min(max(fit.position, top_at - tuning.probe_step), top_at + tuning.probe_step)
    target = min(max(target, low), high)
    if not all(_seen(state, p) for p in state.probes):
        # the last probes are still on their way: the lens goes on to the peak seen so far
        return Move(target)
    if weak is not None:
        return Fail(weak)
    probed = positions[(positions >= state.low - SAME) & (positions <= state.high + SAME)]
    if state.extensions < tuning.max_extensions and probed.size:
        for towards, edge, end in ((1, float(probed.max()), high), (-1, float(probed.min()), low)):
            if abs(top_at - edge) <= SAME and abs(edge - end) > SAME and _extend(state, tuning, lens_range, towards):
                return probe(state, tuning, lens_range)
    state.fit = fit
    return GoTo(target, top, top_at)
