"""The picamera2 adapter's behaviour, on the stand-in picamera2 (tests/hw/standin), whose every
name and signature test_picamera2_contract.py checks against picamera2's own source.

The stand-in times frames on CLOCK_MONOTONIC in a thread of its own, as the Pi does; these tests
wait only on the adapter's next_frame (with timeouts), never on sleeps. A small simulated module
at 200 fps keeps them quick.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from focusd.config.settings import CameraConfig
from focusd.errors import CameraError, LensError
from focusd.hw.base import Lens
from focusd.hw.picamera2_camera import Picamera2Camera, Picamera2Tuning, probe_cameras
from focusd.config.profiles import load_profile, parse_profile
from testcam import LORES, TEST_PROFILE, TIMEOUT, lens_positions_until, module_spec, picam2_of

def sequence_in_main(image: np.ndarray) -> int:
    return int.from_bytes(bytes(image.reshape(-1)[:3]), "big")


def test_frames_carry_the_lores_y_plane_and_metadata(camera):
    with camera.next_frame(TIMEOUT) as frame:
        assert frame.y.shape == (LORES[1], LORES[0]) and frame.y.dtype == np.uint8
        assert (frame.y != 255).all()  # the buffer's stride padding is not part of the plane (stride 192)
        metadata = frame.metadata
        assert frame.timestamp_ns == metadata["SensorTimestamp"] - 1000 * metadata["ExposureTime"]
        assert frame.exposure_time_us == metadata["ExposureTime"]
        assert frame.analogue_gain == metadata["AnalogueGain"]
        assert frame.frame_duration_us == metadata["FrameDuration"] == 5000
        assert frame.lens_position == metadata["LensPosition"]
        assert camera.frame_duration_ns == 5_000_000


def test_the_lores_y_plane_is_a_view_of_the_camera_buffer_not_a_copy(camera):
    count = len(picam2_of(camera).slots)
    frame = camera.next_frame(TIMEOUT)
    kept = frame.y  # what a careless holder would keep
    assert not kept.flags.owndata
    buffers = [np.frombuffer(slot.buffers["lores"], np.uint8) for slot in picam2_of(camera).slots]
    assert sum(np.shares_memory(kept, buffer) for buffer in buffers) == 1
    del buffers
    value = int(kept[0, 0])
    frame.release()
    assert frame.y.size == 0  # the frame object itself no longer holds the buffer
    # the buffer goes back to the camera and is filled again: the reason y must not be kept
    for _ in range(3 * count):
        camera.next_frame(TIMEOUT).release()
    assert int(kept[0, 0]) != value
    del kept  # or closing the camera could not unmap it


def test_a_released_frame_kept_across_a_full_resolution_capture_holds_no_buffer(camera, standin):
    """The daemon's loop keeps the frame object it has released while it takes a full-resolution
    capture; the mode switch unmaps every buffer no request holds, as picamera2's DmaAllocator does
    (a live numpy view there: BufferError, the camera thread's death)."""
    frame = camera.next_frame(TIMEOUT)
    frame.release()
    image = camera.full_resolution_capture()  # the frame is still referenced here
    assert image.shape == (480, 640, 3)
    assert frame.y.size == 0
    with camera.next_frame(TIMEOUT) as again:
        assert again.y.shape == (LORES[1], LORES[0])
    # the switches unmapped the buffers of the configurations left: only the current ones are open
    picam2 = picam2_of(camera)
    assert len(picam2.allocator.maps) == len(picam2._buffer_sets) * 2  # main and lores per request


def test_buffers_go_back_to_the_camera(camera):
    count = len(picam2_of(camera).slots)
    frames = [camera.next_frame(TIMEOUT) for _ in range(1)]
    frames[0].release()
    for _ in range(10 * count):  # would stall once every buffer leaked
        with camera.next_frame(TIMEOUT):
            pass


def test_a_press_is_captured_from_the_first_frame_exposed_after_it(camera):
    history = picam2_of(camera).sensors_used[-1].history
    first = camera.next_frame(TIMEOUT)
    first_sequence, first_true = first.sequence, sequence_in_main(first.main_image())
    first.release()
    for _ in range(3):
        camera.next_frame(TIMEOUT).release()
    press_ns = camera.now_ns()
    skipped = []
    while True:  # the daemon's rule: the first frame whose exposure started at or after the press
        frame = camera.next_frame(TIMEOUT)
        if frame.timestamp_ns >= press_ns:
            break
        skipped.append(sequence_in_main(frame.main_image()))
        frame.release()
    image = frame.main_image()
    true_sequence = sequence_in_main(image)
    frame.release()
    record = history[true_sequence]
    assert record.sequence == true_sequence and record.exposure_start_ns == frame.timestamp_ns
    assert record.exposure_start_ns >= press_ns
    # every frame passed over was really exposed before the press (picamera2 may still hold one)
    assert all(history[sequence].exposure_start_ns < press_ns for sequence in skipped)
    # the adapter's frame counter follows the sensor's
    assert frame.sequence - first_sequence == true_sequence - first_true
    assert image.shape == (240, 320, 3)


def test_lens_commands_reach_set_controls_as_lens_position_in_manual_mode(camera, standin):
    from libcamera import controls

    sensor = picam2_of(camera).sensors_used[-1]
    camera.set_lens_position(3.5)  # 2.5 D from the start: more than the IPA's max_slew (1.5 D)
    positions = lens_positions_until(camera, 3.5, most=40)
    # the metadata reaches the commanded position by way of the IPA's slewed lens state (af.cpp:
    # 1.5 D with the write, the rest on a run of its controller), never beyond it
    assert positions[-1] == 3.5
    assert positions == sorted(positions) and set(positions) <= {1.0, 2.5, 3.5}
    with_lens = [c for c in sensor.applied_controls if "LensPosition" in c]
    assert with_lens[0] == {"AfMode": controls.AfModeEnum.Manual, "LensPosition": 1.0,
                            "FrameDurationLimits": (5000, 5000),  # at start: Manual, then positions
                            "NoiseReductionMode": controls.draft.NoiseReductionModeEnum.Fast,
                            # [exposure]'s defaults, as libcamera's own (auto exposure, AWB, centre-weighted)
                            "AeEnable": True, "ExposureValue": 0.0, "AwbMode": controls.AwbModeEnum.Auto,
                            "AeMeteringMode": controls.AeMeteringModeEnum.CentreWeighted}
    assert with_lens[-1] == {"LensPosition": 3.5}
    assert sum("AfMode" in c for c in sensor.applied_controls) == 1
    # the camera's own AF (the stand-in starts it in Continuous, as libcamera's default) never ran
    assert all(record.af_mode == controls.AfModeEnum.Manual for record in sensor.history)
    camera.next_frame(TIMEOUT).release()
    for _ in range(standin.LENS_DELAY_FRAMES + 2):
        camera.next_frame(TIMEOUT).release()
    assert sensor.true_lens == 3.5


def test_impossible_positions_are_refused_and_positions_beyond_the_range_clamped(camera, caplog):
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(LensError):
            camera.set_lens_position(bad)
    camera.set_lens_position(15.5)  # an engine that knew a wider range: clamped, said once
    # 14 D from the start: the IPA slews there, 1.5 D with the write and per run of its controller
    # (every 6th frame at 200 fps), so the metadata takes some 60 frames to show 15 D
    positions = lens_positions_until(camera, 15.0, most=150)
    assert positions[-1] == 15.0 and positions == sorted(positions)
    assert set(positions) <= {1.0 + 1.5 * step for step in range(10)} | {15.0}  # never past 15 D
    sensor = picam2_of(camera).sensors_used[-1]
    assert [c["LensPosition"] for c in sensor.applied_controls[1:] if "LensPosition" in c] == [15.0]
    assert "outside the camera's range" in caplog.text


def test_the_lens_range_is_the_cameras_own(standin):
    standin.use_module(module_spec(standin, lens=(0.0, 35.0, 1.0)))  # e.g. Camera Module 3 Wide
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE))
    assert cam.lens_range == (0.0, 15.0)  # the profile's, until the camera says otherwise
    cam.start()
    try:
        assert cam.lens_range == (0.0, 35.0)
        cam.set_lens_position(30.0)
    finally:
        cam.stop()


