"""The real daemon, on the simulated camera in stepped pacing and gpiozero's MockFactory pins.

The test moves time: ``step(n)`` lets the simulated camera deliver n frames and waits (on the
daemon's condition, with a timeout) until the daemon has processed them. Buttons are pressed on
the mock pins from the test thread, so their callbacks run inside ``drive_low()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import subprocess
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from focusd.service.cameras import build_camera
from focusd.config.settings import Config, default_config
from focusd.service.daemon import Daemon
from focusd.signals import ButtonId
from focusd.hw.gpio import MockPinDriver

TIMEOUT = 30.0


class RecordingCamera:
    """Wraps a camera and records every lens command with the sequence of the frame before it."""

    def __init__(self, camera):
        self._camera = camera
        self.lens_commands: list[tuple[int, float]] = []
        self.last_sequence = -1

    def __getattr__(self, name):
        return getattr(self._camera, name)

    def next_frame(self, timeout_s):
        frame = self._camera.next_frame(timeout_s)
        self.last_sequence = frame.sequence
        return frame

    def set_lens_position(self, dioptres):
        self.lens_commands.append((self.last_sequence, dioptres))
        self._camera.set_lens_position(dioptres)


def test_config(tmp_path: Path, **sections) -> Config:
    """The default configuration on the simulator, capturing to ``tmp_path``; ``sections`` maps a
    section name to a dict of replaced fields. ``tmp_path`` is made if missing: the writer makes
    only the captures folder itself, never its parents."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = default_config()
    changes = {"camera": {"backend": "sim"}, "capture": {"directory": str(tmp_path / "captures")}}
    for name, fields in sections.items():
        changes.setdefault(name, {}).update(fields)
    for name, fields in changes.items():
        config = dataclasses.replace(config, **{name: dataclasses.replace(getattr(config, name), **fields)})
    return config


class DaemonHarness:
    def __init__(self, config: Config, scene=None, seed: int = 0, light: str = "bright", notifier=None):
        self.config = config
        self.factory = MockFactory()
        self.sim = build_camera(config, pacing="stepped", scene=scene, seed=seed, light=light)
        self.camera = RecordingCamera(self.sim)
        kwargs = {"notifier": notifier} if notifier is not None else {}
        self.daemon = Daemon(config, self.camera, pin_factory=self.factory, **kwargs)
        self.finger = MockPinDriver(config.pins, self.factory)
        self.exit_status: int | None = None
        self._thread = threading.Thread(target=self._run, name="camera-thread", daemon=True)

    def _run(self) -> None:
        self.exit_status = self.daemon.run()

    def __enter__(self) -> "DaemonHarness":
        self._thread.start()
        self.step(1)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.factory.reset()

    @property
    def stats(self):
        return self.daemon.stats

    def step(self, frames: int = 1) -> None:
        target = self.stats.frames + frames
        self.sim.step(frames)
        assert self.daemon.wait_until(lambda s: s.frames >= target, TIMEOUT), f"daemon stuck before frame {target}"

    def press(self, button: ButtonId) -> None:
        self.finger.press(button)

    def release(self, button: ButtonId) -> None:
        self.finger.release(button)

    def shoot(self) -> None:
        """One ordinary photo: five frames of viewfinder, the shutter pressed for two frames and
        released, one frame more (wait for the capture with ``wait``)."""
        self.step(5)
        self.press(ButtonId.SHUTTER)
        self.step(2)
        self.release(ButtonId.SHUTTER)
        self.step(1)

    def wait(self, predicate, timeout: float = TIMEOUT) -> bool:
        """Let frames come one at a time until ``predicate(stats)`` holds: the daemon learns of
        finished captures on its camera thread, at the next frame, as it does on the device."""
        deadline = time.monotonic() + timeout
        while not predicate(self.stats):
            if time.monotonic() > deadline:
                return False
            self.step(1)
        return True

    def stop(self) -> int | None:
        if self._thread.is_alive():
            self.daemon.request_stop()
            while self._thread.is_alive():
                self.sim.step(5)  # frames for the loop to notice and to drain pending captures
                self._thread.join(0.05)
        return self.exit_status

    def journal(self) -> list[dict]:
        path = Path(self.config.capture.directory) / self.config.capture.journal
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def images(self) -> list[Path]:
        folder = Path(self.config.capture.directory)
        return sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png")) if folder.exists() else []


# ------------------------------------------------------------------ fault tests: what happened when


class Timeline:
    """Events from the camera thread, in order, and a condition to wait on them (no sleeps)."""

    def __init__(self) -> None:
        self.events: list = []
        self._changed = threading.Condition()

    def add(self, event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = TIMEOUT) -> bool:
        """Block until ``predicate(events)`` holds; False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.events), timeout)

    def since(self, mark: int) -> list:
        with self._changed:
            return list(self.events[mark:])


class RecordingNotifier:
    """Stands in for SystemdNotifier: every message the daemon sends goes on a timeline
    (``"watchdog"`` once per healthy frame, ``"ready"``, ``"reloading"``, ``"stopping"``)."""

    enabled = watchdog_enabled = True

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline

    def ready(self, status=None) -> bool:
        self.timeline.add("ready")
        return True

    def watchdog(self) -> bool:
        self.timeline.add("watchdog")
        return True

    def reloading(self) -> bool:
        self.timeline.add("reloading")
        return True

    def stopping(self) -> bool:
        self.timeline.add("stopping")
        return True

    def status(self, text) -> bool:
        return True

    def extend_timeout(self, seconds) -> bool:
        return True


def watch_camera(sim, timeline: Timeline) -> None:
    """Put the simulated camera's ``stop`` and ``start`` on the timeline: ``"stop"``, then
    ``"started"`` or ``"start failed"`` for each start."""
    start, stop = sim.start, sim.stop

    def watched_start() -> None:
        try:
            start()
        except Exception:
            timeline.add("start failed")
            raise
        timeline.add("started")

    def watched_stop() -> None:
        timeline.add("stop")
        stop()

    sim.start, sim.stop = watched_start, watched_stop


class BackoffRecorder:
    """The daemon's ``backoff_wait``: records each wait on the timeline instead of sleeping, and
    calls ``then(number_of_waits)`` after each (a test ends a fault there)."""

    def __init__(self, timeline: Timeline, then=None) -> None:
        self.timeline = timeline
        self.waits: list[float] = []
        self.then = then

    def __call__(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.timeline.add(("wait", seconds))
        if self.then is not None:
            self.then(len(self.waits))
        return False  # not told to stop (the daemon checks its own stop request too)


# --------------------------------------------------------------------------- disk full: tmpfs


@contextlib.contextmanager
def small_disk(mount_point: Path, size: str = "8m"):
    """A tmpfs of ``size`` mounted at ``mount_point`` for the test, unmounted afterwards; the test
    is skipped (saying why) where mounting is not permitted (not root)."""
    import pytest

    mount_point.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or str(error).encode()
        pytest.skip(f"cannot mount a tmpfs here ({detail.decode(errors='replace').strip()}); "
                    "tests/capture/test_capture_faults.py's RLIMIT_FSIZE test covers disk full in the writer")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill_disk(folder: Path) -> Path:
    """Write a ballast file in ``folder`` until its file system has no room left; the ballast."""
    ballast = folder / "ballast"
    chunk = b"\0" * 4096
    with open(ballast, "wb", buffering=0) as file:
        try:
            while True:
                file.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return ballast
