"""The small simulated module the picamera2 adapter's tests run on (stand-in at 200 fps), shared by
test_picamera2_adapter.py and test_picamera2_requests.py (tests/hw is on pytest's pythonpath); the
``camera`` fixture (conftest.py) is :func:`start_camera` with the default tuning."""

from __future__ import annotations

from focusd.config.settings import CameraConfig
from focusd.hw.picamera2_camera import Picamera2Camera, Picamera2Tuning
from focusd.config.profiles import parse_profile

TIMEOUT = 5.0
LORES = (160, 120)

TEST_PROFILE = {
    "display_name": "test module", "sensor": "testcam", "lens_range": [0.0, 15.0],
    "af_ranges": {"normal": [0.0, 12.0], "macro": [3.0, 15.0], "full": [0.0, 15.0]},
    "lens_latency_frames": 2, "focal_length_mm": 4.74, "f_number": 1.8, "pixel_size_um": 1.4,
    "full_resolution": [640, 480], "focus_mode": [320, 240], "lores_size": list(LORES),
    "modes": [{"size": [320, 240], "fps": 200.0, "binning": 2, "crop": [0, 0, 640, 480]},
              {"size": [640, 480], "fps": 100.0, "binning": 1, "crop": [0, 0, 640, 480]}],
}


def module_spec(standin, lens=(0.0, 15.0, 1.0), fps=200.0):
    return standin.ModuleSpec(model="testcam", full_size=(640, 480),
                              modes=(((320, 240), fps), ((640, 480), 100.0)), lens=lens, exposure_us=2000)


def start_camera(standin, **tuning) -> Picamera2Camera:
    """The adapter on the test module, started; ``tuning``: Picamera2Tuning fields."""
    standin.use_module(module_spec(standin))
    cam = Picamera2Camera(CameraConfig(), parse_profile("testcam", TEST_PROFILE), tuning=Picamera2Tuning(**tuning))
    cam.start()
    return cam


def picam2_of(camera):
    return camera._picam2  # the stand-in instance: the test looks behind the adapter on purpose


def lens_positions_until(camera, target: float, most: int) -> list[float]:
    """The metadata lens positions of the next frames, up to the first showing ``target`` (or ``most``)."""
    positions: list[float] = []
    for _ in range(most):
        with camera.next_frame(TIMEOUT) as frame:
            positions.append(frame.lens_position)
        if positions[-1] == target:
            break
    return positions
