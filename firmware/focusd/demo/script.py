"""Button scripts: timed presses and releases, for the desktop demo (``make run``) and tests.

One step a line: ``TIME BUTTON ACTION`` with TIME in seconds from the start, BUTTON one of
``af_on``, ``shutter``, ``remote``, ``remote_focus`` and ACTION ``press`` or ``release``; ``TIME end`` ends the
script (nothing may follow it). ``#`` starts a comment. Steps must be in time order. A bad line is
a ScriptError naming the script and the line number (``name:N: ...``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from focusd.errors import ScriptError
from focusd.signals import ButtonId


@dataclass(frozen=True)
class Step:
    time_s: float
    button: ButtonId | None  #: None for the end step
    pressed: bool = False


class Finger(Protocol):
    """What presses the buttons (``focusd.hw.gpio.MockPinDriver`` drives mock pins)."""

    def press(self, button: ButtonId) -> None: ...

    def release(self, button: ButtonId) -> None: ...


def parse_script(text: str, name: str = "<script>") -> list[Step]:
    steps: list[Step] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{name}:{number}"
        try:
            time_s = float(words[0])
        except ValueError:
            raise ScriptError(f"{where}: time {words[0]!r} is not a number of seconds") from None
        if not (math.isfinite(time_s) and time_s >= 0):
            raise ScriptError(f"{where}: time {words[0]!r} must be a number of seconds from the start (0 or more)")
        if steps and time_s < steps[-1].time_s:
            raise ScriptError(f"{where}: time {time_s:g} is before the previous step ({steps[-1].time_s:g})")
        if steps and steps[-1].button is None:
            raise ScriptError(f"{where}: a step after the end step")
        if words[1:] == ["end"]:
            steps.append(Step(time_s, None))
            continue
        if len(words) != 3:
            raise ScriptError(f"{where}: expected 'TIME BUTTON press|release' or 'TIME end'")
        try:
            button = ButtonId(words[1])
        except ValueError:
            raise ScriptError(f"{where}: unknown button {words[1]!r} ({', '.join(b.value for b in ButtonId)})") from None
        if words[2] not in ("press", "release"):
            raise ScriptError(f"{where}: action {words[2]!r} must be press or release")
        steps.append(Step(time_s, button, words[2] == "press"))
    if not steps:
        raise ScriptError(f"{name}: no steps")
    return steps


def shipped_scripts() -> list[str]:
    """The names of the button scripts shipped in ``demo/``."""
    folder = resources.files("focusd") / "demo"
    return sorted(entry.name.removesuffix(".buttons") for entry in folder.iterdir() if entry.name.endswith(".buttons"))


def load_script(path: str | Path | None) -> list[Step]:
    """A script file, or a shipped one by name: ``None`` or ``"default"`` (the ``make run`` demo),
    ``"remote"`` (the two-stage remote release), ... (``demo/NAME.buttons``)."""
    if path is None or path in shipped_scripts():
        name = f"{path or 'default'}.buttons"
        return parse_script((resources.files("focusd") / "demo" / name).read_text(), name)
    path = Path(path)
    try:
        return parse_script(path.read_text(), str(path))
    except OSError as error:
        raise ScriptError(f"{path}: cannot read: {error.strerror}") from None


def play(steps: list[Step], finger: Finger, stop: threading.Event) -> bool:
    """Play the steps in real time; True if it ran to the end, False if ``stop`` was set."""
    clock = _Clock()
    for step in steps:
        if stop.wait(max(0.0, step.time_s - clock.elapsed())):
            return False
        if step.button is None:
            break
        (finger.press if step.pressed else finger.release)(step.button)
    return True


class _Clock:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start