def test_a_module_without_lens_control_is_refused_for_the_libcamera_driver(standin):
    standin.use_module(module_spec(standin, lens=None))
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE))
    with pytest.raises(CameraError, match="no LensPosition control"):
        cam.start()
    cam.stop()


def test_a_frame_timeout_is_a_camera_error_and_leaks_nothing(standin):
    standin.use_module(module_spec(standin, fps=20.0))
    profile = dict(TEST_PROFILE, modes=[dict(TEST_PROFILE["modes"][0], fps=20.0), TEST_PROFILE["modes"][1]])
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", profile))
    cam.start()
    try:
        with pytest.raises(CameraError, match="no frame within"):
            for _ in range(5):  # 1 ms against 50 ms frames: one of these times out
                cam.next_frame(0.001).release()
        for _ in range(8):  # the timed-out job's frame is the next one handed out; none is lost
            cam.next_frame(TIMEOUT).release()
    finally:
        cam.stop()


class RecordingLens(Lens):
    def __init__(self):
        self.moves: list[float] = []
        self.closed = False

    @property
    def lens_range(self):
        return (0.0, 10.0)

    def move_to(self, dioptres):
        self.moves.append(dioptres)

    def close(self):
        self.closed = True


def test_i2c_lens_modules_drive_the_vcm_and_report_the_commanded_position(standin):
    standin.use_module(module_spec(standin, lens=None))  # libcamera sees no lens on these modules
    profile = parse_profile("testcam", dict(TEST_PROFILE, lens_driver="i2c-ov5647", lens_range=[0.0, 10.0]))
    lens = RecordingLens()
    cam = Picamera2Camera(CameraConfig(), profile, lens=lens)
    cam.start()
    try:
        assert cam.lens_range == (0.0, 10.0)
        cam.set_lens_position(4.0)
        assert lens.moves[-1] == 4.0
        with cam.next_frame(TIMEOUT) as frame:
            assert frame.lens_position == 4.0
        assert not any("LensPosition" in c for c in picam2_of(cam).sensors_used[-1].applied_controls)
    finally:
        cam.stop()


