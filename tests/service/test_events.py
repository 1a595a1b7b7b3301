"""The event stream and the command inlet: bounded, never blocking the publisher; a press through
the inlet is a button press (debounced, captured, reported on the stream with the file's path)."""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path

import pytest

from daemon_harness import TIMEOUT, DaemonHarness, test_config as make_config
from focusd.errors import ConfigError
from focusd.service import events as ev
from focusd.service.subscribers import journal_handler, status_handler
from focusd.signals import ButtonId, LedPattern

PACKAGE = Path(__file__).resolve().parents[2] / "firmware" / "focusd"


def queued(press_id: int) -> ev.CaptureQueued:
    return ev.CaptureQueued(press_id, "release", 0, press_id)


# ----------------------------------------------------------------------------------- the stream


def test_each_subscriber_gets_every_event_after_it_subscribed_in_order():
    stream = ev.EventStream()
    stream.publish(queued(0))  # before anyone listens: nobody gets it
    first, second = stream.subscribe("a"), stream.subscribe("b")
    for press_id in (1, 2, 3):
        stream.publish(queued(press_id))
    assert [e.press_id for e in first.drain()] == [1, 2, 3]
    assert [e.press_id for e in second.drain()] == [1, 2, 3]
    assert first.get(timeout=0) is None


def test_a_full_subscription_drops_its_oldest_and_counts_them():
    stream = ev.EventStream()
    slow = stream.subscribe("slow", depth=4)
    for press_id in range(10):
        stream.publish(queued(press_id))
    assert [e.press_id for e in slow.drain()] == [6, 7, 8, 9]  # the newest are kept
    assert (slow.dropped, slow.offered) == (6, 10)


def test_a_stuck_listener_never_blocks_the_publisher_and_the_others_go_on():
    stream = ev.EventStream()
    release = threading.Event()
    stuck = stream.listen("stuck", lambda event: release.wait(TIMEOUT), depth=8)
    seen = []
    quick = stream.listen("quick", seen.append, depth=2000)
    for press_id in range(1000):
        stream.publish(queued(press_id))  # returns although "stuck" handles nothing
    assert quick.wait_idle(TIMEOUT)
    assert [e.press_id for e in seen] == list(range(1000))
    assert stuck.subscription.dropped >= 1000 - 8 - 1  # at most its depth queued and one in hand
    assert not stuck.wait_idle(0.0)
    release.set()
    assert stuck.wait_idle(TIMEOUT)
    stuck.close()
    quick.close()


def test_a_failing_handler_is_logged_and_its_listener_goes_on(caplog):
    stream = ev.EventStream()
    handled = []

    def handler(event):
        if event.press_id == 1:
            raise RuntimeError("bug in a subscriber")
        handled.append(event.press_id)

    listener = stream.listen("buggy", handler)
    for press_id in (1, 2):
        stream.publish(queued(press_id))
    assert listener.wait_idle(TIMEOUT)
    assert handled == [2]
    assert any("event listener buggy failed" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    listener.close()
    stream.publish(queued(3))  # a closed listener gets nothing more
    assert handled == [2]


def test_a_subscription_refuses_a_depth_below_one():
    with pytest.raises(ValueError, match="depth"):
        ev.EventStream().subscribe("none", depth=0)


def test_the_status_board_shows_held_inputs_and_the_led_from_events():
    board = ev.StatusBoard()
    for event in (ev.InputChanged(ButtonId.AF_ON, True, 1), ev.InputChanged(ButtonId.SHUTTER, True, 2),
                  ev.LedChanged(LedPattern.BLINK, 3), ev.FocusChanged("SCANNING", 3),
                  ev.LensCommanded(2.5, 1.0, 7, 4), ev.CaptureWritten(1, "/c/IMG_1.jpg", 5),
                  ev.InputChanged(ButtonId.SHUTTER, False, 6), ev.FrameStatistics(60, 119.6, 2, 2.4, 7)):
        board.apply(event)
    assert board.line() == ("af=SCANNING lens=2.50D led=blink held=af_on frames=60 fps=120 captures=1 failed=0")


# ------------------------------------------------------------------------ the daemon's stream


def capture_events(rig, subscription, press_id):
    """The stream's events until press ``press_id`` is written or failed (frames go on meanwhile)."""
    seen = []

    def finished(_stats):
        seen.extend(subscription.drain())
        return any(isinstance(e, (ev.CaptureWritten, ev.CaptureFailed)) and e.press_id == press_id for e in seen)

    assert rig.wait(finished), seen
    return seen


def test_a_press_through_the_inlet_is_captured_and_its_path_goes_out_on_the_stream(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False})
    with DaemonHarness(config, seed=3) as rig:
        stream = rig.daemon.events.subscribe("test")
        rig.daemon.inlet.press(ButtonId.SHUTTER)
        rig.step(1)
        rig.daemon.inlet.release(ButtonId.SHUTTER)
        seen = capture_events(rig, stream, press_id=1)
        (written,) = [e for e in seen if isinstance(e, ev.CaptureWritten)]
        assert Path(written.path).is_file() and Path(written.path).parent == Path(config.capture.directory)
        (entry,) = rig.journal()
        assert entry["file"] == Path(written.path).name and entry["press_id"] == 1
        kinds = [type(e) for e in seen]
        # the press, as any button's, then the capture queued before it was written
        assert kinds.index(ev.InputChanged) < kinds.index(ev.CaptureQueued) < kinds.index(ev.CaptureWritten)
        (pressed,) = [e for e in seen if isinstance(e, ev.InputChanged) and e.pressed]
        assert pressed.button is ButtonId.SHUTTER
        assert rig.stats.presses == 1


