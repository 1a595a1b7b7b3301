"""The scan: from AF-ON to a fitted, bracketed peak (or a reason to fail).

Why apart from focusd.af.engine: the engine is the contract surface and the result/continuous
logic; this is the search itself, in the order it runs (see the engine's docstring for the prose):
PRIME (noise, first blind moves, the held first move), CLIMB (adaptive steps, peak passed?),
RETURN (probes where the top is unknown, the latency checked on the way, the refit) and ARRIVE (a
clean frame at the peak confirms it, the lock). A mixin, not a class of its own, because every step reads and writes the one lens
history and sample list the engine keeps per scan.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from focusd.af.measure import Measurement
from focusd.af.phase import Phase
from focusd.af.search import (
    LensHistory,
    PeakFit,
    arrival_latency,
    fit_peak,
)

log = logging.getLogger("focusd.af")

#: The largest motion blend (frames) believed. A voice-coil lens settles within a few ms, but when in
#: the frame it starts moving (the driver's write, the rolling shutter's rows) is a device fact: the
#: first frame after a move may be mostly the old position.
MAX_BLEND = 0.9


class Scan:
    """The scan half of AutofocusEngine (a mixin: it uses the engine's tuning, history, clamp)."""

    def _reset_scan(self, start: float) -> None:
        self._history = LensHistory(start)
        self._samples: list[tuple[int, float]] = []
        self._raw: list[Measurement] = []
        self._first_sequence: int | None = None
        self._noise = 0.0
        self._start = start
        self._direction = 1
        self._step = self.tuning.first_step
        self._reversed = False
        self._fit: PeakFit | None = None
        self._jump_sequence = 0
        self._final = start
        # the latency this scan believes: the told one until the data shows otherwise
        estimate = self.statistics.latency_estimate if hasattr(self, "statistics") else None
        self._latency = float(self.latency_frames if estimate is None else estimate)
        self._onset_pending = True
        self._latency_seen = False  # the first move showed the latency (then the jump back need not)
        # the lens holds its first move for one frame, so that the frame after the first moved one
        # is clean and the blend of the moved one can be measured (_detect_onset)
        self._hold_pending = self.tuning.hold_first_move
        self._held = self.tuning.hold_first_move
        self._resumed = False
        self._probe_queue: list[float | None] = []
        self._refits_left = 1
        self._bracket_last = 0
        self._jump_length = 0.0
        self._blend = self.tuning.motion_blend

    def _begin_scan(self, start: float, noise: float | None) -> None:
        self._reset_scan(start)
        # every scan (the first, a retry, a re-scan in continuous mode) ends within max_frames
        self._scan_began_at = self.statistics.frames
        low, high = self.lens_range
        # subjects are most often beyond half a metre: from nearer than that, look further first
        likely = min(max(self.tuning.likely_position, low), high)
        if start > likely + 1e-9:
            self._direction = -1
        elif start < likely - 1e-9:
            self._direction = 1
        else:
            self._direction = 1 if high - start >= start - low else -1
        if noise is not None:
            self._noise = noise
        self._noise_known = noise is not None
        self.statistics.scans += 1
        self.phase = Phase.PRIME

    def _signal(self, measurement: Measurement) -> float:
        """The focus measure less its noise part (kept positive for the log fit)."""
        return max(measurement.focus - self._noise, 1e-3 * max(self._noise, 1e-12), 1e-12)

    def _hold_frames(self) -> int:
        """Frames to hold before the first move so that two frames surely see the start."""
        return 0 if self._noise_known else max(0, 2 - max(self.latency_frames, 1))

    def _prime(self, sequence: int, measurement: Measurement) -> float | None:
        if self._first_sequence is None:
            self._first_sequence = sequence
        self._raw.append(measurement)
        if measurement.level < self.tuning.dark_level and len(self._raw) >= 2:
            return self._fail(f"too dark: window level {measurement.level:.1f} < {self.tuning.dark_level}")
        if not self._noise_known and len(self._raw) == 2:
            self._noise = self._measure.noise_floor(self._raw[0], self._raw[1])
            self._noise_known = True
        if self._noise_known:
            # the samples start once the noise is known; the priming frames saw the start position
            if not self._samples:
                self._samples = [(self._first_sequence + i, self._signal(m)) for i, m in enumerate(self._raw)]
            else:
                self._samples.append((sequence, self._signal(measurement)))
        if sequence - self._first_sequence < self._hold_frames():
            return None
        if self._noise_known:
            self.phase = Phase.CLIMB
        if self._hold_pending and self._history.first_sequence is not None:
            self._hold_pending = False
            return None
        return self._history.last_command + self._direction * self._step

    def _observed(self, latency: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This scan's samples as (positions under ``latency`` whole frames plus the motion blend,
        noise-corrected measures).

        A frame exposed while the lens made a long jump saw the whole path (sharp and blurred
        positions alike) and belongs to no one position: it is left out.
        """
        latency = (self._latency if latency is None else latency) + self._blend
        history = self._history
        whole = math.floor(latency)
        limit = self.tuning.blend_jump
        positions: list[float] = []
        values: list[float] = []
        for seq, value in self._samples:
            arrived = history.commanded_at(seq - whole - 1)
            before = history.commanded_at(seq - whole - 2)
            if abs(arrived - before) > limit:
                continue
            positions.append(history.position(seq, latency))
            values.append(value)
        return np.array(positions), np.array(values)

    def _fit_samples(self, positions: np.ndarray, values: np.ndarray) -> PeakFit | None:
        """The peak fitted to this scan's samples (as _observed attributes them)."""
        return fit_peak(positions, values, self.tuning.fit_fraction, bounds=self.lens_range)

    def _detect_onset(self, sequence: int) -> None:
        """Learn the latency and the motion blend from the first move, which the lens holds.

        Frames up to first command + told latency - 1 show the start position under every
        hypothesis (told +- 1). The first frame after them whose measure moves clearly away is the
        first one exposed after the lens moved (the latency), and the next one, exposed while the
        lens held its first position, must agree with it (else the first move was invisible, say
        from one flank of the peak to the other, and the told latency stands). The moved frame is
        a mix of the start and held images: the high-frequency amplitude (square root of the
        measure) of a mix is the mix of the amplitudes, which gives the motion blend.
        """
        first = self._history.first_sequence
        if not self._onset_pending or first is None:
            return
        told = self.latency_frames
        still_end = first + max(told - 1, 0)
        still = [v for seq, v in self._samples if seq <= still_end]
        if len(still) < 2:
            return
        reference = float(np.mean(still))
        threshold = max(self.tuning.onset_change * reference, self.tuning.noise_sigmas * self._jitter())
        onset = next((seq for seq, v in self._samples if seq > still_end and abs(v - reference) > threshold), None)
        if onset is None:
            if sequence >= first + told + 3:
                self._onset_pending = False  # the first move changed nothing visible
            return
        values = dict(self._samples)
        if onset + 1 not in values:
            return  # wait for the held frame
        self._onset_pending = False
        moved, held = values[onset], values[onset + 1]
        latency = onset - first - 1
        start_amplitude, moved_amplitude, held_amplitude = math.sqrt(reference), math.sqrt(moved), math.sqrt(held)
        blend = None
        if abs(held_amplitude - start_amplitude) >= 0.1 * max(held_amplitude, start_amplitude):
            blend = (held_amplitude - moved_amplitude) / (held_amplitude - start_amplitude)
        # the moved frame must be mostly the held image: a lens settles in a few ms of a frame
        # (a blend well below 0 means the move crossed the peak, where amplitudes do not mix
        # monotonically: it says nothing about the blend)
        agrees = (moved - reference) * (held - reference) > 0 and (blend is None or -0.05 <= blend <= MAX_BLEND)
        if not self._held:
            # without the hold a late change may only be a move that changed nothing visible: only
            # an early one is sure (the jump back to the peak settles the late case)
            agrees, blend = latency <= told, None
        if not agrees or not told - 1 <= latency <= told + 1:
            log.debug("af first move inconclusive (frame %d): latency stays %d", onset, told)
            return
        if latency != self._latency:
            log.debug("af latency: first moved frame %d says %d frames (told %d)", onset, latency, told)
        self._latency = float(latency)
        self._latency_seen = True
        self.statistics.latency_estimate = self._latency
        if blend is not None:
            self._blend = min(max(blend, 0.0), MAX_BLEND)
            log.debug("af motion blend %.2f frames", self._blend)

    def _climb(self, sequence: int, measurement: Measurement) -> float | None:
        tuning = self.tuning
        self._samples.append((sequence, self._signal(measurement)))
        self._detect_onset(sequence)
        positions, values = self._observed()
        latest_position, latest = positions[-1], values[-1]
        best_index = int(np.argmax(values))
        best_position, best = positions[best_index], values[best_index]
        first = self._history.first_sequence
        moved = first is not None and sequence >= first + self._latency + 1
        direction = self._direction
        if moved and len(values) >= 2:
            self._adapt_step(positions, values)
            drop = max(tuning.pass_drop * best, tuning.noise_sigmas * self._jitter())
            beyond = direction * (latest_position - best_position)
            fallen = latest <= best - drop
            if beyond >= tuning.pass_margin - 1e-9 and fallen:
                behind = direction * (positions - best_position) < -1e-6
                if behind.any() and values[behind].min() <= best - drop / 2:
                    fit = self._fit_samples(positions, values)
                    if fit is not None:
                        return self._go_to_peak(sequence, fit)
                if not self._reversed and beyond >= tuning.reverse_margin - 1e-9 and latest <= values.min() + 1e-12:
                    # the first moves made it worse and kept doing so: the peak is behind the start
                    self._reversed = True
                    self._direction = -direction
                    self._step = tuning.coarse_step
                    side = positions.min() if self._direction < 0 else positions.max()
                    return side + self._direction * self._step
        return self._next_climb_command(sequence, positions, values)

    def _adapt_step(self, positions: np.ndarray, values: np.ndarray) -> None:
        """Choose the next step from the shape of the last three samples along the way.

        Along a focus curve the log of the measure is convex out on the flanks and concave over
        the top (for a Lorentzian the change is at one half-width from the peak). So while the
        measure rises at a steady or growing log-rate the peak is still far (the step grows up to
        max_step); once the rise slows, the top is near (fine_step); while it is flat, grow.
        """
        tuning = self.tuning
        path = self._recent_path(positions, values, 3)
        if len(path) < 3:
            return
        (x1, v1), (x2, v2), (x3, v3) = path
        rate_before = math.log(max(v2, 1e-12) / max(v1, 1e-12)) / abs(x2 - x1)
        rate_now = math.log(max(v3, 1e-12) / max(v2, 1e-12)) / abs(x3 - x2)
        flat = math.log(tuning.flat_ratio)
        # far out on a flank the measure is mostly noise and so is its log-rate: until it stands
        # clear of the lowest seen, a slower rise says nothing about the peak being near
        low = float(values.min())
        far = v3 < tuning.shoulder_ratio * max(low, 1e-12)
        if far and v3 >= v2 / tuning.flat_ratio:
            self._step = min(tuning.max_step, max(self._step, tuning.coarse_step) * 1.5)
        elif abs(rate_now) < flat and abs(rate_before) < flat:
            self._step = min(tuning.max_step, max(self._step, tuning.coarse_step) * 1.5)
        elif rate_now > 0 and rate_now >= tuning.convex_ratio * rate_before:
            self._step = min(tuning.max_step, max(self._step, tuning.coarse_step))
        else:
            self._step = tuning.fine_step

    def _recent_path(self, positions: np.ndarray, values: np.ndarray, count: int) -> list[tuple[float, float]]:
        """The last ``count`` samples at distinct positions, if they lie in the scan's direction."""
        path: list[tuple[float, float]] = []
        for x, v in zip(positions[::-1], values[::-1]):
            if path and abs(x - path[-1][0]) <= 0.05:
                continue
            if path and self._direction * (path[-1][0] - x) <= 0:
                break
            path.append((float(x), float(v)))
            if len(path) == count:
                break
        return path[::-1]

    def _previous_distinct(self, positions: np.ndarray, values: np.ndarray) -> tuple[float, float] | None:
        latest = positions[-1]
        for index in range(len(positions) - 2, -1, -1):
            if abs(positions[index] - latest) > 0.02:
                return float(positions[index]), float(values[index])
        return None

    def _jitter(self) -> float:
        """The measure's frame-to-frame scatter (absolute), from the still frames at the start,
        never less than noise_jitter of the noise floor (two frames are a poor sample of it)."""
        first = self._history.first_sequence
        floor = self.tuning.noise_jitter * self._noise
        if first is None:
            return floor
        still = [v for seq, v in self._samples if seq <= first + max(self.latency_frames - 1, 0)]
        if len(still) < 2:
            return floor
        return max(float(np.std(still, ddof=1)), floor)

    def _next_climb_command(self, sequence: int, positions: np.ndarray, values: np.ndarray) -> float | None:
        low, high = self.lens_range
        end = high if self._direction > 0 else low
        target = self._clamp(self._history.last_command + self._direction * self._step)
        if self._hold_pending and self._history.first_sequence is not None:
            self._hold_pending = False
            return None
        if abs(self._history.last_command - end) > 1e-9:
            return target
        # at the end of the range: wait until a frame shows it, then decide
        if abs(positions[-1] - end) > 1e-9:
            return None
        fit = self._fit_samples(positions, values)
        best = int(np.argmax(values))
        if fit is None and abs(positions[best] - end) <= 0.05:
            # the sharpest frame is at the end, with too few positions for a fit: the bracket
            # around the end will tell
            fit = PeakFit(end, float(values[best]), math.inf, 0.0, 1, (end, end))
        if fit is not None and float(values.max()) >= values.min() * self.tuning.min_peak_ratio:
            return self._go_to_peak(sequence, fit)
        if not self._reversed:
            self._reversed = True
            self._direction = -self._direction
            self._step = self.tuning.coarse_step
            side = positions.min() if self._direction < 0 else positions.max()
            return self._clamp(side + self._direction * self._step)
        # the sharpest frame was at the far edge of what the scan has seen (a frame still in flight
        # when it turned round): the peak lies beyond it, not in the range just covered
        edge = positions[best]
        towards = -1 if edge <= positions.min() + 1e-6 else 1 if edge >= positions.max() - 1e-6 else 0
        beyond = self._clamp(edge + towards * self.tuning.fine_step)
        if towards and not self._resumed and abs(beyond - edge) > 1e-6 \
                and float(values.max()) >= values.min() * self.tuning.min_peak_ratio:
            log.debug("af the sharpest frame %.3f D is at the edge of the scan: climbing on past it", edge)
            self._resumed = True
            self._direction = towards
            self._step = self.tuning.fine_step
            return beyond
        return self._fail("no peak in the AF range (flat focus curve)")

    def _contrast_ok(self, fit: PeakFit) -> str | None:
        """A reason to refuse the peak, or None: the sharpest frame seen (not the fit, which may
        extrapolate) must stand out from the rest of the curve and from the noise."""
        _, values = self._observed()
        best = float(values.max())
        if best < values.min() * self.tuning.min_peak_ratio:
            return (f"flat focus curve: best {best:.3g} less than {self.tuning.min_peak_ratio}x "
                    f"the lowest {values.min():.3g}")
        if self._noise > 0 and best < self._noise * self.tuning.min_signal:
            return f"contrast below noise: signal {best:.3g}, noise {self._noise:.3g}"
        return None

    def _go_to_peak(self, sequence: int, fit: PeakFit) -> float | None:
        """Probe the fitted peak where the samples leave its top unknown (the overshoot side first;
        held a frame after a long jump, so that one frame of it is clean), then go to it; the refit
        with the probes may move it (_return), the frame there confirms it (_arrive)."""
        reason = self._contrast_ok(fit)
        if reason is not None:
            return self._fail(reason)
        self._fit = fit
        self._final = fit.position
        self._jump_sequence = sequence
        step = self.tuning.refine_step
        # probe only where the samples leave the top unknown: a side whose nearest sample is
        # further than known_gap from the fitted peak (inside the range) gets a probe. A peak
        # fitted at an end of the range always gets its probe inwards: nothing beyond the end
        # bounds the fit, so only the inside can show that the curve really falls from the end.
        positions, values = self._observed()
        # positions the lens settled at (a frame exposed during a move is attributed between two of
        # them, but it is no sample of the curve there)
        visited = np.array(self._history.visited)
        low, high = self.lens_range
        at_end = min(fit.position - low, high - fit.position) <= 0.05
        sides = []
        for side in (self._direction, -self._direction) if self.tuning.bracket else ():
            beyond = side * (visited - fit.position)
            # (a position within 0.05 D of the fit is the fit's own, not a sample beside it)
            apart = beyond > 0.05
            nearest = float(beyond[apart].min()) if apart.any() else math.inf
            probe = self._clamp(fit.position + side * step)
            if (nearest > self.tuning.known_gap or at_end) and abs(probe - fit.position) >= step / 2:
                sides.append(probe)
        if not sides:
            return self._arrive_at(sequence, fit.position, float(values.max()))
        first, rest = sides[0], sides[1:]
        self._jump_length = abs(first - self._history.last_command)
        # a long jump blurs the first frame at the first probe (it sees the way there): hold it a
        # frame so that one frame of it is clean
        # when the first frame after a move is mostly the old position (a large blend), every probe
        # is held a frame so that one frame of it is clean
        blurred = self._blend >= self.tuning.hold_blend
        hold = abs(first - self._history.last_command) > self.tuning.blend_jump or blurred
        # after the probes the lens goes on to the fitted peak at once, without waiting to see
        # them: the refit usually agrees, and then the lens is already there (None: hold a frame)
        held_rest = [entry for probe in rest for entry in ((probe, None) if blurred else (probe,))]
        self._probe_queue = [None] * hold + held_rest + [fit.position]
        self._bracket_last = sequence + len(self._probe_queue) - 1  # the frame the second probe answers
        self.phase = Phase.RETURN
        return first

    def _return(self, sequence: int, measurement: Measurement) -> float | None:
        self._samples.append((sequence, self._signal(measurement)))
        resumed = self._sharper_beyond(self._fit.value if self._fit else 0.0)
        if resumed is not None:
            return resumed
        if self._probe_queue:
            return self._probe_queue.pop(0)
        told = round(self._latency)
        if sequence < self._jump_sequence + told + 1:
            return None
        expected = self._fit.value if self._fit is not None else 0.0
        latency: int | None = told
        if self._jump_length > 2 * self.tuning.fine_step and not self._latency_seen:
            # only a long jump from the blurred overshoot shows its arrival clearly; the next
            # probe, a short move between two sharp positions, must not be taken for it. Once the
            # first move has shown the latency, the jump is not asked again: an overshoot nearly as
            # sharp as the peak (a peak near an end of the range) shows a late, blurred step
            latency = arrival_latency(dict(self._samples), self._jump_sequence, told, expected,
                                      self.tuning.latency_check_ratio)
        if latency is None:
            if sequence < self._jump_sequence + told + 2:
                return None  # the arrival may be a frame late: wait for it
            latency = told  # no clear arrival even a frame late: the jump told nothing
        latency = min(max(latency, self.latency_frames - 1, 0), self.latency_frames + 1)
        if latency > told and self._blend >= self.tuning.hold_blend:
            latency = told  # the arrival frame was half way: that is the blend, already counted
        if latency != self._latency:
            log.debug("af the jump back arrived after %d frames, not %d", latency, told)
        self._latency = float(latency)
        self.statistics.latency_estimate = float(latency)
        if sequence < self._bracket_last + latency + 1:
            return None
        # the probes seen: refit
        positions, values = self._observed()
        fit = self._fit_samples(positions, values)
        final = self._final
        if fit is not None and abs(fit.position - final) <= 2 * self.tuning.refine_step + self.tuning.fine_step:
            self._fit, final = fit, fit.position
        # the confirmation is the frame at the final position (ARRIVE), not the probes: on a narrow
        # peak both probes may fall well short of it
        value = float(values.max())
        resumed = self._sharper_beyond(value)
        if resumed is not None:
            return resumed
        log.debug("af bracketed %.3f -> %.3f D", self._final, final)
        return self._arrive_at(sequence, final, value)

    def _confirm_failed(self, value: float, expected: float) -> float | None:
        if self._retries < self.tuning.max_retries:
            self._retries += 1
            log.debug("af confirm failed (%.3g < %.2f x %.3g): rescanning", value,
                      self.tuning.confirm_ratio, expected)
            towards = self._fit.position if self._fit is not None else self._lens
            self._begin_scan(self._lens, noise=self._noise)
            self._step = self.tuning.fine_step
            if abs(towards - self._lens) > 1e-6:
                self._direction = 1 if towards > self._lens else -1
            return None
        return self._fail(f"could not confirm the peak ({value:.3g} < {self.tuning.confirm_ratio} x {expected:.3g})")

    def _sharper_beyond(self, value: float) -> float | None:
        """The frames still in flight when the climb turned back saw further on; if one of them is
        clearly sharper than the peak (``value``), that was a lesser peak (two subjects at
        different depths): climb on from the sharper position instead, once."""
        if self._fit is None or self._resumed:
            return None
        positions, values = self._observed()
        beyond = self._direction * (positions - self._fit.position) > self.tuning.pass_margin + self.tuning.refine_step
        if not beyond.any():
            return None
        index = int(np.flatnonzero(beyond)[np.argmax(values[beyond])])
        reference = max(value, float(values[~beyond].max(initial=0.0)))
        if values[index] < self.tuning.resume_ratio * reference:
            return None
        log.debug("af a sharper position %.3f D lies beyond the peak at %.3f D: climbing on",
                  positions[index], self._fit.position)
        self._resumed = True
        self._fit = None
        self._probe_queue = []
        self.phase = Phase.CLIMB
        self._step = self.tuning.fine_step
        return float(positions[index]) + self._direction * self._step
