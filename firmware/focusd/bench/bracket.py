"""``focusd bench --bracket``: focus-bracketing series on the real daemon and the simulated camera.

Each condition runs the real daemon (focusd.service.daemon, its BracketSeries) on the simulator in
stepped pacing with its slew-limited lens (focusd.lens_path, as the Pi's IPA moves it) and
gpiozero's mock pins: AF-ON locks on a seeded scene and is let go, the command inlet asks for a
series, and frames are stepped until it has finished and every shot is written. Then, from the
capture journal and the simulator's truth recorded in it (``SimLensActual``: the true mean lens
position over the exposure, ``SimLensMoving``: whether the glass moved during it):

- frames per shot: from the frame after the previous shot (or the series' start) to the shot
  (BracketShot.frames), median and max; the first shot is at the lock and usually takes 1;
- moving: shots whose exposure saw the glass move (the sequencer must make this 0);
- coverage: every depth between the first and the last plane is within the circle of confusion
  in at least one shot, with the simulator's optics (focusd.sim.optics: the blur circle is
  ``blur_um_per_dioptre * |x - D|``, in full-resolution pixels), at each shot's true lens
  position; the worst depth's smallest blur is reported against ``bracket.coc_px``.

The lens is the simulator's slew-limited one for the libcamera profiles (imx708_wide's depth of field,
1.63 D, is more than the 1.5 D slew: each plane takes two writes); the ov5647 is an I2C lens, not
slew-limited, whose metadata does not follow the commands (the estimate rests on the commands).
A control condition with a step of 1.5 depths of field must show gaps (coverage "no"): the check
is not a formality. Deterministic: stepped pacing, seeded scenes and noise.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import tempfile
import threading
from pathlib import Path

from focusd.config.profiles import load_profile
from focusd.config.settings import default_config
from focusd.signals import ButtonId

#: seconds any one wait may take before the run is abandoned (a stuck daemon)
WAIT_S = 30.0
#: depths sampled between the first and the last plane for the coverage check
COVERAGE_SAMPLES = 2001
#: D: the plan rounds its planes to 1e-6 D, so neighbouring fields may miss touching by a few 1e-6 D
ROUNDING_D = 1e-5


@dataclasses.dataclass(frozen=True)
class Condition:
    name: str
    profile: str = "imx708"
    distance_m: float = 1.2  #: the scene (bricks), where the AF locks: the first plane
    direction: str = "near"
    shots: int = 5
    step: float = 1.0
    coc_px: float = 2.0


CONDITIONS = (
    Condition("imx708, near"),
    Condition("imx708, infinity", distance_m=0.3, direction="infinity"),
    Condition("imx708, 10 shots", distance_m=0.5, shots=10),
    Condition("imx708_wide (step > slew)", profile="imx708_wide", distance_m=0.5, shots=4),
    Condition("ov5647 (I2C lens)", profile="ov5647_motorized", distance_m=0.5, shots=4),
    Condition("control: step 1.5", step=1.5),
)


def blur_px(profile, defocus_dioptres: float) -> float:
    """The simulator's blur-circle diameter, full-resolution pixels, at a defocus (focusd.sim.optics)."""
    from focusd.sim.optics import blur_px_per_dioptre

    return blur_px_per_dioptre(profile.blur_um_per_dioptre, profile.pixel_size_um, 1.0) * abs(defocus_dioptres)


def coverage(profile, positions: list[float], first: float, last: float, coc_px: float) -> tuple[bool, float]:
    """Whether every depth from ``first`` to ``last`` (D) is within ``coc_px`` of blur in at least
    one of the lens ``positions`` (give or take the plan's rounding, ROUNDING_D); and the worst
    depth's smallest blur (px)."""
    low, high = min(first, last), max(first, last)
    worst = 0.0
    for i in range(COVERAGE_SAMPLES):
        depth = low + (high - low) * i / (COVERAGE_SAMPLES - 1)
        worst = max(worst, min(blur_px(profile, x - depth) for x in positions))
    return worst <= coc_px + blur_px(profile, ROUNDING_D), worst


def run_condition(condition: Condition, seed: int = 0) -> dict:
    """One series on the daemon; its figures (see the module docstring)."""
    from focusd.hw.gpio import mock_pin_factory
    from focusd.service import events as ev
    from focusd.service.cameras import build_camera
    from focusd.service.daemon import Daemon
    from focusd.sim import scenes

    with tempfile.TemporaryDirectory(prefix="focusd-bench-bracket-") as folder:
        config = default_config()
        config = dataclasses.replace(
            config, camera=dataclasses.replace(config.camera, backend="sim", profile=condition.profile),
            capture=dataclasses.replace(config.capture, directory=folder, queue_depth=64),
            bracket=dataclasses.replace(config.bracket, direction=condition.direction, shots=condition.shots,
                                        step=condition.step, coc_px=condition.coc_px))
        scene = scenes.texture_scene("bricks", distance_m=condition.distance_m, seed=seed)
        camera = build_camera(config, pacing="stepped", scene=scene, seed=seed, light="bright")
        daemon = Daemon(config, camera, pin_factory=mock_pin_factory())
        events = daemon.events.subscribe("bench-bracket", depth=100_000)
        thread = threading.Thread(target=daemon.run, name="focusd-camera", daemon=True)
        thread.start()
        stepper = _Stepper(daemon, camera)
        seen: list = []
        try:
            stepper.step(5)
            daemon.inlet.press(ButtonId.AF_ON)
            stepper.until(lambda: daemon.stats.af_state in ("FOCUSED", "FAILED"), "focus")
            daemon.inlet.release(ButtonId.AF_ON)
            stepper.step(3)
            daemon.inlet.bracket()
            stepper.until(lambda: any(isinstance(e, ev.BracketFinished) for e in _drain(events, seen)), "the series")
            stats = daemon.stats
            stepper.until(lambda: stats.captures_written + stats.captures_failed >= stats.captures_requested,
                          "its shots written")
        finally:
            daemon.request_stop()
            while thread.is_alive():
                camera.step(5)
                thread.join(0.05)
        journal = [json.loads(line) for line in (Path(folder) / config.capture.journal).read_text().splitlines()]
    return figures(condition, seen, journal)


