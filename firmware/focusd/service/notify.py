"""systemd's notification protocol (sd_notify), in the standard library only.

Why a module of its own: the unit is ``Type=notify`` with a watchdog, so systemd only counts focusd
as started when it says ``READY=1``, and restarts it when the ``WATCHDOG=1`` pings stop. The
protocol is one datagram of ``KEY=VALUE`` lines sent to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``). Doing it here, with
``socket`` alone, keeps a C binding (python-systemd) off the Pi and lets the tests check it against
a real socket.

Rules this module keeps:

- Without ``NOTIFY_SOCKET`` (a terminal, the demo, the tests) every call is a no-op.
- A send never raises and never blocks the caller: the camera thread calls :meth:`watchdog` once
  per frame. A failed send is logged once as a warning, later ones at debug level.
- :meth:`watchdog` sends at most one ping per quarter of the watchdog interval, so calling it on
  every frame (120 per second) costs a clock read, not a system call.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable, Mapping

log = logging.getLogger("focusd.notify")

#: without a watchdog interval from systemd, pings are still rate-limited to one per this many seconds
DEFAULT_PING_SPACING_S = 1.0
#: pings are sent this often relative to the watchdog interval (systemd advises at least twice per
#: interval; four times leaves room for one slow frame or a lost datagram)
PINGS_PER_INTERVAL = 4


def _status_value(text: str) -> str:
    """STATUS= is one line: a newline would start a new (bogus) assignment."""
    return " ".join(text.splitlines())


class SystemdNotifier:
    """Tells systemd about focusd's life: ready, alive (watchdog), reloading, stopping, status.

    ``address`` is ``$NOTIFY_SOCKET`` as systemd sets it: ``/run/systemd/notify`` or ``@name`` for an
    abstract socket; ``None`` makes a disabled notifier. ``watchdog_interval_s`` is systemd's
    ``WatchdogSec`` (``$WATCHDOG_USEC``) in seconds, or ``None`` when no watchdog is armed for this
    process. ``clock`` (seconds, monotonic) is only for spacing the watchdog pings.
    """

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.address = address
        self.watchdog_interval_s = watchdog_interval_s
        self._clock = clock
        self._sockaddr: str | bytes | None = None
        if address:
            if address.startswith("@"):
                # abstract namespace: the leading NUL byte, and no terminating one
                self._sockaddr = "\0" + address[1:]
            elif address.startswith("/"):
                self._sockaddr = address
            else:
                log.warning("NOTIFY_SOCKET=%r is not a path or an @abstract name: not notifying systemd", address)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        self._last_ping: float | None = None
        if watchdog_interval_s:
            self.ping_spacing_s = watchdog_interval_s / PINGS_PER_INTERVAL
        else:
            self.ping_spacing_s = DEFAULT_PING_SPACING_S
        self.sent = 0  #: datagrams sent successfully (for the status of the tests and `focusd` itself)
        self.failed = 0  #: datagrams that could not be sent

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **kwargs) -> "SystemdNotifier":
        """The notifier systemd asked for through ``NOTIFY_SOCKET``, ``WATCHDOG_USEC``, ``WATCHDOG_PID``.

        ``WATCHDOG_PID``, when set, names the process the watchdog is for: in any other process (a
        child that inherited the environment) the watchdog is off, as sd_watchdog_enabled() does.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        interval: float | None = None
        usec = env.get("WATCHDOG_USEC")
        if usec:
            try:
                value = int(usec)
            except ValueError:
                log.warning("WATCHDOG_USEC=%r is not a whole number of microseconds: watchdog off", usec)
                value = 0
            pid = env.get("WATCHDOG_PID")
            for_us = True
            if pid:
                try:
                    for_us = int(pid) == os.getpid()
                except ValueError:
                    log.warning("WATCHDOG_PID=%r is not a process id: watchdog off", pid)
                    for_us = False
            if value > 0 and for_us:
                interval = value / 1e6
        return cls(address, watchdog_interval_s=interval, **kwargs)

    @property
    def enabled(self) -> bool:
        """Whether messages go anywhere (``NOTIFY_SOCKET`` was set to a usable address)."""
        return self._sockaddr is not None

    @property
    def watchdog_enabled(self) -> bool:
        """Whether systemd armed a watchdog for this process."""
        return self.enabled and self.watchdog_interval_s is not None

    # ----------------------------------------------------------------------------- messages

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete: systemd marks the unit active."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(f"STATUS={_status_value(status)}")
        return self.notify(*lines)

    def watchdog(self) -> bool:
        """The loop is healthy. Cheap to call on every frame: at most one ping per spacing."""
        if not self.enabled:
            return False
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self.ping_spacing_s:
            return False
        sent = self.notify("WATCHDOG=1")
        if sent:
            self._last_ping = now
        return sent

    def reloading(self) -> bool:
        """A configuration re-read has begun; :meth:`ready` ends it.

        MONOTONIC_USEC is what systemd 253's Type=notify-reload requires; older ones ignore it.
        """
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> bool:
        """Shutdown has begun (captures still being written)."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """One line shown by ``systemctl status focusd`` (counters, AF state)."""
        return self.notify(f"STATUS={_status_value(text)}")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more time in the current start-up or shutdown (EXTEND_TIMEOUT_USEC)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1e6))}")

    # ------------------------------------------------------------------------------ transport

    def notify(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines. True if it went out; never raises."""
        if self._sockaddr is None:
            return False
        message = "\n".join(lines).encode("utf-8")
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    # a stuck receiver must not stall the camera thread: a dropped ping is better
                    self._socket.setblocking(False)
                self._socket.sendto(message, self._sockaddr)
            except OSError as error:
                self.failed += 1
                if not self._warned:
                    self._warned = True
                    log.warning("cannot notify systemd at %s: %s (further failures logged at debug level)",
                                self.address, error)
                else:
                    log.debug("cannot notify systemd: %s", error)
                return False
            self.sent += 1
            return True

    def close(self) -> None:
        """Close the socket (a later message opens it again)."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def __repr__(self) -> str:
        return f"SystemdNotifier({self.address!r}, watchdog_interval_s={self.watchdog_interval_s!r})"
