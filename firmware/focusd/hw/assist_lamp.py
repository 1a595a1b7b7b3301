"""The AF-assist lamp: an LED on ``pins.af_assist`` (through a transistor: high = lit), through gpiozero.

gpiozero's pin factory decides the hardware (lgpio on the Pi, MockFactory on a desktop and in
tests), as for the buttons and the status LED (focusd.hw.gpio). Writing the pin takes effect at
once (microseconds): the lamp's light is on or off before the next exposure line starts, which is
what focusd.service.assist relies on.
"""

from __future__ import annotations

from gpiozero import Device, DigitalOutputDevice


class GpioAssistLamp:
    """The lamp as a gpiozero DigitalOutputDevice (active high), off when opened and closed."""

    def __init__(self, pin: int, pin_factory=None):
        self.device = DigitalOutputDevice(pin, active_high=True, initial_value=False, pin_factory=pin_factory)

    @property
    def lit(self) -> bool:
        return bool(self.device.value)

    def set(self, lit: bool) -> None:
        if lit:
            self.device.on()
        else:
            self.device.off()

    def close(self) -> None:
        self.device.off()
        self.device.close()


class NoAssistLamp:
    """No lamp fitted (``pins.af_assist`` unset): the decisions are still made, nothing lights."""

    lit = False

    def set(self, lit: bool) -> None:
        self.lit = lit

    def close(self) -> None:
        pass


def assist_lamp_for(config, pin_factory=None):
    """The lamp of ``config.pins.af_assist`` on ``pin_factory``, or none."""
    if config.pins.af_assist is None:
        return NoAssistLamp()
    return GpioAssistLamp(config.pins.af_assist, pin_factory=pin_factory)


def mock_pin_level(pin: int, pin_factory=None):
    """What reads the lamp's mock pin level (the simulated camera's view of its light, desktop and
    tests): ``pin_factory``, or gpiozero's default factory at the time of reading."""

    def read() -> bool:
        factory = pin_factory or Device.pin_factory
        return factory is not None and bool(factory.pin(pin).state)  # (no factory yet: nothing drove it)

    return read
