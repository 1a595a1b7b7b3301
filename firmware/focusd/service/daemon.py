"""The daemon: the one place that wires the parts together. One thread owns the camera and the
engine; GPIO callbacks and the command inlet only queue.

Start-up happens in one function (:meth:`Daemon._run`), in the order listeners, capture path,
camera, engine, LED, buttons, READY, so that the first press is only accepted once everything that
serves it is up; shutdown is the same list in reverse (an ``ExitStack``). The camera thread
(whichever thread calls ``run``) does, once per frame: drain the button edges and debounce them,
feed the controller, carry out its commands, hand due captures to the capture path, run the
autofocus engine on the frame and command the lens, and feed the systemd watchdog. Nothing else
touches the camera or the engine, which is why neither needs a lock.

What happens goes out on the event stream (:mod:`focusd.service.events`): the LED, systemd's
STATUS line and the journal are subscribers, each on its own thread behind a bounded queue, so none
of them can slow the frame path. Presses and settings come in through the command inlet
(:mod:`focusd.service.inlet`) as well as the GPIO pins, by the same path. The capture writer runs on
its own thread behind a bounded queue (:mod:`focusd.capture`), so a slow card never stalls focusing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from typing import Callable

from focusd.af import AfMode, AfState, AutofocusEngine
from focusd.capture.path import CapturePath, CaptureRefused, LensOptics
from focusd.capture.writer import CaptureResult
from focusd.config.profiles import load_profile
from focusd.config.settings import Config
from focusd.errors import CameraError
from focusd.hw.base import Camera, CameraFrame, Indicator
from focusd.hw.assist_lamp import assist_lamp_for
from focusd.hw.gpio import GpioButtons, indicator_for_pins
from focusd.lens_path import LensPath
from focusd.service import events as ev
from focusd.service.stats import DaemonStats, StatsWatch
from focusd.service.assist import AssistLamp, AssistLampRules, LampChange, Rescan
from focusd.service.backoff import Backoff, CameraStarter
from focusd.service.bridge import Bridge, daemon_snapshot
from focusd.service.buttons import Debouncer, EdgeQueue
from focusd.service.cameras import told_lens_path
from focusd.service.focus import FocusDriver
from focusd.service.recall import FocusRecall, RecallStore
from focusd.service.reload import change_live_settings, reload_from_file
from focusd.service.controller import (
    AfStateChanged, BracketEnded, BracketRequested, CameraFault, Capture, CaptureFinished, Controller,
    FocusRecalled, RecallAsked, RecallFocus, ShowLed, StartAf, StartBracket, StopAf, StopBracket, Stopping,
    StoreFocus, Tick,
)
from focusd.service.bracket_series import BracketSeries, Finished, Shot, bracket_event
from focusd.service.exposure_lock import BurstExposureLock
from focusd.service.inlet import CommandInlet
from focusd.service.notify import SystemdNotifier
from focusd.service.subscribers import journal_handler, led_handler, status_handler
from focusd.service.trap import TrapWatch
from focusd.service.trap_rows import TRAP_REASON, ArmTrap, DisarmTrap

log = logging.getLogger("focusd.daemon")

#: frames still processed after SIGTERM so that presses waiting for a frame are captured
DRAIN_FRAMES = 30
#: frames after a (re)start that make a healthy run (focusd.service.backoff)
HEALTHY_FRAMES = 100
#: every how many frames the frame statistics go out (and systemd's STATUS line follows)
FRAME_STATISTICS_EVERY = 60


class Daemon:
    """focusd's daemon. Build it, call :meth:`run` on the thread that will own the camera.

    ``backoff_wait(seconds)`` waits between camera starts and returns True if told to stop
    (default: wait on the stop request; the tests give a recorder, so no real sleeps).
    """

    def __init__(
        self,
        config: Config,
        camera: Camera,
        *,
        pin_factory=None,
        notifier: SystemdNotifier | None = None,
        indicator_factory: Callable[[Config], Indicator] | None = None,
        backoff_s: tuple[float, float] = (0.1, 10.0),
        backoff_wait: Callable[[float], bool] | None = None,
        event_stream: ev.EventStream | None = None,
    ):
        self.config = config
        self.camera = camera
        self.pin_factory = pin_factory
        self.notifier = notifier or SystemdNotifier.from_environment()
        self.indicator_factory = indicator_factory or indicator_for_pins(pin_factory)
        self.backoff_s = backoff_s
        self.backoff_wait = backoff_wait
        self.events = event_stream or ev.EventStream()
        self.status = ev.StatusBoard()
        self.listeners: dict[str, ev.Listener] = {}
        self.stats = DaemonStats()
        self.edges = EdgeQueue()
        self.debouncer = Debouncer(int(config.pins.bounce_ms * 1e6))
        self.controller = Controller(config.af, config.shutter, config.recall, config.bracket.gesture)
        self.recall = FocusRecall(RecallStore(config.recall.state_file), self.events, camera.now_ns)
        self.burst_exposure = BurstExposureLock(camera, config.exposure.lock_in_bursts)
        self.trap = TrapWatch(config.af.window)  #: trap focus's detector and kept frames (shutter.trap)
        self._control: queue.SimpleQueue = queue.SimpleQueue()
        self.inlet = CommandInlet(self.edges, camera.now_ns, self._control.put)
        # built in _run, once the camera is up (its own lens range is known only then)
        self.lens_path: LensPath | None = None
        self.focus: FocusDriver | None = None  #: the engine and every lens command
        self.captures: CapturePath | None = None
        self.indicator: Indicator | None = None
        self.assist: AssistLamp | None = None  #: the AF-assist lamp's rules and output, with pins.af_assist
        self.bridge: Bridge | None = None  #: the web page's socket, with [web] enabled
        self.bracket: BracketSeries | None = None  #: the focus-bracketing sequencer
        self._starter: CameraStarter | None = None
        self._frame_counter = ev.FrameCounter(FRAME_STATISTICS_EVERY)
        self._stop = threading.Event()
        self._watch = StatsWatch(self.stats)  # wait_until's condition, told after each frame and capture
        self.stopped = self._watch.stopped

    @property
    def engine(self) -> AutofocusEngine | None:
        return None if self.focus is None else self.focus.engine

    @property
    def engine_active(self) -> bool:
        return self.focus is not None and self.focus.active

    # ------------------------------------------------------------------ called from other threads

    def request_stop(self) -> None:
        """Stop taking presses, write what is queued, and return from :meth:`run` (SIGTERM)."""
        self._stop.set()

    def request_reload(self) -> None:
        """Re-read the configuration file at the next frame (SIGHUP)."""
        self._control.put(("reload", None))

    def wait_until(self, predicate: Callable[[DaemonStats], bool], timeout: float) -> bool:
        """Block until ``predicate(stats)`` holds (checked after each frame and capture)."""
        return self._watch.wait_until(predicate, timeout)

    # ------------------------------------------------------------------------ start-up, shutdown

    def run(self) -> int:
        """Start everything, run the frame loop until stopped, shut down in reverse. Exit status."""
        try:
            self._run()
        finally:
            self._watch.finished()
        return 0

    def _run(self) -> None:
        config = self.config
        with contextlib.ExitStack() as started:
            try:
                for name, handler in (("status", status_handler(self.status, self.notifier)),
                                      ("journal", journal_handler(log))):
                    started.callback(self._listen(name, handler).close)
                self.recall.load()  # the position a previous run stored (a bad file: reported, nothing stored)
                profile = load_profile(config.camera.profile)
                self.captures = CapturePath(config.capture, self.camera, self._on_capture_done,
                                            full_resolution=config.camera.full_resolution_captures,
                                            optics=LensOptics.of(profile))
                self.captures.start()
                started.callback(self._close_captures)
                if config.web.enabled:
                    self.bridge = Bridge(config.web.runtime_dir, self.inlet, self.events, lambda: daemon_snapshot(self),
                                         max_fps=config.web.preview_fps)
                    self.bridge.start()
                    started.callback(self.bridge.close)
                if not self._start_camera():
                    return  # told to stop before the camera ever came up
                started.callback(self.camera.stop)
                self.lens_path = told_lens_path(config, profile, self.camera)
                self.focus = FocusDriver(config, self.lens_path, self.camera, self.events, self.stats)
                self.bracket = BracketSeries(config.bracket, profile, self.camera, self.focus,
                                             config.camera.full_resolution_captures)
                if config.pins.af_assist is not None:
                    started.callback(self._open_assist_lamp().close)
                self.indicator = self.indicator_factory(config)
                started.callback(self._close_indicator)
                started.callback(self._listen("led", led_handler(lambda: self.indicator)).close)
                buttons = self._open_buttons()
                started.callback(buttons.close)
                started.callback(self._stop_taking_presses)
                self.notifier.ready(self.status.line())
                log.info("focusd ready: camera %s, AF %s, shutter priority %s",
                         self.camera.name, config.af.mode, config.shutter.priority)
                self._frame_loop()
                self._stop_taking_presses()
                self._drain_pending()
            finally:
                self.notifier.stopping()
                log.info("focusd stopping: %s", self.status.line())

    def _open_assist_lamp(self) -> AssistLamp:
        rules = AssistLampRules(self.config.af_assist, self.camera.frame_duration_ns)
        self.assist = AssistLamp(rules, assist_lamp_for(self.config, self.pin_factory), self.events)
        self.captures.assist_lit = lambda frame: rules.lit_during(frame.timestamp_ns, frame.exposure_time_us)
        return self.assist

    def _listen(self, name: str, handler) -> ev.Listener:
        listener = self.listeners[name] = self.events.listen(name, handler)
        return listener

    def events_handled(self, timeout: float) -> bool:
        """Wait until the daemon's own subscribers (LED, status, journal) have handled every event
        published so far; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        return all(listener.wait_idle(max(0.0, deadline - time.monotonic()))
                   for listener in list(self.listeners.values()))

    def _open_buttons(self):
        return GpioButtons(self.config.pins, self.edges.put, self.camera.now_ns, pin_factory=self.pin_factory)

    def _stop_taking_presses(self) -> None:
        self.edges.accepting = False

    def _close_indicator(self) -> None:
        # LED commands that still come (captures finishing while the writer drains) go nowhere
        indicator, self.indicator = self.indicator, None
        if indicator is not None:
            indicator.close()

    def _close_captures(self) -> None:
        self.captures.close()
        self._drain_control()

    # ----------------------------------------------------------------------------- frame loop

    def _camera_starter(self) -> CameraStarter:
        """Built on first use, from ``backoff_s`` and ``backoff_wait`` (which tests set after __init__)."""
        if self._starter is None:
            backoff = Backoff(*self.backoff_s, healthy_frames=HEALTHY_FRAMES)
            self._starter = CameraStarter(self.camera, backoff, self._stop, self.backoff_wait, self._report_error)
        return self._starter

    def _start_camera(self, wait_first_s: float | None = None) -> bool:
        return self._camera_starter().start(self.stats.frames, wait_first_s)

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
            self._refused(self.captures.after_frame())
            self.notifier.watchdog()
            self._watch.changed()

    def _drain_pending(self) -> None:
        """After a stop request: a few more frames so that presses already made are captured."""
        self._take_inputs(None)  # edges queued before the stop still count
        self._bracket(self.bracket.stop("stopped", "daemon stopping", self.camera.now_ns()))
        # a focus-priority press still waiting for the scan fires now: every press yields a result
        self._dispatch(self.controller.handle(Stopping(self.camera.now_ns())))
        for _ in range(DRAIN_FRAMES):
            self._drain_control()
            if not self.captures.waiting:
                return
            try:
                frame = self.camera.next_frame(1.0)
            except CameraError as error:
                self._refused(self.captures.refuse_waiting(f"camera unavailable at shutdown: {error}"))
                return
            with frame:
                self._take_captures(frame)
            self._refused(self.captures.after_frame())
        self._refused(self.captures.refuse_waiting("daemon stopped before a frame came"))

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
        self._report_error(str(error))
        backoff = self._camera_starter().backoff
        healthy = backoff.frames_since_start(self.stats.frames)
        wait_first_s = backoff.after_fault(self.stats.frames)
        if wait_first_s is None:
            log.error("camera failed: %s; reopening", error)
        else:  # a relapse (or a camera that opens but sends nothing): reopening at once would spin
            log.error("camera failed: %s (%d frames after it started); reopening in %.1f s",
                      error, healthy, wait_first_s)
        self._watch.changed()
        self._dispatch(self.controller.handle(CameraFault(False, self.camera.now_ns(), str(error))))
        self._bracket(self.bracket.stop("fault", str(error), self.camera.now_ns()))
        self._refused(self.captures.refuse_waiting(f"camera unavailable: {error}"))
        with contextlib.suppress(CameraError):
            self.camera.stop()
        if not self._start_camera(wait_first_s):
            return  # stop requested while the camera was down
        log.info("camera back after a fault")
        self._frame_counter.restarted()  # a restarted camera numbers its frames anew
        self._dispatch(self.controller.handle(CameraFault(True, self.camera.now_ns())))
        self.focus.resume_after_fault()

    def _process(self, frame: CameraFrame) -> None:
        now = frame.timestamp_ns
        self.stats.frames += 1
        statistics = self._frame_counter.count(frame, self.stats.frames)
        if statistics is not None:
            self.events.publish(statistics)
        self._take_inputs(frame)
        self._drain_control(frame)
        self._dispatch(self.controller.handle(Tick(now)), frame)
        self._take_captures(frame)
        sprung = self.trap.frame(frame, self.focus.lens_estimate, self.focus.commanded)
        if sprung is not None:  # trap focus fired: the controller asks for the kept peak frame
            self.events.publish(sprung.event())
            self._dispatch(self.controller.handle(sprung.triggered()), frame)
        changed = self.focus.focus(frame)
        if changed is not None:
            self._dispatch(self.controller.handle(AfStateChanged(changed, now)), frame)
        recalled = self.focus.follow_recall(frame)
        if recalled is not None:
            self._dispatch(self.controller.handle(FocusRecalled(recalled, now)), frame)
        if self.assist is not None:
            self._light(self.assist.rules.frame(frame.y, now, held=self.focus.active, scanning=self.engine.state is
                                          AfState.SCANNING, continuous=self.engine.mode is AfMode.CONTINUOUS,
                                          window=self.config.af.window, now_ns=self.camera.now_ns()), frame)
        if self.bridge is not None:
            self.bridge.offer_frame(frame, self.config.af.window)  # a copy at most, never an encoding

    def _take_captures(self, frame: CameraFrame) -> None:
        self.focus.observe(frame)  # every frame, before a capture asks
        if self.bracket.running:  # its shot is of this very frame: queued before the frame's captures are taken
            self._bracket(self.bracket.frame(frame))
        self._refused(self.captures.take(frame, self.focus.state_name, self.focus.lens_estimate))

    def _take_inputs(self, frame: CameraFrame | None) -> None:
        """Debounce the queued edges and hand the presses and releases to the controller.

        An input the debouncer settles without an edge (its bounce window over, or its edges dropped
        from a full queue) is stamped with the camera's time now, read after the drain: the frame in
        hand was exposed earlier, perhaps before the press, which must never be captured from it.
        """
        edges, levels = self.edges.drain()
        for event in self.debouncer.feed(edges, levels) + self.debouncer.poll(self.camera.now_ns()):
            log.info("%s %s", event.button.value, "pressed" if event.pressed else "released")
            self.events.publish(ev.InputChanged(event.button, event.pressed, event.time_ns))
            self._dispatch(self.controller.handle(event), frame)
        self.stats.presses = self.controller.presses

    # ------------------------------------------------------------------------------ commands

    def _dispatch(self, commands, frame: CameraFrame | None = None) -> None:
        for command in commands:
            match command:
                case StartAf(mode=mode):
                    self.focus.start(mode, frame)
                case StopAf():
                    self.focus.stop()  # the lens stays exactly where it is
                case ArmTrap() | DisarmTrap():
                    self.events.publish(self.trap.command(command, frame, self.focus.commanded, self.config.af.window))
                case Capture() if command.reason == TRAP_REASON:  # the kept peak frame, written now
                    self.stats.captures_requested += 1
                    self.trap.take(command, self.captures, self.focus.state_name)
                    self.events.publish(ev.CaptureQueued(command.press_id, command.reason, 0, command.due_ns))
                case Capture():
                    if self.assist is not None:  # the lamp off, and the capture after its light
                        due_ns, change = self.assist.rules.capture(command.due_ns, self.camera.now_ns())
                        self._light(change)
                        command = dataclasses.replace(command, due_ns=due_ns)
                    self._queue_capture(command)
                case StoreFocus():
                    self.recall.store_from(self.focus)
                case RecallFocus():
                    if not self.recall.recall_to(self.focus, frame):
                        self._dispatch(self.controller.handle(FocusRecalled(False, self.camera.now_ns())))
                case StartBracket():
                    self.bracket.start()
                case StopBracket(button=button):
                    self._bracket(self.bracket.stop("stopped", f"{button.value} pressed", self.camera.now_ns()))
                case ShowLed(pattern=pattern):
                    self.events.publish(ev.LedChanged(pattern, self.camera.now_ns()))
                case _:
                    raise TypeError(f"no handler for controller command {command!r}")
        self.burst_exposure.follow(self.controller.state.burst is not None)

    def _queue_capture(self, command: Capture) -> None:
        self.stats.captures_requested += 1
        self.captures.queue(command)
        self.events.publish(ev.CaptureQueued(command.press_id, command.reason, command.burst_index, command.due_ns))

    def _bracket(self, outcomes) -> None:
        """Carry out the bracketing series' outcomes (focusd.service.bracket_series)."""
        for outcome in outcomes:
            self.events.publish(bracket_event(outcome))
            if isinstance(outcome, Shot):
                self._queue_capture(outcome.capture)
            elif isinstance(outcome, Finished):
                self._dispatch(self.controller.handle(BracketEnded(outcome.time_ns)))

    def _light(self, outcome: LampChange | Rescan | None, frame: CameraFrame | None = None) -> None:
        """The AF-assist lamp's outcome: the GPIO write and its event (AssistLamp), or the new scan."""
        if self.assist.carry_out(outcome) is not None:  # a Rescan: the lamp's light is in
            self.focus.start(self.engine.mode, frame)

    def _report_error(self, message: str) -> None:
        self.stats.last_error = message
        self.events.publish(ev.ErrorReported(message, self.camera.now_ns()))

    # ------------------------------------------------------------------------- capture outcomes

    def _on_capture_done(self, result: CaptureResult) -> None:
        """Runs on the writer thread: only queue."""
        self._control.put(("capture", result))

    def _refused(self, refused: list[CaptureRefused]) -> None:
        for outcome in refused:
            log.error("capture of press %d failed: %s", outcome.capture.press_id, outcome.reason)
            self._capture_finished(outcome.capture.press_id, None, outcome.reason)

    def _capture_finished(self, press_id: int, path, error: str | None, raw_path=None) -> None:
        now = self.camera.now_ns()
        if error is None:
            self.stats.captures_written += 1
            self.events.publish(ev.CaptureWritten(press_id, str(path), now, None if raw_path is None else str(raw_path)))
        else:
            self.stats.captures_failed += 1
            self.stats.last_error = error
            self.events.publish(ev.CaptureFailed(press_id, error, now))
        self._dispatch(self.controller.handle(CaptureFinished(press_id, error, now)))
        self._watch.changed()

    # ---------------------------------------------------------------------------- control queue

    def _drain_control(self, frame: CameraFrame | None = None) -> None:
        while True:
            try:
                kind, payload = self._control.get_nowait()
            except queue.Empty:
                return
            if kind == "capture":
                self._capture_finished(payload.request.press_id, payload.path, payload.error, payload.raw_path)
            elif kind == "recall":
                self._dispatch(self.controller.handle(RecallAsked(payload, self.camera.now_ns())), frame)
            elif kind == "window":
                self._set_window(payload)
            elif kind == "settings":
                self._change_settings(*payload)
            elif kind == "bracket":
                self._dispatch(self.controller.handle(BracketRequested(self.camera.now_ns())))
            elif kind == "reload" and not self._stop.is_set():
                self._reload()  # (a reload asked for while stopping would start what is being closed)

    def _set_window(self, window: tuple[float, float, float, float]) -> None:
        """The command inlet's AF window: for the engine now unless a single scan holds its lock
        (AF-ON held in single mode: applies from the next press); continuous AF refocuses on it."""
        self.config = dataclasses.replace(self.config, af=dataclasses.replace(self.config.af, window=window))
        if self.focus is None:
            return
        self.focus.config = self.config
        if self.focus.set_window(window):
            # the controller (LED, focus-priority presses) learns of the new scan as of any state change
            self._dispatch(self.controller.handle(AfStateChanged(self.engine.state, self.camera.now_ns())))
        log.info("AF window moved to %s", ", ".join(f"{v:.3f}" for v in window))

    def _reload(self) -> None:
        """SIGHUP: re-read the file (focusd.service.reload); a bad one is refused, the old kept."""
        if reload_from_file(self.config, self._adopt, self.notifier, self.status.line, self._report_error):
            self.stats.reloads += 1

    def _change_settings(self, changes: dict, reply) -> None:
        """The command inlet's live settings (focusd.service.reload), applied as a reload."""
        change_live_settings(self.config, changes, self._adopt, reply)

    def _adopt(self, new: Config) -> None:
        """[af], [shutter] and [capture] from ``new``; a scan in progress is not disturbed (the new
        [af] applies from the next AF-ON press)."""
        # (recall.state_file: after a restart)
        self.controller.reconfigure(new.af, new.shutter, new.recall, new.bracket.gesture)
        self.burst_exposure.enabled = new.exposure.lock_in_bursts  # from the next burst (one running when turned off is let go at once)
        if new.capture != self.config.capture:
            self.captures.replace_writer(new.capture)
        self.config = new
        if self.focus is not None:
            self.focus.adopt(new)
            self.bracket.settings = new.bracket  # from the next series
