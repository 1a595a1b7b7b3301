"""Camera.hold_exposure: the simulated camera and the picamera2 controls it sends."""

from __future__ import annotations

from focusd.config.schema import ExposureConfig
from focusd.hw.picamera2_exposure import hold_controls
from focusd.sim import SimCamera, SimRig, scenes

from sim.sim_helpers import AF_WINDOW


def camera() -> SimCamera:
    rig = SimRig(scenes.texture_scene("bricks", 1.2, seed=1), light="indoor", window=AF_WINDOW)
    return SimCamera(rig, pacing="virtual")


def test_held_exposure_stays_while_the_light_changes_and_follows_again_when_released():
    cam = camera()
    cam.start()
    try:
        for _ in range(5):
            last = cam.next_frame(1.0)
        cam.hold_exposure(True)
        cam.rig.set_light("daylight" if "daylight" in str(cam.rig.light) else 5000.0)
        held = [cam.next_frame(1.0) for _ in range(10)]
        assert {(f.exposure_time_us, f.analogue_gain) for f in held} == {
            (held[0].exposure_time_us, held[0].analogue_gain)}
        assert abs(held[0].exposure_time_us - last.exposure_time_us) < 1.0
        assert abs(held[0].analogue_gain - last.analogue_gain) < 1e-6
        cam.hold_exposure(False)
        freed = [cam.next_frame(1.0) for _ in range(10)]
        assert freed[-1].exposure_time_us * freed[-1].analogue_gain < 0.9 * (
            held[-1].exposure_time_us * held[-1].analogue_gain)  # brighter light: less exposure
    finally:
        cam.stop()


def test_picamera2_hold_controls_freeze_the_last_frames_values():
    metadata = {"ExposureTime": 12345, "AnalogueGain": 2.5, "SensorTimestamp": 1}
    assert hold_controls(True, metadata) == {"AeEnable": False, "ExposureTime": 12345, "AnalogueGain": 2.5}
    assert hold_controls(True, None) == {}
    # released: back to the configured exposure, 0 meaning auto exposure's (picamera2's convention)
    assert hold_controls(False, metadata) == {"AeEnable": True, "ExposureTime": 0, "AnalogueGain": 0.0}
    manual = ExposureConfig(auto=False, shutter_us=4000.0, iso=200.0)
    assert hold_controls(False, metadata, manual) == {"AeEnable": False, "ExposureTime": 4000, "AnalogueGain": 2.0}
    fixed_time = ExposureConfig(shutter_us=2500.0)
    assert hold_controls(False, metadata, fixed_time) == {"AeEnable": True, "ExposureTime": 2500, "AnalogueGain": 0.0}


def test_hold_controls_are_libcamera_controls():
    from pathlib import Path
    known = set(Path(__file__).parents[1].joinpath("hw", "libcamera_control_ids.txt").read_text().split())
    assert set(hold_controls(True, {"ExposureTime": 1, "AnalogueGain": 1.0})) <= known
