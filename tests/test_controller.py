"""The controller, event by event in every state (table-driven)."""

from __future__ import annotations

import dataclasses

import pytest

from focusd.af.types import AfMode, AfState
from focusd.config import AfConfig, ShutterConfig
from focusd.controller import (
    ERROR_NS,
    FLASH_NS,
    AfStateChanged,
    ButtonEvent,
    CameraFault,
    Capture,
    CaptureFinished,
    Controller,
    ShowLed,
    StartAf,
    StopAf,
    Tick,
)
from focusd.hw.base import ButtonId, LedPattern

MS = 1_000_000
AF, SHUT, REM = ButtonId.AF_ON, ButtonId.SHUTTER, ButtonId.REMOTE


def press(button, t):
    return ButtonEvent(button, True, t)


def release(button, t):
    return ButtonEvent(button, False, t)


def make(mode="continuous", priority="release", burst=False, fps=5.0, limit=3, timeout_ms=500.0):
    return Controller(
        AfConfig(mode=mode),
        ShutterConfig(priority=priority, focus_timeout_ms=timeout_ms, burst=burst, burst_fps=fps, burst_limit=limit),
    )


#: states, each reached by a list of events from a new controller
STATES = {
    "idle": [],
    "scanning": [press(AF, 0)],
    "focused": [press(AF, 0), AfStateChanged(AfState.FOCUSED, 10 * MS)],
    "failed": [press(AF, 0), AfStateChanged(AfState.FAILED, 10 * MS)],
    "locked after release": [press(AF, 0), AfStateChanged(AfState.FOCUSED, 10 * MS), release(AF, 20 * MS)],
    "shutter held": [press(SHUT, 0)],
    "remote held": [press(REM, 0)],
    "scanning, shutter held": [press(AF, 0), press(SHUT, 1 * MS)],
    "camera down": [CameraFault(False, 0, "gone")],
}

EVENTS = {
    "AF-ON press": press(AF, 100 * MS),
    "AF-ON release": release(AF, 100 * MS),
    "shutter press": press(SHUT, 100 * MS),
    "shutter release": release(SHUT, 100 * MS),
    "remote press": press(REM, 100 * MS),
    "remote release": release(REM, 100 * MS),
    "focused": AfStateChanged(AfState.FOCUSED, 100 * MS),
    "failed": AfStateChanged(AfState.FAILED, 100 * MS),
    "scanning": AfStateChanged(AfState.SCANNING, 100 * MS),
    "tick": Tick(100 * MS),
    "capture ok": CaptureFinished(1, None, 100 * MS),
    "capture failed": CaptureFinished(1, "disk full", 100 * MS),
    "camera fault": CameraFault(False, 100 * MS, "gone"),
    "camera back": CameraFault(True, 100 * MS),
}


def setup(state: str, **settings) -> Controller:
    controller = make(**settings)
    for event in STATES[state]:
        controller.handle(event)
    return controller


def af_commands(commands):
    return [c for c in commands if isinstance(c, (StartAf, StopAf))]


def captures(commands):
    return [c for c in commands if isinstance(c, Capture)]


AF_HELD = {"scanning", "focused", "failed", "scanning, shutter held"}
CAPTURE_HELD = {"shutter held", "remote held", "scanning, shutter held"}


@pytest.mark.parametrize("mode", ["continuous", "single"])
@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("event_name", list(EVENTS))
def test_every_event_in_every_state(mode, state, event_name):
    """What each event does to focus and capture, in every state and both AF modes."""
    controller = setup(state, mode=mode)
    event = EVENTS[event_name]
    commands = controller.handle(event)
    focus = af_commands(commands)
    shots = captures(commands)

    if event_name == "AF-ON press":
        expected_focus = [] if state in AF_HELD else [StartAf(AfMode(mode))]
    elif event_name == "AF-ON release":
        expected_focus = [StopAf()] if state in AF_HELD else []
    else:
        expected_focus = []  # the shutter, the engine and the writer never move the focus
    assert focus == expected_focus

    if event_name in ("shutter press", "remote press"):
        if state in CAPTURE_HELD:
            assert shots == []  # the other input already holds a capture
        else:
            assert shots == [Capture(1, 100 * MS, 100 * MS, "release", 0)]
    else:
        assert shots == []

    # the LED always ends in the pattern the controller says it shows
    shown = [c.pattern for c in commands if isinstance(c, ShowLed)]
    if shown:
        assert shown[-1] == controller.state.led


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
    assert [s.reason for s in shots] == ["release", "burst", "burst", "burst"]


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
