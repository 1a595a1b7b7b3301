"""The files of the capture path: names, encoding with metadata, atomic publishing, the journal.

Kept apart from the writer thread (:mod:`focusd.capture.writer`) because these are the parts that decide
what is on the card after a crash, and each is a plain function a test can drive directly.

The guarantees, and how they are kept:

- **A file with a final name is always complete.** The image is encoded in memory, written to a
  dot-prefixed temporary file in the same folder (``.focusd-<pid>-<n>.tmp``), fsynced, and only then
  given its final name with ``os.link`` (fails if the name exists), the temporary name removed and
  the folder fsynced. A crash at any moment leaves at most a stale temporary file, which
  :func:`remove_stale_temps` deletes at the next start.
- **Nothing is ever overwritten.** ``os.link`` refuses an existing name; the caller then bumps the
  counter. File systems without hard links (FAT/exFAT on a USB stick) use
  ``renameat2(RENAME_NOREPLACE)``, which also refuses an existing name.
- **The journal has only whole lines.** Each line goes out in one ``write`` and is fsynced; a write
  that fails part-way (disk full) is cut back off; a line torn by a crash is cut off at the next
  start (:meth:`Journal.repair`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import io
import itertools
import json
import logging
import math
import os
import re
import string
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

from focusd.errors import CaptureError, ConfigError

log = logging.getLogger("focusd.capture")

#: file extension per configured format
EXTENSIONS = {"jpeg": ".jpg", "png": ".png"}
#: the extension of the raw file beside an image (``capture.raw``: focusd.capture.dng), same stem
RAW_EXTENSION = ".dng"
#: temporary files are ``TEMP_PREFIX + <pid>-<n> + TEMP_SUFFIX``; only these are ever removed
TEMP_PREFIX = ".focusd-"
TEMP_SUFFIX = ".tmp"
#: errors that mean "no room": the capture is reported as "disk full"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: the key of the PNG text chunk (and the content of EXIF ImageDescription) holding the metadata JSON
METADATA_KEY = "focusd"
#: zlib level for PNG: on a 1536x864 capture of the simulator, level 3 encodes about 2.5x faster
#: than Pillow's default 6 and gives a file no larger (noise does not compress at any level)
PNG_COMPRESS_LEVEL = 3
#: EXIF SubjectDistance numerator meaning "infinity" (EXIF 2.32, tag 0x9206)
EXIF_INFINITY = 0xFFFFFFFF

_EXIF_IFD = 0x8769
_TAG_MAKE, _TAG_MODEL, _TAG_DESCRIPTION, _TAG_SOFTWARE = 0x010F, 0x0110, 0x010E, 0x0131
_TAG_DATETIME_ORIGINAL, _TAG_SUBSEC_ORIGINAL, _TAG_SUBJECT_DISTANCE = 0x9003, 0x9291, 0x9206
_TAG_EXPOSURE_TIME, _TAG_F_NUMBER, _TAG_ISO, _TAG_FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
#: EXIF ISO from the analogue gain: gain 1.0 read as ISO 100, the usual convention for these sensors
#: (libcamera reports no ISO; this is not a sensitivity calibrated to ISO 12232)
ISO_PER_GAIN = 100
_FIELDS = ("date", "time", "counter", "sequence")
#: a focus-bracketing series' folder inside the capture folder: ``BRACKET_0001``, ``BRACKET_0002``...
SERIES_PREFIX = "BRACKET_"
_MAX_NAME_ATTEMPTS = 100_000


def is_disk_full(error: OSError) -> bool:
    return error.errno in DISK_FULL_ERRNOS


def describe_os_error(error: OSError) -> str:
    """The failure reason reported for an OSError: "disk full: ..." when there is no room."""
    detail = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    return f"{'disk full' if is_disk_full(error) else 'write failed'}: {detail}{where}"


# --------------------------------------------------------------------------------------- names


class FilenamePattern:
    """``capture.filename``: a str.format pattern with fields date, time, counter, sequence.

    date and time are both the press's local wall time (format them with strftime codes);
    counter is the writer's monotonic counter; sequence the frame's sequence number. The
    extension is added. Without a counter field, a taken name gets a ``-2``, ``-3``... suffix.
    """

    def __init__(self, pattern: str, extension: str):
        self.pattern = pattern
        self.extension = extension
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]
        except ValueError as error:
            raise ConfigError("capture.filename", f"not a valid pattern: {error}") from None
        unknown = [name for name in fields if name not in _FIELDS]
        if unknown:
            raise ConfigError("capture.filename", f"unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})")
        self.has_counter = "counter" in fields
        try:
            sample = self.name(datetime(2024, 1, 2, 3, 4, 5), counter=1, sequence=1)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise ConfigError("capture.filename", f"cannot be formatted: {error}") from None
        if not pattern or "/" in sample or "\0" in sample or sample.startswith("."):
            raise ConfigError("capture.filename", "must give a plain file name, not starting with '.'")
        self._counter_re = self._counter_regex(pattern)

    def name(self, wall_time: datetime, counter: int, sequence: int, attempt: int = 0) -> str:
        stem = self.pattern.format(date=wall_time, time=wall_time, counter=counter, sequence=sequence)
        if attempt and not self.has_counter:
            stem = f"{stem}-{attempt + 1}"
        return stem + self.extension

    def counter_of(self, file_name: str) -> int | None:
        """The counter in a file name this pattern made (any known extension), else None."""
        if self._counter_re is None:
            return None
        match = self._counter_re.fullmatch(file_name)
        return int(match.group("counter")) if match else None

    @staticmethod
    def _counter_regex(pattern: str) -> re.Pattern | None:
        parts, seen_counter = [], False
        for literal, name, _, _ in string.Formatter().parse(pattern):
            parts.append(re.escape(literal))
            if name == "counter" and not seen_counter:
                parts.append(r"(?P<counter>\d+)")
                seen_counter = True
            elif name is not None:
                parts.append(r"[^/]*?")
        if not seen_counter:
            return None
        extensions = "|".join(re.escape(ext) for ext in sorted({*EXTENSIONS.values(), RAW_EXTENSION}))
        return re.compile("".join(parts) + f"(?:{extensions})")


def highest_counter(folder: Path, pattern: FilenamePattern) -> int:
    """The highest counter among the folder's files made by the pattern (0 if none)."""
    highest = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            counter = pattern.counter_of(entry.name)
            if counter is not None:
                highest = max(highest, counter)
    return highest


