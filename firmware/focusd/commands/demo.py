"""``focusd demo``: the daemon on the simulated camera with gpiozero mock pins (``make run``).

A button script (default: the shipped ``demo/default.buttons``) or the keyboard presses the mock
buttons in real time while a status line shows the AF state, the lens position and the captures.
The configuration is found as for every command (focusd.config.loader), with the demo's packaged
``demo/demo.toml`` laid over it: no file in the current folder is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import tomllib
from importlib import resources

from focusd.commands.run import install_signal_handlers, run_daemon
from focusd.config import loader
from focusd.config.capture_folder import check_parent_exists
from focusd.demo.script import load_script, play
from focusd.demo.status import StatusTerminal
from focusd.errors import EX_UNAVAILABLE
from focusd.errors import ScriptError
from focusd.service.logs import setup_logging
from focusd.signals import ButtonId

HELP = "run the daemon on a simulated camera with mock buttons"

KEYS_HELP = "keys: a = AF-ON hold/let go, s or space = shutter tap, h = shutter hold/let go, q = quit"

#: the demo's own keys (the simulated camera, ./captures), package data in focusd/demo/
SETTINGS = "demo.toml"

#: the simulated scenes (--scene): the still wall, and a subject filling the frame that comes from
#: 5 m at 0.5 D/s and passes 1 m (1 D, where the simulated lens starts) 1.6 s after the start
SCENES = ("wall", "approaching")
#: what a shipped script needs besides its steps: keys laid under --set, and its scene
SCRIPT_SETUPS: dict[str, tuple[dict[str, object], str]] = {
    "trap": ({"shutter.trap": True}, "approaching"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)
    parser.add_argument("--captures", default=None, metavar="DIR",
                        help="where the captures go (default ./captures, from the demo's demo.toml)")
    parser.add_argument("--script", default="default", help="button script: a file, or a shipped one by name (default, remote)")
    parser.add_argument("--light", default="indoor", choices=("bright", "indoor", "dim", "dark"),
                        help="the simulated scene's light (default indoor; dark: the AF-assist lamp's demo)")
    parser.add_argument("--scene", default=None, choices=SCENES,
                        help="the simulated scene: wall (bricks at 1.2 m, still), approaching (a subject coming from "
                             "5 m at 0.5 D/s through the lens's starting plane, 1 m: trap focus's demo); default: "
                             "the script's (approaching for --script trap, else wall)")
    parser.add_argument("--interactive", action="store_true", help="press the buttons from the keyboard: " + KEYS_HELP)
    parser.add_argument("--web", action="store_true", help="serve the viewfinder page too (default "
                        "http://127.0.0.1:8080/, printed on start) and run until Ctrl-C instead of playing a script")


def web_keys(runtime_dir: str) -> dict[str, object]:
    """What ``--web`` lays under --set: the page on this machine only, the bridge in a folder of its own."""
    return {"web.enabled": True, "web.addresses": ["127.0.0.1"], "web.runtime_dir": runtime_dir}


def demo_keys(captures: str | None = None) -> dict[str, object]:
    """The keys the demo lays over the configuration: the packaged demo.toml's, then
    ``capture.directory`` from --captures when given. Either folder, and the focus-recall state
    file, is taken from the current one (the keys themselves must be absolute)."""
    table = tomllib.loads((resources.files("focusd.demo") / SETTINGS).read_text(encoding="utf-8"))
    keys = {f"{section}.{key}": value for section, values in table.items() for key, value in values.items()}
    if captures is not None:
        keys["capture.directory"] = captures
    keys["capture.directory"] = os.path.abspath(keys["capture.directory"])
    keys["recall.state_file"] = os.path.abspath(keys["recall.state_file"])  # the key must be absolute too
    return keys


def main(args: argparse.Namespace) -> int:
    if args.web and args.interactive:
        print("focusd demo: --web and --interactive: choose one (the page has its own buttons)", file=sys.stderr)
        return 2
    keys = demo_keys(args.captures)
    script_keys, script_scene = SCRIPT_SETUPS.get(args.script, ({}, "wall"))
    keys.update(script_keys)  # the script's own keys (trap: shutter.trap), under --set like the rest
    if args.web:
        keys.update(web_keys(tempfile.mkdtemp(prefix="focusd-web-")))
    config = loader.load(args, keys)  # a ConfigError becomes exit status 78 in focusd.cli
    check_parent_exists(config.capture.directory, config.source)
    if args.interactive and not sys.stdin.isatty():
        print("focusd demo: --interactive reads keys from a terminal, and standard input is not one; "
              "run it in a terminal, or without --interactive to play a button script", file=sys.stderr)
        return 2
    try:
        steps = None if args.interactive or args.web else load_script(args.script)
    except ScriptError as error:
        print(f"focusd: {error}", file=sys.stderr)
        return 2

    # imported only when the demo runs: the daemon and the camera import the AF engine, numpy and
    # Pillow (0.3 s), the mock pins gpiozero (a device library: focusd.hw only)
    from focusd.hw.gpio import MockPinDriver, mock_pin_factory
    from focusd.service.cameras import build_camera
    from focusd.service.daemon import Daemon

    terminal = StatusTerminal(sys.stderr)  # log lines go above the status line, not onto its end
    setup_logging("warning" if config.logging.level == "info" else config.logging.level, stream=terminal)
    factory = mock_pin_factory()
    daemon = Daemon(config, build_camera(config, light=args.light, scene=demo_scene(args.scene or script_scene)),
                    pin_factory=factory)
    install_signal_handlers(daemon)
    finger = MockPinDriver(config.pins, factory)
    done = threading.Event()
    with contextlib.ExitStack() as restore:
        if args.web:
            restore.callback(_serve_page(config).close)
            driver = threading.Thread(target=done.wait, daemon=True)  # the page presses; Ctrl-C ends
        elif args.interactive:
            try:
                restore.enter_context(_keys_at_once(sys.stdin.fileno()))
            except OSError as error:  # termios.error is an OSError
                print(f"focusd demo: --interactive cannot set up the terminal: {error}", file=sys.stderr)
                return 2
            driver = threading.Thread(target=_keyboard, args=(finger, daemon, done), daemon=True)
            print(KEYS_HELP, file=sys.stderr)
        else:
            driver = threading.Thread(target=_scripted, args=(steps, finger, daemon, done), daemon=True)
        status = threading.Thread(target=_status_line, args=(daemon, terminal, done), daemon=True)
        driver.start()
        status.start()
        try:
            code = run_daemon(daemon)
        finally:
            done.set()
            status.join(2)
            terminal.finish()
    if code == EX_UNAVAILABLE:  # no camera at all (picamera2 not installed): said, nothing to sum up
        return code
    stats = daemon.stats
    print(f"focusd demo: {summary(stats, config.capture.directory)}")
    return code if stats.captures_failed == 0 else 1


def demo_scene(name: str):
    """The simulated scene called ``name`` (SCENES); None: the camera's own (the wall)."""
    if name == "wall":
        return None
    from focusd.sim import scenes

    return scenes.moving_scene("text", start_m=5.0, dioptres_per_s=0.5, seed=1)