def test_full_resolution_capture_switches_mode_and_keeps_the_lens(camera):
    camera.set_lens_position(2.0)
    camera.next_frame(TIMEOUT).release()
    image = camera.full_resolution_capture()
    assert image.shape == (480, 640, 3)
    sensors = picam2_of(camera).sensors_used
    assert len(sensors) == 3  # focus mode, full resolution, focus mode again
    assert sensors[1].applied_controls[0]["LensPosition"] == 2.0
    assert sensors[2].applied_controls[0]["LensPosition"] == 2.0  # not back to where it started
    with camera.next_frame(TIMEOUT) as frame:
        assert frame.y.shape == (LORES[1], LORES[0])


def test_stop_is_safe_twice_and_frames_after_it_are_errors(camera):
    camera.stop()
    camera.stop()
    with pytest.raises(CameraError):
        camera.next_frame(TIMEOUT)


def test_probe_lists_the_attached_camera(standin):
    standin.use_module(module_spec(standin))
    (entry,) = probe_cameras()
    assert entry["info"]["Model"] == "testcam"
    assert entry["lens_position"] == (0.0, 15.0, 1.0)
    assert [m["size"] for m in entry["modes"]] == [(320, 240), (640, 480)]


def test_the_shipped_profiles_configure_on_the_standin(standin):
    profile = load_profile("imx708")
    standin.use_module(standin.ModuleSpec())
    cam = Picamera2Camera(CameraConfig(), profile, tuning=Picamera2Tuning(buffer_count=3))
    cam.start()
    try:
        with cam.next_frame(TIMEOUT) as frame:
            assert frame.y.shape == (profile.lores_size[1], profile.lores_size[0])
        assert picam2_of(cam).camera_config["main"]["size"] == tuple(profile.focus_mode)
    finally:
        cam.stop()


class FailingLens(RecordingLens):
    def move_to(self, dioptres):
        if dioptres > 5:
            raise LensError("I2C write to the VCM at 0x0c on bus 10 failed: [Errno 121] Remote I/O error")
        super().move_to(dioptres)


def test_a_failed_i2c_lens_write_is_a_camera_fault_on_the_next_frame(standin):
    standin.use_module(module_spec(standin, lens=None))
    profile = parse_profile("testcam", dict(TEST_PROFILE, lens_driver="i2c-ov5647", lens_range=[0.0, 10.0]))
    cam = Picamera2Camera(CameraConfig(), profile, lens=FailingLens())
    cam.start()
    try:
        cam.set_lens_position(6.0)  # returns: the camera thread must not die inside a lens command
        with pytest.raises(CameraError, match="focus motor"):
            cam.next_frame(TIMEOUT)
        cam.next_frame(TIMEOUT).release()  # reported once
    finally:
        cam.stop()


def test_the_focus_stream_denoises_fast_not_with_picamera2s_still_high_quality(camera, standin):
    from libcamera import controls

    picam2 = picam2_of(camera)
    # picamera2's still configuration merges HighQuality denoise ("at the expense of frame rate")
    # under the caller's controls; the full-resolution single frame keeps it
    assert picam2.create_still_configuration()["controls"]["NoiseReductionMode"] == \
        controls.draft.NoiseReductionModeEnum.HighQuality
    assert picam2.camera_config["controls"]["NoiseReductionMode"] == controls.draft.NoiseReductionModeEnum.Fast
    assert picam2.sensors_used[-1].applied_controls[0]["NoiseReductionMode"] == controls.draft.NoiseReductionModeEnum.Fast
    camera.full_resolution_capture()
    assert picam2.sensors_used[1].applied_controls[0]["NoiseReductionMode"] == \
        controls.draft.NoiseReductionModeEnum.HighQuality
    assert picam2.sensors_used[2].applied_controls[0]["NoiseReductionMode"] == controls.draft.NoiseReductionModeEnum.Fast


