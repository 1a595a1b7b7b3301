"""The ``focusd`` command line: one sub-command per module in ``focusd.commands``.

Each command module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``main(args) -> int`` (the exit status). Every command module is imported to build the parser;
each keeps its heavy imports (the simulator, picamera2, the bench) inside ``main``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: command name -> module under focusd.commands
COMMANDS = {
    "run": "run",
    "demo": "demo",
    "check-config": "check_config",
    "bench": "bench",
    "probe": "probe",
    "record-sweep": "record_sweep",
    "measure-latency": "measure_latency",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="focusd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"focusd.commands.{module_name}")
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    from focusd.errors import EX_CONFIG, ConfigError
    from focusd.service.logs import fatal

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:  # every command: a bad configuration names the key, status 78
        # an error record, not a print: under journald it has its <3> (stderr either way)
        fatal("bad configuration: %s", error)
        return EX_CONFIG


if __name__ == "__main__":
    sys.exit(main())
