"""The capture writer: a bounded queue between the shutter and the card, and one writer thread.

It exists so that encoding and fsync (tens of milliseconds on an SD card, seconds when the card
stalls) never run on the camera thread, and so that what a press leaves on the card is decided in
one place. The file-level guarantees (complete files only, never an overwrite, whole journal lines)
live in :mod:`focusd.capture.files`.

Every request ends in exactly one :class:`CaptureResult` passed to ``on_done``, and in one journal
line (``capture.journal`` next to the images):

- written: ``{"file": "IMG_....jpg", "error": null, "press_id": .., "lens_exposed": .., ...}``,
  appended after the image is published (every field: the README's "The capture journal");
- failed (disk full, write error, bad image, queue full, writer closed): the same fields with
  ``"file": null`` and ``"error"`` set. A failure line is best effort: when the disk is full it
  usually cannot be written either (the failure is then in the log and the result only);
- ``"recovered": true``: at start, the newest image had no line (the process was killed between
  publishing it and journaling it); the line is rebuilt from the metadata inside the image.

If the image is published but its journal line cannot be written, the capture still counts as
written (the image carries the same metadata in EXIF / PNG text); the loss is logged.

``on_done`` is called on the writer thread, except for a refused submit ("queue full", "writer
closed"), where it is called at once on the submitting thread. Either way it must only queue.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from focusd.capture.dng import encode_dng
from focusd.capture.files import (
    EXTENSIONS,
    RAW_EXTENSION,
    FilenamePattern,
    Journal,
    describe_os_error,
    encode,
    fsync_folder,
    highest_counter,
    make_series_folder,
    publish_together,
    read_metadata,
    remove_stale_temps,
    write_temp,
)
from focusd.capture.order import SeriesShot
from focusd.config.settings import CaptureConfig
from focusd.errors import CaptureError, ConfigError
from focusd.hw.base import RawImage

log = logging.getLogger("focusd.capture")

#: the request fields recorded inside the image (EXIF ImageDescription / PNG text) and in the journal
METADATA_FIELDS = ("press_id", "press_time_ns", "frame_time_ns", "sequence", "lens_reported", "lens_exposed",
                   "lens_exposed_range", "lens_moving", "lens_estimate_basis", "exposure_time_us",
                   "analogue_gain", "f_number", "focal_length_mm", "af_state", "reason", "burst_index", "input",
                   "af_assist_lit", "trap_plane", "trap_rise", "series", "series_index", "series_plane")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value to compare
class CaptureRequest:
    """One frame to write. ``image`` is a copy the request owns: the writer reads it later."""

    image: np.ndarray  #: (H, W, 3) RGB or (H, W) grey uint8
    press_id: int  #: one per accepted press (a burst shares it)
    press_time_ns: int  #: camera clock time of the press
    frame_time_ns: int  #: camera clock start of exposure of the captured frame
    sequence: int  #: frame sequence number
    #: dioptres, the frame metadata's LensPosition: the IPA's lens state once this frame's request
    #: was applied (after the exposure), or on an I2C lens the last position sent; not where the
    #: lens was while the frame was exposed (docs/lens-path.md, section 2)
    lens_reported: float
    af_state: str  #: "IDLE" / "SCANNING" / "FOCUSED" / "FAILED"
    #: why it fired: "shutter priority release" | "focus: FOCUSED" | "focus: FAILED" | "focus: timeout" | ...
    #: | "burst" (the README's "The capture journal" lists them all)
    reason: str
    burst_index: int = 0
    input: str | None = None  #: the input pressed: "shutter" or "remote" (None: not known)
    #: dioptres, the estimated lens position during the exposure (focusd.lens_estimate; None: unknown)
    lens_exposed: float | None = None
    lens_exposed_range: tuple[float, float] | None = None  #: every position the exposure may have seen
    lens_moving: bool | None = None  #: the lens may have moved during the exposure (the frame may mix positions)
    lens_estimate_basis: str | None = None  #: "metadata" | "commands": what the estimate rests on
    exposure_time_us: float | None = None  #: the frame's exposure time
    analogue_gain: float | None = None  #: the frame's analogue gain
    f_number: float | None = None  #: the lens's aperture (the camera profile's; fixed-aperture modules)
    focal_length_mm: float | None = None  #: the lens's focal length (the camera profile's)
    wall_time: datetime | None = None  #: local time of the press for names and EXIF (None: at submit)
    af_assist_lit: bool = False  #: the AF-assist lamp was lit during this frame's exposure
    #: the frame's raw stream, written as a DNG beside the image (capture.raw); None: no DNG
    raw: RawImage | None = None
    #: why there is no DNG although capture.raw is on (the camera streams no raw...); None otherwise
    raw_error: str | None = None
    trap_plane: float | None = None  #: trap focus (reason "trap"): the armed plane, dioptres; None: not a trap's
    trap_rise: float | None = None  #: trap focus: the peak's sharpness over the sharpness when armed
    #: a focus-bracketing shot (the writer names its folder; not recorded itself)
    series_shot: SeriesShot | None = None
    series: str | None = None  #: the series' folder (``BRACKET_0001``), set by the writer
    series_index: int | None = None  #: 1-based, in shooting order
    series_plane: float | None = None  #: dioptres, the plane the lens was sent to
    extra: dict = field(default_factory=dict)  #: anything else worth recording (exposure, gain...)


@dataclass(frozen=True, eq=False)
class CaptureResult:
    request: CaptureRequest
    path: Path | None  #: the final file, None on failure
    error: str | None  #: the reason on failure ("disk full: ...", "queue full", ...)
    raw_path: Path | None = None  #: the DNG beside it (capture.raw), None if there is none


def _lens_text(request: CaptureRequest) -> str:
    """The lens for the log: the estimate during the exposure, else the metadata's."""
    if request.lens_exposed is None:
        return f"{request.lens_reported:.3f} D (metadata)"
    return f"{request.lens_exposed:.3f} D{' (moving)' if request.lens_moving else ''}"


