"""The lens and the autofocus engine, on the camera thread: one collaborator owns them.

It holds the engine, whether it runs, the last lens position commanded and the estimate of where
the lens was during each exposure (:class:`~focusd.lens_estimate.LensEstimate`, which the capture
path reads). Every lens command goes through :meth:`FocusDriver.move_lens`, whoever asks for it (the
engine each frame, or a feature that drives the lens itself: bracketing, focus recall), so the
estimate, the counters and the ``LensCommanded`` events never miss one. It never calls back into
the daemon: :meth:`focus` returns the engine's new state when it changed, and the daemon tells the
controller.
"""

from __future__ import annotations

import logging

from focusd.af import AfMode, AfState, AutofocusEngine, Frame
from focusd.config.settings import Config
from focusd.hw.base import Camera, CameraFrame
from focusd.lens_estimate import LensEstimate
from focusd.lens_path import LensPath
from focusd.service import events as ev
from focusd.service.cameras import build_engine
from focusd.service.recall import RecallMove
from focusd.service.stats import DaemonStats

log = logging.getLogger("focusd.daemon")


class FocusDriver:
    """The engine and the lens commands of one running camera (built once it is up)."""

    def __init__(self, config: Config, lens_path: LensPath, camera: Camera, events: ev.EventStream,
                 stats: DaemonStats):
        self.config = config
        self.lens_path = lens_path
        self.camera = camera
        self.events = events
        self.stats = stats
        self.lens_estimate = LensEstimate(lens_path)  # where the lens was during each exposure, for the files
        self.engine: AutofocusEngine = build_engine(config, lens_path)
        self.active = False  #: the engine runs (a focus input is held)
        self.commanded: float | None = None  #: the last lens position commanded, dioptres
        self._stale = False  # [af] changed while AF-ON was held: the engine is rebuilt at the release
        self.recall_move: RecallMove | None = None  #: focus recall's move back, while under way
        self.recalled = False  #: the lens is at the recalled position (shown as "RECALLED" until AF-ON)
        self.last_reported: float | None = None  #: the last frame's metadata LensPosition

    @property
    def state_name(self) -> str:
        """The AF state as shown (events, status, journal): the engine's, or "RECALLED"."""
        return "RECALLED" if self.recalled else self.engine.state.name

    # ----------------------------------------------------------------------------- per frame

    def observe(self, frame: CameraFrame) -> None:
        """Every frame, before a capture asks where the lens was."""
        self.lens_estimate.observe(frame.sequence, frame.lens_position)
        self.last_reported = float(frame.lens_position)

    def focus(self, frame: CameraFrame) -> AfState | None:
        """Run the engine on ``frame`` (when active) and command the lens; the engine's new state
        if it changed, else None."""
        if not self.active:
            return None
        before = self.engine.state
        target = self.engine.update(Frame(y=frame.y, lens_position=frame.lens_position, sequence=frame.sequence))
        if target is not None:
            self.move_lens(target, frame)
        state = self.engine.state
        if state == before:
            return None
        if state == AfState.FOCUSED:
            self.stats.af_locks += 1
        elif state == AfState.FAILED:
            self.stats.af_failures += 1
            log.warning("focus failed: %s", self.engine.failure_reason)
        self.show_state(frame.timestamp_ns, float(frame.lens_position))
        return state

    def move_lens(self, target: float, frame: CameraFrame) -> None:
        """Command the lens to ``target`` dioptres, written with the request after ``frame``."""
        self.camera.set_lens_position(target)
        self.lens_estimate.command(frame.sequence, target)
        self.commanded = target
        self.stats.lens_commands += 1
        self.stats.lens_position = target
        self.events.publish(ev.LensCommanded(target, float(frame.lens_position), frame.sequence,
                                             frame.timestamp_ns))

    def show_state(self, time_ns: int, lens_position: float = float("nan")) -> None:
        """Publish the AF state (FocusChanged) and count it in the statistics."""
        state = self.engine.state
        self.stats.af_state = self.state_name
        reason = self.engine.failure_reason if state == AfState.FAILED and not self.recalled else None
        self.events.publish(ev.FocusChanged(self.state_name, time_ns, lens_position, reason))

    # ---------------------------------------------------------------------------- focus recall

    def recall(self, target: float, frame: CameraFrame | None) -> None:
        """Send the lens straight to ``target`` (D), written with the request after ``frame``."""
        self.recall_move = RecallMove(target)
        self.recalled = False
        if frame is not None:  # else (between frames) the next frame's follow_recall writes it
            self.move_lens(target, frame)
        self.events.publish(ev.FocusRecall("moving", target, self.camera.now_ns()))

    def follow_recall(self, frame: CameraFrame) -> bool | None:
        """Each frame of a move back: True once a frame was exposed wholly at the target (the
        recalled lock, shown now), False if the lens never got there, None meanwhile."""
        move = self.recall_move
        if move is None or self.active:
            return None
        step = move.frame(float(frame.lens_position), self.lens_estimate.exposed(frame.sequence))
        if step.write is not None:
            self.move_lens(step.write, frame)
        if not (step.arrived or step.given_up):
            return None
        self.recall_move = None
        self.recalled = step.arrived
        self.events.publish(ev.FocusRecall("arrived" if step.arrived else "did not arrive", move.target,
                                           frame.timestamp_ns))
        if step.arrived:
            self.show_state(frame.timestamp_ns, float(frame.lens_position))
        return step.arrived

    # ------------------------------------------------------------------------ start and stop

    def start(self, mode: AfMode, frame: CameraFrame | None) -> None:
        """AF-ON: scan from the last commanded position (else the frame's, else the range's near end)."""
        start = self.commanded
        if start is None:
            start = frame.lens_position if frame is not None else self.lens_path.lens_range[0]
        self.engine.start(AfMode(mode), lens_position=start)
        self.active = True
        self.recall_move, self.recalled = None, False  # AF-ON takes the lens
        self.show_state(self.camera.now_ns())

    def stop(self) -> None:
        """AF-ON released: the lens stays exactly where it is (no command after the release)."""
        self.engine.stop()
        self.active = False
        if self._stale:
            self.rebuild()
        self.show_state(self.camera.now_ns())

    def resume_after_fault(self) -> None:
        """A restarted camera starts its lens afresh: the running scan's last command again."""
        if self.active and self.commanded is not None:
            self.camera.set_lens_position(self.commanded)

    # ------------------------------------------------------------------------------ settings

    def set_window(self, window: tuple[float, float, float, float]) -> bool:
        """The AF window now, unless a single scan holds its lock (then from the next press).
        True when continuous AF restarted on it (its new state must reach the controller)."""
        if not self.active:
            self.engine.window = window
            return False
        if self.engine.mode != AfMode.CONTINUOUS:
            self._stale = True
            return False
        self.engine.window = window
        start = self.lens_path.lens_range[0] if self.commanded is None else self.commanded
        self.engine.start(AfMode.CONTINUOUS, lens_position=start)
        self.show_state(self.camera.now_ns())
        return True

    def adopt(self, config: Config) -> None:
        """New settings; a changed [af] rebuilds the engine now if it is idle, else at the release."""
        af_changed, self.config = config.af != self.config.af, config
        if af_changed:
            self._stale = True
            if not self.active:
                self.rebuild()

    def rebuild(self) -> None:
        """The engine again from the running [af] settings (after a reload changed them)."""
        self.engine = build_engine(self.config, self.lens_path)
        self._stale = False
        log.info("autofocus settings applied")
