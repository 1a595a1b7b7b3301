"""The daemon's capture path: from a Capture command to a request for the writer.

Why apart from focusd.service.daemon: the daemon's module is its loop, start-up and shutdown; how a press
becomes a file (which frame, what it records, the optional full-resolution switch, a failure
reported with its reason, a writer replaced by a reload) is one concern of its own. A mixin
because it works on the daemon's camera, engine, writer and list of pending captures, on the camera
thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.config.settings import CaptureConfig
from focusd.service.controller import Capture, CaptureFinished
from focusd.errors import CameraError
from focusd.hw.base import CameraFrame

log = logging.getLogger("focusd.daemon")

#: a capture whose press is older than this when a frame finally arrives is reported failed
#: instead of taken late (a camera outage must not produce a photo of a later moment)
MAX_CAPTURE_DELAY_NS = 500_000_000


class CapturePath:
    """Captures for Daemon (a mixin: it uses the daemon's camera, engine, writer and controller)."""

    def _take_captures(self, frame: CameraFrame) -> None:
        """Hand every capture whose moment has come to the writer, from this frame."""
        due = [c for c in self._pending if frame.timestamp_ns >= c.due_ns]
        if not due:
            return
        self._pending = [c for c in self._pending if frame.timestamp_ns < c.due_ns]
        image = None
        for capture in due:
            if frame.timestamp_ns - capture.due_ns > MAX_CAPTURE_DELAY_NS:
                self._report_failed(capture, "no frame within 500 ms of the press")
                continue
            if self.config.camera.full_resolution_captures:
                # the mode switch needs the camera's buffers back: done after this frame's release
                self._full_resolution.append((capture, self._request(capture, frame, None)))
                continue
            if image is None:
                image = frame.main_image()
            assert self.writer is not None
            self.writer.submit(self._request(capture, frame, image))  # a full queue is reported back

    def _request(self, capture: Capture, frame: CameraFrame, image) -> CaptureRequest:
        return CaptureRequest(
            image=image,
            press_id=capture.press_id,
            press_time_ns=capture.press_time_ns,
            frame_time_ns=frame.timestamp_ns,
            sequence=frame.sequence,
            lens_position=float(frame.lens_position),
            af_state=self.engine.state.name,
            reason=capture.reason,
            burst_index=capture.burst_index,
            extra={
                "exposure_time_us": frame.exposure_time_us,
                "analogue_gain": frame.analogue_gain,
                **{k: v for k, v in frame.metadata.items() if isinstance(v, (int, float, str))},
            },
        )

    def _take_full_resolution(self) -> None:
        """``camera.full_resolution_captures``: one mode switch per capture (focusing pauses)."""
        jobs, self._full_resolution = self._full_resolution, []
        for capture, request in jobs:
            try:
                image = self.camera.full_resolution_capture()
            except CameraError as error:
                self._report_failed(capture, f"full-resolution capture failed: {error}")
                continue
            if image is None:
                self._report_failed(capture, f"camera {self.camera.name} has no full-resolution capture")
                continue
            assert self.writer is not None
            self.writer.submit(dataclasses.replace(request, image=image))

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, []
        for capture in pending:
            self._report_failed(capture, reason)

    def _report_failed(self, capture: Capture, reason: str) -> None:
        self.stats.captures_failed += 1
        self.stats.last_error = reason
        log.error("capture of press %d failed: %s", capture.press_id, reason)
        self._dispatch(self.controller.handle(CaptureFinished(capture.press_id, reason, self.camera.now_ns())))

    # --------------------------------------------------------------- a reload that changes [capture]

    #: seconds a shutdown waits in all for the capture writers to write their queues (inside the
    #: unit's TimeoutStopSec=30s; what is still queued then is logged, with its count)
    WRITERS_STOP_S = 25.0

    def _replace_writer(self, config: CaptureConfig) -> None:
        """The next captures go to a new writer at once; the old one writes its queue on a helper
        thread. Closing it here would wait for that whole queue on the camera thread: focusing
        would stall and the watchdog starve. Its results still come back through the control
        queue (and its journal); :meth:`_finish_retiring_writers` joins it at shutdown.

        Two writers must never work in one folder: a starting writer cleans up temporary files
        (it would take the other's half-written file for a crash's leftover), reads the highest
        file counter and repairs the journal. So in a folder that a writer being replaced still
        writes to (the same one, or after X -> Y -> X) the new writer starts only once every
        writer before it is done; its captures wait in its (bounded) queue meanwhile.
        """
        old, new = self.writer, CaptureWriter(config, self._on_capture_done, camera_name=self.camera.name)
        earlier = [(helper, folder) for helper, folder in self._retiring if helper.is_alive()]
        folder = Path(config.directory).resolve()
        busy = {Path(old.config.directory).resolve(), *(f for _, f in earlier)}
        wait = folder in busy
        if not wait:
            new.start()

        def retire() -> None:
            try:
                for helper, _ in earlier:
                    helper.join()  # in order: a writer replaced before may only just have started
                old.close()
            except Exception:  # noqa: BLE001 - a helper thread: report it, then start the new writer
                log.exception("the replaced capture writer failed while finishing its queue")
            finally:
                if wait:
                    try:
                        new.start()
                    except Exception:  # noqa: BLE001
                        log.exception("the new capture writer did not start")

        helper = threading.Thread(target=retire, name="focusd-capture-retire", daemon=True)
        self.writer = new
        helper.start()
        self._retiring = [*earlier, (helper, Path(old.config.directory).resolve())]

    def _finish_retiring_writers(self, deadline: float) -> None:
        """Shutdown: wait, until ``deadline`` (time.monotonic), for the writers a reload replaced."""
        retiring, self._retiring = self._retiring, []
        for helper, _ in retiring:
            helper.join(max(0.0, deadline - time.monotonic()))
            if helper.is_alive():
                log.warning("a replaced capture writer is still writing at shutdown")
