"""``focusd check-hardware``: the builder's wiring check, without the camera or the daemon.

Opens the configured pins (``[pins]``, read as every command reads its configuration) the way the
daemon does, prints every press and release of each button as it happens, with its time and a
note when it came within ``pins.bounce_ms`` of the one before (contact bounce), and blinks the
status LED (steady while a button is held, so the LED's wiring shows too). Ctrl-C, or
``--seconds``, ends it with a count per button; the exit status is 0 if every configured button
was pressed and released, 1 if one never was (a wire to look at), 69 if the pins cannot be opened
(not on a Pi, or the GPIO device is busy: stop the service first).

With ``camera.backend = "sim"`` (``--sim``) it runs on gpiozero's mock pins: nothing is pressed
unless something drives them, which is how the tests run it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from focusd.config import loader
from focusd.errors import EX_UNAVAILABLE

HELP = "wiring check: button presses shown live, the LED blinking"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)
    parser.add_argument("--sim", action="store_true", help="gpiozero's mock pins (camera.backend = \"sim\")")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="stop after N seconds (default: at Ctrl-C)")


@dataclass
class ButtonCount:
    pin: int
    presses: int = 0
    releases: int = 0
    last_edge_ns: int | None = None


@dataclass
class WiringCheck:
    """The edges seen, per button, printed as they come (gpiozero's threads call :meth:`edge`)."""

    counts: dict  #: ButtonId -> ButtonCount
    bounce_ns: int
    out: object
    started_ns: int = field(default_factory=time.monotonic_ns)
    on_change: object = None  #: called with the number of buttons held after each edge
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def edge(self, edge) -> None:
        with self._lock:
            count = self.counts[edge.button]
            bounce = count.last_edge_ns is not None and edge.time_ns - count.last_edge_ns < self.bounce_ns
            count.last_edge_ns = edge.time_ns
            if edge.pressed:
                count.presses += 1
            else:
                count.releases += 1
            held = sum(c.presses > c.releases for c in self.counts.values())
            note = f"   (within {self.bounce_ns / 1e6:g} ms of the last edge: contact bounce)" if bounce else ""
            print(f"{(edge.time_ns - self.started_ns) / 1e9:9.3f} s  {edge.button.value:<8} GPIO{count.pin:<3} "
                  f"{'pressed' if edge.pressed else 'released'}{note}", file=self.out, flush=True)
        if self.on_change is not None:
            self.on_change(held)

    def report(self) -> tuple[list[str], bool]:
        """One line per button, and whether every one was pressed and released."""
        lines, complete = [], True
        for button, count in self.counts.items():
            seen = count.presses > 0 and count.releases > 0
            complete &= seen
            lines.append(f"{button.value:<8} GPIO{count.pin:<3} {count.presses} presses, {count.releases} releases"
                         + ("" if seen else "   <- never pressed and released: check its wiring and [pins]"))
        return lines, complete


def check(config, pin_factory, stop: threading.Event, seconds: float | None = None, out=None) -> int:
    """Open the pins of ``config``, report edges to ``out`` (default: stdout) until ``stop`` is set
    (or ``seconds`` pass), close them; the exit status."""
    out = sys.stdout if out is None else out
    # gpiozero is a device library: imported where the pins are opened (focusd.hw.gpio)
    from focusd.hw.gpio import GpioButtons, GpioIndicator, pin_numbers
    from focusd.signals import LedPattern

    pins = config.pins
    counts = {button: ButtonCount(number) for button, number in pin_numbers(pins).items()}
    seen = WiringCheck(counts, int(pins.bounce_ms * 1e6), out)
    listed = ", ".join(f"{button.value} GPIO{count.pin}" for button, count in counts.items())
    wiring = f"pull {pins.pull}, {'active low' if pins.active_low else 'active high'}"
    print(f"focusd check-hardware: {listed}; LED {'-' if pins.led is None else f'GPIO{pins.led}'} ({wiring})",
          file=out)
    try:
        led = GpioIndicator(pins.led, pin_factory=pin_factory) if pins.led is not None else None
        if led is not None:
            seen.on_change = lambda held: led.show(LedPattern.STEADY if held else LedPattern.BLINK)
            led.show(LedPattern.BLINK)
        buttons = GpioButtons(pins, seen.edge, time.monotonic_ns, pin_factory=pin_factory)
    except Exception as error:  # noqa: BLE001 - gpiozero's pin errors have no common base class
        print(f"focusd check-hardware: cannot open the pins: {error} (not on a Pi? the service running? "
              "stop it first: sudo systemctl stop focusd)", file=sys.stderr)
        return EX_UNAVAILABLE
    print("press and release each button"
          + ("; the LED blinks, steady while a button is held" if led is not None else "")
          + (f"; stops after {seconds:g} s" if seconds is not None else "; Ctrl-C to stop"), file=out, flush=True)
    try:
        stop.wait(seconds)
    finally:
        buttons.close()
        if led is not None:
            led.close()
    lines, complete = seen.report()
    print("\n".join(lines), file=out)
    return 0 if complete else 1


def main(args: argparse.Namespace) -> int:
    if args.seconds is not None and not args.seconds > 0:
        print(f"focusd check-hardware: --seconds {args.seconds:g}: need a positive number", file=sys.stderr)
        return 2
    config = loader.load(args, {"camera.backend": "sim"} if args.sim else None)  # ConfigError: exit 78
    from focusd.service.cameras import pin_factory_for

    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        return check(config, pin_factory_for(config), stop, args.seconds)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
