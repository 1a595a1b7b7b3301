"""Shared by every test: the machine's own installed configuration is never read; and a fixture
for the tests that set up logging (service/test_logs.py, demo/)."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from focusd.config import loader
from focusd.service.logs import QUIET_LIBRARIES


@pytest.fixture(autouse=True)
def no_installed_configuration(tmp_path_factory, monkeypatch):
    # a command run in-process without --config would read /etc/focusd/focusd.toml on a device
    # with focusd installed; the tests expect the built-in defaults unless they install one
    monkeypatch.setattr(loader, "SYSTEM_CONFIG", str(tmp_path_factory.getbasetemp() / "no-etc" / "focusd.toml"))


@pytest.fixture
def restore_logging():
    """setup_logging configures the process: put back pytest's handlers and the hooks afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in ("focusd.af", *QUIET_LIBRARIES)}
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quieted.items():
        logging.getLogger(name).setLevel(old)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
