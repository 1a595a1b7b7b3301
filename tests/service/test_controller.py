"""The controller, event by event in every state (table-driven)."""

from __future__ import annotations

import dataclasses

import pytest

from focusd.af.types import AfMode, AfState
from focusd.config.settings import AfConfig, ShutterConfig
from focusd.service.controller import (
    ERROR_NS,
    FLASH_NS,
    AfStateChanged,
    BracketEnded,
    BracketRequested,
    ButtonEvent,
    CameraFault,
    Capture,
    CaptureFinished,
    Controller,
    ShowLed,
    StartAf,
    StartBracket,
    StopAf,
    StopBracket,
    Stopping,
    Tick,
)
from focusd.service.trap_rows import ArmTrap, DisarmTrap, TrapTriggered
from focusd.signals import ButtonId, LedPattern
from tests.service.controller_recall_rows import recall_events, recall_rows, recall_states, with_recall

MS = 1_000_000
AF, SHUT, REM = ButtonId.AF_ON, ButtonId.SHUTTER, ButtonId.REMOTE


def press(button, t):
    return ButtonEvent(button, True, t)


def release(button, t):
    return ButtonEvent(button, False, t)


def make(mode="continuous", priority="release", burst=False, fps=5.0, limit=3, timeout_ms=500.0, trap=False):
    return Controller(
        AfConfig(mode=mode),
        ShutterConfig(priority=priority, focus_timeout_ms=timeout_ms, burst=burst, burst_fps=fps, burst_limit=limit,
                      trap=trap),
    )


def af_commands(commands):
    return [c for c in commands if isinstance(c, (StartAf, StopAf))]


def captures(commands):
    return [c for c in commands if isinstance(c, Capture)]


# ------------------------------------------------------------------------- the table: every event in every state
#
# Each state is reached from a new controller by a list of events, all before T; then one event
# arrives at T (the "tick, 2.5 s later" at T + 2.5 s: after every flash, error, focus timeout and
# burst interval of the states). For every (state, event) the table says which commands come out
# besides the LED, and which LED pattern is shown afterwards. Both are written out here, not read
# back from the controller: the test compares the controller's whole command list with
# ``commands + [ShowLed(led)]`` (the ShowLed only when ``led`` differs from what the state showed).
#
# The settings run over shutter priority (release, focus), burst (off, on) and AF mode
# (continuous, single); a row is a function of them, so where a setting matters the row says how.
# Burst: 5 fps (one frame every 200 ms), limit 4; focus timeout 500 ms.

OFF, BLINK, STEADY, FAST, FLASH, ERROR = (
    LedPattern.OFF, LedPattern.BLINK, LedPattern.STEADY, LedPattern.FAST_BLINK, LedPattern.FLASH, LedPattern.ERROR)

T = 1000 * MS  #: when the event under test arrives
LATE = 2500  #: ms after T: the late tick


def at(ms: float) -> int:
    """A time ``ms`` milliseconds after T (negative: before)."""
    return T + int(ms * MS)


@dataclasses.dataclass(frozen=True)
class Settings:
    priority: str
    burst: bool
    mode: str
    trap: bool = False  #: shutter.trap (the trap's own table, TRAP_STATES, runs with it on)

    @property
    def focus(self) -> bool:
        return self.priority == "focus"

    def start(self) -> list:
        return [StartAf(AfMode(self.mode))]

    def reason(self, focus_word: str) -> str:
        """The reason recorded for a press that fires at once."""
        return "shutter priority release" if self.priority == "release" else f"focus: {focus_word}"

    def controller(self) -> Controller:
        return make(mode=self.mode, priority=self.priority, burst=self.burst, fps=5.0, limit=4, timeout_ms=500.0,
                    trap=self.trap)


SETTINGS = [Settings(p, b, m) for p in ("release", "focus") for b in (False, True) for m in ("continuous", "single")]


def shot(press_id: int, press_ms: float, due_ms: float, reason: str, index: int = 0) -> Capture:
    return Capture(press_id, at(press_ms), at(due_ms), reason, index)


EVENTS = {
    "AF-ON press": press(AF, T),
    "AF-ON release": release(AF, T),
    "shutter press": press(SHUT, T),
    "shutter release": release(SHUT, T),
    "remote press": press(REM, T),
    "remote release": release(REM, T),
    "remote focus press": press(ButtonId.REMOTE_FOCUS, T),
    "remote focus release": release(ButtonId.REMOTE_FOCUS, T),
    "FOCUSED": AfStateChanged(AfState.FOCUSED, T),
    "FAILED": AfStateChanged(AfState.FAILED, T),
    "SCANNING": AfStateChanged(AfState.SCANNING, T),
    "IDLE": AfStateChanged(AfState.IDLE, T),
    "tick": Tick(T),
    "tick, 2.5 s later": Tick(at(LATE)),
    "capture ok": CaptureFinished(1, None, T),
    "capture failed": CaptureFinished(1, "disk full", T),
    "camera fault": CameraFault(False, T, "gone"),
    "camera back": CameraFault(True, T),
    "Stopping": Stopping(T),
    **recall_events(T),
    # the camera thread saw press 1's trap fire; its peak frame was exposed at -5
    "trap fired": TrapTriggered(1, at(-5), T),
    "bracket asked": BracketRequested(T),
    "bracket ended": BracketEnded(T),
}

