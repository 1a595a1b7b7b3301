"""``focusd measure-latency``: the lens command latency in frames, from the focus measure's step response.

The engine must be told how many frames pass between a lens command and the first frame exposed at
the new position (docs/design.md, "The latency contract"); libcamera's pipeline does not say, so it
is measured on the device: the lens is stepped between a sharp and a blurred position several times,
each step commanded as the daemon commands (``focusd.tools.sweeps``), and the first frame whose
focus measure leaves its settled level is counted. That is the **end-to-end** latency, including the
frames a command waits in picamera2's request queue. It is printed two ways:

- ``[af] lens_latency_frames = N``: the measured value, for this device's configuration; the
  daemon tells the engine exactly that.
- the profile line: N less the camera's ``lens_queue_frames`` (picamera2's ``buffer_count - 1``
  for a libcamera lens, 0 for an I2C lens), since a profile counts from the ISP and the daemon adds
  the queue back (``focusd.service.cameras.told_lens_path``).

On a desktop, ``--sim`` measures the simulated camera (``--sim-latency`` sets its true latency),
which is how the tool itself is checked.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

from focusd.commands import record_sweep
from focusd.config.profiles import load_profile
from focusd.errors import FocusdError

HELP = "measure the lens command latency, in frames, to configure"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=8, help="lens steps to measure (default 8)")
    parser.add_argument("--range", nargs=2, type=float, default=None, metavar=("A", "B"),
                        help="dioptres the first scan searches for a sharp and a blurred position "
                             "(default: the profile's af.range, e.g. 0 12)")
    parser.add_argument("--positions", nargs=2, type=float, default=None, metavar=("SHARP", "BLURRED"),
                        help="step between these two positions instead of scanning for them")
    parser.add_argument("--settle", type=int, default=3, metavar="FRAMES",
                        help="frames beyond the longest latency looked for before a position counts as settled")
    parser.add_argument("--max-latency", type=int, default=8, metavar="FRAMES",
                        help="longest latency looked for (default 8)")
    record_sweep.add_camera_arguments(parser)
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="also write the printed lines (a TOML [af] table and comments) to FILE")


def main(args: argparse.Namespace) -> int:
    config = record_sweep.load_config(args)  # a ConfigError becomes exit status 78 in focusd.cli
    # imported only when measuring: the sweep tools and the camera set-up import numpy (0.2 s)
    from focusd.service.cameras import told_lens_path
    from focusd.tools.sweeps import LatencySettings, measure_latency

    profile = load_profile(config.camera.profile)
    lens_range = tuple(args.range) if args.range else tuple(profile.af_ranges[config.af.range])
    try:
        if args.steps < 1 or args.settle < 0 or args.max_latency < 0:
            raise ValueError("--steps must be >= 1, --settle and --max-latency >= 0")
        if not 0 <= lens_range[0] < lens_range[1]:
            raise ValueError(f"--range {lens_range[0]:g} {lens_range[1]:g}: need 0 <= A < B (dioptres)")
        settings = LatencySettings(steps=args.steps, settle_frames=args.settle, max_latency_frames=args.max_latency)
        camera, description = record_sweep.open_camera(config, args)
    except ValueError as error:
        print(f"focusd measure-latency: {error}", file=sys.stderr)
        return 2
    try:
        camera.start()
        try:
            path = told_lens_path(config, profile, camera)  # its slew: each timed step lands in one write
            result = measure_latency(camera, config.af.window, settings, lens_range=lens_range,
                                     positions=tuple(args.positions) if args.positions else None,
                                     max_slew=path.max_slew)
        finally:
            camera.stop()
    except (FocusdError, ValueError) as error:
        print(f"focusd measure-latency: {error}", file=sys.stderr)
        return 1
    fps = 1e9 / result.frame_duration_ns if result.frame_duration_ns else 0.0
    sharp = result.positions[0]
    away = " and ".join(f"{sharp:g} -> {target:g} D" for target in result.targets)
    queued = int(camera.lens_queue_frames)
    lines = [
        "[af]",
        result.config_line(),
        f"# {description}; {fps:.2f} fps; timed steps away from focus {away} "
        f"(focus measure ratio {result.contrast_ratio:.1f}); per step: {' '.join(map(str, result.per_step))}",
        f"# for this device: the [af] line above in its configuration, used as it is "
        f"(now: {_configured(config, profile, camera)});",
        f"# or for every module of this kind, in the camera profile {_profile_path(profile.name)}:",
        f"#   {result.profile_line(queued)}",
        f"# (a profile counts from the ISP: the measured {result.latency_frames} less the {queued} frame(s) a lens "
        f"command waits in this camera's own request queue, which the daemon adds back).",
        "# It depends on the sensor mode's frame rate and exposure: measure in the mode used.",
    ]
    print("\n".join(lines))
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        except OSError as error:
            print(f"focusd measure-latency: {error}", file=sys.stderr)
            return 1
    return 0


def _profile_path(name: str) -> str:
    return str(resources.files("focusd.config") / "profiles" / f"{name}.toml")


def _configured(config, profile, camera) -> str:
    """What the daemon's engine is told now, and where that comes from."""
    # the daemon's camera set-up imports numpy and the AF engine: only once a camera was measured
    from focusd.service.cameras import told_lens_path

    told = told_lens_path(config, profile, camera).latency_frames
    if config.af.lens_latency_frames is None:
        return f"{told}: the profile's {profile.lens_latency_frames} + {camera.lens_queue_frames} queued"
    return f"{told}: af.lens_latency_frames in {config.source or 'the configuration'}"
