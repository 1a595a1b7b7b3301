"""Faults the daemon must survive (issue: deployment and reliability)."""

from __future__ import annotations

import random
import socket

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.buttons import Debouncer
from focusd.config import ShutterConfig, AfConfig
from focusd.controller import ButtonEvent, Capture, Controller, Tick
from focusd.hw.base import ButtonId, LedPattern, RawEdge
from focusd.notify import SystemdNotifier

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER
MS = 1_000_000


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, tmp_path):
        self.path = str(tmp_path / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def read(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def close(self):
        self.sock.close()


def test_camera_fails_mid_run_is_reopened_and_focus_resumes_and_watchdog_starves(tmp_path):
    notify = NotifySocket(tmp_path)
    notifier = SystemdNotifier.from_environment(
        {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000"})  # 1 ms: every loop pings
    config = make_config(tmp_path)
    rig = DaemonHarness(config, seed=4, notifier=notifier)
    rig.daemon.backoff_s = (0.01, 0.05)
    with rig:
        rig.press(AF)
        rig.step(5)
        commands_before = len(rig.camera.lens_commands)
        assert commands_before > 0
        pings_before = sum(m.count("WATCHDOG=1") for m in notify.read())
        assert pings_before > 0
        rig.sim.inject_errors(3)
        rig.sim.go_silent()
        rig.sim.step(3)  # the three errors
        assert rig.daemon.wait_until(lambda s: s.camera_faults >= 1, 10)
        # while the camera is gone the frame loop is stalled: the watchdog is not fed
        stalled_frames = rig.stats.frames
        notify.messages.clear()
        notify.read()
        assert rig.daemon.wait_until(lambda s: s.frames > stalled_frames, 0.3) is False
        assert not any("WATCHDOG=1" in m for m in notify.read())
        rig.sim.restore()
        rig.step(30)
        assert rig.stats.frames > stalled_frames
        assert any("WATCHDOG=1" in m for m in notify.read())
        assert len(rig.camera.lens_commands) > commands_before  # focusing resumed
    notify.close()


def test_press_during_camera_outage_is_reported_not_lost(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False})
    rig = DaemonHarness(config, seed=4)
    rig.daemon.backoff_s = (0.01, 0.05)
    with rig:
        rig.sim.go_silent()
        rig.sim.step(1)
        assert rig.daemon.wait_until(lambda s: s.camera_faults >= 1, 10)
        rig.press(SHUT)
        rig.release(SHUT)
        rig.sim.restore()
        rig.step(5)
        assert rig.wait(lambda s: s.captures_written + s.captures_failed == 1)
    assert rig.stats.presses == 1
    # a press made while there was no camera is accounted for: written, or failed with a reason,
    # and in the journal either way
    assert rig.stats.captures_failed + rig.stats.captures_written == 1
    (entry,) = rig.journal()
    assert entry["press_id"] == 1
    assert (entry.get("error") is not None) == (rig.stats.captures_failed == 1)


def test_sighup_rereads_config_and_refuses_a_bad_one(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n[shutter]\nburst = false\n')
    from focusd.config import load_config

    config = load_config(path)
    with DaemonHarness(config, seed=1) as rig:
        path.write_text("[shutter]\nburst = maybe\n")  # not TOML
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 0
        assert rig.daemon.controller.shutter.burst is False  # the old configuration is kept
        path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n'
                        '[shutter]\npriority = "focus"\n')
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 1
        assert rig.daemon.controller.shutter.priority == "focus"


def test_ten_thousand_random_edges_through_the_daemon(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 1000, "format": "png"})
    chance = random.Random(1234)
    with DaemonHarness(config, seed=6) as rig:
        for index in range(10_000):
            button = AF if chance.random() < 0.3 else SHUT
            (rig.press if chance.random() < 0.5 else rig.release)(button)
            if index % 100 == 0:
                rig.step(1)
                assert len(rig.daemon.edges) <= 256
        rig.release(AF)
        rig.release(SHUT)
        rig.step(3)
        settled = rig.stats.presses
        assert rig.wait(lambda s: s.captures_written + s.captures_failed == s.captures_requested)
        # still works: one clean press, one capture
        rig.press(SHUT)
        rig.step(3)
        rig.release(SHUT)
        rig.step(3)
        assert rig.wait(lambda s: s.captures_written + s.captures_failed == s.captures_requested)
        assert rig.stats.presses == settled + 1
    assert rig.stats.captures_requested == rig.stats.presses


def test_button_held_for_an_hour_of_frames_changes_nothing_after_first_effect():
    """An hour at 120 fps through the debouncer and the controller (the daemon's per-frame path)."""
    debouncer = Debouncer(20 * MS)
    controller = Controller(AfConfig(), ShutterConfig(burst=False))
    t = 0
    events = debouncer.feed([RawEdge(SHUT, True, t), RawEdge(SHUT, False, t + MS), RawEdge(SHUT, True, t + 2 * MS)])
    effects = []
    for event in events:
        effects += controller.handle(event)
    assert [type(c) for c in effects if isinstance(c, Capture)] == [Capture]
    later = []
    frame_ns = 1_000_000_000 // 120
    for _ in range(120 * 3600):
        t += frame_ns
        for event in debouncer.poll(t):
            later.append(event)
        later += controller.handle(Tick(t))
    assert [c for c in later if isinstance(c, (ButtonEvent, Capture))] == []
    assert controller.state.led == LedPattern.OFF