#: state -> (events from a new controller, the LED pattern that leaves shown)
STATES = {
    "idle": (
        [], lambda s: OFF),
    "scanning": (
        [press(AF, at(-50))], lambda s: BLINK),
    # with mode "single" this is single AF after it locked
    "focused": (
        [press(AF, at(-50)), AfStateChanged(AfState.FOCUSED, at(-40))], lambda s: STEADY),
    "failed": (
        [press(AF, at(-50)), AfStateChanged(AfState.FAILED, at(-40))], lambda s: FAST),
    "released after lock": (
        [press(AF, at(-50)), AfStateChanged(AfState.FOCUSED, at(-40)), release(AF, at(-30))], lambda s: OFF),
    # press 1 at -100: its flash is over at T (-20), its burst (if on) next due at +100
    "shutter held": (
        [press(SHUT, at(-100))], lambda s: FLASH),
    "remote held": (
        [press(REM, at(-100))], lambda s: FLASH),
    # press 1 at -300, burst frame 1 at -100; next due +100 (burst off: one capture, long done)
    "burst in progress": (
        [press(SHUT, at(-300)), Tick(at(-100))], lambda s: FLASH if s.burst else OFF),
    # press 1 at -30: its flash lasts until +50
    "capture flash shown": (
        [press(SHUT, at(-30)), release(SHUT, at(-20))], lambda s: FLASH),
    # focus: press 1 waits (deadline +460), still held. release: captured at -40, flash until +40
    "scanning, shutter held": (
        [press(AF, at(-50)), press(SHUT, at(-40))], lambda s: BLINK if s.focus else FLASH),
    # focus: press 1 waits, shutter let go. release: captured at -40, flash until +40
    "focus wait": (
        [press(AF, at(-50)), press(SHUT, at(-40)), release(SHUT, at(-30))], lambda s: BLINK if s.focus else FLASH),
    # focus: presses 1 (-40) and 2 (-20) wait. release: both captured, flash until +60
    "two focus waits": (
        [press(AF, at(-50)), press(SHUT, at(-40)), release(SHUT, at(-30)), press(SHUT, at(-20)),
         release(SHUT, at(-10))], lambda s: BLINK if s.focus else FLASH),
    # focus: press 1 waits and AF-ON is let go (the wait fires at the next tick)
    "focus wait, AF-ON let go": (
        [press(AF, at(-50)), press(SHUT, at(-40)), release(SHUT, at(-30)), release(AF, at(-20))],
        lambda s: OFF if s.focus else FLASH),
    # a failed capture at -100: the error pattern until +1900
    "error shown": (
        [CaptureFinished(1, "disk full", at(-100))], lambda s: ERROR),
    "camera down": (
        [CameraFault(False, at(-100), "gone")], lambda s: ERROR),
    **recall_states(at),
    # a shutter double-press at -300/-200 (AF-ON up): press 1 captured (flash over at -220), a series runs
    "bracketing": (
        [press(SHUT, at(-300)), release(SHUT, at(-280)), press(SHUT, at(-200)), release(SHUT, at(-180))],
        lambda s: OFF),
}


def row_idle(s: Settings) -> dict:
    """Nothing held, nothing shown. Also what "released after lock" does (AF-ON let go: IDLE)."""
    fire = [shot(1, 0, 0, s.reason("AF-ON not held"))]
    return {
        "AF-ON press": (s.start(), BLINK),
        "AF-ON release": ([], OFF),
        "shutter press": (fire, FLASH),
        "shutter release": ([], OFF),
        "remote press": (fire, FLASH),
        "remote release": ([], OFF),
        "FOCUSED": ([], OFF),  # AF-ON not held: the LED shows nothing of the engine
        "FAILED": ([], OFF),
        "SCANNING": ([], OFF),
        "IDLE": ([], OFF),
        "tick": ([], OFF),
        "tick, 2.5 s later": ([], OFF),
        "capture ok": ([], OFF),
        "capture failed": ([], ERROR),
        "camera fault": ([], ERROR),
        "camera back": ([], OFF),
        "Stopping": ([], OFF),
    }


def row_af_held(af_state: str, shown: LedPattern):
    """AF-ON held, the engine in ``af_state`` (SCANNING, FOCUSED, FAILED), no press waiting."""

    def row(s: Settings) -> dict:
        if s.focus and af_state == "SCANNING":
            fire = ([], BLINK)  # focus priority: the press waits for the scan
        else:
            fire = ([shot(1, 0, 0, s.reason(af_state))], FLASH)
        return {
            "AF-ON press": ([], shown),  # already held: nothing
            "AF-ON release": ([StopAf()], OFF),
            "shutter press": fire,
            "shutter release": ([], shown),
            "remote press": fire,
            "remote release": ([], shown),
            "FOCUSED": ([], STEADY),
            "FAILED": ([], FAST),
            "SCANNING": ([], BLINK),
            "IDLE": ([], OFF),
            "tick": ([], shown),
            "tick, 2.5 s later": ([], shown),
            "capture ok": ([], shown),
            "capture failed": ([], ERROR),
            "camera fault": ([], ERROR),
            "camera back": ([], shown),
            "Stopping": ([], shown),
        }

    return row


def row_capture_held(holder: str, press_ms: int, burst_taken: int):
    """``holder`` ("shutter" or "remote") holds press 1 (made at ``press_ms``); with burst on,
    ``burst_taken`` frames are taken and the next is due at +100. The flash is over at T."""

    def row(s: Settings) -> dict:
        other = "remote" if holder == "shutter" else "shutter"
        late = ([shot(1, press_ms, 100, "burst", burst_taken)], FLASH) if s.burst else ([], OFF)
        return {
            "AF-ON press": (s.start(), BLINK),
            "AF-ON release": ([], OFF),
            f"{holder} press": ([], OFF),  # a second press without a release: nothing
            f"{holder} release": ([], OFF),  # ends the burst (the late tick after it: nothing)
            f"{other} press": ([], OFF),  # the other input adds nothing while one holds a capture
            f"{other} release": ([], OFF),
            "FOCUSED": ([], OFF),
            "FAILED": ([], OFF),
            "SCANNING": ([], OFF),
            "IDLE": ([], OFF),
            "tick": ([], OFF),  # the next burst frame is not due before +100
            "tick, 2.5 s later": late,  # one frame, due at +100 (no catch-up volley)
            "capture ok": ([], OFF),
            "capture failed": ([], ERROR),
            "camera fault": ([], ERROR),
            "camera back": ([], OFF),
            "Stopping": ([], OFF),
        }

    return row


def row_flash_shown(s: Settings, double_press: bool = True) -> dict:
    """Press 1 at -30, let go: the flash is shown until +50 and covers the AF pattern. With AF-ON
    up at press 1 (``double_press``) a shutter press now is the second of a double-press: a series."""
    fire = [shot(2, 0, 0, s.reason("AF-ON not held"))]
    return {
        "AF-ON press": (s.start(), FLASH),
        "AF-ON release": ([], FLASH),
        "shutter press": ([StartBracket()] if double_press else fire, FLASH),
        "shutter release": ([], FLASH),
        "remote press": (fire, FLASH),
        "remote release": ([], FLASH),
        "FOCUSED": ([], FLASH),
        "FAILED": ([], FLASH),
        "SCANNING": ([], FLASH),
        "IDLE": ([], FLASH),
        "tick": ([], FLASH),
        "tick, 2.5 s later": ([], OFF),
        "capture ok": ([], FLASH),
        "capture failed": ([], ERROR),
        "camera fault": ([], ERROR),
        "camera back": ([], FLASH),
        "Stopping": ([], FLASH),
    }


