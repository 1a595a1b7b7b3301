"""The web application (focusd.web.app) on aiohttp's test server, linked through a real bridge
socket to a stand-in daemon: a recording command inlet and an event stream the test publishes on."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from aiohttp.test_utils import TestClient, TestServer

from focusd.config.values import Invalid, check_window
from focusd.errors import ConfigError
from focusd.service.bridge import SOCKET_NAME, Bridge
from focusd.service.events import EventStream
from focusd.web.app import make_app
from focusd.web.auth import hash_password
from focusd.web.gallery import Gallery
from focusd.web.link import DaemonLink

PASSWORD = "correct horse battery"


class RecordingInlet:
    """The command inlet's interface, recording what reaches it."""

    def __init__(self):
        self.calls: list[tuple] = []
        self._changed = threading.Condition()

    def _record(self, *call):
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def press(self, button):
        self._record("press", button.value)

    def release(self, button):
        self._record("release", button.value)

    def set_af_window(self, window):
        try:
            checked = check_window(window)
        except Invalid as invalid:
            raise ConfigError("af.window", str(invalid), "command") from None
        self._record("window", checked)
        return checked

    def wait(self, count: int, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.calls) >= count, timeout)


@dataclass
class Frame:
    y: np.ndarray
    sequence: int
    timestamp_ns: int
    lens_position: float = 1.5
    main: np.ndarray | None = None  #: its main stream (for magnify)

    def main_image(self) -> np.ndarray:
        assert self.main is not None, "a frame without a main image was asked for one"
        return self.main


@dataclass
class Page:
    client: TestClient
    bridge: Bridge
    inlet: RecordingInlet
    events: EventStream
    captures: Path

    @property
    def origin(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    async def post(self, path: str, origin: str | None = "", **kwargs):
        headers = kwargs.pop("headers", {})
        if origin is not None:
            headers["Origin"] = origin or self.origin
        return await self.client.post(path, headers=headers, allow_redirects=False, **kwargs)

    async def login(self, password: str = PASSWORD):
        return await self.post("/login", data={"password": password})


@contextlib.asynccontextmanager
async def running_page(tmp_path: Path):
    runtime_dir = tempfile.mkdtemp(prefix="fw-")
    inlet, events = RecordingInlet(), EventStream()
    snapshot = {"af_state": "IDLE", "led": "off", "captures_written": 0, "window": [0.25, 0.25, 0.5, 0.5],
                "camera": "stand-in"}
    bridge = Bridge(runtime_dir, inlet, events, lambda: dict(snapshot))
    bridge.start()
    link = DaemonLink(f"{runtime_dir}/{SOCKET_NAME}")
    link_task = asyncio.create_task(link.run())
    captures = tmp_path / "captures"
    captures.mkdir()
    app = make_app(link, Gallery(str(captures), "captures.jsonl"), hash_password(PASSWORD))
    try:
        assert await link.wait_connected(5), "the page never reached the bridge"
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Page(client, bridge, inlet, events, captures)
    finally:
        link_task.cancel()
        bridge.close()
        shutil.rmtree(runtime_dir, ignore_errors=True)


def run(coroutine_function, tmp_path):
    """Run ``coroutine_function(page)`` against a fresh running page."""
    async def main():
        async with running_page(tmp_path) as page:
            await coroutine_function(page)

    asyncio.run(main())
