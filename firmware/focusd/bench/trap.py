"""``focusd bench --trap``: trap focus on subjects passing through the armed plane, and on still scenes.

Passes: a subject filling the AF window (``moving_scene``) moves in depth through the plane at
0.5, 1, 2 and 3 D/s, approaching and receding, for every texture at three light levels (bright,
indoor, dim), on its own seed each. The lens starts 1.5 D off the plane and is sent there at the
first frame (the slew-limited IPA lens of the rest of the bench, true latency 2 frames), and the
trap is armed at once, as a shutter held right after an AF-ON release would: the detector itself
must wait for the lens to arrive (focusd.service.trap.lens_still on the daemon's lens estimate).
The subject starts ``APPROACH_D`` before the plane and the pass ends ``APPROACH_D`` after it.

Figures: the share of passes whose captured frame (the peak frame the detector names) shows the
subject within ``TOLERANCE_D`` (0.2 D) of the plane, at the middle of that frame's exposure
(target at least 95%); the passes that never fired (missed); and false fires on still scenes:
``STATIC_FRAMES`` frames in all (10,000) of textures in focus, out of focus by 0.5 to 3 D, the
featureless wall and the dark, each trap re-armed after a fire so that every frame can fire
(target 0).

Only the AF window is rendered (the rig's ``window``): the figure needs the focus measure, not
the image (the daemon copies the kept frame's main image; the bench only notes its sequence).
"""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import dataclass

from focusd.bench.runner import profile
from focusd.config.schema import AfConfig
from focusd.af.measure import FocusMeasure
from focusd.lens_estimate import LensEstimate
from focusd.lens_path import LensPath
from focusd.service.trap import lens_still
from focusd.sim import SimRig, scenes
from focusd.sim.lens import LensModel
from focusd.trap import TrapDetector

SPEEDS = (0.5, 1.0, 2.0, 3.0)  #: D/s
LIGHTS = ("bright", "indoor", "dim")
PLANES = (1.0, 2.0, 3.0, 4.5)  #: D: the armed planes, one per pass in turn
APPROACH_D = 1.2  #: D: where a pass starts before the plane and ends after it
LENS_OFFSET_D = 1.5  #: D: the lens starts this far off the plane and is sent there at the first frame
TOLERANCE_D = 0.2
LATENCY = 2  #: frames: the lens's true (and told) latency, as the bench's main block
STATIC_FRAMES = 10_000
#: the second block: the subject covers this share of the AF window, in front of BACKGROUND at infinity
BACKGROUND_FRACTION = 0.5
BACKGROUND = "bricks"


@dataclass(frozen=True)
class Pass:
    index: int
    texture: str
    light: str
    speed: float  #: D/s, positive: approaching (depth rising through the plane)
    plane: float
    seed: int
    #: the subject covers BACKGROUND_FRACTION of the AF window in front of a background (the
    #: second block); False: it fills the window (the main block, whose figure has the target)
    background: bool = False


@dataclass(frozen=True)
class Still:
    """A still scene watched for ``frames`` frames with the lens at ``lens`` D, where it is sent at
    the first frame from ``lens_start`` (its way there crosses the scene's focus when the lens is
    out of focus: the frames on the way must not count)."""

    index: int
    name: str
    scene: object
    light: str
    lens: float
    lens_start: float
    frames: int
    seed: int


def passes(textures: list[str], seed: int = 0, speeds=SPEEDS, lights=LIGHTS, background: bool = False,
           first_index: int = 0) -> list[Pass]:
    out = []
    for texture in textures:
        for light in lights:
            for speed in speeds:
                for direction in (1, -1):
                    i = first_index + len(out)
                    out.append(Pass(i, texture, light, direction * speed, PLANES[i % len(PLANES)], seed * 10_000 + i,
                                    background))
    return out


