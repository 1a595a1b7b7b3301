"""The web process (``focusd web``, a process of its own as on the camera) killed while a client
watches: the daemon's frames, buttons and captures go on untouched, and the client gets the page
back (logged in again: sessions live in the web process) when the process comes back."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from daemon_harness import DaemonHarness
from daemon_harness import test_config as harness_config
from focusd.signals import ButtonId
from focusd.web.auth import write_password_file

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "killed-web-process"
WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebProcess:
    """``focusd web`` on 127.0.0.1:port, linked to the daemon's bridge in ``runtime_dir``."""

    def __init__(self, runtime_dir: str, password_file: Path, port: int):
        env = dict(os.environ, PYTHONPATH=str(REPO / "firmware"))
        sets = [f"web.enabled=true", f'web.runtime_dir="{runtime_dir}"', f'web.password_file="{password_file}"',
                'web.addresses=["127.0.0.1"]', f"web.port={port}"]
        self.process = subprocess.Popen([sys.executable, "-m", "focusd.cli", "web",
                                         *[arg for value in sets for arg in ("--set", value)]],
                                        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self._wait_for_line("focusd web: http://")  # listening

    def _wait_for_line(self, needle: str) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stderr, selectors.EVENT_READ)
        deadline, seen = time.monotonic() + WAIT_S, []
        while time.monotonic() < deadline and selector.select(max(0.0, deadline - time.monotonic())):
            line = self.process.stderr.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return
        self.kill()
        raise AssertionError(f"focusd web did not start (exit {self.process.poll()}): {''.join(seen)}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT_S)


class Watcher:
    """A browser's part: logged in, its WebSocket read on a task, frames counted."""

    def __init__(self, base: str):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # (an IP address)
        self.frames = 0
        self.closed = asyncio.Event()
        self.framed = asyncio.Event()
        self.connected_status: list[bool] = []

    async def open(self) -> None:
        async with self.session.post(self.base + "/login", data={"password": PASSWORD},
                                     headers={"Origin": self.base}, allow_redirects=False) as response:
            assert response.status == 303, response.status
        self.ws = await self.session.ws_connect(self.base + "/ws", headers={"Origin": self.base})
        self.closed.clear()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.frames += 1
                self.framed.set()
            elif message.type == aiohttp.WSMsgType.TEXT and json.loads(message.data).get("type") == "status":
                self.connected_status.append(json.loads(message.data)["connected"])
        self.closed.set()

    async def frames_while(self, harness, more: int) -> None:
        """Step the camera until ``more`` frames reached this watcher."""
        target, deadline = self.frames + more, time.monotonic() + WAIT_S
        while self.frames < target:
            assert time.monotonic() < deadline, f"{self.frames} frames, not {target}"
            self.framed.clear()
            await asyncio.to_thread(harness.step, 5)
            try:
                await asyncio.wait_for(self.framed.wait(), 0.5)
            except TimeoutError:
                pass  # (no frame sent for these five yet: step on)

    async def state_status(self) -> int:
        async with self.session.get(self.base + "/api/state") as response:
            return response.status

    async def close(self) -> None:
        await self.session.close()


def test_the_web_process_killed_while_watched_leaves_the_daemon_alone_and_comes_back(tmp_path):
    runtime_dir = tempfile.mkdtemp(prefix="fw-")
    password_file = tmp_path / "web-password"
    write_password_file(str(password_file), PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = harness_config(tmp_path, web={"enabled": True, "runtime_dir": runtime_dir})
    try:
        with DaemonHarness(config) as harness:
            bridge = harness.daemon.bridge
            web = WebProcess(runtime_dir, password_file, port)

            async def scenario() -> None:
                watcher = Watcher(base)
                try:
                    await watcher.open()
                    await watcher.frames_while(harness, 3)
                    assert await asyncio.to_thread(bridge.wait_clients, lambda b: len(b.clients) == 1, 5)

                    web.kill()  # while the watcher watches
                    await asyncio.wait_for(watcher.closed.wait(), WAIT_S)
                    assert await asyncio.to_thread(bridge.wait_clients, lambda b: len(b.clients) == 0, 5)
                    # the daemon: every frame stepped is processed (harness.step checks it), the AF-ON
                    # and shutter buttons (GPIO) work, the capture is written
                    frames, faults = harness.stats.frames, harness.stats.camera_faults
                    await asyncio.to_thread(harness.step, 100)
                    assert harness.stats.frames == frames + 100
                    harness.press(ButtonId.AF_ON)
                    assert await asyncio.to_thread(harness.wait, lambda s: s.af_locks + s.af_failures >= 1)
                    harness.release(ButtonId.AF_ON)
                    harness.press(ButtonId.SHUTTER)
                    harness.release(ButtonId.SHUTTER)
                    assert await asyncio.to_thread(harness.wait, lambda s: s.captures_written >= 1)
                    assert len(harness.images()) == 1 and harness.journal()[-1]["file"]
                    assert harness.stats.camera_faults == faults and harness.stats.captures_failed == 0

                    restarted = await asyncio.to_thread(WebProcess, runtime_dir, password_file, port)
                    try:
                        # the old session died with the process: the page is told to log in again
                        assert await watcher.state_status() == 401
                        await watcher.open()
                        await watcher.frames_while(harness, 3)
                        assert watcher.connected_status[-1] is True
                        assert len(bridge.clients) == 1
                    finally:
                        restarted.kill()
                finally:
                    await watcher.close()

            try:
                asyncio.run(scenario())
            finally:
                web.kill()
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)
