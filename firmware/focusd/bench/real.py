"""The ``real`` block: autofocus on real focal stacks, on the lens path a Pi really drives.

Procedural textures only approximate real focus curves; the stacks shipped in focusd.bench.stacks
were photographed by real cameras (narrow and cusped peaks, several maxima, brightness that
changes between frames). Each trial replays one stack through the simulator (focusd.sim.sweep),
with the slew-limited IPA lens and a random, unknowable mix always on (focusd.sim.lens).

Method (documented here because the figures depend on it):

- Frame positions. Frame i of a stack is at ``offset + step_i * spacing`` dioptres, where step_i
  is the frame's index in the sequence it was shot in (``FRAME_STEPS``: two stacks miss shots, so
  their steps are uneven) and ``spacing`` the trial's frame spacing, 0.15-0.5 D (only spacings
  whose whole stack fits inside the AF range). ``offset`` places the stack in the range at random.
- Windows. Candidate AF windows are the stock centre window and a 4 x 4 grid of windows a quarter
  of the frame each way; on the stack replayed at the lores size without noise, a window takes
  part if it has detail (its sharpest frame's measure at least ``MIN_PEAK_RATIO`` times its
  blurriest), if its truth is unambiguous (no other maximum, past a dip, reaches ``TIE_RATIO`` of
  the sharpest), and if it overlaps no better window by more than a third. Up to
  ``WINDOWS_PER_STACK`` windows per stack, the sharpest peaks first.
- Truth per window. focusd's focus measure (gradient energy over the window / mean level^2) on
  each noiseless replayed frame; the sharpest frame, refined by the vertex of the parabola through
  it and its two neighbours, within half a step of it (a frame at either end of the stack is its
  own truth: past the end the replay only blurs).
- Conditions per trial, drawn from the trial's seed: frame spacing, the stack's place, light
  (bright, indoor, dim), true latency 2-5 frames, told latency one frame less, exact, or one more
  (a third each, balanced per window), start anywhere in the AF range, the mix (move phase 0-1).
- In focus: FOCUSED within max(0.15 D, one frame spacing) of the truth.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from focusd.af.measure import FocusMeasure
from focusd.af.tuning import STOCK_WINDOW
from focusd.bench.runner import profile
from focusd.bench.stacks import HELD_OUT_STACKS, stack_folders
from focusd.bench.suite import SceneSpec
from focusd.sim.geometry import Geometry
from focusd.sim.optics import OpticsModel
from focusd.sim.sweep import SweepScene, load_sweep, to_codes

#: Where each shipped stack's frames sit in the sequence they were shot in (missing shots leave
#: gaps); stacks not listed are consecutive. See each stack's SOURCE.md.
FRAME_STEPS = {
    # frames 1-4, 13, 18, ..., 48 of a 49-frame sequence
    "dorinbotan_sony_keyboard": (1, 2, 3, 4, 13, 18, 23, 28, 33, 38, 43, 48),
    # 28 of 33 shots: one missing after output frames 0, 6, 11, 17 and 22
    "noah_nikon_beetle": (0, *range(2, 8), *range(9, 14), *range(15, 21), *range(22, 27), *range(28, 33)),
}
SPACINGS = (0.15, 0.25, 0.35, 0.5)  #: D between consecutive shots
LIGHTS = ("bright", "indoor", "dim")
LATENCIES = (2, 3, 4, 5)  #: true lens latency, frames
TOLD_OFFSETS = (0, -1, 1)  #: told latency - true latency
TRIALS_PER_WINDOW = 9  #: a multiple of len(TOLD_OFFSETS): balanced told right / wrong
WINDOWS_PER_STACK = 6
MIN_PEAK_RATIO = 2.0
TIE_RATIO = 0.8
TOLERANCE = 0.15  #: D: in focus within max(this, the frame spacing)
#: The AF range the block focuses over (the bench's), D; stacks are placed inside it with a margin
#: so that the blur past either end of a stack is part of what the algorithms see
RANGE_MARGIN = 0.5


def frame_steps(name: str, count: int) -> tuple[int, ...]:
    steps = FRAME_STEPS.get(name, tuple(range(count)))
    if len(steps) != count:
        raise ValueError(f"{name}: {count} frames but {len(steps)} steps")
    return steps


def candidate_windows() -> list[tuple[float, float, float, float]]:
    grid = [(x / 4, y / 4, 0.25, 0.25) for y in range(4) for x in range(4)]
    return [tuple(STOCK_WINDOW), *grid]


def _overlap(a, b) -> float:
    """Intersection over the smaller window's area."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])


def refined_peak(steps, values) -> float:
    """The sharpest frame's step, refined by the vertex of the parabola through it and its two
    neighbours, kept within half a step of it (a missing shot beside it leaves a wide gap that
    says nothing of the top); an end frame is its own peak."""
    values = np.asarray(values, float)
    best = int(np.argmax(values))
    if best == 0 or best == len(values) - 1:
        return float(steps[best])
    x = np.asarray(steps[best - 1:best + 2], float)
    a, b, _ = np.polyfit(x, values[best - 1:best + 2], 2)
    if a >= 0:
        return float(steps[best])
    return float(min(max(-b / (2 * a), x[1] - 0.5), x[1] + 0.5))


