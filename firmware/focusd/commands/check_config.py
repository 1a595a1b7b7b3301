"""``focusd check-config PATH``: check a configuration file without starting anything.

Run before installing a file (``install.sh`` and ``systemctl reload`` would otherwise find out the
hard way): exit 0 with a one-line summary, or exit 78 (EX_CONFIG, as ``focusd run`` would) with
every problem on stderr, one per line, each naming its dotted key.
"""

from __future__ import annotations

import argparse
import sys

HELP = "check a configuration file: exit 0 with a summary, or 78 naming each bad key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the TOML configuration file")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="check with this key overridden, as focusd run --set (TOML values)",
    )


def main(args: argparse.Namespace) -> int:
    from focusd.errors import EX_CONFIG, ConfigError

    try:
        config = _load(args)
    except ConfigError as error:
        problems = getattr(error, "problems", None) or [(error.key, error.reason)]
        where = f"{error.path}: " if error.path else ""
        for key, reason in problems:
            print(f"focusd: bad configuration: {where}{key}: {reason}", file=sys.stderr)
        return EX_CONFIG
    print(summary(config))
    return 0


def _load(args: argparse.Namespace):
    from focusd.commands.run import parse_overrides
    from focusd.config.settings import apply_overrides, load_config

    config = load_config(args.path)
    return apply_overrides(config, parse_overrides(args.set)) if args.set else config


def summary(config) -> str:
    """One line: what the daemon would run with."""
    from focusd.config.profiles import load_profile

    profile = load_profile(config.camera.profile)
    mode = config.camera.sensor_mode or profile.focus_mode
    lores = config.camera.lores_size or profile.lores_size
    pins = config.pins
    optional = ", ".join(f"{name} {'-' if value is None else value}" for name, value in
                         (("remote", pins.remote), ("led", pins.led)))
    burst = (f"burst {config.shutter.burst_fps:g} fps (limit {config.shutter.burst_limit or 'none'})"
             if config.shutter.burst else "no burst")
    return (f"{config.source or 'configuration'}: OK: {config.camera.backend} camera {profile.name} "
            f"{mode[0]}x{mode[1]}, lores {lores[0]}x{lores[1]}; GPIO af_on {pins.af_on}, shutter {pins.shutter}, "
            f"{optional}; af {config.af.mode} ({config.af.range}); shutter {config.shutter.priority} priority, "
            f"{burst}; captures {config.capture.format} to {config.capture.directory}")
