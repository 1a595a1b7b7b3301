"""The whole daemon on the simulated camera and gpiozero mock pins (issue: runs end to end)."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.service.buttons import EdgeQueue
from focusd.signals import ButtonId, RawEdge

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
    # taps in quick succession, each a photo: not the bracketing double-press
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 64, "format": "jpeg"}, bracket={"gesture": False})
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
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 64, "format": "png"},
                         bracket={"gesture": False})  # quick taps, each a photo
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
            assert rig.daemon.captures.writer.pending > 0  # captures are still queued at the signal
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
        assert entry["af_state"] == "SCANNING" and entry["reason"] == "shutter priority release"
    else:
        assert entry["reason"] in ("focus: FOCUSED", "focus: FAILED", "focus: timeout")
        assert entry["af_state"] == entry["reason"].split(": ")[1] or entry["reason"] == "focus: timeout"
    assert 0.0 <= entry["lens_reported"] <= 12.0


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
    from focusd.config.settings import load_config

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


def test_a_remote_press_while_the_shutter_holds_a_capture_is_not_counted_as_a_press(tmp_path):
    """The remote release pressed while the shutter is held adds no capture: the presses counted
    (the status line, the demo's summary) are the presses that asked for one."""
    remote = ButtonId.REMOTE
    with DaemonHarness(make_config(tmp_path, shutter={"burst": False}), seed=2) as rig:
        rig.press(SHUT)
        rig.step(2)
        tap(rig, remote)
        rig.release(SHUT)
        rig.step(2)
        tap(rig, remote)  # alone: a press of its own
        assert rig.wait(lambda s: s.captures_written == 2)
    assert (rig.stats.presses, rig.stats.captures_requested) == (2, 2)


# --------------------------------------------------------------------------- edges known by level only


def test_a_press_known_only_by_its_level_is_never_captured_from_a_frame_exposed_before_it(tmp_path):
    """A full edge queue drops the press's edge: only its level is kept, and the debouncer settles
    it when the next frame is processed. It takes the camera's time then, not the frame's (the
    frame was exposed before the press): the capture comes from a frame exposed after the press."""
    rig = DaemonHarness(make_config(tmp_path, shutter={"burst": False}), seed=2)
    rig.daemon.edges = EdgeQueue(maxsize=1)  # before run(), which opens the buttons on its put
    pressed_at = []
    deliver = rig.camera.next_frame

    def deliver_then_press(timeout_s):
        frame = deliver(timeout_s)
        if armed:
            armed.clear()
            pressed_at.append(rig.sim.now_ns())  # the frame is read out: its exposure began earlier
            rig.daemon.edges.put(RawEdge(SHUT, False, pressed_at[0]))  # a stray edge fills the queue
            rig.press(SHUT)  # its edge is dropped, its level kept
        return frame

    armed = []
    rig.camera.next_frame = deliver_then_press
    with rig:
        rig.step(3)
        armed.append(True)
        rig.step(2)
        rig.release(SHUT)
        assert rig.wait(lambda s: s.captures_written == 1)
    assert rig.daemon.edges.dropped == 1 and rig.stats.presses == 1
    (entry,) = rig.journal()
    assert entry["press_time_ns"] >= pressed_at[0]
    assert entry["frame_time_ns"] >= pressed_at[0]


# ----------------------------------------------------------------------------------- reloads


def reload_with(rig, path, text: str) -> None:
    path.write_text(text)
    rig.daemon.request_reload()


def tap(rig, button=SHUT) -> None:
    rig.press(button)
    rig.step(2)
    rig.release(button)
    rig.step(2)


JPEG_START = b"\xff\xd8"


@pytest.mark.parametrize("change", ["folder", "format"])
def test_a_reload_that_changes_capture_goes_on_focusing_while_the_old_writer_drains(tmp_path, monkeypatch, change):
    """[capture] changed while the old writer has a queue on a stalled card: the frame loop (and
    the watchdog) goes on, and every queued capture is written. In a new folder the next press is
    written at once; in the same folder the new writer waits for the old one (whose half-written
    temporary file it would otherwise remove as a crash's leftover)."""
    from focusd.capture import writer as capture
    from focusd.config.settings import load_config
    from daemon_harness import RecordingNotifier, Timeline

    old_folder, new_folder = tmp_path / "c", tmp_path / ("d" if change == "folder" else "c")
    card = threading.Event()  # the old writer's card stalls, with its temporary file written
    write_temp = capture.write_temp

    def stalling_write_temp(folder, data):
        temp = write_temp(folder, data)
        if folder == old_folder and data.startswith(JPEG_START):
            card.wait(30)
        return temp

    monkeypatch.setattr(capture, "write_temp", stalling_write_temp)
    path = tmp_path / "focusd.toml"
    base = '[camera]\nbackend = "sim"\n[shutter]\nburst = false\n[bracket]\ngesture = false\n'  # quick taps: photos
    path.write_text(base + f'[capture]\ndirectory = "{old_folder}"\n')
    timeline = Timeline()
    with DaemonHarness(load_config(path), seed=5, notifier=RecordingNotifier(timeline)) as rig:
        try:
            for _ in range(5):
                tap(rig)
            assert rig.daemon.captures.writer.pending == 5 and rig.stats.captures_written == 0
            new_capture = f'directory = "{new_folder}"\n' + ('format = "png"\n' if change == "format" else "")
            reload_with(rig, path, base + "[capture]\n" + new_capture)
            mark, frames = len(timeline.events), rig.stats.frames
            rig.sim.step(30)
            assert rig.daemon.wait_until(lambda s: s.frames >= frames + 30, 10), "the camera thread waited"
            assert rig.stats.reloads == 1
            assert timeline.since(mark).count("watchdog") >= 30
            tap(rig)
            if change == "folder":  # written at once, while the old card still stalls
                assert rig.wait(lambda s: s.captures_written == 1, 10)
            else:
                rig.step(10)
                assert rig.stats.captures_written == 0 and rig.daemon.captures.writer.pending == 1
        finally:
            card.set()
        assert rig.wait(lambda s: s.captures_written + s.captures_failed == 6)
    assert (rig.stats.captures_written, rig.stats.captures_failed) == (6, 0)
    old_journal = [json.loads(line) for line in (old_folder / "captures.jsonl").read_text().splitlines()]
    assert sorted(entry["press_id"] for entry in old_journal if entry["file"].endswith(".jpg")) == [1, 2, 3, 4, 5]
    images = sorted(p.name for folder in {old_folder, new_folder} for p in folder.iterdir()
                    if p.suffix in (".jpg", ".png"))
    assert len(images) == 6 and not [p for p in old_folder.iterdir() if p.name.endswith(".tmp")]


def test_a_reload_keeps_pins_camera_and_logging_as_they_run_until_a_restart(tmp_path, caplog):
    """[pins], [camera] and [logging] take effect after a restart: a reload that changes them logs
    so and applies none of them, not even in part (the capture path and the engine read [camera])."""
    import logging

    from focusd.config.settings import load_config

    caplog.set_level(logging.INFO, logger="focusd.daemon")
    path = tmp_path / "focusd.toml"
    base = f'[capture]\ndirectory = "{tmp_path / "c"}"\n[shutter]\nburst = false\n'
    path.write_text(base + '[camera]\nbackend = "sim"\n')
    rig = DaemonHarness(load_config(path), seed=5)
    switches = []
    rig.sim.full_resolution_capture = lambda: switches.append(True)
    running = rig.daemon.config
    with rig:
        reload_with(rig, path, base + '[camera]\nbackend = "sim"\nfull_resolution_captures = true\n'
                    'profile = "ov5647_motorized"\n[logging]\nlevel = "debug"\n[pins]\nbounce_ms = 5.0\n'
                    '[af]\nlock_on_delay_frames = 9\n')
        rig.step(2)
        assert rig.stats.reloads == 1
        config = rig.daemon.config
        assert (config.pins, config.camera, config.logging) == (running.pins, running.camera, running.logging)
        assert config.af.lock_on_delay_frames == 9  # what a reload does apply, applied
        assert rig.daemon.engine.lens_range == (0.0, 12.0)  # imx708's normal range, not the OV5647's 0-8 D
        tap(rig)
        assert rig.wait(lambda s: s.captures_written == 1)
    assert switches == []  # captured from the stream, as the running [camera] says
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for section in ("pins", "camera", "logging"):
        assert f"[{section}] changed: takes effect after a restart" in warnings


def test_reloads_back_to_a_folder_still_being_written_keep_one_writer_there(tmp_path, monkeypatch):
    """[capture] X -> Y -> X while X's writer is still writing its queue (a slow card): the writer
    for X again must wait for it. Started at once, it would take the other's half-written file
    for a crash's leftover (a lost capture) and read the same file counter."""
    import json
    import threading

    from focusd.capture import writer as capture
    from focusd.config.settings import load_config

    folder_x, folder_y = tmp_path / "x", tmp_path / "y"
    card = threading.Event()
    stalled = []
    write_temp = capture.write_temp

    def slow_card(folder, data):
        temp = write_temp(folder, data)
        if folder == folder_x and not card.is_set() and not stalled:
            stalled.append(temp)
            card.wait(30)  # the first file in X hangs until the test lets it go
        return temp

    monkeypatch.setattr(capture, "write_temp", slow_card)
    path = tmp_path / "focusd.toml"
    base = '[camera]\nbackend = "sim"\n[shutter]\nburst = false\n[bracket]\ngesture = false\n'  # quick taps: photos
    path.write_text(base + f'[capture]\ndirectory = "{folder_x}"\n')
    with DaemonHarness(load_config(path), seed=5) as rig:
        try:
            for _ in range(3):
                tap(rig)
            assert rig.daemon.captures.writer.pending == 3
            reload_with(rig, path, base + f'[capture]\ndirectory = "{folder_y}"\n')
            rig.step(2)
            reload_with(rig, path, base + f'[capture]\ndirectory = "{folder_x}"\n')
            rig.step(2)
            tap(rig)
            rig.step(3)
            assert stalled and stalled[0].exists()  # the half-written file was left alone
        finally:
            card.set()
        assert rig.wait(lambda s: s.captures_written + s.captures_failed == 4)
    assert rig.stats.captures_failed == 0, rig.stats.last_error
    entries = [json.loads(line) for line in (folder_x / "captures.jsonl").read_text().splitlines()]
    assert [entry["press_id"] for entry in entries] == [1, 2, 3, 4]
    assert len({entry["file"] for entry in entries}) == 4


def test_a_replaced_writer_that_fails_while_finishing_still_lets_the_new_one_start(tmp_path, monkeypatch, caplog):
    """An unexpected error while the replaced writer finishes (on the helper thread) is logged,
    and the new writer in the same folder starts all the same: later presses are written."""
    from focusd.capture.writer import CaptureWriter
    from focusd.config.settings import load_config

    path = tmp_path / "focusd.toml"
    base = f'[camera]\nbackend = "sim"\n[shutter]\nburst = false\n[capture]\ndirectory = "{tmp_path / "c"}"\n'
    path.write_text(base)
    with DaemonHarness(load_config(path), seed=5) as rig:
        old = rig.daemon.captures.writer
        close = CaptureWriter.close

        def broken_close(writer, timeout_s=None):
            close(writer, timeout_s)
            if writer is old:
                raise ValueError("a damaged file in the folder")

        monkeypatch.setattr(CaptureWriter, "close", broken_close)
        reload_with(rig, path, base + 'format = "png"\n')
        rig.step(2)
        tap(rig)
        assert rig.wait(lambda s: s.captures_written == 1, 10), rig.stats.last_error
    assert "the replaced capture writer failed" in caplog.text


def test_the_remote_on_two_pins_focuses_on_its_half_press_and_captures_on_its_full_press(tmp_path):
    """pins.remote_focus (the jack's ring) acts as AF-ON, pins.remote (the tip) as the shutter."""
    config = make_config(tmp_path, pins={"remote_focus": 24}, shutter={"burst": False})
    with DaemonHarness(config, seed=1) as rig:
        rig.press(ButtonId.REMOTE_FOCUS)
        assert rig.wait(lambda s: s.af_state == "FOCUSED"), rig.stats
        tap(rig, ButtonId.REMOTE)
        assert rig.wait(lambda s: s.captures_written == 1)
        rig.release(ButtonId.REMOTE_FOCUS)
        assert rig.wait(lambda s: s.af_state == "IDLE")
    (entry,) = rig.journal()
    assert entry["af_state"] == "FOCUSED" and entry["input"] == "remote"
