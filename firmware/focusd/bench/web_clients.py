"""The web side of ``focusd bench --web``, in a process of its own as focusd-web is on the camera:
the page (its daemon link and aiohttp application, on 127.0.0.1) and N WebSocket clients logged in
to it, as phones would be, each reading every frame it is sent.

``python -m focusd.bench.web_clients SOCKET CLIENTS MAGNIFYING``: prints ``ready`` once every
client has shown a frame, measures until its standard input closes, then prints one JSON line:
per client the frames received, their rate and their latency (receipt minus start of exposure,
both CLOCK_MONOTONIC: the simulator's real-time clock).
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time

import aiohttp
from aiohttp import web

from focusd.web.app import make_app
from focusd.web.auth import hash_password
from focusd.web.gallery import Gallery
from focusd.web.link import DaemonLink

PASSWORD = "bench-web-clients"
READY_S = 30.0


class Client:
    def __init__(self, magnify: int):
        self.magnify = magnify
        self.latencies_ms: list[float] = []
        self.sources: dict[str, int] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.shown = asyncio.Event()

    async def watch(self, session: aiohttp.ClientSession, base: str, measuring: asyncio.Event) -> None:
        async with session.ws_connect(base + "/ws", headers={"Origin": base}, max_msg_size=1 << 25) as ws:
            if self.magnify > 1:
                await ws.send_str(json.dumps({"type": "magnify", "factor": self.magnify}))
            async for message in ws:
                if message.type != aiohttp.WSMsgType.BINARY:
                    continue
                now = time.monotonic_ns()
                (length,) = struct.unpack("!I", message.data[:4])
                header = json.loads(message.data[4:4 + length])
                if self.magnify > 1 and header["type"] != "magnified":
                    continue  # the lores frames before the first crop
                self.shown.set()
                if not measuring.is_set():
                    continue
                self.first_ns = self.first_ns or now
                self.last_ns = now
                self.latencies_ms.append((now - header["time_ns"]) / 1e6)
                self.sources[header["type"]] = self.sources.get(header["type"], 0) + 1

    def summary(self) -> dict:
        frames = len(self.latencies_ms)
        span_s = (self.last_ns - self.first_ns) / 1e9 if frames > 1 else 0.0
        return {"magnify": self.magnify, "frames": frames, "fps": (frames - 1) / span_s if span_s else 0.0,
                "latencies_ms": self.latencies_ms}


async def main(socket_path: str, clients: int, magnifying: int) -> None:
    link = DaemonLink(socket_path)
    app = make_app(link, Gallery("/nonexistent-bench-captures", "captures.jsonl"), hash_password(PASSWORD))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    link_task = asyncio.create_task(link.run())
    watchers = [Client(2 if i < magnifying else 1) for i in range(clients)]
    measuring = asyncio.Event()
    sessions, tasks = [], []
    try:
        for watcher in watchers:  # a session (its own cookie) each: separate phones
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # (an IP address)
            sessions.append(session)
            async with session.post(base + "/login", data={"password": PASSWORD}, headers={"Origin": base},
                                    allow_redirects=False) as response:
                if response.status != 303:
                    raise RuntimeError(f"bench web clients: login refused ({response.status})")
            tasks.append(asyncio.create_task(watcher.watch(session, base, measuring)))
        shown = asyncio.gather(*(w.shown.wait() for w in watchers))
        done, _ = await asyncio.wait([shown, *tasks], timeout=READY_S, return_when=asyncio.FIRST_COMPLETED)
        if shown not in done:
            failed = [t for t in done if t is not shown]
            raise RuntimeError(f"bench web clients: no frames within {READY_S:.0f} s") from (
                failed[0].exception() if failed else None)
        measuring.set()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes it
        print(json.dumps({"clients": [w.summary() for w in watchers]}), flush=True)
    finally:
        for task in tasks:
            task.cancel()
        for session in sessions:
            await session.close()
        link_task.cancel()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
