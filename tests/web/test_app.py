"""The web application with aiohttp's test client: login, security, presses, the AF window, the
WebSocket (status, events, JPEG frames) and the gallery."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time

import numpy as np
from aiohttp import WSMsgType
from PIL import Image

from focusd.service import events as ev
from focusd.web.auth import COOKIE, MAX_FAILED_LOGINS

from page_fixture import PASSWORD, Frame, run


def test_the_page_needs_a_login_and_a_wrong_password_is_refused(tmp_path):
    async def check(page):
        response = await page.client.get("/", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"
        assert (await page.client.get("/api/state")).status == 401
        assert (await page.client.get("/ws")).status in (401, 403)
        wrong = await page.login("not the password")
        assert wrong.status == 401 and "Wrong password" in await wrong.text()
        assert COOKIE not in wrong.cookies
        assert (await page.client.get("/api/state")).status == 401

    run(check, tmp_path)


def test_a_login_sets_an_httponly_samesite_strict_cookie_and_opens_the_page(tmp_path):
    async def check(page):
        response = await page.login()
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        index = await page.client.get("/")
        assert index.status == 200 and 'id="preview"' in await index.text()
        assert "default-src 'self'" in index.headers["Content-Security-Policy"]
        state = await (await page.client.get("/api/state")).json()
        assert state["connected"] is True and state["camera"] == "stand-in"
        logout = await page.post("/logout")
        assert logout.status == 303
        assert (await page.client.get("/api/state")).status == 401

    run(check, tmp_path)


def test_logins_are_rate_limited_even_with_the_right_password(tmp_path):
    async def check(page):
        for _ in range(MAX_FAILED_LOGINS):
            assert (await page.login("wrong guess")).status == 401
        limited = await page.login(PASSWORD)
        assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
        assert COOKIE not in limited.cookies

    run(check, tmp_path)


def test_state_changing_requests_from_a_foreign_or_missing_origin_are_refused(tmp_path):
    async def check(page):
        await page.login()
        for origin in ("http://evil.example", None, "null"):
            response = await page.post("/api/press", origin=origin, json={"button": "shutter", "pressed": True})
            assert response.status == 403, origin
        assert (await page.post("/login", origin="http://evil.example", data={"password": PASSWORD})).status == 403
        ws = await page.client.get("/ws", headers={"Origin": "http://evil.example"})
        assert ws.status == 403
        # the same request from the page's own origin goes through: the refusals were the origin's
        assert (await page.post("/api/press", json={"button": "shutter", "pressed": True})).status == 200
        assert await asyncio.to_thread(page.inlet.wait, 1)
        assert page.inlet.calls == [("press", "shutter")]

    run(check, tmp_path)


def test_presses_and_the_af_window_reach_the_inlet_and_bad_ones_are_refused(tmp_path):
    async def check(page):
        await page.login()
        for body in ({"button": "af_on", "pressed": True}, {"button": "af_on", "pressed": False}):
            assert (await page.post("/api/press", json=body)).status == 200
        bad = [{"button": "remote", "pressed": True}, {"button": "af_on", "pressed": "yes"}, ["af_on"]]
        for body in bad:
            assert (await page.post("/api/press", json=body)).status == 400, body
        refused = await page.post("/api/window", json={"window": [0.8, 0.1, 0.5, 0.2]})
        assert refused.status == 400 and (await refused.json())["key"] == "af.window"
        assert (await page.post("/api/window", json={"window": [0.1, 0.2, 0.25, 0.25]})).status == 200
        assert await asyncio.to_thread(page.inlet.wait, 3)
        assert page.inlet.calls == [("press", "af_on"), ("release", "af_on"), ("window", (0.1, 0.2, 0.25, 0.25))]

    run(check, tmp_path)


def test_the_websocket_pushes_status_events_and_jpeg_frames(tmp_path):
    async def check(page):
        await page.login()
        ws = await page.client.ws_connect("/ws", headers={"Origin": page.origin})
        status = json.loads((await ws.receive(timeout=5)).data)
        assert status["type"] == "status" and status["connected"] and status["af_state"] == "IDLE"
        page.events.publish(ev.FocusChanged("FOCUSED", 10, 2.0))
        pixels = np.tile(np.arange(160, dtype=np.uint8), (90, 1))
        page.bridge.offer_frame(Frame(pixels, 7, 1_000_000_000), (0.1, 0.1, 0.5, 0.5))
        got_event = got_frame = None
        while got_event is None or got_frame is None:
            message = await ws.receive(timeout=5)
            if message.type == WSMsgType.TEXT and json.loads(message.data).get("event") == "FocusChanged":
                got_event = json.loads(message.data)
            elif message.type == WSMsgType.BINARY:
                got_frame = message.data
        assert got_event["state"] == "FOCUSED"
        (length,) = struct.unpack("!I", got_frame[:4])
        meta = json.loads(got_frame[4:4 + length])
        assert meta["sequence"] == 7 and meta["window"] == [0.1, 0.1, 0.5, 0.5] and "age_ms" in meta
        assert abs(time.time() - meta["sent_wall"]) < 5  # the wall clock when sent: the page adds the rest
        image = Image.open(io.BytesIO(got_frame[4 + length:]))
        assert image.format == "JPEG" and image.size == (160, 90)
        assert abs(np.asarray(image, dtype=float).mean() - pixels.mean()) < 3  # the frame's pixels
        state = await (await page.client.get("/api/state")).json()
        assert state["af_state"] == "FOCUSED"  # the link keeps the state the events tell
        await ws.close()

    run(check, tmp_path)


async def next_frame(ws) -> tuple[dict, Image.Image]:
    """The next binary message: a frame's header and its JPEG."""
    while True:
        message = await ws.receive(timeout=5)
        if message.type == WSMsgType.BINARY:
            (length,) = struct.unpack("!I", message.data[:4])
            return json.loads(message.data[4:4 + length]), Image.open(io.BytesIO(message.data[4 + length:]))