def row_waiting(presses: list[int], held: bool):
    """AF-ON held and scanning; presses made at ``presses`` (ms). Focus priority: they wait, in
    order (deadlines press + 500 ms). Release priority: they were captured at once, the flash of
    the last lasts until its press + 80 ms (after T). ``held``: the shutter still holds the last."""

    def row(s: Settings) -> dict:
        n = len(presses) + 1  # the id of the next press

        def fire_all(due_ms: float, reason: str) -> list:
            return [shot(i, p, due_ms, reason) for i, p in enumerate(presses, 1)]

        if not s.focus:  # everything already captured: only the flash covers the AF pattern
            late_burst = [shot(1, presses[0], 160, "burst", 1)] if s.burst and held else []
            return {
                "AF-ON press": ([], FLASH),
                "AF-ON release": ([StopAf()], FLASH),
                "shutter press": ([] if held else [shot(n, 0, 0, "shutter priority release")], FLASH),
                "shutter release": ([], FLASH),
                "remote press": ([] if held else [shot(n, 0, 0, "shutter priority release")], FLASH),
                "remote release": ([], FLASH),
                "FOCUSED": ([], FLASH),
                "FAILED": ([], FLASH),
                "SCANNING": ([], FLASH),
                "IDLE": ([], FLASH),
                "tick": ([], FLASH),
                "tick, 2.5 s later": (late_burst, FLASH if late_burst else BLINK),
                "capture ok": ([], FLASH),
                "capture failed": ([], ERROR),
                "camera fault": ([], ERROR),
                "camera back": ([], FLASH),
                "Stopping": ([], FLASH),
            }
        return {
            "AF-ON press": ([], BLINK),
            "AF-ON release": ([StopAf()], OFF),  # the waits fire at the next tick
            "shutter press": ([], BLINK),  # held: nothing; let go: one more press waits
            "shutter release": ([], BLINK),
            "remote press": ([], BLINK),
            "remote release": ([], BLINK),
            "FOCUSED": (fire_all(0, "focus: FOCUSED"), FLASH),
            "FAILED": (fire_all(0, "focus: FAILED"), FLASH),
            "SCANNING": ([], BLINK),
            "IDLE": ([], OFF),  # not an end of the scan: they keep waiting (for the timeout)
            "tick": ([], BLINK),
            "tick, 2.5 s later": (fire_all(LATE, "focus: timeout"), FLASH),
            "capture ok": ([], BLINK),
            "capture failed": ([], ERROR),
            # no frame will come: they fire now and the daemon fails them with the camera's reason
            "camera fault": (fire_all(0, "focus: camera fault"), ERROR),
            "camera back": ([], BLINK),
            "Stopping": (fire_all(0, "focus: stopping"), FLASH),
        }

    return row


def row_wait_af_let_go(s: Settings) -> dict:
    """Press 1 at -40 during the scan, AF-ON let go at -20. Focus priority: press 1 still waits
    and fires at the next tick. Release priority: captured at -40, flash until +40."""
    if not s.focus:  # press 1 long captured: the "flash shown" state (AF-ON was held at press 1)
        return row_flash_shown(s, double_press=False)
    # a new press while press 1 still waits: press 1 first (every waiting press fires in order)
    in_order = [shot(1, -40, 0, "focus: AF-ON released"), shot(2, 0, 0, "focus: AF-ON not held")]
    return {
        "AF-ON press": (s.start(), BLINK),  # a new scan: press 1 waits for it (or its timeout)
        "AF-ON release": ([], OFF),
        "shutter press": (in_order, FLASH),
        "shutter release": ([], OFF),
        "remote press": (in_order, FLASH),
        "remote release": ([], OFF),
        "FOCUSED": ([shot(1, -40, 0, "focus: FOCUSED")], FLASH),
        "FAILED": ([shot(1, -40, 0, "focus: FAILED")], FLASH),
        "SCANNING": ([], OFF),
        "IDLE": ([], OFF),
        "tick": ([shot(1, -40, 0, "focus: AF-ON released")], FLASH),
        "tick, 2.5 s later": ([shot(1, -40, LATE, "focus: AF-ON released")], FLASH),
        "capture ok": ([], OFF),
        "capture failed": ([], ERROR),
        "camera fault": ([shot(1, -40, 0, "focus: camera fault")], ERROR),
        "camera back": ([], OFF),
        "Stopping": ([shot(1, -40, 0, "focus: stopping")], FLASH),
    }


def row_error(camera_down: bool):
    """The error pattern covers everything: a failed capture at -100 (shown until +1900), or the
    camera down since -100 (shown until it is back, and 2 s after the fault at least)."""

    def row(s: Settings) -> dict:
        fire = [shot(1, 0, 0, s.reason("AF-ON not held"))]  # the controller asks; the daemon fails it
        return {
            "AF-ON press": (s.start(), ERROR),
            "AF-ON release": ([], ERROR),
            "shutter press": (fire, ERROR),
            "shutter release": ([], ERROR),
            "remote press": (fire, ERROR),
            "remote release": ([], ERROR),
            "FOCUSED": ([], ERROR),
            "FAILED": ([], ERROR),
            "SCANNING": ([], ERROR),
            "IDLE": ([], ERROR),
            "tick": ([], ERROR),
            "tick, 2.5 s later": ([], ERROR if camera_down else OFF),
            "capture ok": ([], ERROR),
            "capture failed": ([], ERROR),
            "camera fault": ([], ERROR),
            "camera back": ([], ERROR),  # back at T, but the fault at -100 is shown until +1900
            "Stopping": ([], ERROR),
        }

    return row


def row_bracketing(s: Settings) -> dict:
    """A series runs: any press stops it and does nothing else; the rest leaves it running."""
    return {
        "AF-ON press": ([StopBracket(AF)], OFF),
        "AF-ON release": ([], OFF),
        "shutter press": ([StopBracket(SHUT)], OFF),
        "shutter release": ([], OFF),
        "remote press": ([StopBracket(REM)], OFF),
        "remote release": ([], OFF),
        "remote focus press": ([StopBracket(ButtonId.REMOTE_FOCUS)], OFF),
        "remote focus release": ([], OFF),
        "FOCUSED": ([], OFF),
        "FAILED": ([], OFF),
        "SCANNING": ([], OFF),
        "IDLE": ([], OFF),
        "tick": ([], OFF),
        "tick, 2.5 s later": ([], OFF),
        "capture ok": ([], OFF),
        "capture failed": ([], ERROR),
        "camera fault": ([], ERROR),
        "camera back": ([], OFF),
        "Stopping": ([], OFF),
        "bracket asked": ([], OFF),  # one runs already
        "bracket ended": ([], OFF),
        "recall press": ([StopBracket(ButtonId.RECALL)], OFF),
        "inlet: recall focus": ([], OFF),  # the series owns the lens
    }