def test_af_on_through_the_inlet_focuses_and_the_stream_tells_the_states_and_the_lens(tmp_path):
    config = make_config(tmp_path, af={"mode": "single"})
    with DaemonHarness(config, seed=1) as rig:
        stream = rig.daemon.events.subscribe("test", depth=10_000)
        rig.daemon.inlet.press(ButtonId.AF_ON)
        assert rig.wait(lambda s: s.af_state in ("FOCUSED", "FAILED"))
        seen = stream.drain()
        states = [e.state for e in seen if isinstance(e, ev.FocusChanged)]
        assert states[0] == "SCANNING" and states[-1] == "FOCUSED"
        lens = [e for e in seen if isinstance(e, ev.LensCommanded)]
        assert len(lens) == rig.stats.lens_commands > 0
        assert lens[-1].target == rig.stats.lens_position
        leds = [e.pattern for e in seen if isinstance(e, ev.LedChanged)]
        assert leds[:1] == [LedPattern.BLINK] and leds[-1] == LedPattern.STEADY
        assert rig.daemon.events_handled(TIMEOUT)
        assert "af=FOCUSED" in rig.daemon.status.line() and "held=af_on" in rig.daemon.status.line()


def test_a_stuck_subscriber_does_not_slow_the_frame_path(tmp_path):
    config = make_config(tmp_path)
    with DaemonHarness(config, seed=0) as rig:
        release = threading.Event()
        stuck = rig.daemon.events.listen("stuck", lambda event: release.wait(TIMEOUT), depth=4)
        rig.daemon.inlet.press(ButtonId.AF_ON)
        frames = rig.stats.frames
        rig.step(200)  # each step waits for the daemon: a blocked publisher would stall it here
        assert rig.stats.frames == frames + 200
        assert stuck.subscription.dropped > 0
        release.set()
        stuck.close()


def test_the_inlet_moves_the_af_window_and_refuses_a_bad_one_naming_the_key(tmp_path):
    config = make_config(tmp_path)
    with DaemonHarness(config, seed=0) as rig:
        rig.daemon.inlet.set_af_window((0.1, 0.1, 0.2, 0.2))
        rig.step(1)
        assert rig.daemon.engine.window == (0.1, 0.1, 0.2, 0.2)
        with pytest.raises(ConfigError, match=r"af\.window") as refused:
            rig.daemon.inlet.set_af_window((0.9, 0.1, 0.2, 0.2))  # reaches outside the frame
        assert refused.value.key == "af.window"
        rig.step(1)
        assert rig.daemon.engine.window == (0.1, 0.1, 0.2, 0.2)


# --------------------------------------------------------------------------- the import graph