def test_a_magnifying_browser_gets_jpegs_of_the_main_stream_crop_and_the_daemon_stops_when_none_does(tmp_path):
    async def check(page):
        await page.login()
        bridge = page.bridge
        lores = np.zeros((90, 160), np.uint8)
        main = np.zeros((360, 640, 3), np.uint8)
        main[:, :, 0] = np.arange(640) * 255 // 639  # red grows to the right: the crop's place shows
        main[:, :, 2] = 200
        one = await page.client.ws_connect("/ws", headers={"Origin": page.origin})
        other = await page.client.ws_connect("/ws", headers={"Origin": page.origin})
        await one.send_str(json.dumps({"type": "magnify", "factor": 2}))
        await other.send_str(json.dumps({"type": "magnify", "factor": 4}))
        assert await asyncio.to_thread(bridge.wait_clients, lambda b: b.magnify_factor == 2, 5)
        window = (0.5, 0.25, 0.5, 0.5)  # centre (0.75, 0.5): the crop is the right half's middle
        bridge.offer_frame(Frame(lores, 7, 1_000_000_000, main=main), window)
        for ws in (one, other):  # the 4x page gets the 2x crop (it shows its middle itself)
            header, image = await next_frame(ws)
            while header["type"] != "magnified":
                header, image = await next_frame(ws)
            assert header["crop"] == [0.5, 0.25, 0.5, 0.5] and header["factor"] == 2
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (320, 180)
            red = np.asarray(image, dtype=float)[:, :, 0].mean()
            assert abs(red - main[90:270, 320:640, 0].mean()) < 4 and abs(np.asarray(image)[:, :, 2].mean() - 200) < 4
        await one.send_str(json.dumps({"type": "magnify", "factor": 1}))
        await other.send_str(json.dumps({"type": "magnify", "factor": 3}))  # refused, told
        while json.loads((await other.receive(timeout=5)).data).get("type") != "error":
            pass
        await other.close()  # gone: nobody magnifies, the daemon is told so
        assert await asyncio.to_thread(bridge.wait_clients, lambda b: b.magnify_factor == 1, 5)
        crops = bridge.crops_taken
        bridge.offer_frame(Frame(lores, 8, 2_000_000_000), window)  # (no main: asking would fail)
        header, image = await next_frame(one)
        while header["type"] != "frame" or header["sequence"] != 8:
            header, image = await next_frame(one)
        assert image.size == (160, 90) and bridge.crops_taken == crops
        await one.close()

    run(check, tmp_path)


def write_shot(folder, name: str, **record):
    Image.new("RGB", (64, 48), (200, 100, 50)).save(folder / name)
    line = {"file": name, "error": None, "lens_position": 2.5, "af_state": "FOCUSED", "reason": "release",
            "wall_time": "2026-01-01T10:00:00.000", "press_id": 1, "burst_index": 0, **record}
    with open(folder / "captures.jsonl", "a") as journal:
        journal.write(json.dumps(line) + "\n")


def test_the_gallery_lists_the_journals_shots_and_serves_only_capture_files(tmp_path):
    async def check(page):
        await page.login()
        write_shot(page.captures, "IMG_1.jpg")
        write_shot(page.captures, "IMG_2.jpg", lens_position=4.0)
        with open(page.captures / "captures.jsonl", "a") as journal:
            journal.write('{"file": null, "error": "disk full"}\n{"torn')
        (tmp_path / "secret.jpg").write_bytes(b"secret")
        (page.captures / "link.jpg").symlink_to(tmp_path / "secret.jpg")
        shots = (await (await page.client.get("/api/captures")).json())["captures"]
        assert [s["file"] for s in shots] == ["IMG_2.jpg", "IMG_1.jpg"]  # newest first
        assert shots[0]["lens_position"] == 4.0 and shots[0]["af_state"] == "FOCUSED"
        full = await page.client.get("/captures/IMG_1.jpg")
        assert full.status == 200 and (await full.read()) == (page.captures / "IMG_1.jpg").read_bytes()
        download = await page.client.get("/captures/IMG_1.jpg?download=1")
        assert "attachment" in download.headers["Content-Disposition"]
        thumb = Image.open(io.BytesIO(await (await page.client.get("/thumbnails/IMG_2.jpg")).read()))
        assert thumb.format == "JPEG" and max(thumb.size) <= 240
        for name in ("link.jpg", "..%2Fsecret.jpg", "captures.jsonl", ".hidden.jpg", "missing.jpg"):
            assert (await page.client.get(f"/captures/{name}")).status == 404, name
        for path in ("/static/", "/static/index.html", "/static/..%2F__init__.py", "/captures/"):
            assert (await page.client.get(path)).status == 404, path

    run(check, tmp_path)


def test_commands_say_so_when_the_daemon_is_gone(tmp_path):
    async def check(page):
        await page.login()
        page.bridge.close()
        ws = await page.client.ws_connect("/ws", headers={"Origin": page.origin})
        while True:  # the page learns of it (and would tell the browser: "reconnecting")
            message = json.loads((await ws.receive(timeout=5)).data)
            if message.get("connected") is False:
                break
        response = await page.post("/api/press", json={"button": "shutter", "pressed": True})
        assert response.status == 503 and "not connected" in (await response.json())["error"]
        await ws.close()

    run(check, tmp_path)
