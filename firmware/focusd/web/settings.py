"""The page's settings: the live keys (focusd.config.writeback.LIVE_KEYS), changed while running.

``POST /api/settings`` with ``{"settings": {"af.mode": "single", ...}}``. Each value gets the
configuration file's own check here (a bad one is refused at once, naming the key), then goes to
the daemon over the bridge: it checks them all again with the file's checks across keys, writes
them to its configuration file and applies them as a reload does, on its camera thread. The
answer is the daemon's: the settings now running, or its refusal naming the key. This process
never writes the file (its unit keeps /etc/focusd read-only).
"""

from __future__ import annotations

from aiohttp import web

from focusd.config.writeback import LIVE_KEYS, check_live
from focusd.errors import ConfigError
from focusd.web.link import LinkDown

#: how long the daemon may take to answer (it applies settings between frames)
ANSWER_TIMEOUT_S = 5.0


def add_settings_routes(app: web.Application, link_key, json_body) -> None:
    """The two routes; ``json_body(request)`` reads a request's JSON object (or answers 400)."""
    async def change(request: web.Request) -> web.Response:
        body = await json_body(request)
        try:
            changes = check_live(body.get("settings"))
        except ConfigError as error:
            return refused(error.key, str(error))
        try:
            answer = await request.app[link_key].request({"type": "settings", "settings": changes}, ANSWER_TIMEOUT_S)
        except (LinkDown, ConnectionError) as error:
            return web.json_response({"error": str(error) or "the focusd daemon is not connected"}, status=503)
        except TimeoutError:
            return web.json_response({"error": "the focusd daemon did not answer"}, status=504)
        if answer.get("type") == "error":
            return refused(answer.get("key"), answer.get("error", "refused"))
        saved = request.app[link_key].state.get("settings_saved", False)
        return web.json_response({"ok": True, "settings": answer["settings"], "saved": saved})

    async def current(request: web.Request) -> web.Response:
        state = request.app[link_key].state
        return web.json_response({"keys": list(LIVE_KEYS), "settings": state.get("settings", {}),
                                  "saved": state.get("settings_saved", False)})

    app.add_routes([web.get("/api/settings", current), web.post("/api/settings", change)])


def refused(key: str | None, message: str) -> web.Response:
    return web.json_response({"error": message, "key": key}, status=400)
