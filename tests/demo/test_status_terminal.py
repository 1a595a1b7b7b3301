"""The demo's terminal: log lines above the status line (focusd.demo.status), the StatusBoard's
line (buttons held, LED pattern) as the status, and no camera at all as one line and exit 69."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from focusd.demo.status import StatusTerminal
from focusd.errors import EX_UNAVAILABLE
from focusd.service import events as ev
from focusd.service.logs import fatal, setup_logging
from focusd.signals import ButtonId, LedPattern

REPO = Path(__file__).resolve().parents[2]


def screen(text: str) -> list[str]:
    """What a terminal shows after ``text``: each line as carriage returns overwrote it."""
    lines = []
    for raw in text.split("\n"):
        shown = ""
        for part_index, part in enumerate(raw.split("\r")):
            shown = part + shown[len(part):] if part_index else part
        lines.append(shown.rstrip())
    return lines


def test_a_log_line_starts_on_its_own_line_and_the_status_comes_back_below_it():
    out = io.StringIO()
    terminal = StatusTerminal(out)
    terminal.status("af=SCANNING lens=2.00D led=blink held=af_on")
    terminal.write("12:00:00 WARNING focusd.daemon: the camera dropped 3 frame(s)\n")
    terminal.status("af=FOCUSED lens=1.00D")  # shorter: what the longer one left is blanked
    terminal.finish()
    terminal.write("focusd demo: 1 capture\n")
    assert screen(out.getvalue()) == [
        "12:00:00 WARNING focusd.daemon: the camera dropped 3 frame(s)",
        "af=FOCUSED lens=1.00D",
        "focusd demo: 1 capture",
        "",
    ]


def test_logging_through_the_terminal_and_a_fatal_line_said_once(restore_logging):
    out = io.StringIO()
    terminal = StatusTerminal(out)
    setup_logging("info", stream=terminal)
    terminal.status("af=IDLE")
    logging.getLogger("focusd.daemon").warning("shutter pressed")
    lines = screen(out.getvalue())
    assert lines[0].endswith("WARNING focusd.daemon: shutter pressed") and lines[1] == "af=IDLE"
    terminal.wrapped = sys.stderr  # fatal must see the demo's handler as the stderr it already has
    handlers = logging.getLogger().handlers[:]
    fatal("camera unavailable: %s", "no picamera2")
    assert logging.getLogger().handlers == handlers  # no second stderr handler: said once


def test_the_status_line_shows_the_buttons_held_and_the_led():
    board = ev.StatusBoard()
    board.apply(ev.InputChanged(button=ButtonId.AF_ON, pressed=True, time_ns=0))
    board.apply(ev.InputChanged(button=ButtonId.SHUTTER, pressed=True, time_ns=0))
    board.apply(ev.LedChanged(pattern=LedPattern.FLASH, time_ns=0))
    line = board.line()
    assert "held=af_on+shutter" in line and "led=flash" in line
    board.apply(ev.InputChanged(button=ButtonId.SHUTTER, pressed=False, time_ns=0))
    assert "held=af_on " in board.line()


def test_demo_without_picamera2_exits_69_with_a_message(tmp_path):
    shadow = tmp_path / "site" / "picamera2"  # picamera2 missing, even on a machine that has it
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'picamera2'\", name='picamera2')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(REPO / "firmware")]))
    result = subprocess.run(
        [sys.executable, "-m", "focusd.cli", "demo", "--set", "camera.backend=picamera2",
         "--captures", str(tmp_path / "captures")],
        capture_output=True, text=True, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == EX_UNAVAILABLE, result.stderr
    assert "camera unavailable: picamera2 is not installed" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
