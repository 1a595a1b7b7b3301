"""Focus bracketing on the daemon (focusd.service.bracket_series): the real daemon on the stepped
simulator with its slew-limited lens, checked against the simulator's truth (SimLensActual,
SimLensMoving), and the sequencer alone on a fake lens where a case is hard to reach on the rig."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon_harness import TIMEOUT, DaemonHarness, test_config as make_config
from focusd.config.schema import BracketConfig
from focusd.config.profiles import load_profile
from focusd.lens_estimate import ExposedLens
from focusd.lens_path import LensPath
from focusd.service import events as ev
from focusd.service.bracket_series import (
    MAX_FRAMES_PER_SHOT, BracketSeries, Finished, Shot, Started, at_plane,
)
from focusd.signals import ButtonId

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER


def lock(rig: DaemonHarness) -> float:
    """AF-ON held until the scan locks, then let go: the lens stays at the lock."""
    rig.step(5)
    rig.press(AF)
    assert rig.wait(lambda s: s.af_state in ("FOCUSED", "FAILED"))
    rig.release(AF)
    rig.step(3)
    return rig.daemon.focus.commanded


def bracket_events(subscription) -> list:
    return [e for e in subscription.drain() if type(e).__name__.startswith("Bracket")]


def run_until_finished(rig: DaemonHarness, subscription, seen: list) -> ev.BracketFinished:
    for _ in range(400):
        seen += bracket_events(subscription)
        if any(isinstance(e, ev.BracketFinished) for e in seen):
            break
        rig.step(1)
    assert rig.wait(lambda s: s.captures_written + s.captures_failed == s.captures_requested)
    (finished,) = [e for e in seen if isinstance(e, ev.BracketFinished)]
    return finished


def series_lines(rig: DaemonHarness) -> list[dict]:
    return [line for line in rig.journal() if line["series"] is not None]


def test_a_series_from_the_inlet_shoots_every_plane_at_rest_in_its_own_folder(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 5})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        start = lock(rig)
        rig.daemon.inlet.bracket()
        seen: list = []
        finished = run_until_finished(rig, events, seen)
        rig.step(3)
        assert rig.sim.rig._manual_exposure is None  # the exposure is free again
    (started,) = [e for e in seen if isinstance(e, ev.BracketStarted)]
    shots = [e for e in seen if isinstance(e, ev.BracketShot)]
    assert started.start == pytest.approx(start) and started.planes[0] == pytest.approx(start, abs=1e-5)
    assert len(started.planes) == 5 and started.step == pytest.approx(started.depth_of_field)
    assert (finished.reason, finished.shots, finished.planned) == ("done", 5, 5)
    # the first plane is the lock itself; each later one: commanded at the shot before, first seen in
    # the metadata 2 frames later (the latency), and clean when three states agree: 5 frames
    assert [s.frames for s in shots] == [1, 5, 5, 5, 5]
    lines = series_lines(rig)
    assert [line["series_index"] for line in lines] == [1, 2, 3, 4, 5]
    assert [line["file"] for line in lines] == [f"BRACKET_0001/BRACKET_0001_{i:03d}.jpg" for i in range(1, 6)]
    assert sorted(p.name for p in (Path(config.capture.directory) / "BRACKET_0001").iterdir()) == [
        Path(line["file"]).name for line in lines]
    for line, plane, shot in zip(lines, started.planes, shots):
        assert line["series"] == "BRACKET_0001" and line["series_plane"] == pytest.approx(plane)
        assert line["reason"] == "bracket" and line["press_id"] == 0 and line["sequence"] == shot.sequence
        # wholly at the plane, on the simulator's truth as well as on the estimate
        assert line["lens_moving"] is False and line["extra"]["SimLensMoving"] is False
        assert line["extra"]["SimLensActual"] == pytest.approx(plane, abs=1e-3)
        assert line["lens_exposed"] == pytest.approx(plane, abs=1e-3)
    assert len({(round(line["exposure_time_us"], 3), round(line["analogue_gain"], 6)) for line in lines}) == 1


def test_a_double_press_starts_a_series_after_its_photo_and_a_press_stops_it(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 8})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        for _ in range(2):  # two taps 3 frames long, 4 frames apart: well inside 0.4 s
            rig.press(SHUT)
            rig.step(3)
            rig.release(SHUT)
            rig.step(4)
        assert rig.wait(lambda s: s.captures_written >= 1)
        seen: list = []
        for _ in range(200):
            seen += bracket_events(events)
            if sum(isinstance(e, ev.BracketShot) for e in seen) >= 2:
                break
            rig.step(1)
        requested = rig.stats.captures_requested
        rig.press(SHUT)  # stops the series, and is no photo
        rig.step(2)
        rig.release(SHUT)
        finished = run_until_finished(rig, events, seen)
        rig.step(10)
        assert rig.stats.captures_requested == requested
        assert rig.sim.rig._manual_exposure is None
        assert rig.stats.presses == 1  # the first tap; the second started the series, the third stopped it
        # presses are presses again: a tap now is a photo
        rig.press(SHUT)
        rig.step(3)
        rig.release(SHUT)
        assert rig.wait(lambda s: s.presses == 2 and s.captures_written == s.captures_requested)
    assert (finished.reason, finished.detail, finished.planned) == ("stopped", "shutter pressed", 8)
    assert 2 <= finished.shots < 8
    journal = rig.journal()
    assert journal[0]["series"] is None and journal[0]["press_id"] == 1  # the double-press's first tap
    assert [line["series_index"] for line in series_lines(rig)] == list(range(1, finished.shots + 1))
    assert journal[-1]["series"] is None and journal[-1]["press_id"] == 2


def test_af_on_stops_a_series_without_starting_a_scan(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 8})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        rig.daemon.inlet.bracket()
        rig.step(8)
        locks = rig.stats.af_locks
        rig.press(AF)
        rig.step(2)
        rig.release(AF)
        finished = run_until_finished(rig, events, [])
        rig.step(20)
        assert rig.daemon.engine_active is False and rig.stats.af_locks == locks
    assert (finished.reason, finished.detail) == ("stopped", "af_on pressed")


def test_towards_infinity_the_lens_range_clips_the_series(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "infinity", "shots": 5})
    with DaemonHarness(config, seed=1) as rig:  # the demo scene is at 1.2 m: 0.83 D, two planes fit
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        rig.daemon.inlet.bracket()
        finished = run_until_finished(rig, events, [])
    assert (finished.reason, finished.shots, finished.planned) == ("clipped", 2, 2)


def test_a_camera_fault_ends_the_series_and_releases_the_exposure(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 8})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        rig.daemon.inlet.bracket()
        rig.step(8)
        assert rig.sim.rig._manual_exposure is not None  # held while the series runs
        rig.sim.inject_errors(1)
        rig.sim.step(1)
        assert rig.daemon.wait_until(lambda s: s.camera_faults == 1, TIMEOUT)
        finished = run_until_finished(rig, events, [])
        assert rig.sim.rig._manual_exposure is None
        assert not rig.daemon.bracket.running and not rig.daemon.controller.state.bracketing
    assert finished.reason == "fault" and "error" in finished.detail.lower()


def test_the_daemon_stopping_ends_a_series_cleanly(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 8})
    rig = DaemonHarness(config, seed=1)
    events = rig.daemon.events.subscribe("test", depth=100_000)
    with rig:
        lock(rig)
        rig.daemon.inlet.bracket()
        rig.step(8)
    finished = [e for e in events.drain() if isinstance(e, ev.BracketFinished)]
    assert [(f.reason, f.detail) for f in finished] == [("stopped", "daemon stopping")]
    assert rig.sim.rig._manual_exposure is None
    assert rig.stats.captures_failed == 0


def test_steps_wider_than_the_slew_are_sent_a_slew_at_a_time(tmp_path):
    """imx708_wide: a depth of field of 1.63 D, more than the IPA's 1.5 D slew per write."""
    config = make_config(tmp_path, camera={"profile": "imx708_wide"}, bracket={"direction": "near", "shots": 3})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        first = len(rig.camera.lens_commands)
        rig.daemon.inlet.bracket()
        seen: list = []
        finished = run_until_finished(rig, events, seen)
        commands = [target for _, target in rig.camera.lens_commands[first:]]
    (started,) = [e for e in seen if isinstance(e, ev.BracketStarted)]
    assert started.step > 1.5 and finished.reason in ("done", "clipped")
    previous = started.start
    for target in commands:
        assert abs(target - previous) <= 1.5 + 1e-9
        previous = target
    assert len(commands) == 2 * (finished.shots - 1)  # two writes per plane
    for line in series_lines(rig):
        assert line["extra"]["SimLensMoving"] is False
        assert line["extra"]["SimLensActual"] == pytest.approx(line["series_plane"], abs=1e-3)