def test_a_camera_without_noise_reduction_control_is_not_sent_one(standin):
    standin.use_module(dataclasses.replace(module_spec(standin), noise_reduction=False))
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE))
    cam.start()  # the stand-in, as picamera2, refuses a control the camera does not advertise
    try:
        assert "NoiseReductionMode" not in picam2_of(cam).camera_config["controls"]
    finally:
        cam.stop()


class TimedLens(RecordingLens):
    """Records, per write, the position, how many times the camera had been started and when."""

    def __init__(self):
        super().__init__()
        self.camera: Picamera2Camera | None = None  # the adapter it belongs to, set once built
        self.writes: list[tuple[float, int, int]] = []

    def move_to(self, dioptres):
        picam2 = self.camera._picam2
        self.writes.append((dioptres, len(picam2.sensors_used) if picam2 else 0, time.monotonic_ns()))
        super().move_to(dioptres)


def test_an_i2c_lens_is_written_again_after_each_mode_switch(standin):
    standin.use_module(module_spec(standin, lens=None))
    profile = parse_profile("testcam", dict(TEST_PROFILE, lens_driver="i2c-ov5647", lens_range=[0.0, 10.0]))
    lens = TimedLens()
    cam = lens.camera = Picamera2Camera(CameraConfig(), profile, lens=lens)
    cam.start()
    try:
        cam.set_lens_position(6.5)
        cam.next_frame(TIMEOUT).release()
        before = len(lens.writes)
        image = cam.full_resolution_capture()
        picam2 = picam2_of(cam)
        # the VCM may lose power while the sensor is stopped: written after each (re)start
        assert [(p, started) for p, started, _ in lens.writes[before:]] == [(6.5, 2), (6.5, 3)]
        # the photo was exposed after the write that put the lens back
        record = picam2.sensors_used[1].history[sequence_in_main(image)]
        assert record.exposure_start_ns >= lens.writes[before][2]
        with cam.next_frame(TIMEOUT) as frame:
            assert frame.lens_position == 6.5
    finally:
        cam.stop()


def test_camera_vcm_bus_overrides_the_profiles_i2c_bus(standin, monkeypatch):
    import smbus2

    opened = []

    class Bus:
        def __init__(self, bus=None, force=False):
            opened.append(bus)

        def write_byte_data(self, i2c_addr, register, value, force=None):
            pass

        def close(self):
            pass

    monkeypatch.setattr(smbus2, "SMBus", Bus)
    profile = load_profile("ov5647_motorized")  # vcm.bus = 10: a Pi 4's camera bus
    for vcm_bus, expected in ((None, 10), (4, 4)):  # e.g. a Pi 5's, as `i2cdetect -l` shows it
        standin.use_module(standin.ModuleSpec(model="ov5647", lens=None, full_size=(2592, 1944),
                                              modes=(((1296, 972), 46.34), ((2592, 1944), 15.63))))
        cam = Picamera2Camera(CameraConfig(profile="ov5647_motorized", vcm_bus=vcm_bus), profile,
                              tuning=Picamera2Tuning(buffer_count=2))
        cam.start()
        cam.stop()
        assert opened[-1] == expected


def test_hold_exposure_sends_the_last_frames_exposure_with_ae_off_and_release_turns_ae_on(camera):
    sensor = picam2_of(camera).sensors_used[-1]
    frame = camera.next_frame(TIMEOUT)
    exposure, gain = int(frame.metadata["ExposureTime"]), float(frame.metadata.get("AnalogueGain", 1.0))
    frame.release()
    camera.hold_exposure(True)
    for _ in range(4):
        camera.next_frame(TIMEOUT).release()
    assert {"AeEnable": False, "ExposureTime": exposure, "AnalogueGain": gain} in sensor.applied_controls
    released = {"AeEnable": True, "ExposureTime": 0, "AnalogueGain": 0.0}  # 0: auto exposure's again
    assert released not in sensor.applied_controls
    camera.hold_exposure(False)
    for _ in range(4):
        camera.next_frame(TIMEOUT).release()
    assert released in sensor.applied_controls
