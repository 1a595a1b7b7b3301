"""The controller: a pure state machine that turns button and camera events into commands.

It owns the meaning of the two buttons, and nothing else:

- **AF-ON** owns focus. In ``continuous`` mode a press starts continuous AF and the release stops
  it, after which nothing moves the lens until the next press. In ``single`` mode a press runs one
  scan that locks; holding changes nothing; the release also stops the engine (the lens stays where
  the scan left it, exactly as after a continuous release); the next press scans again.
- **Shutter** (and the remote release, which behaves as the shutter) owns capture, and never sends
  anything to the autofocus. With priority ``release`` a press captures now, in every AF state.
  With priority ``focus`` a press made while AF-ON is scanning waits for FOCUSED or FAILED or the
  timeout and then fires all the same, recording why (every press waiting fires, in order; at a
  shutdown, ``Stopping``, and when the camera fails, ``CameraFault``, they fire at once). Held with
  burst on, it captures at the burst rate until release or the limit. With ``shutter.trap`` a
  press while AF-ON is up arms a trap instead (focusd.service.trap_rows: the capture comes when a
  subject passes through the lens's plane).
- **Focus bracketing** (docs/bracketing.md): with AF-ON up, a shutter press that completes a
  double-press (focusd.service.bracket_gesture) asks for a series, ``StartBracket``, instead of a
  photo (the first press took its own); so does the command inlet (``BracketRequested``). While a
  series runs, any press (AF-ON, shutter, the remote's) stops it, ``StopBracket``, and does nothing
  else; the daemon says when a series ended by itself (``BracketEnded``).
- **Recall** (``pins.recall``, optional) owns the stored focus position: held ``recall.long_press_ms``
  it stores the lens position (the LED flashes as it does); a shorter press, with AF-ON up, sends
  the lens back there, and once it has arrived the LED is steady as for a lock (a recalled lock)
  until AF-ON is pressed. With AF-ON held a short press does nothing: AF-ON owns the lens.
- **LED**: off when idle, blinking while scanning, steady when focused, fast blink when focus
  failed, a short flash on each capture, a distinct pattern on errors.

The controller has no threads, no clock and no hardware: time arrives inside events (``Tick`` once
per frame, and every event carries the camera-clock time), and the commands it returns are carried
out by the daemon. That is why it can be tested exhaustively, event by event, in a table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from focusd.af.types import AfMode, AfState
from focusd.capture.order import Capture
from focusd.config.schema import AfConfig, RecallConfig, ShutterConfig
from focusd.service.bracket_gesture import DoublePressGesture
from focusd.service.trap_rows import TRAP_REASON, ArmTrap, DisarmTrap, TrapRows, TrapTriggered
from focusd.signals import ButtonId, LedPattern

#: how long the capture flash and the error pattern are shown before the AF pattern returns
FLASH_NS = 80_000_000
#: the reason of a capture fired at once by shutter.priority = "release" (journal "reason")
RELEASE_PRIORITY_REASON = "shutter priority release"
ERROR_NS = 2_000_000_000

# ---------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """A debounced press (``pressed=True``) or release of one input."""

    button: ButtonId
    pressed: bool
    time_ns: int


@dataclass(frozen=True, slots=True)
class AfStateChanged:
    """The engine's state changed (reported by the camera thread after ``update``)."""

    state: AfState
    time_ns: int


@dataclass(frozen=True, slots=True)
class Tick:
    """One frame went by; lets time-based behaviour (burst, timeouts, LED flashes) advance."""

    time_ns: int


@dataclass(frozen=True, slots=True)
class CaptureFinished:
    """The writer finished a capture: ``error`` is None on success."""

    press_id: int
    error: str | None
    time_ns: int


@dataclass(frozen=True, slots=True)
class CameraFault:
    """The camera failed (``recovered=False``) or came back (``recovered=True``)."""

    recovered: bool
    time_ns: int
    message: str = ""


@dataclass(frozen=True, slots=True)
class Stopping:
    """The daemon stops taking presses: a press still waiting for focus fires now, so that every
    press yields a capture (or a reported failure), never nothing."""

    time_ns: int


