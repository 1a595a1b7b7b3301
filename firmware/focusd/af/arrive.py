"""The end of a scan: the lens goes to the peak, and FOCUSED waits until a frame shows it there.

Why apart from focusd.af.scan: reporting FOCUSED is a promise to the rest of the camera (the LED
goes steady, a focus-priority shutter fires and takes the next frame), so when it may be made is
kept in one place: only once a frame exposed at the final position has been seen and is sharp.
Reporting it when the last command is sent would be a lie for latency + 1 frames. A mixin, like
Scan, because it reads and writes the scan's lens history and samples.
"""

from __future__ import annotations

import logging

from focusd.af.measure import Measurement
from focusd.af.phase import Phase

log = logging.getLogger("focusd.af")


class Arrive:
    """The ARRIVE phase of AutofocusEngine (a mixin: it uses the scan's state and helpers)."""

    def _arrive_at(self, sequence: int, final: float, expected: float) -> float | None:
        """Send the lens to the peak; FOCUSED only once a frame exposed there has been seen and is
        sharp (_arrive). Reporting it on the command would be a lie for latency + 1 frames: the
        LED would say focused and a focus-priority shutter would fire on a blurred frame."""
        history = self._history
        final = self._clamp(final)
        if abs(final - history.last_command) <= self.tuning.trim_limit:
            # near enough: the lens stays where it is going; the refit there trims it (_arrive)
            final = history.last_command
        self.phase = Phase.ARRIVE
        self._final = final
        self._arrival_expected = expected
        moves = abs(final - history.last_command) > 1e-9
        commanded = sequence if moves or history.last_sequence is None else history.last_sequence
        # the move that brings the lens there: this one, or the last one sent (it may still be in
        # flight: the probes' queue ends with the peak)
        if moves:
            travel = abs(final - history.last_command)
        else:
            travel = abs(history.last_command - history.commanded_at(commanded - 1))
        # the first frame exposed after the move; after a long jump, or when a frame after a move
        # is mostly the old position (a large blend), the one after it: the first saw the way there,
        # and is neither a sample of the peak nor a confirmation of it
        blurred = travel > 1e-9 and self._blend >= self.tuning.hold_blend
        jump = travel > self.tuning.blend_jump or blurred
        self._arrival_first = commanded + round(self._latency) + 1 + (1 if jump else 0)
        self._arrival_last = self._arrival_first + 1 + (1 if travel > 1e-9 and self._blend > 0.0 else 0)
        if not moves and sequence >= self._arrival_first:
            return self._arrive(sequence, self._measurement, record=False)
        return final

    def _arrive(self, sequence: int, measurement: Measurement, record: bool = True) -> float | None:
        value = self._signal(measurement)
        if record:
            self._samples.append((sequence, value))
        if sequence < self._arrival_first:
            return None
        resumed = self._sharper_beyond(value)
        if resumed is not None:
            return resumed
        trim = None
        if self._refits_left > 0:
            # the frame at the peak is a sample too: refit with it
            self._refits_left -= 1
            positions, values = self._observed()
            fit = self._fit_samples(positions, values)
            shift = abs(fit.position - self._final) if fit is not None else 0.0
            if fit is not None and self.tuning.trim_limit < shift <= 2 * self.tuning.refine_step:
                # a clear correction: go there and look again (once)
                log.debug("af refit at the peak: %.3f -> %.3f D", self._final, fit.position)
                self._fit = fit
                return self._arrive_at(sequence, fit.position, max(self._arrival_expected, float(values.max())))
            if fit is not None and self.tuning.lock_tolerance < shift <= self.tuning.trim_limit:
                trim = self._clamp(fit.position)
        if value >= self.tuning.confirm_ratio * self._arrival_expected:
            self._lock(measurement)
            if trim is not None:
                # confirmed sharp here; the trim, inside the depth of field, goes out with the lock
                log.debug("af trim at the lock: %.3f -> %.3f D", self._final, trim)
                self._final = trim
            self.lock_position = self._final
            return trim
        if sequence < self._arrival_last:
            return None  # the first frame there may still have seen the move (or the latency is a frame longer)
        return self._confirm_failed(value, self._arrival_expected)
