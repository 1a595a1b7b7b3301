"""Which camera and which pins: the one place that chooses between the Pi and the simulator.

``camera.backend = "picamera2"`` builds the picamera2 adapter (``focusd.hw.picamera2_camera``);
``"sim"`` builds the simulated camera (``focusd.sim``) with gpiozero's mock pins. Everything above
this function is the same on both. ``engine_latency_frames`` is the lens latency the autofocus
engine is told, for every camera.
"""

from __future__ import annotations

import os

from focusd.config.settings import Config
from focusd.config.profiles import CameraProfile, load_profile

#: the scene of the desktop demo: a textured subject 1.2 m away, in indoor light
DEMO_SCENE = {"texture": "bricks", "distance_m": 1.2}


def build_camera(config: Config, pacing: str = "realtime", scene=None, seed: int = 0, light: str = "indoor"):
    """The camera for ``config``. ``pacing``, ``scene``, ``seed`` and ``light`` apply to the simulator."""
    profile = load_profile(config.camera.profile)
    if config.camera.backend == "picamera2":
        from focusd.hw.picamera2_camera import Picamera2Camera

        return Picamera2Camera(config.camera, profile)
    from focusd.sim import SimCamera, SimRig, scenes

    if scene is None:
        scene = scenes.texture_scene(DEMO_SCENE["texture"], distance_m=DEMO_SCENE["distance_m"], seed=seed)
    latency = config.af.lens_latency_frames
    rig = SimRig(
        scene,
        profile=profile,
        mode=tuple(config.camera.sensor_mode or profile.focus_mode),
        lores_size=tuple(config.camera.lores_size or profile.lores_size),
        light=light,
        latency_frames=profile.lens_latency_frames if latency is None else latency,
        start_lens=profile.af_ranges["normal"][0] + 1.0,
        seed=seed,
    )
    return SimCamera(rig, pacing=pacing)


def engine_latency_frames(config: Config, profile: CameraProfile, camera) -> int:
    """The lens latency to tell the engine (DESIGN.md's ``latency_frames``), end to end.

    ``af.lens_latency_frames``, when set, is a measured end-to-end value (``focusd
    measure-latency``) and is used as it is. Otherwise: the profile's ``lens_latency_frames``
    (counted from the request carrying the command reaching the ISP) plus the frames the command
    first waits in the camera's own request queue (``camera.lens_queue_frames``: picamera2's
    buffers ahead of it; 0 for I2C lenses and the simulator).
    """
    if config.af.lens_latency_frames is not None:
        return int(config.af.lens_latency_frames)
    return int(profile.lens_latency_frames) + int(camera.lens_queue_frames)


def pin_factory_for(config: Config):
    """gpiozero's pin factory: mock pins for the simulator unless GPIOZERO_PIN_FACTORY says
    otherwise; on the Pi, gpiozero's default (lgpio on a Pi 5 / Bookworm)."""
    if config.camera.backend == "sim" and not os.environ.get("GPIOZERO_PIN_FACTORY"):
        from focusd.hw.gpio import mock_pin_factory

        return mock_pin_factory()
    return None
