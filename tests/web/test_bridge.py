"""The daemon's bridge socket (focusd.service.bridge) on the real daemon (DaemonHarness)."""

from __future__ import annotations

import math
import os
import shutil
import tempfile

import numpy as np
import pytest

from daemon_harness import DaemonHarness
from daemon_harness import test_config as harness_config
from focusd.service.bridge import CLIENT_EVENT_DEPTH, SOCKET_NAME, encode, event_message
from focusd.service import events as ev
from focusd.signals import ButtonId, LedPattern

from bridge_client import BridgeClient


@pytest.fixture
def runtime_dir():
    folder = tempfile.mkdtemp(prefix="fw-")  # short: a Unix socket path has at most 107 bytes
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def web_harness(tmp_path, runtime_dir, **web):
    config = harness_config(tmp_path, web={"enabled": True, "runtime_dir": runtime_dir, **web})
    return DaemonHarness(config)


def test_off_by_default_no_socket(tmp_path, runtime_dir):
    with DaemonHarness(harness_config(tmp_path, web={"runtime_dir": runtime_dir})) as harness:
        harness.step(5)
        assert harness.daemon.bridge is None
        assert not os.path.exists(os.path.join(runtime_dir, SOCKET_NAME))


def test_a_client_gets_the_status_frames_and_events_and_its_af_on_focuses(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir) as harness:
        path = os.path.join(runtime_dir, SOCKET_NAME)
        assert os.stat(path).st_mode & 0o777 == 0o660
        client = BridgeClient(path)
        hello, _ = client.wait(lambda h: h["type"] == "hello")
        assert hello["af_state"] == "IDLE" and hello["camera"].startswith("sim:")
        assert hello["capture_directory"] == harness.config.capture.directory
        assert harness.daemon.bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        harness.step(20)
        header, pixels = client.wait(lambda h: h["type"] == "frame")
        lores = harness.sim.rig.last_frame.y
        assert (header["height"], header["width"]) == lores.shape
        assert len(pixels) == lores.size and np.frombuffer(pixels, np.uint8).std() > 1  # an image, not blank
        assert header["window"] == list(harness.config.af.window)

        client.send({"type": "press", "button": "af_on"})  # through the inlet, as the GPIO button
        assert harness.wait(lambda s: s.af_locks >= 1)
        client.send({"type": "release", "button": "af_on"})
        harness.step(5)
        focused, _ = client.wait(lambda h: h.get("event") == "FocusChanged" and h["state"] == "FOCUSED")
        assert focused["lens_position"] is None or math.isfinite(focused["lens_position"])
        assert client.wait(lambda h: h.get("event") == "InputChanged" and h["button"] == "af_on")
        client.close()


def test_a_bad_command_is_answered_with_an_error_and_a_good_window_is_applied(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir) as harness:
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        client.wait(lambda h: h["type"] == "hello")
        client.send({"type": "press", "button": "remote"})  # only AF-ON and Shutter from a page
        client.send({"type": "window", "window": [0.9, 0.1, 0.5, 0.5]})
        client.send({"type": "reboot"})
        harness.step(1)
        errors = [client.wait(lambda h, n=n: h["type"] == "error" and n in h["error"]) for n in
                  ("unknown button 'remote'", "af.window", "unknown command 'reboot'")]
        assert all(errors), client.messages
        assert errors[1][0]["key"] == "af.window"
        client.send({"type": "window", "window": [0.1, 0.1, 0.25, 0.25]})
        assert client.wait(lambda h: h["type"] == "window")
        assert harness.wait(lambda s: harness.daemon.engine.window == (0.1, 0.1, 0.25, 0.25))
        harness.step(20)  # a preview frame at most every 1/15 s
        header, _ = client.wait(lambda h: h["type"] == "frame" and h["window"] == [0.1, 0.1, 0.25, 0.25])
        assert header


