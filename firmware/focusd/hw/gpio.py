"""GPIO through gpiozero: the buttons, the status LED, and (desktop only) driving mock pins.

gpiozero chooses its pin factory in one place: ``GPIOZERO_PIN_FACTORY`` (``lgpio`` on a Pi 5 /
Bookworm, ``mock`` on a desktop and in tests), or the ``pin_factory`` passed here. Nothing else
differs between the Pi and the desktop, which is why this is the only module that touches gpiozero.

Callbacks only queue: ``when_pressed`` and ``when_released`` stamp the edge on the camera clock and
hand it to the sink (an :class:`focusd.service.buttons.EdgeQueue`); the camera thread does the rest.
gpiozero's own ``bounce_time`` is left off on purpose (see :mod:`focusd.service.buttons`).
"""

from __future__ import annotations

import itertools
from typing import Callable

from gpiozero import LED, Button, Device
from gpiozero.pins.mock import MockFactory

from focusd.config.settings import PinsConfig
from focusd.hw.base import Buttons, Indicator
from focusd.signals import ButtonId, LedPattern, RawEdge

EdgeSink = Callable[[RawEdge], None]
Clock = Callable[[], int]


def mock_pin_factory() -> MockFactory:
    """gpiozero's own mock pins, installed as the default factory (desktop and tests)."""
    factory = MockFactory()
    Device.pin_factory = factory
    return factory


def pin_numbers(pins: PinsConfig) -> dict[ButtonId, int]:
    numbers = {ButtonId.AF_ON: pins.af_on, ButtonId.SHUTTER: pins.shutter}
    if pins.remote is not None:
        numbers[ButtonId.REMOTE] = pins.remote
    if pins.remote_focus is not None:
        numbers[ButtonId.REMOTE_FOCUS] = pins.remote_focus
    if pins.recall is not None:
        numbers[ButtonId.RECALL] = pins.recall
    return numbers


def _button_kwargs(pins: PinsConfig) -> dict:
    if pins.pull == "up":
        return {"pull_up": True}
    if pins.pull == "down":
        return {"pull_up": False}
    return {"pull_up": None, "active_state": not pins.active_low}


class GpioButtons(Buttons):
    """AF-ON, shutter and the optional remote release (tip, and ring on a pin of its own) as gpiozero Buttons."""

    def __init__(self, pins: PinsConfig, sink: EdgeSink, clock: Clock, pin_factory=None):
        self._buttons: list[Button] = []
        kwargs = _button_kwargs(pins)
        try:
            for button_id, number in pin_numbers(pins).items():
                button = Button(number, bounce_time=None, pin_factory=pin_factory, **kwargs)
                button.when_pressed = self._callback(sink, clock, button_id, True)
                button.when_released = self._callback(sink, clock, button_id, False)
                self._buttons.append(button)
        except Exception:
            self.close()
            raise

    @staticmethod
    def _callback(sink: EdgeSink, clock: Clock, button_id: ButtonId, pressed: bool) -> Callable[[], None]:
        def on_edge() -> None:
            sink(RawEdge(button_id, pressed, clock()))

        return on_edge

    def close(self) -> None:
        for button in self._buttons:
            button.when_pressed = None
            button.when_released = None
            button.close()
        self._buttons.clear()


#: ERROR: three short flashes and a pause, repeated (10 steps of 0.1 s)
_ERROR_SEQUENCE = (1, 0, 1, 0, 1, 0, 0, 0, 0, 0)


class GpioIndicator(Indicator):
    """The status LED; gpiozero's background blinking keeps the camera thread free."""

    def __init__(self, pin: int, pin_factory=None):
        self.led = LED(pin, pin_factory=pin_factory)
        self.pattern = LedPattern.OFF

    def show(self, pattern: LedPattern) -> None:
        self.pattern = pattern
        led = self.led
        led.source = None
        if pattern is LedPattern.OFF:
            led.off()
        elif pattern is LedPattern.STEADY:
            led.on()
        elif pattern is LedPattern.BLINK:
            led.blink(on_time=0.25, off_time=0.25)
        elif pattern is LedPattern.FAST_BLINK:
            led.blink(on_time=0.05, off_time=0.05)
        elif pattern is LedPattern.FLASH:
            led.blink(on_time=0.06, off_time=0.02, n=1)
        elif pattern is LedPattern.ERROR:
            led.source_delay = 0.1
            led.source = itertools.cycle(_ERROR_SEQUENCE)

    def close(self) -> None:
        self.led.source = None
        self.led.close()


class NoIndicator(Indicator):
    """No LED fitted (``pins.led`` unset)."""

    pattern = LedPattern.OFF

    def show(self, pattern: LedPattern) -> None:
        self.pattern = pattern

    def close(self) -> None:
        pass


class MockPinDriver:
    """Presses and releases buttons on gpiozero mock pins, as a finger would (demo, tests)."""

    def __init__(self, pins: PinsConfig, pin_factory: MockFactory | None = None):
        factory = pin_factory or Device.pin_factory
        if not isinstance(factory, MockFactory):
            raise RuntimeError("button scripts drive gpiozero mock pins: set GPIOZERO_PIN_FACTORY=mock")
        self._pins = {button: factory.pin(number) for button, number in pin_numbers(pins).items()}
        # a closed contact pulls the pin to the active level
        active_high = pins.pull == "down" or (pins.pull == "none" and not pins.active_low)
        self._press_level = active_high
        if pins.pull == "none":  # no internal pull: the external resistor holds the released level
            for button in self._pins:
                self.release(button)

    def _drive(self, button: ButtonId, level: bool) -> None:
        pin = self._pins.get(button)
        if pin is None:
            raise ValueError(f"{button.value} has no pin: set pins.{button.value} to press it")
        if level:
            pin.drive_high()
        else:
            pin.drive_low()

    def press(self, button: ButtonId) -> None:
        self._drive(button, self._press_level)

    def release(self, button: ButtonId) -> None:
        self._drive(button, not self._press_level)

    def bounce(self, button: ButtonId, pressed: bool, chatter: int = 2) -> None:
        """A contact that bounces: ``chatter`` extra opposite/same edge pairs after the edge."""
        level = self._press_level if pressed else not self._press_level
        self._drive(button, level)
        for _ in range(chatter):
            self._drive(button, not level)
            self._drive(button, level)


def indicator_for_pins(pin_factory=None) -> Callable[..., Indicator]:
    """What builds the status LED from a configuration: ``pins.led`` on ``pin_factory``, or no LED."""

    def build(config) -> Indicator:
        if config.pins.led is None:
            return NoIndicator()
        return GpioIndicator(config.pins.led, pin_factory=pin_factory)

    return build
