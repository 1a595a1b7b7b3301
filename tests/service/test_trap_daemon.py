"""Trap focus in the real daemon (simulated camera, stepped pacing, mock pins): the capture is the
peak frame of a subject passing through the armed plane, with its journal fields and events;
nothing fires on a still scene; AF-ON and the release disarm it; burst rules apply."""

from __future__ import annotations

import numpy as np
import pytest

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.service import events as ev
from focusd.signals import ButtonId
from focusd.hw.base import CameraFrame
from focusd.sim import SimRig, scenes

#: the simulated camera's lens starts here and nothing moves it unless AF-ON is pressed
START_LENS = 1.0


def approaching(rate: float = 1.0, seed: int = 4):
    """A subject filling the frame, approaching from 5 m (0.2 D) at ``rate`` D/s: it crosses the
    start lens's plane (1 D) after 0.8 s at 1 D/s."""
    return scenes.moving_scene("text", start_m=5.0, dioptres_per_s=rate, seed=seed)


def subject_depth(scene, row: dict) -> float:
    """The subject's depth in the middle of the captured frame's exposure (the simulator's clock)."""
    return scene.background.depth((row["frame_time_ns"] + row["exposure_time_us"] * 500) / 1e9)


def recorder(harness, kinds=(ev.TrapArmed, ev.TrapFired, ev.TrapDisarmed, ev.CaptureQueued)):
    seen = []
    harness.daemon.events.listen("test-trap", lambda e: seen.append(e) if isinstance(e, kinds) else None)
    return seen


@pytest.mark.parametrize("rate", [1.0, 3.0])
def test_the_trap_captures_the_peak_frame_of_a_passing_subject(tmp_path, rate):
    config = make_config(tmp_path, shutter={"trap": True, "burst": False})
    scene = approaching(rate)
    harness = DaemonHarness(config, scene=scene, light="indoor")
    seen = recorder(harness)
    with harness:
        harness.step(3)
        harness.press(ButtonId.SHUTTER)
        harness.step(2)
        assert harness.stats.captures_requested == 0  # armed: no capture at the press
        assert harness.wait(lambda s: s.captures_written == 1, 60)
        harness.step(30)  # the subject goes on past the plane: nothing more
        harness.release(ButtonId.SHUTTER)
        harness.step(2)
        assert harness.daemon.events_handled(5)
    (row,) = harness.journal()
    assert row["reason"] == "trap" and row["error"] is None
    assert row["trap_plane"] == pytest.approx(START_LENS)
    assert row["trap_rise"] > 1.1
    assert abs(subject_depth(scene, row) - START_LENS) <= 0.2  # the figure, on the daemon
    armed, fired = [e for e in seen if isinstance(e, ev.TrapArmed)], [e for e in seen if isinstance(e, ev.TrapFired)]
    assert len(armed) == 1 and armed[0].plane == pytest.approx(START_LENS)
    assert len(fired) == 1 and fired[0].peak_sequence == row["sequence"]
    assert fired[0].peak_time_ns == row["frame_time_ns"] < fired[0].time_ns  # the peak frame, known later
    assert not [e for e in seen if isinstance(e, ev.TrapDisarmed)]  # a fired trap is not "disarmed" at the release
    trap = harness.daemon.trap
    assert trap.most_held <= 2  # the latest frame and the peak so far, no more
    # a copy a frame from half-way up the rise to just past the peak, none while the sharpness falls
    # to the fire (it fires well after the peak: at 1 D/s some 15 frames)
    assert fired[0].time_ns - fired[0].peak_time_ns > 4 * harness.sim.frame_duration_ns
    assert 0 < trap.images_kept <= fired[0].peak_sequence + 4  # (armed at frame 4 or 5)


def test_burst_rules_apply_after_the_fire(tmp_path):
    config = make_config(tmp_path, shutter={"trap": True, "burst": True, "burst_fps": 10.0, "burst_limit": 3})
    harness = DaemonHarness(config, scene=approaching(2.0), light="indoor")
    with harness:
        harness.step(3)
        harness.press(ButtonId.SHUTTER)
        assert harness.wait(lambda s: s.captures_written == 3, 60)
        harness.release(ButtonId.SHUTTER)
        harness.step(20)
    rows = harness.journal()
    assert [(r["reason"], r["burst_index"]) for r in rows] == [("trap", 0), ("burst", 1), ("burst", 2)]
    assert len({r["press_id"] for r in rows}) == 1
    assert rows[1]["trap_plane"] is None  # the burst's frames are ordinary captures