@dataclass(frozen=True, slots=True)
class FocusRecalled:
    """A recall's outcome: the lens arrived at the stored position (``ok``), or it could not go
    there (nothing stored, the lens never got there)."""

    ok: bool
    time_ns: int


@dataclass(frozen=True, slots=True)
class RecallAsked:
    """The command inlet asks to store (``store``) or recall the focus, as the button would."""

    store: bool
    time_ns: int


@dataclass(frozen=True, slots=True)
class BracketRequested:
    """The command inlet asked for a focus-bracketing series."""

    time_ns: int


@dataclass(frozen=True, slots=True)
class BracketEnded:
    """The series ended by itself (done, clipped, a fault): presses are presses again."""

    time_ns: int


Event = (ButtonEvent | AfStateChanged | Tick | CaptureFinished | CameraFault | Stopping | FocusRecalled
         | RecallAsked | TrapTriggered | BracketRequested | BracketEnded)

# -------------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class StartAf:
    mode: AfMode


@dataclass(frozen=True, slots=True)
class StopAf:
    pass


@dataclass(frozen=True, slots=True)
class ShowLed:
    pattern: LedPattern


@dataclass(frozen=True, slots=True)
class StoreFocus:
    """Store the lens position now (a long press of recall)."""


@dataclass(frozen=True, slots=True)
class RecallFocus:
    """Send the lens to the stored position (a press of recall with AF-ON up)."""


@dataclass(frozen=True, slots=True)
class StartBracket:
    """Start a focus-bracketing series from where the lens is (the camera thread's BracketSeries)."""


@dataclass(frozen=True, slots=True)
class StopBracket:
    """Stop the series now: ``button`` was pressed (None: asked otherwise)."""

    button: ButtonId | None = None


Command = (StartAf | StopAf | Capture | ShowLed | StoreFocus | RecallFocus | ArmTrap | DisarmTrap | StartBracket
           | StopBracket)

# ------------------------------------------------------------------------------------ controller

class InputRole(enum.Enum):
    """What an input does: every ``ButtonId`` has exactly one (a new input must be given its own)."""

    FOCUS = "focus"  #: AF-ON and the remote's half press
    CAPTURE = "capture"  #: the shutter and the remote's full press
    RECALL = "recall"  #: the focus-recall button: long press stores, press recalls


#: the role of each input; exhaustive: ``Controller`` refuses an input missing here
ROLE_OF_INPUT: dict[ButtonId, InputRole] = {
    ButtonId.AF_ON: InputRole.FOCUS,
    ButtonId.REMOTE_FOCUS: InputRole.FOCUS,
    ButtonId.SHUTTER: InputRole.CAPTURE,
    ButtonId.REMOTE: InputRole.CAPTURE,
    ButtonId.RECALL: InputRole.RECALL,
}


@dataclass
class _Burst:
    press_id: int
    press_time_ns: int
    next_due_ns: int
    taken: int
    button: ButtonId | None = None


@dataclass
class _FocusWait:
    """A focus-priority press waiting for the scan to finish."""

    press_id: int
    press_time_ns: int
    deadline_ns: int
    button: ButtonId | None = None


@dataclass
class ControllerState:
    af_held: bool = False  #: a focus input is held (AF-ON or the remote's half press)
    focus_held: set[ButtonId] = field(default_factory=set)
    af_state: AfState = AfState.IDLE
    capture_held: set[ButtonId] = field(default_factory=set)
    burst: _Burst | None = None
    focus_waits: list[_FocusWait] = field(default_factory=list)
    led: LedPattern = LedPattern.OFF
    flash_until_ns: int | None = None
    error_until_ns: int | None = None
    camera_down: bool = False
    next_press_id: int = 1
    held_press_id: int | None = None  #: the press the held capture input made (it owns the burst)
    recall_down_ns: int | None = None  #: when the recall button went down (None: up)
    recall_stored: bool = False  #: this recall press already stored (held past the long press)
    recalled: bool = False  #: the lens is at the recalled position (a recalled lock, until AF-ON)
    trap: TrapRows = field(default_factory=TrapRows)  #: trap focus (focusd.service.trap_rows)
    bracketing: bool = False  #: a focus-bracketing series runs (a press stops it)


