"""Edges from gpiozero's MockFactory pins, through the edge queue and the debouncer."""

from __future__ import annotations

import random
import threading

import pytest
from gpiozero.pins.mock import MockFactory

from focusd.service.buttons import Debouncer, EdgeQueue
from focusd.config.settings import PinsConfig
from focusd.service.controller import ButtonEvent
from focusd.signals import ButtonId, LedPattern, RawEdge
from focusd.hw.gpio import GpioButtons, GpioIndicator, MockPinDriver

MS = 1_000_000
SHUT = ButtonId.SHUTTER


class VirtualClock:
    """Time for the edge stamps, moved by the test (the camera clock in the daemon)."""

    def __init__(self) -> None:
        self.now = 1_000 * MS

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def rig(factory):
    clock = VirtualClock()
    edges = EdgeQueue()
    pins = PinsConfig()
    buttons = GpioButtons(pins, edges.put, clock, pin_factory=factory)
    yield clock, edges, MockPinDriver(pins, factory), Debouncer(20 * MS)
    buttons.close()


def settle(clock, edges, debouncer, after_ms=25):
    clock.now += after_ms * MS
    found, levels = edges.drain()
    return debouncer.feed(found, levels) + debouncer.poll(clock.now)


def test_press_is_accepted_at_once_and_bounce_is_ignored(rig):
    clock, edges, finger, debouncer = rig
    finger.bounce(SHUT, pressed=True, chatter=3)
    found, levels = edges.drain()
    assert len(found) == 7  # every edge reaches the queue: the callback does not filter
    events = debouncer.feed(found, levels)
    assert events == [ButtonEvent(SHUT, True, clock.now)]  # stamped with the first edge's time
    assert settle(clock, edges, debouncer) == []  # the bounce ended pressed: nothing more


def test_bounce_ending_on_the_other_level_settles_after_the_window(rig):
    clock, edges, finger, debouncer = rig
    finger.press(SHUT)
    finger.release(SHUT)  # a tap shorter than the bounce window
    assert debouncer.feed(*edges.drain()) == [ButtonEvent(SHUT, True, clock.now)]
    assert debouncer.poll(clock.now + 5 * MS) == []  # still inside the window
    settled_at = clock.now + 25 * MS
    assert settle(clock, edges, debouncer) == [ButtonEvent(SHUT, False, settled_at)]


def test_callbacks_only_queue_on_the_driving_thread(factory):
    clock = VirtualClock()
    seen = []
    pins = PinsConfig()
    buttons = GpioButtons(pins, lambda edge: seen.append((threading.current_thread(), edge)), clock, pin_factory=factory)
    try:
        MockPinDriver(pins, factory).press(ButtonId.AF_ON)
    finally:
        buttons.close()
    # MockFactory runs the callback inside drive_low(), on the driving thread
    assert seen == [(threading.current_thread(), RawEdge(ButtonId.AF_ON, True, clock.now))]


def test_chattering_contact_neither_grows_the_queue_nor_loses_the_final_state(factory):
    clock = VirtualClock()
    edges = EdgeQueue(maxsize=64)
    pins = PinsConfig()
    buttons = GpioButtons(pins, edges.put, clock, pin_factory=factory)
    finger = MockPinDriver(pins, factory)
    debouncer = Debouncer(20 * MS)
    chance = random.Random(7)
    events = []
    try:
        for _ in range(10_000):
            (finger.press if chance.random() < 0.5 else finger.release)(SHUT)
            clock.now += chance.randrange(0, 3 * MS)
            assert len(edges) <= 64
            if chance.random() < 0.01:
                events += debouncer.feed(*edges.drain()) + debouncer.poll(clock.now)
        finger.release(SHUT)
        events += settle(clock, edges, debouncer)
        events += settle(clock, edges, debouncer)
    finally:
        buttons.close()
    assert edges.dropped > 0  # the bound was exercised
    assert debouncer.pressed(SHUT) is False  # settled to the contact's real level
    presses = [e for e in events if e.pressed]
    releases = [e for e in events if not e.pressed]
    assert len(presses) == len(releases)  # every press has its release, none doubled
    for first, second in zip(events, events[1:]):
        assert first.pressed != second.pressed  # strictly alternating