def _serve_page(config):
    """The page on a thread of this process, through the same bridge socket as on the device;
    the password from web.password_file if it exists, else a new one, printed."""
    import os
    import secrets

    from focusd.web.auth import hash_password, read_password_file
    from focusd.web.server import PageThread, page_url

    if os.path.exists(config.web.password_file):
        password_hash, told = read_password_file(config.web.password_file), f"from {config.web.password_file}"
    else:
        password = secrets.token_urlsafe(9)
        password_hash, told = hash_password(password), password
    page = PageThread(config, password_hash)
    try:
        page.start()
    except OSError as error:
        from focusd.errors import ConfigError

        raise ConfigError("web.port", f"cannot listen on {config.web.port}: {error.strerror or error}", "demo") from None
    print(f"focusd demo: the viewfinder is at {page_url(config)} (password: {told}); Ctrl-C stops", flush=True)
    return page


def summary(stats, directory: str) -> str:
    """The demo's last line. ``presses`` counts the presses that asked for a capture (a remote
    press while the shutter is held is none); the lens is "-" when AF-ON never moved it."""
    return (f"{_count(stats.frames, 'frame')}, {_count(stats.presses, 'shutter press', 'shutter presses')}, "
            f"{_count(stats.captures_written, 'capture')} written to {directory}, {stats.captures_failed} failed, "
            f"{_count(stats.af_locks, 'focus lock')}, final lens {stats.lens_text()}")


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _scripted(steps, finger, daemon, done: threading.Event) -> None:
    try:
        daemon.wait_until(lambda s: s.frames > 0, timeout=30)
        play(steps, finger, done)
        # let the last presses reach a frame and the writer before stopping
        daemon.wait_until(lambda s: s.captures_written + s.captures_failed >= s.captures_requested, timeout=10)
    finally:
        daemon.request_stop()  # whatever happened to the script, the demo ends


def _status_line(daemon, terminal: StatusTerminal, done: threading.Event) -> None:
    # daemon.status is the daemon's StatusBoard: AF state, lens, LED pattern, buttons held, counts
    while not done.wait(0.1):
        terminal.status(daemon.status.line())


@contextlib.contextmanager
def _keys_at_once(fd: int):
    """The terminal on ``fd`` in cbreak mode (each key at once, unechoed), restored on exit."""
    # only for --interactive: termios exists only on Unix, and the scripted demo runs anywhere
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _keyboard(finger, daemon, done: threading.Event) -> None:
    held = {ButtonId.AF_ON: False, ButtonId.SHUTTER: False}
    try:
        while not done.is_set():
            key = sys.stdin.read(1)
            if key in ("q", ""):
                break
            if key in ("a", "h"):
                button = ButtonId.AF_ON if key == "a" else ButtonId.SHUTTER
                held[button] = not held[button]
                (finger.press if held[button] else finger.release)(button)
            elif key in ("s", " "):
                finger.press(ButtonId.SHUTTER)
                done.wait(0.06)
                finger.release(ButtonId.SHUTTER)
    finally:
        daemon.request_stop()  # q, end of input or a failure: the demo ends
