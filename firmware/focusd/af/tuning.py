"""The autofocus engine's tuning: numbers with units and defaults, apart from the logic.

Every field is documented with its unit. Lens positions and steps are dioptres (D), time is frames
(never seconds: the engine has no clock). Fractions are of the lores frame (window) or of a focus
measure (ratios). The defaults are what the benchmark's default suite was tuned on. Any of them
may be passed by name to ``AutofocusEngine(**tuning)``; the configuration file exposes only a few
(``[af]`` in focusd.config): window, fallback, and continuous AF's lock-on as lock_on_delay_frames
(retrigger_frames), lock_on_threshold (follow_ratio) and refocus_threshold (retrigger_ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from focusd.errors import ConfigError

#: The stock libcamera AF window: middle half of the width, middle third of the height (x, y, w, h).
STOCK_WINDOW: tuple[float, float, float, float] = (0.25, 1 / 3, 0.5, 1 / 3)

FALLBACKS = ("start", "hyperfocal", "infinity")


@dataclass(frozen=True)
class AfTuning:
    """Tuning of the hill-climbing contrast AF (see focusd.af.engine for what each stage does)."""

    # --- the focus measure (focusd.af.measure) -------------------------------------------------
    window: tuple[float, float, float, float] = STOCK_WINDOW
    """AF window (x, y, w, h) as fractions of the lores frame. Default: the stock centre window."""
    measure: str = "gradient"
    """Focus measure: "gradient" (squared 1-px differences, x and y) or "laplacian" (squared
    4-neighbour Laplacian). Both are normalised by the window's mean level squared."""
    dark_level: float = 4.0
    """Mean window level (0-255 code values) below which a frame counts as too dark to focus on."""

    # --- the scan (focusd.af.scan, focusd.af.search) -----------------------------------------------------
    max_slew: float = 1.5
    """D: how far one LensPosition write moves the IPA's lens state (the profile's max_slew,
    focusd.lens_path; imx708: 1.5). A longer move sent once is finished only by the IPA's
    controller, at most at 30 Hz."""
    likely_position: float = 1.5
    """D: where subjects most often are (about 0.7 m; most photographs are of subjects beyond half
    a metre). A scan starting nearer than this first looks further away, and vice versa."""
    hold_first_move: bool = True
    """Hold the first move for one frame, so that the frame after the first moved one is clean:
    then a late first change can be told from an invisible first move (a latency one frame longer
    than told is caught at once) and the motion blend can be measured. Costs a frame per scan."""
    first_step: float = 1.5
    """D per frame: the step of the blind moves made before the first moved frame is seen."""
    coarse_step: float = 1.0
    """D per frame: the climbing step while the measure is flat (far from the peak)."""
    max_step: float = 2.0
    """D per frame: largest step the climb grows to on a long flat stretch."""
    fine_step: float = 0.5
    """D per frame: the climbing step once the measure is rising steeply (near the peak)."""
    convex_ratio: float = 0.8
    """While the log-rate of rise of the measure stays above this fraction of the one before (the
    log curve is still convex: a flank), the climb keeps coarse steps; once it slows, fine ones."""
    shoulder_ratio: float = 2.0
    """Until the measure is this factor above the lowest seen in the scan, the climb is far out on
    a flank, where the measure is mostly noise and its rate of rise says nothing: the step grows
    towards max_step as long as the measure is not falling."""
    flat_ratio: float = 1.05
    """Successive samples within this factor mean 'flat': the step grows towards max_step."""
    onset_change: float = 0.03
    """The first frame whose measure differs from the still frames at the start by more than this
    fraction (and the noise) is taken as the first one exposed after the lens moved: the latency."""
    motion_blend: float = 0.1
    """Frames: how far behind its command the lens is, on average, during the exposure of the
    first frame after a move (the lens moves at the start of that frame's exposure and settles in a
    few ms): 0 for exposures much shorter than the frame, up to about 0.25 for exposures as long as
    the frame. Added to the latency when frames are attributed to positions. Only the default: each
    scan measures it on its first move (which the lens holds for a frame) when that move is clear."""
    hold_blend: float = 0.3
    """Frames: with a motion blend at least this large (the first frame after a move mostly shows
    the old position) the probes are held a frame each and the arrival is judged on its second
    frame, so that the refit and the confirmation see clean frames."""
    blend_jump: float = 2.1
    """D: a frame whose exposure may have seen a lens move longer than this (a jump) is left out
    of the fits: it blends every position along the way."""
    pass_drop: float = 0.06
    """The peak counts as passed when a sample beyond the best one is this fraction below it
    (or more: never less than noise_sigmas times the measured noise)."""
    pass_margin: float = 0.6
    """D: how far beyond the best sample the climb must have seen before the peak counts as passed."""
    reverse_margin: float = 1.0
    """D: how far the measure must have kept falling from the start before the scan turns round
    (a dip between two subjects is not a reason to turn)."""
    resume_ratio: float = 1.15
    """A frame seen beyond the fitted peak (still in flight when the climb turned back) that is
    this factor sharper than anything before, or than the confirmed peak, means the peak was a
    lesser one (two subjects at different depths): the climb goes on from there, once."""
    noise_sigmas: float = 4.0
    """How many standard deviations of the measure's frame-to-frame noise a change must exceed
    to count (noise is measured on the frames seen before the lens first moved)."""
    noise_jitter: float = 0.01
    """The focus measure is taken to scatter from frame to frame by at least this fraction of its
    noise part (the noise energy of a window of tens of thousands of pixels varies by ~1%)."""
    fit_fraction: float = 0.7
    """Samples at or above this fraction of the best measure take part in the peak fit."""
    min_peak_ratio: float = 1.25
    """FAILED unless the best measure is at least this factor above the lowest seen (a curve
    flatter than this is noise or a featureless scene)."""
    min_signal: float = 0.25
    """FAILED unless the sharpest frame's scene contrast (the measure less its noise part) is at
    least this fraction of the noise part: below it the curve is noise (dark, featureless)."""
    latency_check_ratio: float = 1.08
    """On arriving at the fitted peak, the arrival frame must stand out from the overshoot frames
    by this factor for the latency to be checked from the data; otherwise the told latency holds."""
    confirm_ratio: float = 0.8
    """FOCUSED only if the first clean frame at the final position measures at least this fraction
    of the sharpest seen; otherwise the search starts again (max_retries) around it."""
    bracket: bool = True
    """After the fit, probe where the top is unknown (known_gap) before settling on the peak
    (more accurate on a coarse or noisy curve; costs the probes' frames); False: straight there."""
    known_gap: float = 0.9
    """D: a side of the fitted peak whose nearest sample is further than this gets a probe at
    refine_step before the lens goes to the peak (0, 1 or 2 probes: only where the top is unknown)."""
    trim_limit: float = 0.15
    """D: a refit at the peak that moves it by more than lock_tolerance and at most this is sent
    with the lock, without waiting to see it (the frame just seen there was confirmed sharp, and a
    trim this small stays inside the depth of field); a larger one is a new arrival."""
    lock_tolerance: float = 0.05
    """D: a refit at the peak closer than this to where the lens is is not acted on at all."""
    refine_step: float = 0.4
    """D: how far beyond the fitted peak a probe goes."""
    max_frames: int = 60
    """Frames after which a scan gives up (FAILED, "timeout"): the bound every scan ends within."""
    max_retries: int = 1
    """How many times a failed confirmation may restart the search before FAILED."""
    fallback: str | float = "start"
    """Where FAILED leaves the lens: "start" (where the scan began), "hyperfocal", "infinity"
    (the far end of the AF range: its minimum in dioptres), or a number of dioptres."""
    hyperfocal: float = 0.25
    """D: the hyperfocal position used by fallback "hyperfocal" (IMX708 at f/1.8 with a 2-pixel
    circle of confusion: about 4.5 m)."""

    # --- continuous AF (focusd.af.continuous) ---------------------------------------------------
    follow_ratio: float = 0.12
    """Continuous: a change of the focus measure by more than this fraction of its locked value
    (either way, and never less than noise_sigmas times its scatter after the lock) counts as a
    change; sustained, the servo follows it with small steps."""
    retrigger_ratio: float = 0.5
    """Continuous: a fall of the measure by more than this fraction counts as a large change
    (the subject is gone or far off): sustained, a new scan starts from where the lens is."""
    scene_change: float = 0.12
    """Continuous: a change of the window's coarse brightness pattern (mean absolute difference of
    its block means, as a fraction of the mean level) by more than this counts as a new scene."""
    retrigger_frames: int = 6
    """Continuous: how many successive changed frames before acting (the lock-on delay)."""
    track_step: float = 0.3
    """Continuous: D, peak to peak, of the servo's dither around the subject."""
    settle_velocity: float = 0.006
    """Continuous: D per frame below which the followed subject counts as still."""
    settle_frames: int = 12
    """Continuous: frames the subject must stay still before the servo settles and locks again."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            key, reason = problems[0]
            raise ConfigError(f"af.{key}", reason)

    def problems(self) -> list[tuple[str, str]]:
        """Each invalid field as (name, reason); empty when all are valid."""
        out: list[tuple[str, str]] = []
        if len(self.window) != 4:
            out.append(("window", "must be four fractions (x, y, w, h)"))
        else:
            x, y, w, h = (float(v) for v in self.window)
            if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1 + 1e-9
                    and y + h <= 1 + 1e-9):
                out.append(("window", f"{self.window} is not inside the frame (fractions 0-1)"))
        if self.measure not in ("gradient", "laplacian"):
            out.append(("measure", f"{self.measure!r} is not 'gradient' or 'laplacian'"))
        positive = ("first_step", "coarse_step", "max_step", "fine_step", "pass_margin", "reverse_margin",
                    "track_step", "refine_step", "settle_velocity", "blend_jump", "lock_tolerance", "trim_limit")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                out.append((name, f"must be a positive number of dioptres, not {value!r}"))
        if isinstance(self.blend_jump, (int, float)) and isinstance(self.max_step, (int, float)) \
                and self.blend_jump <= self.max_step:
            out.append(("blend_jump", f"must exceed max_step ({self.max_step} D): a climbing step is not a jump"))
        for name in ("resume_ratio", "flat_ratio", "shoulder_ratio", "min_peak_ratio", "latency_check_ratio"):
            if not getattr(self, name) >= 1.0:
                out.append((name, "must be a ratio >= 1"))
        if not (isinstance(self.motion_blend, (int, float)) and 0 <= self.motion_blend < 1):
            out.append(("motion_blend", "must be a fraction of a frame, 0 <= motion_blend < 1"))
        for name in ("dark_level", "likely_position", "hyperfocal"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                out.append((name, f"must be a number >= 0, not {value!r}"))
        for name in ("convex_ratio", "min_signal", "noise_jitter", "onset_change", "pass_drop", "fit_fraction",
                     "confirm_ratio", "follow_ratio", "retrigger_ratio", "scene_change"):
            if not 0 < getattr(self, name) < 1:
                out.append((name, "must be a fraction between 0 and 1"))
        for name in ("max_frames", "retrigger_frames", "settle_frames"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                out.append((name, "must be a whole number of frames >= 1"))
        if not (isinstance(self.max_retries, int) and self.max_retries >= 0):
            out.append(("max_retries", "must be a whole number >= 0"))
        if isinstance(self.fallback, str):
            if self.fallback not in FALLBACKS:
                out.append(("fallback", f"{self.fallback!r} is not one of {', '.join(FALLBACKS)} or a number"))
        elif not (isinstance(self.fallback, (int, float)) and math.isfinite(self.fallback)):
            out.append(("fallback", "must be 'start', 'hyperfocal', 'infinity' or dioptres"))
        return out

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
