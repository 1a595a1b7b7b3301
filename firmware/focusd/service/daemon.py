"""The daemon: wiring only. One thread owns the camera and the engine; GPIO callbacks only queue.

Start-up happens in one function (:meth:`Daemon.run`), in the order writer, camera, LED, buttons,
READY, so that the first press is only accepted once everything that serves it is up; shutdown is
the same list in reverse, in ``finally``. The camera thread (whichever thread calls ``run``) does,
once per frame: drain the button edges and debounce them, feed the controller, carry out its
commands, hand due captures to the writer, run the autofocus engine on the frame and command the
lens, and feed the systemd watchdog. Nothing else touches the camera or the engine, which is why
neither needs a lock.

The capture writer runs on its own thread behind a bounded queue (:mod:`focusd.capture.writer`), so a
slow card never stalls focusing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import queue
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

from focusd.af import AfMode, AfState, AutofocusEngine, Frame
from focusd.service.backoff import Backoff
from focusd.service.buttons import Debouncer, EdgeQueue
from focusd.capture.writer import CaptureRequest, CaptureResult, CaptureWriter
from focusd.capture.path import CapturePath
from focusd.config.settings import Config, apply_overrides, load_config
from focusd.service.controller import (
    AfStateChanged,
    CameraFault,
    Capture,
    CaptureFinished,
    Controller,
    ShowLed,
    StartAf,
    StopAf,
    Stopping,
    Tick,
)
from focusd.errors import CameraError, CameraUnavailable, ConfigError
from focusd.hw.base import Camera, CameraFrame, Indicator
from focusd.service.notify import SystemdNotifier
from focusd.config.profiles import load_profile

log = logging.getLogger("focusd.daemon")

#: frames still processed after SIGTERM so that presses waiting for a frame are captured
DRAIN_FRAMES = 30


@dataclass
class DaemonStats:
    """Counters, for the systemd STATUS line, the demo's status line and the tests."""

    frames: int = 0
    presses: int = 0  #: shutter and remote presses that asked for a capture (each has a press id)
    captures_requested: int = 0
    captures_written: int = 0
    captures_failed: int = 0
    af_locks: int = 0
    af_failures: int = 0
    lens_commands: int = 0
    camera_faults: int = 0
    reloads: int = 0
    af_state: str = "IDLE"
    lens_position: float = math.nan
    last_error: str | None = None

    def lens_text(self) -> str:
        """The last lens command, "-" before the first."""
        return "-" if math.isnan(self.lens_position) else f"{self.lens_position:.2f}D"

    def status_line(self) -> str:
        return (
            f"af={self.af_state} lens={self.lens_text()} frames={self.frames} presses={self.presses} "
            f"captures={self.captures_written} failed={self.captures_failed} locks={self.af_locks}"
        )


