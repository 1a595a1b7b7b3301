"""A blocking client of the daemon's bridge socket, for the tests: it reads on a thread of its
own (or not at all, for the stalled-reader tests) and lets a test wait for a message."""

from __future__ import annotations

import socket
import threading

from focusd.service.bridge import encode, read_message


class BridgeClient:
    def __init__(self, path: str, reading: bool = True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.messages: list[tuple[dict, bytes]] = []
        self._arrived = threading.Condition()
        self.closed = False
        if reading:
            threading.Thread(target=self._read, daemon=True).start()

    def _read_exactly(self, count: int) -> bytes:
        chunks, left = [], count
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read(self) -> None:
        try:
            while True:
                message = read_message(self._read_exactly)
                with self._arrived:
                    self.messages.append(message)
                    self._arrived.notify_all()
        except (EOFError, OSError):
            with self._arrived:
                self.closed = True
                self._arrived.notify_all()

    def send(self, header: dict) -> None:
        self.sock.sendall(encode(header))

    def wait(self, predicate, timeout: float = 10.0) -> tuple[dict, bytes] | None:
        """The first message (from the start) for which ``predicate(header)`` holds."""
        def found():
            return next((m for m in self.messages if predicate(m[0])), None)

        with self._arrived:
            self._arrived.wait_for(lambda: found() is not None or self.closed, timeout)
            return found()

    def frames(self) -> list[tuple[dict, bytes]]:
        with self._arrived:
            return [m for m in self.messages if m[0]["type"] == "frame"]

    def close(self) -> None:
        # shutdown first: a close alone leaves the connection open while our reader sits in recv
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
