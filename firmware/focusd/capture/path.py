"""The capture path, on the camera thread: from a Capture command to a request for the writer.

It owns everything between a press and the writer: the captures waiting for their frame, the
full-resolution switches due after a frame, the writer, and the writers a reload replaced that
are still finishing. The daemon hands it Capture commands and frames; it returns what became of
each capture that did not reach the writer (:class:`CaptureRefused`), and the writer reports the
rest through its callback. It never calls back into the daemon: the daemon turns outcomes into
controller events, counters and published events.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from focusd.capture.writer import CaptureRequest, CaptureResult, CaptureWriter
from focusd.config.settings import CaptureConfig
from focusd.errors import CameraError
from focusd.hw.base import Camera, CameraFrame
from focusd.lens_estimate import ExposedLens, LensEstimate
from focusd.capture.order import Capture

log = logging.getLogger("focusd.daemon")

#: a capture whose press is older than this when a frame finally arrives is reported failed
#: instead of taken late (a camera outage must not produce a photo of a later moment)
MAX_CAPTURE_DELAY_NS = 500_000_000
#: the journal's raw_error when capture.raw is on and the frame has no raw stream
NO_RAW_STREAM = "the camera streams no raw frames (capture.raw was off when it started: restart focusd)"


@dataclass(frozen=True, slots=True)
class LensOptics:
    """What the files record of the lens itself (the camera profile's: these modules have a fixed
    aperture and focal length)."""

    f_number: float | None = None
    focal_length_mm: float | None = None

    @classmethod
    def of(cls, profile) -> "LensOptics":
        return cls(float(profile.f_number), float(profile.focal_length_mm))


@dataclass(frozen=True, slots=True)
class CaptureRefused:
    """A capture that never reached the writer, and why."""

    capture: Capture
    reason: str


class CapturePath:
    """Captures from their command to the writer. Build, :meth:`start`, then per frame
    :meth:`take` and :meth:`after_frame`; :meth:`close` at shutdown.

    ``on_done`` receives each writer's results on the writer's thread (it must only queue).
    """

    #: seconds a shutdown waits in all for the capture writers to write their queues (inside the
    #: unit's TimeoutStopSec=30s; what is still queued then is logged, with its count)
    WRITERS_STOP_S = 25.0

    def __init__(self, config: CaptureConfig, camera: Camera, on_done: Callable[[CaptureResult], None],
                 *, full_resolution: bool = False, optics: LensOptics = LensOptics()):
        self.camera = camera
        self.full_resolution = full_resolution
        self.optics = optics
        #: frame -> whether the AF-assist lamp lit its exposure (focusd.service.assist); None: no lamp
        self.assist_lit: Callable[[CameraFrame], bool] | None = None
        self._on_done = on_done
        self.writer = CaptureWriter(config, on_done, camera_name=camera.name)
        self._pending: list[Capture] = []
        self._full_resolution: list[tuple[Capture, CaptureRequest]] = []
        self._retiring: list[tuple[threading.Thread, Path]] = []  # replaced writers finishing (folder)

    def start(self) -> None:
        self.writer.start()

    @property
    def waiting(self) -> bool:
        """Captures wait for a frame (or for their full-resolution switch)."""
        return bool(self._pending or self._full_resolution)

    def queue(self, capture: Capture) -> None:
        """Take ``capture`` from the first frame exposed at or after its ``due_ns``."""
        self._pending.append(capture)

    def take(self, frame: CameraFrame, af_state: str, lens: LensEstimate | None = None) -> list[CaptureRefused]:
        """Hand every capture whose moment has come to the writer, from this frame. ``lens`` (fed
        with this frame already) estimates where the lens was during its exposure."""
        due = [c for c in self._pending if frame.timestamp_ns >= c.due_ns]
        if not due:
            return []
        self._pending = [c for c in self._pending if frame.timestamp_ns < c.due_ns]
        refused: list[CaptureRefused] = []
        image = raw = None
        exposed = lens.exposed(frame.sequence) if lens is not None else None
        lit = bool(self.assist_lit(frame)) if self.assist_lit is not None else False
        for capture in due:
            if frame.timestamp_ns - capture.due_ns > MAX_CAPTURE_DELAY_NS:
                refused.append(CaptureRefused(capture, "no frame within 500 ms of the press"))
                continue
            want_raw = self.writer.config.raw
            if self.full_resolution:
                # the mode switch needs the camera's buffers back: done after this frame's release
                request = _request(capture, frame, None, af_state, exposed, self.optics, lit)
                if want_raw:
                    request = dataclasses.replace(request, raw_error="full-resolution captures have no raw stream")
                self._full_resolution.append((capture, request))
                continue
            if image is None:
                image = frame.main_image()
                raw = frame.raw_image() if want_raw else None
            request = _request(capture, frame, image, af_state, exposed, self.optics, lit)
            if want_raw:
                request = dataclasses.replace(request, raw=raw, raw_error=None if raw is not None else NO_RAW_STREAM)
            self.writer.submit(request)  # a full queue is reported back
        return refused

    def take_kept(self, capture: Capture, frame: CameraFrame, exposed: ExposedLens | None, af_state: str,
                  **fields) -> None:
        """Hand ``capture`` to the writer now, from a frame kept earlier (trap focus: its peak
        frame, focusd.service.trap), whose lens estimate ``exposed`` was taken when it came;
        ``fields``: more CaptureRequest fields. Always its kept stream image, even with
        full-resolution captures (a mode switch now would show a later moment)."""
        lit = bool(self.assist_lit(frame)) if self.assist_lit is not None else False
        request = _request(capture, frame, frame.main_image(), af_state, exposed, self.optics, lit)
        self.writer.submit(dataclasses.replace(request, **fields))  # a full queue is reported back

    def after_frame(self) -> list[CaptureRefused]:
        """``camera.full_resolution_captures``: one mode switch per capture (focusing pauses).
        Called once the frame is released."""
        jobs, self._full_resolution = self._full_resolution, []
        refused: list[CaptureRefused] = []
        for capture, request in jobs:
            try:
                image = self.camera.full_resolution_capture()
            except CameraError as error:
                refused.append(CaptureRefused(capture, f"full-resolution capture failed: {error}"))
                continue
            if image is None:
                refused.append(CaptureRefused(capture, f"camera {self.camera.name} has no full-resolution capture"))
                continue
            self.writer.submit(dataclasses.replace(request, image=image))
        return refused

    def refuse_waiting(self, reason: str) -> list[CaptureRefused]:
        """Every capture still waiting for a frame fails with ``reason`` (camera fault, shutdown)."""
        pending, self._pending = self._pending, []
        return [CaptureRefused(capture, reason) for capture in pending]

    def close(self) -> None:
        """Shutdown: the writers write their queues, within ``WRITERS_STOP_S`` in all."""
        deadline = time.monotonic() + self.WRITERS_STOP_S
        self._finish_retiring_writers(deadline)
        self.writer.close(timeout_s=max(0.0, deadline - time.monotonic()))

    # --------------------------------------------------------------- a reload that changes [capture]

    def replace_writer(self, config: CaptureConfig) -> None:
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
        old, new = self.writer, CaptureWriter(config, self._on_done, camera_name=self.camera.name)
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


def _request(capture: Capture, frame: CameraFrame, image, af_state: str, exposed: ExposedLens | None,
             optics: LensOptics, assist_lit: bool = False) -> CaptureRequest:
    return CaptureRequest(
        image=image,
        press_id=capture.press_id,
        press_time_ns=capture.press_time_ns,
        frame_time_ns=frame.timestamp_ns,
        sequence=frame.sequence,
        lens_reported=float(frame.lens_position),
        af_state=af_state,
        reason=capture.reason,
        burst_index=capture.burst_index,
        input=None if capture.button is None else capture.button.value,
        lens_exposed=None if exposed is None else exposed.position,
        lens_exposed_range=None if exposed is None else (exposed.low, exposed.high),
        lens_moving=None if exposed is None else exposed.moving,
        lens_estimate_basis=None if exposed is None else exposed.basis,
        exposure_time_us=float(frame.exposure_time_us),
        analogue_gain=float(frame.analogue_gain),
        f_number=optics.f_number,
        focal_length_mm=optics.focal_length_mm,
        af_assist_lit=assist_lit,
        series_shot=capture.series,
        series_index=None if capture.series is None else capture.series.index,
        series_plane=None if capture.series is None else capture.series.plane,
        # the frame's own metadata, as the camera gave it (numbers and text only)
        extra={k: v for k, v in frame.metadata.items() if isinstance(v, (int, float, str))},
    )