class CaptureWriter:
    """A bounded queue of :class:`CaptureRequest` and the one thread that writes them."""

    def __init__(self, config: CaptureConfig, on_done: Callable[[CaptureResult], None],
                 camera_name: str = "focusd"):
        if config.format not in EXTENSIONS:
            raise ConfigError("capture.format", f"must be one of {', '.join(EXTENSIONS)}, not {config.format!r}")
        if not 1 <= config.jpeg_quality <= 100:
            raise ConfigError("capture.jpeg_quality", f"must be 1-100, not {config.jpeg_quality}")
        if config.queue_depth < 1:
            raise ConfigError("capture.queue_depth", f"must be at least 1, not {config.queue_depth}")
        if not config.journal or "/" in config.journal or config.journal.startswith("."):
            raise ConfigError("capture.journal", "must be a plain file name in the capture folder")
        self.config = config
        self.folder = Path(config.directory)
        self.pattern = FilenamePattern(config.filename, EXTENSIONS[config.format])
        self.journal = Journal(self.folder / config.journal)
        self.camera_name = camera_name
        self.on_done = on_done
        self.written = 0  #: captures published
        self.failed = 0  #: captures that failed, refused ones included
        self._queue: collections.deque[tuple[CaptureRequest, datetime]] = collections.deque()
        # refusals are journaled by the writer thread: submit never touches the disk
        self._refused: list[tuple[CaptureResult, datetime]] = []
        self._busy = False
        self._closing = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._next_counter: int | None = None  # None: the folder is not ready (scanned at the next capture)
        self._series: dict[int, str] = {}  # series number -> its folder's name (made at its first shot)

    # ------------------------------------------------------------------------------ public API

    def start(self) -> None:
        """Make the folder, clean up after a crash, start the writer thread.

        A folder that cannot be made (card missing, read-only) is logged, not raised: the daemon
        keeps focusing, each capture is reported failed and the folder is tried again each time.
        """
        if self._thread is not None:
            raise RuntimeError("CaptureWriter.start() called twice")
        try:
            self._prepare_folder()
        except OSError as error:
            log.error("capture folder not ready: %s (captures fail until it is)", describe_os_error(error))
        self._thread = threading.Thread(target=self._run, name="focusd-capture", daemon=True)
        self._thread.start()

    def submit(self, request: CaptureRequest) -> bool:
        """Queue a request without blocking. False (and ``on_done`` with the reason) if refused."""
        wall_time = request.wall_time or datetime.now()
        with self._condition:
            if self._closing:
                refusal = "writer closed"
            elif len(self._queue) >= self.config.queue_depth:
                refusal = "queue full"
            else:
                self._queue.append((request, wall_time))
                self._condition.notify()
                return True
            result = CaptureResult(request, None, refusal)
            self.failed += 1
            if not self._closing:
                self._refused.append((result, wall_time))
                self._condition.notify()
        log.error("capture of press %d failed: %s", request.press_id, refusal)
        self._report(result)
        return False

    def close(self, timeout_s: float | None = None) -> None:
        """Write everything queued, then stop the thread (waits at most ``timeout_s``)."""
        with self._condition:
            self._closing = True
            self._condition.notify()
            never_started = self._thread is None
            stranded = list(self._queue) if never_started else []
            if never_started:
                self._queue.clear()
        for request, _ in stranded:
            self.failed += 1
            log.error("capture of press %d failed: writer closed before it was started", request.press_id)
            self._report(CaptureResult(request, None, "writer closed before it was started"))
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("capture writer still busy after %.1f s: %d captures pending", timeout_s, self.pending)

    @property
    def pending(self) -> int:
        """Captures queued or being written."""
        with self._condition:
            return len(self._queue) + int(self._busy)

    # ------------------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while True:
            with self._condition:
                while not (self._queue or self._refused or self._closing):
                    self._condition.wait()
                refused, self._refused = self._refused, []
                item = self._queue.popleft() if self._queue else None
                self._busy = item is not None
                if item is None and not refused:
                    return  # closing, and nothing left
            for result, wall_time in refused:
                self._journal_failure(result, wall_time)
            if item is not None:
                result = self._write(*item)
                with self._condition:
                    self._busy = False
                    if result.error is None:
                        self.written += 1
                    else:
                        self.failed += 1
                self._report(result)

    def _write(self, request: CaptureRequest, wall_time: datetime) -> CaptureResult:
        try:
            if self._next_counter is None:
                self._prepare_folder()
            request, folder = self._in_series(request)
            metadata = {name: getattr(request, name) for name in METADATA_FIELDS}
            data = encode(request.image, self.config.format, self.config.jpeg_quality, metadata,
                          self.camera_name, wall_time)
            # the DNG first: its image, which journal recovery looks for, is then linked last
            raw_data = None if request.raw is None else encode_dng(
                request.raw, metadata, request.extra, self.camera_name, wall_time)
            temps = []
            try:
                if raw_data is not None:
                    temps.append(write_temp(folder, raw_data))
                temps.append(write_temp(folder, data))
            except BaseException:
                self._remove_temps(temps)  # the DNG's, written before the image's failed
                raise
            used = {}

            def with_raw(name: str) -> list[str]:
                stem = name[:-len(self.pattern.extension)]
                return [stem + RAW_EXTENSION, name] if raw_data is not None else [name]

            def names_for(attempt: int) -> list[str]:
                if request.series is not None:  # the series' own numbering: its order on the card
                    used["counter"] = self._next_counter
                    suffix = f"-{attempt + 1}" if attempt else ""
                    return with_raw(f"{request.series}_{request.series_index:03d}{suffix}{self.pattern.extension}")
                used["counter"] = self._next_counter + attempt
                return with_raw(self.pattern.name(wall_time, used["counter"], request.sequence, attempt))

            *raw_paths, path = publish_together(temps, names_for)
            raw_path = raw_paths[0] if raw_paths else None
            if request.series is None:
                self._next_counter = used["counter"] + 1
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                self._next_counter = None  # the folder went away: make it again next time
            reason = error.args[0] if isinstance(error, CaptureError) else describe_os_error(error)
            return self._failed(request, wall_time, reason)
        except Exception as error:  # a bug must cost one capture, not the writer thread
            log.exception("capture of press %d: unexpected error", request.press_id)
            return self._failed(request, wall_time, f"internal error: {error!r}")
        try:
            fsync_folder(folder)
        except OSError as error:  # the file is there, complete; only its name's durability is in doubt
            log.warning("%s: folder fsync failed (%s): the name may not survive a power cut",
                        path.name, describe_os_error(error))
        file_name = path.name if request.series is None else f"{request.series}/{path.name}"
        record = self._record(request, wall_time, file_name, None)
        if request.series is None:
            record["counter"] = used["counter"]
        record["bytes"] = len(data)
        if raw_path is not None:
            raw_name = raw_path.name if request.series is None else f"{request.series}/{raw_path.name}"
            record.update(raw=raw_name, raw_bytes=len(raw_data))
        try:
            self.journal.append(record)
        except OSError as error:
            log.error("journal line for %s lost: %s", path.name, describe_os_error(error))
        log.info("captured %s: press %d, frame %d, lens %s, AF %s, %s", path.name, request.press_id,
                 request.sequence, _lens_text(request), request.af_state, request.reason)
        return CaptureResult(request, path, None, raw_path)

    @staticmethod
    def _remove_temps(temps: list[Path]) -> None:
        for temp in temps:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass

    def _in_series(self, request: CaptureRequest) -> tuple[CaptureRequest, Path]:
        """The folder a request goes to: a series' own (made at its first shot), else the capture folder."""
        shot = request.series_shot
        if shot is None:
            return request, self.folder
        name = self._series.get(shot.number)
        if name is None:
            name = self._series[shot.number] = make_series_folder(self.folder)
            fsync_folder(self.folder)
            log.info("bracketing series %d goes to %s", shot.number, name)
        return replace(request, series=name), self.folder / name

    def _failed(self, request: CaptureRequest, wall_time: datetime, reason: str) -> CaptureResult:
        log.error("capture of press %d failed: %s", request.press_id, reason)
        result = CaptureResult(request, None, reason)
        self._journal_failure(result, wall_time)
        return result

    def _journal_failure(self, result: CaptureResult, wall_time: datetime) -> None:
        try:
            self.journal.append(self._record(result.request, wall_time, None, result.error))
        except OSError as error:
            log.warning("journal line for failed press %d not written: %s", result.request.press_id,
                        describe_os_error(error))

    def _record(self, request: CaptureRequest, wall_time: datetime, file_name: str | None,
                error: str | None) -> dict:
        if request.series_shot is not None and request.series is None:  # a shot failed before its folder was named
            request = replace(request, series=self._series.get(request.series_shot.number))
        record = {name: getattr(request, name) for name in METADATA_FIELDS}
        record.update(file=file_name, error=error, wall_time=wall_time.isoformat(timespec="milliseconds"),
                      camera=self.camera_name, format=self.config.format, extra=dict(request.extra),
                      raw=None, raw_error=request.raw_error)
        return record

    def _report(self, result: CaptureResult) -> None:
        try:
            self.on_done(result)
        except Exception:
            log.exception("capture on_done callback failed for press %d", result.request.press_id)

    # ------------------------------------------------------------------------ folder start-up

    def _prepare_folder(self) -> None:
        """Folder made, crash leftovers cleaned, counter continued after the highest on the card."""
        # the last folder only: a missing parent is a mistyped path (focusd.config.capture_folder)
        self.folder.mkdir(exist_ok=True)
        for name in remove_stale_temps(self.folder):
            log.warning("removed %s: a capture interrupted by a crash", name)
        torn = self.journal.repair()
        if torn:
            log.warning("%s: cut off a line torn by a crash (%d bytes)", self.journal.path.name, torn)
        highest = highest_counter(self.folder, self.pattern)
        self._recover_newest(highest)
        self._next_counter = highest + 1

    def _recover_newest(self, highest: int) -> None:
        """Journal the newest image if a crash came between publishing it and journaling it.

        Only the newest can be missing: one capture is written at a time, and its line follows it.
        """
        if highest == 0:
            return
        newest = [p for p in self.folder.iterdir() if self.pattern.counter_of(p.name) == highest]
        images = {p.stem for p in newest if p.suffix != RAW_EXTENSION}
        for path in newest:
            if path.suffix == RAW_EXTENSION:  # journaled with its image (its line's "raw")
                if path.stem not in images:
                    log.warning("%s has no image beside it (a crash between publishing the two): kept, "
                                "not journaled", path.name)
                continue
            if self.journal.mentions(path.name):
                continue
            try:
                metadata = read_metadata(path)
            except OSError as error:
                log.warning("%s has no journal line and cannot be read: %s", path.name, error)
                continue
            if "press_id" not in metadata:
                continue  # not one of ours
            record = dict(metadata, file=path.name, error=None, recovered=True, counter=highest,
                          camera=self.camera_name, format={ext: fmt for fmt, ext in EXTENSIONS.items()}.get(path.suffix))
            self.journal.append(record)
            log.warning("%s had no journal line (crash after writing it): line rebuilt from its metadata",
                        path.name)
