"""Shared by the hardware-adapter tests: the picamera2 API reader and the stand-in on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def standin(monkeypatch):
    """The picamera2 and libcamera stand-ins importable as ``picamera2`` / ``libcamera`` for one
    test; returns the stand-in's simulation module (``picamera2._standin``)."""
    for name in [n for n in sys.modules if n.split(".")[0] in ("picamera2", "libcamera")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(HERE / "standin"))
    import picamera2._standin as simulation

    yield simulation
    for name in [n for n in sys.modules if n.split(".")[0] in ("picamera2", "libcamera")]:
        del sys.modules[name]
