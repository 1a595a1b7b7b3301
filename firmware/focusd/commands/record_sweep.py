"""``focusd record-sweep``: step the lens across its range and write a focus sweep folder.

The sweep (docs/design.md, "A focus sweep on disk") replays offline through ``focusd bench --sweep``
and the simulator's SweepScene, so the AF can be tuned on what a real module, lens and scene give.
On a Pi it records from the camera (``camera.backend = "picamera2"``); on a desktop, with ``--sim``
(or ``camera.backend = "sim"``), from the simulated camera at virtual pace, which is how the replay
is checked against the live simulator. The recording itself is ``focusd.tools.sweeps.record_sweep``.

This module also holds the options and the camera set-up that ``focusd measure-latency`` shares.
"""

from __future__ import annotations

import argparse
import sys

from focusd.config import loader
from focusd.config.profiles import load_profile
from focusd.errors import FocusdError

HELP = "step the lens across its range and write a focus sweep"


# ------------------------------------------------------------------------ shared with measure-latency


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --set, --sim and the simulator's scene options."""
    loader.add_config_arguments(parser)
    parser.add_argument("--sim", action="store_true",
                        help="use the simulated camera (sets camera.backend = sim) at virtual pace: the desktop")
    sim = parser.add_argument_group("simulator (camera.backend = sim only)")
    sim.add_argument("--texture", default="bricks", help="texture of the simulated subject (default bricks)")
    sim.add_argument("--distance", type=float, default=1.0, metavar="M",
                     help="distance of the simulated subject in metres (default 1.0; 'inf' for infinity)")
    sim.add_argument("--light", default="bright", help="bright, indoor, dim or dark (default bright)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulated scene and noise (default 0)")
    sim.add_argument("--sim-latency", type=int, default=None, metavar="FRAMES",
                     help="the simulated lens's true command latency (default: the configured/profile value)")


def load_config(args: argparse.Namespace):
    """The configuration of ``args`` by focusd.config.loader's rule, with ``camera.backend = "sim"``
    under ``--sim`` (raises ConfigError)."""
    return loader.load(args, {"camera.backend": "sim"} if args.sim else None)


def open_camera(config, args: argparse.Namespace):
    """(camera, description): the configured camera, not yet started. On the simulator: the scene
    of --texture/--distance/--light/--seed, virtual pacing, and --sim-latency as the true latency.
    Raises ValueError for a bad simulator option."""
    # imported only to open a camera: both import numpy (and cameras, picamera2 on a Pi)
    from focusd.service.cameras import build_camera
    from focusd.sim import LIGHT_LEVELS, scenes

    if config.camera.backend != "sim":
        return build_camera(config), f"{config.camera.profile} on {config.camera.backend}"

    if args.light not in LIGHT_LEVELS:
        raise ValueError(f"--light {args.light}: not one of {', '.join(LIGHT_LEVELS)}")
    if args.texture not in scenes.TEXTURES:
        raise ValueError(f"--texture {args.texture}: not one of {', '.join(scenes.TEXTURES)}")
    if not args.distance > 0:
        raise ValueError(f"--distance {args.distance:g}: must be more than 0 metres")
    if args.sim_latency is not None:
        if args.sim_latency < 0:
            raise ValueError(f"--sim-latency {args.sim_latency}: must be >= 0 frames")
    scene = scenes.texture_scene(args.texture, distance_m=args.distance, seed=args.seed)
    camera = build_camera(config, pacing="virtual", scene=scene, seed=args.seed, light=args.light,
                          true_latency_frames=args.sim_latency)
    truth = 0.0 if args.distance == float("inf") else 1.0 / args.distance
    description = (f"simulator: {args.texture} at {args.distance:g} m (in focus at {truth:.3f} D), "
                   f"light {args.light}, seed {args.seed}, true lens latency {camera.rig.latency_frames} frames")
    return camera, description


# ------------------------------------------------------------------------------------- record-sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="the sweep folder to write (must not exist)")
    parser.add_argument("--step", type=float, default=0.25, metavar="D", help="dioptres between frames (default 0.25)")
    parser.add_argument("--range", nargs=2, type=float, default=None, metavar=("A", "B"),
                        help="dioptres to sweep, far to near (default: the af.range of the profile, e.g. 0 12)")
    parser.add_argument("--settle", type=int, default=2, metavar="FRAMES",
                        help="frames to wait after the lens latency before keeping a frame (default 2)")
    parser.add_argument("--latency", type=int, default=None, metavar="FRAMES",
                        help="lens command latency to wait out (default: af.lens_latency_frames or the profile's)")
    parser.add_argument("--average", type=int, default=8, metavar="FRAMES",
                        help="settled frames averaged into each saved frame (default 8): the replay adds "
                             "its own sensor noise, so the recorded frame should carry little")
    parser.add_argument("--main", action="store_true", help="also save each frame's main image (main/NNN.png)")
    parser.add_argument("--notes", default="", help="free text for sweep.json's notes (scene, light, lens)")
    add_camera_arguments(parser)


def main(args: argparse.Namespace) -> int:
    config = load_config(args)  # a ConfigError becomes exit status 78 in focusd.cli
    # imported only when recording: the sweep tools and the camera set-up import numpy (0.2 s)
    from focusd.service.cameras import told_lens_path
    from focusd.tools.sweeps import record_sweep, sweep_positions

    profile = load_profile(config.camera.profile)
    sweep_range = tuple(args.range) if args.range else tuple(profile.af_ranges[config.af.range])
    try:
        positions = sweep_positions(sweep_range, args.step)
        if args.settle < 0 or (args.latency is not None and args.latency < 0) or args.average < 1:
            raise ValueError("--settle and --latency must be >= 0 frames, --average >= 1")
        camera, description = open_camera(config, args)
    except ValueError as error:
        print(f"focusd record-sweep: {error}", file=sys.stderr)
        return 2
    # what the daemon tells the engine: measured, or the profile's plus the camera's request queue
    if args.latency is not None:
        latency = args.latency
    elif getattr(args, "sim_latency", None) is not None and config.camera.backend == "sim":
        latency = args.sim_latency  # the simulated lens's truth is known: no need to be told it
    else:
        latency = told_lens_path(config, profile, camera).latency_frames
    notes = "; ".join(text for text in (args.notes, description) if text)
    try:
        camera.start()
        try:
            mode = list(config.camera.sensor_mode or profile.focus_mode)
            record = record_sweep(camera, positions, args.settle, args.out, latency_frames=latency,
                                  average_frames=args.average, save_main=args.main, notes=notes,
                                  extra={"sensor_mode": mode}, progress=_progress)
        finally:
            camera.stop()
    except (FocusdError, OSError, ValueError) as error:
        _end_progress()
        print(f"focusd record-sweep: {error}", file=sys.stderr)
        return 1
    _end_progress()
    print(f"wrote {record.folder}: {len(record.frames)} frames, {positions[0]:g}-{positions[-1]:g} D "
          f"in {args.step:g} D steps ({description})")
    print(f"replay: focusd bench --sweep {record.folder} --range {positions[0]:g} {positions[-1]:g}")
    return 0


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rrecording {done}/{total}", end="", file=sys.stderr, flush=True)


def _end_progress() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)