def figures(condition: Condition, seen: list, journal: list[dict]) -> dict:
    from focusd.service import events as ev

    profile = load_profile(condition.profile)
    (started,) = [e for e in seen if isinstance(e, ev.BracketStarted)]
    (finished,) = [e for e in seen if isinstance(e, ev.BracketFinished)]
    frames = [e.frames for e in seen if isinstance(e, ev.BracketShot)]
    lines = [line for line in journal if line.get("series") is not None]
    actual = [line["extra"]["SimLensActual"] for line in lines]
    covered, worst = coverage(profile, actual, started.planes[0], started.planes[-1], condition.coc_px)
    return {
        "condition": condition.name, "profile": condition.profile, "direction": condition.direction,
        "planes": list(started.planes), "dof": started.depth_of_field, "step_d": started.step,
        "reason": finished.reason, "shots": len(lines), "written": sum(line["file"] is not None for line in lines),
        "frames_per_shot": frames, "frames_median": statistics.median(frames) if frames else math.nan,
        "frames_max": max(frames, default=0),
        "moving": sum(bool(line["extra"]["SimLensMoving"]) for line in lines),
        "estimate_moving": sum(bool(line["lens_moving"]) for line in lines),
        "plane_error_d": max((abs(a - line["series_plane"]) for a, line in zip(actual, lines)), default=math.nan),
        "covered": covered, "worst_blur_px": worst, "coc_px": condition.coc_px,
        # to a thousandth of a microsecond: the hold passes the exposure through seconds and back
        "exposures": len({(round(line["exposure_time_us"], 3), round(line["analogue_gain"], 6)) for line in lines}),
    }


def run(seed: int = 0, conditions=None, progress=None) -> list[dict]:
    rows = []
    for condition in CONDITIONS if conditions is None else conditions:
        if progress:
            progress(condition.name)
        rows.append(run_condition(condition, seed))
    return rows


def format_report(rows: list[dict], seed: int) -> str:
    lines = [f"focus bracketing: the daemon on the simulated camera (slew-limited lens, stepped), seed {seed}",
             "", f"{'condition':<26} {'shots':>5} {'end':>8} {'frames/shot':>11} {'max':>4} {'moving':>6} "
             f"{'covered':>7} {'worst blur':>11} {'exposures':>9}"]
    for row in rows:
        lines.append(f"{row['condition']:<26} {row['shots']:>5} {row['reason']:>8} {row['frames_median']:>11g} "
                     f"{row['frames_max']:>4} {row['moving']:>6} {'yes' if row['covered'] else 'no':>7} "
                     f"{row['worst_blur_px']:>6.3f}/{row['coc_px']:g}px {row['exposures']:>9}")
    lines += ["", "frames/shot: median over the series' shots (the first, at the lock, is 1); moving: shots whose",
              "exposure saw the glass move (simulator truth); covered: every depth between the first and last",
              "plane within the circle of confusion in at least one shot (the simulator's optics, at each shot's",
              "true lens position); worst blur: that depth's smallest blur; exposures: distinct exposure/gain",
              "pairs in the series (1: locked). The control (step 1.5 depths of field) must leave gaps."]
    return "\n".join(lines)


def _drain(subscription, seen: list) -> list:
    seen += [e for e in subscription.drain() if type(e).__name__.startswith("Bracket")]
    return seen


class _Stepper:
    """Lets the stepped camera deliver frames and waits (on the daemon's condition) for them."""

    def __init__(self, daemon, camera):
        self.daemon, self.camera = daemon, camera

    def step(self, frames: int = 1) -> None:
        target = self.daemon.stats.frames + frames
        self.camera.step(frames)
        if not self.daemon.wait_until(lambda s: s.frames >= target, WAIT_S):
            raise RuntimeError(f"bench --bracket: the daemon did not reach frame {target} within {WAIT_S:.0f} s")

    def until(self, predicate, what: str, frames: int = 2000) -> None:
        for _ in range(frames):
            if predicate():
                return
            self.step(1)
        raise RuntimeError(f"bench --bracket: no {what} within {frames} frames")
