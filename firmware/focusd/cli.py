"""The ``focusd`` command line: one sub-command per module in ``focusd.commands``.

Each command module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``main(args) -> int`` (the exit status). Every command module is imported to build the parser
(``focusd --help`` lists them all), so each keeps its heavy or device-only imports (numpy, the
simulator, gpiozero, picamera2, the bench) inside the functions that need them; every command
that reads a configuration does it through ``focusd.config.loader``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from focusd import __version__
from focusd.config.loader import RULE
from focusd.errors import EX_CONFIG, ConfigError
from focusd.service.logs import fatal

#: what `focusd --help` says focusd is, for a user
DESCRIPTION = ("focusd turns two buttons on a Raspberry Pi camera with a motorized-focus lens into back-button "
               "focus: AF-ON focuses (and keeps tracking while held), Shutter captures at once. It runs as a "
               "systemd service on the Pi (focusd run) and on any desktop on a simulated camera (focusd demo).")

#: command name -> module under focusd.commands
COMMANDS = {
    "run": "run",
    "demo": "demo",
    "check-config": "check_config",
    "check-hardware": "check_hardware",
    "bench": "bench",
    "probe": "probe",
    "record-sweep": "record_sweep",
    "measure-latency": "measure_latency",
    "web": "web",
    "web-password": "web_password",
}


def build_parser() -> argparse.ArgumentParser:
    modules = {name: importlib.import_module(f"focusd.commands.{module}") for name, module in COMMANDS.items()}
    width = max(map(len, COMMANDS)) + 2
    listing = "\n".join(f"  {name:<{width}}{module.HELP}" for name, module in modules.items())
    # the commands listed by hand, one line each (argparse's own list wraps a long name's line)
    parser = argparse.ArgumentParser(
        prog="focusd", usage="focusd [-h] [--version] COMMAND ...", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{textwrap.fill(DESCRIPTION, 79)}\n\ncommands:\n{listing}",
        epilog=textwrap.fill(f"Run 'focusd COMMAND --help' for a command's options. {RULE}", 79))
    parser.add_argument("--version", action="version", version=f"focusd {__version__}",
                        help="print focusd's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS)
    for name, module in modules.items():
        command_parser = sub.add_parser(name, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:  # every command: a bad configuration names the key, status 78
        # an error record, not a print: under journald it has its <3> (stderr either way)
        fatal("bad configuration: %s", error)
        return EX_CONFIG


if __name__ == "__main__":
    sys.exit(main())