#: the states where the command inlet's request starts a series: no series running, no focus input
#: or capture held, the camera up
BRACKET_STARTS = {"idle", "released after lock", "capture flash shown", "focus wait, AF-ON let go", "error shown",
                  "recall held", "recall held long, no tick", "recall stored, still held", "recalled"}

ROWS = {
    "idle": row_idle,
    "scanning": row_af_held("SCANNING", BLINK),
    "focused": row_af_held("FOCUSED", STEADY),
    "failed": row_af_held("FAILED", FAST),
    "released after lock": row_idle,
    "shutter held": row_capture_held("shutter", -100, burst_taken=1),
    "remote held": row_capture_held("remote", -100, burst_taken=1),
    "burst in progress": row_capture_held("shutter", -300, burst_taken=2),
    "capture flash shown": row_flash_shown,
    "scanning, shutter held": row_waiting([-40], held=True),
    "focus wait": row_waiting([-40], held=False),
    "two focus waits": row_waiting([-40, -20], held=False),
    "focus wait, AF-ON let go": row_wait_af_let_go,
    "error shown": row_error(camera_down=False),
    "camera down": row_error(camera_down=True),
    "bracketing": row_bracketing,
}
ROWS = {state: with_recall(row, lambda s, state=state: run_setup(state, s)[0].state.af_held)
        for state, row in ROWS.items()}
ROWS.update(recall_rows(row_idle, shot, LATE))


def with_remote_focus(state: str, row):
    """The remote's half press is a second AF-ON: pressed, it does what AF-ON's press does in that
    state; let go, what AF-ON's release does, unless AF-ON itself is held (then nothing: a second
    press of a held focus input is nothing either)."""

    def full(s: Settings) -> dict:
        entries = row(s)
        held = run_setup(state, s)[0].state.af_held
        entries.setdefault("remote focus press", entries["AF-ON press"])
        entries.setdefault("remote focus release", entries["AF-ON press" if held else "AF-ON release"])
        return entries

    return full


def with_bracket_events(state: str, row):
    """The inlet's request starts a series in BRACKET_STARTS' states, else nothing; a series
    ending by itself changes nothing but the controller's own flag. Neither changes the LED."""

    def full(s: Settings) -> dict:
        entries = row(s)
        unchanged = entries["capture ok"][1]  # an event that changes nothing shows the state's LED at T
        entries.setdefault("bracket asked", ([StartBracket()] if state in BRACKET_STARTS else [], unchanged))
        entries.setdefault("bracket ended", ([], unchanged))
        return entries

    return full


ROWS = {state: with_bracket_events(state, with_remote_focus(state, row)) for state, row in ROWS.items()}


def with_trap_off(row):
    """Trap focus off (these states' settings): a trap's fire report finds no trap armed and is
    ignored; only the time passes, as with a finished capture at T."""

    def full(s: Settings) -> dict:
        entries = row(s)
        entries["trap fired"] = entries["capture ok"]
        return entries

    return full


ROWS = {state: with_trap_off(row) for state, row in ROWS.items()}

def table_cases():
    for state in STATES:
        for event in EVENTS:
            for s in SETTINGS:
                yield pytest.param(state, event, s, id=f"{state}-{event}-{s.priority}-"
                                   f"burst {'on' if s.burst else 'off'}-{s.mode}")


def run_setup(state: str, s: Settings, states=None) -> tuple[Controller, LedPattern]:
    """The controller in ``state`` (of ``states``, default STATES), and the LED pattern its
    commands left shown."""
    controller = s.controller()
    shown = OFF  # the LED starts off
    for event in (states or STATES)[state][0]:
        for command in controller.handle(event):
            if isinstance(command, ShowLed):
                shown = command.pattern
    return controller, shown


def test_the_table_has_every_event_in_every_state():
    import typing

    from focusd.service.controller import Event

    assert {type(event) for event in EVENTS.values()} == set(typing.get_args(Event))
    assert {e.state for e in EVENTS.values() if isinstance(e, AfStateChanged)} == set(AfState)
    assert {(e.button, e.pressed) for e in EVENTS.values() if isinstance(e, ButtonEvent)} == {
        (b, p) for b in ButtonId for p in (True, False)}
    assert set(ROWS) == set(STATES)
    for state, row in ROWS.items():
        for s in SETTINGS:
            assert set(row(s)) == set(EVENTS), (state, s)


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: f"{s.priority}-burst {'on' if s.burst else 'off'}-{s.mode}")
def test_each_state_shows_its_led(state, s):
    _, shown = run_setup(state, s)
    assert shown == STATES[state][1](s)


@pytest.mark.parametrize("state, event_name, s", list(table_cases()))
def test_every_event_in_every_state(state, event_name, s):
    """The whole command list of each event in each state, and the LED pattern it leaves."""
    controller, shown_before = run_setup(state, s)
    expected_commands, expected_led = ROWS[state](s)[event_name]
    led_command = [ShowLed(expected_led)] if expected_led != shown_before else []
    assert controller.handle(EVENTS[event_name]) == list(expected_commands) + led_command


# ------------------------------------------------------------------ the trap's table (shutter.trap on)
#
# The same events, over the same settings with shutter.trap on, in the states trap focus adds
# (focusd.service.trap_rows). With AF-ON held a press is an ordinary one ("AF-ON held, trap on" is
# the "scanning" row); with AF-ON up it arms the trap and captures nothing until the fire.

TRAP_SETTINGS = [dataclasses.replace(s, trap=True) for s in SETTINGS]

TRAP_STATES = {
    "trap idle": ([], lambda s: OFF),
    # press 1 at -100 armed the trap: no capture, no flash
    "trap armed": ([press(SHUT, at(-100))], lambda s: OFF),
    "trap armed by the remote": ([press(REM, at(-100))], lambda s: OFF),
    # press 1 at -300 armed, fired at -250 (peak frame -260): flash until -170; burst frame 1 due -50
    "trap fired, shutter held": ([press(SHUT, at(-300)), TrapTriggered(1, at(-260), at(-250))], lambda s: FLASH),
    "trap fired, let go": ([press(SHUT, at(-300)), TrapTriggered(1, at(-260), at(-250)), release(SHUT, at(-200))],
                           lambda s: FLASH),
    "AF-ON held, trap on": ([press(AF, at(-50))], lambda s: BLINK),
    # armed at -100, AF-ON pressed at -50: disarmed, scanning, the shutter still held
    "trap disarmed by AF-ON": ([press(SHUT, at(-100)), press(AF, at(-50))], lambda s: BLINK),
}


