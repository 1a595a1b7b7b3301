"""The web process's side of the bridge: one connection to the daemon's socket, shared by every
browser. It keeps the daemon's state as its events tell it, the newest preview frame, and a JPEG
of it made once per frame (in a worker thread, not on the event loop) whoever watches.

Magnify: each browser says its factor (1, 2 or 4); the link asks the daemon for the smallest one
above 1 (the widest crop of the main stream: a browser zoomed further shows a part of it), again
after a reconnection, and for 1 when nobody magnifies, so the daemon stops taking crops.

When the daemon is not there (not started yet, restarting), it retries every RETRY_S and tells the
browsers (``{"type": "link", "connected": false}``); they keep their page and reconnect by
themselves.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import time

import numpy as np

from focusd.service.bridge import HEADER, MAX_MESSAGE, encode

log = logging.getLogger("focusd.web")

RETRY_S = 0.5
JPEG_QUALITY = 80
#: messages waiting for one browser before its oldest are dropped
WATCHER_DEPTH = 256


class LinkDown(Exception):
    """The daemon is not connected: a command cannot reach it."""


class Watcher:
    """One browser's view: its bounded message queue and a wake-up for new frames."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.wake = asyncio.Event()
        self.dropped = 0
        self.magnify = 1  #: the factor this browser shows

    def offer(self, message: dict) -> None:
        if len(self.messages) >= WATCHER_DEPTH:
            self.messages.pop(0)
            self.dropped += 1
        self.messages.append(message)
        self.wake.set()

    def take(self) -> list[dict]:
        messages, self.messages = self.messages, []
        return messages


class DaemonLink:
    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.connected = False
        self.state: dict = {}
        self.frame: tuple[dict, bytes] | None = None  #: the newest (header, Y plane)
        self.magnified: tuple[dict, bytes] | None = None  #: the newest (header, main-stream crop)
        self.frames_received = 0
        self.crops_received = 0
        self._jpegs: dict[str, tuple[int, asyncio.Future]] = {}  # per kind: (generation, its encoding)
        self._asked_magnify = 1  # what the daemon was last told
        self._writer: asyncio.StreamWriter | None = None
        self._watchers: set[Watcher] = set()
        self._connected_event = asyncio.Event()
        self._pending: dict[int, asyncio.Future] = {}  # requests waiting for the daemon's answer, by id
        self._ids = itertools.count(1)

    # --------------------------------------------------------------------------- browsers

    def watch(self) -> Watcher:
        watcher = Watcher()
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
        self._ask_magnify()

    def set_magnify(self, watcher: Watcher, factor: int) -> None:
        watcher.magnify = factor
        watcher.wake.set()
        self._ask_magnify()

    def wanted_magnify(self) -> int:
        return min((w.magnify for w in self._watchers if w.magnify > 1), default=1)

    def _ask_magnify(self, again: bool = False) -> None:
        """Tell the daemon the factor wanted, if it changed (or ``again``: a new connection)."""
        factor = self.wanted_magnify()
        if factor == 1:
            self.magnified = None
        if self._writer is None or (factor == self._asked_magnify and not again):
            return
        self._asked_magnify = factor
        self._writer.write(encode({"type": "magnify", "factor": factor}))  # (drained by the next send)

    def _tell(self, message: dict) -> None:
        for watcher in self._watchers:
            watcher.offer(message)

    def status(self) -> dict:
        return {"type": "status", "connected": self.connected, **self.state}

    async def send(self, header: dict) -> None:
        if self._writer is None:
            raise LinkDown("the focusd daemon is not connected")
        self._writer.write(encode(header))
        await self._writer.drain()

    async def request(self, header: dict, timeout: float) -> dict:
        """Send a command and wait for the daemon's answer to it (matched by an ``id``)."""
        request_id = next(self._ids)
        answer = self._pending[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self.send({**header, "id": request_id})
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def view_for(self, watcher: Watcher) -> tuple[dict, bytes] | None:
        """What a browser shows: the main-stream crop when it magnifies and the crop (at its factor
        or a smaller one: wider) is there; else the lores frame, which the page crops itself."""
        crop = self.magnified
        if watcher.magnify > 1 and crop is not None and crop[0]["factor"] <= watcher.magnify:
            return crop
        return self.frame

    async def jpeg(self, frame: tuple[dict, bytes] | None = None) -> tuple[dict, bytes] | None:
        """A frame's header and JPEG (the newest lores frame unless told), encoded once per frame
        for every browser."""
        frame = self.frame if frame is None else frame
        if frame is None:
            return None
        header, pixels = frame
        kind = header["type"]
        cached = self._jpegs.get(kind)
        if cached is None or cached[0] != header["generation"]:
            loop = asyncio.get_running_loop()
            cached = self._jpegs[kind] = (header["generation"], loop.run_in_executor(None, encode_jpeg, header, pixels))
        return header, await cached[1]

    # ------------------------------------------------------------------------------ daemon

    async def run(self) -> None:
        """Connect, read, reconnect, for ever (cancel to stop)."""
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=2 ** 24)
            except OSError:
                await asyncio.sleep(RETRY_S)  # the daemon is not up yet: try again
                continue
            self._writer = writer
            try:
                await self._read(reader)
            except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as error:
                log.warning("lost the focusd daemon: %s", error or type(error).__name__)
            finally:
                self._writer = None
                self.magnified = None
                self.connected = False
                self._connected_event.clear()
                writer.close()
                for answer in self._pending.values():
                    if not answer.done():
                        answer.set_exception(LinkDown("the focusd daemon went away before answering"))
                self._tell({"type": "link", "connected": False})
            await asyncio.sleep(RETRY_S)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            header, payload = await read_bridge_message(reader)
            kind = header.get("type")
            if kind == "hello":
                self.state = {k: v for k, v in header.items() if k != "type"}
                self.connected = True
                self._connected_event.set()
                if self.wanted_magnify() > 1:
                    self._ask_magnify(again=True)  # a restarted daemon knows nothing of it
                else:
                    self._asked_magnify = 1
                log.info("connected to the focusd daemon (%s)", self.state.get("camera"))
                self._tell(self.status())
            elif kind == "frame":
                self.frame = (header, payload)
                self.frames_received += 1
                self.state["window"] = header["window"]
                for watcher in self._watchers:
                    watcher.wake.set()
            elif kind == "magnified":
                if self.wanted_magnify() > 1:  # (not one sent before the daemon heard "1")
                    self.magnified = (header, payload)
                    self.crops_received += 1
                    for watcher in self._watchers:
                        if watcher.magnify > 1:
                            watcher.wake.set()
            elif kind == "event":
                apply_event(self.state, header)
                self._tell(header)
            else:  # replies to commands: the AF window applied, the settings changed, an error
                if kind == "window":
                    self.state["window"] = header["window"]
                elif kind == "settings":
                    self.state["settings"] = header["settings"]
                answer = self._pending.get(header.get("id"))
                if answer is not None and not answer.done():
                    answer.set_result(header)
                if kind != "error" or header.get("id") is None:  # a refusal is the asker's answer alone
                    self._tell(header)


