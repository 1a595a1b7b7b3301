"""What a reload (SIGHUP) reads: the file again, the command line's overrides over it, and only
the sections that can change while running.

[pins], [camera] and [logging] run on as they are until a restart (the GPIO pins are claimed, the
camera is open in its mode, logging is set up): a change there is logged and not applied in part.
[af], [shutter] and [capture] are the new file's (the daemon applies them).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from focusd.config.capture_folder import check_at_start
from focusd.config.settings import Config, apply_overrides, load_config
from focusd.config.writeback import apply_live
from focusd.errors import ConfigError

log = logging.getLogger("focusd.daemon")

#: the sections a reload leaves as they are (until a restart)
RESTART_SECTIONS = ("pins", "camera", "logging")


def reread(running: Config) -> Config:
    """The configuration a reload gives ``running`` (read from ``running.source``). Raises
    ConfigError for a bad file, naming the key: the caller keeps ``running``."""
    new = load_config(running.source)
    if running.overrides:  # what --set said still holds over the new file
        new = apply_overrides(new, dict(running.overrides))
    check_at_start(new)  # a new capture folder: as at start, never made with its parents
    for section in RESTART_SECTIONS:
        if getattr(new, section) != getattr(running, section):
            log.warning("[%s] changed: takes effect after a restart", section)
    return dataclasses.replace(new, **{section: getattr(running, section) for section in RESTART_SECTIONS})


def reload_from_file(running: Config, adopt: Callable[[Config], None], notifier, status_line: Callable[[], str],
                     report_error: Callable[[str], None]) -> bool:
    """SIGHUP: re-read the file and ``adopt`` it, telling systemd (RELOADING=1, then READY=1 with
    the status line); a bad new file is refused, reported and the running configuration kept.
    True when a new configuration was adopted."""
    source = running.source
    if source is None:
        log.warning("reload requested but the configuration was not read from a file")
        return False
    notifier.reloading()
    try:
        new = reread(running)
    except ConfigError as error:
        log.error("reload refused, keeping the running configuration: %s", error)
        report_error(str(error))
        notifier.ready(status_line())
        return False
    adopt(new)
    log.info("configuration re-read from %s", source)
    notifier.ready(status_line())
    return True


def change_live_settings(running: Config, changes: dict, adopt: Callable[[Config], None],
                         reply: Callable[[ConfigError | None], None]) -> None:
    """The command inlet's live settings: checked, written to the file (focusd.config.writeback),
    then ``adopt``-ed as a reload's; ``reply(None)``, or ``reply(error)`` naming the key when refused
    (then nothing changed)."""
    try:
        new = apply_live(running, changes)
    except ConfigError as error:
        log.error("settings refused: %s", error)
        return reply(error)
    adopt(new)
    log.info("settings changed: %s", changes)
    reply(None)
