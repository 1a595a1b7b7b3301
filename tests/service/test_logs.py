"""focusd.service.logs: under journald one record is one line with its priority, the CLI's fatal errors too.

journald makes an entry of every line it reads from the service's stderr, with the priority of a
leading ``<N>`` or, without one, the default (info). So a traceback printed over several lines, or a
fatal error printed without a prefix, ends up (partly) at info, invisible to ``journalctl -p err``.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from focusd import cli
from focusd.service import logs
from focusd.errors import EX_CONFIG, CameraError

REPO = Path(__file__).resolve().parents[2]
TERMINAL_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")


def emit_everything(log: logging.Logger) -> None:
    log.debug("debug")
    log.info("info")
    log.warning("warning")
    log.error("an error\nover two lines")
    log.critical("critical")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("it failed")


def test_under_journald_every_record_is_one_line_with_its_priority(monkeypatch, restore_logging):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    stream = io.StringIO()
    logs.setup_logging("debug", stream=stream)
    emit_everything(logging.getLogger("focusd.test"))
    lines = stream.getvalue().splitlines()
    assert lines[:5] == [
        "<7>focusd.test: debug",
        "<6>focusd.test: info",
        "<4>focusd.test: warning",
        "<3>focusd.test: an error | over two lines",
        "<2>focusd.test: critical",
    ]
    (traceback,) = lines[5:]  # the whole traceback in the error's own entry
    assert traceback.startswith("<3>focusd.test: it failed | Traceback (most recent call last): | File ")
    assert traceback.endswith(" | ValueError: bad | value")


def test_under_journald_uncaught_exceptions_and_warnings_are_one_line_each(monkeypatch, restore_logging):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    stream = io.StringIO()
    logs.setup_logging("info", stream=stream)
    worker = threading.Thread(target=lambda: 1 / 0, name="worker")
    worker.start()
    worker.join()
    sys.excepthook(KeyError, KeyError("k"), None)  # what the interpreter calls for the main thread
    import warnings

    warnings.warn("deprecated\nthing", UserWarning, stacklevel=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("<2>focusd: uncaught exception in thread worker | Traceback ")
    assert lines[0].endswith(" | ZeroDivisionError: division by zero")
    assert lines[1] == "<2>focusd: uncaught exception | KeyError: 'k'"
    assert lines[2].startswith("<4>py.warnings: ") and "UserWarning: deprecated | thing" in lines[2]


def test_on_a_terminal_lines_carry_time_and_level_and_tracebacks_keep_their_lines(monkeypatch, restore_logging):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    hooks = sys.excepthook, threading.excepthook
    logs.setup_logging("debug", stream=stream)
    assert (sys.excepthook, threading.excepthook) == hooks  # Python's own printing, on a terminal
    emit_everything(logging.getLogger("focusd.test"))
    text = stream.getvalue()
    assert not any(line.startswith("<") for line in text.splitlines())
    records = [line for line in text.splitlines() if TERMINAL_LINE.match(line)]
    assert [TERMINAL_LINE.match(line).group(1) for line in records] == [
        "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "ERROR"]
    assert "Traceback (most recent call last):\n" in text


def test_journal_priority_of_levels_in_between():
    assert logs.journal_priority(logging.ERROR + 5) == 3
    assert logs.journal_priority(logging.INFO - 1) == 7
    assert logs.journal_priority(logging.CRITICAL + 10) == 2


def cli_run(config: Path, journald: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET")}
    env["PYTHONPATH"] = str(REPO / "firmware")
    if journald:
        env["JOURNAL_STREAM"] = "8:12345"
    return subprocess.run([sys.executable, "-m", "focusd.cli", "run", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=60)


def test_bad_configuration_under_journald_is_one_error_line_on_stderr(tmp_path):
    config = tmp_path / "focusd.toml"
    config.write_text('[pins]\naf_on = "seventeen"\n[capture]\njpeg_quality = 0\n')
    result = cli_run(config, journald=True)
    assert result.returncode == EX_CONFIG
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"<3>focusd: bad configuration: {config}: pins.af_on: ")
    assert "capture.jpeg_quality" in line  # every problem, in the one entry


def test_bad_configuration_on_a_terminal_is_an_error_line_without_a_priority(tmp_path):
    config = tmp_path / "focusd.toml"
    config.write_text('[pins]\naf_on = "seventeen"\n')
    result = cli_run(config, journald=False)
    assert result.returncode == EX_CONFIG
    (line,) = result.stderr.splitlines()
    assert TERMINAL_LINE.match(line) and " ERROR focusd: bad configuration: " in line and "pins.af_on" in line
    assert not line.startswith("<")


def test_no_camera_under_journald_is_an_error_line(tmp_path, monkeypatch, capsys, restore_logging):
    import focusd.service.cameras

    def no_camera(config, *args, **kwargs):
        raise CameraError("no camera here\non this bus")

    monkeypatch.setattr(focusd.service.cameras, "build_camera", no_camera)
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    config = tmp_path / "focusd.toml"
    # a folder of its own: the default's parent /var/lib/focusd exists only where focusd is installed
    config.write_text(f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "captures"}"\n')
    assert cli.main(["run", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "<3>focusd: no camera: no camera here | on this bus\n"


def test_debug_level_keeps_pillows_own_debug_lines_out(restore_logging, monkeypatch):
    """logging.level = "debug" is for focusd's lines: Pillow's TIFF plugin logs every EXIF tag of
    every capture at debug, which flooded the log (144 of 161 lines)."""
    from datetime import datetime

    import numpy as np
    from PIL import Image

    from focusd.capture.files import encode
    from focusd.capture.writer import METADATA_FIELDS

    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    out = io.StringIO()
    logs.setup_logging("debug", stream=out)
    metadata = dict.fromkeys(METADATA_FIELDS, 1) | {"lens_position": 2.0, "af_state": "FOCUSED", "reason": "release"}
    data = encode(np.zeros((32, 48, 3), np.uint8), "jpeg", 90, metadata, "imx708-test", datetime(2024, 1, 2))
    assert Image.open(io.BytesIO(data)).getexif()  # Pillow wrote and read EXIF (its debug lines' source)
    logging.getLogger("PIL.TiffImagePlugin").debug("tag: ImageDescription (270)")
    logging.getLogger("focusd.daemon").debug("lens to 2.000 D")
    lines = out.getvalue().splitlines()
    assert not [line for line in lines if " PIL" in line], lines
    assert any(line.endswith("DEBUG focusd.daemon: lens to 2.000 D") for line in lines)
