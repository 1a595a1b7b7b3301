"""Live settings from the page (focusd.web.settings) through the bridge to the real daemon
(DaemonHarness): checked as the file is, applied as a reload applies them, written to the file."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon_harness import DaemonHarness
from focusd.af import AfMode
from focusd.config.settings import apply_overrides, load_config
from focusd.service.bridge import SOCKET_NAME
from focusd.web.app import make_app
from focusd.web.auth import hash_password
from focusd.web.gallery import Gallery
from focusd.web.link import DaemonLink

from bridge_client import BridgeClient

SHIPPED = Path(__file__).resolve().parents[2] / "systemd" / "focusd.toml"
PASSWORD = "settings-test-pass"


@pytest.fixture
def runtime_dir():
    folder = tempfile.mkdtemp(prefix="fw-")  # short: a Unix socket path has at most 107 bytes
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def harness_on_a_file(tmp_path: Path, runtime_dir: str) -> tuple[DaemonHarness, Path]:
    """The daemon on the simulator, its configuration a copy of the shipped file (comments and all)."""
    path = tmp_path / "focusd.toml"
    shutil.copy(SHIPPED, path)
    config = apply_overrides(load_config(path), {
        "camera.backend": "sim", "capture.directory": str(tmp_path / "captures"),
        "web.enabled": True, "web.runtime_dir": runtime_dir})
    return DaemonHarness(config), path


@contextlib.contextmanager
def frames_flowing(harness: DaemonHarness):
    """Frames, one at a time, on a thread of their own: the daemon applies settings between frames."""
    done = threading.Event()

    def step():
        while not done.is_set():
            harness.step(1)

    thread = threading.Thread(target=step, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def test_the_bridge_answers_a_refusal_to_the_asker_and_new_settings_to_every_client(tmp_path, runtime_dir):
    harness, path = harness_on_a_file(tmp_path, runtime_dir)
    with harness:
        asker = BridgeClient(f"{runtime_dir}/{SOCKET_NAME}")
        other = BridgeClient(f"{runtime_dir}/{SOCKET_NAME}")
        hello, _ = asker.wait(lambda h: h["type"] == "hello")
        assert hello["settings"]["af.mode"] == "continuous" and hello["settings_saved"] is True
        asker.send({"type": "settings", "id": 1, "settings": {"shutter.burst_fps": 0}})
        asker.send({"type": "settings", "id": 2, "settings": {"shutter.priority": "focus"}})
        with frames_flowing(harness):
            refusal, _ = asker.wait(lambda h: h.get("id") == 1)
            answer, _ = other.wait(lambda h: h.get("id") == 2)
        assert refusal["type"] == "error" and refusal["key"] == "shutter.burst_fps"
        assert not other.wait(lambda h: h.get("id") == 1, timeout=0.2)  # the refusal was the asker's alone
        assert answer["type"] == "settings" and answer["settings"]["shutter.priority"] == "focus"
        assert harness.daemon.controller.shutter.priority == "focus"
        assert 'priority = "focus"' in path.read_text()
        asker.close()
        other.close()


@contextlib.asynccontextmanager
async def page_on_the_daemon(harness: DaemonHarness, runtime_dir: str, tmp_path: Path):
    link = DaemonLink(f"{runtime_dir}/{SOCKET_NAME}")
    link_task = asyncio.create_task(link.run())
    app = make_app(link, Gallery(str(tmp_path / "captures"), "captures.jsonl"), hash_password(PASSWORD))
    try:
        assert await link.wait_connected(5)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            origin = str(client.make_url("/")).rstrip("/")
            await client.post("/login", data={"password": PASSWORD}, headers={"Origin": origin},
                              allow_redirects=False)

            async def post(body):
                response = await client.post("/api/settings", json=body, headers={"Origin": origin})
                return response.status, await response.json()

            yield client, post
    finally:
        link_task.cancel()


def test_a_bad_value_is_refused_naming_the_key_and_changes_nothing(tmp_path, runtime_dir):
    harness, path = harness_on_a_file(tmp_path, runtime_dir)
    before = path.read_bytes()

    async def check():
        async with page_on_the_daemon(harness, runtime_dir, tmp_path) as (client, post):
            cases = [({"settings": {"af.mode": "sometimes"}}, "af.mode"),
                     ({"settings": {"shutter.burst_limit": 2.5}}, "shutter.burst_limit"),
                     ({"settings": {"pins.led": 4}}, "pins.led"),
                     ({"settings": {}}, "settings"),
                     # passes the key's own check here; the daemon's checks across keys refuse it
                     ({"settings": {"af.mode": "single", "af.lock_on_threshold": 0.9}}, "af.lock_on_threshold")]
            with frames_flowing(harness):
                for body, key in cases:
                    status, answer = await post(body)
                    assert status == 400 and answer["key"] == key and key in answer["error"], (body, answer)
            foreign = await client.post("/api/settings", json={"settings": {"af.mode": "single"}},
                                        headers={"Origin": "http://evil.example"})
            assert foreign.status == 403
            current = await (await client.get("/api/settings")).json()
            assert current["settings"]["af.mode"] == "continuous" and current["saved"] is True

    with harness:
        asyncio.run(check())
        config = harness.daemon.config
        assert (config.af.mode, config.capture.format) == ("continuous", "jpeg")
        assert harness.daemon.controller.af_mode == AfMode.CONTINUOUS
    assert path.read_bytes() == before


def test_a_good_change_reaches_the_controller_the_engine_and_the_file_keeping_its_comments(tmp_path, runtime_dir):
    harness, path = harness_on_a_file(tmp_path, runtime_dir)
    before = path.read_text()
    changes = {"af.mode": "single", "af.lock_on_delay_frames": 9, "af.lock_on_threshold": 0.2,
               "shutter.priority": "focus", "shutter.burst": False, "shutter.burst_fps": 2.5,
               "shutter.burst_limit": 3, "capture.format": "png"}

    async def check():
        async with page_on_the_daemon(harness, runtime_dir, tmp_path) as (client, post):
            with frames_flowing(harness):
                status, answer = await post({"settings": changes})
            assert status == 200 and answer["saved"] is True, answer
            assert {key: answer["settings"][key] for key in changes} == changes

    with harness:
        asyncio.run(check())
        daemon = harness.daemon
        assert daemon.controller.af_mode == AfMode.SINGLE and daemon.controller.shutter.burst_limit == 3
        tuning = daemon.engine.tuning  # the engine rebuilt from the new [af] (AF-ON was up)
        assert (tuning.retrigger_frames, tuning.follow_ratio) == (9, 0.2)
        assert daemon.captures.writer.config.format == "png"
        daemon.request_reload()  # SIGHUP: the file now says what the page said
        assert harness.wait(lambda s: s.reloads >= 1)
        assert (daemon.config.af.mode, daemon.config.capture.format) == ("single", "png")
    after = path.read_text()
    reread = load_config(path)
    assert (reread.af.mode, reread.shutter.burst, reread.capture.format) == ("single", False, "png")
    old_lines, new_lines = before.splitlines(), after.splitlines()
    assert len(old_lines) == len(new_lines)
    differing = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    assert len(differing) == len(changes)  # every comment line and every other key as it was
    assert all(a[a.index("#"):] == b[b.index("#"):] for a, b in differing)  # each key's comment kept
