"""The whole daemon on the simulated camera and gpiozero mock pins (issue: runs end to end)."""

from __future__ import annotations

import os
import signal

import pytest

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.hw.base import ButtonId

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER


def run_scan(tmp_path, press_shutter_at: int | None, frames: int = 40):
    """AF-ON held from frame 3; optionally a shutter tap at a given frame. Returns the harness
    (stopped), the lens commands, and the frame sequence seen just before the shutter press."""
    config = make_config(tmp_path, shutter={"burst": False})
    with DaemonHarness(config, seed=11) as rig:
        rig.step(2)
        rig.press(AF)
        press_seq = None
        for index in range(frames):
            if index == press_shutter_at:
                press_seq = rig.camera.last_sequence
                press_time = rig.sim.now_ns()
                rig.press(SHUT)
            if press_shutter_at is not None and index == press_shutter_at + 2:
                rig.release(SHUT)
            rig.step(1)
        scanning_at_press = press_shutter_at is not None
        if scanning_at_press:
            assert rig.wait(lambda s: s.captures_written == 1)
    result = {"commands": list(rig.camera.lens_commands), "journal": rig.journal(), "stats": rig.stats}
    if press_shutter_at is not None:
        result.update(press_seq=press_seq, press_time=press_time)
    return result


def test_shutter_during_scan_captures_next_frame_and_leaves_scan_undisturbed(tmp_path):
    without = run_scan(tmp_path / "a", press_shutter_at=None)
    with_press = run_scan(tmp_path / "b", press_shutter_at=3)
    # the scan was still going when the shutter was pressed (commands came after the press)
    assert any(seq > with_press["press_seq"] for seq, _ in with_press["commands"])
    # the very same lens commands, at the very same frames, with and without the press
    assert with_press["commands"] == without["commands"]
    (entry,) = with_press["journal"]
    frame_ns = 1e9 / 56.03
    # captured from the first frame whose exposure started after the press: within one frame
    assert entry["frame_time_ns"] >= with_press["press_time"]
    assert entry["frame_time_ns"] - with_press["press_time"] <= frame_ns
    assert entry["sequence"] == with_press["press_seq"] + 1
    assert entry["af_state"] == "SCANNING"


def test_no_lens_command_after_af_on_release_until_next_press(tmp_path):
    config = make_config(tmp_path, shutter={"burst": True, "burst_fps": 10.0, "burst_limit": 5})
    with DaemonHarness(config, seed=3) as rig:
        rig.press(AF)
        rig.step(6)  # release while the lens is still moving
        rig.release(AF)
        rig.step(1)
        released_at = rig.camera.last_sequence
        count = len(rig.camera.lens_commands)
        assert count > 0
        for index in range(300):
            if index % 50 == 10:
                rig.press(SHUT)
            if index % 50 == 30:
                rig.release(SHUT)
            rig.step(1)
        assert rig.camera.lens_commands[count:] == []  # not one command after the release
        assert all(seq < released_at for seq, _ in rig.camera.lens_commands)
        assert rig.wait(lambda s: s.captures_written == s.captures_requested and s.captures_written >= 6)
        rig.press(AF)
        rig.step(4)
        assert len(rig.camera.lens_commands) > count  # the next press focuses again


def test_500_bouncing_presses_give_500_files(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 64, "format": "jpeg"})
    with DaemonHarness(config, seed=5) as rig:
        for _ in range(500):
            rig.finger.bounce(SHUT, pressed=True, chatter=2)
            rig.step(2)  # 36 ms at 56 fps: longer than the 20 ms bounce window
            rig.finger.bounce(SHUT, pressed=False, chatter=2)
            rig.step(2)
            # quick succession, but never more presses in flight than the writer's queue holds
            rig.wait(lambda s: s.captures_requested - s.captures_written - s.captures_failed < 48)
        assert rig.wait(lambda s: s.captures_written == 500)
        stats = rig.stats
    assert stats.presses == 500
    assert stats.captures_failed == 0
    journal = rig.journal()
    assert sorted(entry["press_id"] for entry in journal) == list(range(1, 501))
    assert len(rig.images()) == 500
    assert len({entry["file"] for entry in journal}) == 500


def test_sigterm_with_captures_queued_writes_them_all_and_exits_0(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 64, "format": "png"})
    rig = DaemonHarness(config, seed=9)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    from focusd.commands.run import install_signal_handlers

    install_signal_handlers(rig.daemon)
    try:
        with rig:
            for _ in range(30):
                rig.press(SHUT)
                rig.step(2)
                rig.release(SHUT)
                rig.step(2)
            assert rig.daemon.writer.pending > 0  # captures are still queued at the signal
            os.kill(os.getpid(), signal.SIGTERM)
            assert rig.stop() == 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert rig.stats.captures_written == 30
    folder = tmp_path / "captures"
    assert len(rig.images()) == 30
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("priority", ["release", "focus"])
def test_capture_records_lens_and_af_state(tmp_path, priority):
    config = make_config(tmp_path, shutter={"priority": priority, "burst": False})
    with DaemonHarness(config, seed=2) as rig:
        rig.press(AF)
        rig.step(1)
        rig.press(SHUT)
        rig.step(1)
        rig.release(SHUT)
        for _ in range(60):
            rig.step(1)
        assert rig.wait(lambda s: s.captures_written == 1)
    (entry,) = rig.journal()
    if priority == "release":
        assert entry["af_state"] == "SCANNING" and entry["reason"] == "release"
    else:
        assert entry["reason"] in ("focus: FOCUSED", "focus: FAILED", "focus: timeout")
        assert entry["af_state"] == entry["reason"].split(": ")[1] or entry["reason"] == "focus: timeout"
    assert 0.0 <= entry["lens_position"] <= 12.0