class Controller:
    """Events in, commands out. See the module docstring for the behaviour."""

    def __init__(self, af: AfConfig, shutter: ShutterConfig, recall: RecallConfig = RecallConfig(),
                 bracket_gesture: bool = True):
        missing = set(ButtonId) - set(ROLE_OF_INPUT)
        if missing:  # a new input falls into no catch-all: it needs a role first
            raise ValueError(f"inputs without a role: {', '.join(sorted(b.value for b in missing))}")
        self.af_mode = AfMode(af.mode)
        self.shutter = shutter
        self.recall = recall
        self.bracket_gesture = bracket_gesture  #: [bracket] gesture: the double-press starts a series
        self.state = ControllerState()
        self.gesture = DoublePressGesture()

    # public ---------------------------------------------------------------------------------

    @property
    def presses(self) -> int:
        """Shutter and remote presses taken so far: each asked for a capture (has a press id). A
        press of one input while the other holds a capture is not one."""
        return self.state.next_press_id - 1

    def reconfigure(self, af: AfConfig, shutter: ShutterConfig, recall: RecallConfig | None = None,
                    bracket_gesture: bool | None = None) -> None:
        """Take new settings (SIGHUP); they apply from the next press."""
        self.af_mode = AfMode(af.mode)
        self.shutter = shutter
        self.recall = self.recall if recall is None else recall
        if bracket_gesture is not None:
            self.bracket_gesture = bracket_gesture

    def handle(self, event: Event) -> list[Command]:
        commands: list[Command] = []
        match event:
            case ButtonEvent(button=button, pressed=True) if self.state.bracketing:
                self.state.bracketing = False  # the press stops the series and does nothing else
                commands.append(StopBracket(button))
            case ButtonEvent(button=button, pressed=pressed, time_ns=t):
                match ROLE_OF_INPUT[button]:
                    case InputRole.FOCUS:
                        self._af_button(button, pressed, commands, t)
                    case InputRole.CAPTURE:
                        self._capture_button(button, pressed, t, commands)
                    case InputRole.RECALL:
                        self._recall_button(pressed, t, commands)
            case AfStateChanged(state=new_state, time_ns=t):
                self.state.af_state = new_state
                self._focus_wait_on_state(t, commands)
            case Tick(time_ns=t):
                self._tick(t, commands)
                self._recall_held(t, commands)
            case RecallAsked(store=True, time_ns=t):
                commands.append(StoreFocus())
                self.state.flash_until_ns = t + FLASH_NS
            case RecallAsked(store=False):
                if not self.state.af_held and not self.state.bracketing:  # AF-ON, or a series, owns the lens
                    commands.append(RecallFocus())
            case FocusRecalled(ok=ok, time_ns=t):
                # a recalled lock only if nothing took the lens since: AF-ON pressed meanwhile wins
                self.state.recalled = ok and not self.state.af_held
                if not ok:
                    self.state.error_until_ns = t + ERROR_NS
            case CaptureFinished(error=error, time_ns=t):
                if error is not None:
                    self.state.error_until_ns = t + ERROR_NS
            case TrapTriggered(time_ns=t):
                armed = self.state.trap.fired(event)
                if armed is not None:
                    self._fire(armed.press_id, armed.press_time_ns, t, TRAP_REASON, commands, armed.button,
                               due_ns=event.peak_time_ns)
            case BracketRequested():
                self._start_bracket(commands)
            case BracketEnded():
                self.state.bracketing = False
            case Stopping(time_ns=t):
                self._fire_waits(t, "focus: stopping", commands)
            case CameraFault(recovered=recovered, time_ns=t):
                self.state.camera_down = not recovered
                if not recovered:
                    self.state.error_until_ns = t + ERROR_NS
                    # no frame will come for them: they fire now, and the daemon reports them failed
                    # with the camera's reason (not later, as a timeout showing another moment)
                    self._fire_waits(t, "focus: camera fault", commands)
            case _:
                raise TypeError(f"not a controller event: {event!r}")
        self._update_led(self._event_time(event), commands)
        return commands

    # AF-ON ----------------------------------------------------------------------------------

    def _af_button(self, button: ButtonId, pressed: bool, commands: list[Command], t: int) -> None:
        """Either focus input starts focus; focus stops when the last one held is let go (a remote
        half-pressed while the thumb holds AF-ON changes nothing, nor does letting one of them go)."""
        held = self.state.focus_held
        (held.add if pressed else held.discard)(button)
        if pressed:
            self.gesture.af_on_pressed()
        if bool(held) == self.state.af_held:
            return
        self.state.af_held = pressed
        if pressed:
            self.state.recalled = False  # AF-ON takes the lens: the recalled lock is over
            self.state.trap.disarm("AF-ON", t, commands)  # the focus taken back: no trap (trap_rows)
            commands.append(StartAf(self.af_mode))
            self.state.af_state = AfState.SCANNING
        else:
            commands.append(StopAf())
            self.state.af_state = AfState.IDLE

    # shutter and remote ---------------------------------------------------------------------

    def _capture_button(self, button: ButtonId, pressed: bool, t: int, commands: list[Command]) -> None:
        held = self.state.capture_held
        # with shutter.trap the shutter arms the trap (AF-ON up): no double-press (the inlet still brackets)
        if button is ButtonId.SHUTTER and self.bracket_gesture and not self.shutter.trap:
            gesture = (self.gesture.shutter_pressed if pressed else self.gesture.shutter_released)
            if gesture(t / 1e9, self.state.af_held) and not held and self._start_bracket(commands):
                return  # the second press of a double-press: the series, not a photo
        if not pressed:
            held.discard(button)
            if not held:
                self.state.burst = None  # a focus wait still fires: a press is a press
                self.state.held_press_id = None
                self.state.trap.disarm("released", t, commands)
            return
        if held:  # the other input is already holding a capture: this press adds nothing
            held.add(button)
            return
        held.add(button)
        if self.state.focus_waits and not self.state.af_held:
            # AF-ON was let go since the last tick: the presses waiting fire first, in order
            self._fire_waits(t, "focus: AF-ON released", commands)
        press_id = self.state.next_press_id
        self.state.next_press_id += 1
        self.state.held_press_id = press_id
        if self.shutter.trap and not self.state.af_held:
            return self.state.trap.arm(press_id, t, button, commands)  # its capture is the trap's
        if self.shutter.priority == "focus" and self.state.af_held and self.state.af_state == AfState.SCANNING:
            deadline = t + int(self.shutter.focus_timeout_ms * 1e6)
            # a second press while the first still waits waits too: each press is one capture
            self.state.focus_waits.append(_FocusWait(press_id, t, deadline, button))
            return
        # "shutter priority release" (not "release": it is the setting, not a button let go)
        reason = RELEASE_PRIORITY_REASON if self.shutter.priority == "release" else f"focus: {self._focus_word()}"
        self._fire(press_id, t, t, reason, commands, button)

    def _start_bracket(self, commands: list[Command]) -> bool:
        """A series starts unless one runs, a focus input or a capture is held, or the camera is down."""
        state = self.state
        if state.bracketing or state.af_held or state.capture_held or state.camera_down:
            return False
        state.bracketing = True
        commands.append(StartBracket())
        return True

    def _focus_word(self) -> str:
        if not self.state.af_held and self.state.af_state == AfState.IDLE:
            return "AF-ON not held"
        return self.state.af_state.name

    def _fire(self, press_id: int, press_t: int, now: int, reason: str, commands: list[Command],
              button: ButtonId | None, due_ns: int | None = None) -> None:
        commands.append(Capture(press_id, press_t, now if due_ns is None else due_ns, reason, 0, button))
        self.state.flash_until_ns = now + FLASH_NS
        # a burst belongs to the press whose input is still held, not to an earlier one firing late
        if self.shutter.burst and self.state.capture_held and self.state.held_press_id == press_id:
            period = int(1e9 / self.shutter.burst_fps)
            self.state.burst = _Burst(press_id, press_t, now + period, taken=1, button=button)

    def _focus_wait_on_state(self, t: int, commands: list[Command]) -> None:
        if self.state.af_state in (AfState.FOCUSED, AfState.FAILED):
            self._fire_waits(t, f"focus: {self.state.af_state.name}", commands)

    def _fire_waits(self, t: int, reason: str, commands: list[Command], due=lambda wait: True) -> None:
        """Fire the waiting presses that are ``due``, oldest first."""
        waiting, self.state.focus_waits = self.state.focus_waits, []
        for wait in waiting:
            if due(wait):
                self._fire(wait.press_id, wait.press_time_ns, t, reason, commands, wait.button)
            else:
                self.state.focus_waits.append(wait)

    # recall ---------------------------------------------------------------------------------

    def _recall_button(self, pressed: bool, t: int, commands: list[Command]) -> None:
        if pressed:
            self.state.recall_down_ns, self.state.recall_stored = t, False
            return
        if self.state.recall_down_ns is None:
            return
        self._recall_held(t, commands)  # a long press whose threshold no tick saw still stores
        if not self.state.recall_stored and not self.state.af_held:
            commands.append(RecallFocus())
        self.state.recall_down_ns, self.state.recall_stored = None, False

    def _recall_held(self, t: int, commands: list[Command]) -> None:
        down = self.state.recall_down_ns
        if down is None or self.state.recall_stored or t - down < int(self.recall.long_press_ms * 1e6):
            return
        self.state.recall_stored = True
        commands.append(StoreFocus())
        self.state.flash_until_ns = t + FLASH_NS  # the photographer sees it stored, button still down

    # time -----------------------------------------------------------------------------------

    def _tick(self, t: int, commands: list[Command]) -> None:
        if self.state.focus_waits:
            if not self.state.af_held:
                # AF-ON let go while waiting: the scan is over, fire now
                self._fire_waits(t, "focus: AF-ON released", commands)
            else:
                self._fire_waits(t, "focus: timeout", commands, due=lambda wait: t >= wait.deadline_ns)
        burst = self.state.burst
        if burst is not None and t >= burst.next_due_ns:
            limit = self.shutter.burst_limit
            if limit and burst.taken >= limit:
                self.state.burst = None
            else:
                commands.append(Capture(burst.press_id, burst.press_time_ns, burst.next_due_ns, "burst", burst.taken,
                                        burst.button))
                burst.taken += 1
                period = int(1e9 / self.shutter.burst_fps)
                # keep the rate, but never queue a catch-up volley after a stall
                burst.next_due_ns = max(burst.next_due_ns + period, t + period // 2)
                self.state.flash_until_ns = t + FLASH_NS

    # LED ------------------------------------------------------------------------------------

    @staticmethod
    def _event_time(event: Event) -> int:
        return event.time_ns

    def _af_pattern(self) -> LedPattern:
        if not self.state.af_held:
            return LedPattern.STEADY if self.state.recalled else LedPattern.OFF
        return {
            AfState.IDLE: LedPattern.OFF,
            AfState.SCANNING: LedPattern.BLINK,
            AfState.FOCUSED: LedPattern.STEADY,
            AfState.FAILED: LedPattern.FAST_BLINK,
        }[self.state.af_state]

    def _update_led(self, t: int, commands: list[Command]) -> None:
        state = self.state
        if state.error_until_ns is not None and t >= state.error_until_ns and not state.camera_down:
            state.error_until_ns = None
        if state.flash_until_ns is not None and t >= state.flash_until_ns:
            state.flash_until_ns = None
        if state.camera_down or state.error_until_ns is not None:
            wanted = LedPattern.ERROR
        elif state.flash_until_ns is not None:
            wanted = LedPattern.FLASH
        else:
            wanted = self._af_pattern()
        if wanted != state.led:
            state.led = wanted
            commands.append(ShowLed(wanted))