def test_preview_frames_are_limited_to_the_configured_rate(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir, preview_fps=10.0) as harness:
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        bridge = harness.daemon.bridge
        assert bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        before, start_ns = bridge.frames_offered, harness.sim.now_ns()
        harness.step(240)
        elapsed_s = (harness.sim.now_ns() - start_ns) / 1e9
        offered = bridge.frames_offered - before
        assert offered <= 10 * elapsed_s + 1
        # and no fewer than the frame times allow: each interval ends at the first frame after 0.1 s
        frame_s = harness.sim.frame_duration_ns / 1e9
        assert offered >= elapsed_s / (0.1 + frame_s) - 2
        client.close()


def test_a_client_that_stops_reading_loses_frames_is_dropped_and_the_daemon_goes_on(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir, preview_fps=30.0) as harness:
        bridge = harness.daemon.bridge
        bridge.stall_s = 0.5
        path = os.path.join(runtime_dir, SOCKET_NAME)
        stalled = BridgeClient(path, reading=False)
        reader = BridgeClient(path)
        assert bridge.wait_clients(lambda b: len(b.clients) == 2, 5)
        stalled_side = bridge.clients[0]
        frames_before = harness.stats.frames
        harness.press(ButtonId.AF_ON)
        while bridge.clients_dropped == 0:  # frames flow (with their events) until the stall is seen
            harness.step(10)
            assert harness.stats.frames - frames_before < 20_000, "the stalled client was never dropped"
            # while it stalls its backlog is bounded: one frame slot, a fixed number of events
            assert len(stalled_side._events) <= CLIENT_EVENT_DEPTH
        harness.release(ButtonId.AF_ON)
        assert stalled_side not in bridge.clients and len(bridge.clients) == 1
        assert stalled_side.frames_skipped > 0 and stalled_side.frames_sent <= 2
        # the daemon did not wait for it: every frame processed, AF worked meanwhile
        assert harness.stats.af_locks >= 1
        harness.step(30)
        assert reader.wait(lambda h: h["type"] == "frame" and h["generation"] > stalled_side.frames_sent + 5)
        stalled.close()
        reader.close()


def test_a_client_that_vanishes_leaves_the_daemon_and_other_clients_alone(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir) as harness:
        path = os.path.join(runtime_dir, SOCKET_NAME)
        bridge = harness.daemon.bridge
        gone = BridgeClient(path)
        gone.wait(lambda h: h["type"] == "hello")
        gone.sock.sendall(encode({"type": "press", "button": "af_on"})[:5])  # half a message, then dead
        gone.close()
        assert bridge.wait_clients(lambda b: len(b.clients) == 0, 5)
        staying = BridgeClient(path)
        harness.step(20)
        assert staying.wait(lambda h: h["type"] == "frame")
        harness.press(ButtonId.SHUTTER)
        harness.release(ButtonId.SHUTTER)
        assert harness.wait(lambda s: s.captures_written >= 1)
        assert staying.wait(lambda h: h.get("event") == "CaptureWritten")
        staying.close()


def test_a_client_sending_garbage_is_dropped(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir) as harness:
        bridge = harness.daemon.bridge
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        client.wait(lambda h: h["type"] == "hello")
        client.sock.sendall(b"\xff\xff\xff\xff\x00\x00\x00\x00")  # a 4 GB header
        assert bridge.wait_clients(lambda b: b.clients_dropped == 1, 5)
        harness.step(5)


def test_the_socket_is_removed_at_shutdown(tmp_path, runtime_dir):
    with web_harness(tmp_path, runtime_dir):
        assert os.path.exists(os.path.join(runtime_dir, SOCKET_NAME))
    assert not os.path.exists(os.path.join(runtime_dir, SOCKET_NAME))


def test_events_become_json_with_enum_values_and_no_nan():
    message = event_message(ev.FocusChanged("FOCUSED", 5, math.nan, None))
    assert message == {"type": "event", "event": "FocusChanged", "state": "FOCUSED", "time_ns": 5,
                       "lens_position": None, "reason": None}
    assert event_message(ev.LedChanged(LedPattern.STEADY, 1))["pattern"] == "steady"