def quiet_row(led: LedPattern, **changes) -> dict:
    """Every event gives no command and leaves ``led`` (errors show ERROR), but for ``changes``
    (event name with spaces as underscores -> entry)."""
    entries = {name: ([], led) for name in EVENTS}
    entries.update({"capture failed": ([], ERROR), "camera fault": ([], ERROR)})
    entries.update({name.replace("_", " "): entry for name, entry in changes.items()})
    return entries


def row_trap_idle(s: Settings, press_id: int = 1) -> dict:
    arm = ([ArmTrap(press_id, T)], OFF)
    return quiet_row(OFF, **{"AF-ON_press": (s.start(), BLINK), "remote_focus_press": (s.start(), BLINK),
                             "shutter_press": arm, "remote_press": arm})


def row_trap_armed(holder: str):
    def row(s: Settings) -> dict:
        take_focus = ([DisarmTrap(1, "AF-ON", T), *s.start()], BLINK)
        return quiet_row(OFF, **{
            "AF-ON_press": take_focus, "remote_focus_press": take_focus,
            f"{holder}_release": ([DisarmTrap(1, "released", T)], OFF),
            # the capture of the peak frame, for the press that armed it
            "trap_fired": ([Capture(1, at(-100), at(-5), "trap", 0)], FLASH),
        })

    return row


def row_trap_fired_held(s: Settings) -> dict:
    burst = ([shot(1, -300, -50, "burst", 1)], FLASH) if s.burst else ([], OFF)  # burst rules apply
    return quiet_row(OFF, **{"AF-ON_press": (s.start(), BLINK), "remote_focus_press": (s.start(), BLINK),
                             "tick": burst, "tick, 2.5 s later": burst})  # and it fires once: "trap fired" nothing


def row_trap_disarmed_by_af_on(s: Settings) -> dict:
    return quiet_row(BLINK, **{"AF-ON_release": ([StopAf()], OFF), "FOCUSED": ([], STEADY), "FAILED": ([], FAST),
                               "IDLE": ([], OFF)})  # no re-arm at the release: a new press arms


TRAP_ROWS = {
    "trap idle": row_trap_idle,
    "trap armed": row_trap_armed("shutter"),
    "trap armed by the remote": row_trap_armed("remote"),
    "trap fired, shutter held": row_trap_fired_held,
    "trap fired, let go": lambda s: row_trap_idle(s, press_id=2),
    "AF-ON held, trap on": ROWS["scanning"],
    "trap disarmed by AF-ON": row_trap_disarmed_by_af_on,
}
TRAP_ROWS = {state: with_recall(row, lambda s, state=state: run_setup(state, s, TRAP_STATES)[0].state.af_held,
                               force=True) for state, row in TRAP_ROWS.items()}


def with_bracket_in_trap(state: str, row):
    """The inlet's series request in the trap's states: it starts one when no focus input or
    capture is held (with shutter.trap the double-press is off: the shutter arms the trap)."""

    def full(s: Settings) -> dict:
        entries = row(s)
        controller = run_setup(state, s, TRAP_STATES)[0]
        starts = not (controller.state.af_held or controller.state.capture_held)
        unchanged = entries["capture ok"][1]
        entries["bracket asked"] = ([StartBracket()] if starts else [], unchanged)
        entries["bracket ended"] = ([], unchanged)
        return entries

    return full


TRAP_ROWS = {state: with_bracket_in_trap(state, row) for state, row in TRAP_ROWS.items()}


def trap_table_cases():
    for state in TRAP_STATES:
        for event in EVENTS:
            for s in TRAP_SETTINGS:
                yield pytest.param(state, event, s, id=f"{state}-{event}-{s.priority}-"
                                   f"burst {'on' if s.burst else 'off'}-{s.mode}")


def test_the_trap_table_has_every_event_in_every_state():
    assert set(TRAP_ROWS) == set(TRAP_STATES)
    for state, row in TRAP_ROWS.items():
        for s in TRAP_SETTINGS:
            assert set(row(s)) == set(EVENTS), (state, s)
            _, shown = run_setup(state, s, TRAP_STATES)
            assert shown == TRAP_STATES[state][1](s), state


@pytest.mark.parametrize("state, event_name, s", list(trap_table_cases()))
def test_every_event_in_every_trap_state(state, event_name, s):
    controller, shown_before = run_setup(state, s, TRAP_STATES)
    expected_commands, expected_led = TRAP_ROWS[state](s)[event_name]
    led_command = [ShowLed(expected_led)] if expected_led != shown_before else []
    assert controller.handle(EVENTS[event_name]) == list(expected_commands) + led_command


def test_a_trap_fire_starts_a_burst_at_the_rate_until_release():
    controller = make(burst=True, fps=10.0, limit=0, trap=True)
    assert controller.handle(press(SHUT, 0)) == [ArmTrap(1, 0)]
    first = captures(controller.handle(TrapTriggered(1, 480 * MS, 500 * MS)))
    assert [(c.reason, c.due_ns, c.burst_index) for c in first] == [("trap", 480 * MS, 0)]
    taken = [c for t in range(510, 900, 10) for c in captures(controller.handle(Tick(t * MS)))]
    assert [(c.reason, c.due_ns, c.burst_index) for c in taken] == [
        ("burst", (500 + 100 * k) * MS, k) for k in range(1, 4)]
    assert captures(controller.handle(release(SHUT, 900 * MS))) == []
    assert captures(controller.handle(Tick(2000 * MS))) == []
    assert controller.presses == 1


def test_a_stale_trap_fire_is_ignored_and_a_new_press_arms_anew():
    controller = make(trap=True)
    controller.handle(press(SHUT, 0))
    assert controller.handle(release(SHUT, 10 * MS)) == [DisarmTrap(1, "released", 10 * MS)]
    assert controller.handle(press(SHUT, 20 * MS)) == [ArmTrap(2, 20 * MS)]
    # the camera thread saw press 1's trap fire before it heard of the release: nothing
    assert captures(controller.handle(TrapTriggered(1, 5 * MS, 25 * MS))) == []
    assert [c.press_id for c in captures(controller.handle(TrapTriggered(2, 30 * MS, 40 * MS)))] == [2]


def test_trap_turned_on_by_a_reload_applies_from_the_next_press():
    controller = make()
    assert captures(controller.handle(press(SHUT, 0)))  # trap off: captured at once
    controller.handle(release(SHUT, 10 * MS))
    controller.reconfigure(AfConfig(), ShutterConfig(burst=False, trap=True))
    assert controller.handle(press(SHUT, 20 * MS)) == [ArmTrap(2, 20 * MS)]


