"""The aiohttp application: login, the page, its WebSocket, presses, the AF window, the gallery.

Every request but the login page and its assets needs a session. Every state-changing request
(any method but GET/HEAD, and the WebSocket's upgrade) must come with an Origin equal to the
page's own: a page elsewhere cannot press the shutter through a logged-in browser.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from importlib import resources

from aiohttp import WSMsgType, web

from focusd.config.values import Invalid, check_window
from focusd.service.bridge import MAGNIFY_FACTORS
from focusd.signals import ButtonId
from focusd.web.auth import COOKIE, LoginLimiter, Sessions, verify_password
from focusd.web.gallery import Gallery
from focusd.web.link import DaemonLink, LinkDown, frame_age_ms
from focusd.web.settings import add_settings_routes

log = logging.getLogger("focusd.web")

LINK = web.AppKey("link", DaemonLink)
GALLERY = web.AppKey("gallery", Gallery)
SESSIONS = web.AppKey("sessions", Sessions)
LIMITER = web.AppKey("limiter", LoginLimiter)
PASSWORD = web.AppKey("password", str)

#: the page's files (package data), served by name only: no directory listing
ASSETS = {"app.js": "text/javascript", "style.css": "text/css", "login.css": "text/css",
          "settings.js": "text/javascript", "settings.css": "text/css"}
OPEN_PATHS = ("/login", "/static/style.css", "/static/login.css")
SAFE_METHODS = ("GET", "HEAD")
BUTTONS = {"af_on": ButtonId.AF_ON, "shutter": ButtonId.SHUTTER}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def asset(name: str) -> str:
    return (resources.files("focusd.web") / "static" / name).read_text(encoding="utf-8")


def make_app(link: DaemonLink, gallery: Gallery, password_hash: str) -> web.Application:
    app = web.Application(middlewares=[security_headers, origin_check, require_session],
                          client_max_size=64 * 1024)
    app[LINK], app[GALLERY], app[PASSWORD] = link, gallery, password_hash
    app[SESSIONS], app[LIMITER] = Sessions(), LoginLimiter()
    app.add_routes([
        web.get("/", index), web.get("/login", login_page), web.post("/login", login), web.post("/logout", logout),
        web.get("/static/{name}", static), web.get("/ws", websocket), web.get("/api/state", state),
        web.post("/api/press", press), web.post("/api/window", window), web.get("/api/captures", captures),
        web.get("/captures/{name}", capture_file), web.get("/thumbnails/{name}", thumbnail),
    ])
    add_settings_routes(app, LINK, _json_body)
    return app


# ------------------------------------------------------------------------------ middlewares


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@web.middleware
async def origin_check(request: web.Request, handler):
    changes = request.method not in SAFE_METHODS or request.path == "/ws"
    if changes and request.headers.get("Origin") != own_origin(request):
        log.warning("refused %s %s from origin %s", request.method, request.path, request.headers.get("Origin"))
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    return await handler(request)


@web.middleware
async def require_session(request: web.Request, handler):
    if request.path in OPEN_PATHS or request.app[SESSIONS].valid(request.cookies.get(COOKIE)):
        return await handler(request)
    if request.method in SAFE_METHODS and request.path == "/":
        raise web.HTTPSeeOther("/login")
    return web.json_response({"error": "log in first"}, status=401)


# ------------------------------------------------------------------------------------ login


def login_html(message: str = "") -> str:
    return asset("login.html").replace("{{message}}", message)


async def login_page(request: web.Request) -> web.Response:
    return web.Response(text=login_html(), content_type="text/html")


async def login(request: web.Request) -> web.Response:
    address = request.remote or "?"
    limiter = request.app[LIMITER]
    if not limiter.allowed(address):
        return web.Response(text=login_html("Too many attempts: wait a minute."), content_type="text/html",
                            status=429, headers={"Retry-After": str(limiter.retry_after_s(address))})
    form = await request.post()
    password = str(form.get("password", ""))
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, verify_password, password, request.app[PASSWORD]):
        limiter.failed(address)
        log.warning("wrong password from %s", address)
        return web.Response(text=login_html("Wrong password."), content_type="text/html", status=401)
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(COOKIE, request.app[SESSIONS].new(), httponly=True, samesite="Strict", path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].drop(request.cookies.get(COOKIE))
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(COOKIE, path="/")
    return response


# ------------------------------------------------------------------------------------- page


async def index(request: web.Request) -> web.Response:
    return web.Response(text=asset("index.html"), content_type="text/html")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.Response(text=asset(name), content_type=ASSETS[name])


async def state(request: web.Request) -> web.Response:
    return web.json_response(request.app[LINK].status())


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Status and events as JSON text; frames as binary: a 4-byte length, a JSON header (with the
    frame's age when sent, in ms, and the wall-clock time it was sent), the JPEG. A slow browser gets the newest frame when it is ready
    for one: the frames in between are skipped, nothing queues. The browser sends
    ``{"type": "magnify", "factor": 1 | 2 | 4}``; while magnified it gets the main-stream crops
    (header type "magnified", with the crop's box in the frame) instead of the lores frames."""
    link = request.app[LINK]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    watcher = link.watch()
    watcher.offer(link.status())
    sender = asyncio.create_task(_send_to(ws, link, watcher))
    try:
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
            if message.type == WSMsgType.TEXT:
                _from_browser(link, watcher, message.data)
    finally:
        sender.cancel()
        link.unwatch(watcher)
    return ws


