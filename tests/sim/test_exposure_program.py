"""[exposure] on the simulated camera: manual exposure, a fixed time or gain with auto exposure
choosing the other, compensation, and what the frames' metadata then says."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from focusd.config.schema import ExposureConfig
from focusd.sim import SimCamera, SimRig, scenes

from sim.sim_helpers import AF_WINDOW


def camera(light="indoor", **exposure) -> SimCamera:
    rig = SimRig(scenes.texture_scene("bricks", 1.2, seed=1), light=light, window=AF_WINDOW)
    cam = SimCamera(rig, pacing="virtual")
    cam.configure_exposure(dataclasses.replace(ExposureConfig(), **exposure))
    return cam


def frames(cam: SimCamera, count: int = 8):
    cam.start()
    try:
        return [cam.next_frame(1.0) for _ in range(count)]
    finally:
        cam.stop()


def test_manual_exposure_gives_exactly_the_configured_time_and_gain():
    shot = frames(camera(auto=False, shutter_us=5000, iso=400))
    assert {(f.metadata["ExposureTime"], f.analogue_gain) for f in shot} == {(5000, 4.0)}


def test_a_fixed_time_leaves_the_gain_to_auto_exposure_and_a_fixed_gain_the_time():
    auto = frames(camera(light="dim"))[-1]
    fixed_time = frames(camera(light="dim", shutter_us=2000))[-1]
    assert fixed_time.exposure_time_us == pytest.approx(2000)
    assert fixed_time.analogue_gain > auto.analogue_gain  # the gain makes up for the shorter time
    auto = frames(camera(light="indoor"))[-1]
    fixed_gain = frames(camera(light="indoor", iso=800))[-1]
    assert fixed_gain.analogue_gain == pytest.approx(8.0)
    assert fixed_gain.exposure_time_us < auto.exposure_time_us / 4  # the time makes up for the higher gain


def test_compensation_brightens_by_its_stops():
    plain = frames(camera(light="bright"))[-1]
    plus = frames(camera(light="bright", compensation_ev=1.0))[-1]
    minus = frames(camera(light="bright", compensation_ev=-1.0))[-1]
    product = lambda f: f.exposure_time_us * f.analogue_gain  # noqa: E731
    assert product(plus) / product(plain) == pytest.approx(2.0, rel=0.02)
    assert product(minus) / product(plain) == pytest.approx(0.5, rel=0.02)
    assert np.mean(plus.y) > np.mean(plain.y) > np.mean(minus.y)


def test_white_balance_and_metering_are_recorded_in_the_metadata():
    shot = frames(camera(awb="daylight", metering="spot"), count=1)[0]
    assert (shot.metadata["SimAwbMode"], shot.metadata["SimMetering"]) == ("daylight", "spot")


def test_a_held_exposure_released_returns_to_the_configured_program():
    cam = camera(light="indoor", shutter_us=3000)
    cam.start()
    try:
        for _ in range(3):
            cam.next_frame(1.0)
        cam.hold_exposure(True)
        cam.rig.set_light("bright")
        held = cam.next_frame(1.0)
        cam.hold_exposure(False)
        freed = [cam.next_frame(1.0) for _ in range(3)]
    finally:
        cam.stop()
    assert held.exposure_time_us == pytest.approx(3000)
    assert all(f.exposure_time_us == pytest.approx(3000) for f in freed)  # still the fixed time
    assert freed[-1].analogue_gain < held.analogue_gain  # auto gain follows the brighter light
