"""Which camera and which pins: the one place that chooses between the Pi and the simulator.

``camera.backend = "picamera2"`` builds the picamera2 adapter (``focusd.hw.picamera2_camera``);
``"sim"`` builds the simulated camera (``focusd.sim``) with gpiozero's mock pins. Everything above
this function is the same on both. ``told_lens_path`` is what the autofocus engine, the daemon and
the device tools are told about the lens of the camera they run on: built once per camera, from
its profile and the configuration.

``af.lens_latency_frames`` always means the latency focusd is *told* (a measured value on a Pi).
The simulator's own latency is its truth, the profile's unless ``build_camera`` is given
``true_latency_frames``: a simulated device is told a latency the way a real one is, and may be
told wrong.
"""

from __future__ import annotations

import dataclasses
import os

from focusd.af import AutofocusEngine
from focusd.config.profiles import CameraProfile, load_profile
from focusd.config.settings import Config
from focusd.hw.gpio import mock_pin_factory
from focusd.lens_path import LensPath

#: the scene of the desktop demo: a textured subject 1.2 m away, in indoor light
DEMO_SCENE = {"texture": "bricks", "distance_m": 1.2}


def build_camera(config: Config, pacing: str = "realtime", scene=None, seed: int = 0, light: str = "indoor",
                 true_latency_frames: int | None = None):
    """The camera for ``config``. ``pacing``, ``scene``, ``seed``, ``light`` and
    ``true_latency_frames`` (the simulated lens's real latency; default: the profile's) apply to
    the simulator."""
    profile = load_profile(config.camera.profile)
    if config.camera.backend == "picamera2":
        # deferred: the adapter needs picamera2, which exists only on a Pi (a missing one is
        # CameraUnavailable when the camera starts, exit 69)
        from focusd.hw.picamera2_camera import Picamera2Camera, Picamera2Tuning

        return Picamera2Camera(config.camera, profile, Picamera2Tuning(raw_stream=config.capture.raw),
                               exposure=config.exposure)
    # deferred: the simulator (scenes, optics, noise) is loaded only where it is the camera
    from focusd.sim import SimCamera, SimRig, scenes

    if scene is None:
        scene = scenes.texture_scene(DEMO_SCENE["texture"], distance_m=DEMO_SCENE["distance_m"], seed=seed)
    rig = SimRig(
        scene,
        profile=profile,
        mode=tuple(config.camera.sensor_mode or profile.focus_mode),
        lores_size=tuple(config.camera.lores_size or profile.lores_size),
        light=light,
        latency_frames=profile.lens_latency_frames if true_latency_frames is None else int(true_latency_frames),
        start_lens=profile.af_ranges["normal"][0] + 1.0,
        seed=seed,
    )
    camera = SimCamera(rig, pacing=pacing, raw=config.capture.raw)
    camera.configure_exposure(config.exposure)
    if config.pins.af_assist is not None:  # the lamp lights the simulated scene through its mock pin
        from focusd.hw.assist_lamp import mock_pin_level

        camera.watch_lamp(mock_pin_level(config.pins.af_assist))
    return camera


def told_lens_path(config: Config, profile: CameraProfile, camera) -> LensPath:
    """The lens path of ``camera`` as focusd is told it: latency end to end, slew per write, how
    often the IPA's controller runs, and the range the lens is driven within.

    The latency is ``af.lens_latency_frames`` when set (a measured end-to-end value, ``focusd
    measure-latency``), used as it is. Otherwise the profile's ``lens_latency_frames`` (counted
    from the request carrying the command reaching the ISP) plus the frames the command first
    waits in the camera's own request queue (``camera.lens_queue_frames``: picamera2's buffers
    ahead of it; 0 for I2C lenses and the simulator). The range is the profile's ``af.range``
    within the camera's own (older libcamera releases report a different one than profiles).
    """
    if config.af.lens_latency_frames is not None:
        latency = int(config.af.lens_latency_frames)
    else:
        latency = int(profile.lens_latency_frames) + int(camera.lens_queue_frames)
    low, high = profile.af_ranges[config.af.range]
    camera_low, camera_high = camera.lens_range
    fps = profile.mode(tuple(config.camera.sensor_mode)).fps if config.camera.sensor_mode else None
    path = LensPath.for_profile(profile, latency, fps=fps)
    return dataclasses.replace(path, lens_range=(max(low, camera_low), min(high, camera_high)))


def pin_factory_for(config: Config):
    """gpiozero's pin factory: mock pins for the simulator unless GPIOZERO_PIN_FACTORY says
    otherwise; on the Pi, gpiozero's default (lgpio on a Pi 5 / Bookworm)."""
    if config.camera.backend == "sim" and not os.environ.get("GPIOZERO_PIN_FACTORY"):
        return mock_pin_factory()
    return None


def build_engine(config: Config, lens_path: LensPath) -> AutofocusEngine:
    """The engine for the [af] settings on a lens path (its range, told latency and slew)."""
    slew = {} if lens_path.max_slew is None else {"max_slew": lens_path.max_slew}
    return AutofocusEngine(
        lens_range=lens_path.lens_range,
        latency_frames=lens_path.latency_frames,
        window=tuple(config.af.window),
        fallback=config.af.fallback,
        retrigger_frames=config.af.lock_on_delay_frames,
        follow_ratio=config.af.lock_on_threshold,
        retrigger_ratio=config.af.refocus_threshold,
        **slew,
    )
