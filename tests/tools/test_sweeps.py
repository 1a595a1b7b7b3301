"""record-sweep and measure-latency (focusd.tools.sweeps and their commands) on the simulated camera.

The simulator's lens latency is known exactly, so the measurement must find it exactly; a sweep
recorded on the simulator must load as a sweep and replay to the same autofocus result as the
live simulator.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from focusd.errors import CameraError, FocusdError
from focusd.hw.base import Camera, CameraFrame
from focusd.config.profiles import load_profile
from focusd.sim import SimCamera, SimRig, scenes
from focusd.tools.sweeps import (LatencySettings, measure_latency, record_sweep, sweep_positions)

PROFILE = load_profile("imx708")
WINDOW = (0.25, 1 / 3, 0.5, 1 / 3)


def sim_camera(latency: int = 2, distance_m: float = 1.0, texture: str = "bricks", seed: int = 0,
               light: str = "bright", pacing: str = "virtual", scene=None, window=WINDOW,
               mode: tuple[int, int] | None = None) -> SimCamera:
    """A started simulated camera; ``window`` renders only the AF window (speed: the measure
    reads nothing else); None renders the whole frame."""
    scene = scene if scene is not None else scenes.texture_scene(texture, distance_m=distance_m, seed=seed)
    rig = SimRig(scene, profile=PROFILE, mode=mode, light=light, latency_frames=latency, start_lens=1.0, seed=seed,
                 window=window)
    camera = SimCamera(rig, pacing=pacing)
    camera.start()
    return camera


class RecordingCamera(Camera):
    """Passes a SimCamera through and keeps, per delivered frame, where the lens truly was
    (the simulator's SimLensActual) - so a test can check which frames the tool kept - and, per
    lens command, whether a frame was still held (not released) when it came."""

    def __init__(self, inner: SimCamera, fail_after: int | None = None, drop_every: int = 0):
        self.inner = inner
        self.name = inner.name
        self.actual: dict[int, float] = {}
        self.fail_after = fail_after
        self.drop_every = drop_every
        self.held = 0
        self.commanded_while_held: list[bool] = []

    lens_range = property(lambda self: self.inner.lens_range)
    frame_duration_ns = property(lambda self: self.inner.frame_duration_ns)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def now_ns(self) -> int:
        return self.inner.now_ns()

    def set_lens_position(self, dioptres: float) -> None:
        self.commanded_while_held.append(self.held > 0)
        self.inner.set_lens_position(dioptres)

    def next_frame(self, timeout_s: float) -> CameraFrame:
        if self.fail_after is not None and len(self.actual) >= self.fail_after:
            raise CameraError("camera unplugged (test)")
        if self.drop_every and (len(self.actual) + 1) % self.drop_every == 0:
            self.inner.rig.skip_frames(1)  # a frame the camera dropped: its sequence number is skipped
        frame = self.inner.next_frame(timeout_s)
        self.actual[frame.sequence] = frame.metadata["SimLensActual"]
        self.held += 1
        inner_release = frame.release_callback

        def release() -> None:
            self.held -= 1
            if inner_release is not None:
                inner_release()

        frame.release_callback = release
        return frame


class QueuedCamera(RecordingCamera):
    """As a picamera2 camera with 3 buffers: lens commands wait behind 2 queued requests (the
    simulator's true latency stands for the whole, end-to-end latency)."""

    lens_queue_frames = 2


# ------------------------------------------------------------------------------ measure-latency


@pytest.mark.parametrize("latency", [1, 2, 3])
def test_measure_latency_finds_the_true_latency_exactly(latency):
    camera = sim_camera(latency=latency, seed=latency, distance_m=0.2)  # 5 D: blurred on both sides
    result = measure_latency(camera, WINDOW, LatencySettings(steps=6), lens_range=(0.0, 12.0), max_slew=1.5)
    assert result.per_step == [latency] * 6
    sharp = result.positions[0]
    assert abs(sharp - 5.0) <= 1.0 and min(result.targets) < sharp < max(result.targets)  # up and down
    assert result.latency_frames == latency
    assert result.profile_line().startswith(f"lens_latency_frames = {latency}   # measured: median {latency}, "
                                            f"range {latency} over 6 steps")


@pytest.mark.parametrize("texture, distance_m", [("foliage", 0.3), ("text", 0.5)])
def test_measure_latency_on_the_stepped_camera_in_dim_light(texture, distance_m):
    # dim light: the exposure fills the whole frame, so the first frame after the move began is
    # a blend of both positions, and must count as moved both going blurred and going sharp
    camera = sim_camera(latency=3, distance_m=distance_m, texture=texture, light="dim", seed=5, pacing="stepped")
    camera.step(5000)  # permits for every frame the measurement may take: no thread needed
    result = measure_latency(camera, WINDOW, LatencySettings(steps=4), lens_range=(0.0, 12.0), max_slew=1.5)
    assert result.per_step == [3, 3, 3, 3]
    assert camera.rig.last_frame.exposure_time_us > 0.9 * camera.frame_duration_ns / 1e3
    sharp, blurred = result.positions
    assert abs(sharp - 1 / distance_m) <= 1.0 and abs(blurred - sharp) >= 6.0


def test_measure_latency_at_120_fps_where_a_long_move_outlasts_a_frame():
    # 1536x864 at 120 fps, indoor: the exposure fills the 8.3 ms frame and the lens needs longer
    # than that to come near focus from 10 D away; only the departure from focus is timed
    camera = sim_camera(latency=2, distance_m=0.3, texture="skin", light="indoor", seed=8, mode=(1536, 864))
    result = measure_latency(camera, WINDOW, LatencySettings(steps=4), lens_range=(0.0, 12.0), max_slew=1.5)
    assert result.per_step == [2, 2, 2, 2]
    assert camera.frame_duration_ns < 8_400_000


def test_measure_latency_counts_dropped_frames_by_sequence():
    camera = RecordingCamera(sim_camera(latency=2, seed=6), drop_every=5)
    result = measure_latency(camera, WINDOW, LatencySettings(steps=7), positions=(1.0, 10.0), max_slew=1.5)
    # a step whose first moved frame was dropped is seen one frame late; the median is not moved
    assert result.latency_frames == 2 and set(result.per_step) <= {2, 3}
    assert max(camera.actual) + 1 > len(camera.actual)  # frames really were dropped


def test_measure_latency_between_given_positions_and_spread():
    camera = sim_camera(latency=0, seed=2)
    result = measure_latency(camera, WINDOW, LatencySettings(steps=5), positions=(1.0, 9.0), max_slew=1.5)
    assert result.positions == (1.0, 9.0) and result.per_step == [0] * 5
    # the reported figures follow from the per-step values
    result.per_step = [2, 3, 2, 3]
    assert (result.latency_frames, result.median, result.spread) == (3, 2.5, (2, 3))
    assert "median 2.5, range 2-3 over 4 steps" in result.profile_line()


def test_the_tools_command_the_lens_from_a_held_frame_as_the_daemon_does(tmp_path):
    # on picamera2 a command sent after the frame's release leaves one request later: measured
    # that way, the latency would be one frame more than the daemon's engine meets
    camera = RecordingCamera(sim_camera(latency=2, seed=6))
    measure_latency(camera, WINDOW, LatencySettings(steps=3), positions=(1.0, 10.0))
    record_sweep(camera, [0.0, 6.0], 1, tmp_path / "s", latency_frames=2)
    assert len(camera.commanded_while_held) >= 3 + 2 and all(camera.commanded_while_held)
    assert camera.held == 0  # every frame went back


def test_measure_latency_refuses_a_featureless_scene():
    camera = sim_camera(scene=scenes.featureless_scene(seed=0), light="indoor")
    with pytest.raises(FocusdError, match="hardly changes"):
        measure_latency(camera, WINDOW, LatencySettings(steps=2), lens_range=(0.0, 12.0))


# ------------------------------------------------------------------------------ record-sweep


def test_sweep_positions():
    assert sweep_positions((0, 12), 0.25)[:3] == [0.0, 0.25, 0.5] and len(sweep_positions((0, 12), 0.25)) == 49
    assert sweep_positions((0, 1), 0.3) == [0.0, 0.3, 0.6, 0.9, 1.0]  # the far end is always included
    for bad in [((3, 3), 1.0), ((0, 12), 0.0), ((-1, 2), 0.5), ((0, math.nan), 0.5)]:
        with pytest.raises(ValueError):
            sweep_positions(*bad)


# settle 0 keeps the first frame exposed after the move began: the VCM's first-order tail is still
# in it (a few hundredths of a dioptre); one frame more and it has settled
@pytest.mark.parametrize("latency, settle, tolerance", [(2, 0, 0.05), (3, 1, 1e-3)])
def test_record_sweep_keeps_settled_frames_and_writes_the_format(tmp_path, latency, settle, tolerance):
    from focusd.sim.sweep import load_sweep

    camera = RecordingCamera(sim_camera(latency=latency, seed=4))
    positions = sweep_positions((0.0, 12.0), 1.5)
    record = record_sweep(camera, positions, settle, tmp_path / "sweep", latency_frames=latency, notes="bench test")
    # every kept frame was exposed with the lens at its commanded position, not on the way there
    for sequence, position in zip(record.sequences, positions):
        assert camera.actual[sequence] == pytest.approx(position, abs=tolerance)
    # ... and no later than needed: settle + 1 frames earlier the lens still showed the last position
    for sequence, previous in zip(record.sequences[1:], positions):
        assert camera.actual[sequence - settle - 1] == pytest.approx(previous, abs=1e-3)
    description = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert description["format"] == "focusd-sweep/1"
    assert description["lens_positions"] == positions and description["lens_range"] == [0.0, 12.0]
    assert description["camera"] == "sim:imx708" and "bench test" in description["notes"]
    assert "exposure" in description["notes"] and "gain" in description["notes"]
    first = np.asarray(Image.open(tmp_path / "sweep" / description["frames"][0]))
    assert first.shape == (PROFILE.lores_size[1], PROFILE.lores_size[0]) and first.dtype == np.uint8
    sweep = load_sweep(tmp_path / "sweep", lens_range=(0.0, 15.0))
    assert list(sweep.lens_positions) == pytest.approx(positions)
    assert [p.name for p in tmp_path.iterdir()] == ["sweep"]  # no temporary folder left


def test_record_sweep_saves_main_images(tmp_path):
    camera = sim_camera(seed=1)
    record = record_sweep(camera, [0.0, 6.0], 1, tmp_path / "s", latency_frames=2, save_main=True)
    assert record.main_frames == ["main/000.png", "main/001.png"]
    main = np.asarray(Image.open(tmp_path / "s" / "main" / "001.png"))
    assert main.ndim == 3 and main.shape[2] == 3 and main.shape[1] > PROFILE.lores_size[0]
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["main_frames"] == record.main_frames


def test_record_sweep_loses_nothing_on_failure(tmp_path):
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        record_sweep(sim_camera(), [0.0, 1.0], 1, existing, latency_frames=2)
    assert (existing / "keep.txt").read_text() == "mine" and len(list(existing.iterdir())) == 1
    camera = RecordingCamera(sim_camera(), fail_after=20)  # fails part-way through the sweep
    with pytest.raises(CameraError):
        record_sweep(camera, sweep_positions((0, 12), 1.0), 1, tmp_path / "partial", latency_frames=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no partial sweep, no temp folder
    with pytest.raises(ValueError, match="outside the lens range"):
        record_sweep(sim_camera(), [0.0, 16.0], 1, tmp_path / "x", latency_frames=2)


# ------------------------------------------------------------------------------ the commands


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_measure_latency_command_prints_the_lines_to_set(tmp_path, capsys):
    from focusd.commands import measure_latency as command

    out = tmp_path / "latency.txt"
    args = _parse(command, ["--sim", "--sim-latency", "3", "--steps", "4", "--seed", "2", "--out", str(out)])
    assert command.main(args) == 0
    printed = capsys.readouterr().out
    assert re.match(r"\[af\]\nlens_latency_frames = 3   # measured end to end: median 3, range 3 over 4 steps\n",
                    printed)
    assert "imx708.toml:\n#   lens_latency_frames = 3   # measured: median 3, range 3 over 4 steps\n" in printed
    assert out.read_text() == printed


def test_measure_latency_takes_the_cameras_request_queue_out_of_the_profile_line(monkeypatch, capsys):
    # end to end 5 frames on a camera whose lens commands wait 2 frames in its own request queue:
    # the device's [af] line is the measured 5, the profile's (counted from the ISP) is 3
    import focusd.commands.record_sweep as record
    from focusd.service.cameras import told_lens_path
    from focusd.commands import measure_latency as command
    from focusd.config.settings import default_config

    camera = QueuedCamera(sim_camera(latency=5, seed=2))
    monkeypatch.setattr(record, "open_camera", lambda config, args: (camera, "a camera with a request queue"))
    assert command.main(_parse(command, ["--sim", "--steps", "4"])) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("[af]\nlens_latency_frames = 5   # measured end to end: median 5, range 5 over 4 steps\n")
    assert "#   lens_latency_frames = 3   # measured: median 5, range 5 over 4 steps, less 2 queued" in printed
    assert "now: 4: the profile's 2 + 2 queued" in printed
    # and both lines tell the daemon's engine the measured 5
    config = default_config()
    assert told_lens_path(config, dataclasses.replace(PROFILE, lens_latency_frames=3), camera).latency_frames == 5
    measured = dataclasses.replace(config, af=dataclasses.replace(config.af, lens_latency_frames=5))
    assert told_lens_path(measured, PROFILE, camera).latency_frames == 5


def test_commands_refuse_bad_input(tmp_path, capsys):
    from focusd.commands import measure_latency, record_sweep as record

    from focusd.cli import main as focusd_main

    assert focusd_main(["record-sweep", "--sim", "--out", str(tmp_path / "a"), "--set", "camera.backend=film"]) == 78
    assert record.main(_parse(record, ["--sim", "--out", str(tmp_path / "a"), "--range", "5", "2"])) == 2
    assert record.main(_parse(record, ["--sim", "--out", str(tmp_path / "a"), "--texture", "nope"])) == 2
    assert measure_latency.main(_parse(measure_latency, ["--sim", "--steps", "0"])) == 2
    errors = capsys.readouterr().err
    assert "camera.backend" in errors and "range 5 2: need 0 <= A < B" in errors and "--texture nope" in errors
    assert list(tmp_path.iterdir()) == []


def test_averaging_frames_cuts_the_recorded_noise(tmp_path):
    def recorded(seed: int, average: int) -> np.ndarray:
        camera = sim_camera(seed=seed, light="dim", scene=scenes.texture_scene("bricks", distance_m=1.0, seed=0))
        record_sweep(camera, [4.0], 1, tmp_path / f"{seed}-{average}", latency_frames=2, average_frames=average)
        return np.asarray(Image.open(tmp_path / f"{seed}-{average}" / "000.png"), dtype=np.float64)

    # same scene and lens position, different sensor noise: what differs is the noise (in dim
    # light, where it is well above the 8-bit rounding that no averaging removes)
    single = np.var(recorded(1, 1) - recorded(2, 1))
    averaged = np.var(recorded(1, 8) - recorded(2, 8))
    assert single > 0.3 and averaged < single / 4  # 0.3: twice 8-bit rounding (2 / 12) and more


# ------------------------------------------------------------------------------ replay equivalence


def test_a_recorded_sweep_replays_through_bench_like_the_live_simulator(tmp_path, capsys):
    """record-sweep on the simulator, then ``focusd bench --sweep``: the engine's result from every
    start must match the live simulator's on the same scene (same starts, latency, light, noise seeds)."""
    from focusd.bench.runner import render_window, run_trial
    from focusd.bench.suite import SceneSpec, TrialSpec
    from focusd.commands import bench, record_sweep as record

    step, seed = 0.5, 3
    folder = tmp_path / "bricks-1m"
    assert record.main(_parse(record, ["--sim", "--texture", "bricks", "--distance", "1.0", "--seed", str(seed),
                                       "--step", str(step), "--range", "0", "12", "--out", str(folder)])) == 0
    written = json.loads((folder / "sweep.json").read_text())
    assert written["sensor_mode"] == list(PROFILE.focus_mode) and written["average_frames"] == 8
    assert written["frame_duration_ns"] == PROFILE.mode().frame_duration_ns
    report = tmp_path / "replay.json"
    assert bench.main(_parse(bench, ["--sweep", str(folder), "--algorithms", "focusd", "--json", str(report),
                                     "--workers", "1", "--no-progress"])) == 0
    replay = json.loads(report.read_text())
    rows = [row for row in replay["trials"] if row["algorithm"] == "focusd"]
    assert len(rows) == 25
    live_scene = SceneSpec("texture", "bricks", 1.0, seed=seed)
    for row in rows:
        # the trial as the bench ran it on the sweep (its rig seed, start, latency, light), on the live scene
        live = run_trial(TrialSpec(index=row["trial"], block="live", scene=live_scene, light=row["light"],
                                   latency=row["latency"], told_latency=row["told_latency"], start=row["start"],
                                   seed=replay["conditions"]["seed"] * 1000 + row["trial"]),
                         "focusd", window=render_window(["focusd"]))
        where = (f"start {row['start']}: replay {row['final']} D in {row['frames']} frames, "
                 f"live {live.final} D in {live.frames}")
        assert row["state"] == live.state == "FOCUSED", where
        assert abs(row["truth"] - live.truth) <= step / 2 + 1e-9, where  # the sweep's truth is its sharpest frame
        assert abs(row["final"] - live.final) <= step, where
        # the frames may differ by a dozen: the engine learns how long to hold each position from the
        # first steps that change the measure clearly (focusd.af.sweep.learn_dwell), and the replay's
        # floor (the recorded frames' 8-bit rounding under the replay's own noise) can tip that
        # choice between holding one frame and three (44 frames against 24 from 4.5 D)
        assert abs(row["frames"] - live.frames) <= 25, where


def test_a_sweep_recorded_in_a_cropped_mode_replays_with_the_same_field(tmp_path):
    """The IMX708's 1536x864 mode reads only the sensor's centre (a crop): its frames already show
    that crop, and the replay in the same mode must not crop them a second time (which would
    magnify the scene 1.5 x and change every focus curve)."""
    from focusd.sim.sweep import SweepScene, load_sweep

    mode = (1536, 864)
    assert PROFILE.mode(mode).crop != (0, 0, *PROFILE.full_resolution)
    camera = sim_camera(mode=mode, window=None, texture="text", distance_m=1.0)
    try:
        record_sweep(camera, [0.5, 1.0, 1.5], 2, tmp_path / "cropped", latency_frames=2, average_frames=4,
                     extra={"sensor_mode": list(mode)})
    finally:
        camera.stop()
    sweep = load_sweep(tmp_path / "cropped")
    assert sweep.sensor_mode == mode
    live = SimRig(scenes.texture_scene("text", distance_m=1.0, seed=0), profile=PROFILE, mode=mode, seed=1,
                  start_lens=1.0)
    replay = SimRig(SweepScene(sweep), profile=PROFILE, mode=mode, seed=1, start_lens=1.0)
    live_y = np.mean([live.next_frame().y for _ in range(4)], axis=0)
    replay_y = np.mean([replay.next_frame().y for _ in range(4)], axis=0)
    correlation = np.corrcoef(live_y.ravel(), replay_y.ravel())[0, 1]
    assert correlation > 0.9, f"the replay shows a different field (correlation {correlation:.2f})"
