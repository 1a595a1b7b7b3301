"""Faults the daemon must survive (issue: deployment and reliability)."""

from __future__ import annotations

import logging
import os
import random
import socket
from pathlib import Path

from PIL import Image

from daemon_harness import (
    TIMEOUT,
    BackoffRecorder,
    DaemonHarness,
    RecordingNotifier,
    Timeline,
    fill_disk,
    small_disk,
    test_config as make_config,
    watch_camera,
)
from focusd.service.buttons import Debouncer
from focusd.config.settings import ShutterConfig, AfConfig, apply_overrides, load_config
from focusd.service.controller import ButtonEvent, Capture, Controller, Tick
from focusd.service.daemon import HEALTHY_FRAMES, Daemon
from focusd.signals import ButtonId, LedPattern, RawEdge
from focusd.service.notify import SystemdNotifier

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER
MS = 1_000_000
SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "systemd" / "focusd.toml"
#: focusd.service.buttons.EdgeQueue's default size, the queue the daemon's GPIO callbacks fill
EDGE_QUEUE_BOUND = 256


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


def test_vanished_camera_is_reopened_with_growing_backoff_then_focus_and_capture_resume(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="focusd.daemon")
    timeline = Timeline()
    rig = DaemonHarness(make_config(tmp_path, shutter={"burst": False}), seed=4,
                        notifier=RecordingNotifier(timeline))
    rig.daemon.backoff_s = (0.1, 0.8)
    # no real sleeps: the waits are recorded; the camera comes back during the sixth one
    backoff = BackoffRecorder(timeline, then=lambda waits: rig.sim.restore() if waits == 6 else None)
    rig.daemon.backoff_wait = backoff
    watch_camera(rig.sim, timeline)
    with rig:
        rig.step(HEALTHY_FRAMES + 20)  # a healthy run first: the backoff starts at its shortest
        starts, mark = rig.sim.start_calls, len(timeline.events)
        caplog.clear()
        rig.sim.go_silent()  # the camera vanishes: no frame comes, and it cannot be opened
        rig.sim.step(1)  # the read that times out
        assert timeline.wait_for(lambda events: "started" in events[mark:], 10), timeline.since(mark)
        outage = timeline.since(mark)
        outage = outage[:outage.index("started") + 1]
        # stopped and reopened at once, then retried with a doubling wait capped at backoff_s[1];
        # not one watchdog ping while the frame loop was stalled
        assert outage == ["stop", "start failed", ("wait", 0.1), "start failed", ("wait", 0.2),
                          "start failed", ("wait", 0.4), "start failed", ("wait", 0.8),
                          "start failed", ("wait", 0.8), "start failed", ("wait", 0.8), "started"], outage
        assert rig.sim.start_calls == starts + 7
        rig.step(1)  # frames again (and the fault handling finished: its log lines are all out)
        logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "focusd.daemon"]
        assert any(level == logging.ERROR and m.startswith("camera failed: simulated camera: no frame")
                   for level, m in logged), logged
        assert sum(level == logging.ERROR and m.startswith("camera did not start") for level, m in logged) == 6
        assert (logging.INFO, "camera back after a fault") in logged
        # frames, focusing and captures again
        locks = rig.stats.af_locks
        rig.press(AF)
        assert rig.wait(lambda s: s.af_locks > locks)
        assert "watchdog" in timeline.since(mark)
        rig.press(SHUT)
        rig.step(2)
        rig.release(SHUT)
        assert rig.wait(lambda s: s.captures_written == 1)
    assert rig.stats.camera_faults == 1 and rig.stats.captures_failed == 0
    assert len(rig.images()) == 1


