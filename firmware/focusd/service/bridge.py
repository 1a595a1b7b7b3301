"""The bridge: the daemon's Unix socket to the web process (focusd-web), which has the network.

The daemon keeps no network access (its unit has ``PrivateNetwork=yes``); ``focusd web`` connects
to ``<runtime_dir>/web.sock`` instead. Out of the daemon go its events (the event stream, as JSON)
and preview frames (the lores Y plane, raw: JPEG encoding happens in the web process, never on the
frame path); in come commands, carried out through the command inlet exactly as a button would.

Nothing here can slow the camera thread. :meth:`Bridge.offer_frame` (on the camera thread) does at
most one copy of the Y plane into a single latest-frame slot, at most ``max_fps`` times a second,
and only while a client is connected; it never waits for a client. While a client asks for magnify
(``{"type": "magnify", "factor": 2 | 4}``) it also puts a crop of the main stream around the AF
window (1/factor of it each way, at the main stream's resolution) in a second slot: the main image
is asked for only then, at most ``max_fps`` times a second and, as it costs what the camera makes
it cost (a render on the simulator, tens of ms), no more often than keeps it under
MAGNIFY_BUDGET of the camera thread's time. Each client has a sender thread
that sends the newest frame when it is ready for one (a slow reader skips frames: there is no frame
queue to grow) and its events from a bounded deque (the oldest dropped). A client whose socket
stays full for ``stall_s`` is disconnected.

Wire format, both ways: a message is ``!II`` (header length, payload length), a JSON header
(``{"type": ...}``), then the payload bytes (a frame's pixels; empty otherwise).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import json
import logging
import math
import os
import socket
import struct
import threading
import time
from typing import Callable

import numpy as np

from focusd.config.writeback import live_settings
from focusd.errors import CameraError, ConfigError
from focusd.service import events as ev
from focusd.signals import ButtonId

log = logging.getLogger("focusd.bridge")

SOCKET_NAME = "web.sock"
HEADER = struct.Struct("!II")
#: largest message either side accepts (a 4608x2592 Y plane is 12 MB)
MAX_MESSAGE = 16 * 1024 * 1024
NS_PER_S = 1_000_000_000
#: events waiting for one client before its oldest are dropped
CLIENT_EVENT_DEPTH = 256
#: buttons a client may press (the web page's AF-ON and Shutter)
PRESSABLE = (ButtonId.AF_ON, ButtonId.SHUTTER)
#: the magnify factors a client may ask for (1: none)
MAGNIFY_FACTORS = (1, 2, 4)
#: most of the camera thread's time the main-stream crops may take while magnifying
MAGNIFY_BUDGET = 0.1


# --------------------------------------------------------------------------------------- wire


def encode(header: dict, payload: bytes | memoryview = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    body = memoryview(payload).cast("B")  # a 2-D array's buffer counted in bytes, not rows
    return HEADER.pack(len(head), body.nbytes) + head + body


def read_message(read_exactly: Callable[[int], bytes]) -> tuple[dict, bytes]:
    """One message, reading with ``read_exactly(n)`` (which raises EOFError at the end)."""
    head_len, payload_len = HEADER.unpack(read_exactly(HEADER.size))
    if head_len + payload_len > MAX_MESSAGE:
        raise ValueError(f"message of {head_len + payload_len} bytes is too large")
    header = json.loads(read_exactly(head_len))
    if not isinstance(header, dict):
        raise ValueError("message header is not a JSON object")
    return header, read_exactly(payload_len) if payload_len else b""


def event_message(event: ev.Event) -> dict:
    """An event as JSON: its fields, its class name as ``event``; NaN becomes null."""
    fields = {}
    for name, value in ((f.name, getattr(event, f.name)) for f in dataclasses.fields(event)):
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        fields[name] = value
    return {"type": "event", "event": type(event).__name__, **fields}


def daemon_snapshot(daemon) -> dict:
    """What a new web client is told first: the daemon's status board and the settings the page
    shows (read on a bridge thread: copies of simple values)."""
    board, config = daemon.status, daemon.config
    return {"af_state": board.af_state, "led": board.led.value, "frames": board.frames, "fps": board.fps,
            "captures_written": board.captures_written, "captures_failed": board.captures_failed,
            "lens_position": None if math.isnan(board.lens_position) else board.lens_position,
            "last_error": board.last_error, "window": list(config.af.window), "af_mode": config.af.mode,
            "capture_directory": config.capture.directory, "camera": daemon.camera.name,
            "settings": live_settings(config), "settings_saved": config.source is not None}


# ------------------------------------------------------------------------------------ frames


@dataclasses.dataclass(frozen=True)
class PreviewFrame:
    """A copy of one frame's lores Y plane and what the page draws on it."""

    y: np.ndarray
    sequence: int
    time_ns: int  #: start of exposure, camera clock
    lens_position: float
    window: tuple[float, float, float, float]
    generation: int  #: counts the frames put in the slot

    def header(self) -> dict:
        height, width = self.y.shape
        return {"type": "frame", "sequence": self.sequence, "time_ns": self.time_ns, "width": width,
                "height": height, "window": list(self.window), "generation": self.generation,
                "lens_position": self.lens_position if math.isfinite(self.lens_position) else None}