def test_a_still_scene_never_fires_even_with_the_lens_arriving(tmp_path):
    """Out of focus and in focus, the lens still on its way after the AF-ON release when the
    shutter is held (its frames mix positions): 400 frames and nothing fires."""
    config = make_config(tmp_path, shutter={"trap": True}, af={"mode": "single"})
    harness = DaemonHarness(config, scene=scenes.texture_scene("bricks", distance_m=0.4, seed=2), light="dim")
    seen = recorder(harness)
    with harness:
        harness.step(3)
        harness.press(ButtonId.SHUTTER)  # armed at 1 D, the wall at 2.5 D: out of focus
        harness.step(200)
        harness.release(ButtonId.SHUTTER)
        harness.press(ButtonId.AF_ON)  # a scan that moves the lens towards the wall ...
        harness.step(4)
        harness.release(ButtonId.AF_ON)  # ... let go mid-way: the lens is still arriving
        harness.press(ButtonId.SHUTTER)
        harness.step(200)
        harness.release(ButtonId.SHUTTER)
        harness.step(2)
        assert harness.daemon.events_handled(5)
    assert harness.stats.captures_requested == 0 and harness.journal() == []
    assert harness.daemon.trap.images_kept == 0  # far from any rise: no image copied
    assert [type(e) for e in seen] == [ev.TrapArmed, ev.TrapDisarmed, ev.TrapArmed, ev.TrapDisarmed]
    assert [e.reason for e in seen if isinstance(e, ev.TrapDisarmed)] == ["released", "released"]


def test_af_on_disarms_the_trap_and_focuses(tmp_path):
    config = make_config(tmp_path, shutter={"trap": True, "burst": False})
    harness = DaemonHarness(config, scene=approaching(1.0), light="indoor")
    seen = recorder(harness)
    with harness:
        harness.step(3)
        harness.press(ButtonId.SHUTTER)
        harness.step(3)
        harness.press(ButtonId.AF_ON)
        harness.step(120)  # the subject passes 1 D meanwhile: the trap is off
        assert harness.daemon.events_handled(5)
        assert harness.stats.lens_commands > 0  # focusing as usual
        harness.release(ButtonId.AF_ON)
        harness.release(ButtonId.SHUTTER)
        harness.step(2)
    assert harness.stats.captures_requested == 0
    assert [(type(e), getattr(e, "reason", None)) for e in seen] == [(ev.TrapArmed, None), (ev.TrapDisarmed, "AF-ON")]


def test_a_kept_frame_keeps_its_own_image():
    """CameraFrame.keep_main: a copy now by default (the Pi's buffer goes back); the simulator's
    renders that very frame later (its lens, scene time, exposure), not the latest one."""
    frame = CameraFrame(y=np.zeros((4, 4), np.uint8), sequence=1, lens_position=0.0, timestamp_ns=0,
                        grab_main=lambda: np.full((2, 2), 7, np.uint8))
    kept = frame.keep_main()
    frame.grab_main = lambda: np.zeros((2, 2), np.uint8)
    assert kept().max() == 7
    rig = SimRig(approaching(3.0), light="bright", start_lens=START_LENS, seed=2)
    for _ in range(int(0.27 * 56)):  # the subject at 1 D (in focus) at 0.27 s
        rig.next_frame()
    now, later = rig.main_image(), rig.main_image_of(rig.last_frame)
    for _ in range(20):  # 0.36 s on: 1 D out of focus
        rig.next_frame()
    blurred = rig.main_image()

    def sharpness(image):
        return float(np.mean(np.diff(image[..., 0].astype(np.float32), axis=1) ** 2))

    assert sharpness(later()) == pytest.approx(sharpness(now), rel=0.05)
    assert sharpness(blurred) < 0.8 * sharpness(now)
