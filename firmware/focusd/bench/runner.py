"""Runs benchmark trials: every algorithm on the very same simulated frames, in parallel.

A trial rebuilds the scene and the rig from its ``TrialSpec`` for each algorithm, with the same
seed, so each algorithm meets the same scene, noise and start; only the lens path differs. A run
is AF-ON pressed at frame 0 (``start``), then frames until the algorithm reports FOCUSED or FAILED
(``frames``, capped at ``max_frames``), then ``latency + 2`` more frames so that the lens reaches
where it was last sent (``final``) and any late command shows up in ``travel`` and ``reversals``.

Trials run on ``workers`` processes (fork); results come back in trial order whatever the order
they finish in, so the output is deterministic.
"""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import asdict, dataclass, field
from typing import Callable

from focusd.af import AutofocusEngine
from focusd.af.types import AfMode, AfState, Frame
from focusd.bench.baselines import ExhaustiveSweep, GoldenSection
from focusd.bench.stock import StockCdaf, StockTuning
from focusd.bench.suite import TrialSpec
from focusd.config.profiles import load_profile
from focusd.config.schema import AfAssistConfig, AfConfig
from focusd.lens_path import controller_period_frames
from focusd.sim import SimRig
from focusd.service.assist import AssistLampRules, Rescan
from focusd.sim.lens import LensModel

#: The AF range the bench focuses over (the stock tuning's "normal" range), dioptres.
LENS_RANGE = (0.0, 12.0)
#: Frames after which a run is stopped and recorded as state "TIMEOUT".
MAX_FRAMES = 400


def _make_focusd(lens_range, latency_frames, window=None):
    return AutofocusEngine(lens_range=lens_range, latency_frames=latency_frames, window=window,
                           max_slew=profile().max_slew)


def _make_stock(speed: str, **tuning):
    def make(lens_range, latency_frames, window=None):
        settings = dict(tuning)  # per call: one trial's window must not stay for the next
        # the stock AF runs inside the IPA, whose controller runs at most at 30 Hz: in the focusing
        # mode (56 fps) on every second frame, as on a Pi (frames_per_ipa_run=1: the generous
        # every-frame variant the bench reported before the lens path was modelled)
        settings.setdefault("frames_per_ipa_run", controller_period_frames(profile().mode().fps))
        if window is not None:
            settings["window"] = tuple(window)
        return StockCdaf(speed, lens_range=lens_range, latency_frames=latency_frames, tuning=StockTuning(**settings))

    return make


def _make_exhaustive(lens_range, latency_frames, window=None):
    return ExhaustiveSweep(lens_range=lens_range, latency_frames=latency_frames)


def _make_golden(lens_range, latency_frames, window=None):
    return GoldenSection(lens_range=lens_range, latency_frames=latency_frames)


#: algorithm name -> factory(lens_range, latency_frames, window=None)
ALGORITHMS: dict[str, Callable] = {
    "focusd": _make_focusd,
    "stock-normal": _make_stock("normal"),
    "stock-fast": _make_stock("fast"),
    # not in the default run: af.cpp's own fine scan (5 samples from peak + 2 fine steps), and the
    # stock IPA run on every sensor frame (generous: a Pi runs it at most at 30 Hz)
    "stock-normal-exact": _make_stock("normal", libcamera_exact=True),
    "stock-fast-exact": _make_stock("fast", libcamera_exact=True),
    "stock-normal-every-frame": _make_stock("normal", frames_per_ipa_run=1),
    "stock-fast-every-frame": _make_stock("fast", frames_per_ipa_run=1),
    "exhaustive": _make_exhaustive,
    "golden": _make_golden,
}


@dataclass
class TrialResult:
    """One algorithm on one trial (the JSON row; docs/design.md, "Benchmark output")."""

    algorithm: str
    scene: str
    trial: int
    block: str
    light: str
    latency: int  #: true lens latency, frames
    told_latency: int
    start: float  #: D
    final: float  #: D: where the lens was last sent
    final_actual: float  #: D: where the lens really was in the last frame
    truth: float  #: D: the in-focus position of what dominates the window
    error: float  #: D: final - truth (signed)
    tolerance: float  #: D: |error| within this counts as in focus
    frames: int  #: frames from AF-ON to FOCUSED/FAILED (max_frames if neither)
    frames_settled: int  #: frames until the lens is seen at its final command (>= frames)
    state: str  #: FOCUSED, FAILED or TIMEOUT
    travel: float  #: D: total commanded lens travel
    reversals: int  #: direction changes of the commanded lens
    commands: int  #: lens commands issued
    path: list[tuple[int, float, float]] = field(default_factory=list)  #: (frame, commanded, actual)
    #: D: where the lens truly was in the frame after FOCUSED/FAILED (what a shutter fired on
    #: FOCUSED takes) minus truth; None if the run timed out
    error_next_frame: float | None = None

    @property
    def in_focus(self) -> bool:
        return self.state == "FOCUSED" and abs(self.error) <= self.tolerance + 1e-9

    def row(self) -> dict:
        row = asdict(self)
        if not row["path"]:
            row.pop("path")
        return row


def _window_of(algorithm) -> tuple[float, float, float, float] | None:
    window = getattr(algorithm, "window", None)
    if window is None:
        window = getattr(getattr(algorithm, "tuning", None), "window", None)
    return tuple(window) if window is not None else None


def render_window(algorithm_names, lens_range=LENS_RANGE) -> tuple[float, float, float, float] | None:
    """The union of the algorithms' AF windows (the rig renders only this, for speed); None
    (render everything) when an algorithm does not say which window it reads."""
    boxes = []
    for name in algorithm_names:
        window = _window_of(ALGORITHMS[name](lens_range, 2))
        if window is None:
            return None
        boxes.append(window)
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


