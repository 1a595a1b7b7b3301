"""The one way every ``focusd`` command finds and loads its configuration.

The rule (``RULE``, shown in each command's ``--help``):

1. ``--config PATH`` given: that file, which must exist and be valid;
2. not given: ``/etc/focusd/focusd.toml`` (what ``install.sh`` installs and the systemd unit names)
   if it exists, which must then be valid; else the built-in defaults (the values
   ``systemd/focusd.toml`` lists). So on a device every command reads the installed file, and on a
   desktop every command starts from the same defaults;
3. then the command's own keys (``focusd demo``: the simulated camera; ``--sim``:
   ``camera.backend = "sim"``), then each ``--set KEY=VALUE`` in the order given.

Any problem raises ConfigError naming the dotted key (``<file>`` when the whole file is at fault:
missing, unreadable, not TOML); ``focusd.cli`` turns it into exit status 78.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from typing import Mapping

from focusd.errors import ConfigError

#: the installed configuration: the systemd unit's ``--config``, and what a command without one reads
SYSTEM_CONFIG = "/etc/focusd/focusd.toml"

#: the rule in one sentence, for every command's --help (and the README's Commands part)
RULE = (f"Configuration: --config PATH reads that file, which must exist; without --config, {SYSTEM_CONFIG} "
        "if it exists, else the built-in defaults (those systemd/focusd.toml lists); --set KEY=VALUE then "
        "overrides one key. A bad file or key exits with status 78, naming the key.")


def add_config_arguments(parser: argparse.ArgumentParser, *, path_positional: bool = False) -> None:
    """``--config PATH`` (or, for check-config, a positional PATH) and ``--set KEY=VALUE``, and the
    rule as the parser's epilog."""
    if path_positional:
        parser.add_argument("config", nargs="?", default=None, metavar="PATH",
                            help="the TOML configuration file (default: as below)")
    else:
        parser.add_argument("--config", default=None, metavar="PATH", help="configuration file (default: as below)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one key, e.g. --set camera.backend=sim (VALUE is read as TOML)")
    parser.epilog = RULE


def config_path(given: str | None) -> str | None:
    """The file the rule picks: ``given``, else SYSTEM_CONFIG if it exists, else None (defaults)."""
    if given is not None:
        return given
    return SYSTEM_CONFIG if os.path.exists(SYSTEM_CONFIG) else None


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; VALUE is read as TOML when it parses, else as a plain string."""
    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(pair, "an override must be KEY=VALUE")
        try:
            overrides[key.strip()] = tomllib.loads(f"value = {value}")["value"]
        except tomllib.TOMLDecodeError:
            overrides[key.strip()] = value
    return overrides


def load(args: argparse.Namespace, command_keys: Mapping[str, object] | None = None):
    """The checked Config for a command's parsed ``args`` (``args.config``, ``args.set``), by the
    rule above; ``command_keys`` (dotted key -> value) lie between the file and ``--set``.
    Raises ConfigError naming the key."""
    # imported when a command runs, not for --help: the schema imports the AF engine (numpy, 0.2 s)
    from focusd.config.settings import apply_overrides, default_config, load_config

    path = config_path(args.config)
    config = load_config(path) if path is not None else default_config()
    overrides = {**(command_keys or {}), **parse_overrides(args.set)}
    return apply_overrides(config, overrides) if overrides else config