def make_series_folder(folder: Path) -> str:
    """Make the next series folder (``BRACKET_<n>``, n one above the highest in ``folder``) and
    return its name. Never an existing one: ``mkdir`` refuses it and the next number is taken."""
    pattern = re.compile(re.escape(SERIES_PREFIX) + r"(\d+)")
    numbers = [int(m.group(1)) for m in map(pattern.fullmatch, os.listdir(folder)) if m]
    number = max(numbers, default=0) + 1
    while True:
        name = f"{SERIES_PREFIX}{number:04d}"
        try:
            (folder / name).mkdir()
            return name
        except FileExistsError:
            number += 1


# ------------------------------------------------------------------------------------ encoding


def subject_distance(lens_position: float) -> IFDRational:
    """EXIF SubjectDistance in metres from a lens position in dioptres (0 or less: infinity)."""
    if not math.isfinite(lens_position) or lens_position <= 0:
        return IFDRational(EXIF_INFINITY, 1)
    millimetres = round(1000.0 / lens_position)
    if millimetres >= EXIF_INFINITY:
        return IFDRational(EXIF_INFINITY, 1)
    return IFDRational(millimetres, 1000)


def subject_lens_position(metadata: dict) -> float:
    """The lens position SubjectDistance is computed from: the estimate during the exposure where
    there is one, else the metadata's (and ``lens_position`` in images written before the rename)."""
    for key in ("lens_exposed", "lens_reported", "lens_position"):
        value = metadata.get(key)
        if value is not None:
            return float(value)
    return math.nan