async def read_bridge_message(reader: asyncio.StreamReader) -> tuple[dict, bytes]:
    """One bridge message (focusd.service.bridge's wire format) from an asyncio stream."""
    head_len, payload_len = HEADER.unpack(await reader.readexactly(HEADER.size))
    if head_len + payload_len > MAX_MESSAGE:
        raise ValueError(f"message of {head_len + payload_len} bytes is too large")
    header = json.loads(await reader.readexactly(head_len))
    if not isinstance(header, dict):
        raise ValueError("message header is not a JSON object")
    return header, await reader.readexactly(payload_len) if payload_len else b""


def apply_event(state: dict, event: dict) -> None:
    """The state a page shows, after one event (as the daemon's StatusBoard does)."""
    match event.get("event"):
        case "FocusChanged":
            state["af_state"] = event["state"]
            state["af_reason"] = event.get("reason")
        case "LensCommanded":
            state["lens_position"] = event["target"]
        case "CaptureWritten":
            state["captures_written"] = state.get("captures_written", 0) + 1
        case "CaptureFailed":
            state["captures_failed"] = state.get("captures_failed", 0) + 1
            state["last_error"] = event["error"]
        case "LedChanged":
            state["led"] = event["pattern"]
        case "ErrorReported":
            state["last_error"] = event["message"]
        case "FrameStatistics":
            state["frames"], state["fps"] = event["frames"], event["fps"]


def encode_jpeg(header: dict, pixels: bytes) -> bytes:
    """A lores Y plane (greyscale) or a main-stream crop (grey, RGB, or RGB and a padding byte) as
    a JPEG (Pillow; runs in a worker thread)."""
    from PIL import Image

    channels = header.get("channels", 1)
    shape = (header["height"], header["width"]) + ((channels,) if channels > 1 else ())
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(shape)
    if channels == 4:
        image = image[:, :, :3]  # a 32-bit format: the fourth byte is padding
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def frame_age_ms(header: dict) -> float:
    """How long ago the frame's exposure started, where the camera's clock is CLOCK_MONOTONIC
    (the simulator's realtime pacing): the preview latency the page shows."""
    return (time.monotonic_ns() - header["time_ns"]) / 1e6
