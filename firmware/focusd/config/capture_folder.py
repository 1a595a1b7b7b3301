"""Where captures may go: the rule for ``capture.directory``, in one place.

1. It is an absolute path, for every command and every file (``settings.CHECKS`` refuses a relative
   one): the unit's working directory is /run/focusd, emptied at every stop, so a relative folder
   would vanish. ``focusd demo --captures DIR`` is a command-line path and is taken from the
   current folder before it becomes the key.
2. focusd makes only the last folder, never its parents: when the daemon starts (``focusd run``,
   ``focusd demo``) or reloads, the folder or its parent must exist. A typo such as
   /nonexistent/deep/path is refused (exit 78), not created by root.
3. The service's captures lie in the unit's writable paths. ``ProtectSystem=strict`` makes every
   other path read-only, so a folder elsewhere would fail every capture. The writable paths are
   the unit's ``StateDirectory=`` folders (under /var/lib) and ``ReadWritePaths=`` (less
   /etc/focusd, writable for the settings written back, not for photos), read from the
   installed unit and its drop-ins (/etc/systemd/system/focusd.service and focusd.service.d/*.conf),
   else the shipped unit's (``SHIPPED_WRITABLE_PATHS``). Two commands apply this rule:
   ``focusd check-config``, because it checks a file meant for the service (its
   ``--outside-the-unit`` skips the rule for a file meant for ``focusd run`` started by hand), and
   ``focusd run`` started by systemd. systemd sets ``$STATE_DIRECTORY`` only for a unit's own
   processes, so a daemon run by hand, the demo and the tests use any absolute folder.

Every refusal is a ConfigError naming ``capture.directory`` (exit 78); rule 3's names the paths.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Mapping

from focusd.errors import ConfigError

KEY = "capture.directory"
#: where install.sh puts the unit; its drop-ins (``systemctl edit focusd``) are in UNIT_FILE + ".d"
UNIT_FILE = "/etc/systemd/system/focusd.service"
#: the writable paths of systemd/focusd.service as shipped (a test checks they agree)
SHIPPED_WRITABLE_PATHS = ("/var/lib/focusd", "/var/lib/focusd/captures")
#: writable for the daemon's own configuration (the web page's settings written back), never for captures
CONFIGURATION_FOLDER = "/etc/focusd"
#: set by systemd for the processes of a unit with StateDirectory= (colon-separated absolute paths)
STATE_DIRECTORY_VARIABLE = "STATE_DIRECTORY"


def unit_writable_paths(unit_file: str = UNIT_FILE) -> tuple[str, ...]:
    """The unit's StateDirectory= and ReadWritePaths=, from ``unit_file`` and its drop-ins when it
    is installed, else the shipped unit's."""
    files = [unit_file, *sorted(glob.glob(glob.escape(unit_file) + ".d/*.conf"))]
    texts = []
    for name in files:
        try:
            texts.append(Path(name).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            if name == unit_file:
                return SHIPPED_WRITABLE_PATHS
    paths: list[str] = []
    for text in texts:
        for key, value in _service_settings(text):
            if key == "StateDirectory":
                if not value:  # an empty assignment resets the list, as systemd does
                    paths = [p for p in paths if not p.startswith("/var/lib/")]
                paths += [os.path.join("/var/lib", word.split(":")[0]) for word in value.split()]
            elif key == "ReadWritePaths":
                # a leading "-" (ignore if missing) or "+" (outside the root) does not change the path
                paths += [word.lstrip("-+") for word in value.split()]
    return tuple(path for path in dict.fromkeys(paths) if path.rstrip("/") != CONFIGURATION_FOLDER)


def _service_settings(text: str):
    """(key, value) of each setting in a unit file's [Service] section."""
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            yield key.strip(), value.strip()


def started_by_the_unit(environ: Mapping[str, str] = os.environ) -> tuple[str, ...] | None:
    """The unit's state folders when systemd started this process ($STATE_DIRECTORY), else None."""
    value = environ.get(STATE_DIRECTORY_VARIABLE)
    return tuple(p for p in value.split(":") if p) if value else None


def check_in_unit_paths(directory: str, writable: tuple[str, ...], source: str | None = None) -> None:
    """Rule 3: ``directory`` lies in one of ``writable``, or ConfigError naming them."""
    real = os.path.realpath(directory)
    for path in writable:
        top = os.path.realpath(path)
        if os.path.commonpath([real, top]) == top:
            return
    raise ConfigError(KEY, f'"{directory}" is outside the systemd unit\'s writable paths ({", ".join(writable)}): '
                      "the service could write no capture there (ProtectSystem=strict). Use a folder inside "
                      "them, or add the folder to the unit with ReadWritePaths= (systemctl edit focusd)", source)


def check_parent_exists(directory: str, source: str | None = None) -> None:
    """Rule 2: the folder exists, or its parent does (focusd makes only the last folder)."""
    folder = Path(directory)
    if folder.is_dir():
        return
    if folder.exists():
        raise ConfigError(KEY, f'"{directory}" exists and is not a folder', source)
    if not folder.parent.is_dir():
        raise ConfigError(KEY, f'"{directory}": its parent {folder.parent} does not exist, and focusd makes only '
                          "the last folder, never its parents (create them, or correct the path)", source)


def check_at_start(config, environ: Mapping[str, str] = os.environ, unit_file: str = UNIT_FILE) -> None:
    """Rules 2 and 3 as the daemon applies them when it starts or reloads (rule 1 is the key's own
    check): rule 3 only when systemd started it."""
    directory = config.capture.directory
    state = started_by_the_unit(environ)
    if state is not None:
        check_in_unit_paths(directory, tuple(dict.fromkeys([*unit_writable_paths(unit_file), *state])), config.source)
    check_parent_exists(directory, config.source)