def test_held_button_changes_nothing_after_its_first_effect(rig):
    clock, edges, finger, debouncer = rig
    finger.press(SHUT)
    assert len(debouncer.feed(*edges.drain())) == 1
    for _ in range(120 * 60):  # a minute of frames at 120 fps
        clock.now += 8 * MS
        assert debouncer.feed(*edges.drain()) + debouncer.poll(clock.now) == []


def test_closed_edge_queue_takes_nothing(rig):
    clock, edges, finger, debouncer = rig
    edges.accepting = False
    finger.press(SHUT)
    assert edges.drain() == ([], {})


@pytest.mark.parametrize("pull, active_low", [("up", True), ("down", False), ("none", True), ("none", False)])
def test_pull_and_active_level(factory, pull, active_low):
    clock = VirtualClock()
    edges = EdgeQueue()
    pins = PinsConfig(pull=pull, active_low=active_low)
    buttons = GpioButtons(pins, edges.put, clock, pin_factory=factory)
    try:
        finger = MockPinDriver(pins, factory)  # puts floating pins at the released level
        edges.drain()
        finger.press(SHUT)
        finger.release(SHUT)
        assert [(e.button, e.pressed) for e in edges.drain()[0]] == [(SHUT, True), (SHUT, False)]
    finally:
        buttons.close()


def test_led_patterns_drive_the_pin(factory):
    led = GpioIndicator(23, pin_factory=factory)
    pin = factory.pin(23)
    try:
        led.show(LedPattern.STEADY)
        assert pin.state
        led.show(LedPattern.OFF)
        assert not pin.state
        for pattern in (LedPattern.BLINK, LedPattern.FAST_BLINK, LedPattern.FLASH):
            led.show(pattern)
            assert led.led._blink_thread is not None  # gpiozero blinks on its own thread
        led.show(LedPattern.ERROR)
        assert led.led.source is not None
        led.show(LedPattern.OFF)
        assert not pin.state and led.led.source is None and led.led._blink_thread is None
    finally:
        led.close()


@pytest.mark.parametrize("moment", ["acquire", "release"])
def test_an_edge_arriving_during_a_drain_is_reported_with_its_own_time(moment):
    """The GPIO thread queues an edge while the camera thread drains (here: as the drain takes, or
    lets go of, the queue's lock). The press is reported once, at the edge's own time: never known
    only by its level and settled at the time of a frame exposed before it."""
    edges = EdgeQueue()
    debouncer = Debouncer(20 * MS)
    frame_ns = 1_000 * MS  # the frame in hand, exposed before the press
    press = RawEdge(SHUT, True, frame_ns + 5 * MS)
    lock = edges._lock

    class EdgeDuringTheDrain:
        """The queue's lock, with the press put at ``moment`` of its first use (the drain)."""

        armed = True

        def __enter__(self):
            if self.armed and moment == "acquire":
                self.armed = False
                edges.put(press)
            return lock.__enter__()

        def __exit__(self, *exc):
            lock.__exit__(*exc)
            if self.armed and moment == "release":
                self.armed = False
                edges.put(press)

    edges._lock = EdgeDuringTheDrain()
    events = []
    for frame in (frame_ns, frame_ns + 8 * MS):  # this frame and the next
        found, levels = edges.drain()
        events += debouncer.feed(found, levels) + debouncer.poll(frame)
    assert events == [ButtonEvent(SHUT, True, press.time_ns)]


def test_levels_come_only_for_inputs_whose_edges_were_dropped():
    edges = EdgeQueue(maxsize=2)
    edges.put(RawEdge(ButtonId.AF_ON, True, 1))
    edges.put(RawEdge(SHUT, True, 2))
    edges.put(RawEdge(SHUT, False, 3))  # dropped: only its level is kept
    assert edges.drain() == ([RawEdge(ButtonId.AF_ON, True, 1), RawEdge(SHUT, True, 2)], {SHUT: False})
    assert edges.dropped == 1
    edges.put(RawEdge(SHUT, True, 4))
    assert edges.drain() == ([RawEdge(SHUT, True, 4)], {})
