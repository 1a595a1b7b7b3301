"""Continuous-AF checks of the benchmark (``focusd bench --tracking``): focusd's engine only.

- static: continuous AF on a still scene; after the first lock, ``hold_frames`` (1,000) more frames
  must bring no lens command at all (a hunting lens spoils video and wastes the battery);
- moving: a subject moving in depth at 2 D/s; after the first lock the mean |lens - truth| over
  the tracking frames, the lens being where it really was during each exposure (``lens_actual``)
  and the truth the scene's in-focus position at that frame's time.

The stock baselines are not run here: libcamera's continuous mode relies on PDAF, which the
simulator does not model (see focusd.bench.stock).
"""

from __future__ import annotations

import math
import multiprocessing
import sys

from focusd.af import AutofocusEngine
from focusd.af.types import AfMode, AfState, Frame
from focusd.bench.runner import LENS_RANGE, make_rig
from focusd.bench.suite import SceneSpec, TrialSpec

#: Frames allowed for the first lock before a tracking run is recorded as never locked.
LOCK_FRAMES = 200


def _engine(latency: int):
    return AutofocusEngine(lens_range=LENS_RANGE, latency_frames=latency)


def _frame(sim_frame):
    return Frame(y=sim_frame.y, lens_position=sim_frame.lens_position, sequence=sim_frame.sequence)


def static_check(spec: TrialSpec, hold_frames: int = 1000, window=None) -> dict:
    """Continuous AF on a still scene: frames to the first lock, then lens commands afterwards."""
    rig = make_rig(spec, window)
    engine = _engine(spec.told_latency)
    engine.start(AfMode.CONTINUOUS, lens_position=spec.start)
    locked_at = None
    commands_after = 0
    commanded = spec.start
    for frame_number in range(1, LOCK_FRAMES + hold_frames + 1):
        target = engine.update(_frame(rig.next_frame()))
        if target is not None:
            rig.set_lens_position(target)
            commanded = float(target)
            if locked_at is not None:
                commands_after += 1
        if locked_at is None and engine.state == AfState.FOCUSED:
            locked_at = frame_number
        if locked_at is not None and frame_number >= locked_at + hold_frames:
            break
    truth = float(rig.truth())
    return {
        "scene": spec.scene.name, "light": spec.light, "start": spec.start, "lock_frames": locked_at,
        "frames_after_lock": hold_frames if locked_at is not None else 0,
        "commands_after_lock": commands_after if locked_at is not None else None,
        "final": round(commanded, 4), "truth": round(truth, 4), "error": round(commanded - truth, 4),
        "state": engine.state.name,
    }


def moving_check(spec: TrialSpec, track_frames: int = 150, window=None) -> dict:
    """Continuous AF on a subject moving in depth: mean |lens - truth| after the first lock."""
    scene = spec.scene.build()
    rig = make_rig(spec, window, scene=scene)
    engine = _engine(spec.told_latency)
    engine.start(AfMode.CONTINUOUS, lens_position=spec.start)
    locked_at = None
    errors: list[float] = []
    all_errors: list[float] = []
    for frame_number in range(1, LOCK_FRAMES + track_frames + 1):
        sim_frame = rig.next_frame()
        # where the lens really was during this exposure vs where the subject was at that time
        error = abs(float(sim_frame.lens_actual) - float(scene.truth_dioptres(sim_frame.time_s)))
        all_errors.append(error)
        if locked_at is not None:
            errors.append(error)
        target = engine.update(_frame(sim_frame))
        if target is not None:
            rig.set_lens_position(target)
        if locked_at is None and engine.state == AfState.FOCUSED:
            locked_at = frame_number
        if locked_at is not None and frame_number >= locked_at + track_frames:
            break
    return {
        "scene": spec.scene.name, "light": spec.light, "start": spec.start, "lock_frames": locked_at,
        "tracking_frames": len(errors),
        "mean_abs_error": round(sum(errors) / len(errors), 4) if errors else None,
        "max_abs_error": round(max(errors), 4) if errors else None,
        "mean_abs_error_from_press": round(sum(all_errors) / len(all_errors), 4) if all_errors else None,
    }


def tracking_trials(textures: list[str], seed: int = 0) -> tuple[list[TrialSpec], list[TrialSpec]]:
    """The static and moving trials of ``--tracking``."""
    static = [
        TrialSpec(index=i, block="tracking-static", scene=SceneSpec("texture", texture, distance, seed=seed * 1000 + i),
                  light=light, start=start, seed=seed * 1000 + i)
        for i, (texture, distance, light, start) in enumerate([
            (textures[0], 1.0, "bright", 0.0), (textures[1 % len(textures)], 0.3, "indoor", 1.0),
            (textures[2 % len(textures)], math.inf, "bright", 4.0), (textures[3 % len(textures)], 2.0, "indoor", 12.0),
        ])
    ]
    moving = [
        TrialSpec(index=100 + i, block="tracking-moving",
                  scene=SceneSpec("moving", texture, start_m, dioptres_per_s=rate, seed=seed * 1000 + 100 + i),
                  light=light, start=start, seed=seed * 1000 + 100 + i)
        for i, (texture, start_m, rate, light, start) in enumerate([
            (textures[0], 2.0, 2.0, "bright", 0.5), (textures[1 % len(textures)], 0.25, -2.0, "bright", 4.0),
            (textures[2 % len(textures)], 1.0, 2.0, "indoor", 1.0),
        ])
    ]
    return static, moving


def _static_job(job):
    spec, hold_frames, window = job
    return static_check(spec, hold_frames, window)


def _moving_job(job):
    spec, track_frames, window = job
    return moving_check(spec, track_frames, window)


def run_tracking(textures: list[str], seed: int = 0, workers: int = 2, window=None,
                 hold_frames: int = 1000, track_frames: int = 150) -> tuple[list[dict], list[dict]]:
    """Both checks, on ``workers`` processes."""
    static, moving = tracking_trials(textures, seed)
    static_jobs = [(spec, hold_frames, window) for spec in static]
    moving_jobs = [(spec, track_frames, window) for spec in moving]
    if workers <= 1:
        return [_static_job(j) for j in static_jobs], [_moving_job(j) for j in moving_jobs]
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(workers) as pool:
        static_results = pool.map(_static_job, static_jobs, chunksize=1)
        moving_results = pool.map(_moving_job, moving_jobs, chunksize=1)
    return static_results, moving_results