def _from_browser(link: DaemonLink, watcher, text: str) -> None:
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    factor = message.get("factor") if isinstance(message, dict) and message.get("type") == "magnify" else None
    if factor in MAGNIFY_FACTORS and not isinstance(factor, bool):
        link.set_magnify(watcher, factor)
    else:
        watcher.offer({"type": "error", "error": 'expected {"type": "magnify", "factor": 1, 2 or 4}'})


async def _send_to(ws: web.WebSocketResponse, link: DaemonLink, watcher) -> None:
    sent = None  # (type, generation) of the last frame sent
    watcher.wake.set()
    try:
        while not ws.closed:
            await watcher.wake.wait()
            watcher.wake.clear()
            for message in watcher.take():
                await ws.send_str(json.dumps(message))
            view = link.view_for(watcher)
            if view is not None and (view[0]["type"], view[0]["generation"]) != sent:
                header, jpeg = await link.jpeg(view)
                sent = (header["type"], header["generation"])
                # the frame's age now and the wall clock now: the page adds the time since then
                # to get the frame's age when it is shown (sent_wall: time.time(), seconds)
                stamp = {"age_ms": round(frame_age_ms(header), 1), "sent_wall": time.time()}
                meta = json.dumps({**header, **stamp}).encode()
                await ws.send_bytes(struct.pack("!I", len(meta)) + meta + jpeg)
    except (ConnectionError, RuntimeError):
        pass  # the browser went away


# ---------------------------------------------------------------------------------- commands


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}', content_type="application/json")
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "the body must be a JSON object"}', content_type="application/json")
    return body


async def _to_daemon(request: web.Request, header: dict) -> web.Response:
    try:
        await request.app[LINK].send(header)
    except (LinkDown, ConnectionError) as error:
        return web.json_response({"error": str(error) or "the focusd daemon is not connected"}, status=503)
    return web.json_response({"ok": True, **{k: v for k, v in header.items() if k != "type"}})


async def press(request: web.Request) -> web.Response:
    """``{"button": "af_on" | "shutter", "pressed": true | false}``: the button's contact, through
    the daemon's command inlet (debounced and handled exactly as the GPIO button)."""
    body = await _json_body(request)
    button, pressed = body.get("button"), body.get("pressed")
    if button not in BUTTONS or not isinstance(pressed, bool):
        return web.json_response({"error": 'expected {"button": "af_on" or "shutter", "pressed": true or false}'},
                                 status=400)
    return await _to_daemon(request, {"type": "press" if pressed else "release", "button": BUTTONS[button].value})


async def window(request: web.Request) -> web.Response:
    """``{"window": [x, y, w, h]}`` (fractions of the frame), checked as the file's af.window."""
    body = await _json_body(request)
    try:
        checked = check_window(body.get("window"))
    except Invalid as invalid:
        return web.json_response({"error": f"af.window: {invalid}", "key": "af.window"}, status=400)
    return await _to_daemon(request, {"type": "window", "window": list(checked)})


# ----------------------------------------------------------------------------------- gallery


async def captures(request: web.Request) -> web.Response:
    return web.json_response({"captures": request.app[GALLERY].recent()})


async def capture_file(request: web.Request) -> web.StreamResponse:
    path = request.app[GALLERY].image_path(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    headers = {"Content-Disposition": f'attachment; filename="{path.name}"'} if "download" in request.query else {}
    return web.FileResponse(path, headers=headers)


async def thumbnail(request: web.Request) -> web.Response:
    gallery = request.app[GALLERY]
    path = gallery.image_path(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    jpeg = await asyncio.get_running_loop().run_in_executor(None, gallery.thumbnail, path)
    return web.Response(body=jpeg, content_type="image/jpeg")
