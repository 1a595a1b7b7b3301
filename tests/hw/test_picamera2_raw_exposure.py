"""The picamera2 adapter's raw stream (capture.raw) and [exposure] controls, on the checked stand-in
(tests/hw/standin: its names and signatures are picamera2 0.3.38's, test_picamera2_contract.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
import rawpy
from gpiozero.pins.mock import MockFactory

from focusd.config.schema import ExposureConfig
from focusd.config.settings import CameraConfig, parse_config
from focusd.config.profiles import parse_profile
from focusd.hw.gpio import MockPinDriver
from focusd.hw.picamera2_camera import Picamera2Camera
from focusd.service.cameras import build_camera
from focusd.service.daemon import Daemon
from focusd.signals import ButtonId
from testcam import TEST_PROFILE, TIMEOUT, module_spec, picam2_of, start_camera


def record_of(picam2, frame):
    """The stand-in's own record of the frame the adapter handed out (matched by SensorTimestamp)."""
    (sensor,) = picam2.sensors_used
    stamp = frame.metadata["SensorTimestamp"]
    return next(record for record in sensor.history if record.sensor_timestamp_ns == stamp)


def test_the_raw_stream_is_asked_for_unpacked_at_the_mode_s_size(standin):
    cam = start_camera(standin, raw_stream=True)
    try:
        picam2 = picam2_of(cam)
        asked = picam2.camera_config["raw"]
        # the sensor's native SRGGB10_CSI2P, unpacked (a Pi 5 cannot write packed CSI-2 data)
        assert picam2.sensor_format == "SRGGB10_CSI2P" and asked["format"] == "SRGGB10"
        assert asked["size"] == (320, 240) and asked["stride"] > 2 * 320 - 1
        with cam.next_frame(TIMEOUT) as frame:
            raw = frame.raw_image()
            red, green_r, green_b, blue = standin.raw_cell(record_of(picam2, frame).sequence)
        assert raw.pixels.shape == (240, 320) and raw.pixels.dtype == np.uint16
        assert (raw.cfa, raw.bit_depth, raw.black_level) == ("RGGB", 10, 64)  # SensorBlackLevels 4096 >> 6
        # each colour where the pattern says, and none of the stride's padding (0xFF bytes)
        assert np.all(raw.pixels[0::2, 0::2] == red) and np.all(raw.pixels[1::2, 1::2] == blue)
        assert np.all(raw.pixels[0::2, 1::2] == green_r) and np.all(raw.pixels[1::2, 0::2] == green_b)
    finally:
        cam.stop()


def test_the_raw_copy_outlives_its_frame(standin):
    cam = start_camera(standin, raw_stream=True)
    try:
        frame = cam.next_frame(TIMEOUT)
        raw = frame.raw_image()
        expected = raw.pixels.copy()
        frame.release()
        for _ in range(4):  # the buffer goes back to the camera and is filled again
            cam.next_frame(TIMEOUT).release()
        assert np.array_equal(raw.pixels, expected)
    finally:
        cam.stop()


def test_without_capture_raw_no_raw_stream(camera):
    assert picam2_of(camera).camera_config["raw"] is None
    with camera.next_frame(TIMEOUT) as frame:
        assert frame.raw_image() is None


@pytest.mark.parametrize("granted, layout", [
    ({"format": "SBGGR16", "size": (640, 480), "stride": 1280}, {"cfa": "BGGR", "bit_depth": 16}),
    ({"format": "SRGGB10", "size": (320, 240), "stride": 640}, {"cfa": "RGGB", "bit_depth": 10}),
    ({"format": "SRGGB10_CSI2P", "size": (320, 240), "stride": 416}, None),  # packed: not decoded
    ({"format": "BGGR_PISP_COMP1", "size": (320, 240), "stride": 320}, None),  # the Pi 5's compression
    ({"format": "R10", "size": (320, 240), "stride": 640}, None),  # a monochrome sensor
])
def test_only_an_unpacked_bayer_grant_is_decoded(standin, granted, layout, caplog):
    from focusd.hw.picamera2_raw import granted_layout

    found = granted_layout(granted)
    if layout is None:
        assert found is None and "does not decode" in caplog.text
    else:
        assert {k: found[k] for k in layout} == layout


def exposure_camera(standin, **exposure) -> Picamera2Camera:
    standin.use_module(module_spec(standin))
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE),
                          exposure=dataclasses.replace(ExposureConfig(), **exposure))
    cam.start()
    return cam