def exposure_tags(metadata: dict) -> dict[int, object]:
    """EXIF ExposureTime, ISOSpeedRatings, FNumber and FocalLength from the capture's metadata
    (the tags whose value is not known are left out)."""
    tags: dict[int, object] = {}
    exposure_us = metadata.get("exposure_time_us")
    if exposure_us:
        tags[_TAG_EXPOSURE_TIME] = IFDRational(round(float(exposure_us)), 1_000_000)
    gain = metadata.get("analogue_gain")
    if gain:
        tags[_TAG_ISO] = max(1, min(65535, round(float(gain) * ISO_PER_GAIN)))
    if metadata.get("f_number"):
        tags[_TAG_F_NUMBER] = IFDRational(round(float(metadata["f_number"]) * 100), 100)
    if metadata.get("focal_length_mm"):
        tags[_TAG_FOCAL_LENGTH] = IFDRational(round(float(metadata["focal_length_mm"]) * 100), 100)
    return tags


def to_pil(image: np.ndarray) -> Image.Image:
    """(H, W, 3) RGB or (H, W) grey uint8 -> a Pillow image; anything else is a clear error."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise CaptureError(f"bad image: need a uint8 numpy array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(image), "L")
    if image.ndim == 3 and image.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(image), "RGB")
    raise CaptureError(f"bad image: need shape (H, W, 3) or (H, W), got {image.shape}")


def encode(image: np.ndarray, fmt: str, jpeg_quality: int, metadata: dict, camera_name: str,
           wall_time: datetime) -> bytes:
    """The whole file in memory: JPEG with EXIF, or PNG with text chunks, both carrying ``metadata``.

    JPEG EXIF: Make "focusd", Model the camera name, DateTimeOriginal (+ SubSecTimeOriginal),
    SubjectDistance from the lens position during the exposure (:func:`subject_lens_position`),
    ExposureTime, ISOSpeedRatings, FNumber, FocalLength (:func:`exposure_tags`), ImageDescription
    the metadata JSON.
    PNG: text chunks "focusd" (the JSON), "Software", "Creation Time".
    """
    picture = to_pil(image)
    description = json.dumps(metadata, sort_keys=True)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        exif = Image.Exif()
        exif[_TAG_MAKE] = "focusd"
        exif[_TAG_MODEL] = camera_name
        exif[_TAG_SOFTWARE] = "focusd"
        exif[_TAG_DESCRIPTION] = description
        exif_ifd = exif.get_ifd(_EXIF_IFD)
        exif_ifd[_TAG_DATETIME_ORIGINAL] = wall_time.strftime("%Y:%m:%d %H:%M:%S")
        exif_ifd[_TAG_SUBSEC_ORIGINAL] = f"{wall_time.microsecond // 1000:03d}"
        exif_ifd[_TAG_SUBJECT_DISTANCE] = subject_distance(subject_lens_position(metadata))
        exif_ifd.update(exposure_tags(metadata))
        picture.save(buffer, "JPEG", quality=jpeg_quality, exif=exif)
    elif fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, description)
        info.add_text("Software", "focusd")
        info.add_text("Creation Time", wall_time.isoformat(timespec="milliseconds"))
        picture.save(buffer, "PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    else:
        raise CaptureError(f"unknown format {fmt!r}")
    return buffer.getvalue()


def read_metadata(path: Path) -> dict:
    """The metadata JSON a focusd image carries (EXIF ImageDescription or PNG text), or {}."""
    with Image.open(path) as picture:
        text = picture.info.get(METADATA_KEY) if picture.format == "PNG" else picture.getexif().get(_TAG_DESCRIPTION)
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


# ---------------------------------------------------------------------------- atomic publishing

_temp_numbers = itertools.count(1)


def fsync_folder(folder: Path) -> None:
    """Make a name created or removed in the folder durable."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_temp(folder: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file in ``folder`` and fsync it. Removed again on failure."""
    while True:
        temp = folder / f"{TEMP_PREFIX}{os.getpid()}-{next(_temp_numbers)}{TEMP_SUFFIX}"
        try:
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            break
        except FileExistsError:
            continue  # left by an earlier process with the same pid: never reuse it
    try:
        view = memoryview(data)
        while view:  # a short write (the disk filling) is followed by the write that raises
            view = view[os.write(descriptor, view):]
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        _unlink_quietly(temp)
        raise
    os.close(descriptor)
    return temp


