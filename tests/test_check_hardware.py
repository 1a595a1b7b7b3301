"""``focusd check-hardware``: the wiring check, run against gpiozero's mock pins as on a desktop
(``--sim``); a test thread is the builder's finger."""

from __future__ import annotations

import dataclasses
import io
import threading

from gpiozero.pins.mock import MockFactory

from focusd import cli
from focusd.commands.check_hardware import check
from focusd.config.settings import default_config
from focusd.hw.gpio import MockPinDriver
from focusd.signals import ButtonId

TIMEOUT = 30.0


def sim_config(**pins):
    config = default_config()
    return dataclasses.replace(config, camera=dataclasses.replace(config.camera, backend="sim"),
                               pins=dataclasses.replace(config.pins, **pins))


class Running:
    """``check`` on its own thread, as the command's main thread runs it until Ctrl-C."""

    def __init__(self, config):
        self.factory = MockFactory()
        self.out = io.StringIO()
        self.stop = threading.Event()
        self.status: int | None = None
        opened = threading.Event()
        real_write = self.out.write

        def write(text: str) -> int:  # the second line is printed once the pins are open
            if "press and release each button" in text:
                opened.set()
            return real_write(text)

        self.out.write = write
        self.thread = threading.Thread(target=self._run, args=(config,), daemon=True)
        self.thread.start()
        assert opened.wait(TIMEOUT), self.out.getvalue()
        self.finger = MockPinDriver(config.pins, self.factory)

    def _run(self, config) -> None:
        self.status = check(config, self.factory, self.stop, out=self.out)

    def finish(self) -> tuple[int, str]:
        self.stop.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        return self.status, self.out.getvalue()


def led_level(running: Running, config) -> bool:
    return bool(running.factory.pin(config.pins.led).state)


def test_every_press_and_release_shows_live_and_the_led_follows():
    config = sim_config(bounce_ms=0.0)
    running = Running(config)
    for button in (ButtonId.AF_ON, ButtonId.SHUTTER, ButtonId.REMOTE):
        running.finger.press(button)
        # the edge is on screen as it happens, and the LED is steady while a button is held
        assert running.out.getvalue().splitlines()[-1].split()[2:] == [button.value, f"GPIO{getattr(config.pins, button.value)}", "pressed"]
        assert led_level(running, config) is True
        running.finger.release(button)
        assert running.out.getvalue().splitlines()[-1].endswith("released")
    status, text = running.finish()
    assert status == 0, text
    assert "af_on    GPIO17  1 presses, 1 releases" in text and "never pressed" not in text
    assert "contact bounce" not in text


def test_a_button_never_pressed_is_named_and_fails_the_check():
    config = sim_config(remote=None, bounce_ms=1000.0)
    running = Running(config)
    running.finger.press(ButtonId.SHUTTER)
    running.finger.release(ButtonId.SHUTTER)  # at once: within the 1 s bounce window
    status, text = running.finish()
    assert status == 1
    assert "af_on    GPIO17  0 presses, 0 releases   <- never pressed and released" in text
    assert "shutter  GPIO27  1 presses, 1 releases\n" in text
    assert "released   (within 1000 ms of the last edge: contact bounce)" in text
    assert "remote" not in text.split("\n", 1)[1]  # not fitted: not listed


def test_the_command_runs_on_mock_pins_with_sim_and_refuses_a_bad_duration(capsys):
    assert cli.main(["check-hardware", "--sim", "--seconds", "0.05"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("focusd check-hardware: af_on GPIO17, shutter GPIO27, remote GPIO22; LED GPIO23")
    assert cli.main(["check-hardware", "--sim", "--seconds", "0"]) == 2
    assert "--seconds 0: need a positive number" in capsys.readouterr().err
