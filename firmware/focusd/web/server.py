"""Running the page: the daemon link and the aiohttp application on the configured addresses,
until cancelled (``focusd web``) or told to stop from another thread (``focusd demo --web``)."""

from __future__ import annotations

import asyncio
import os
import threading

from aiohttp import web

from focusd.config.settings import Config
from focusd.service.bridge import SOCKET_NAME
from focusd.web.app import make_app
from focusd.web.gallery import Gallery
from focusd.web.link import DaemonLink


def page_url(config: Config) -> str:
    address = config.web.addresses[0]
    shown = "127.0.0.1" if address in ("0.0.0.0", "::") else address
    host = f"[{shown}]" if ":" in shown else shown
    return f"http://{host}:{config.web.port}/"


async def serve(config: Config, password_hash: str, started=None, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or for ever); ``started()`` is called once listening."""
    link = DaemonLink(os.path.join(config.web.runtime_dir, SOCKET_NAME))
    gallery = Gallery(config.capture.directory, config.capture.journal)
    runner = web.AppRunner(make_app(link, gallery, password_hash), access_log=None, handle_signals=False)
    await runner.setup()
    link_task = asyncio.create_task(link.run())
    try:
        for address in config.web.addresses:
            await web.TCPSite(runner, address, config.web.port).start()
        if started is not None:
            started()
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        link_task.cancel()
        await runner.cleanup()


class PageThread:
    """The page on a thread of its own (the demo: one process for the daemon and the page)."""

    def __init__(self, config: Config, password_hash: str):
        self.config, self.password_hash = config, password_hash
        self.listening = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="focusd-web", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        self.listening.wait(timeout)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        async def main():
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await serve(self.config, self.password_hash, self.listening.set, self._stop)

        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - reported to start()'s caller
            self.error = error
            self.listening.set()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