def publish(temp: Path, name_for: Callable[[int], str]) -> Path:
    """Give ``temp`` the first free name ``name_for(0)``, ``name_for(1)``... without replacing any.

    The temporary name is removed either way. The caller fsyncs the folder (:func:`fsync_folder`):
    from here on the file exists under its final name, whatever that fsync says.
    """
    return publish_together([temp], lambda attempt: [name_for(attempt)])[0]


def publish_together(temps: list[Path], names_for: Callable[[int], list[str]]) -> list[Path]:
    """Give each of ``temps`` its name of ``names_for(attempt)``, for the first attempt whose names
    are all free, without replacing any file: both files of a pair (a DNG and its image) or neither.

    The names are taken in order; when one is taken already, or linking it fails, the ones just
    given are removed again (files that were never seen complete: nobody else has opened them), so
    a failure leaves none of them. The temporary names are removed either way. A crash between two
    links leaves the earlier ones: the capture writer links the DNG first, so its image, which the
    journal's recovery looks for, exists only once both do.
    """
    folder = temps[0].parent
    try:
        for attempt in range(_MAX_NAME_ATTEMPTS):
            finals = [folder / name for name in names_for(attempt)]
            done: list[Path] = []
            try:
                for temp, final in zip(temps, finals, strict=True):
                    link_no_replace(temp, final)
                    done.append(final)
            except FileExistsError:
                for final in done:
                    _unlink_quietly(final)
                log.warning("%s exists already: not overwritten, taking the next name", finals[len(done)].name)
                continue
            except BaseException:
                for final in done:
                    _unlink_quietly(final)
                raise
            return finals
        raise CaptureError(f"no free file name after {_MAX_NAME_ATTEMPTS} attempts ({finals[0].name})")
    finally:
        for temp in temps:
            _unlink_quietly(temp)


def link_no_replace(source: Path, target: Path) -> None:
    """Make ``target`` name ``source``'s file; FileExistsError if ``target`` exists.

    A hard link where the file system has them (``source`` stays, the caller removes it);
    otherwise (FAT, exFAT) ``renameat2(RENAME_NOREPLACE)``, which moves it.
    """
    try:
        os.link(source, target, follow_symlinks=False)
        return
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
    rename_no_replace(source, target)


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def rename_no_replace(source: Path, target: Path) -> None:
    """Linux renameat2(RENAME_NOREPLACE): an atomic rename that fails if ``target`` exists."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "no hard links and no renameat2: cannot publish without a risk of overwriting",
                      str(target))
    result = renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE)
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))


def remove_stale_temps(folder: Path) -> list[str]:
    """Delete temporary files left by a crash (only focusd's own). Their names, for the log."""
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX) and entry.is_file():
                _unlink_quietly(Path(entry.path))
                removed.append(entry.name)
    if removed:
        fsync_folder(folder)
    return removed


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------------------------- journal


class Journal:
    """``capture.journal``: one JSON object per line, appended, fsynced, only whole lines."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, record: dict) -> None:
        """Append one line; on failure (disk full) nothing of it stays in the file."""
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            start = os.lseek(descriptor, 0, os.SEEK_END)
            try:
                written = os.write(descriptor, line)
                if written != len(line):  # the disk filled part-way: one line is one write or nothing
                    raise OSError(errno.ENOSPC, "short write to the journal", str(self.path))
                os.fsync(descriptor)
            except OSError:
                try:
                    os.ftruncate(descriptor, start)
                except OSError:
                    pass  # repair() cuts a torn line off at the next start
                raise
        finally:
            os.close(descriptor)

    def repair(self) -> int:
        """Cut off a last line left torn by a crash. Returns the number of bytes removed."""
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            size = os.fstat(descriptor).st_size
            end, keep = size, 0
            while end > 0:
                start = max(0, end - 65536)
                block = os.pread(descriptor, end - start, start)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                end = start
            if keep == size:
                return 0
            os.ftruncate(descriptor, keep)
            os.fsync(descriptor)
            return size - keep
        finally:
            os.close(descriptor)

    def mentions(self, file_name: str) -> bool:
        """Whether a line names ``file_name`` (a linear scan: run once at start, not per capture)."""
        needle = f'"file": {json.dumps(file_name)}'.encode("utf-8")
        try:
            with open(self.path, "rb") as file:
                return needle in file.read()
        except FileNotFoundError:
            return False
