"""Settings changed while running (the web page's), checked and written back to the file.

Only the keys in LIVE_KEYS may change this way: each takes effect through the reload path
without a restart. They are checked exactly as the file is (focusd.config.settings
``apply_overrides``: every key's check and the checks across keys), then written to the
configuration file so that a restart keeps them.

The write edits only the changed keys' lines (their value; the comment after it and every other
line stay as they were), adds a key missing from the file under its section's header, and
replaces the file atomically: a temporary file in the same folder, fsync'd, renamed over the old
one, the folder fsync'd. The daemon writes it (it owns its configuration: /etc/focusd is its
user's, ReadWritePaths= in its unit); the web process only sends the change over the bridge and
can keep /etc/focusd read-only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import tempfile
import tomllib

from focusd.config.settings import CHECKS, Config, apply_overrides
from focusd.config.values import Invalid, config_error
from focusd.errors import ConfigError

#: what the page may change while running (each applied as a reload applies it)
LIVE_KEYS = ("af.mode", "af.lock_on_delay_frames", "af.lock_on_threshold", "shutter.priority", "shutter.burst",
             "shutter.burst_fps", "shutter.burst_limit", "capture.format")

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^(\s*([A-Za-z0-9_-]+)\s*=\s*)(.*)$")


def live_settings(config: Config) -> dict[str, object]:
    """The live keys' running values, for the page."""
    values = {}
    for dotted in LIVE_KEYS:
        section, key = dotted.split(".")
        values[dotted] = getattr(getattr(config, section), key)
    return values


def check_live(changes) -> dict[str, object]:
    """``changes`` if it maps live keys to values each key's own check accepts; else a
    ConfigError naming the first bad key (the checks across keys are ``apply_live``'s)."""
    if not isinstance(changes, dict) or not changes:
        raise config_error("settings", "must be a non-empty object of KEY: value", "page")
    for dotted, value in changes.items():
        if dotted not in LIVE_KEYS:
            raise config_error(str(dotted), f"cannot be changed while running (these can: {', '.join(LIVE_KEYS)})",
                               "page")
        section, key = dotted.split(".")
        try:
            CHECKS[section][key](value)
        except Invalid as invalid:
            raise config_error(dotted, str(invalid), "page") from None
    return changes


def apply_live(running: Config, changes) -> Config:
    """The configuration ``changes`` give, checked as the file is, written to ``running.source``
    (when it came from a file). Raises ConfigError naming the key; then nothing has changed.

    A key the command line had overridden (``--set``) is the page's from now on: a reload reads it
    from the file, where the page's value now is."""
    try:
        new = apply_overrides(running, check_live(changes))
    except ConfigError as error:  # said as the page's, not as a command line's --set
        raise config_error(error.key, error.reason, "page", error.problems) from None
    kept = tuple((key, value) for key, value in running.overrides if key not in changes)
    new = dataclasses.replace(new, overrides=kept)
    if running.source is not None:
        written = {key: value for key, value in live_settings(new).items() if key in changes}
        try:
            write_keys(running.source, written)
        except OSError as error:
            raise config_error("<file>", f"cannot be written: {error.strerror or error}", running.source) from None
    return new


# ------------------------------------------------------------------------------- the file


def toml_value(value) -> str:
    """A scalar as TOML writes it (the live keys are words, numbers and booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no TOML spelling here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of printable text is a TOML basic string
    raise ValueError(f"no TOML spelling for {type(value).__name__} values")


def _value_end(text: str) -> int:
    """Where the value at the start of ``text`` ends (before its comment, if any)."""
    if text.startswith('"'):
        index = 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == '"':
                return index + 1
            index += 1
        raise ValueError("unterminated string")
    if text.startswith("'"):
        end = text.find("'", 1)
        if end < 0:
            raise ValueError("unterminated string")
        return end + 1
    hash_at = text.find("#")
    return len(text) if hash_at < 0 else hash_at


def update_keys(text: str, changes: dict[str, object]) -> str:
    """``text`` (a TOML file) with each dotted key's value replaced on its line, the comment after
    it kept (at the same column where the new value fits); a key the file lacks is added after
    its section's last key line, a section it lacks at the end. Raises ValueError if the result
    would not read back as the values given."""
    lines = text.splitlines(keepends=True)
    pending = dict(changes)
    section, last_line_of = None, {}
    for number, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            last_line_of[section] = number
            continue
        key = _KEY.match(line.rstrip("\r\n"))
        if not key or section is None:
            continue
        last_line_of[section] = number
        dotted = f"{section}.{key.group(2)}"
        if dotted not in pending:
            continue
        lead, rest = key.group(1), key.group(3)
        end = _value_end(rest)
        tail = rest[end:]
        new_value = toml_value(pending.pop(dotted))
        comment = tail.strip()
        if comment:  # keep the comment's column when the new value leaves room for it
            column = end + len(tail) - len(tail.lstrip())
            comment = " " * max(1, column - len(new_value)) + comment
        newline = line[len(line.rstrip("\r\n")):]
        lines[number] = lead + new_value + comment + newline
    additions: dict[int, list[str]] = {}
    for dotted, value in pending.items():
        section_name, key_name = dotted.split(".")
        line = f"{key_name} = {toml_value(value)}\n"
        if section_name in last_line_of:
            additions.setdefault(last_line_of[section_name], []).append(line)
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.append(f"\n[{section_name}]\n{line}")
    for number in sorted(additions, reverse=True):
        if not lines[number].endswith("\n"):
            lines[number] += "\n"
        lines[number + 1:number + 1] = additions[number]
    result = "".join(lines)
    data = tomllib.loads(result)
    for dotted, value in changes.items():
        section_name, key_name = dotted.split(".")
        if data.get(section_name, {}).get(key_name) != value:
            raise ValueError(f"{dotted} did not read back as {value!r}")
    return result


def write_keys(path: str, changes: dict[str, object]) -> None:
    """Rewrite ``path`` with ``changes`` (``update_keys``), atomically: a reader sees the old
    file or the new one, and a power cut leaves one of them. Keeps the file's mode."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        new_text = update_keys(text, changes)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ConfigError("<file>", f"cannot be updated: {error}", path) from None
    folder = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    descriptor, temporary = tempfile.mkstemp(prefix=".focusd-", suffix=".toml", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(new_text)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)

