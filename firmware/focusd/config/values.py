"""The vocabulary focusd.config.settings is written in: checks of one TOML value, and the problem list.

Why apart from focusd.config.settings: that module is the schema (sections, keys, defaults, the checks
across keys and against the camera profile) and reads best as just that. What is here knows no
section or key of focusd's: whether a value is an integer in a range, one of some words, an array
of a shape, a window inside the frame; how a wrong value is described; a close match for a
misspelt name; and the list that collects every problem in a file and raises them as one
ConfigError. A checker raises Invalid with the reason only; the caller adds the dotted key.
"""

from __future__ import annotations

import difflib
import math
from datetime import date, datetime, time
from typing import Any, Callable

from focusd.errors import ConfigError


class Invalid(Exception):
    """One value is wrong: ``reason`` says why (the caller adds the key)."""


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date/time"
    return type(value).__name__


def check_integer(value: Any, low: int, high: int | None, what: str = "") -> int:
    # bool is a subclass of int in Python, but `true` is never a sensible pin or count
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"must be an integer{what}, not {describe(value)}")
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(f"must be {span}{what}, not {value}")
    return value


def check_number(value: Any, low: float, high: float, unit: str, low_open: bool = False,
                 high_open: bool = False) -> float:
    """A finite number from ``low`` to ``high``; ``low_open``/``high_open`` leave that end out."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"must be a number ({unit}), not {describe(value)}")
    if not math.isfinite(value):
        raise Invalid(f"must be a finite number ({unit}), not {value}")
    if (value <= low if low_open else value < low) or (value >= high if high_open else value > high):
        if low_open or high_open:
            span = (f"{'more than' if low_open else 'at least'} {low:g} and "
                    f"{'less than' if high_open else 'at most'} {high:g}")
        else:
            span = f"between {low:g} and {high:g}"
        raise Invalid(f"must be {span} {unit}, not {value:g}")
    return float(value)


def check_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, not {describe(value)}")
    return value


def check_choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"must be one of {quoted(choices)}, not {describe(value)}")
        if value not in choices:
            raise Invalid(f'"{value}" is not one of {quoted(choices)}')
        return value
    return check


def quoted(choices) -> str:
    return ", ".join(f'"{choice}"' for choice in choices)


def check_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {describe(value)}")
    if not value or "\0" in value:
        raise Invalid("must be a non-empty string")
    return value


def check_optional(word: str, check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``check``, or None for None or ``word`` (TOML has no null: "none", "profile")."""

    def optional(value: Any) -> Any:
        if value is None or value == word:
            return None
        try:
            return check(value)
        except Invalid as invalid:
            raise Invalid(f'{invalid} (or "{word}")') from None
    return optional


def check_array(value: Any, length: int, what: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or len(value) != length:
        raise Invalid(f"must be an array of {length} ({what}), not {describe(value)}")
    return tuple(value)


def check_size(value: Any) -> tuple[int, int]:
    width, height = check_array(value, 2, "width, height in pixels")
    return (check_integer(width, 1, None, " (width in pixels)"),
            check_integer(height, 1, None, " (height in pixels)"))


def check_window(value: Any) -> tuple[float, float, float, float]:
    x, y, w, h = (check_number(v, 0.0, 1.0, "(a fraction of the frame)")
                  for v in check_array(value, 4, "x, y, width, height as fractions of the frame"))
    if w <= 0 or h <= 0:
        raise Invalid(f"width and height must be more than 0, not {w:g} x {h:g}")
    # a little slack: 1/3 + 2/3 need not add up to exactly 1.0 in floating point
    if x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise Invalid(f"[{x:g}, {y:g}, {w:g}, {h:g}] reaches outside the frame (x + w and y + h must be at most 1)")
    return (x, y, w, h)


def unknown_name(name: str, known, what: str = "key") -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what}: {hint}(known: {', '.join(known)})"


def config_error(key: str, reason: str, path: str | None, problems=None) -> ConfigError:
    """A ConfigError whose ``problems`` lists every (key, reason) found (check-config prints them)."""
    error = ConfigError(key, reason, path)
    error.problems = list(problems or [(key, reason)])
    return error


class Problems:
    """Every problem found, in file order; raised as one ConfigError naming the first."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, reason: str) -> None:
        self.items.append((key, reason))

    def keys(self) -> set[str]:
        return {key for key, _ in self.items}

    def raise_if_any(self, path: str | None) -> None:
        if not self.items:
            return
        key, reason = self.items[0]
        if len(self.items) > 1:
            others = "; ".join(f"{k}: {r}" for k, r in self.items[1:])
            reason = f"{reason} [also {others}]"
        raise config_error(key, reason, path, self.items)
