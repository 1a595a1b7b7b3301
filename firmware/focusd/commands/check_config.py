"""``focusd check-config [PATH]``: check a configuration file without starting anything.

Run before installing a file (``install.sh`` and ``systemctl reload`` would otherwise find out the
hard way): exit 0 with a one-line summary, or exit 78 (EX_CONFIG, as ``focusd run`` would) with
every problem on stderr, one per line, each naming its dotted key. Without PATH it checks what
every other command would read (focusd.config.loader's rule).

It checks a file meant for the systemd unit, so ``capture.directory`` must also lie in the unit's
writable paths (focusd.config.capture_folder, rule 3; read from the installed unit when there is
one); ``--outside-the-unit`` leaves that out, for a file meant for ``focusd run`` started by hand.
"""

from __future__ import annotations

import argparse
import sys

from focusd.config import loader
from focusd.config.capture_folder import check_in_unit_paths, unit_writable_paths
from focusd.config.profiles import load_profile
from focusd.errors import EX_CONFIG, ConfigError

HELP = "check a configuration file (exit 78 naming each bad key)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser, path_positional=True)
    parser.add_argument("--outside-the-unit", action="store_true",
                        help="the file is for 'focusd run' started by hand, not the systemd unit: capture.directory "
                             "need not lie in the unit's writable paths (StateDirectory=, ReadWritePaths=)")


def main(args: argparse.Namespace) -> int:
    try:
        config = loader.load(args)
        if not args.outside_the_unit:
            check_in_unit_paths(config.capture.directory, unit_writable_paths(), config.source)
    except ConfigError as error:
        problems = getattr(error, "problems", None) or [(error.key, error.reason)]
        where = f"{error.path}: " if error.path else ""
        for key, reason in problems:
            print(f"focusd: bad configuration: {where}{key}: {reason}", file=sys.stderr)
        return EX_CONFIG
    print(summary(config))
    return 0


def summary(config) -> str:
    """One line: what the daemon would run with."""
    profile = load_profile(config.camera.profile)
    mode = config.camera.sensor_mode or profile.focus_mode
    lores = config.camera.lores_size or profile.lores_size
    pins = config.pins
    optional = ", ".join(f"{name} {'-' if value is None else value}" for name, value in
                         (("remote", pins.remote), ("led", pins.led)))
    burst = (f"burst {config.shutter.burst_fps:g} fps (limit {config.shutter.burst_limit or 'none'})"
             if config.shutter.burst else "no burst")
    return (f"{config.source or 'the built-in defaults'}: OK: {config.camera.backend} camera {profile.name} "
            f"{mode[0]}x{mode[1]}, lores {lores[0]}x{lores[1]}; GPIO af_on {pins.af_on}, shutter {pins.shutter}, "
            f"{optional}; af {config.af.mode} ({config.af.range}); shutter {config.shutter.priority} priority, "
            f"{burst}; captures {config.capture.format} to {config.capture.directory}")
