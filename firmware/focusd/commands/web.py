"""``focusd web``: the viewfinder page (systemd/focusd-web.service), a process of its own that
reaches the daemon through its bridge socket (focusd.service.bridge)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from focusd.config import loader
from focusd.errors import ConfigError
from focusd.service.logs import setup_logging

HELP = "serve the viewfinder page (the focusd-web service)"

log = logging.getLogger("focusd.web")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)


def main(args: argparse.Namespace) -> int:
    config = loader.load(args)
    if not config.web.enabled:
        raise ConfigError("web.enabled", "is false: the page is off (set [web] enabled = true, in the daemon's "
                          "file too, so that it opens the bridge)", config.source or "defaults")
    from focusd.web.auth import read_password_file
    from focusd.web.server import page_url, serve

    password_hash = read_password_file(config.web.password_file)
    setup_logging(config.logging.level)
    try:
        asyncio.run(serve(config, password_hash, lambda: log.info("focusd web: %s", page_url(config))))
    except OSError as error:  # the port is taken, an address is not this machine's
        raise ConfigError("web.addresses", f"cannot listen on port {config.web.port}: "
                          f"{error.strerror or error}", config.source or "defaults") from None
    except KeyboardInterrupt:
        pass
    return 0