def test_full_resolution_captures_use_the_camera_mode_switch(tmp_path):
    import numpy as np
    from PIL import Image

    config = make_config(tmp_path, shutter={"burst": False}, camera={"full_resolution_captures": True},
                         capture={"format": "png"})
    rig = DaemonHarness(config, seed=8)
    switches = []

    def full_resolution_capture():  # what the picamera2 adapter does by a mode switch
        switches.append(rig.sim.now_ns())
        return np.full((2592, 4608), 128, dtype=np.uint8)

    rig.sim.full_resolution_capture = full_resolution_capture
    with rig:
        rig.press(SHUT)
        rig.step(2)
        rig.release(SHUT)
        assert rig.wait(lambda s: s.captures_written == 1)
    assert len(switches) == 1
    (image,) = rig.images()
    assert Image.open(image).size == (4608, 2592)


# ------------------------------------------- shutter priority "focus": presses waiting for the scan


def press_during_scan(rig, count: int) -> None:
    """AF-ON held; ``count`` shutter taps (two frames down, two up: longer than the 20 ms
    debounce), each made while the engine is still scanning and each still waiting for it."""
    rig.press(AF)
    rig.step(1)
    for index in range(count):
        assert rig.stats.af_state == "SCANNING", f"the scan ended before press {index + 1}"
        rig.press(SHUT)
        rig.step(2)
        rig.release(SHUT)
        rig.step(2)
    assert rig.stats.presses == count
    assert rig.stats.captures_requested == 0  # every press waits for the scan
    assert rig.stats.af_state == "SCANNING"


def stop_by_sigterm(rig) -> int | None:
    """SIGTERM through focusd's own handler, as systemd stops the service; the exit status."""
    from focusd.commands.run import install_signal_handlers

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    install_signal_handlers(rig.daemon)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        return rig.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def assert_nothing_lost(rig, count: int, reasons: set[str]) -> list[dict]:
    stats = rig.stats
    assert (stats.presses, stats.captures_requested, stats.captures_written, stats.captures_failed) == (
        count, count, count, 0)
    journal = sorted(rig.journal(), key=lambda entry: entry["press_id"])
    assert [entry["press_id"] for entry in journal] == list(range(1, count + 1))
    assert {entry["reason"] for entry in journal} <= reasons
    assert [entry["burst_index"] for entry in journal] == [0] * count
    assert len({entry["file"] for entry in journal}) == count
    assert len(rig.images()) == count
    folder = rig.config.capture.directory
    assert [name for name in os.listdir(folder) if name.endswith(".tmp")] == []
    return journal


@pytest.mark.parametrize("presses", [1, 2])
def test_focus_priority_press_still_waiting_at_sigterm_is_captured(tmp_path, presses):
    config = make_config(tmp_path, shutter={"priority": "focus", "burst": False, "focus_timeout_ms": 5000.0})
    rig = DaemonHarness(config, seed=11)
    with rig:
        press_during_scan(rig, presses)
        assert stop_by_sigterm(rig) == 0
    journal = assert_nothing_lost(rig, presses, {"focus: stopping"})
    # fired at the stop, from a frame of the scan still going, never before its press
    assert all(entry["af_state"] == "SCANNING" for entry in journal)
    assert all(entry["frame_time_ns"] >= entry["press_time_ns"] for entry in journal)
    assert [entry["press_time_ns"] for entry in journal] == sorted(entry["press_time_ns"] for entry in journal)


def test_focus_priority_two_presses_in_one_scan_give_two_files(tmp_path):
    config = make_config(tmp_path, shutter={"priority": "focus", "burst": False})
    with DaemonHarness(config, seed=11) as rig:
        press_during_scan(rig, 2)
        ends = rig.stats.frames + 100  # the scan ends, or the 500 ms timeout (28 frames) passes, well before
        rig.wait(lambda s: s.captures_written + s.captures_failed >= 2 or s.frames >= ends)
    assert rig.exit_status == 0
    journal = assert_nothing_lost(rig, 2, {"focus: FOCUSED", "focus: FAILED"})
    first, second = journal
    assert first["press_time_ns"] < second["press_time_ns"]
    # both fired when the scan ended: from the same frame, after both presses
    assert first["sequence"] == second["sequence"]
    assert first["af_state"] == second["af_state"] == first["reason"].split(": ")[1]
    assert first["frame_time_ns"] >= second["press_time_ns"]


def test_a_reload_that_changes_af_applies_from_the_next_af_on_press(tmp_path):
    """SIGHUP with new [af] settings: a scan in progress goes on with the engine it started with;
    once AF-ON is let go the engine is rebuilt, and the next press focuses with the new settings."""
    from focusd.config import load_config

    path = tmp_path / "focusd.toml"
    base = f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n[shutter]\nburst = false\n'
    path.write_text(base)
    with DaemonHarness(load_config(path), seed=5) as rig:
        rig.press(AF)
        rig.step(3)
        scanning = rig.daemon.engine
        assert scanning.tuning.retrigger_frames != 9
        path.write_text(base + "[af]\nlock_on_delay_frames = 9\nfallback = \"infinity\"\n")
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 1
        assert rig.daemon.engine is scanning  # not swapped under the running scan
        rig.release(AF)
        rig.step(2)
        assert rig.daemon.engine is not scanning
        assert rig.daemon.engine.tuning.retrigger_frames == 9
        assert rig.daemon.engine.tuning.fallback == "infinity"
        rig.press(AF)
        rig.step(2)
        assert rig.daemon.engine_active and rig.daemon.engine.statistics.frames > 0
