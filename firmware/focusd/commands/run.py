"""``focusd run``: the daemon itself, as the systemd unit starts it."""

from __future__ import annotations

import argparse
import signal
import tomllib

HELP = "run the daemon (the systemd service's command)"
DEFAULT_CONFIG = "/etc/focusd/focusd.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"configuration file (default {DEFAULT_CONFIG})")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override one key, e.g. --set camera.backend=sim --set capture.directory=./captures (TOML values)",
    )


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; VALUE is read as TOML when it parses, else as a plain string."""
    from focusd.errors import ConfigError

    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(pair, "an override must be KEY=VALUE")
        try:
            overrides[key.strip()] = tomllib.loads(f"value = {value}")["value"]
        except tomllib.TOMLDecodeError:
            overrides[key.strip()] = value
    return overrides


def load(args: argparse.Namespace):
    """The configuration from ``--config`` and ``--set``; raises ConfigError."""
    from focusd.config.settings import apply_overrides, load_config

    config = load_config(args.config)
    return apply_overrides(config, parse_overrides(args.set)) if args.set else config


def main(args: argparse.Namespace) -> int:
    from focusd.errors import CameraError, CameraUnavailable

    config = load(args)  # a ConfigError becomes exit status 78 in focusd.cli
    from focusd.service.cameras import build_camera, pin_factory_for
    from focusd.service.daemon import Daemon
    from focusd.service.logs import fatal, setup_logging

    setup_logging(config.logging.level, config.logging.frame_debug)
    try:
        camera = build_camera(config)
    except CameraError as error:
        fatal("no camera: %s", error)  # an error record: under journald it has its <3>
        return 1
    daemon = Daemon(config, camera, pin_factory=pin_factory_for(config))
    install_signal_handlers(daemon)
    try:
        return daemon.run()
    except CameraUnavailable as error:  # not retried: under systemd, no restart loop either
        fatal("camera unavailable: %s", error)
        return error.exit_status


def install_signal_handlers(daemon) -> None:
    """SIGTERM/SIGINT: stop taking presses, write what is queued, exit 0. SIGHUP: re-read."""
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