def test_a_reload_changes_the_next_series(tmp_path):
    path = tmp_path / "focusd.toml"
    base = f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n[bracket]\ndirection = "near"\n'
    path.write_text(base + "shots = 2\n")
    from focusd.config.settings import load_config

    with DaemonHarness(load_config(path), seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        path.write_text(base + "shots = 3\n")
        rig.daemon.request_reload()
        rig.step(2)
        rig.daemon.inlet.bracket()
        finished = run_until_finished(rig, events, [])
    assert finished.planned == 3


# ----------------------------------------------------------------------- the sequencer alone


@dataclass
class FakeEstimate:
    answer: ExposedLens | None = None

    def exposed(self, sequence):
        return self.answer


class FakeFocus:
    """What BracketSeries uses of FocusDriver: the lens path, the estimate, move_lens, commanded."""

    def __init__(self, commanded=1.0, max_slew=1.5):
        self.lens_path = LensPath(2, max_slew, 1, (0.0, 15.0))
        self.lens_estimate = FakeEstimate()
        self.commanded = commanded
        self.moves: list[float] = []

    def move_lens(self, target, frame):
        self.moves.append(target)
        self.commanded = target


class FakeCamera:
    def __init__(self):
        self.holds: list[bool] = []

    def hold_exposure(self, held):
        self.holds.append(held)


@dataclass
class FakeFrame:
    sequence: int
    timestamp_ns: int = 0
    lens_position: float = 1.0


def series(**settings):
    focus, camera = FakeFocus(), FakeCamera()
    return BracketSeries(BracketConfig(**settings), load_profile("imx708"), camera, focus), focus, camera


def test_a_frame_that_may_have_seen_the_lens_move_or_another_plane_is_not_shot():
    clean = ExposedLens(1.0, 1.0, 1.0, False, "metadata")
    assert at_plane(clean, 1.0) and at_plane(clean, 1.005)
    assert not at_plane(ExposedLens(1.0, 0.9, 1.0, True, "metadata"), 1.0)
    assert not at_plane(ExposedLens(1.02, 1.02, 1.02, False, "metadata"), 1.0)
    assert not at_plane(None, 1.0)


def test_the_first_frame_at_the_plane_is_shot_and_not_one_before():
    bracket, focus, camera = series(direction="near", shots=2)
    bracket.start()
    focus.lens_estimate.answer = ExposedLens(1.0, 0.9, 1.0, True, "metadata")  # still moving
    outcomes = bracket.frame(FakeFrame(10))
    assert [type(o) for o in outcomes] == [Started] and camera.holds == [True]
    focus.lens_estimate.answer = ExposedLens(1.0, 1.0, 1.0, False, "metadata")
    (shot,) = bracket.frame(FakeFrame(11, timestamp_ns=500))
    assert isinstance(shot, Shot) and shot.sequence == 11 and shot.capture.due_ns == 500
    assert shot.capture.series.index == 1 and shot.frames == 2
    assert focus.moves == [pytest.approx(1.0 + 0.4486, abs=1e-3)]  # the next plane, commanded at once


def test_a_plane_the_lens_never_settles_at_ends_the_series_as_a_fault_and_releases_the_exposure():
    bracket, focus, camera = series(direction="near", shots=3)
    bracket.start()
    focus.lens_estimate.answer = ExposedLens(1.0, 0.9, 1.0, True, "metadata")
    outcomes = []
    for sequence in range(MAX_FRAMES_PER_SHOT + 5):
        outcomes += bracket.frame(FakeFrame(sequence))
    (finished,) = [o for o in outcomes if isinstance(o, Finished)]
    assert finished.reason == "fault" and finished.shots == 0 and "did not settle" in finished.detail
    assert camera.holds == [True, False] and not bracket.running


def test_a_series_stopped_before_its_first_frame_held_nothing_and_says_nothing():
    bracket, _, camera = series()
    bracket.start()
    assert bracket.running
    assert bracket.stop("stopped", "shutter pressed", 0) == []
    assert not bracket.running and camera.holds == []
    assert bracket.stop("stopped", "shutter pressed", 0) == []  # none runs: nothing


def test_a_series_after_a_series_starts_from_the_same_lock_and_after_a_scan_from_the_new_one(tmp_path):
    config = make_config(tmp_path, bracket={"direction": "near", "shots": 3})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        first_lock = lock(rig)
        starts = []
        for _ in range(2):
            rig.daemon.inlet.bracket()
            seen: list = []
            run_until_finished(rig, events, seen)
            starts += [e.start for e in seen if isinstance(e, ev.BracketStarted)]
        rig.step(3)
        second_lock = lock(rig)
        rig.daemon.inlet.bracket()
        seen = []
        run_until_finished(rig, events, seen)
        starts += [e.start for e in seen if isinstance(e, ev.BracketStarted)]
    assert starts[:2] == [pytest.approx(first_lock)] * 2  # not from the first series' last plane
    assert starts[2] == pytest.approx(second_lock)
    lines = series_lines(rig)
    assert len(lines) == 9 and [line["series"] for line in lines[::3]] == ["BRACKET_0001", "BRACKET_0002",
                                                                          "BRACKET_0003"]
    for line in lines:  # the second series' first plane too, after the lens went back
        assert line["extra"]["SimLensMoving"] is False
        assert line["extra"]["SimLensActual"] == pytest.approx(line["series_plane"], abs=1e-3)


def test_with_full_resolution_captures_the_next_plane_waits_for_the_frame_after_the_shot():
    """The full-resolution capture is a mode switch after the shot's frame: no lens command may
    precede it."""
    focus, camera = FakeFocus(), FakeCamera()
    bracket = BracketSeries(BracketConfig(direction="near", shots=2), load_profile("imx708"), camera, focus,
                            full_resolution=True)
    bracket.start()
    focus.lens_estimate.answer = ExposedLens(1.0, 1.0, 1.0, False, "metadata")
    outcomes = bracket.frame(FakeFrame(10))
    assert [type(o) for o in outcomes] == [Started, Shot] and focus.moves == []
    assert bracket.frame(FakeFrame(11)) == [] and focus.moves == [pytest.approx(1.4486, abs=1e-3)]


def test_with_capture_raw_each_shot_s_dng_is_in_the_series_folder_with_its_plane(tmp_path):
    """capture.raw and bracketing together: a focus-stacking tool that takes raw files finds the
    series' DNGs beside its JPEGs, named alike, each with its own lens position inside."""
    import json

    import rawpy
    from PIL import TiffImagePlugin

    config = make_config(tmp_path, bracket={"direction": "near", "shots": 3}, capture={"raw": True})
    with DaemonHarness(config, seed=1) as rig:
        events = rig.daemon.events.subscribe("test", depth=100_000)
        lock(rig)
        rig.daemon.inlet.bracket()
        assert run_until_finished(rig, events, []).reason == "done"
    lines = series_lines(rig)
    folder = Path(config.capture.directory)
    assert [line["raw"] for line in lines] == [f"BRACKET_0001/BRACKET_0001_{i:03d}.dng" for i in range(1, 4)]
    for line in lines:
        with rawpy.imread(str(folder / line["raw"])) as decoded:
            assert decoded.sizes.raw_width > 0
        with open(folder / line["raw"], "rb") as dng:  # the DNG's own metadata: IFD 0's ImageDescription
            tags = TiffImagePlugin.ImageFileDirectory_v2(dng.read(8))
            tags.load(dng)
        inside = json.loads(tags[270])
        assert inside["series_plane"] == pytest.approx(line["series_plane"])
        assert inside["lens_exposed"] == pytest.approx(line["series_plane"], abs=1e-3)
