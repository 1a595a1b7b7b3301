"""SimCamera: the Camera interface, the three pacings and the injected faults."""

from __future__ import annotations

import threading

import pytest

from focusd.errors import CameraError, ConfigError
from focusd.hw.base import Camera, CameraFrame
from focusd.sim import SimCamera, SimRig, scenes

from sim.sim_helpers import AF_WINDOW

WAIT = 10.0


def camera(pacing: str = "stepped") -> SimCamera:
    rig = SimRig(scenes.texture_scene("bricks", 1.2, seed=1), light="indoor", window=AF_WINDOW)
    return SimCamera(rig, pacing=pacing)


class Reader:
    """Calls next_frame on its own thread (as the daemon's camera thread does)."""

    def __init__(self, cam: SimCamera, timeout_s: float = 1.0):
        self.result: CameraFrame | Exception | None = None
        self.done = threading.Event()

        def run():
            try:
                self.result = cam.next_frame(timeout_s)
            except CameraError as error:
                self.result = error
            self.done.set()

        threading.Thread(target=run, daemon=True).start()


def test_is_a_camera_with_the_profile_facts():
    cam = camera("virtual")
    assert isinstance(cam, Camera)
    assert cam.name == "sim:imx708"
    assert cam.lens_range == (0.0, 15.0)
    assert cam.frame_duration_ns == round(1e9 / 56.03)
    with pytest.raises(ConfigError, match="pacing"):
        SimCamera(cam.rig, pacing="fast")


def test_stepped_frames_wait_for_step():
    cam = camera("stepped")
    cam.start()
    reader = Reader(cam)
    assert not reader.done.wait(0.2)  # no step yet: no frame
    cam.step(1)
    assert reader.done.wait(WAIT)
    frame = reader.result
    assert isinstance(frame, CameraFrame) and frame.sequence == 0
    cam.step(2)
    assert [cam.next_frame(1.0).sequence for _ in range(2)] == [1, 2]
    assert cam.now_ns() == 3 * cam.frame_duration_ns


def test_virtual_frames_carry_metadata_and_main_image():
    cam = camera("virtual")
    cam.start()
    first = cam.next_frame(1.0)
    cam.set_lens_position(2.0)
    frame = cam.next_frame(1.0)
    # the metadata is the IPA's lens state after this frame's request: the write rides on the
    # request latency frames on, so neither it nor the glass has moved yet
    assert frame.lens_position == 1.0 and frame.metadata["LensPosition"] == 1.0
    assert frame.metadata["SimLensActual"] == pytest.approx(1.0)
    assert frame.timestamp_ns > first.timestamp_ns
    latest = cam.next_frame(1.0)
    assert cam.rig.latency_frames == 2 and latest.lens_position == 2.0
    assert latest.main_image().shape == (864, 1536, 3)
    cam.next_frame(1.0)
    with pytest.raises(CameraError):
        latest.main_image()  # a later frame has replaced this one's buffer
    cam.stop()
    with pytest.raises(CameraError, match="not started"):
        cam.next_frame(1.0)


def test_injected_errors_then_frames_again():
    cam = camera("virtual")
    cam.start()
    cam.inject_errors(2)
    for _ in range(2):
        with pytest.raises(CameraError, match="inject"):
            cam.next_frame(1.0)
    with pytest.raises(CameraError, match="stop and start"):
        cam.next_frame(1.0)  # a fault leaves the stream broken, as a vanished camera does
    cam.start()  # started already: does nothing, as picamera2's start does
    with pytest.raises(CameraError, match="stop and start"):
        cam.next_frame(1.0)
    cam.stop()
    cam.start()
    assert cam.start_calls == 3
    assert cam.next_frame(1.0).sequence > 0  # frames again after a restart; the timeouts skipped some


def test_stepped_faults_take_a_step_each():
    cam = camera("stepped")
    cam.start()
    cam.inject_errors(1)
    reader = Reader(cam)
    assert not reader.done.wait(0.2)  # the error too waits for its step
    cam.step(1)
    assert reader.done.wait(WAIT)
    assert isinstance(reader.result, CameraError)
    cam.go_silent()
    cam.step(1)
    with pytest.raises(CameraError, match="no frame"):
        cam.next_frame(1.0)
    cam.restore()
    cam.stop()
    cam.start()  # only a restart brings frames back
    cam.step(1)
    assert cam.next_frame(1.0).sequence >= 1  # the silent second skipped frames


def test_silent_camera_times_out_and_refuses_to_start_until_restored():
    cam = camera("virtual")
    cam.start()
    cam.next_frame(1.0)
    before = cam.now_ns()
    cam.go_silent()
    with pytest.raises(CameraError, match="no frame"):
        cam.next_frame(0.5)
    assert cam.now_ns() - before >= 0.5e9 - cam.frame_duration_ns  # the timeout passed (virtual)
    cam.stop()
    with pytest.raises(CameraError):
        cam.start()
    cam.restore()
    cam.start()
    assert cam.next_frame(1.0).sequence > 1  # frames missed while silent are skipped


def test_stop_wakes_a_stepped_reader():
    cam = camera("stepped")
    cam.start()
    reader = Reader(cam)
    cam.stop()
    assert reader.done.wait(WAIT)
    assert isinstance(reader.result, CameraError)


def test_realtime_frames_are_stamped_on_the_monotonic_clock():
    cam = camera("realtime")
    cam.start()
    frames = [cam.next_frame(1.0) for _ in range(3)]
    assert [f.sequence for f in frames][0] == 0
    stamps = [f.timestamp_ns for f in frames]
    assert stamps == sorted(stamps)
    assert stamps[-1] <= cam.now_ns()
    cam.stop()


def test_a_realtime_stream_computes_no_blur_on_the_frame_path(monkeypatch):
    # a blur level computed on first use is an inverse FFT (50-100 ms): a realtime stream that
    # computed them while the lens moved fell behind and dropped the frames a press should get
    from focusd.sim import optics

    cam = SimCamera(SimRig(scenes.texture_scene("foliage", 0.7, seed=5), light="indoor", window=AF_WINDOW),
                    pacing="realtime")
    cam.start()
    blurs = []
    real_blur = optics._BlurGrid.blur
    monkeypatch.setattr(optics._BlurGrid, "blur", lambda grid, diameter: blurs.append(diameter) or real_blur(grid, diameter))
    low, high = cam.lens_range
    for step in range(12):  # the lens swept across its whole range, a new position every frame
        cam.set_lens_position(low + (high - low) * step / 11)
        cam.next_frame(1.0)
    cam.stop()
    assert blurs == []
