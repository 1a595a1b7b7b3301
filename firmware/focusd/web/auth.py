"""The page's password, sessions and login rate limit.

The password is stored as ``scrypt$N$r$p$salt$hash`` (hex) by ``focusd web-password``: scrypt is in
the standard library (hashlib), memory-hard, and a 2**14 cost takes about 50 ms on a Pi 4. A
session is a random token kept in memory (a restart logs everyone out) in an HttpOnly,
SameSite=Strict cookie.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import secrets
import tempfile
import time

from focusd.errors import ConfigError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 8
#: failed logins from one address within LOGIN_WINDOW_S before it is refused until they age out
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW_S = 60.0
SESSION_S = 12 * 3600.0
COOKIE = "focusd_session"


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_stored(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """The parts of a stored hash; ValueError if it is not one this module wrote."""
    kind, n, r, p, salt, digest = stored.strip().split("$")
    if kind != "scrypt":
        raise ValueError(f"unknown hash kind {kind!r}")
    return int(n), int(r), int(p), bytes.fromhex(salt), bytes.fromhex(digest)


def verify_password(password: str, stored: str) -> bool:
    n, r, p, salt, digest = check_stored(stored)
    given = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest))
    return hmac.compare_digest(given, digest)


def read_password_file(path: str) -> str:
    """The stored hash; a ConfigError naming ``web.password_file`` if it is missing or not a hash."""
    try:
        with open(path, encoding="utf-8") as file:
            stored = file.read().strip()
        check_stored(stored)
    except FileNotFoundError:
        raise ConfigError("web.password_file", f"{path} does not exist: set the page's password with "
                          "`focusd web-password`", "web") from None
    except OSError as error:
        raise ConfigError("web.password_file", f"{path} cannot be read: {error.strerror}", "web") from None
    except ValueError:
        raise ConfigError("web.password_file", f"{path} holds no password hash: set it again with "
                          "`focusd web-password`", "web") from None
    return stored


def write_password_file(path: str, password: str) -> None:
    """Hash and write atomically (a temporary file renamed), readable by owner and group only."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".web-password.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(hash_password(password) + "\n")
        os.chmod(temporary, 0o640)
        _give_to_page_group(temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


#: the group of the page's unit (systemd/focusd-web.service): it must read the hash
PAGE_GROUP = "focusd-web"


def _give_to_page_group(path: str) -> None:
    """Run as root on the device: the file's group becomes focusd-web's, so the page can read it."""
    import grp

    try:
        gid = grp.getgrnam(PAGE_GROUP).gr_gid
    except KeyError:
        return  # a desktop: no such group, the file stays the caller's
    try:
        os.chown(path, -1, gid)
    except PermissionError:
        pass  # not root: the owner's own group it is


class Sessions:
    """Logged-in browsers: token -> expiry (monotonic seconds)."""

    def __init__(self, lifetime_s: float = SESSION_S, clock=time.monotonic):
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._tokens: dict[str, float] = {}

    def new(self) -> str:
        now = self._clock()
        self._tokens = {t: e for t, e in self._tokens.items() if e > now}  # expired ones go
        token = secrets.token_urlsafe(32)
        self._tokens[token] = now + self.lifetime_s
        return token

    def valid(self, token: str | None) -> bool:
        return token is not None and self._tokens.get(token, 0.0) > self._clock()

    def drop(self, token: str | None) -> None:
        self._tokens.pop(token, None)


class LoginLimiter:
    """At most MAX_FAILED_LOGINS failures per address in a sliding LOGIN_WINDOW_S."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._failures: dict[str, collections.deque] = {}

    def _recent(self, address: str) -> collections.deque:
        failures = self._failures.setdefault(address, collections.deque())
        while failures and failures[0] <= self._clock() - LOGIN_WINDOW_S:
            failures.popleft()
        return failures

    def allowed(self, address: str) -> bool:
        return len(self._recent(address)) < MAX_FAILED_LOGINS

    def failed(self, address: str) -> None:
        self._recent(address).append(self._clock())

    def retry_after_s(self, address: str) -> int:
        failures = self._recent(address)
        return max(1, int(failures[0] + LOGIN_WINDOW_S - self._clock()) + 1) if failures else 0