def unambiguous(values) -> bool:
    """No second maximum, separated from the sharpest by a dip, reaches TIE_RATIO of it."""
    values = np.asarray(values, float)
    best = int(np.argmax(values))
    top = values[best]
    for direction in (-1, 1):
        low = top
        index = best + direction
        while 0 <= index < len(values):
            low = min(low, values[index])
            # a rise after a dip of at least 10% is another maximum
            if values[index] >= TIE_RATIO * top and low < 0.9 * values[index] and index != best:
                return False
            index += direction
    return True


@functools.lru_cache(maxsize=8)
def _stack(folder: str):
    return load_sweep(folder, lens_range=(0.0, 1.0))


@functools.lru_cache(maxsize=8)
def window_truths(folder: str) -> tuple[tuple[tuple[float, float, float, float], float], ...]:
    """The stack's windows with their truth in steps: ((window, truth step), ...), best first."""
    sweep = _stack(folder)
    steps = frame_steps(Path(folder).name, len(sweep.frames))
    imx708 = profile()
    geometry = Geometry.build(imx708, imx708.focus_mode, imx708.lores_size, OpticsModel(), None)
    planes = [np.clip(to_codes(f), 0, 255).astype(np.uint8) for f in SweepScene(sweep).frames_on_sensor(geometry)]
    scored = []
    for window in candidate_windows():
        measure = FocusMeasure(window)
        curve = np.array([measure(plane).focus for plane in planes])
        if curve.max() < MIN_PEAK_RATIO * max(curve.min(), 1e-12) or not unambiguous(curve):
            continue
        scored.append((float(curve.max() / curve.min()), window, refined_peak(steps, curve)))
    chosen: list[tuple[tuple[float, float, float, float], float]] = []
    for _, window, truth in sorted(scored, key=lambda item: -item[0]):
        if all(_overlap(window, other) <= 1 / 3 for other, _ in chosen):
            chosen.append((window, truth))
        if len(chosen) == WINDOWS_PER_STACK:
            break
    return tuple(chosen)


def stack_positions(name: str, count: int, offset: float, spacing: float) -> np.ndarray:
    return offset + spacing * np.asarray(frame_steps(name, count), float)


def real_trials(build, seed: int, lens_range: tuple[float, float], folders=None) -> None:
    """Add the block's trials to a suite builder (focusd.bench.suite._Builder)."""
    low, high = lens_range
    for folder in folders or stack_folders():
        name = Path(folder).name
        count = len(_stack(str(folder)).frames)
        steps = frame_steps(name, count)
        span_steps = steps[-1] - steps[0]
        block = "real-held-out" if name in HELD_OUT_STACKS else "real-tuning"
        for w, (window, truth_step) in enumerate(window_truths(str(folder))):
            rng = np.random.default_rng([seed, sum(map(ord, name)), w])
            fitting = [s for s in SPACINGS if span_steps * s <= high - low - 2 * RANGE_MARGIN]
            for i in range(TRIALS_PER_WINDOW):
                spacing = float(rng.choice(fitting))
                span = span_steps * spacing
                offset = round(float(rng.uniform(low + RANGE_MARGIN, high - RANGE_MARGIN - span)), 3)
                latency = int(rng.choice(LATENCIES))
                told = max(0, latency + TOLD_OFFSETS[i % len(TOLD_OFFSETS)])
                scene = SceneSpec("stack", path=str(folder), window=window, spacing=spacing, offset=offset,
                                  truth=round(offset + spacing * (truth_step - steps[0]), 4), name_suffix=f"w{w}")
                build.add(block, scene, light=str(rng.choice(LIGHTS)), latency=latency, told_latency=told,
                          start=round(float(rng.uniform(low, high)), 2), window=window,
                          move_phase=round(float(rng.uniform(0.0, 1.0)), 3),
                          tolerance=max(TOLERANCE, spacing), algorithms=REAL_ALGORITHMS)


#: The algorithms the real block runs (the exhaustive and golden-section searches are left out:
#: the block compares focusd with what a Pi does out of the box)
REAL_ALGORITHMS = ("focusd", "stock-normal", "stock-fast")


@functools.lru_cache(maxsize=32)
def stack_scene(folder: str, offset: float, spacing: float, truth: float):
    """The stack as a scene, its frames at this trial's positions (decoded once per process)."""
    sweep = _stack(folder)
    positions = stack_positions(Path(folder).name, len(sweep.frames), offset - spacing * frame_steps(
        Path(folder).name, len(sweep.frames))[0], spacing)
    return SweepScene(replace(sweep, lens_positions=positions), truth=truth)