@pytest.mark.parametrize(
    "events, expected_led",
    [
        ([], LedPattern.OFF),
        ([press(AF, 0), Tick(1 * MS)], LedPattern.BLINK),
        ([press(AF, 0), AfStateChanged(AfState.FOCUSED, 1 * MS)], LedPattern.STEADY),
        ([press(AF, 0), AfStateChanged(AfState.FAILED, 1 * MS)], LedPattern.FAST_BLINK),
        ([press(AF, 0), AfStateChanged(AfState.FOCUSED, 1 * MS), release(AF, 2 * MS)], LedPattern.OFF),
        ([press(SHUT, 0)], LedPattern.FLASH),
        ([press(SHUT, 0), release(SHUT, 1 * MS), Tick(FLASH_NS)], LedPattern.OFF),
        ([press(AF, 0), press(SHUT, 1 * MS), Tick(1 * MS + FLASH_NS)], LedPattern.BLINK),
        ([CaptureFinished(1, "disk full", 0)], LedPattern.ERROR),
        ([CaptureFinished(1, "disk full", 0), Tick(ERROR_NS)], LedPattern.OFF),
        ([CameraFault(False, 0, "gone"), Tick(10 * ERROR_NS)], LedPattern.ERROR),
        ([CameraFault(False, 0, "gone"), CameraFault(True, 10 * ERROR_NS)], LedPattern.OFF),
    ],
)
def test_led_patterns(events, expected_led):
    controller = make()
    for event in events:
        controller.handle(event)
    assert controller.state.led == expected_led


def test_continuous_release_then_nothing_moves_the_lens():
    controller = make()
    controller.handle(press(AF, 0))
    assert af_commands(controller.handle(release(AF, 5 * MS))) == [StopAf()]
    later = [Tick(t * MS) for t in range(10, 2000, 10)] + [press(SHUT, 2001 * MS), release(SHUT, 2002 * MS)]
    for event in later:
        assert af_commands(controller.handle(event)) == []


def test_single_mode_press_scans_once_and_holding_changes_nothing():
    controller = make(mode="single")
    assert af_commands(controller.handle(press(AF, 0))) == [StartAf(AfMode.SINGLE)]
    controller.handle(AfStateChanged(AfState.FOCUSED, 10 * MS))
    for t in range(11, 500):
        assert af_commands(controller.handle(Tick(t * MS))) == []
    assert af_commands(controller.handle(release(AF, 600 * MS))) == [StopAf()]
    assert af_commands(controller.handle(press(AF, 700 * MS))) == [StartAf(AfMode.SINGLE)]


def test_burst_at_rate_until_release():
    controller = make(burst=True, fps=10.0, limit=0)
    shots = captures(controller.handle(press(SHUT, 0)))
    for t in range(1, 350):  # 1 ms ticks up to 349 ms
        shots += captures(controller.handle(Tick(t * MS)))
    shots += captures(controller.handle(release(SHUT, 350 * MS)))
    for t in range(351, 1000):
        shots += captures(controller.handle(Tick(t * MS)))
    assert [s.due_ns for s in shots] == [0, 100 * MS, 200 * MS, 300 * MS]
    assert [s.burst_index for s in shots] == [0, 1, 2, 3]
    assert {s.press_id for s in shots} == {1}
    assert [s.reason for s in shots] == ["shutter priority release", "burst", "burst", "burst"]


def test_burst_stops_at_limit():
    controller = make(burst=True, fps=10.0, limit=3)
    shots = captures(controller.handle(press(SHUT, 0)))
    for t in range(1, 2000):
        shots += captures(controller.handle(Tick(t * MS)))
    assert len(shots) == 3


def test_burst_after_a_stall_does_not_volley():
    controller = make(burst=True, fps=10.0, limit=0)
    controller.handle(press(SHUT, 0))
    shots = captures(controller.handle(Tick(1000 * MS)))  # a one-second stall
    shots += captures(controller.handle(Tick(1010 * MS)))
    assert len(shots) == 1


def test_without_burst_holding_gives_one_capture():
    controller = make(burst=False)
    shots = captures(controller.handle(press(SHUT, 0)))
    for t in range(1, 3000, 7):
        shots += captures(controller.handle(Tick(t * MS)))
    assert len(shots) == 1


@pytest.mark.parametrize(
    "outcome, expected_reason, fire_time",
    [
        (AfStateChanged(AfState.FOCUSED, 40 * MS), "focus: FOCUSED", 40 * MS),
        (AfStateChanged(AfState.FAILED, 40 * MS), "focus: FAILED", 40 * MS),
        (Tick(510 * MS), "focus: timeout", 510 * MS),
        (release(AF, 40 * MS), "focus: AF-ON released", None),
    ],
)
def test_focus_priority_waits_then_fires_and_records_why(outcome, expected_reason, fire_time):
    controller = make(priority="focus", timeout_ms=500)
    controller.handle(press(AF, 0))
    assert captures(controller.handle(press(SHUT, 10 * MS))) == []
    assert captures(controller.handle(Tick(20 * MS))) == []
    shots = captures(controller.handle(outcome))
    shots += captures(controller.handle(Tick(60 * MS)))  # AF-ON release is seen on the next tick
    assert len(shots) == 1
    assert shots[0].reason == expected_reason
    assert shots[0].press_time_ns == 10 * MS
    if fire_time is not None:
        assert shots[0].due_ns == fire_time


def test_focus_priority_fires_at_once_when_focused_or_not_focusing():
    controller = make(priority="focus")
    assert [c.reason for c in captures(controller.handle(press(SHUT, 0)))] == ["focus: AF-ON not held"]
    controller.handle(release(SHUT, 1 * MS))
    controller.handle(press(AF, 2 * MS))
    controller.handle(AfStateChanged(AfState.FOCUSED, 3 * MS))
    assert [c.reason for c in captures(controller.handle(press(SHUT, 4 * MS)))] == ["focus: FOCUSED"]


def test_focus_priority_wait_fires_even_after_shutter_release():
    controller = make(priority="focus")
    controller.handle(press(AF, 0))
    controller.handle(press(SHUT, 1 * MS))
    controller.handle(release(SHUT, 2 * MS))
    shots = captures(controller.handle(AfStateChanged(AfState.FOCUSED, 30 * MS)))
    assert [s.reason for s in shots] == ["focus: FOCUSED"]


