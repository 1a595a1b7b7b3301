"""Shared by the hardware-adapter tests: the picamera2 API reader and the stand-in on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def standin(monkeypatch):
    """The picamera2 and libcamera stand-ins importable as ``picamera2`` / ``libcamera`` for one
    test; returns the stand-in's simulation module (``picamera2._standin``).

    Fails the test (at teardown) if a request picamera2 handed out was never released (a buffer
    the camera never gets back), counted once every camera is stopped (which releases what
    picamera2 itself keeps), or if closing a camera raised what picamera2 swallows (a buffer
    unmapped under a live view)."""
    for name in [n for n in sys.modules if n.split(".")[0] in ("picamera2", "libcamera")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(HERE / "standin"))
    import picamera2._standin as simulation

    yield simulation
    ledger = simulation.LEDGER
    simulation.EVENT_LOOP.open()
    for picam2 in ledger.cameras:
        picam2.stop()
    for name in [n for n in sys.modules if n.split(".")[0] in ("picamera2", "libcamera")]:
        del sys.modules[name]
    if ledger.outstanding:
        pytest.fail(f"{len(ledger.outstanding)} of {ledger.acquired} picamera2 requests never released: "
                    + "; ".join(sorted(set(ledger.outstanding.values()))), pytrace=False)
    if ledger.unraisable:
        pytest.fail(f"closing the camera raised (picamera2 would swallow it): {ledger.unraisable}", pytrace=False)


@pytest.fixture
def camera(standin):
    """The picamera2 adapter on the small test module (testcam.py), started; stopped after."""
    from testcam import start_camera

    cam = start_camera(standin)
    yield cam
    cam.stop()
