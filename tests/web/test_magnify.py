"""Magnify in the daemon's bridge: a crop of the main stream around the AF window, taken only while
a client asks for it, at most at the preview rate and within the camera thread's budget."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile

import numpy as np
import pytest

from daemon_harness import DaemonHarness
from daemon_harness import test_config as harness_config
from focusd.service.bridge import MAGNIFY_BUDGET, SOCKET_NAME, magnify_box

from bridge_client import BridgeClient


@pytest.fixture
def runtime_dir():
    folder = tempfile.mkdtemp(prefix="fw-")  # short: a Unix socket path has at most 107 bytes
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class MainImages:
    """Counts the main images the daemon asks the simulator for and keeps the last one."""

    def __init__(self, rig):
        self.calls, self.by_sequence, self._rig, self._render = 0, {}, rig, rig.main_image
        rig.main_image = self

    def __call__(self):
        self.calls += 1
        image = self._render()
        self.by_sequence[self._rig.last_frame.sequence] = image
        return image


class CostClock:
    """The bridge's clock for what a crop costs: each crop takes ``cost_ns`` (the real cost, a
    render on the simulator, is wall-clock time and would make the spacing of crops vary)."""

    def __init__(self, cost_ns: int = 0):
        self.cost_ns, self._ticks = cost_ns, itertools.count()

    def __call__(self) -> int:
        return next(self._ticks) * self.cost_ns


@contextlib.contextmanager
def magnifying(tmp_path, runtime_dir, window=(0.25, 0.25, 0.5, 0.5), cost_ns: int = 0, **web):
    config = harness_config(tmp_path, web={"enabled": True, "runtime_dir": runtime_dir, **web},
                            af={"window": window})
    with DaemonHarness(config) as harness:
        harness.daemon.bridge.cost_clock = CostClock(cost_ns)
        yield harness


def crop_matches_main(header, pixels, main, factor) -> tuple[int, int]:
    """The crop's pixels are the main image's at the box the header names; its (left, top)."""
    main_h, main_w = main.shape[:2]
    assert (header["height"], header["width"], header["channels"]) == (main_h // factor, main_w // factor, 3)
    left, top = round(header["crop"][0] * main_w), round(header["crop"][1] * main_h)
    crop = np.frombuffer(pixels, np.uint8).reshape(header["height"], header["width"], 3)
    assert np.array_equal(crop, main[top:top + header["height"], left:left + header["width"]])
    return left, top


def test_the_box_is_centred_on_the_af_window_and_stays_inside_the_image():
    assert magnify_box((1536, 864), (0.25, 0.25, 0.5, 0.5), 2) == (384, 216, 768, 432)
    assert magnify_box((1536, 864), (0.25, 0.25, 0.5, 0.5), 4) == (576, 324, 384, 216)
    assert magnify_box((1536, 864), (0.0, 0.0, 0.1, 0.1), 2) == (0, 0, 768, 432)  # moved in at the corner
    assert magnify_box((1536, 864), (0.9, 0.8, 0.1, 0.2), 4) == (1152, 648, 384, 216)
    assert magnify_box((1536, 864), (0.55, 0.1, 0.25, 0.25), 4) == (845, 86, 384, 216)


def test_nobody_magnifying_means_no_main_image_and_no_crop(tmp_path, runtime_dir):
    with magnifying(tmp_path, runtime_dir) as harness:
        images = MainImages(harness.sim.rig)
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        bridge = harness.daemon.bridge
        assert bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        harness.step(60)
        assert client.wait(lambda h: h["type"] == "frame")
        assert bridge.frames_offered > 0
        assert images.calls == 0 and bridge.crops_taken == 0 and bridge.magnified is None
        client.send({"type": "magnify", "factor": 1})  # asking for 1x is not magnifying either
        harness.step(30)
        assert images.calls == 0 and bridge.crops_taken == 0
        assert not [m for m in client.messages if m[0]["type"] == "magnified"]
        client.close()


def test_a_crop_of_the_main_stream_follows_the_af_window_and_the_factor(tmp_path, runtime_dir):
    with magnifying(tmp_path, runtime_dir, window=(0.25, 0.25, 0.5, 0.5)) as harness:
        images = MainImages(harness.sim.rig)
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        bridge = harness.daemon.bridge
        assert bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        client.send({"type": "magnify", "factor": 2})
        assert harness.wait(lambda s: bridge.magnify_factor == 2)
        harness.step(1)
        header, pixels = client.wait(lambda h: h["type"] == "magnified")
        main = images.by_sequence[header["sequence"]]
        assert main.shape == (864, 1536, 3)  # the main stream: twice the lores size each way
        assert header["factor"] == 2 and crop_matches_main(header, pixels, main, 2) == (384, 216)
        assert header["crop"] == [0.25, 0.25, 0.5, 0.5]
        # a 2x crop at main resolution has as many pixels across as the whole lores frame: twice
        # what a crop of the lores would have
        assert header["width"] == 2 * (harness.sim.rig.last_frame.y.shape[1] // 2)

        client.send({"type": "window", "window": [0.55, 0.1, 0.25, 0.25]})
        assert client.wait(lambda h: h["type"] == "window")
        client.send({"type": "magnify", "factor": 4})
        assert harness.wait(lambda s: bridge.magnify_factor == 4)
        seen = len(client.messages)
        harness.step(30)
        header, pixels = client.wait(lambda h: h["type"] == "magnified" and h["factor"] == 4
                                     and h["window"] == [0.55, 0.1, 0.25, 0.25])
        assert len(client.messages) > seen
        assert crop_matches_main(header, pixels, images.by_sequence[header["sequence"]], 4) == (845, 86)

        client.send({"type": "magnify", "factor": 1})  # and off again: no more main images
        assert harness.wait(lambda s: bridge.magnify_factor == 1)
        harness.step(1)
        calls = images.calls
        harness.step(30)
        assert images.calls == calls and bridge.magnified is None
        client.close()


def test_a_bad_factor_is_refused(tmp_path, runtime_dir):
    with magnifying(tmp_path, runtime_dir) as harness:
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        client.wait(lambda h: h["type"] == "hello")
        for factor in (3, "2", True):
            client.send({"type": "magnify", "factor": factor})
        harness.step(1)
        for shown in ("3", "'2'", "True"):
            assert client.wait(lambda h, s=shown: h["type"] == "error" and f"factor {s} " in h["error"])
        assert harness.daemon.bridge.magnify_factor == 1
        client.close()


def test_crops_come_at_most_at_the_preview_rate_and_within_the_camera_threads_budget(tmp_path, runtime_dir):
    cost_ns = 100_000_000  # a crop that takes 100 ms: one every 100 ms / MAGNIFY_BUDGET at most
    with magnifying(tmp_path, runtime_dir, cost_ns=cost_ns, preview_fps=15.0) as harness:
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        bridge = harness.daemon.bridge
        assert bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        client.send({"type": "magnify", "factor": 2})
        assert harness.wait(lambda s: bridge.magnify_factor == 2)
        crops, lores, start_ns = bridge.crops_taken, bridge.frames_offered, harness.sim.now_ns()
        harness.step(300)
        elapsed_s = (harness.sim.now_ns() - start_ns) / 1e9
        spacing_s = cost_ns / 1e9 / MAGNIFY_BUDGET
        frame_s = harness.sim.frame_duration_ns / 1e9
        taken = bridge.crops_taken - crops
        assert elapsed_s / (spacing_s + frame_s) - 1 <= taken <= elapsed_s / spacing_s + 1
        # the lores preview goes on at its own rate meanwhile (other pages are not magnified)
        assert bridge.frames_offered - lores >= elapsed_s / (1 / 15 + frame_s) - 2
        client.close()
    with magnifying(tmp_path / "cheap", runtime_dir, cost_ns=0, preview_fps=15.0) as harness:
        client = BridgeClient(os.path.join(runtime_dir, SOCKET_NAME))
        bridge = harness.daemon.bridge
        assert bridge.wait_clients(lambda b: len(b.clients) == 1, 5)
        client.send({"type": "magnify", "factor": 4})
        assert harness.wait(lambda s: bridge.magnify_factor == 4)
        crops, start_ns = bridge.crops_taken, harness.sim.now_ns()
        harness.step(300)
        elapsed_s = (harness.sim.now_ns() - start_ns) / 1e9
        taken = bridge.crops_taken - crops  # a free crop: the preview rate is the limit
        assert elapsed_s / (1 / 15 + frame_s) - 2 <= taken <= 15 * elapsed_s + 1
        client.close()