def test_remote_behaves_as_shutter_and_press_ids_count_presses():
    controller = make()
    first = captures(controller.handle(press(REM, 0)))
    controller.handle(release(REM, 5 * MS))
    second = captures(controller.handle(press(SHUT, 10 * MS)))
    assert [c.press_id for c in first + second] == [1, 2]


def test_reconfigure_applies_to_next_press():
    controller = make(mode="continuous")
    controller.reconfigure(AfConfig(mode="single"), dataclasses.replace(ShutterConfig(), burst=False))
    assert af_commands(controller.handle(press(AF, 0))) == [StartAf(AfMode.SINGLE)]


# ------------------------------------------------------------ focus priority: several presses waiting


def two_presses_during_a_scan(burst=False, timeout_ms=500.0, second_ms=30):
    """Focus priority, AF-ON held from 0 and scanning; press 1 at 10 ms, press 2 at ``second_ms``
    (each let go 10 ms later). Nothing is captured while they wait."""
    controller = make(priority="focus", burst=burst, timeout_ms=timeout_ms)
    events = [press(AF, 0), press(SHUT, 10 * MS), release(SHUT, 20 * MS),
              press(SHUT, second_ms * MS), release(SHUT, (second_ms + 10) * MS), Tick((second_ms + 15) * MS)]
    for event in events:
        assert captures(controller.handle(event)) == []
    return controller


def run(controller, events):
    """The captures the events give, each with the time of the event that gave it."""
    return [(event.time_ns, shot) for event in events for shot in captures(controller.handle(event))]


@pytest.mark.parametrize("state", [AfState.FOCUSED, AfState.FAILED], ids=["FOCUSED", "FAILED"])
def test_two_focus_waits_fire_in_press_order_when_the_scan_ends(state):
    controller = two_presses_during_a_scan()
    shots = captures(controller.handle(AfStateChanged(state, 100 * MS)))
    reason = f"focus: {state.name}"
    assert shots == [Capture(1, 10 * MS, 100 * MS, reason, 0), Capture(2, 30 * MS, 100 * MS, reason, 0)]
    later = [Tick(t * MS) for t in range(110, 2000, 10)] + [AfStateChanged(state, 2000 * MS), Stopping(2001 * MS)]
    assert run(controller, later) == []  # each press once, never again


def test_two_focus_waits_time_out_each_at_its_own_deadline():
    controller = two_presses_during_a_scan(second_ms=200)  # deadlines 510 and 700 ms
    shots = run(controller, [Tick(t * MS) for t in range(220, 1500, 10)])
    assert shots == [
        (510 * MS, Capture(1, 10 * MS, 510 * MS, "focus: timeout", 0)),
        (700 * MS, Capture(2, 200 * MS, 700 * MS, "focus: timeout", 0)),
    ]


def test_a_focus_wait_left_after_a_timeout_still_fires_when_focused():
    controller = two_presses_during_a_scan(second_ms=200)
    shots = run(controller, [Tick(t * MS) for t in range(220, 600, 10)] + [AfStateChanged(AfState.FOCUSED, 600 * MS)])
    assert shots == [
        (510 * MS, Capture(1, 10 * MS, 510 * MS, "focus: timeout", 0)),
        (600 * MS, Capture(2, 200 * MS, 600 * MS, "focus: FOCUSED", 0)),
    ]


def test_two_focus_waits_fire_in_press_order_at_the_tick_after_af_on_release():
    controller = two_presses_during_a_scan()
    assert controller.handle(release(AF, 50 * MS)) == [StopAf(), ShowLed(LedPattern.OFF)]
    shots = run(controller, [Tick(t * MS) for t in range(60, 1500, 10)])
    assert shots == [
        (60 * MS, Capture(1, 10 * MS, 60 * MS, "focus: AF-ON released", 0)),
        (60 * MS, Capture(2, 30 * MS, 60 * MS, "focus: AF-ON released", 0)),
    ]


def test_two_focus_waits_fire_at_once_in_press_order_at_stopping():
    controller = two_presses_during_a_scan()
    commands = controller.handle(Stopping(70 * MS))
    assert commands == [
        Capture(1, 10 * MS, 70 * MS, "focus: stopping", 0),
        Capture(2, 30 * MS, 70 * MS, "focus: stopping", 0),
        ShowLed(LedPattern.FLASH),
    ]
    later = [AfStateChanged(AfState.FOCUSED, 80 * MS), Stopping(90 * MS)] + [Tick(t * MS) for t in range(100, 1500, 10)]
    assert run(controller, later) == []


@pytest.mark.parametrize("held", [False, True])
def test_a_focus_wait_at_stopping_yields_a_capture(held):
    controller = make(priority="focus", burst=False)
    controller.handle(press(AF, 0))
    assert captures(controller.handle(press(SHUT, 10 * MS))) == []
    if not held:
        controller.handle(release(SHUT, 20 * MS))
    assert captures(controller.handle(Tick(30 * MS))) == []
    assert captures(controller.handle(Stopping(40 * MS))) == [Capture(1, 10 * MS, 40 * MS, "focus: stopping", 0)]


@pytest.mark.parametrize("priority", ["release", "focus"])
def test_stopping_with_no_press_waiting_gives_nothing(priority):
    controller = make(priority=priority)
    controller.handle(press(AF, 0))
    controller.handle(AfStateChanged(AfState.FOCUSED, 5 * MS))
    assert len(captures(controller.handle(press(SHUT, 10 * MS)))) == 1  # not waiting: fired at once
    assert captures(controller.handle(Stopping(20 * MS))) == []


# ------------------------------------------------------------- bursts and press order after a focus wait


def test_burst_after_a_focus_timeout_belongs_to_the_press_still_held():
    # focus priority, burst on: press 1 (10 ms) let go at 20 ms; press 2 (400 ms) held; both wait.
    # Press 1 times out at 510 ms while press 2 is held: it must not start a burst of its own.
    controller = make(priority="focus", burst=True, fps=5.0, limit=0, timeout_ms=500)
    events = [press(AF, 0), press(SHUT, 10 * MS), release(SHUT, 20 * MS), press(SHUT, 400 * MS)]
    shots = run(controller, events + [Tick(t * MS) for t in range(410, 1200, 10)])
    assert [(s.press_id, s.reason, s.burst_index) for _, s in shots] == [
        (1, "focus: timeout", 0), (2, "focus: timeout", 0), (2, "burst", 1)]