def test_the_controller_and_the_inlet_import_nothing_from_the_hardware_layer():
    for module in ("service/controller.py", "service/inlet.py", "service/events.py", "signals.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert imported, module  # the walk sees its imports, or the check proves nothing
        assert not [name for name in imported if name == "focusd.hw" or name.startswith("focusd.hw.")], module


# ------------------------------------------------------------------- frame statistics, subscribers


class _Frame:
    def __init__(self, sequence, timestamp_ns, lens_position=1.0):
        self.sequence, self.timestamp_ns, self.lens_position = sequence, timestamp_ns, lens_position


def test_the_frame_counter_counts_sequence_gaps_as_dropped_and_gives_the_rate_every_n_frames():
    counter = ev.FrameCounter(every=3)
    period = 10_000_000  # 100 fps
    out = [counter.count(_Frame(seq, seq * period), frames) for frames, seq in enumerate((0, 1, 4, 5, 6, 7), 1)]
    assert out[0] is None and out[1] is None and out[3] is None and out[4] is None
    stats = out[2]  # the 3rd frame: sequence 4, after 2 dropped (2 and 3)
    assert (stats.frames, stats.dropped) == (3, 2)
    assert stats.fps == pytest.approx(2 / (4 * period / 1e9))  # 2 frames since the first, in 40 ms
    assert out[5].dropped == 2 and out[5].fps == pytest.approx(3 / (3 * period / 1e9))
    counter.restarted()  # a restarted camera numbers from 0 again: no gap counted
    counter.count(_Frame(0, 100 * period), 7)
    assert counter.dropped == 2


def test_the_status_subscriber_sends_systemd_the_board_line_with_each_frame_statistics():
    sent = []

    class Notifier:
        def status(self, text):
            sent.append(text)
            return True

    board = ev.StatusBoard()
    handle = status_handler(board, Notifier())
    handle(ev.FocusChanged("FOCUSED", 1))
    assert sent == []  # only frame statistics send a line: at most one a second, not one per event
    handle(ev.FrameStatistics(60, 56.0, 0, 1.0, 2))
    assert sent == [board.line()] and "af=FOCUSED" in sent[0] and "frames=60" in sent[0]


def test_the_journal_subscriber_logs_written_paths_and_new_dropped_frames_once(caplog):
    caplog.set_level(logging.DEBUG, logger="focusd.test")
    handle = journal_handler(logging.getLogger("focusd.test"))
    handle(ev.CaptureWritten(3, "/c/IMG_3.jpg", 1))
    for dropped in (0, 2, 2, 5):
        handle(ev.FrameStatistics(60, 50.0, dropped, 1.0, 2))
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert messages[0] == "capture of press 3 written: /c/IMG_3.jpg"
    assert [m for m in messages if "dropped" in m] == [
        "the camera dropped 2 frame(s) (2 in all; 50.0 fps)", "the camera dropped 3 frame(s) (5 in all; 50.0 fps)"]


def test_a_window_moved_in_continuous_af_refocuses_and_in_single_af_waits_for_the_next_press(tmp_path):
    window = (0.1, 0.1, 0.2, 0.2)
    with DaemonHarness(make_config(tmp_path, af={"mode": "continuous"}), seed=1) as rig:
        rig.daemon.inlet.press(ButtonId.AF_ON)
        assert rig.wait(lambda s: s.af_state == "FOCUSED")
        stream = rig.daemon.events.subscribe("test")
        rig.daemon.inlet.set_af_window(window)
        rig.step(1)
        assert rig.daemon.engine.window == window
        seen = stream.drain()
        assert [e.state for e in seen if isinstance(e, ev.FocusChanged)][:1] == ["SCANNING"]
        assert rig.daemon.controller.state.af_state.name == "SCANNING"  # the LED and priority follow
        assert ev.LedChanged in {type(e) for e in seen} and [e.pattern for e in seen if isinstance(e, ev.LedChanged)][0] == LedPattern.BLINK
    with DaemonHarness(make_config(tmp_path, af={"mode": "single"}), seed=1) as rig:
        rig.daemon.inlet.press(ButtonId.AF_ON)
        assert rig.wait(lambda s: s.af_state == "FOCUSED")
        before = rig.daemon.engine.window
        rig.daemon.inlet.set_af_window(window)
        rig.step(2)
        assert rig.daemon.engine.window == before and rig.stats.af_state == "FOCUSED"  # the lock stands
        rig.daemon.inlet.release(ButtonId.AF_ON)
        assert rig.wait(lambda s: s.af_state == "IDLE")
        assert rig.daemon.engine.window == window  # from the next press


def test_the_status_line_shows_a_running_series_and_nothing_after_it():
    board = ev.StatusBoard()
    quiet = board.line()
    board.apply(ev.BracketStarted(1, (1.0, 1.45, 1.9), 1.0, "near", 0.45, 0.45, False, 0))
    assert board.line().endswith(" bracket=0/3")
    board.apply(ev.BracketShot(1, 2, 1.45, 40, 1.45, 5, 0))
    assert board.line().endswith(" bracket=2/3")
    board.apply(ev.BracketFinished(1, "stopped", 2, 3, "shutter pressed", 0))
    assert board.line() == quiet