class Daemon(CapturePath):
    """focusd's daemon. Build it, call :meth:`run` on the thread that will own the camera."""

    def __init__(
        self,
        config: Config,
        camera: Camera,
        *,
        pin_factory=None,
        notifier: SystemdNotifier | None = None,
        indicator_factory: Callable[[Config], Indicator] | None = None,
        backoff_s: tuple[float, float] = (0.1, 10.0),
    ):
        self.config = config
        self.camera = camera
        self.pin_factory = pin_factory
        self.notifier = notifier or SystemdNotifier.from_environment()
        self.indicator_factory = indicator_factory or _gpio_indicator(pin_factory)
        self.backoff_s = backoff_s
        self.stats = DaemonStats()
        self.edges = EdgeQueue()
        self.debouncer = Debouncer(int(config.pins.bounce_ms * 1e6))
        self.controller = Controller(config.af, config.shutter)
        self.engine = self._build_engine(config)
        self.engine_active = False
        self._engine_stale = False  # [af] re-read while AF-ON was held: rebuilt at the release
        self.indicator: Indicator | None = None
        self.writer: CaptureWriter | None = None
        self._pending: list[Capture] = []
        self._full_resolution: list[tuple[Capture, CaptureRequest]] = []
        self._retiring: list[tuple[threading.Thread, Path]] = []  # replaced writers finishing (folder)
        self._commanded: float | None = None
        self._control: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self.stopped = threading.Event()

    # ------------------------------------------------------------------ called from other threads

    def request_stop(self) -> None:
        """Stop taking presses, write what is queued, and return from :meth:`run` (SIGTERM)."""
        self._stop.set()

    def request_reload(self) -> None:
        """Re-read the configuration file at the next frame (SIGHUP)."""
        self._control.put(("reload", None))

    def wait_until(self, predicate: Callable[[DaemonStats], bool], timeout: float) -> bool:
        """Block until ``predicate(stats)`` holds (checked after each frame and capture)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.stats):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopped.is_set():
                    return predicate(self.stats)
                self._changed.wait(remaining)
            return True

    def _notify_changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------------ start-up, shutdown

    def run(self) -> int:
        """Start everything, run the frame loop until stopped, shut down in reverse. Exit status."""
        try:
            self._run()
        finally:
            self.stopped.set()
            self._notify_changed()
        return 0

    def _run(self) -> None:
        config = self.config
        with contextlib.ExitStack() as started:
            try:
                self.writer = CaptureWriter(config.capture, self._on_capture_done, camera_name=self.camera.name)
                self.writer.start()
                started.callback(self._close_writer)
                if not self._start_camera():
                    return  # told to stop before the camera ever came up
                started.callback(self.camera.stop)
                # the camera's own lens range is known only now (older releases differ from profiles)
                self.engine = self._build_engine(config)
                self.indicator = self.indicator_factory(config)
                started.callback(self._close_indicator)
                buttons = self._open_buttons()
                started.callback(buttons.close)
                started.callback(self._stop_taking_presses)
                self.notifier.ready(self.stats.status_line())
                log.info("focusd ready: camera %s, AF %s, shutter priority %s",
                         self.camera.name, config.af.mode, config.shutter.priority)
                self._frame_loop()
                self._stop_taking_presses()
                self._drain_pending()
            finally:
                self.notifier.stopping()
                log.info("focusd stopping: %s", self.stats.status_line())

    def _open_buttons(self):
        from focusd.hw.gpio import GpioButtons

        return GpioButtons(self.config.pins, self.edges.put, self.camera.now_ns, pin_factory=self.pin_factory)

    def _stop_taking_presses(self) -> None:
        self.edges.accepting = False

    def _close_indicator(self) -> None:
        # LED commands that still come (captures finishing while the writer drains) go nowhere
        indicator, self.indicator = self.indicator, None
        if indicator is not None:
            indicator.close()

    def _close_writer(self) -> None:
        deadline = time.monotonic() + self.WRITERS_STOP_S
        self._finish_retiring_writers(deadline)
        if self.writer is not None:
            self.writer.close(timeout_s=max(0.0, deadline - time.monotonic()))
        self._drain_control()

    def _build_engine(self, config: Config) -> AutofocusEngine:
        profile = load_profile(config.camera.profile)
        low, high = profile.af_ranges[config.af.range]
        camera_low, camera_high = self.camera.lens_range
        # af.lens_latency_frames (measured end to end) if set, else the profile's latency at the ISP
        # plus the frames a command waits in the camera's own request queue (picamera2's buffers)
        from focusd.service.cameras import engine_latency_frames

        latency = engine_latency_frames(config, profile, self.camera)
        return AutofocusEngine(
            lens_range=(max(low, camera_low), min(high, camera_high)),
            latency_frames=latency,
            window=tuple(config.af.window),
            fallback=config.af.fallback,
            retrigger_frames=config.af.lock_on_delay_frames,
            follow_ratio=config.af.lock_on_threshold,
            retrigger_ratio=config.af.refocus_threshold,
        )

    # ----------------------------------------------------------------------------- frame loop

    #: frames after a (re)start that make a healthy run (focusd.service.backoff)
    HEALTHY_FRAMES = 100
    #: how the camera thread waits between camera starts: ``wait(seconds)``, True if it was told to
    #: stop. None: wait on the stop request. The tests put a recorder here (no real sleeps).
    backoff_wait: Callable[[float], bool] | None = None
    _backoff: Backoff | None = None

    def _camera_backoff(self) -> Backoff:
        """The backoff, built on first use from ``backoff_s`` (which tests may set after __init__)."""
        if self._backoff is None:
            self._backoff = Backoff(*self.backoff_s, healthy_frames=self.HEALTHY_FRAMES)
        return self._backoff

    def _start_camera(self, wait_first_s: float | None = None) -> bool:
        """Start the camera, retrying with a growing backoff; False if told to stop before it worked.

        ``wait_first_s``: wait that long before the first try (a relapse: opened at once, the camera
        would only fail at once again). The backoff is not reset here: see :meth:`_camera_failed`.
        """
        if wait_first_s is not None and self._backoff_pause(wait_first_s):
            return False
        while True:
            try:
                self.camera.start()
            except CameraUnavailable:
                raise  # permanent (picamera2 missing): retrying would only loop; focusd run exits 69
            except CameraError as error:
                delay = self._camera_backoff().next_wait()
                log.error("camera did not start: %s (retrying in %.1f s)", error, delay)
                self.stats.last_error = str(error)
                if self._backoff_pause(delay):
                    return False
                continue
            self._camera_backoff().started(self.stats.frames)
            return True

    def _backoff_pause(self, seconds: float) -> bool:
        """Wait between camera starts; True if a stop was requested (before or during the wait)."""
        if self._stop.is_set():
            return True
        wait = self.backoff_wait or self._stop.wait
        return bool(wait(seconds)) or self._stop.is_set()

    def _frame_loop(self) -> None:
        frame_timeout = max(1.0, 20 * self.camera.frame_duration_ns / 1e9)
        while not self._stop.is_set():
            try:
                frame = self.camera.next_frame(frame_timeout)
            except CameraError as error:
                self._camera_failed(error)
                continue
            with frame:
                self._process(frame)
            if self._full_resolution:
                self._take_full_resolution()
            self.notifier.watchdog()
            if self.stats.frames % 60 == 0:
                self.notifier.status(self.stats.status_line())
            self._notify_changed()

    def _drain_pending(self) -> None:
        """After a stop request: a few more frames so that presses already made are captured."""
        self._take_inputs(None)  # edges queued before the stop still count
        # a focus-priority press still waiting for the scan fires now: every press yields a result
        self._dispatch(self.controller.handle(Stopping(self.camera.now_ns())))
        for _ in range(DRAIN_FRAMES):
            self._drain_control()
            if not self._pending:
                return
            try:
                frame = self.camera.next_frame(1.0)
            except CameraError as error:
                self._fail_pending(f"camera unavailable at shutdown: {error}")
                return
            with frame:
                self._take_captures(frame)
            self._take_full_resolution()
        self._fail_pending("daemon stopped before a frame came")

    def _camera_failed(self, error: CameraError) -> None:
        """Log, report, fail the presses waiting for a frame, stop and reopen with backoff.

        Focus-priority presses still waiting for the scan fire at the CameraFault (controller) and
        are failed here with them, with the camera's reason: none waits out the outage to be taken
        as a photo of a later moment. A press made during the outage is captured from the first
        frame after it, unless that comes more than 500 ms late (``MAX_CAPTURE_DELAY_NS``).

        The backoff spans faults: a fault within HEALTHY_FRAMES of the last start waits the next,
        longer, delay before reopening (a camera that opens but sends nothing is not reopened every
        frame timeout for ever); only a healthy run starts it over. While this runs the watchdog is
        not fed: if the camera never comes back, systemd acts.
        """
        self.stats.camera_faults += 1
        self.stats.last_error = str(error)
        backoff = self._camera_backoff()
        healthy = backoff.frames_since_start(self.stats.frames)
        wait_first_s = backoff.after_fault(self.stats.frames)
        if wait_first_s is None:
            log.error("camera failed: %s; reopening", error)
        else:  # a relapse (or a camera that opens but sends nothing): reopening at once would spin
            log.error("camera failed: %s (%d frames after it started); reopening in %.1f s",
                      error, healthy, wait_first_s)
        self._notify_changed()
        self._dispatch(self.controller.handle(CameraFault(False, self.camera.now_ns(), str(error))))
        self._fail_pending(f"camera unavailable: {error}")
        with contextlib.suppress(CameraError):
            self.camera.stop()
        if not self._start_camera(wait_first_s):
            return  # stop requested while the camera was down
        log.info("camera back after a fault")
        self._dispatch(self.controller.handle(CameraFault(True, self.camera.now_ns())))
        if self.engine_active and self._commanded is not None:
            self.camera.set_lens_position(self._commanded)

    def _process(self, frame: CameraFrame) -> None:
        now = frame.timestamp_ns
        self.stats.frames += 1
        self._take_inputs(frame)
        self._drain_control()
        self._dispatch(self.controller.handle(Tick(now)), frame)
        self._take_captures(frame)
        if self.engine_active:
            self._focus(frame)

    def _take_inputs(self, frame: CameraFrame | None) -> None:
        """Debounce the queued edges and hand the presses and releases to the controller.

        An input the debouncer settles without an edge (its bounce window over, or its edges dropped
        from a full queue) is stamped with the camera's time now, read after the drain: the frame in
        hand was exposed earlier, perhaps before the press, which must never be captured from it.
        """
        edges, levels = self.edges.drain()
        for event in self.debouncer.feed(edges, levels) + self.debouncer.poll(self.camera.now_ns()):
            log.info("%s %s", event.button.value, "pressed" if event.pressed else "released")
            self._dispatch(self.controller.handle(event), frame)
        self.stats.presses = self.controller.presses

    def _focus(self, frame: CameraFrame) -> None:
        before = self.engine.state
        target = self.engine.update(Frame(y=frame.y, lens_position=frame.lens_position, sequence=frame.sequence))
        if target is not None:
            self.camera.set_lens_position(target)
            self._commanded = target
            self.stats.lens_commands += 1
            self.stats.lens_position = target
        state = self.engine.state
        if state != before:
            self.stats.af_state = state.name
            if state == AfState.FOCUSED:
                self.stats.af_locks += 1
            elif state == AfState.FAILED:
                self.stats.af_failures += 1
                log.warning("focus failed: %s", getattr(self.engine, "failure_reason", None))
            self._dispatch(self.controller.handle(AfStateChanged(state, frame.timestamp_ns)), frame)

    # ------------------------------------------------------------------------------ commands

    def _dispatch(self, commands, frame: CameraFrame | None = None) -> None:
        for command in commands:
            match command:
                case StartAf(mode=mode):
                    start = self._commanded
                    if start is None:
                        start = frame.lens_position if frame is not None else self.camera.lens_range[0]
                    self.engine.start(AfMode(mode), lens_position=start)
                    self.engine_active = True
                    self.stats.af_state = self.engine.state.name
                case StopAf():
                    # the lens stays exactly where it is: no command after the release
                    self.engine.stop()
                    self.engine_active = False
                    if self._engine_stale:
                        self._rebuild_engine()
                    self.stats.af_state = self.engine.state.name
                case Capture():
                    self.stats.captures_requested += 1
                    self._pending.append(command)
                case ShowLed(pattern=pattern):
                    if self.indicator is not None:
                        self.indicator.show(pattern)

    # ------------------------------------------------------------------- writer and control queue

    def _on_capture_done(self, result: CaptureResult) -> None:
        """Runs on the writer thread: only queue."""
        self._control.put(("capture", result))

    def _drain_control(self) -> None:
        while True:
            try:
                kind, payload = self._control.get_nowait()
            except queue.Empty:
                return
            if kind == "capture":
                self._capture_done(payload)
            elif kind == "reload" and not self._stop.is_set():
                self._reload()  # (a reload asked for while stopping would start what is being closed)

    def _capture_done(self, result: CaptureResult) -> None:
        if result.error is None:
            self.stats.captures_written += 1
        else:
            self.stats.captures_failed += 1
            self.stats.last_error = result.error
        self._dispatch(self.controller.handle(
            CaptureFinished(result.request.press_id, result.error, self.camera.now_ns())))
        self._notify_changed()

    def _reload(self) -> None:
        """SIGHUP: re-read the file; a bad new file is refused and the old configuration kept."""
        source = self.config.source
        if source is None:
            log.warning("reload requested but the configuration was not read from a file")
            return
        self.notifier.reloading()
        try:
            new = load_config(source)
            if self.config.overrides:  # what --set said still holds over the new file
                new = apply_overrides(new, dict(self.config.overrides))
        except ConfigError as error:
            log.error("reload refused, keeping the running configuration: %s", error)
            self.stats.last_error = str(error)
            self.notifier.ready(self.stats.status_line())
            return
        running = self.config
        for section in ("pins", "camera", "logging"):
            if getattr(new, section) != getattr(running, section):
                log.warning("[%s] changed: takes effect after a restart", section)
        # those sections run on as they are until then (the capture path reads [camera], a rebuilt
        # engine the camera's profile): none of them is applied in part
        new = dataclasses.replace(new, pins=running.pins, camera=running.camera, logging=running.logging)
        self.controller.reconfigure(new.af, new.shutter)
        af_changed = new.af != running.af
        if new.capture != running.capture and self.writer is not None:
            self._replace_writer(new.capture)
        self.config = new
        if af_changed:
            # a scan in progress is not disturbed: the new [af] applies from the next AF-ON press
            self._engine_stale = True
            if not self.engine_active:
                self._rebuild_engine()
        self.stats.reloads += 1
        log.info("configuration re-read from %s", source)
        self.notifier.ready(self.stats.status_line())


    def _rebuild_engine(self) -> None:
        """The engine again from the running [af] settings (after a reload changed them)."""
        self.engine = self._build_engine(self.config)
        self._engine_stale = False
        log.info("autofocus settings applied")


def _gpio_indicator(pin_factory) -> Callable[[Config], Indicator]:
    def build(config: Config) -> Indicator:
        from focusd.hw.gpio import GpioIndicator, NoIndicator

        if config.pins.led is None:
            return NoIndicator()
        return GpioIndicator(config.pins.led, pin_factory=pin_factory)

    return build