def test_press_after_af_on_release_keeps_its_burst_and_fires_after_the_press_waiting():
    controller = make(priority="focus", burst=True, fps=5.0, limit=0)
    events = [press(AF, 0), press(SHUT, 10 * MS), release(SHUT, 20 * MS), release(AF, 30 * MS), press(SHUT, 31 * MS)]
    shots = run(controller, events + [Tick(t * MS) for t in range(40, 700, 10)])
    assert [(s.press_id, s.burst_index) for _, s in shots] == [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]


# ------------------------------------------------------------------------------ the input table


def test_every_input_has_exactly_one_role_and_the_remote_is_a_shutter():
    from focusd.service.controller import ROLE_OF_INPUT, InputRole

    assert set(ROLE_OF_INPUT) == set(ButtonId)
    assert {b for b, role in ROLE_OF_INPUT.items() if role is InputRole.FOCUS} == {ButtonId.AF_ON, ButtonId.REMOTE_FOCUS}
    assert {b for b, role in ROLE_OF_INPUT.items() if role is InputRole.CAPTURE} == {ButtonId.SHUTTER, ButtonId.REMOTE}


def test_an_input_without_a_role_is_refused_not_taken_for_a_shutter(monkeypatch):
    import focusd.service.controller as controller_module

    table = dict(controller_module.ROLE_OF_INPUT)
    del table[ButtonId.REMOTE]  # as a third input added to ButtonId but not to the table would be
    monkeypatch.setattr(controller_module, "ROLE_OF_INPUT", table)
    with pytest.raises(ValueError, match="remote"):
        make()


def test_an_unknown_event_is_refused():
    with pytest.raises(TypeError, match="not a controller event"):
        make().handle(object())


def test_the_remote_half_press_focuses_as_af_on_and_focus_stops_with_the_last_focus_input():
    half = ButtonId.REMOTE_FOCUS
    controller = make(mode="continuous")
    assert af_commands(controller.handle(press(half, 0))) == [StartAf(AfMode.CONTINUOUS)]
    assert af_commands(controller.handle(press(AF, 10 * MS))) == []  # the thumb joins: already focusing
    assert af_commands(controller.handle(release(half, 20 * MS))) == []  # the thumb still holds
    assert controller.state.af_held
    assert af_commands(controller.handle(release(AF, 30 * MS))) == [StopAf()]
    assert not controller.state.af_held
    # and the other way round: AF-ON first, the remote's release last
    assert af_commands(controller.handle(press(AF, 40 * MS))) == [StartAf(AfMode.CONTINUOUS)]
    controller.handle(press(half, 50 * MS))
    assert af_commands(controller.handle(release(AF, 60 * MS))) == []
    assert af_commands(controller.handle(release(half, 70 * MS))) == [StopAf()]


def test_a_focus_priority_press_waits_for_a_scan_the_remote_half_press_started():
    controller = make(priority="focus")
    controller.handle(press(ButtonId.REMOTE_FOCUS, 0))
    assert captures(controller.handle(press(REM, 10 * MS))) == []  # the full press waits for the scan
    (capture,) = captures(controller.handle(AfStateChanged(AfState.FOCUSED, 20 * MS)))
    assert capture.reason == "focus: FOCUSED"


def test_each_capture_names_the_input_pressed_through_bursts_and_focus_waits():
    controller = make(burst=True, fps=5.0, limit=3)
    (first,) = captures(controller.handle(press(REM, 0)))
    (burst,) = captures(controller.handle(Tick(250 * MS)))  # the burst's next frame, 200 ms on
    controller.handle(release(REM, 300 * MS))
    assert (first.button, burst.button, burst.burst_index) == (REM, REM, 1)
    (shutter,) = captures(controller.handle(press(SHUT, 400 * MS)))
    assert shutter.button is SHUT
    waiting = make(priority="focus")
    waiting.handle(press(AF, 0))
    assert captures(waiting.handle(press(REM, 10 * MS))) == []
    (fired,) = captures(waiting.handle(AfStateChanged(AfState.FOCUSED, 20 * MS)))
    assert fired.button is REM


def test_a_shutter_double_press_with_af_on_up_starts_a_series_and_its_first_press_is_a_photo():
    controller = make()
    (first,) = captures(controller.handle(press(SHUT, 0)))
    controller.handle(release(SHUT, 60 * MS))
    assert StartBracket() in controller.handle(press(SHUT, 400 * MS))  # 0.34 s after the release
    assert controller.presses == 1 and first.press_id == 1
    controller.handle(release(SHUT, 450 * MS))
    assert controller.handle(Tick(2000 * MS)) == []  # the series runs: nothing else happens
    assert [c for c in controller.handle(press(SHUT, 2100 * MS)) if not isinstance(c, ShowLed)] == [StopBracket(SHUT)]
    controller.handle(release(SHUT, 2150 * MS))
    # the stop press opened no window: the next tap is a photo, and so is the one after it
    assert len(captures(controller.handle(press(SHUT, 2300 * MS)))) == 1


@pytest.mark.parametrize("events", [
    [press(SHUT, 0), release(SHUT, 60 * MS), press(SHUT, 500 * MS)],  # too late: 0.44 s after the release
    [press(AF, 0), press(SHUT, 10 * MS), release(SHUT, 60 * MS), release(AF, 70 * MS), press(SHUT, 200 * MS)],
    [press(SHUT, 0), release(SHUT, 60 * MS), press(AF, 100 * MS), release(AF, 150 * MS), press(SHUT, 200 * MS)],
    [press(REM, 0), release(REM, 60 * MS), press(REM, 200 * MS)],  # the remote is no gesture
], ids=["too slow", "AF-ON held at the first press", "AF-ON pressed between", "the remote"])
def test_what_is_not_a_double_press_is_a_photo(events):
    controller = make()
    out = [c for event in events for c in controller.handle(event)]
    assert StartBracket() not in out and len(captures(out)) == 2


def test_the_gesture_off_makes_every_press_a_photo_and_the_inlet_still_starts_a_series():
    controller = make()
    controller.reconfigure(AfConfig(), ShutterConfig(), bracket_gesture=False)
    out = [c for e in (press(SHUT, 0), release(SHUT, 60 * MS), press(SHUT, 200 * MS)) for c in controller.handle(e)]
    assert StartBracket() not in out and len(captures(out)) == 2
    controller.handle(release(SHUT, 260 * MS))
    assert StartBracket() in controller.handle(BracketRequested(300 * MS))
    assert controller.handle(BracketRequested(310 * MS)) == []  # one runs
    controller.handle(BracketEnded(400 * MS))
    assert len(captures(controller.handle(press(SHUT, 500 * MS)))) == 1  # a press is a photo again