def stills(textures: list[str], seed: int = 0, total: int = STATIC_FRAMES) -> list[Still]:
    """Still scenes: each texture in focus and out of focus (0.5, 1, 3 D) in turn at a light level
    in turn, the featureless wall, and a texture in the dark; ``total`` frames shared out."""
    cases = []
    offsets = (0.0, 0.5, 1.0, 3.0)
    lights = ("bright", "indoor", "dim")
    for i, texture in enumerate(textures):
        for j, offset in enumerate(offsets[:2] if i % 2 else offsets[2:]):
            # the lens comes from the other side of the focus (2 D), or from 1.5 D off when in focus
            start = max(2.0 - offset, 0.0) if offset else 2.0 + (1.5 if i % 2 else -1.5)
            cases.append((f"{texture} {offset:g} D off", scenes.texture_scene(texture, 0.5, seed=seed * 100 + i),
                          lights[(i + j) % 3], 2.0 + offset, start))
    cases.append(("featureless wall", scenes.featureless_scene(seed), "indoor", 1.0, 3.0))
    cases.append((f"{textures[0]} in the dark", scenes.texture_scene(textures[0], 1.0, seed=seed), "dark", 1.0, 2.5))
    cases.append((f"{textures[-1]} in the dark, 1 D off", scenes.texture_scene(textures[-1], 1.0, seed=seed), "dark",
                  2.0, 0.0))
    per = total // len(cases)
    return [Still(i, name, scene, light, lens, start, per + (1 if i < total % len(cases) else 0), seed * 1000 + i)
            for i, (name, scene, light, lens, start) in enumerate(cases)]


def _rig(scene, light: str, lens_start: float, seed: int):
    imx708 = profile()
    window = AfConfig().window
    return SimRig(scene, profile=imx708, mode=imx708.focus_mode, lores_size=imx708.lores_size, light=light,
                  latency_frames=LATENCY, start_lens=lens_start, seed=seed, window=window,
                  lens=LensModel(slew_limited=True))


class _Watch:
    """The daemon's trap loop without images: the rig, the lens estimate, the detector."""

    def __init__(self, rig: SimRig, plane: float):
        self.rig = rig
        imx708 = profile()
        self.estimate = LensEstimate(LensPath.for_profile(imx708, LATENCY))
        self.measure = FocusMeasure(AfConfig().window)
        self.detector = TrapDetector()
        self.plane = plane
        self.commanded: float | None = None
        self.times: dict[int, float] = {}

    def command(self, sequence: int, target: float) -> None:
        self.rig.set_lens_position(target)
        self.estimate.command(sequence, target)
        self.commanded = target

    def step(self):
        frame = self.rig.next_frame()
        self.estimate.observe(frame.sequence, frame.lens_position)
        self.times[frame.sequence] = frame.time_s
        still = lens_still(self.estimate, frame.sequence, self.commanded)
        return frame, self.detector.frame(frame.sequence, self.measure(frame.y).focus, still)


def run_pass(spec: Pass) -> dict:
    start_depth = spec.plane - APPROACH_D * (1 if spec.speed > 0 else -1)
    start_m = 1.0 / start_depth if start_depth > 0 else float("inf")
    behind = dict(background=BACKGROUND, subject_fraction=BACKGROUND_FRACTION) if spec.background else {}
    scene = scenes.moving_scene(spec.texture, start_m=start_m, dioptres_per_s=spec.speed, seed=spec.seed, **behind)
    lens_start = spec.plane + LENS_OFFSET_D * (1 if spec.index % 2 else -1)
    rig = _rig(scene, spec.light, max(lens_start, 0.0), spec.seed)
    watch = _Watch(rig, spec.plane)
    frames = int(2 * APPROACH_D / abs(spec.speed) * (1e9 / rig.frame_duration_ns)) + 10
    fired = None
    for number in range(frames):
        frame, fire = watch.step()
        if number == 0:
            watch.command(frame.sequence, spec.plane)
        if fire is not None:
            fired = fire
            break
    row = {"pass": spec.index, "block": "background" if spec.background else "main", "texture": spec.texture,
           "light": spec.light, "speed": spec.speed,
           "plane": spec.plane, "fired": fired is not None, "error": None, "rise": None, "images": 0}
    if fired is not None:
        depths = scene.depths(watch.times[fired.peak_sequence])
        depth = depths.get("subject", depths["background"])
        row.update(error=round(depth - spec.plane, 4), rise=round(fired.rise, 3),
                   frames_after_peak=frame.sequence - fired.peak_sequence)
    return row


def run_still(spec: Still) -> dict:
    rig = _rig(spec.scene, spec.light, spec.lens_start, spec.seed)
    watch = _Watch(rig, spec.lens)
    fires = 0
    kept = 0
    for number in range(spec.frames):
        frame, fire = watch.step()
        if number == 0:
            watch.command(frame.sequence, spec.lens)
        kept += frame.sequence in watch.detector.wanted
        if fire is not None:
            fires += 1
            watch.detector.reset()  # re-armed: every frame may fire
    return {"scene": spec.name, "light": spec.light, "lens": spec.lens, "frames": spec.frames, "false_fires": fires,
            "images_kept": kept}