@dataclasses.dataclass(frozen=True)
class MagnifiedFrame:
    """A copy of a crop of one frame's main stream around the AF window."""

    pixels: np.ndarray  #: (h, w, 3) RGB or (h, w) grey uint8, at the main stream's resolution
    box: tuple[float, float, float, float]  #: the crop, in fractions of the frame
    factor: int
    sequence: int
    time_ns: int
    window: tuple[float, float, float, float]
    generation: int  #: counts the crops put in the slot

    def header(self) -> dict:
        height, width = self.pixels.shape[:2]
        channels = 1 if self.pixels.ndim == 2 else self.pixels.shape[2]
        return {"type": "magnified", "sequence": self.sequence, "time_ns": self.time_ns, "width": width,
                "height": height, "channels": channels, "crop": list(self.box), "factor": self.factor,
                "window": list(self.window), "generation": self.generation}


def magnify_box(size: tuple[int, int], window: tuple[float, float, float, float],
                factor: int) -> tuple[int, int, int, int]:
    """(left, top, width, height) in pixels of an image of ``size`` (width, height): 1/factor of it
    each way, centred on the AF window's centre, moved inside the image near an edge."""
    width, height = size
    crop_w, crop_h = max(1, width // factor), max(1, height // factor)
    x, y, w, h = window
    left = min(max(round((x + w / 2) * width - crop_w / 2), 0), width - crop_w)
    top = min(max(round((y + h / 2) * height - crop_h / 2), 0), height - crop_h)
    return left, top, crop_w, crop_h


# ------------------------------------------------------------------------------------ bridge


class Bridge:
    """The socket server. ``start()`` binds and listens; ``close()`` disconnects everyone.

    ``snapshot()`` gives the hello message a new client gets first (the daemon's status, the
    capture folder, the AF window); ``inlet`` is the daemon's command inlet.
    """

    def __init__(self, runtime_dir: str, inlet, events: ev.EventStream, snapshot: Callable[[], dict],
                 max_fps: float = 15.0, stall_s: float = 10.0):
        self.path = os.path.join(runtime_dir, SOCKET_NAME)
        self.inlet = inlet
        self.snapshot = snapshot
        self.min_interval_ns = int(1e9 / max_fps)
        self.stall_s = stall_s
        self._events = events
        self._listener: ev.Listener | None = None
        self._server: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._clients: tuple[_Client, ...] = ()
        self._latest: PreviewFrame | None = None
        self._generation = 0
        self._last_offer_ns: int | None = None
        self.frames_offered = 0  #: frames copied into the slot
        self._magnified: MagnifiedFrame | None = None
        self._next_crop_ns: int | None = None
        self._crop_generation = 0
        self.crops_taken = 0  #: main-stream crops put in the magnify slot
        self.cost_clock: Callable[[], int] = time.perf_counter_ns  #: times a crop (tests set their own)
        self.clients_dropped = 0  #: clients disconnected for stalling or a protocol error
        self._closed = threading.Event()
        self._clients_changed = threading.Condition(self._lock)

    def wait_clients(self, predicate: Callable[["Bridge"], bool], timeout: float) -> bool:
        """Block until ``predicate(bridge)`` holds, checked whenever a client comes, goes or
        changes its magnify factor."""
        with self._clients_changed:
            return self._clients_changed.wait_for(lambda: predicate(self), timeout)

    # ------------------------------------------------------------------------- life cycle

    def start(self) -> None:
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, mode=0o750, exist_ok=True)
            if os.path.exists(self.path):
                os.unlink(self.path)  # left by a daemon that was killed
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(self.path)
        except OSError as error:
            raise ConfigError("web.runtime_dir", f"cannot open the bridge socket {self.path}: "
                              f"{error.strerror or error}", "daemon") from None
        os.chmod(self.path, 0o660)  # the service's group (focusd-web is in it) may connect
        server.listen(8)
        self._server = server
        self._listener = self._events.listen("bridge", self._fan_out)
        self._accept_thread = threading.Thread(target=self._accept, name="focusd-bridge", daemon=True)
        self._accept_thread.start()
        log.info("web bridge listening on %s", self.path)

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
        if self._server is not None:
            try:
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept (a close alone does not)
            except OSError:
                pass
            self._server.close()
            if self._accept_thread is not None:
                self._accept_thread.join(2)
            try:
                os.unlink(self.path)
            except OSError:
                pass
        for client in self.clients:
            client.close()

    @property
    def clients(self) -> tuple["_Client", ...]:
        return self._clients

    # ---------------------------------------------------------------------- camera thread

    def offer_frame(self, frame, window: tuple[float, float, float, float]) -> bool:
        """A frame for the preview: copied into the latest-frame slot when a client is connected
        and the last one is at least 1/max_fps old; a crop of its main stream too while a client
        magnifies (see :meth:`_offer_crop`). Never blocks. True if the lores frame was taken."""
        if not self._clients:
            return False
        factor = self.magnify_factor
        if factor > 1:
            self._offer_crop(frame, window, factor)
        elif self._magnified is not None:
            self._magnified = None  # nobody magnifies: the crop's memory goes
        now = frame.timestamp_ns
        if self._last_offer_ns is not None and 0 <= now - self._last_offer_ns < self.min_interval_ns:
            return False
        self._last_offer_ns = now
        self._generation += 1
        self._latest = PreviewFrame(np.array(frame.y, copy=True), frame.sequence, frame.timestamp_ns,
                                    float(frame.lens_position), tuple(window), self._generation)
        self.frames_offered += 1
        for client in self._clients:
            client.wake.set()
        return True

    @property
    def magnify_factor(self) -> int:
        """The smallest factor a client asks for (the widest crop: a page zoomed further crops
        it again itself), or 1."""
        return min((c.magnify for c in self._clients if c.magnify > 1), default=1)

    def _offer_crop(self, frame, window, factor: int) -> None:
        """The crop of the main stream: due every 1/max_fps, and after a crop that took t, not
        before t / MAGNIFY_BUDGET has passed (camera clock against the time it took)."""
        now = frame.timestamp_ns
        if self._next_crop_ns is not None and 0 <= self._next_crop_ns - now < 10 * NS_PER_S:
            return
        started = self.cost_clock()
        try:
            main = frame.main_image()
        except CameraError as error:  # (a camera without one): the lores preview goes on
            self._next_crop_ns = now + NS_PER_S
            log.warning("web bridge: no main image to magnify: %s", error)
            return
        main_h, main_w = main.shape[:2]
        left, top, width, height = magnify_box((main_w, main_h), window, factor)
        pixels = np.array(main[top:top + height, left:left + width], copy=True)  # the crop only is kept
        del main
        box = (left / main_w, top / main_h, width / main_w, height / main_h)
        self._crop_generation += 1
        self._magnified = MagnifiedFrame(pixels, box, factor, frame.sequence, now, tuple(window),
                                         self._crop_generation)
        self.crops_taken += 1
        cost_ns = self.cost_clock() - started
        self._next_crop_ns = now + max(self.min_interval_ns, int(cost_ns / MAGNIFY_BUDGET))
        for client in self._clients:
            client.wake.set()

    @property
    def latest(self) -> PreviewFrame | None:
        return self._latest

    @property
    def magnified(self) -> MagnifiedFrame | None:
        return self._magnified

    # ------------------------------------------------------------------------ other threads

    def _fan_out(self, event: ev.Event) -> None:
        message = event_message(event)
        for client in self._clients:
            client.offer_event(message)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            client = _Client(self, connection)
            with self._lock:
                self._clients = (*self._clients, client)
                self._clients_changed.notify_all()
            client.start()

    def _remove(self, client: "_Client", dropped: bool) -> None:
        with self._lock:
            self._clients = tuple(c for c in self._clients if c is not client)
            if dropped:
                self.clients_dropped += 1
            self._clients_changed.notify_all()

    def handle_command(self, header: dict, reply: Callable[[dict], None] = lambda message: None) -> dict | None:
        """A client's command through the inlet; an error message for a bad one, else None.
        The outcome of a settings change comes later, from the camera thread: ``reply(error)`` to
        the client that asked, or the new settings to every client (each page shows them)."""
        command = header.get("type")
        try:
            if command == "settings":
                self.inlet.change_settings(header.get("settings"), self._settings_outcome(header.get("id"), reply))
            elif command in ("press", "release"):
                button = ButtonId(header.get("button"))
                if button not in PRESSABLE:
                    raise ValueError(button)
                (self.inlet.press if command == "press" else self.inlet.release)(button)
            elif command == "window":
                window = self.inlet.set_af_window(header.get("window"))
                return {"type": "window", "window": list(window)}
            else:
                return {"type": "error", "error": f"unknown command {command!r}"}
        except ConfigError as error:  # (a ValueError too: caught first)
            return {"type": "error", "key": error.key, "error": str(error)}
        except ValueError:
            return {"type": "error", "error": f"unknown button {header.get('button')!r} "
                    f"(known: {', '.join(b.value for b in PRESSABLE)})"}
        return None


    def _settings_outcome(self, request_id, reply: Callable[[dict], None]) -> Callable[[ConfigError | None], None]:
        def outcome(error: ConfigError | None) -> None:
            if error is not None:
                reply({"type": "error", "id": request_id, "key": error.key, "error": str(error)})
                return
            message = {"type": "settings", "id": request_id, "settings": self.snapshot()["settings"]}
            for client in self._clients:
                client.reply(message)

        return outcome