_PROFILE = None


def profile():
    """The profile every trial runs on (imx708), loaded once per process."""
    global _PROFILE
    if _PROFILE is None:
        _PROFILE = load_profile("imx708")
    return _PROFILE


def make_rig(spec: TrialSpec, window=None, scene=None):
    """The simulated camera of a trial, exactly as every algorithm gets it."""
    imx708 = profile()
    return SimRig(scene if scene is not None else spec.scene.build(), profile=imx708, mode=imx708.focus_mode,
                  lores_size=imx708.lores_size, light=spec.light, latency_frames=spec.latency,
                  start_lens=spec.start, seed=spec.seed, window=window,
                  lens=LensModel(move_phase=spec.move_phase, slew_limited=spec.lens == "ipa"))


def run_trial(spec: TrialSpec, algorithm: str, window=None, max_frames: int = MAX_FRAMES,
              record_path: bool = False, lens_range=LENS_RANGE) -> TrialResult:
    """One algorithm on one trial (single AF: press, focus, lock)."""
    if spec.window is not None:
        window = tuple(spec.window)  # every algorithm reads the trial's window: render only it
    rig = make_rig(spec, window)
    engine = ALGORITHMS[algorithm](lens_range, spec.told_latency, window=spec.window)
    engine.start(AfMode.SINGLE, lens_position=spec.start)
    commanded = spec.start
    travel, reversals, commands, last_direction = 0.0, 0, 0, 0
    last_command_frame = 0
    path: list[tuple[int, float, float]] = []
    frames = None
    state = "TIMEOUT"
    sim_frame = None
    next_actual = None
    low, high = profile().lens_range
    lamp = AssistLampRules(AfAssistConfig(), rig.frame_duration_ns) if spec.assist else None
    total = max_frames
    frame_number = 0
    while frame_number < total:
        frame_number += 1
        sim_frame = rig.next_frame()
        if frames is not None and next_actual is None:
            next_actual = float(sim_frame.lens_actual)
        target = engine.update(Frame(y=sim_frame.y, lens_position=sim_frame.lens_position,
                                     sequence=sim_frame.sequence))
        if lamp is not None:  # as the daemon: judged after the engine's frame, switched before the next
            change = lamp.frame(sim_frame.y, sim_frame.timestamp_ns, held=True, continuous=False,
                                scanning=engine.state is AfState.SCANNING, window=spec.window or AfConfig().window,
                                now_ns=rig.now_ns())
            if isinstance(change, Rescan):
                engine.start(AfMode.SINGLE, lens_position=commanded)
            elif change is not None:
                rig.set_assist_lamp(change.lit)
        if record_path:
            path.append((frame_number, commanded, float(sim_frame.lens_actual)))
        if target is not None:
            target = min(max(float(target), low), high)
            rig.set_lens_position(target)
            commands += 1
            delta = target - commanded
            if abs(delta) > 1e-9:
                direction = 1 if delta > 0 else -1
                reversals += int(last_direction != 0 and direction != last_direction)
                last_direction = direction
                travel += abs(delta)
            commanded = target
            last_command_frame = frame_number
        if frames is None and engine.state in (AfState.FOCUSED, AfState.FAILED):
            frames = frame_number
            state = engine.state.name
            # a few more frames: the lens reaches its last command; late commands are counted
            total = frame_number + spec.latency + 2
    if frames is None:
        frames = max_frames
    truth = float(rig.truth())
    return TrialResult(
        algorithm=algorithm, scene=spec.scene.name, trial=spec.index, block=spec.block, light=spec.light,
        latency=spec.latency, told_latency=spec.told_latency, start=spec.start, final=round(commanded, 4),
        final_actual=round(float(sim_frame.lens_actual), 4), truth=round(truth, 4),
        error=round(commanded - truth, 4), tolerance=spec.tolerance, frames=frames,
        frames_settled=max(frames, min(last_command_frame + spec.latency + 1, frame_number)),
        state=state, travel=round(travel, 4), reversals=reversals, commands=commands, path=path,
        error_next_frame=None if next_actual is None else round(next_actual - truth, 4),
    )


def _run_job(job) -> tuple[int, list[TrialResult]]:
    spec, algorithms, window, max_frames, record = job
    names = [name for name in algorithms if spec.algorithms is None or name in spec.algorithms]
    return spec.index, [run_trial(spec, name, window, max_frames, record) for name in names]


def run_trials(trials: list[TrialSpec], algorithms, workers: int = 2, window="auto",
               max_frames: int = MAX_FRAMES, progress=None, record_trial: int | None = None) -> list[TrialResult]:
    """Every algorithm on every trial, on ``workers`` processes; results in (trial, algorithm)
    order. ``progress`` (if given) is called with the number of trials finished so far.
    ``record_trial``: the index of a trial whose lens paths are kept (for the plot)."""
    for name in algorithms:
        if name not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {name!r} (known: {', '.join(ALGORITHMS)})")
    if window == "auto":
        window = render_window(algorithms)
    jobs = [(spec, tuple(algorithms), window, max_frames, spec.index == record_trial) for spec in trials]
    done: dict[int, list[TrialResult]] = {}
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            index, results = _run_job(job)
            done[index] = results
            if progress:
                progress(len(done))
    else:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with context.Pool(workers) as pool:
            for index, results in pool.imap_unordered(_run_job, jobs, chunksize=1):
                done[index] = results
                if progress:
                    progress(len(done))
    return [result for spec in trials for result in done[spec.index]]
