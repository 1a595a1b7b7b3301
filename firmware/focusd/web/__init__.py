"""focusd-web: the viewfinder page, a process of its own (``focusd web``, systemd/focusd-web.service).

It connects to the daemon's bridge socket (focusd.service.bridge), turns the preview frames into
JPEGs and the events into WebSocket messages for each browser, and sends the page's presses and AF
window back through the daemon's command inlet. The daemon never sees the network.

- link.py: the bridge client (reconnects when the daemon restarts)
- auth.py: the password (scrypt), sessions, the login rate limit
- app.py: the aiohttp application (routes, Origin check, WebSocket)
- gallery.py: the capture folder: the journal's last shots, files, thumbnails
- settings.py: the live settings (checked here, applied and saved by the daemon)
- server.py: running the application on the configured addresses
- static/: the page (plain HTML, CSS, JS: no build step, no CDN)
"""
