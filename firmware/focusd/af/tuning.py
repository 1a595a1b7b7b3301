"""The autofocus engine's tuning: numbers with units and defaults, apart from the logic.

Every field is documented with its unit. Lens positions and steps are dioptres (D), time is frames
(never seconds: the engine has no clock). Fractions are of the lores frame (window) or of a focus
measure (ratios). The defaults are what the benchmark's default suite was tuned on (its synthetic
blocks and three of the real stacks; the other three are held out). Any of them may be passed by
name to ``AutofocusEngine(**tuning)``; the configuration file exposes only a few (``[af]`` in
focusd.config.settings): window, fallback, and continuous AF's lock-on as lock_on_delay_frames
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
    """Tuning of the contrast AF (see focusd.af.engine for what each stage does)."""

    # --- the focus measure (focusd.af.measure) -------------------------------------------------
    window: tuple[float, float, float, float] = STOCK_WINDOW
    """AF window (x, y, w, h) as fractions of the lores frame. Default: the stock centre window."""
    measure: str = "gradient"
    """Focus measure: "gradient" (squared 1-px differences, x and y) or "laplacian" (squared
    4-neighbour Laplacian). Both are normalised by the window's mean level squared."""
    dark_level: float = 4.0
    """Mean window level (0-255 code values) below which a frame counts as too dark to focus on."""

    # --- the lens path (focusd.lens_path) -------------------------------------------------------
    max_slew: float = 1.5
    """D: how far one LensPosition write moves the IPA's lens state (the profile's max_slew;
    imx708: 1.5). The engine never sends the lens further than this in one frame, so that every
    write lands whole; a longer move is sent a max_slew at a time, one write per frame."""

    # --- the sweep (focusd.af.sweep) -------------------------------------------------------------
    likely_position: float = 1.5
    """D: where subjects most often are (about 0.7 m; most photographs are of subjects beyond half
    a metre). A sweep starting nearer than this first looks further away, and vice versa."""
    clean_dwell: int = 3
    """Frames a position is held so that its last frame is wholly there whatever the mix: the
    metadata shows the IPA's state; the glass moves during the next frame (one frame of mix) and a
    long exposure's first rows may still see the position before (a second)."""
    learn_dwell: bool = True
    """Hold positions fewer frames once two steps that changed the measure clearly have shown that
    an earlier frame already made the whole change (the mix is a property of the camera's timing,
    the same for a whole scan)."""
    sweep_step: float = 1.0
    """D: the sweep's step (each held clean_dwell frames, fewer once learned). Small enough that a
    narrow real peak (a few tenths of a dioptre) still shows in the clean frames beside it."""
    pass_ratio: float = 0.5
    """The peak counts as passed once a frame beyond it measures less than this fraction of it,
    and a frame on the way to it did too (or the peak is at the end of the range)."""
    pass_margin: float = 0.9
    """D: how far beyond the sharpest clean frame the sweep must have seen a lower one before the
    peak counts as passed (a step, less rounding)."""
    noise_sigmas: float = 6.0
    """How many standard deviations of the measure's frame-to-frame scatter a change must exceed
    to count (the scatter: noise_jitter of the noise part, or what the still frames showed)."""
    noise_jitter: float = 0.01
    """The focus measure is taken to scatter from frame to frame by at least this fraction of its
    noise part (the noise energy of a window of tens of thousands of pixels varies by ~1%)."""
    scene_jitter: float = 0.02
    """...and by at least this fraction of the scene's own contrast (real frames: exposure,
    flicker, compression)."""
    min_peak_ratio: float = 1.5
    """FAILED unless the sharpest frame measures at least this factor above the lowest seen (a
    curve flatter than this is noise or a featureless scene)."""
    min_signal: float = 0.3
    """A peak must stand at least this fraction of the noise part above the lowest frame: the
    noise part moves with the level (a frame that is only brighter can measure 30-50% less in the
    dark), so less than this is no peak (dark, featureless); the sweep goes on past it."""
    noise_level_power: float = 2.0
    """How the noise part moves with the window's level is not known (shot noise, read noise, the
    tone curve, the ISP's denoise): it is taken to scale as level^-p for any p from 0 to this (2:
    a noise of constant code values, as a gamma curve makes shot noise). A peak must stand out
    under every such p; a frame only darker than the still frames at the start may hold more
    noise than they did (the wrong locks on the noise of a darker part of a dim scan)."""

    # --- the probes (focusd.af.probe) ------------------------------------------------------------
    resolve_ratio: float = 0.8
    """The gaps beside the sharpest held frame are probed, and those beside any held frame that
    measures at least this fraction of it (a scalloped top, a second maximum close by)."""
    probe_reach: float = 1.6
    """D: only gaps within this distance of the sharpest held frame are probed."""
    gap_probes: int = 2
    """Probes per gap and round, from its sharper side."""
    probe_step: float = 0.25
    """D between the probes across the bracket the sweep found."""
    max_extensions: int = 1
    """Rounds of probes after the first: into a gap still open beside the sharpest sample (wider
    than 1.5 probe steps and than the fitted top), else at the fitted top when it lies between
    probes (more than half a probe step from every one)."""
    fit_fraction: float = 0.6
    """Probes at or above this fraction of the sharpest take part in the peak fit."""
    fit_reach: float = 0.65
    """D: ...if they are this close to it: the fit follows the top of a scalloped curve (a real
    scene's focus curve has dips at the scale of a depth of field) but not a second subject."""

    # --- the arrival (focusd.af.arrive) ----------------------------------------------------------
    confirm_ratio: float = 0.8
    """FOCUSED only if a clean frame at the target measures at least this fraction of the sharpest
    probe (clean against clean: the same kind of frame); otherwise the sharpest probe itself is
    tried, then the scan starts again (max_retries), then FAILED."""
    lock_tolerance: float = 0.05
    """D: a target closer than this to where the lens already is is not sent."""
    max_frames: int = 90
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
    """Continuous: how many consecutive changed frames before acting (the lock-on delay)."""
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
        positive = ("max_slew", "sweep_step", "pass_margin", "probe_step", "probe_reach", "fit_reach", "lock_tolerance",
                    "track_step", "settle_velocity")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                out.append((name, f"must be a positive number of dioptres, not {value!r}"))
        for name in ("sweep_step",):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and isinstance(self.max_slew, (int, float)) and value > self.max_slew:
                out.append((name, f"must not exceed max_slew ({self.max_slew} D): each step lands in one write"))
        for name in ("min_peak_ratio", "noise_sigmas"):
            if not getattr(self, name) >= 1.0:
                out.append((name, "must be a ratio >= 1"))
        for name in ("dark_level", "likely_position", "hyperfocal", "scene_jitter", "noise_level_power"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                out.append((name, f"must be a number >= 0, not {value!r}"))
        for name in ("pass_ratio", "resolve_ratio", "min_signal", "noise_jitter", "fit_fraction", "confirm_ratio", "follow_ratio",
                     "retrigger_ratio", "scene_change"):
            if not 0 < getattr(self, name) < 1:
                out.append((name, "must be a fraction between 0 and 1"))
        for name in ("clean_dwell", "gap_probes", "max_frames", "retrigger_frames", "settle_frames"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                out.append((name, "must be a whole number of frames >= 1"))
        for name in ("max_retries", "max_extensions"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                out.append((name, "must be a whole number >= 0"))
        if isinstance(self.fallback, str):
            if self.fallback not in FALLBACKS:
                out.append(("fallback", f"{self.fallback!r} is not one of {', '.join(FALLBACKS)} or a number"))
        elif not (isinstance(self.fallback, (int, float)) and math.isfinite(self.fallback)):
            out.append(("fallback", "must be 'start', 'hyperfocal', 'infinity' or dioptres"))
        return out

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
