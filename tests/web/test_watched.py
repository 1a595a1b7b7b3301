"""Watching costs the daemon nothing it counts: on the stepped simulator (deterministic), the same
AF-ON presses take the same frames, and the same shutter presses capture the same frames, with
three bridge clients reading every preview frame as with none. (The wall-clock side, rates and
delays in real time, is a benchmark: ``focusd bench --web``.)"""

from __future__ import annotations

import os
import shutil
import tempfile

from daemon_harness import DaemonHarness
from daemon_harness import test_config as harness_config
from focusd.bench.web import START_DIOPTRES
from focusd.service.bridge import SOCKET_NAME
from focusd.signals import ButtonId

from bridge_client import BridgeClient


def af_and_shutter_frames(tmp_path, clients: int) -> tuple[list[int], list[int], int]:
    """Frames from each AF-ON press to its result, from each shutter press to its captured frame,
    and the preview frames sent."""
    runtime_dir = tempfile.mkdtemp(prefix="fw-")
    try:
        # shutter taps 7 frames apart, each a photo: not the focus-bracketing double-press
        config = harness_config(tmp_path, web={"enabled": True, "runtime_dir": runtime_dir}, bracket={"gesture": False})
        with DaemonHarness(config, seed=3) as harness:
            bridge = harness.daemon.bridge
            watching = [BridgeClient(os.path.join(runtime_dir, SOCKET_NAME)) for _ in range(clients)]
            assert bridge.wait_clients(lambda b: len(b.clients) == clients, 5)
            af_frames = []
            for _ in range(3):
                harness.camera.set_lens_position(START_DIOPTRES)
                harness.step(10)
                start = harness.stats.frames
                harness.press(ButtonId.AF_ON)
                assert harness.wait(lambda s: s.af_state in ("FOCUSED", "FAILED"))
                af_frames.append(harness.stats.frames - start)
                harness.release(ButtonId.AF_ON)
                assert harness.wait(lambda s: s.af_state == "IDLE")
            pressed_after = []  # the last frame before each press
            for shot in range(3):
                harness.step(7)
                pressed_after.append(harness.sim.rig.last_frame.sequence)
                harness.press(ButtonId.SHUTTER)
                harness.release(ButtonId.SHUTTER)
                assert harness.wait(lambda s, n=shot + 1: s.captures_written >= n)
            # frames from the press to the captured one (how long the writer takes is no part of it)
            sequences = [e["sequence"] - before for e, before in zip(harness.journal(), pressed_after)]
            sent = sum(c.frames_sent for c in bridge.clients)
            for client in watching:
                assert client.wait(lambda h: h["type"] == "frame") or not clients
                client.close()
            return af_frames, sequences, sent
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)


def test_three_clients_change_no_frame_count(tmp_path):
    alone = af_and_shutter_frames(tmp_path / "alone", 0)
    watched = af_and_shutter_frames(tmp_path / "watched", 3)
    assert watched[2] > 0 and alone[2] == 0  # the clients were sent frames; nobody, none
    assert watched[:2] == alone[:2], (alone, watched)
    assert all(frames > 3 for frames in alone[0]) and alone[1] == [1, 1, 1]  # real scans; the next frame