def _job(job):
    kind, spec = job
    return kind, spec.index, (run_pass(spec) if kind == "pass" else run_still(spec))


def run(textures: list[str], seed: int = 0, workers: int = 2, speeds=SPEEDS, lights=LIGHTS,
        static_frames: int = STATIC_FRAMES, background: bool = True) -> dict:
    """Both pass blocks (the second only with ``background``) and the still scenes."""
    main = passes(textures, seed, speeds, lights)
    behind = passes(textures, seed, speeds, lights, background=True, first_index=len(main)) if background else []
    jobs = [("pass", p) for p in main + behind]
    jobs += [("still", s) for s in stills(textures, seed, static_frames)]
    if workers <= 1:
        results = [_job(job) for job in jobs]
    else:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with context.Pool(workers) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    rows = [row for kind, _, row in results if kind == "pass"]
    still_rows = [row for kind, _, row in results if kind == "still"]
    main_rows = [r for r in rows if r["block"] == "main"]
    behind_rows = [r for r in rows if r["block"] == "background"]
    return {"passes": rows, "stills": still_rows, "summary": summarise(main_rows, still_rows),
            "background": summarise(behind_rows, []) if behind_rows else None}


def summarise(rows: list[dict], still_rows: list[dict]) -> dict:
    within = [r for r in rows if r["fired"] and abs(r["error"]) <= TOLERANCE_D + 1e-9]
    fired = [r for r in rows if r["fired"]]
    errors = sorted(abs(r["error"]) for r in fired)
    by_speed = {}
    for r in rows:
        entry = by_speed.setdefault(abs(r["speed"]), [0, 0])
        entry[0] += 1
        entry[1] += r["fired"] and abs(r["error"]) <= TOLERANCE_D + 1e-9
    return {
        "passes": len(rows), "within": len(within), "within_share": len(within) / max(len(rows), 1),
        "missed": len(rows) - len(fired), "outside": len(fired) - len(within),
        "median_abs_error": errors[len(errors) // 2] if errors else None,
        "max_abs_error": errors[-1] if errors else None,
        "by_speed": {f"{speed:g}": f"{ok}/{n}" for speed, (n, ok) in sorted(by_speed.items())},
        "static_frames": sum(r["frames"] for r in still_rows),
        "false_fires": sum(r["false_fires"] for r in still_rows),
    }


def targets_met(summary: dict) -> bool:
    """The main block within 0.2 D in at least 95% of passes, and no false fire on still scenes."""
    return summary["within_share"] >= 0.95 and summary["false_fires"] == 0


def format_report(result: dict, seed: int) -> str:
    s = result["summary"]
    lines = [
        f"Trap focus (shutter.trap), focusd.trap's detector on the simulated IMX708, seed {seed}",
        f"passes through the plane at 0.5-3 D/s: {s['within']}/{s['passes']} ({s['within_share']:.1%}) "
        f"captured within {TOLERANCE_D:g} D of the plane (target >= 95%) "
        f"[{'ok' if s['within_share'] >= 0.95 else 'MISS'}]",
        f"  missed (never fired): {s['missed']}; fired outside {TOLERANCE_D:g} D: {s['outside']}; "
        f"|error| median {s['median_abs_error']} D, max {s['max_abs_error']} D",
        "  within, by speed (D/s): " + ", ".join(f"{k}: {v}" for k, v in s["by_speed"].items()),
        f"still scenes: {s['false_fires']} false fires in {s['static_frames']} frames (target 0) "
        f"[{'ok' if s['false_fires'] == 0 else 'MISS'}]",
    ]
    b = result.get("background")
    if b:
        lines += [
            f"subject on {BACKGROUND_FRACTION:.0%} of the window, {BACKGROUND} at infinity behind (no target): "
            f"{b['within']}/{b['passes']} ({b['within_share']:.1%}) within {TOLERANCE_D:g} D, missed {b['missed']}, "
            f"fired outside {b['outside']}",
            "  within, by speed (D/s): " + ", ".join(f"{k}: {v}" for k, v in b["by_speed"].items()),
        ]
    bad = [r for r in result["passes"] if not r["fired"] or abs(r["error"]) > TOLERANCE_D + 1e-9]
    for r in bad[:12]:
        lines.append(f"  pass {r['pass']} ({r['block']}): {r['texture']} {r['light']} {r['speed']:+g} D/s plane {r['plane']:g} D: "
                     + ("missed" if not r["fired"] else f"error {r['error']:+.3f} D"))
    return "\n".join(lines)
