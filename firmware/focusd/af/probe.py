"""PROBE: clean samples in the gaps beside the sharpest frame the sweep held, and the peak fitted.

Why apart from the sweep: the sweep's clean frames are a step (1 D) apart; a narrow peak (a real
scene at macro distances: a few tenths of a dioptre wide) lies anywhere between them. So the probes
go into the gaps beside the sharpest held frame, and beside any held frame of at least
resolve_ratio of it (a scalloped top, a second maximum close by), probe_step apart from the sharp
side, gap_probes per gap; a gap between two frames both that sharp is filled (the top may be
anywhere in it). Each is held like the sweep's steps, so that its last frame is wholly at it
whatever the mix; they go from the end the lens is nearest to, one after another without waiting
to see them, and once the last is sent the lens goes straight on to the peak fitted to what has
been seen so far, so that it is already there when the last probes come in. Then, once
(max_extensions): if the sharpest sample still has a gap beside it wider than 1.5 probe steps and
than the fitted top's width, the probes went into the wrong gaps and a narrow top may hide there
(a real stack's peak a few tenths of a dioptre wide, or asymmetric): it is probed; otherwise, if
the fitted top lies between probes, it is probed. The peak is the vertex of the Lorentzian fitted
over the top (focusd.af.fit, with fit_reach: dips and all).
"""

from __future__ import annotations

import math

import numpy as np

from focusd.af.fit import fit_peak
from focusd.af.state import Fail, GoTo, Move, Outcome, ScanState
from focusd.af.sweep import held_curve, weak_peak
from focusd.af.track import SAME
from focusd.af.tuning import AfTuning


def gaps(state: ScanState, tuning: AfTuning, lens_range) -> list[float]:
    """Probes the held samples call for: in every gap wider than 1.5 probe steps next to
    a sample of at least resolve_ratio of the sharpest and within probe_reach of it, probe_step
    apart from that sample's side, at most gap_probes per gap (all the gap needs if both its
    samples are that sharp). A gap between the sharpest and an end of the range counts too."""
    positions, values = held_curve(state)
    order = np.argsort(positions, kind="stable")
    x, v = positions[order], values[order]
    best = int(np.argmax(v))
    top, top_at = float(v[best]), float(x[best])
    low, high = lens_range
    # the ends of the range bound the outermost gaps (nothing is measured there: never the high side)
    x = np.concatenate([[low], x, [high]])
    v = np.concatenate([[-np.inf], v, [-np.inf]])
    out: list[float] = []
    step = tuning.probe_step
    for a, b, va, vb in zip(x[:-1], x[1:], v[:-1], v[1:]):
        width = float(b - a)
        if width <= 1.5 * step:
            continue
        if min(abs(a - top_at), abs(b - top_at)) > tuning.probe_reach:
            continue
        if top_at not in (a, b) and max(va, vb) < tuning.resolve_ratio * top:
            continue
        spacing = width / (math.ceil(width / step - 1e-9))
        count = math.ceil(width / step - 1e-9) - 1
        if min(va, vb) < tuning.resolve_ratio * top:
            count = min(tuning.gap_probes, count)
        # else: between two samples nearly as sharp as the sharpest the top may be anywhere: filled
        if va >= vb:
            out += [float(a + spacing * k) for k in range(1, count + 1)]
        else:
            out += [float(b - spacing * k) for k in range(1, count + 1)]
    return out


def open_sides(positions: np.ndarray, top_at: float, tuning: AfTuning, lens_range, width: float) -> list[float]:
    """A probe a probe_step from the sharpest sample into each gap beside it still wider than 1.5
    probe steps and than the top's fitted ``width`` (an end of the range bounds a gap too): a
    narrow top may hide in a gap the fit has not seen; a gap narrower than the top cannot hide it."""
    out = []
    low, high = lens_range
    below = positions[positions < top_at - SAME]
    above = positions[positions > top_at + SAME]
    nearest_below = float(below.max()) if below.size else low
    nearest_above = float(above.min()) if above.size else high
    wide = max(1.5 * tuning.probe_step, width)
    if top_at - nearest_below > wide:
        out.append(top_at - tuning.probe_step)
    if nearest_above - top_at > wide:
        out.append(top_at + tuning.probe_step)
    return out


def plan_probes(state: ScanState, tuning: AfTuning, lens_range) -> bool:
    """Plan the probes ``gaps`` calls for, from the end nearest the lens; False if none."""
    positions = sorted(gaps(state, tuning, lens_range))
    if not positions:
        return False
    if abs(state.track.last_command - positions[-1]) < abs(state.track.last_command - positions[0]):
        positions.reverse()
    _send(state, positions)
    return True


def _send(state: ScanState, positions: list[float]) -> None:
    state.plan = [p for p in positions for _ in range(state.dwell)]
    state.probes = []


def _seen(state: ScanState, position: float) -> bool:
    return any(abs((s.at(state.dwell) if s.at(state.dwell) is not None else math.inf) - position) <= SAME
               for s in state.samples)


def probe(state: ScanState, tuning: AfTuning, lens_range: tuple[float, float]) -> Outcome:
    track = state.track
    if state.plan:
        target = state.plan[0]
        if abs(track.last_command - target) > tuning.max_slew + SAME:
            return Move(target)  # still on the way to the first probe: the dwell starts there
        state.plan.pop(0)
        sequence = track.latest_sequence
        if not state.probes or abs(state.probes[-1][0] - target) > SAME:
            state.probes.append((target, sequence))
        else:
            state.probes[-1] = (target, sequence)  # still holding it: the last frame it was sent in
        return Move(target)
    positions, values = held_curve(state)
    best = int(np.argmax(values))
    top_at, top = float(positions[best]), float(values[best])
    weak = weak_peak(state, tuning)
    fit = fit_peak(positions, values, tuning.fit_fraction, bounds=lens_range, reach=tuning.fit_reach)
    low, high = lens_range
    target = top_at if fit is None else fit.position
    target = min(max(target, low), high)
    # a probe is awaited until its held frame has had time to show (the metadata's lag, the
    # dwell, two frames more): a camera that dropped frames meanwhile may never show it
    lag = track.metadata_lag if track.trusted and track.metadata_lag is not None else track.told_latency + 1
    awaited = [p for p, sent in state.probes if not _seen(state, p)
               and track.latest_sequence <= sent + lag + state.dwell + 2]
    if awaited:
        # the last probes are still on their way: the lens goes on to the peak seen so far
        return Move(target if abs(target - track.last_command) > tuning.lock_tolerance else None)
    if weak is not None:
        return Fail(weak)
    if state.extensions < tuning.max_extensions:
        # the sharpest sample with a wide gap beside it (the probes went into the other gaps
        # first), or the fitted top between probes: look there
        width = fit.width if fit is not None and math.isfinite(fit.width) else 0.0
        more = open_sides(positions, top_at, tuning, lens_range, width)
        if not more and fit is not None and np.min(np.abs(positions - target)) > tuning.probe_step / 2:
            more = [target]
        if more:
            state.extensions += 1
            _send(state, more)
            return probe(state, tuning, lens_range)
    state.fit = fit
    if abs(target - track.last_command) <= tuning.lock_tolerance:
        target = track.last_command  # near enough: the lens stays where it is going
    return GoTo(target, top, top_at)
