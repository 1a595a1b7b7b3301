"""What the capture writer's tests share: a collector of the results it reports."""

from __future__ import annotations

import threading

from focusd.capture.writer import CaptureResult

TIMEOUT_S = 10.0


class Results:
    """The writer's ``on_result`` callback: keeps every result; ``wait`` blocks (on a condition,
    not a sleep) until ``count`` have come."""

    def __init__(self) -> None:
        self.items: list[CaptureResult] = []
        self._changed = threading.Condition()

    def __call__(self, result: CaptureResult) -> None:
        with self._changed:
            self.items.append(result)
            self._changed.notify_all()

    def wait(self, count: int) -> list[CaptureResult]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.items) >= count, TIMEOUT_S)
            return list(self.items)
