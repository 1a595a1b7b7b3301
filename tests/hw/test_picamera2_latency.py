"""The lens latency the engine is told, against what the picamera2 path really does (on the checked
stand-in, tests/hw/standin).

docs/device-facts.md, "Lens control": ``LensPosition`` travels with the next request submitted and
the lens moves when that request's frame reaches the ISP, so the first frame at the new position
comes (requests in flight) + about 2 frames after ``set_controls``. The stand-in models exactly
that: its lens delay at the ISP is ``LENS_DELAY_FRAMES``, and every request picamera2 holds ahead of
the one carrying the control adds a frame. A profile's ``lens_latency_frames`` is the part at the
ISP; the adapter's ``lens_queue_frames`` is the queue;
``focusd.service.cameras.told_lens_path`` adds them. These tests measure the end-to-end
latency frame by frame (the stand-in writes its own frame number into the main stream and records
where the lens truly was for every frame) and compare.

The IPA slews the lens at most ``max_slew`` per write and per controller run (af.cpp; the
stand-in models it, test_lens_path_agreement.py checks that): the steps here stay within it, so
each lands whole with its one write and the latency measured is the path's, not the slew's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from focusd.service.cameras import told_lens_path
from focusd.config.settings import CameraConfig, default_config
from focusd.hw.base import Lens
from focusd.hw.picamera2_camera import Picamera2Camera, Picamera2Tuning
from focusd.config.profiles import parse_profile
from focusd.tools.sweeps import command_after_frame


def _adapter_tests():
    """The adapter tests' module (its test module and simulated module), loaded by path: tests/hw is
    no package."""
    name = "focusd_hw_adapter_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_picamera2_adapter.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


TEST_PROFILE = _adapter_tests().TEST_PROFILE
module_spec = _adapter_tests().module_spec
sequence_in_main = _adapter_tests().sequence_in_main

TIMEOUT = 5.0
FPS = 100.0  #: slow enough that the test thread keeps up on a loaded machine (a dropped frame is skipped)
STEPS = 6
#: the two positions stepped between: 1 D apart, within the IPA's max_slew (1.5 D), so one write
#: moves the lens all the way
NEAR, FAR = 1.0, 2.0


def started_camera(standin, buffer_count: int, **profile_changes) -> Picamera2Camera:
    i2c = "lens_driver" in profile_changes
    standin.use_module(module_spec(standin, fps=FPS, lens=None if i2c else (0.0, 15.0, 1.0)))
    profile = dict(TEST_PROFILE, lens_latency_frames=standin.LENS_DELAY_FRAMES,
                   modes=[dict(TEST_PROFILE["modes"][0], fps=FPS), TEST_PROFILE["modes"][1]], **profile_changes)
    camera = Picamera2Camera(CameraConfig(), parse_profile("testcam", profile),
                             tuning=Picamera2Tuning(buffer_count=buffer_count), lens=NoLens())
    camera.start()
    return camera


class NoLens(Lens):
    """An I2C lens that goes nowhere (only the i2c-* profile uses it)."""

    lens_range = property(lambda self: (0.0, 15.0))

    def move_to(self, dioptres):
        pass

    def close(self):
        pass


def command_as_the_daemon_does(camera, position: float) -> int:
    """Command from inside a held frame, before its release (daemon._process -> _focus)."""
    with camera.next_frame(TIMEOUT) as frame:
        camera.set_lens_position(position)
        return frame.sequence


def end_to_end_latencies(camera, command) -> list[int]:
    """Per step: frames after the commanding frame n before the first frame exposed at the new
    position, minus one (docs/design.md, "The latency contract": first seen in frame n + latency +
    1). Steps during which the stand-in dropped a frame (no free buffer: a slow test thread) are
    left out."""
    sensor = camera._picam2.sensors_used[-1]  # the stand-in's truth, looked at behind the adapter
    assert abs(FAR - NEAR) <= sensor.af.max_slew  # one write lands whole: no slew in the measure
    latencies, position = [], NEAR
    for _ in range(STEPS):
        position = FAR if position == NEAR else NEAR
        for _ in range(12):  # the previous step has surely landed
            camera.next_frame(TIMEOUT).release()
        commanded_at = command(camera, position)
        first_history = len(sensor.history)
        for _ in range(40):
            with camera.next_frame(TIMEOUT) as frame:
                record = sensor.history[sequence_in_main(frame.main_image())]
                sequence = frame.sequence
            if record.true_lens_position == position:
                break
        else:
            pytest.fail(f"the lens never reached {position} D")
        if all(r.delivered for r in sensor.history[first_history - camera.tuning.buffer_count - 1:record.sequence + 1]):
            latencies.append(sequence - commanded_at - 1)
    assert len(latencies) >= STEPS // 2, "too many frames dropped to measure"
    return latencies


@pytest.mark.parametrize("buffer_count, end_to_end", [(2, 3), (3, 4), (4, 5), (6, 7)])
def test_the_engine_is_told_the_end_to_end_latency_whatever_the_buffer_count(standin, buffer_count, end_to_end):
    camera = started_camera(standin, buffer_count)
    try:
        assert camera.lens_queue_frames == buffer_count - 1  # the requests queued ahead of the command's
        told = told_lens_path(default_config(), camera.profile, camera).latency_frames
        assert told == standin.LENS_DELAY_FRAMES + buffer_count - 1 == end_to_end
        assert set(end_to_end_latencies(camera, command_as_the_daemon_does)) == {told}
    finally:
        camera.stop()


def test_measure_latency_commands_as_the_daemon_does(standin):
    # focusd.tools.sweeps (measure-latency, record-sweep) commands from a held frame: it sees the
    # latency the engine will be told, not one frame more
    camera = started_camera(standin, 3)
    try:
        told = told_lens_path(default_config(), camera.profile, camera).latency_frames
        assert set(end_to_end_latencies(camera, lambda cam, p: command_after_frame(cam, p, TIMEOUT))) == {told}
    finally:
        camera.stop()


def test_a_configured_latency_is_used_as_it_is_and_an_i2c_lens_has_no_queue(standin):
    camera = started_camera(standin, 3, lens_driver="i2c-ov5647")
    try:
        assert camera.lens_queue_frames == 0  # written at once over I2C, no request in between
        assert told_lens_path(default_config(), camera.profile, camera).latency_frames == standin.LENS_DELAY_FRAMES
    finally:
        camera.stop()
    measured = dataclasses.replace(default_config().af, lens_latency_frames=9)  # measure-latency's [af] line
    config = dataclasses.replace(default_config(), af=measured)
    libcamera_lens = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE))
    assert told_lens_path(config, libcamera_lens.profile, libcamera_lens).latency_frames == 9


def test_the_default_buffer_count_keeps_the_queue_short():
    assert Picamera2Tuning().buffer_count == 3
    camera = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE))
    assert camera.lens_queue_frames == 2