def test_manual_exposure_goes_out_at_start_and_the_frames_report_it(standin):
    from libcamera import controls

    cam = exposure_camera(standin, auto=False, shutter_us=1500.0, iso=400.0, awb="daylight")
    try:
        start = picam2_of(cam).sensors_used[0].applied_controls[0]
        assert {k: start[k] for k in ("AeEnable", "ExposureTime", "AnalogueGain", "AwbMode")} == {
            "AeEnable": False, "ExposureTime": 1500, "AnalogueGain": 4.0, "AwbMode": controls.AwbModeEnum.Daylight}
        assert "ExposureValue" not in start and "AeMeteringMode" not in start  # auto exposure's, which is off
        with cam.next_frame(TIMEOUT) as frame:  # the values the frame had, from its metadata
            assert (frame.exposure_time_us, frame.analogue_gain) == (1500.0, 4.0)
    finally:
        cam.stop()


def test_auto_exposure_takes_compensation_and_metering(standin):
    from libcamera import controls

    cam = exposure_camera(standin, compensation_ev=-1.5, metering="spot", awb="tungsten")
    try:
        start = picam2_of(cam).sensors_used[0].applied_controls[0]
        assert start["AeEnable"] is True and start["ExposureValue"] == -1.5
        assert start["AeMeteringMode"] == controls.AeMeteringModeEnum.Spot
        assert start["AwbMode"] == controls.AwbModeEnum.Tungsten
        assert "ExposureTime" not in start and "AnalogueGain" not in start  # auto exposure chooses both
    finally:
        cam.stop()


def test_an_iso_beyond_the_camera_s_gain_is_clamped_with_a_warning(standin, caplog):
    caplog.set_level(logging.WARNING, logger="focusd.camera")
    cam = exposure_camera(standin, iso=6400.0)  # the stand-in's AnalogueGain goes to 16
    try:
        assert picam2_of(cam).sensors_used[0].applied_controls[0]["AnalogueGain"] == 16.0
        assert "exposure.iso = 6400" in caplog.text
    finally:
        cam.stop()


def test_a_hold_released_goes_back_to_the_configured_fixed_time(standin):
    cam = exposure_camera(standin, shutter_us=1200.0)
    try:
        cam.next_frame(TIMEOUT).release()
        cam.hold_exposure(True)
        cam.hold_exposure(False)
        for _ in range(4):
            cam.next_frame(TIMEOUT).release()
        sensor = picam2_of(cam).sensors_used[0]
        assert {"AeEnable": True, "ExposureTime": 1200, "AnalogueGain": 0.0} in sensor.applied_controls
    finally:
        cam.stop()


def test_the_daemon_on_the_pi_writes_the_raw_stream_as_a_dng(standin, tmp_path):
    """capture.raw through build_camera (what `focusd run` builds) and the whole daemon: the DNG
    LibRaw decodes is the stand-in's raw frame of the captured exposure."""
    standin.use_module(standin.ModuleSpec())  # imx708 and its modes
    config = parse_config({"camera": {"backend": "picamera2", "profile": "imx708", "lores_size": [224, 126]},
                           "capture": {"directory": str(tmp_path / "captures"), "raw": True},
                           "shutter": {"burst": False}})
    factory = MockFactory()
    camera = build_camera(config)
    daemon = Daemon(config, camera, pin_factory=factory)
    finger = MockPinDriver(config.pins, factory)
    thread = threading.Thread(target=daemon.run, name="camera-thread", daemon=True)
    thread.start()
    try:
        assert daemon.wait_until(lambda s: s.frames >= 3, TIMEOUT)
        finger.press(ButtonId.SHUTTER)
        target = daemon.stats.frames + 4
        assert daemon.wait_until(lambda s: s.frames >= target, TIMEOUT)
        finger.release(ButtonId.SHUTTER)
        assert daemon.wait_until(lambda s: s.captures_written == 1, TIMEOUT)
        history = list(camera._picam2.sensors_used[0].history)
    finally:
        daemon.request_stop()
        thread.join(TIMEOUT)
        factory.reset()
    folder = Path(config.capture.directory)
    (record,) = [json.loads(line) for line in (folder / "captures.jsonl").read_text().splitlines()]
    assert record["raw"] == Path(record["file"]).with_suffix(".dng").name
    (shot,) = [r for r in history if r.sensor_timestamp_ns == record["extra"]["SensorTimestamp"]]
    red, green_r, green_b, blue = standin.raw_cell(shot.sequence)
    with rawpy.imread(str(folder / record["raw"])) as decoded:
        assert (decoded.sizes.raw_width, decoded.sizes.raw_height) == (2304, 1296)  # imx708's focusing mode
        assert decoded.color_desc == b"RGBG" and decoded.raw_pattern.tolist() == [[0, 1], [3, 2]]  # RGGB
        pixels = decoded.raw_image
        assert np.all(pixels[0::2, 0::2] == red) and np.all(pixels[1::2, 1::2] == blue)
        assert np.all(pixels[0::2, 1::2] == green_r) and np.all(pixels[1::2, 0::2] == green_b)
        assert list(decoded.black_level_per_channel) == [64] * 4