class _Client:
    """One connected client: a sender thread (hello, events, the newest frame) and a reader thread
    (commands). Whatever happens to its socket stays on its threads."""

    def __init__(self, bridge: Bridge, connection: socket.socket):
        self.bridge = bridge
        self.connection = connection
        self.wake = threading.Event()
        self._events: collections.deque = collections.deque(maxlen=CLIENT_EVENT_DEPTH)
        self._replies: collections.deque = collections.deque(maxlen=CLIENT_EVENT_DEPTH)
        self.events_dropped = 0
        self.frames_sent = 0
        self._sent_generation = self._first_generation = bridge._generation
        self._sent_crop_generation = bridge._crop_generation
        self.magnify = 1  #: the factor this client asks for
        self._last_generation: int | None = None  # the slot's at close
        self._closed = threading.Event()
        connection.settimeout(bridge.stall_s)  # a send blocked this long: the client is dropped

    def start(self) -> None:
        threading.Thread(target=self._send_loop, name="focusd-bridge-send", daemon=True).start()
        threading.Thread(target=self._read_loop, name="focusd-bridge-read", daemon=True).start()

    @property
    def frames_skipped(self) -> int:
        """Frames put in the slot while connected that this client never got (it was not ready)."""
        last = self.bridge._generation if self._last_generation is None else self._last_generation
        return last - self._first_generation - self.frames_sent

    def offer_event(self, message: dict) -> None:
        if len(self._events) == self._events.maxlen:
            self.events_dropped += 1
        self._events.append(message)
        self.wake.set()

    def reply(self, message: dict) -> None:
        """A message for this client alone, sent before its events (any thread)."""
        self._replies.append(message)
        self.wake.set()

    def close(self, dropped: bool = False) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._last_generation = self.bridge._generation
        self.wake.set()
        self.bridge._remove(self, dropped)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def _send_loop(self) -> None:
        try:
            self.connection.sendall(encode({"type": "hello", **self.bridge.snapshot()}))
            while not self._closed.is_set():
                self.wake.wait()
                self.wake.clear()
                while self._replies:
                    self.connection.sendall(encode(self._replies.popleft()))
                while self._events:
                    self.connection.sendall(encode(self._events.popleft()))
                frame = self.bridge.latest
                if frame is not None and frame.generation > self._sent_generation:
                    self._sent_generation = frame.generation
                    self.connection.sendall(encode(frame.header(), frame.y.data))
                    self.frames_sent += 1
                crop = self.bridge.magnified
                if self.magnify > 1 and crop is not None and crop.generation > self._sent_crop_generation:
                    self._sent_crop_generation = crop.generation
                    self.connection.sendall(encode(crop.header(), crop.pixels.data))
        except (TimeoutError, socket.timeout):
            log.warning("web bridge: a client stopped reading for %.1f s; disconnected", self.bridge.stall_s)
            self.close(dropped=True)
        except OSError:
            self.close()

    def _read_exactly(self, count: int) -> bytes:
        chunks, left = [], count
        while left:
            try:
                chunk = self.connection.recv(min(left, 65536))
            except (TimeoutError, socket.timeout):
                if self._closed.is_set():
                    raise EOFError from None
                continue  # a quiet client is fine: only a stalled send drops it
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _set_magnify(self, factor) -> dict | None:
        if factor not in MAGNIFY_FACTORS or isinstance(factor, bool):
            return {"type": "error", "error": f"magnify factor {factor!r} is not one of "
                    f"{', '.join(map(str, MAGNIFY_FACTORS))}"}
        self.magnify = factor
        with self.bridge._clients_changed:  # (wait_clients waits on a client's factor too)
            self.bridge._clients_changed.notify_all()
        return None

    def _read_loop(self) -> None:
        try:
            while not self._closed.is_set():
                header, _ = read_message(self._read_exactly)
                if header.get("type") == "magnify":
                    reply = self._set_magnify(header.get("factor"))
                else:
                    reply = self.bridge.handle_command(header, self.reply)
                if reply is not None:
                    self.reply(reply)
        except (EOFError, OSError):
            self.close()
        except (ValueError, struct.error) as error:
            log.warning("web bridge: a client sent a bad message (%s); disconnected", error)
            self.close(dropped=True)

