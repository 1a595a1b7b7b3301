"""Focus recall's controller rules across several events (the table covers one event per state)."""

from __future__ import annotations

from focusd.config.schema import AfConfig, RecallConfig, ShutterConfig
from focusd.service.controller import (
    ButtonEvent, Controller, FocusRecalled, RecallAsked, RecallFocus, ShowLed, StoreFocus, Tick,
)
from focusd.signals import ButtonId, LedPattern

MS = 1_000_000
AF, RECALL = ButtonId.AF_ON, ButtonId.RECALL


def controller(long_press_ms: float = 800.0) -> Controller:
    return Controller(AfConfig(), ShutterConfig(burst=False), RecallConfig(long_press_ms=long_press_ms))


def recall_commands(commands) -> list:
    return [c for c in commands if isinstance(c, (StoreFocus, RecallFocus))]


def leds(commands) -> list:
    return [c.pattern for c in commands if isinstance(c, ShowLed)]


def test_a_short_press_with_af_on_held_recalls_nothing_and_neither_does_the_inlet():
    c = controller()
    c.handle(ButtonEvent(AF, True, 0))
    assert recall_commands(c.handle(ButtonEvent(RECALL, True, 10 * MS))) == []
    assert recall_commands(c.handle(ButtonEvent(RECALL, False, 200 * MS))) == []
    assert recall_commands(c.handle(RecallAsked(False, 210 * MS))) == []
    # AF-ON let go: now it recalls
    c.handle(ButtonEvent(AF, False, 300 * MS))
    assert recall_commands(c.handle(ButtonEvent(RECALL, True, 400 * MS))) == []
    assert recall_commands(c.handle(ButtonEvent(RECALL, False, 500 * MS))) == [RecallFocus()]


def test_storing_works_with_af_on_held():
    c = controller()
    c.handle(ButtonEvent(AF, True, 0))
    c.handle(ButtonEvent(RECALL, True, 10 * MS))
    assert recall_commands(c.handle(Tick(700 * MS))) == []  # 690 ms: not yet
    assert recall_commands(c.handle(Tick(811 * MS))) == [StoreFocus()]  # 801 ms held
    assert recall_commands(c.handle(Tick(900 * MS))) == []  # once per press
    assert recall_commands(c.handle(ButtonEvent(RECALL, False, 1000 * MS))) == []  # the release recalls nothing


def test_a_long_press_stores_once_and_its_release_does_not_recall():
    c = controller(long_press_ms=300)
    c.handle(ButtonEvent(RECALL, True, 0))
    stored = c.handle(Tick(300 * MS))
    assert recall_commands(stored) == [StoreFocus()] and leds(stored) == [LedPattern.FLASH]
    assert recall_commands(c.handle(ButtonEvent(RECALL, False, 500 * MS))) == []
    # the next short press recalls
    c.handle(ButtonEvent(RECALL, True, 600 * MS))
    assert recall_commands(c.handle(ButtonEvent(RECALL, False, 700 * MS))) == [RecallFocus()]


def test_the_long_press_follows_a_reload():
    c = controller(long_press_ms=800)
    c.reconfigure(AfConfig(), ShutterConfig(burst=False), RecallConfig(long_press_ms=200))
    c.handle(ButtonEvent(RECALL, True, 0))
    assert recall_commands(c.handle(Tick(200 * MS))) == [StoreFocus()]


def test_the_recalled_lock_ends_when_af_on_takes_the_lens():
    c = controller()
    c.handle(ButtonEvent(RECALL, True, 0))
    c.handle(ButtonEvent(RECALL, False, 100 * MS))
    assert leds(c.handle(FocusRecalled(True, 200 * MS))) == [LedPattern.STEADY]
    c.handle(ButtonEvent(AF, True, 300 * MS))
    # AF-ON let go: the lens stays where AF left it, no recalled lock any more
    assert leds(c.handle(ButtonEvent(AF, False, 400 * MS))) == [LedPattern.OFF]
    assert c.state.recalled is False


def test_an_arrival_after_af_on_was_pressed_is_no_recalled_lock():
    c = controller()
    c.handle(ButtonEvent(RECALL, True, 0))
    c.handle(ButtonEvent(RECALL, False, 100 * MS))
    c.handle(ButtonEvent(AF, True, 150 * MS))
    c.handle(FocusRecalled(True, 200 * MS))
    assert leds(c.handle(ButtonEvent(AF, False, 300 * MS))) == [LedPattern.OFF]


def test_a_recall_with_nothing_stored_shows_the_error_pattern():
    c = controller()
    assert leds(c.handle(FocusRecalled(False, 0))) == [LedPattern.ERROR]
    assert leds(c.handle(Tick(2100 * MS))) == [LedPattern.OFF]