def test_backoff_keeps_growing_while_the_camera_relapses_and_restarts_after_a_healthy_run(tmp_path):
    timeline = Timeline()
    rig = DaemonHarness(make_config(tmp_path), seed=4, notifier=RecordingNotifier(timeline))
    rig.daemon.backoff_s = (0.1, 0.8)
    backoff = BackoffRecorder(timeline)
    rig.daemon.backoff_wait = backoff
    watch_camera(rig.sim, timeline)
    healthy = HEALTHY_FRAMES

    def fault(inject_error: bool) -> None:
        """Let one fault happen and wait until the camera is open again."""
        started = timeline.since(0).count("started")
        if inject_error:
            rig.sim.inject_errors(1)
        rig.sim.step(1)
        assert timeline.wait_for(lambda events: events.count("started") > started, 10), timeline.since(-12)

    with rig:
        rig.step(healthy + 20)
        # a camera that opens but sends nothing: every reopen works, and the next read times out
        # again. Reopened at once the first time, then after ever longer waits (not every second
        # for ever)
        rig.sim.go_silent(start_fails=False)
        for _ in range(5):
            fault(inject_error=False)
        assert backoff.waits == [0.1, 0.2, 0.4, 0.8]
        rig.sim.restore()
        rig.step(healthy // 2)  # frames again, but not yet a healthy run
        fault(inject_error=True)
        assert backoff.waits[4:] == [0.8]  # a relapse: the wait goes on from where it was
        rig.step(healthy)  # a healthy run
        fault(inject_error=True)
        assert backoff.waits[5:] == []  # reopened at once, and the backoff starts over...
        fault(inject_error=True)
        assert backoff.waits[5:] == [0.1]  # ...from its shortest wait
        rig.step(5)
    assert rig.stats.camera_faults == 8


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


def test_full_disk_through_the_daemon_fails_the_capture_shows_the_error_and_captures_resume(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk") as disk:
        folder = disk / "captures"
        config = make_config(tmp_path, shutter={"burst": False}, capture={"directory": str(folder)},
                             bracket={"gesture": False})  # quick taps, each a photo
        with DaemonHarness(config, seed=2) as rig:
            ballast = fill_disk(disk)  # the writer has made its folder; now there is no room left
            rig.press(SHUT)
            rig.step(1)
            rig.release(SHUT)
            assert rig.wait(lambda s: s.captures_failed == 1), rig.stats
            rig.step(1)  # the frame that learnt of the failure is fully processed
            assert rig.stats.captures_written == 0 and rig.stats.last_error.startswith("disk full: ")
            # the LED shows the error pattern: three flashes and a pause, driven on the LED's pin
            indicator = rig.daemon.indicator
            assert rig.daemon.events_handled(TIMEOUT)  # the LED is a subscriber, on its own thread
            assert indicator.pattern is LedPattern.ERROR
            assert indicator.led.source is not None and indicator.led.pin is rig.factory.pin(config.pins.led)
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            assert any("capture of press 1 failed: disk full: " in m for m in errors), errors
            frames = rig.stats.frames
            rig.step(10)  # the daemon goes on: frames keep counting
            assert rig.stats.frames == frames + 10
            assert sorted(set(os.listdir(folder)) - {config.capture.journal}) == []  # no partial, no temporary file

            ballast.unlink()  # space returns
            rig.press(SHUT)
            rig.step(1)
            rig.release(SHUT)
            assert rig.wait(lambda s: s.captures_written == 1), rig.stats
            (image,) = rig.images()
            with Image.open(image) as picture:
                picture.load()  # complete
            assert rig.journal()[-1]["file"] == image.name and rig.journal()[-1]["press_id"] == 2
        assert rig.stats.captures_failed == 1 and rig.stats.presses == 2


def test_sighup_rereads_config_and_refuses_a_bad_one(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n[shutter]\nburst = false\n')
    from focusd.config.settings import load_config

    config = load_config(path)
    with DaemonHarness(config, seed=1) as rig:
        path.write_text("[shutter]\nburst = maybe\n")  # not TOML
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 0
        assert rig.daemon.controller.shutter.burst is False  # the old configuration is kept
        path.write_text("[shutter]\nburst = true\nburst_fps = -5\n")  # valid TOML, a bad value
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 0 and "shutter.burst_fps" in rig.stats.last_error
        assert rig.daemon.controller.shutter.burst is False
        path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n'
                        '[shutter]\npriority = "focus"\n')
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 1
        assert rig.daemon.controller.shutter.priority == "focus"


def test_ten_thousand_random_edges_through_the_daemon(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 1000, "format": "png"})
    chance = random.Random(1234)
    level = {AF: False, SHUT: False}
    made = dropped = 0
    with DaemonHarness(config, seed=6) as rig:
        edges = rig.daemon.edges  # the daemon's own queue, at its default size
        while made < 10_000:
            # the edges between two frames: a few, or a chattering contact far beyond the bound
            batch = min(chance.choice((1, 7, 100, 255, 256, 257, 1000, 3000)), 10_000 - made)
            for _ in range(batch):
                button = AF if chance.random() < 0.3 else SHUT
                level[button] = not level[button]  # a change of level: one edge on the pin
                (rig.press if level[button] else rig.release)(button)
            made += batch
            # before the frame drains them: at most the bound queued, every edge beyond it dropped
            # and counted
            assert len(edges) == min(batch, EDGE_QUEUE_BOUND)
            dropped += max(0, batch - EDGE_QUEUE_BOUND)
            assert edges.dropped == dropped
            rig.step(1)
            assert len(edges) == 0
        assert dropped > 0
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



def test_shutter_held_for_an_hour_with_the_shipped_burst_settings_captures_exactly_the_limit():
    """systemd/focusd.toml as shipped (burst on, burst_limit 20): an hour of frames at 120 fps
    through the debouncer and the controller yields the limit's captures and nothing more."""
    shipped = load_config(SHIPPED_CONFIG)
    shutter = shipped.shutter
    assert shutter.burst and shutter.burst_limit == 20
    debouncer = Debouncer(int(shipped.pins.bounce_ms * MS))
    controller = Controller(shipped.af, shutter)
    t = 0
    commands = []
    for event in debouncer.feed([RawEdge(SHUT, True, t), RawEdge(SHUT, False, t + MS), RawEdge(SHUT, True, t + 2 * MS)]):
        commands += controller.handle(event)
    frame_ns = 1_000_000_000 // 120
    events = []
    for _ in range(120 * 3600):
        t += frame_ns
        for event in debouncer.poll(t):
            events.append(event)
            commands += controller.handle(event)
        commands += controller.handle(Tick(t))
    captures = [c for c in commands if isinstance(c, Capture)]
    assert len(captures) == shutter.burst_limit
    assert [c.burst_index for c in captures] == list(range(shutter.burst_limit))
    assert {c.press_id for c in captures} == {1}
    period = 1e9 / shutter.burst_fps
    assert all(abs((b.due_ns - a.due_ns) - period) <= frame_ns for a, b in zip(captures, captures[1:]))
    assert events == []  # the debouncer never re-reports the held button
    assert controller.state.led == LedPattern.OFF


def test_shutter_held_through_the_daemon_with_the_shipped_burst_settings_writes_exactly_the_limit(tmp_path):
    """The same through the daemon, for a minute of frames (15 times the burst's length)."""
    shipped = apply_overrides(load_config(SHIPPED_CONFIG),
                              {"camera.backend": "sim", "capture.directory": str(tmp_path / "captures")})
    limit = shipped.shutter.burst_limit
    with DaemonHarness(shipped, seed=3) as rig:
        rig.press(SHUT)
        rig.step(int(60e9 // rig.sim.frame_duration_ns))
        assert rig.wait(lambda s: s.captures_written + s.captures_failed >= limit)
        rig.step(5)
        rig.release(SHUT)
        rig.step(5)
    assert rig.stats.presses == 1
    assert (rig.stats.captures_requested, rig.stats.captures_written, rig.stats.captures_failed) == (limit, limit, 0)
    assert len(rig.images()) == limit
    assert sorted(entry["burst_index"] for entry in rig.journal()) == list(range(limit))


def test_a_reload_keeps_what_the_command_line_set(tmp_path):
    """`focusd run --set KEY=VALUE` overrides the file; SIGHUP re-reads the file and lays the same
    overrides over it again (they are not lost on a reload)."""
    from focusd.config.settings import apply_overrides, load_config

    path = tmp_path / "focusd.toml"
    path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n[shutter]\nburst = false\n')
    config = apply_overrides(load_config(path), {"shutter.priority": "focus"})
    with DaemonHarness(config, seed=2) as rig:
        path.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n'
                        '[shutter]\nburst = true\n')
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 1
        assert rig.daemon.controller.shutter.burst is True  # the new file
        assert rig.daemon.controller.shutter.priority == "focus"  # still what --set said


# ------------------------------------------------------ presses around a camera outage, and at a stop


def test_focus_priority_press_waiting_when_the_camera_fails_is_reported_failed_at_once(tmp_path, caplog):
    """shutter.priority = "focus": a press waiting for the scan when the camera fails is reported
    failed during the outage, with the camera's reason; it is not fired once the camera is back
    (as a "focus: timeout" photo of a later moment, seconds later on a Pi)."""
    caplog.set_level(logging.INFO, logger="focusd.daemon")
    timeline = Timeline()
    config = make_config(tmp_path, shutter={"priority": "focus", "burst": False, "focus_timeout_ms": 500.0})
    rig = DaemonHarness(config, seed=11, notifier=RecordingNotifier(timeline))
    in_outage = {}

    def first_wait(waits: int) -> None:  # the fault is handled and the camera still gone
        if waits == 1:
            stats = rig.stats
            in_outage.update(failed=stats.captures_failed, requested=stats.captures_requested,
                             error=stats.last_error)
            rig.sim.restore()

    rig.daemon.backoff_wait = BackoffRecorder(timeline, then=first_wait)
    watch_camera(rig.sim, timeline)
    with rig:
        rig.press(AF)
        rig.step(3)
        rig.press(SHUT)
        rig.step(1)
        rig.release(SHUT)
        assert rig.stats.af_state == "SCANNING"
        assert rig.stats.presses == 1 and rig.stats.captures_requested == 0  # it waits for the scan
        mark = len(timeline.events)
        rig.sim.go_silent()
        rig.sim.step(1)  # the read that times out
        assert timeline.wait_for(lambda events: "started" in events[mark:], 10), timeline.since(mark)
        rig.step(60)  # the camera is back: longer than the focus timeout, and the scan goes on
    assert in_outage["failed"] == 1 and in_outage["requested"] == 1, in_outage
    assert in_outage["error"].startswith("camera unavailable: simulated camera: no frame"), in_outage
    stats = rig.stats
    assert (stats.presses, stats.captures_requested, stats.captures_written, stats.captures_failed) == (1, 1, 0, 1)
    assert rig.images() == []
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("capture of press")]
    assert failures == ["capture of press 1 failed: " + in_outage["error"]]


def test_press_during_an_outage_longer_than_500_ms_is_reported_failed_not_taken_late(tmp_path, caplog):
    """A press made while the camera is gone, which comes back more than 500 ms later: no photo
    of that later moment, the press is reported failed with a reason (MAX_CAPTURE_DELAY_NS)."""
    caplog.set_level(logging.INFO, logger="focusd.daemon")
    timeline = Timeline()
    rig = DaemonHarness(make_config(tmp_path, shutter={"burst": False}), seed=4, notifier=RecordingNotifier(timeline))
    rig.daemon.backoff_wait = BackoffRecorder(timeline)  # no real sleeps
    with rig:
        rig.step(5)
        rig.sim.go_silent(start_fails=False)  # opens, but each read times out: 1 s of camera time
        rig.sim.step(1)
        assert rig.daemon.wait_until(lambda s: s.camera_faults == 1, 10)
        pressed_at = rig.sim.now_ns()
        rig.press(SHUT)
        rig.release(SHUT)
        rig.sim.step(1)  # the camera still sends nothing: one more second
        assert rig.daemon.wait_until(lambda s: s.camera_faults == 2, 10)
        rig.sim.restore()
        rig.step(5)  # frames again, the first exposed a second after the press
        assert rig.sim.now_ns() - pressed_at > 1e9
    stats = rig.stats
    assert (stats.presses, stats.captures_requested, stats.captures_written, stats.captures_failed) == (1, 1, 0, 1)
    assert stats.last_error == "no frame within 500 ms of the press"
    assert rig.images() == []
    assert "capture of press 1 failed: no frame within 500 ms of the press" in [r.getMessage() for r in caplog.records]


def test_a_press_queued_right_before_the_stop_is_captured(tmp_path):
    """SIGTERM right after a press reached the edge queue, before a frame took it: the edges
    queued before the stop still count (the drain takes them), so the press is captured."""
    timeline = Timeline()

    class PressThenStop(RecordingNotifier):
        """After the armed frame (on the camera thread, at its watchdog ping): a press, then the stop."""

        armed = False

        def watchdog(self) -> bool:
            if self.armed:
                self.armed = False
                rig.press(SHUT)  # the GPIO callback queues its edge...
                rig.daemon.request_stop()  # ...and the stop comes before the next frame
            return super().watchdog()

    notifier = PressThenStop(timeline)
    rig = DaemonHarness(make_config(tmp_path, shutter={"burst": False}), seed=3, notifier=notifier)
    with rig:
        rig.step(3)
        notifier.armed = True
        rig.step(1)
        assert rig.stop() == 0
    assert rig.daemon.edges.accepting is False and len(rig.daemon.edges) == 0
    stats = rig.stats
    assert (stats.presses, stats.captures_requested, stats.captures_written, stats.captures_failed) == (1, 1, 1, 0)
    (entry,) = rig.journal()
    assert entry["press_id"] == 1 and entry["frame_time_ns"] >= entry["press_time_ns"]
    assert len(rig.images()) == 1
