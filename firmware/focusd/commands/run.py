"""``focusd run``: the daemon itself, as the systemd unit starts it."""

from __future__ import annotations

import argparse
import signal

from focusd.config import loader
from focusd.config.capture_folder import check_at_start
from focusd.errors import CameraError, CameraUnavailable
from focusd.service.logs import fatal, setup_logging

HELP = "run the daemon (the systemd service's command)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)


def main(args: argparse.Namespace) -> int:
    config = loader.load(args)  # a ConfigError becomes exit status 78 in focusd.cli
    check_at_start(config)  # the capture folder: its parent exists; under the unit, a writable path
    # imported only when the daemon runs: they import the AF engine, numpy and Pillow (0.3 s),
    # which `focusd --help` does not need
    from focusd.service.cameras import build_camera, pin_factory_for
    from focusd.service.daemon import Daemon

    setup_logging(config.logging.level, config.logging.frame_debug)
    try:
        camera = build_camera(config)
    except CameraError as error:
        fatal("no camera: %s", error)  # an error record: under journald it has its <3>
        return 1
    daemon = Daemon(config, camera, pin_factory=pin_factory_for(config))
    install_signal_handlers(daemon)
    return run_daemon(daemon)


def run_daemon(daemon) -> int:
    """``daemon.run()``'s exit status; a camera that can never work here (picamera2 not installed)
    is one line and exit 69, not a traceback (``focusd run`` and ``focusd demo`` alike)."""
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
